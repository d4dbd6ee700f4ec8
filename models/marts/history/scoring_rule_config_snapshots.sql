{#- Append-only history of the scoring rules' configuration, keyed on the scoring clock: one row per scoring
    model, axis, rule and version (model_id, axis, rule_id, valid_from). A run appends a row for a rule only
    when its configuration hash differs from its latest stored row (or it has none, or that row is a removal),
    and a removal row (is_removed) for a stored rule that is gone from the seeds. The configuration of a rule
    at an instant is its latest row with valid_from at or before it. Same replay rule as lead_score_snapshots:
    a run whose as_of is not later than the latest stored valid_from appends nothing. full_refresh is off. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
    on_schema_change='append_new_columns',
) }}

with

rule_configs as (

    select * from {{ ref('int_rule_config_versions') }}

),

{% if is_incremental() %}

    stored as (

        select * from {{ this }}

    ),

    stored_ranked as (

        select
            *,
            row_number() over (partition by model_id, axis, rule_id order by valid_from desc) as version_rank

        from stored

    ),

    latest_stored as (

        select * from stored_ranked
        where version_rank = 1

    ),

    run_clock as (

        select max(valid_from) as latest_valid_from from stored

    ),

    changed as (

        select rule_configs.*

        from rule_configs
        left join latest_stored
            on rule_configs.model_id = latest_stored.model_id
                and rule_configs.axis = latest_stored.axis
                and rule_configs.rule_id = latest_stored.rule_id
        where
            latest_stored.rule_id is null
            or latest_stored.is_removed
            or latest_stored.rule_config_hash <> rule_configs.rule_config_hash

    ),

    removed as (

        select
            latest_stored.model_id,
            latest_stored.axis,
            latest_stored.rule_id,
            latest_stored.rule_source

        from latest_stored
        left join rule_configs
            on latest_stored.model_id = rule_configs.model_id
                and latest_stored.axis = rule_configs.axis
                and latest_stored.rule_id = rule_configs.rule_id
        where
            not latest_stored.is_removed
            and rule_configs.rule_id is null

    ),

{% else %}

    changed as (

        select * from rule_configs

    ),

    removed as (

        select
            model_id,
            axis,
            rule_id,
            rule_source

        from rule_configs
        where 1 = 0

    ),

{% endif %}

appended as (

    select
        model_id,
        axis,
        rule_id,
        rule_source,
        {{ as_of_timestamp() }} as valid_from,
        false as is_removed,
        rule_config_hash

    from changed

    union all

    select
        model_id,
        axis,
        rule_id,
        rule_source,
        {{ as_of_timestamp() }} as valid_from,
        true as is_removed,
        cast(null as {{ dbt.type_string() }}) as rule_config_hash

    from removed

),

final as (

    select
        {{ surrogate_key(['appended.model_id', 'appended.axis', 'appended.rule_id', 'appended.valid_from']) }}
            as scoring_rule_config_snapshot_id,
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
