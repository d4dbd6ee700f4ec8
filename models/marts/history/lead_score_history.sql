{#- The score history as validity intervals: one row per scoring model, lead and stored score version
    (model_id, lead_id, valid_from), valid until the next version or removal of the lead (valid_to, exclusive;
    null for the current version). "Score on 1 March": valid_from <= '2026-03-01' and (valid_to is null or
    valid_to > '2026-03-01'). Removal rows of lead_score_snapshots only close intervals and are not listed. -#}
{{ config(materialized='view') }}

with

snapshots as (

    select * from {{ ref('lead_score_snapshots') }}

),

sequenced as (

    select
        *,
        lead(valid_from) over (partition by model_id, lead_id order by valid_from) as valid_to,
        row_number() over (partition by model_id, lead_id order by valid_from) as version_number

    from snapshots

),

final as (

    select
        lead_score_snapshot_id,
        model_id,
        lead_id,
        version_number,
        valid_from,
        valid_to,
        fit_score,
        fit_grade,
        engagement_score,
        engagement_level,
        matrix_cell,
        lead_score,
        lifecycle_stage,
        is_mql,
        ruleset_version,
        valid_to is null as is_current

    from sequenced
    where not is_removed

)

select * from final
