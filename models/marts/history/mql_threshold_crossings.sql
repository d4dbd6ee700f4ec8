{#- Sales alerts: one row per scoring model, lead and MQL crossing (model_id, lead_id, crossed_at) - every
    score change where is_mql flipped: became_mql (including a new lead that enters as an MQL) or
    dropped_below_mql (including an MQL lead that was removed). crossed_at is the as_of of the change. -#}

with

changes as (

    select * from {{ ref('lead_score_changes') }}

),

final as (

    select
        {{ surrogate_key(['model_id', 'lead_id', 'changed_at']) }} as mql_threshold_crossing_id,
        lead_score_change_id,
        model_id,
        lead_id,
        changed_at as crossed_at,
        case when is_mql then 'became_mql' else 'dropped_below_mql' end as crossing_direction,
        change_type,
        old_lead_score,
        new_lead_score,
        old_lifecycle_stage,
        new_lifecycle_stage,
        old_matrix_cell,
        new_matrix_cell,
        new_ruleset_version as ruleset_version

    from changes
    where was_mql <> coalesce(is_mql, false)

)

select * from final
