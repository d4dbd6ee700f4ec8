{#- Every dimension of score_calibration splits the same population: per model and dimension the bucket leads
    add up to the scored leads of lead_scores (excluded leads left out), and so do the leads of channel_quality
    and score_auc. Returns the mismatches. An asset check of score_calibration (meta.dagster.ref), so that a
    Dagster job that leaves some checks out still names and runs it. -#}
{{ config(meta={'dagster': {'ref': {'name': 'score_calibration'}}}) }}

with

scores as (

    select * from {{ ref('lead_scores') }}

),

calibration as (

    select * from {{ ref('score_calibration') }}

),

channels as (

    select * from {{ ref('channel_quality') }}

),

auc as (

    select * from {{ ref('score_auc') }}

),

scored as (

    select
        model_id,
        count(*) as scored_leads

    from scores
    where not is_excluded
    group by model_id

),

split_counts as (

    select
        model_id,
        dimension as split_name,
        sum(leads) as split_leads
    from calibration
    group by model_id, dimension

    union all

    select
        model_id,
        'channel_quality' as split_name,
        sum(leads) as split_leads
    from channels
    group by model_id

    union all

    select
        model_id,
        {{ dbt.concat(["'score_auc:'", 'score_name']) }} as split_name,
        leads as split_leads
    from auc

),

final as (

    select
        scored.model_id,
        split_counts.split_name,
        scored.scored_leads,
        split_counts.split_leads

    from scored
    left join split_counts
        on scored.model_id = split_counts.model_id
    where split_counts.split_leads is null or split_counts.split_leads <> scored.scored_leads

)

select * from final
