{#- One row per scoring model and routed lead (the rows of lead_assignments): where the lead is now after the SLA
    replay of docs/sla.md - its current (last) spell's queue and owner, SLA due time and routing status. -#}

with

spells as (

    select * from {{ ref('lead_assignment_spells') }}

),

breach_counts as (

    select
        model_id,
        lead_id,
        sum(case when is_sla_breached then 1 else 0 end) as breach_count

    from spells
    group by model_id, lead_id

),

current_spells as (

    select * from spells
    where is_current_spell

),

final as (

    select
        {{ surrogate_key(['current_spells.model_id', 'current_spells.lead_id']) }} as lead_assignment_id,
        current_spells.model_id,
        current_spells.lead_id,
        current_spells.queue_id,
        current_spells.owner_id,
        current_spells.owner_name,
        current_spells.spell_number,
        current_spells.spell_started_at as assigned_at,
        current_spells.sla_due_at,
        case
            when current_spells.is_returned then 'returned_to_nurture'
            when current_spells.is_sla_breached then 'breached'
            when current_spells.first_touched_at is not null then 'working'
            else 'awaiting_first_touch'
        end as routing_status,
        current_spells.is_sla_breached,
        cast(breach_counts.breach_count as integer) as breach_count,
        current_spells.first_touched_at,
        current_spells.returned_at,
        current_spells.returned_status,
        current_spells.return_reason

    from current_spells
    inner join breach_counts
        on
            current_spells.model_id = breach_counts.model_id
            and current_spells.lead_id = breach_counts.lead_id

)

select * from final
