{#- Per model and lead: fit and engagement scores, grade, level, matrix cell, combined lead score, and whether
    a disqualifying rule fired. Overrides and lifecycle come next, in int_lead_lifecycle.
    Incremental on the lead within a scoring day: only the leads the lead scope rescores (int_lead_scoring_scope)
    are computed again (docs/incremental.md, section 2c). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='replace_keys',
    unique_key=['lead_id'],
    on_schema_change='ignore',
    meta={'lead_scope_layout': lead_scores_layout()},
    post_hook="{{ save_lead_scope_consumer_state(ref('int_lead_scoring_scope'), lead_scores_layout()) }}",
) }}
-- depends_on: {{ ref('int_lead_scoring_scope') }}
{%- set incremental_run = lead_scope_consumer_run(ref('int_lead_scoring_scope'), lead_scores_layout()) %}

with

axis_scores as (

    select * from {{ ref('int_lead_axis_scores') }}
    {{ in_lead_scope(incremental_run) }}

),

rule_points as (

    select * from {{ ref('int_lead_rule_points') }}
    {{ in_lead_scope(incremental_run) }}

),

score_bands as (

    select * from {{ ref('stg_rules__score_bands') }}

),

scoring_models as (

    select * from {{ ref('stg_rules__scoring_models') }}

),

disqualified as (

    select distinct
        model_id,
        lead_id

    from rule_points
    where is_disqualifying

),

pivoted as (

    select
        model_id,
        lead_id,
        max(case when axis = 'fit' then score end) as fit_score,
        max(case when axis = 'engagement' then score end) as engagement_score

    from axis_scores
    group by 1, 2

),

lead_scores as (

    select
        pivoted.model_id,
        pivoted.lead_id,
        pivoted.fit_score,
        fit_bands.band as fit_grade,
        pivoted.engagement_score,
        engagement_bands.band as engagement_level,
        {{ dbt.concat(['fit_bands.band', 'engagement_bands.band']) }} as matrix_cell,
        scoring_models.fit_weight * pivoted.fit_score
        + scoring_models.engagement_weight * pivoted.engagement_score as lead_score,
        disqualified.lead_id is not null as has_disqualifier

    from pivoted
    inner join scoring_models
        on pivoted.model_id = scoring_models.model_id
    {{ join_score_band('score_bands', 'fit_bands', 'pivoted.model_id', 'fit', 'pivoted.fit_score') }}
    {{ join_score_band('score_bands', 'engagement_bands', 'pivoted.model_id', 'engagement', 'pivoted.engagement_score') }}
    left join disqualified
        on pivoted.model_id = disqualified.model_id
            and pivoted.lead_id = disqualified.lead_id

),

final as (

    {{ lead_scope_rows(
        'lead_scores',
        ['model_id', 'lead_id', 'fit_score', 'fit_grade', 'engagement_score', 'engagement_level', 'matrix_cell',
            'lead_score', 'has_disqualifier'],
        incremental_run
    ) }}

)

select * from final
