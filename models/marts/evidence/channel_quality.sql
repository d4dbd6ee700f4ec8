{#- One row per scoring model, lead source and month of lead creation: how many scored leads the channel brought,
    how well they score, and how many became MQLs, converted and won. -#}

with

scores as (

    select * from {{ ref('lead_scores') }}

),

outcomes as (

    select * from {{ ref('int_lead_outcomes') }}

),

population as (

    select
        scores.model_id,
        coalesce(scores.lead_source, 'unknown') as lead_source,
        cast({{ dbt.date_trunc('month', 'scores.lead_created_at') }} as date) as created_month,
        scores.fit_score,
        scores.engagement_score,
        scores.lead_score,
        scores.is_mql,
        coalesce(outcomes.is_converted, false) as is_converted,
        coalesce(outcomes.is_won, false) as is_won,
        coalesce(outcomes.won_amount, 0) as won_amount

    from scores
    left join outcomes
        on scores.lead_id = outcomes.lead_id
    where not scores.is_excluded

),

aggregated as (

    select
        model_id,
        lead_source,
        created_month,
        count(*) as leads,
        avg(fit_score) as mean_fit_score,
        avg(engagement_score) as mean_engagement_score,
        avg(lead_score) as mean_lead_score,
        count(case when is_mql then 1 end) as mql_leads,
        count(case when is_converted then 1 end) as converted_leads,
        count(case when is_won then 1 end) as won_leads,
        sum(won_amount) as won_amount

    from population
    group by model_id, lead_source, created_month

),

final as (

    select
        model_id,
        lead_source,
        created_month,
        leads,
        mean_fit_score,
        mean_engagement_score,
        mean_lead_score,
        mql_leads,
        cast(mql_leads as {{ type_double() }}) / leads as mql_rate,
        converted_leads,
        cast(converted_leads as {{ type_double() }}) / leads as conversion_rate,
        won_leads,
        cast(won_leads as {{ type_double() }}) / leads as win_rate,
        won_amount

    from aggregated

)

select * from final
