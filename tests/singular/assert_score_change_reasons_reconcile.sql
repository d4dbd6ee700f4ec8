{#- For every score change and axis, the point deltas of lead_score_change_reasons (rules, caps and the 0-100
    bound) sum to the change of the unrounded axis score in lead_score_changes, within 1e-6. A change with no
    reason rows on an axis must not have changed that axis. Checks the latest run's changes (both ledgers only ever
    append, and earlier runs' changes were checked when written), or every change under the var test_all_rows
    (macros/test_scope.sql). -#}
{{ config(meta={'dagster': {'ref': {'name': 'lead_score_change_reasons'}}}) }}

with

changes as (

    select * from {{ ref('lead_score_changes') }}
    where {{ latest_run_predicate('changed_at', ref('lead_score_changes')) }}

),

change_reasons as (

    select * from {{ ref('lead_score_change_reasons') }}
    where {{ latest_run_predicate('changed_at', ref('lead_score_changes')) }}

),

axis_deltas as (

    select
        lead_score_change_id,
        'fit' as axis,
        fit_score_unrounded_delta as score_delta
    from changes

    union all

    select
        lead_score_change_id,
        'engagement' as axis,
        engagement_score_unrounded_delta as score_delta
    from changes

),

reason_totals as (

    select
        lead_score_change_id,
        axis,
        sum(points_delta) as reason_delta
    from change_reasons
    group by lead_score_change_id, axis

),

compared as (

    select
        axis_deltas.lead_score_change_id,
        axis_deltas.axis,
        axis_deltas.score_delta,
        coalesce(reason_totals.reason_delta, 0) as reason_delta
    from axis_deltas
    left join reason_totals
        on axis_deltas.lead_score_change_id = reason_totals.lead_score_change_id
            and axis_deltas.axis = reason_totals.axis

)

select *
from compared
where abs(score_delta - reason_delta) > 0.000001
