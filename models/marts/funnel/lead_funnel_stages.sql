{#- One row per scoring model and scored lead (model_id, lead_id; leads excluded by an override are left out):
    when the lead reached each funnel stage. Every stage counts only at or after the stage before it, so the
    timestamps never go backwards (docs/sales_touches.md):
      created_at      the lead's creation in the CRM;
      mql_at          the first became_mql crossing in the score history. When the lead was already an MQL at
                      its first recorded run (or only the current score says MQL), the moment is not known, only
                      that it was at or before that run: mql_at is then the earlier of that run and the first
                      accepting touch after creation (sales accepting the lead shows it was handed over), and
                      is_mql_at_observed is false; never before created_at;
      accepted_at     the first accepting touch at or after mql_at;
      returned_at     the first returning touch at or after mql_at, with its reason;
      opportunity_at  the creation of the first opportunity created at or after accepted_at;
      won_at          the earliest won_at of a won opportunity created at or after accepted_at: its close, or
                      its creation when the close date is missing (stg_crm__opportunity_versions), the same
                      moment int_lead_outcomes uses. -#}

with

scores as (

    select * from {{ ref('lead_scores') }}

),

crossings as (

    select * from {{ ref('mql_threshold_crossings') }}

),

touches as (

    select * from {{ ref('int_lead_sales_touches') }}

),

opportunities as (

    select * from {{ ref('stg_crm__opportunities') }}

),

population as (

    select
        model_id,
        lead_id,
        lead_source,
        matrix_cell,
        lead_created_at as created_at,
        is_mql,
        scored_at

    from scores
    where not is_excluded

),

became_mql_crossings as (

    select
        model_id,
        lead_id,
        crossed_at,
        change_type,
        row_number() over (partition by model_id, lead_id order by crossed_at) as crossing_number

    from crossings
    where crossing_direction = 'became_mql'

),

first_crossings as (

    {#- Only a crossing seen between two runs (rescored) dates the moment; a new_lead or returned crossing is the
        first run that saw the lead, an upper bound. -#}
    select
        model_id,
        lead_id,
        crossed_at as first_mql_crossed_at,
        change_type = 'rescored' as is_crossing_observed

    from became_mql_crossings
    where crossing_number = 1

),

mql_bounds as (

    {#- The history's first crossing, else the current score's instant when it is an MQL now. -#}
    select
        population.*,
        coalesce(first_crossings.first_mql_crossed_at, case when population.is_mql then population.scored_at end)
            as mql_bound_at,
        coalesce(first_crossings.is_crossing_observed, false) as is_mql_at_observed

    from population
    left join first_crossings
        on
            population.model_id = first_crossings.model_id
            and population.lead_id = first_crossings.lead_id

),

first_acceptances as (

    select
        mql_bounds.model_id,
        mql_bounds.lead_id,
        min(touches.occurred_at) as first_accepted_at

    from mql_bounds
    inner join touches
        on mql_bounds.lead_id = touches.lead_id
    where
        touches.is_accepting
        and touches.occurred_at >= mql_bounds.created_at
    group by mql_bounds.model_id, mql_bounds.lead_id

),

mql_stage as (

    select
        mql_bounds.model_id,
        mql_bounds.lead_id,
        mql_bounds.lead_source,
        mql_bounds.matrix_cell,
        mql_bounds.created_at,
        mql_bounds.is_mql_at_observed,
        case
            when mql_bounds.mql_bound_at is null then null
            when mql_bounds.is_mql_at_observed then mql_bounds.mql_bound_at
            when first_acceptances.first_accepted_at < mql_bounds.mql_bound_at then first_acceptances.first_accepted_at
            else mql_bounds.mql_bound_at
        end as candidate_mql_at

    from mql_bounds
    left join first_acceptances
        on
            mql_bounds.model_id = first_acceptances.model_id
            and mql_bounds.lead_id = first_acceptances.lead_id

),

mql_clamped as (

    select
        model_id,
        lead_id,
        lead_source,
        matrix_cell,
        created_at,
        case when candidate_mql_at < created_at then created_at else candidate_mql_at end as mql_at,
        candidate_mql_at is not null and is_mql_at_observed as is_mql_at_observed

    from mql_stage

),

accepted_stage as (

    select
        mql_clamped.model_id,
        mql_clamped.lead_id,
        min(touches.occurred_at) as accepted_at

    from mql_clamped
    inner join touches
        on mql_clamped.lead_id = touches.lead_id
    where
        touches.is_accepting
        and touches.occurred_at >= mql_clamped.mql_at
    group by mql_clamped.model_id, mql_clamped.lead_id

),

returns_ranked as (

    select
        mql_clamped.model_id,
        mql_clamped.lead_id,
        touches.occurred_at as returned_at,
        touches.new_status as returned_status,
        touches.status_reason as return_reason,
        row_number() over (
            partition by mql_clamped.model_id, mql_clamped.lead_id
            order by touches.occurred_at, touches.event_id
        ) as return_number

    from mql_clamped
    inner join touches
        on mql_clamped.lead_id = touches.lead_id
    where
        touches.is_returning
        and touches.occurred_at >= mql_clamped.mql_at

),

funnel_opportunities as (

    select
        accepted_stage.model_id,
        accepted_stage.lead_id,
        opportunities.created_at,
        opportunities.won_at

    from accepted_stage
    inner join opportunities
        on accepted_stage.lead_id = opportunities.lead_id
    where opportunities.created_at >= accepted_stage.accepted_at

),

opportunity_stage as (

    select
        model_id,
        lead_id,
        min(created_at) as opportunity_at,
        min(won_at) as won_at

    from funnel_opportunities
    group by model_id, lead_id

),

final as (

    select
        mql_clamped.model_id,
        mql_clamped.lead_id,
        coalesce(mql_clamped.lead_source, 'unknown') as lead_source,
        mql_clamped.matrix_cell,
        mql_clamped.created_at,
        cast({{ dbt.date_trunc('month', 'mql_clamped.created_at') }} as date) as created_month,
        mql_clamped.mql_at,
        mql_clamped.is_mql_at_observed,
        accepted_stage.accepted_at,
        returns_ranked.returned_at,
        returns_ranked.returned_status,
        returns_ranked.return_reason,
        opportunity_stage.opportunity_at,
        opportunity_stage.won_at,
        mql_clamped.mql_at is not null as is_mql_reached,
        accepted_stage.accepted_at is not null as is_accepted,
        returns_ranked.returned_at is not null as is_returned,
        opportunity_stage.opportunity_at is not null as has_opportunity,
        opportunity_stage.won_at is not null as is_won

    from mql_clamped
    left join accepted_stage
        on
            mql_clamped.model_id = accepted_stage.model_id
            and mql_clamped.lead_id = accepted_stage.lead_id
    left join returns_ranked
        on
            mql_clamped.model_id = returns_ranked.model_id
            and mql_clamped.lead_id = returns_ranked.lead_id
            and returns_ranked.return_number = 1
    left join opportunity_stage
        on
            mql_clamped.model_id = opportunity_stage.model_id
            and mql_clamped.lead_id = opportunity_stage.lead_id

)

select * from final
