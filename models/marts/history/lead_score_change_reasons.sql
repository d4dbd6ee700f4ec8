{#- Why a score changed: one row per score change and reason whose points changed (lead_score_change_id,
    axis, reason_key), with the old and new points and the delta. For each change and axis the deltas sum to
    the change of the unrounded axis score (fit_score_unrounded_delta, engagement_score_unrounded_delta in
    lead_score_changes), within 1e-6; deltas below 1e-9 (floating-point noise) are left out. change_cause, the
    first that applies:
      new_lead / lead_removed - the lead's first version (or its return after a removal) / its removal;
      cap_adjustment - a group cap, axis cap or the 0-100 bound took away or gave back a different amount;
      ruleset_change - the rule-set version changed and this rule's configuration under the two versions
        (scoring_rule_config_snapshots) differs, the rule added or removed included;
      attribute_change - a fit rule fired or stopped firing because the lead's data changed;
      signal_change - a signal rule (inactivity, burst, engaged colleagues) fired or stopped firing;
      new_events - the engagement rule counts more events than in the previous version;
      decay - the same events, older (decay, window or lifespan);
      other - anything else (events removed from the raw data, for example).
    Incremental (append): the ledger lead_score_changes only ever appends changes later than every stored one,
    so a run explains only the changes after the latest changed_at stored here (a change with no reason over
    1e-9 stores no row, so such changes may be looked at again; they add nothing). --full-refresh rebuilds it
    from every change, with the same rows. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
) }}

with

{% if is_incremental() %}

    watermark as (

        select max(changed_at) as changed_at from {{ this }}

    ),

    changes as (

        select ledger.*

        from {{ ref('lead_score_changes') }} as ledger
        cross join watermark
        where watermark.changed_at is null or ledger.changed_at > watermark.changed_at

    ),

{% else %}

    changes as (

        select * from {{ ref('lead_score_changes') }}

    ),

{% endif %}

{#- The history is read twice, once per side, not through one shared CTE: a CTE read twice is materialised in full
    (every stored version of every lead, growing with each run), while a plain join lets the engine skip the
    versions no change points at (DuckDB prunes row groups on valid_from with the join's bounds). #}
new_rule_points as (

    select * from {{ ref('lead_rule_points_snapshots') }}

),

old_rule_points as (

    select * from {{ ref('lead_rule_points_snapshots') }}

),

rule_configs as (

    select * from {{ ref('scoring_rule_config_snapshots') }}

),

new_points as (

    select
        changes.lead_score_change_id,
        new_rule_points.axis,
        new_rule_points.reason_key,
        new_rule_points.reason_type,
        new_rule_points.rule_id,
        new_rule_points.rule_group,
        new_rule_points.rule_source,
        new_rule_points.points,
        new_rule_points.evidence,
        new_rule_points.event_count

    from changes
    inner join new_rule_points
        on changes.model_id = new_rule_points.model_id
            and changes.lead_id = new_rule_points.lead_id
            and changes.changed_at = new_rule_points.valid_from

),

old_points as (

    select
        changes.lead_score_change_id,
        old_rule_points.axis,
        old_rule_points.reason_key,
        old_rule_points.reason_type,
        old_rule_points.rule_id,
        old_rule_points.rule_group,
        old_rule_points.rule_source,
        old_rule_points.points,
        old_rule_points.evidence,
        old_rule_points.event_count

    from changes
    inner join old_rule_points
        on changes.model_id = old_rule_points.model_id
            and changes.lead_id = old_rule_points.lead_id
            and changes.previous_changed_at = old_rule_points.valid_from

),

paired as (

    select
        old_points.points as old_points,
        new_points.points as new_points,
        old_points.evidence as old_evidence,
        new_points.evidence as new_evidence,
        old_points.event_count as old_event_count,
        new_points.event_count as new_event_count,
        coalesce(new_points.lead_score_change_id, old_points.lead_score_change_id) as lead_score_change_id,
        coalesce(new_points.axis, old_points.axis) as axis,
        coalesce(new_points.reason_key, old_points.reason_key) as reason_key,
        coalesce(new_points.reason_type, old_points.reason_type) as reason_type,
        coalesce(new_points.rule_id, old_points.rule_id) as rule_id,
        coalesce(new_points.rule_group, old_points.rule_group) as rule_group,
        coalesce(new_points.rule_source, old_points.rule_source) as rule_source,
        coalesce(new_points.points, 0) - coalesce(old_points.points, 0) as points_delta

    from new_points
    full outer join old_points
        on new_points.lead_score_change_id = old_points.lead_score_change_id
            and new_points.axis = old_points.axis
            and new_points.reason_key = old_points.reason_key

),

changed_reasons as (

    select
        paired.*,
        changes.model_id,
        changes.lead_id,
        changes.changed_at,
        changes.previous_changed_at,
        changes.change_type,
        changes.is_ruleset_change,
        changes.old_ruleset_version,
        changes.new_ruleset_version

    from paired
    inner join changes
        on paired.lead_score_change_id = changes.lead_score_change_id
    where abs(paired.points_delta) > 0.000000001

),

with_configs as (

    {#- The rule's configuration under the old and the new rule-set version (a rule absent from one: none). #}

    select
        changed_reasons.*,
        coalesce(old_config.rule_config_hash, '(none)') <> coalesce(new_config.rule_config_hash, '(none)')
            as is_rule_config_changed

    from changed_reasons
    left join rule_configs as old_config
        on changed_reasons.reason_type = 'rule'
            and changed_reasons.old_ruleset_version = old_config.ruleset_version
            and changed_reasons.model_id = old_config.model_id
            and changed_reasons.axis = old_config.axis
            and changed_reasons.rule_id = old_config.rule_id
    left join rule_configs as new_config
        on changed_reasons.reason_type = 'rule'
            and changed_reasons.new_ruleset_version = new_config.ruleset_version
            and changed_reasons.model_id = new_config.model_id
            and changed_reasons.axis = new_config.axis
            and changed_reasons.rule_id = new_config.rule_id

),

classified as (

    select
        *,
        case
            when change_type in ('new_lead', 'returned') then 'new_lead'
            when change_type = 'removed' then 'lead_removed'
            when reason_type <> 'rule' then 'cap_adjustment'
            when is_ruleset_change and is_rule_config_changed then 'ruleset_change'
            when axis = 'fit' then 'attribute_change'
            when rule_source = 'signal' then 'signal_change'
            when coalesce(new_event_count, 0) > coalesce(old_event_count, 0) then 'new_events'
            when new_event_count = old_event_count then 'decay'
            else 'other'
        end as change_cause

    from with_configs

),

final as (

    select
        {{ surrogate_key(['lead_score_change_id', 'axis', 'reason_key']) }} as lead_score_change_reason_id,
        lead_score_change_id,
        model_id,
        lead_id,
        changed_at,
        change_type,
        axis,
        reason_key,
        reason_type,
        rule_id,
        rule_group,
        old_points,
        new_points,
        points_delta,
        change_cause,
        old_event_count,
        new_event_count,
        old_evidence,
        new_evidence,
        is_rule_config_changed

    from classified

)

select * from final
