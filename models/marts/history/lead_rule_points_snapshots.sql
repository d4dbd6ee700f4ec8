{#- Append-only per-rule points of every stored score version: one row per scoring model, lead, version and
    reason (model_id, lead_id, valid_from, axis, reason_key). Written in the same run as the version in
    lead_score_snapshots (valid_from = the instant this run's lead_scores were scored at), only for versions
    that have no rows here yet, so a replayed as_of adds nothing. Removal versions have no rows. full_refresh
    is off. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
    on_schema_change='append_new_columns',
) }}

with

reason_states as (

    select * from {{ ref('lead_reason_states') }}

),

score_snapshots as (

    select * from {{ ref('lead_score_snapshots') }}

),

score_states as (

    select * from {{ ref('lead_score_states') }}

),

run_clock as (

    select max(valid_from) as scored_at from score_states

),

new_versions as (

    select
        score_snapshots.model_id,
        score_snapshots.lead_id,
        score_snapshots.valid_from

    from score_snapshots
    inner join run_clock
        on score_snapshots.valid_from = run_clock.scored_at
    where not score_snapshots.is_removed

),

{% if is_incremental() %}

    already_stored as (

        select distinct
            model_id,
            lead_id,
            valid_from

        from {{ this }}
        where valid_from in (select run_clock.scored_at from run_clock)

    ),

    to_store as (

        select new_versions.*

        from new_versions
        left join already_stored
            on new_versions.model_id = already_stored.model_id
                and new_versions.lead_id = already_stored.lead_id
                and new_versions.valid_from = already_stored.valid_from
        where already_stored.lead_id is null

    ),

{% else %}

    to_store as (

        select * from new_versions

    ),

{% endif %}

final as (

    select
        {{ surrogate_key([
            'to_store.model_id', 'to_store.lead_id', 'to_store.valid_from', 'reason_states.axis',
            'reason_states.reason_key'
        ]) }} as lead_rule_points_snapshot_id,
        to_store.model_id,
        to_store.lead_id,
        to_store.valid_from,
        reason_states.axis,
        reason_states.reason_key,
        reason_states.reason_type,
        reason_states.rule_id,
        reason_states.rule_group,
        reason_states.rule_source,
        reason_states.points,
        reason_states.evidence,
        reason_states.event_count,
        reason_states.last_event_at,
        reason_states.rule_config_hash

    from to_store
    inner join reason_states
        on to_store.model_id = reason_states.model_id
            and to_store.lead_id = reason_states.lead_id

)

select * from final
