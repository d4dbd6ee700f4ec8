{#- One row per scoring model and scored lead (model_id, lead_id): the population of the evidence marts - every
    row of lead_scores except the leads excluded by an `exclude` override - with the lead's CRM outcome. A lead
    without an outcome row counts as not converted, not won, with a won amount of 0. -#}
{{ config(materialized='view') }}

with

scores as (

    select * from {{ ref('lead_scores') }}

),

outcomes as (

    select * from {{ ref('int_lead_outcomes') }}

),

final as (

    select
        scores.model_id,
        scores.lead_id,
        scores.lead_source,
        scores.lead_created_at,
        scores.fit_score,
        scores.engagement_score,
        scores.lead_score,
        scores.fit_grade,
        scores.engagement_level,
        scores.matrix_cell,
        scores.is_mql,
        coalesce(outcomes.is_converted, false) as is_converted,
        coalesce(outcomes.is_won, false) as is_won,
        coalesce(outcomes.won_amount, 0) as won_amount

    from scores
    left join outcomes
        on scores.lead_id = outcomes.lead_id
    where not scores.is_excluded

)

select * from final
