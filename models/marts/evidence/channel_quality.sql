{#- One row per scoring model, lead source and month of lead creation: how many scored leads the channel brought,
    how well they score, and how many became MQLs, converted and won. -#}

with

population as (

    select * from {{ ref('scored_lead_outcomes') }}

),

channel_leads as (

    select
        model_id,
        coalesce(lead_source, 'unknown') as lead_source,
        cast({{ dbt.date_trunc('month', 'lead_created_at') }} as date) as created_month,
        fit_score,
        engagement_score,
        lead_score,
        is_mql,
        is_converted,
        is_won,
        won_amount

    from population

),

aggregated as (

    select
        model_id,
        lead_source,
        created_month,
        count(*) as leads,
        {{ round_double(exact_avg('fit_score'), 6) }} as mean_fit_score,
        {{ round_double(exact_avg('engagement_score'), 6) }} as mean_engagement_score,
        {{ round_double(exact_avg('lead_score'), 6) }} as mean_lead_score,
        count(case when is_mql then 1 end) as mql_leads,
        count(case when is_converted then 1 end) as converted_leads,
        count(case when is_won then 1 end) as won_leads,
        {{ exact_sum('won_amount') }} as won_amount

    from channel_leads
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
