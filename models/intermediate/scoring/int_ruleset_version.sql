{#- One row: the rule-set version, a hash of every rule and dictionary seed's content. Any change to a seed
    row changes it, so every score row says which rules produced it.
    Only what scores count: the rows of a scoring model switched off (scoring_models.is_enabled = false) are left
    out, and so is is_enabled itself (every model hashed is on). Columns added to a seed after its first release
    (optional_seed_columns) count only when not blank, so that a rule set that does not use them keeps its
    version. -#}
{%- set rule_seeds = [
    'scoring_models', 'scoring_fit_rules', 'scoring_engagement_rules', 'scoring_signal_rules',
    'scoring_group_caps', 'scoring_score_bands', 'scoring_lifecycle_rules', 'scoring_overrides',
    'map_industries', 'map_job_titles', 'map_countries', 'map_email_domains',
    'map_company_size_bands', 'map_revenue_bands', 'ref_event_types'
] -%}

with

seed_rows as (

    {%- for seed_name in rule_seeds %}
        {%- set relation = load_relation(ref(seed_name)) if execute else none %}
        {%- set columns = adapter.get_columns_in_relation(relation) if relation is not none else [] %}
        {%- set optional = optional_seed_columns(seed_name) %}
        {%- set base_columns = columns | rejectattr('name', 'in', optional + ['is_enabled']) | list %}
        {%- set extra_columns = columns | selectattr('name', 'in', optional) | list %}
        {%- set has_model = 'model_id' in (columns | map(attribute='name') | list) %}
        select
            '{{ seed_name }}' as seed_name,
            {%- if base_columns | length > 0 %}
                {{ concat_fields(base_columns | map(attribute='quoted') | list) }}
                {%- for column in extra_columns %}
                    || coalesce('|' || {{ clean_text(column.quoted) }}, '')
                {%- endfor %} as row_text
            {%- else %}
        '' as row_text
        {%- endif %}
        {%- if has_model %}
            from {{ ref(seed_name) }} as seed_rows
            where not exists (
                    select 1
                    from {{ ref('scoring_models') }} as disabled_models
                    where
                        lower({{ clean_text('disabled_models.is_enabled') }}) = 'false'
                        and {{ clean_text('disabled_models.model_id') }} = {{ clean_text('seed_rows.model_id') }}
                )
        {%- else %}
            from {{ ref(seed_name) }}
        {%- endif %}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

final as (

    select
        substring({{ dbt.hash(dbt.listagg(dbt.concat(['seed_name', "':'", 'row_text']), "';'", 'order by seed_name, row_text')) }}, 1, 12)
            as ruleset_version,
        count(*) as rule_row_count

    from seed_rows

)

select * from final
