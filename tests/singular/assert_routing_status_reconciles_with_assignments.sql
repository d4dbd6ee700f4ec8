{#- Every routed lead (a row of lead_assignments) has exactly one row in lead_routing_status and exactly one
    `assigned` transition, and nothing else has either (docs/sla.md). Returns the leads that break this. -#}
{{ config(meta={'dagster': {'ref': {'name': 'lead_routing_status'}}}) }}

with

assignments as (

    select
        model_id,
        lead_id

    from {{ ref('lead_assignments') }}

),

status_counts as (

    select
        model_id,
        lead_id,
        count(*) as status_rows

    from {{ ref('lead_routing_status') }}
    group by model_id, lead_id

),

assigned_counts as (

    select
        model_id,
        lead_id,
        count(*) as assigned_transitions

    from {{ ref('lead_assignment_transitions') }}
    where transition_type = 'assigned'
    group by model_id, lead_id

),

all_keys as (

    select
        model_id,
        lead_id
    from assignments
    union
    select
        model_id,
        lead_id
    from status_counts
    union
    select
        model_id,
        lead_id
    from assigned_counts

),

final as (

    select
        all_keys.model_id,
        all_keys.lead_id,
        assignments.lead_id is not null as is_assigned,
        coalesce(status_counts.status_rows, 0) as status_rows,
        coalesce(assigned_counts.assigned_transitions, 0) as assigned_transitions

    from all_keys
    left join assignments
        on
            all_keys.model_id = assignments.model_id
            and all_keys.lead_id = assignments.lead_id
    left join status_counts
        on
            all_keys.model_id = status_counts.model_id
            and all_keys.lead_id = status_counts.lead_id
    left join assigned_counts
        on
            all_keys.model_id = assigned_counts.model_id
            and all_keys.lead_id = assigned_counts.lead_id

)

select * from final
where not is_assigned or status_rows <> 1 or assigned_transitions <> 1
