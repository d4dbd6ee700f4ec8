{#- One row per scoring model, routed lead and transition (model_id, lead_id, transition_number): every step of the
    SLA replay of docs/sla.md - assigned, first_touch, sla_breached, recycled_to_pool, returned_to_previous_owner,
    returned_to_nurture - numbered in time order (within a spell: start, first touch or breach, return). -#}

with

spells as (

    select * from {{ ref('lead_assignment_spells') }}

),

spell_starts as (

    select
        model_id,
        lead_id,
        spell_number,
        0 as step_order,
        start_transition_type as transition_type,
        spell_started_at as transition_at,
        queue_id,
        owner_id,
        previous_owner_id,
        sla_due_at,
        cast(null as {{ dbt.type_string() }}) as touch_event_id,
        cast(null as {{ dbt.type_string() }}) as touched_by,
        start_reason as transition_reason

    from spells

),

first_touches as (

    select
        model_id,
        lead_id,
        spell_number,
        1 as step_order,
        'first_touch' as transition_type,
        first_touched_at as transition_at,
        queue_id,
        owner_id,
        previous_owner_id,
        sla_due_at,
        first_touch_event_id as touch_event_id,
        touched_by,
        {{ dbt.concat([
            "'first sales touch ('", 'first_touch_type', "') within the SLA of '",
            text_of('sla_hours'), "' hours, by '", "coalesce(touched_by, 'unknown')"
        ]) }} as transition_reason

    from spells
    where first_touch_event_id is not null

),

breaches as (

    select
        model_id,
        lead_id,
        spell_number,
        2 as step_order,
        'sla_breached' as transition_type,
        sla_due_at as transition_at,
        queue_id,
        owner_id,
        previous_owner_id,
        sla_due_at,
        cast(null as {{ dbt.type_string() }}) as touch_event_id,
        cast(null as {{ dbt.type_string() }}) as touched_by,
        {{ dbt.concat([
            "'no sales touch within '", text_of('sla_hours'),
            "' hours of assignment to '", 'owner_id', "' in queue '", 'queue_id',
            "case when is_reassigned then '' else '; reassignment cap reached, the lead stays with the owner' end"
        ]) }} as transition_reason

    from spells
    where is_sla_breached

),

returns as (

    select
        model_id,
        lead_id,
        spell_number,
        3 as step_order,
        'returned_to_nurture' as transition_type,
        returned_at as transition_at,
        queue_id,
        owner_id,
        previous_owner_id,
        sla_due_at,
        return_event_id as touch_event_id,
        returned_by as touched_by,
        {{ dbt.concat([
            "'returned by sales as '", "coalesce(returned_status, 'unknown')", "': '",
            "coalesce(return_reason, 'no reason given')"
        ]) }} as transition_reason

    from spells
    where is_returned

),

unioned as (

    select * from spell_starts
    union all
    select * from first_touches
    union all
    select * from breaches
    union all
    select * from returns

),

numbered as (

    select
        *,
        row_number() over (
            partition by model_id, lead_id
            order by spell_number, step_order
        ) as transition_number

    from unioned

),

final as (

    select
        {{ surrogate_key(['model_id', 'lead_id', 'transition_number']) }} as transition_id,
        {{ surrogate_key(['model_id', 'lead_id']) }} as lead_assignment_id,
        model_id,
        lead_id,
        transition_number,
        transition_type,
        transition_at,
        spell_number,
        queue_id,
        owner_id,
        previous_owner_id,
        sla_due_at,
        touch_event_id,
        touched_by,
        transition_reason

    from numbered

)

select * from final
