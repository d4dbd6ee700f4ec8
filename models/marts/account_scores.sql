{#- One row per model and account (company domain that is not a free-email domain): its leads, engagement,
    whether the account rule fired, and account-level scores built from its leads' scores. -#}

with

accounts as (

    select * from {{ ref('int_account_engagement') }}

),

leads as (

    select
        lead_id,
        company_domain
    from {{ ref('stg_crm__leads') }}

),

lead_scores as (

    select * from {{ ref('int_lead_scores') }}

),

score_bands as (

    select * from {{ ref('stg_rules__score_bands') }}

),

scoring_models as (

    select * from {{ ref('stg_rules__scoring_models') }}

),

ruleset as (

    select * from {{ ref('int_ruleset_version') }}

),

ranked_leads as (

    select
        lead_scores.model_id,
        leads.company_domain,
        lead_scores.lead_id,
        lead_scores.fit_score,
        lead_scores.engagement_score,
        lead_scores.lead_score,
        row_number() over (
            partition by lead_scores.model_id, leads.company_domain
            order by lead_scores.lead_score desc, lead_scores.lead_id asc
        ) as lead_rank

    from lead_scores
    inner join leads
        on lead_scores.lead_id = leads.lead_id

),

rolled_up as (

    select
        model_id,
        company_domain,
        max(fit_score) as account_fit_score,
        least(100.0, {{ exact_sum('engagement_score') }}) as account_engagement_score,
        {{ exact_avg('lead_score') }} as mean_lead_score,
        max(case when lead_rank = 1 then lead_id end) as best_lead_id

    from ranked_leads
    group by 1, 2

),

scored as (

    select
        accounts.model_id,
        accounts.company_domain,
        accounts.lead_count,
        accounts.engaged_lead_count,
        accounts.is_researching,
        rolled_up.account_fit_score,
        rolled_up.account_engagement_score,
        rolled_up.mean_lead_score,
        rolled_up.best_lead_id,
        scoring_models.fit_weight * rolled_up.account_fit_score
        + scoring_models.engagement_weight * rolled_up.account_engagement_score as account_score

    from accounts
    inner join rolled_up
        on accounts.model_id = rolled_up.model_id
            and accounts.company_domain = rolled_up.company_domain
    inner join scoring_models
        on accounts.model_id = scoring_models.model_id

),

final as (

    select
        {{ surrogate_key(['scored.model_id', 'scored.company_domain']) }} as account_score_id,
        scored.model_id,
        scored.company_domain,
        scored.lead_count,
        scored.engaged_lead_count,
        scored.is_researching,
        scored.account_fit_score,
        fit_bands.band as account_grade,
        scored.account_engagement_score,
        engagement_bands.band as account_level,
        {{ dbt.concat(['fit_bands.band', 'engagement_bands.band']) }} as account_cell,
        scored.account_score,
        scored.mean_lead_score,
        scored.best_lead_id,
        ruleset.ruleset_version,
        {{ as_of_timestamp() }} as scored_at

    from scored
    {{ join_score_band('score_bands', 'fit_bands', 'scored.model_id', 'fit', 'scored.account_fit_score') }}
    {{ join_score_band('score_bands', 'engagement_bands', 'scored.model_id', 'engagement', 'scored.account_engagement_score') }}
    cross join ruleset

)

select * from final
