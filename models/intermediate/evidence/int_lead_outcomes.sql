{#- One row per staged lead: what became of it in the CRM - whether it has an opportunity (converted) and a won
    one, with counts, the won amount and the first dates. The outcome side of the evidence marts. -#}

with

leads as (

    select * from {{ ref('stg_crm__leads') }}

),

opportunities as (

    select * from {{ ref('stg_crm__opportunities') }}

),

opportunities_per_lead as (

    select
        lead_id,
        count(*) as opportunity_count,
        count(case when is_won then 1 end) as won_opportunity_count,
        {{ exact_sum('case when is_won and amount > 0 then amount else 0 end') }} as won_amount,
        min(created_at) as first_opportunity_at,
        min(won_at) as first_won_at

    from opportunities
    where lead_id is not null
    group by lead_id

),

final as (

    select
        leads.lead_id,
        opportunities_per_lead.first_opportunity_at,
        opportunities_per_lead.first_won_at,
        coalesce(opportunities_per_lead.opportunity_count, 0) as opportunity_count,
        coalesce(opportunities_per_lead.won_opportunity_count, 0) as won_opportunity_count,
        coalesce(opportunities_per_lead.opportunity_count, 0) > 0 as is_converted,
        coalesce(opportunities_per_lead.won_opportunity_count, 0) > 0 as is_won,
        coalesce(opportunities_per_lead.won_amount, 0) as won_amount

    from leads
    left join opportunities_per_lead
        on leads.lead_id = opportunities_per_lead.lead_id

)

select * from final
