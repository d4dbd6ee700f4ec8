{#- One row: the rule-set version, a hash of every rule and dictionary seed's content. Any change to a seed
    row changes it, so every score row says which rules produced it. -#}
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
        select
            '{{ seed_name }}' as seed_name,
            {%- if columns | length > 0 %}
                {{ concat_fields(columns | map(attribute='quoted') | list) }} as row_text
            {%- else %}
        '' as row_text
        {%- endif %}
        from {{ ref(seed_name) }}
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
