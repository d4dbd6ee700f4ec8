{#- One row per scoring model and live lead (model_id, lead_id): the state of the lead's scores in this run,
    as the score history stores it - scores, unrounded axis scores (the sums the reasons reconcile to),
    grade, level, cell, stage, rule-set version - and a hash of the fields whose change makes a new version. -#}
{{ config(materialized='view') }}

with

lead_scores as (

    select * from {{ ref('lead_scores') }}

),

axis_scores as (

    select * from {{ ref('int_lead_axis_scores') }}

),

unrounded as (

    select
        model_id,
        lead_id,
        max(case when axis = 'fit' then least(100.0, greatest(0.0, total_points)) end) as fit_score_unrounded,
        max(case when axis = 'engagement' then least(100.0, greatest(0.0, total_points)) end)
            as engagement_score_unrounded

    from axis_scores
    group by 1, 2

),

final as (

    select
        lead_scores.model_id,
        lead_scores.lead_id,
        lead_scores.scored_at as valid_from,
        lead_scores.fit_score,
        unrounded.fit_score_unrounded,
        lead_scores.fit_grade,
        lead_scores.engagement_score,
        unrounded.engagement_score_unrounded,
        lead_scores.engagement_level,
        lead_scores.matrix_cell,
        lead_scores.lead_score,
        lead_scores.lifecycle_stage,
        lead_scores.is_mql,
        lead_scores.ruleset_version,
        {{ surrogate_key([
            'lead_scores.fit_score', 'lead_scores.engagement_score', 'lead_scores.lead_score',
            'lead_scores.fit_grade', 'lead_scores.engagement_level', 'lead_scores.matrix_cell',
            'lead_scores.lifecycle_stage', 'lead_scores.ruleset_version'
        ]) }} as state_hash

    from lead_scores
    inner join unrounded
        on lead_scores.model_id = unrounded.model_id
            and lead_scores.lead_id = unrounded.lead_id

)

select * from final
