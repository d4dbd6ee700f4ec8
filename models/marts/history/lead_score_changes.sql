{#- The score-change ledger: one row per scoring model, lead and change (model_id, lead_id, changed_at), i.e.
    per row of lead_score_snapshots, with the version before it. Old and new totals, deltas (a missing side
    counts as 0: a new lead starts from 0, a removed lead goes to 0), old and new grade, level, cell, stage
    and rule-set version. change_type: new_lead (first version), rescored, removed, returned (scored again
    after a removal).
    Incremental (append): lead_score_snapshots only ever appends versions later than every stored one, so a run
    pairs only the versions after the ledger's latest changed_at, each lead's first new version with its latest
    stored one, and numbers them on from that one's version_number. A run costs the new versions, not the whole
    history; --full-refresh rebuilds the ledger from every snapshot, with the same rows. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
) }}

with

snapshots as (

    select * from {{ ref('lead_score_snapshots') }}

),

{% if is_incremental() %}

    stored_latest as (

        select
            model_id,
            lead_id,
            max(changed_at) as latest_changed_at,
            max(version_number) as latest_version_number

        from {{ this }}
        group by 1, 2

    ),

    watermark as (

        select max(latest_changed_at) as changed_at from stored_latest

    ),

    -- the versions after the watermark, and the latest stored version of each lead (the old side of its first
    -- new one; it is paired again below but not stored again)
    scoped as (

        select
            snapshots.*,
            coalesce(stored_latest.latest_version_number, 1) - 1 as version_offset,
            watermark.changed_at is null or snapshots.valid_from > watermark.changed_at as is_new

        from snapshots
        cross join watermark
        left join stored_latest
            on snapshots.model_id = stored_latest.model_id
                and snapshots.lead_id = stored_latest.lead_id
        where
            watermark.changed_at is null
            or snapshots.valid_from > watermark.changed_at
            or snapshots.valid_from = stored_latest.latest_changed_at

    ),

{% else %}

    scoped as (

        select
            *,
            0 as version_offset,
            true as is_new

        from snapshots

    ),

{% endif %}

sequenced as (

    select
        *,
        version_offset + row_number() over (partition by model_id, lead_id order by valid_from) as version_number

    from scoped

),

paired as (

    select
        new_version.model_id,
        new_version.lead_id,
        new_version.valid_from as changed_at,
        old_version.valid_from as previous_changed_at,
        new_version.version_number,
        new_version.is_new,
        old_version.fit_score as old_fit_score,
        new_version.fit_score as new_fit_score,
        old_version.engagement_score as old_engagement_score,
        new_version.engagement_score as new_engagement_score,
        old_version.lead_score as old_lead_score,
        new_version.lead_score as new_lead_score,
        old_version.fit_score_unrounded as old_fit_score_unrounded,
        new_version.fit_score_unrounded as new_fit_score_unrounded,
        old_version.engagement_score_unrounded as old_engagement_score_unrounded,
        new_version.engagement_score_unrounded as new_engagement_score_unrounded,
        old_version.fit_grade as old_fit_grade,
        new_version.fit_grade as new_fit_grade,
        old_version.engagement_level as old_engagement_level,
        new_version.engagement_level as new_engagement_level,
        old_version.matrix_cell as old_matrix_cell,
        new_version.matrix_cell as new_matrix_cell,
        old_version.lifecycle_stage as old_lifecycle_stage,
        new_version.lifecycle_stage as new_lifecycle_stage,
        new_version.is_mql,
        old_version.ruleset_version as old_ruleset_version,
        new_version.ruleset_version as new_ruleset_version,
        case
            when old_version.lead_id is null then 'new_lead'
            when new_version.is_removed then 'removed'
            when old_version.is_removed then 'returned'
            else 'rescored'
        end as change_type,
        coalesce(old_version.is_mql, false) as was_mql

    from sequenced as new_version
    left join sequenced as old_version
        on new_version.model_id = old_version.model_id
            and new_version.lead_id = old_version.lead_id
            and new_version.version_number = old_version.version_number + 1

),

final as (

    select
        {{ surrogate_key(['model_id', 'lead_id', 'changed_at']) }} as lead_score_change_id,
        model_id,
        lead_id,
        changed_at,
        previous_changed_at,
        version_number,
        change_type,
        old_fit_score,
        new_fit_score,
        coalesce(new_fit_score, 0) - coalesce(old_fit_score, 0) as fit_score_delta,
        old_engagement_score,
        new_engagement_score,
        coalesce(new_engagement_score, 0) - coalesce(old_engagement_score, 0) as engagement_score_delta,
        old_lead_score,
        new_lead_score,
        coalesce(new_lead_score, 0) - coalesce(old_lead_score, 0) as lead_score_delta,
        coalesce(new_fit_score_unrounded, 0) - coalesce(old_fit_score_unrounded, 0) as fit_score_unrounded_delta,
        coalesce(new_engagement_score_unrounded, 0) - coalesce(old_engagement_score_unrounded, 0)
            as engagement_score_unrounded_delta,
        old_fit_grade,
        new_fit_grade,
        old_engagement_level,
        new_engagement_level,
        old_matrix_cell,
        new_matrix_cell,
        old_lifecycle_stage,
        new_lifecycle_stage,
        was_mql,
        is_mql,
        old_ruleset_version,
        new_ruleset_version,
        change_type = 'rescored' and old_ruleset_version <> new_ruleset_version as is_ruleset_change

    from paired
    where is_new

)

select * from final
