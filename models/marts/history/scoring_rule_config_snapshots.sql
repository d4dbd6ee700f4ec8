{#- Append-only configuration of the fit, engagement and signal rules per rule-set version: one row per
    ruleset_version, scoring model, axis and rule (ruleset_version, model_id, axis, rule_id). A run stores the
    rules of its ruleset_version when that version has no rows yet; a version, being a hash of the seeds'
    content, always has the same rules, so a replay or a run in any order never changes what is stored. The
    ledger compares a rule's configuration under a change's old and new rule-set versions. full_refresh is off. -#}
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

ruleset as (

    select * from {{ ref('int_ruleset_version') }}

),

current_rules as (

    select
        ruleset.ruleset_version,
        rule_configs.model_id,
        rule_configs.axis,
        rule_configs.rule_id,
        rule_configs.rule_source,
        rule_configs.rule_config_hash,
        {{ as_of_timestamp() }} as first_stored_at

    from rule_configs
    cross join ruleset

),

{% if is_incremental() %}

    stored_versions as (

        select distinct ruleset_version from {{ this }}

    ),

    to_store as (

        select current_rules.*

        from current_rules
        left join stored_versions
            on current_rules.ruleset_version = stored_versions.ruleset_version
        where stored_versions.ruleset_version is null

    ),

{% else %}

    to_store as (

        select * from current_rules

    ),

{% endif %}

final as (

    select
        {{ surrogate_key(['ruleset_version', 'model_id', 'axis', 'rule_id']) }} as scoring_rule_config_snapshot_id,
        ruleset_version,
        model_id,
        axis,
        rule_id,
        rule_source,
        rule_config_hash,
        first_stored_at

    from to_store

)

select * from final
