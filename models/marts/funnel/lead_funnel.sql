{#- One row per scoring model, month of lead creation, lead source and matrix cell
    (model_id, created_month, lead_source, matrix_cell): the lead funnel lead -> MQL -> accepted -> opportunity
    -> won. A lead counts at a stage only when it reached every stage before it (lead_funnel_stages), so the
    counts never increase along the funnel. Rates are stage-to-stage (null when the earlier stage has no leads);
    durations are hours between consecutive stages, median and 90th percentile (continuous, interpolated), over
    the leads that reached both; the two durations that start or end at the MQL moment use only leads whose MQL
    moment was observed between two score-history runs. -#}

with

stages as (

    select * from {{ ref('lead_funnel_stages') }}

),

durations as (

    select
        model_id,
        created_month,
        lead_source,
        matrix_cell,
        is_mql_reached,
        is_accepted,
        is_returned,
        has_opportunity,
        is_won,
        case
            when is_mql_at_observed
                then {{ dbt.datediff('created_at', 'mql_at', 'second') }} / 3600.0
        end as hours_lead_to_mql,
        case
            when is_mql_at_observed
                then {{ dbt.datediff('mql_at', 'accepted_at', 'second') }} / 3600.0
        end as hours_mql_to_accepted,
        {{ dbt.datediff('accepted_at', 'opportunity_at', 'second') }}
        / 3600.0 as hours_accepted_to_opportunity,
        {{ dbt.datediff('opportunity_at', 'won_at', 'second') }}
        / 3600.0 as hours_opportunity_to_won

    from stages

),

aggregated as (

    select
        model_id,
        created_month,
        lead_source,
        matrix_cell,
        count(*) as leads,
        count(case when is_mql_reached then 1 end) as mql_leads,
        count(case when is_accepted then 1 end) as accepted_leads,
        count(case when is_returned then 1 end) as returned_leads,
        count(case when has_opportunity then 1 end) as opportunity_leads,
        count(case when is_won then 1 end) as won_leads,
        {{ percentile_cont('hours_lead_to_mql', 0.5) }} as median_hours_lead_to_mql,
        {{ percentile_cont('hours_lead_to_mql', 0.9) }} as p90_hours_lead_to_mql,
        {{ percentile_cont('hours_mql_to_accepted', 0.5) }} as median_hours_mql_to_accepted,
        {{ percentile_cont('hours_mql_to_accepted', 0.9) }} as p90_hours_mql_to_accepted,
        {{ percentile_cont('hours_accepted_to_opportunity', 0.5) }} as median_hours_accepted_to_opportunity,
        {{ percentile_cont('hours_accepted_to_opportunity', 0.9) }} as p90_hours_accepted_to_opportunity,
        {{ percentile_cont('hours_opportunity_to_won', 0.5) }} as median_hours_opportunity_to_won,
        {{ percentile_cont('hours_opportunity_to_won', 0.9) }} as p90_hours_opportunity_to_won

    from durations
    group by model_id, created_month, lead_source, matrix_cell

),

final as (

    select
        model_id,
        created_month,
        lead_source,
        matrix_cell,
        leads,
        mql_leads,
        accepted_leads,
        returned_leads,
        opportunity_leads,
        won_leads,
        cast(mql_leads as {{ type_double() }}) / leads as lead_to_mql_rate,
        cast(accepted_leads as {{ type_double() }}) / nullif(mql_leads, 0) as mql_to_accepted_rate,
        cast(opportunity_leads as {{ type_double() }}) / nullif(accepted_leads, 0) as accepted_to_opportunity_rate,
        cast(won_leads as {{ type_double() }}) / nullif(opportunity_leads, 0) as opportunity_to_won_rate,
        cast(won_leads as {{ type_double() }}) / leads as lead_to_won_rate,
        median_hours_lead_to_mql,
        p90_hours_lead_to_mql,
        median_hours_mql_to_accepted,
        p90_hours_mql_to_accepted,
        median_hours_accepted_to_opportunity,
        p90_hours_accepted_to_opportunity,
        median_hours_opportunity_to_won,
        p90_hours_opportunity_to_won

    from aggregated

)

select * from final
