{#- Append-only score history, keyed on the scoring clock (as_of), not the wall clock: one row per scoring
    model, lead and version (model_id, lead_id, valid_from). A run appends a row for a lead only when its
    scores, grade, level, cell, stage or rule-set version differ from its latest stored row (or it has none),
    and a removal row (is_removed) when a lead stored as live is no longer scored (soft-deleted in the CRM or
    gone from the raw data), which closes its interval. Replays: a run whose as_of is not later than the
    latest valid_from already stored appends nothing, so re-running or backfilling an old as_of never rewrites
    or reorders history. full_refresh is off: dbt build --full-refresh keeps the table. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
    on_schema_change='append_new_columns',
) }}

with

current_states as (

    select * from {{ ref('lead_score_states') }}

),

{% if is_incremental() %}

    {#- The stored history is read twice, not through one shared CTE: a CTE read twice is materialised in full,
        every column of every version, and the history grows with every run. #}
    stored as (

        select * from {{ this }}

    ),

    stored_ranked as (

        select
            *,
            row_number() over (partition by model_id, lead_id order by valid_from desc) as version_rank

        from stored

    ),

    latest_stored as (

        select * from stored_ranked
        where version_rank = 1

    ),

    run_clock as (

        select max(valid_from) as latest_valid_from from {{ this }}

    ),

    changed as (

        select current_states.*

        from current_states
        left join latest_stored
            on current_states.model_id = latest_stored.model_id
                and current_states.lead_id = latest_stored.lead_id
        where
            latest_stored.lead_id is null
            or latest_stored.is_removed
            or latest_stored.state_hash <> current_states.state_hash

    ),

    removed as (

        select
            latest_stored.model_id,
            latest_stored.lead_id,
            {{ as_of_timestamp() }} as valid_from

        from latest_stored
        left join current_states
            on latest_stored.model_id = current_states.model_id
                and latest_stored.lead_id = current_states.lead_id
        where
            not latest_stored.is_removed
            and current_states.lead_id is null

    ),

{% else %}

    changed as (

        select * from current_states

    ),

    removed as (

        select
            model_id,
            lead_id,
            valid_from

        from current_states
        where 1 = 0

    ),

{% endif %}

appended as (

    select
        model_id,
        lead_id,
        valid_from,
        false as is_removed,
        fit_score,
        fit_score_unrounded,
        fit_grade,
        engagement_score,
        engagement_score_unrounded,
        engagement_level,
        matrix_cell,
        lead_score,
        lifecycle_stage,
        is_mql,
        ruleset_version,
        state_hash

    from changed

    union all

    select
        model_id,
        lead_id,
        valid_from,
        true as is_removed,
        cast(null as {{ type_double() }}) as fit_score,
        cast(null as {{ type_double() }}) as fit_score_unrounded,
        cast(null as {{ dbt.type_string() }}) as fit_grade,
        cast(null as {{ type_double() }}) as engagement_score,
        cast(null as {{ type_double() }}) as engagement_score_unrounded,
        cast(null as {{ dbt.type_string() }}) as engagement_level,
        cast(null as {{ dbt.type_string() }}) as matrix_cell,
        cast(null as {{ type_double() }}) as lead_score,
        cast(null as {{ dbt.type_string() }}) as lifecycle_stage,
        false as is_mql,
        cast(null as {{ dbt.type_string() }}) as ruleset_version,
        cast(null as {{ dbt.type_string() }}) as state_hash

    from removed

),

final as (

    select
        {{ surrogate_key(['appended.model_id', 'appended.lead_id', 'appended.valid_from']) }}
            as lead_score_snapshot_id,
        appended.*

    from appended
    {%- if is_incremental() %}
        cross join run_clock
        where
            run_clock.latest_valid_from is null
            or appended.valid_from > run_clock.latest_valid_from
    {%- endif %}

)

select * from final
