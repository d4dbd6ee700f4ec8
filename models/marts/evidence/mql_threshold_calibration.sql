{#- One row per scoring model: the configured MQL lead-score threshold next to the one suggested by history (the
    highest threshold that keeps the configured share of converted leads at or above it), and what each means
    for the share of converted leads kept, the share of leads that would be MQLs and their conversion rate. -#}

with

population as (

    select * from {{ ref('scored_lead_outcomes') }}

),

lifecycle_rules as (

    select * from {{ ref('stg_rules__lifecycle_rules') }}

),

settings as (

    select * from {{ ref('stg_rules__calibration_settings') }}

),

scoring_models as (

    select * from {{ ref('stg_rules__scoring_models') }}

),

configured_thresholds as (

    select
        model_id,
        min(min_lead_score) as configured_mql_threshold

    from lifecycle_rules
    where lifecycle_stage = 'mql' and min_lead_score is not null
    group by model_id

),

model_totals as (

    select
        model_id,
        count(*) as scored_leads,
        count(case when is_converted then 1 end) as converted_leads,
        count(case when is_mql then 1 end) as mql_leads,
        min(case when is_converted then lead_score end) as lowest_converted_score

    from population
    group by model_id

),

converted_candidates as (

    -- each converted lead's score is a candidate threshold; with the default frame (range, peers included)
    -- the count is the number of converted leads scoring at or above it
    select
        model_id,
        lead_score as candidate_threshold,
        count(*) over (partition by model_id order by lead_score desc) as converted_at_or_above

    from population
    where is_converted

),

suggested_thresholds as (

    select
        converted_candidates.model_id,
        max(converted_candidates.candidate_threshold) as suggested_mql_threshold

    from converted_candidates
    inner join settings
        on converted_candidates.model_id = settings.model_id
    inner join model_totals
        on converted_candidates.model_id = model_totals.model_id
    -- the tolerance only absorbs floating-point error in share x count (0.28 x 25 = 7.000000000000001)
    where converted_candidates.converted_at_or_above >= settings.target_converted_share * model_totals.converted_leads - 0.000000001
    group by converted_candidates.model_id

),

thresholds as (

    select
        scoring_models.model_id,
        configured_thresholds.configured_mql_threshold,
        settings.target_converted_share,
        suggested_thresholds.suggested_mql_threshold

    from scoring_models
    left join configured_thresholds
        on scoring_models.model_id = configured_thresholds.model_id
    left join settings
        on scoring_models.model_id = settings.model_id
    left join suggested_thresholds
        on scoring_models.model_id = suggested_thresholds.model_id

),

counts_at_thresholds as (

    select
        thresholds.model_id,
        count(case when population.lead_score >= thresholds.configured_mql_threshold then 1 end)
            as leads_at_configured,
        count(case when population.lead_score >= thresholds.configured_mql_threshold and population.is_converted then 1 end)
            as converted_at_configured,
        count(case when population.lead_score >= thresholds.suggested_mql_threshold then 1 end)
            as leads_at_suggested,
        count(case when population.lead_score >= thresholds.suggested_mql_threshold and population.is_converted then 1 end)
            as converted_at_suggested

    from thresholds
    inner join population
        on thresholds.model_id = population.model_id
    group by thresholds.model_id

),

final as (

    select
        thresholds.model_id,
        thresholds.configured_mql_threshold,
        thresholds.target_converted_share,
        thresholds.suggested_mql_threshold,
        case
            when thresholds.configured_mql_threshold is not null and model_totals.converted_leads > 0
                then cast(counts_at_thresholds.converted_at_configured as {{ type_double() }}) / model_totals.converted_leads
        end as converted_share_at_configured,
        case
            when thresholds.suggested_mql_threshold is not null and model_totals.converted_leads > 0
                then cast(counts_at_thresholds.converted_at_suggested as {{ type_double() }}) / model_totals.converted_leads
        end as converted_share_at_suggested,
        case
            when thresholds.configured_mql_threshold is not null and model_totals.scored_leads > 0
                then cast(counts_at_thresholds.leads_at_configured as {{ type_double() }}) / model_totals.scored_leads
        end as mql_rate_at_configured,
        case
            when thresholds.suggested_mql_threshold is not null and model_totals.scored_leads > 0
                then cast(counts_at_thresholds.leads_at_suggested as {{ type_double() }}) / model_totals.scored_leads
        end as mql_rate_at_suggested,
        case
            when thresholds.configured_mql_threshold is not null and counts_at_thresholds.leads_at_configured > 0
                then cast(counts_at_thresholds.converted_at_configured as {{ type_double() }}) / counts_at_thresholds.leads_at_configured
        end as conversion_rate_above_configured,
        case
            when thresholds.suggested_mql_threshold is not null and counts_at_thresholds.leads_at_suggested > 0
                then cast(counts_at_thresholds.converted_at_suggested as {{ type_double() }}) / counts_at_thresholds.leads_at_suggested
        end as conversion_rate_above_suggested,
        model_totals.lowest_converted_score,
        coalesce(model_totals.scored_leads, 0) as scored_leads,
        coalesce(model_totals.converted_leads, 0) as converted_leads,
        coalesce(model_totals.mql_leads, 0) as current_mql_leads,
        case
            when thresholds.configured_mql_threshold is not null then coalesce(counts_at_thresholds.leads_at_configured, 0)
        end as leads_at_configured,
        case
            when thresholds.suggested_mql_threshold is not null then coalesce(counts_at_thresholds.leads_at_suggested, 0)
        end as leads_at_suggested

    from thresholds
    left join model_totals
        on thresholds.model_id = model_totals.model_id
    left join counts_at_thresholds
        on thresholds.model_id = counts_at_thresholds.model_id

)

select * from final
