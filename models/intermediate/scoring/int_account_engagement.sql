{#- Per model and account (a company domain that is not a free-email domain): its leads, how many of them
    engaged recently (a positive, non-burst event younger than the engaged_colleagues rule's window), and
    whether the account rule fires. -#}

with

leads as (

    select * from {{ ref('stg_crm__leads') }}

),

email_domains as (

    select * from {{ ref('stg_rules__map_email_domains') }}

),

scoring_models as (

    select * from {{ ref('stg_rules__scoring_models') }}

),

colleague_rules as (

    select * from {{ ref('stg_rules__signal_rules') }}
    where signal = 'engaged_colleagues'

),

daily_points as (

    select * from {{ ref('int_engagement_daily_points') }}

),

account_leads as (

    select
        leads.lead_id,
        leads.company_domain

    from leads
    left join email_domains
        on leads.company_domain = email_domains.email_domain
            and email_domains.domain_type = 'personal'
    where leads.company_domain is not null
        and email_domains.email_domain is null

),

engaged_leads as (

    select distinct
        daily_points.model_id,
        daily_points.lead_id

    from daily_points
    left join colleague_rules
        on daily_points.model_id = colleague_rules.model_id
    where daily_points.base_points > 0
        and (
            colleague_rules.window_days is null
            or {{ days_between('daily_points.activity_date', as_of_date()) }}
            < colleague_rules.window_days
        )

),

per_account as (

    select
        scoring_models.model_id,
        account_leads.company_domain,
        count(*) as lead_count,
        count(engaged_leads.lead_id) as engaged_lead_count

    from account_leads
    cross join scoring_models
    left join engaged_leads
        on scoring_models.model_id = engaged_leads.model_id
            and account_leads.lead_id = engaged_leads.lead_id
    group by 1, 2

),

final as (

    select
        per_account.model_id,
        per_account.company_domain,
        per_account.lead_count,
        per_account.engaged_lead_count,
        colleague_rules.rule_id as account_rule_id,
        coalesce(per_account.engaged_lead_count >= colleague_rules.threshold, false) as is_researching

    from per_account
    left join colleague_rules
        on per_account.model_id = colleague_rules.model_id

)

select * from final
