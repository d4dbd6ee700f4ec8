{#- For every model, lead and axis (fit, engagement): the points of the lead's rows in lead_score_reasons sum
    to its score in lead_scores, within 1e-6 (docs/scoring_rules.md, "Caps, scores, bands"). A lead with no
    reason rows on an axis must score 0 there; reason rows for a lead that is not scored fail too. -#}
{{ config(meta={'dagster': {'ref': {'name': 'lead_score_reasons'}}}) }}

with

scores as (

    select
        model_id,
        lead_id,
        'fit' as axis,
        fit_score as score
    from {{ ref('lead_scores') }}

    union all

    select
        model_id,
        lead_id,
        'engagement' as axis,
        engagement_score as score
    from {{ ref('lead_scores') }}

),

reason_totals as (

    select
        model_id,
        lead_id,
        axis,
        sum(points) as reason_points,
        count(*) as reason_rows
    from {{ ref('lead_score_reasons') }}
    where axis in ('fit', 'engagement')
    group by model_id, lead_id, axis

),

compared as (

    select
        scores.score,
        reason_totals.reason_points,
        coalesce(scores.model_id, reason_totals.model_id) as model_id,
        coalesce(scores.lead_id, reason_totals.lead_id) as lead_id,
        coalesce(scores.axis, reason_totals.axis) as axis,
        coalesce(reason_totals.reason_rows, 0) as reason_rows
    from scores
    full outer join reason_totals
        on scores.model_id = reason_totals.model_id
            and scores.lead_id = reason_totals.lead_id
            and scores.axis = reason_totals.axis

)

select *
from compared
where
    score is null
    or abs(score - coalesce(reason_points, 0)) > 0.000001
