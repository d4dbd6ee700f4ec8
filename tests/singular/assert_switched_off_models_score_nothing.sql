{#- A scoring model switched off in seeds/scoring_models.csv (is_enabled = false) scores nothing: none of its
    model_id appears in the rule staging models, the engagement buckets, the rule points or any scoring mart. Fails
    with the relation and the model that has rows there. -#}
{{ config(meta={'dagster': {'ref': {'name': 'lead_scores'}}}) }}
{%- set relations = [
    'stg_rules__fit_rules', 'stg_rules__engagement_rules', 'stg_rules__signal_rules', 'stg_rules__score_bands',
    'stg_rules__lifecycle_rules', 'stg_rules__group_caps', 'stg_rules__routing_rules',
    'int_engagement_daily_points', 'int_lead_rule_points', 'lead_scores', 'lead_score_reasons', 'account_scores',
    'lead_assignments', 'scoring_rule_health', 'scoring_band_health'
] %}

with

switched_off as (

    select {{ clean_text('model_id') }} as model_id
    from {{ ref('scoring_models') }}
    where lower({{ clean_text('is_enabled') }}) = 'false'

),

model_rows as (

    {%- for relation in relations %}
        select
            '{{ relation }}' as relation_name,
            model_id
        from {{ ref(relation) }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

final as (

    select
        model_rows.relation_name,
        model_rows.model_id,
        count(*) as row_count

    from model_rows
    inner join switched_off
        on model_rows.model_id = switched_off.model_id
    group by 1, 2

)

select * from final
