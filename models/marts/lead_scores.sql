{#- One row per live lead and scoring model: the scores, grade, level, cell, lifecycle stage and top reasons,
    stamped with the rule-set version and the as_of they were scored at. A view of int_scored_leads, which keeps
    the rows and rescores only the leads a run touched (docs/incremental.md): every row holds at this as_of. -#}
{{ config(materialized='view') }}

with

scored_leads as (

    select * from {{ ref('int_scored_leads') }}

),

final as (

    select
        lead_score_id,
        model_id,
        lead_id,
        company_domain,
        lead_source,
        email_type,
        industry,
        seniority,
        country_code,
        fit_score,
        fit_grade,
        computed_fit_grade,
        engagement_score,
        engagement_level,
        matrix_cell,
        lead_score,
        lifecycle_stage,
        is_mql,
        has_disqualifier,
        is_excluded,
        has_override,
        top_reasons,
        ruleset_version,
        {{ as_of_timestamp() }} as scored_at,
        lead_created_at

    from scored_leads

)

select * from final
