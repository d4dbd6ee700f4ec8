{#- Why each lead has its score: one row per rule that fired, per cap or bound that changed a total, and per
    override applied. On each axis the points of a lead's rows sum to its score. A view of
    int_scored_lead_reasons, which rescores only the leads a run touched (docs/incremental.md), with the as_of
    every row holds at. -#}
{{ config(materialized='view') }}

with

scored_lead_reasons as (

    select * from {{ ref('int_scored_lead_reasons') }}

),

final as (

    select
        lead_score_reason_id,
        model_id,
        lead_id,
        axis,
        reason_type,
        rule_id,
        rule_group,
        dimension,
        points,
        evidence,
        reason_description,
        ruleset_version,
        {{ as_of_timestamp() }} as scored_at

    from scored_lead_reasons

)

select * from final
