{#- Per model, lead and override action: the override that applies (a lead-level one beats a domain-level one,
    then the smallest override_id). Expired overrides (valid_until before as_of) are ignored. -#}

with

leads as (

    select
        lead_id,
        company_domain
    from {{ ref('stg_crm__leads') }}

),

scoring_models as (

    select model_id from {{ ref('stg_rules__scoring_models') }}

),

overrides as (

    select * from {{ ref('stg_rules__overrides') }}
    where valid_until_date is null or valid_until_date >= {{ as_of_date() }}

),

candidates as (

    select
        scoring_models.model_id,
        leads.lead_id,
        overrides.override_id,
        overrides.override_action,
        overrides.override_value,
        overrides.override_reason,
        case when overrides.lead_id is not null then 1 else 2 end as target_rank

    from overrides
    inner join scoring_models
        on overrides.model_id is null or overrides.model_id = scoring_models.model_id
    inner join leads
        on overrides.lead_id = leads.lead_id
            or overrides.company_domain = leads.company_domain

),

ranked as (

    select
        *,
        row_number() over (
            partition by model_id, lead_id, override_action
            order by target_rank, override_id
        ) as override_rank

    from candidates

),

final as (

    select
        model_id,
        lead_id,
        override_action,
        override_id,
        override_value,
        override_reason

    from ranked
    where override_rank = 1

)

select * from final
