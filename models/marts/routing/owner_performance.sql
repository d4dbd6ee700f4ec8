{#- One row per scoring model and owner (model_id, owner_id) of seeds/routing_queue_members.csv, active or not:
    open MQLs, assignments (spells) and their SLA outcomes, time to first touch, and the funnel outcomes of the
    leads the owner has now or had last (docs/sla.md). Owners without any lead get zeros. -#}

with

spells as (

    select * from {{ ref('lead_assignment_spells') }}

),

routing_status as (

    select * from {{ ref('lead_routing_status') }}

),

funnel_stages as (

    select * from {{ ref('lead_funnel_stages') }}

),

queue_members as (

    select * from {{ ref('stg_rules__routing_queue_members') }}

),

scoring_models as (

    select * from {{ ref('stg_rules__scoring_models') }}

),

owners as (

    select
        owner_id,
        min(owner_name) as owner_name,
        max(case when is_active then 1 else 0 end) = 1 as is_active

    from queue_members
    group by owner_id

),

model_owners as (

    select
        scoring_models.model_id,
        owners.owner_id,
        owners.owner_name,
        owners.is_active

    from scoring_models
    cross join owners

),

spell_figures as (

    select
        model_id,
        owner_id,
        count(*) as assignments,
        sum(case when sla_outcome in ('touched', 'breached') then 1 else 0 end) as resolved_assignments,
        sum(case when sla_outcome = 'breached' then 1 else 0 end) as breached_assignments,
        {{ percentile_cont(
            'case when sla_outcome = \'touched\' then '
            ~ dbt.datediff('spell_started_at', 'first_touched_at', 'second') ~ ' / 3600.0 end',
            0.5
        ) }} as median_hours_to_first_touch

    from spells
    group by model_id, owner_id

),

lead_figures as (

    select
        routing_status.model_id,
        routing_status.owner_id,
        sum(case when routing_status.routing_status <> 'returned_to_nurture' then 1 else 0 end) as open_mqls,
        count(*) as owned_leads,
        sum(case when funnel_stages.has_opportunity then 1 else 0 end) as opportunity_leads,
        sum(case when funnel_stages.is_won then 1 else 0 end) as won_leads,
        sum(case when routing_status.routing_status = 'returned_to_nurture' then 1 else 0 end) as returned_leads

    from routing_status
    left join funnel_stages
        on
            routing_status.model_id = funnel_stages.model_id
            and routing_status.lead_id = funnel_stages.lead_id
    group by routing_status.model_id, routing_status.owner_id

),

combined as (

    select
        model_owners.model_id,
        model_owners.owner_id,
        model_owners.owner_name,
        model_owners.is_active,
        cast(coalesce(lead_figures.open_mqls, 0) as integer) as open_mqls,
        cast(coalesce(spell_figures.assignments, 0) as integer) as assignments,
        cast(coalesce(spell_figures.resolved_assignments, 0) as integer) as resolved_assignments,
        cast(coalesce(spell_figures.breached_assignments, 0) as integer) as breached_assignments,
        cast(spell_figures.median_hours_to_first_touch as {{ type_double() }}) as median_hours_to_first_touch,
        cast(coalesce(lead_figures.owned_leads, 0) as integer) as owned_leads,
        cast(coalesce(lead_figures.opportunity_leads, 0) as integer) as opportunity_leads,
        cast(coalesce(lead_figures.won_leads, 0) as integer) as won_leads,
        cast(coalesce(lead_figures.returned_leads, 0) as integer) as returned_leads

    from model_owners
    left join spell_figures
        on
            model_owners.model_id = spell_figures.model_id
            and model_owners.owner_id = spell_figures.owner_id
    left join lead_figures
        on
            model_owners.model_id = lead_figures.model_id
            and model_owners.owner_id = lead_figures.owner_id

),

final as (

    select
        model_id,
        owner_id,
        owner_name,
        is_active,
        open_mqls,
        assignments,
        resolved_assignments,
        breached_assignments,
        case
            when resolved_assignments > 0
                then cast(breached_assignments as {{ type_double() }}) / resolved_assignments
        end as sla_breach_rate,
        median_hours_to_first_touch,
        owned_leads,
        opportunity_leads,
        won_leads,
        case
            when owned_leads > 0 then cast(opportunity_leads as {{ type_double() }}) / owned_leads
        end as opportunity_rate,
        case
            when owned_leads > 0 then cast(won_leads as {{ type_double() }}) / owned_leads
        end as win_rate,
        returned_leads

    from combined

)

select * from final
