{#- One row per scoring model, routed lead and spell (model_id, lead_id, spell_number): who had the lead from when,
    its SLA due time and how the spell ended (docs/sla.md). Spell 0 starts at the MQL moment with the owner of
    lead_assignments; a spell with no sales touch by its SLA due time breaches, and unless the model's
    max_reassignments is reached the next spell starts at that due time with the pool (recycle_to_pool) or the
    previous owner (return_to_previous_owner). The replay is an unroll over spell numbers 0..N (each step one group
    of CTEs), not a recursive CTE, so it runs on any warehouse; N is the largest max_reassignments of the settings
    (at most 10; sla_replay_last_spell_number), which also caps each lead in the data. Each step reads the one
    before it once (Spark inlines every CTE reference, so a step read twice would double the plan); the plan is
    still deeper than Spark's analyser resolves by default, so the spark profile raises
    spark.sql.analyzer.maxIterations. -#}
{%- set max_spell_number = sla_replay_last_spell_number(ref('int_routing_sla_model_settings')) -%}

with

assignments as (

    select * from {{ ref('lead_assignments') }}

),

funnel_stages as (

    select * from {{ ref('lead_funnel_stages') }}

),

sales_touches as (

    select * from {{ ref('int_lead_sales_touches') }}

),

queues as (

    select * from {{ ref('stg_rules__routing_queues') }}

),

queue_members as (

    select * from {{ ref('stg_rules__routing_queue_members') }}

),

sla_model_settings as (

    select * from {{ ref('int_routing_sla_model_settings') }}

),

model_settings as (

    {#- max_reassignments of the model, or of model default; 0 when neither has a row. -#}
    select
        model_id,
        coalesce(max_reassignments, 0) as max_reassignments

    from sla_model_settings

),

queue_slas as (

    select
        queue_id,
        sla_hours,
        cast(round(sla_hours * 3600) as {{ dbt.type_bigint() }}) as sla_seconds,
        breach_action,
        pool_queue_id

    from queues

),

active_members as (

    select
        queue_id,
        owner_id,
        owner_name,
        count(*) over (partition by queue_id) as active_member_count

    from queue_members
    where is_active

),

touches as (

    select
        event_id,
        lead_id,
        touch_type,
        occurred_at,
        owner_id as touched_by,
        is_returning,
        new_status,
        status_reason

    from sales_touches
    where occurred_at <= {{ as_of_timestamp() }}

),

spells_0 as (

    select
        assignments.model_id,
        assignments.lead_id,
        0 as spell_number,
        assignments.queue_id,
        assignments.owner_id,
        assignments.owner_name,
        cast(null as {{ dbt.type_string() }}) as previous_queue_id,
        cast(null as {{ dbt.type_string() }}) as previous_owner_id,
        cast(null as {{ dbt.type_string() }}) as previous_owner_name,
        'assigned' as start_transition_type,
        assignments.routing_reason as start_reason,
        funnel_stages.mql_at as spell_started_at,
        queue_slas.sla_hours,
        {{ dbt.dateadd('second', 'queue_slas.sla_seconds', 'funnel_stages.mql_at') }} as sla_due_at,
        queue_slas.breach_action,
        queue_slas.pool_queue_id,
        model_settings.max_reassignments

    from assignments
    inner join funnel_stages
        on
            assignments.model_id = funnel_stages.model_id
            and assignments.lead_id = funnel_stages.lead_id
    inner join queue_slas
        on assignments.queue_id = queue_slas.queue_id
    inner join model_settings
        on assignments.model_id = model_settings.model_id
    where funnel_stages.mql_at is not null

),

{%- for k in range(max_spell_number + 1) %}

    spell_touches_{{ k }} as (

        {#- Spell {{ k }} with the touches at or after its start, ranked in time (ties by event_id); a spell without
            touches keeps one row with null touch columns. -#}
        select
            spells_{{ k }}.*,
            touches.event_id,
            touches.touch_type,
            touches.occurred_at,
            touches.touched_by as touch_owner_id,
            touches.is_returning,
            touches.new_status,
            touches.status_reason,
            touches.occurred_at <= spells_{{ k }}.sla_due_at as is_within_sla,
            row_number() over (
                partition by spells_{{ k }}.model_id, spells_{{ k }}.lead_id
                order by touches.occurred_at, touches.event_id
            ) as touch_rank,
            row_number() over (
                partition by spells_{{ k }}.model_id, spells_{{ k }}.lead_id, touches.is_returning
                order by touches.occurred_at, touches.event_id
            ) as outcome_rank

        from spells_{{ k }}
        left join touches
            on
                spells_{{ k }}.lead_id = touches.lead_id
                and spells_{{ k }}.spell_started_at <= touches.occurred_at

    ),

    spell_firsts_{{ k }} as (

        {#- Spell {{ k }}'s first touch (when within the SLA) and first returning touch, spread over its rows. Each step
            reads the one before it once: Spark inlines every CTE reference, so a step read twice doubles the plan. -#}
        select
            *,
            max(case when touch_rank = 1 and is_within_sla then event_id end)
                over (partition by model_id, lead_id) as first_touch_event_id,
            max(case when touch_rank = 1 and is_within_sla then touch_type end)
                over (partition by model_id, lead_id) as first_touch_type,
            max(case when touch_rank = 1 and is_within_sla then touch_owner_id end)
                over (partition by model_id, lead_id) as touched_by,
            max(case when touch_rank = 1 and is_within_sla then occurred_at end)
                over (partition by model_id, lead_id) as first_touched_at,
            max(case when is_returning and outcome_rank = 1 then event_id end)
                over (partition by model_id, lead_id) as return_event_id,
            max(case when is_returning and outcome_rank = 1 then occurred_at end)
                over (partition by model_id, lead_id) as return_candidate_at,
            max(case when is_returning and outcome_rank = 1 then touch_owner_id end)
                over (partition by model_id, lead_id) as returned_by,
            max(case when is_returning and outcome_rank = 1 then new_status end)
                over (partition by model_id, lead_id) as return_candidate_status,
            max(case when is_returning and outcome_rank = 1 then status_reason end)
                over (partition by model_id, lead_id) as return_candidate_reason

        from spell_touches_{{ k }}

    ),

    outcomes_{{ k }} as (

        {#- Spell {{ k }}: touched within its SLA, breached (due time passed without a touch) or open; one row again. -#}
        select
            model_id,
            lead_id,
            spell_number,
            queue_id,
            owner_id,
            owner_name,
            previous_queue_id,
            previous_owner_id,
            previous_owner_name,
            start_transition_type,
            start_reason,
            spell_started_at,
            sla_hours,
            sla_due_at,
            breach_action,
            pool_queue_id,
            max_reassignments,
            first_touch_event_id,
            first_touch_type,
            touched_by,
            first_touched_at,
            return_event_id,
            return_candidate_at,
            returned_by,
            return_candidate_status,
            return_candidate_reason,
            case
                when first_touch_event_id is not null then 'touched'
                when sla_due_at <= {{ as_of_timestamp() }} then 'breached'
                else 'open'
            end as sla_outcome

        from spell_firsts_{{ k }}
        where touch_rank = 1

    ),

    resolved_{{ k }} as (

        {#- A return counts in a touched spell, or after the breach of the last allowed spell; a breach before the cap
            opens the next spell. -#}
        select
            *,
            sla_outcome = 'breached' and spell_number < max_reassignments as is_reassigned,
            return_candidate_at is not null
            and (sla_outcome = 'touched' or (sla_outcome = 'breached' and spell_number >= max_reassignments))
                as is_returned

        from outcomes_{{ k }}

    ),

    {%- if k < max_spell_number %}

        breached_{{ k }} as (

            select * from resolved_{{ k }}
            where is_reassigned

        ),

        {%- set to_previous_owner -%}
            breached_{{ k }}.breach_action = 'return_to_previous_owner' and breached_{{ k }}.previous_owner_id is not null
        {%- endset %}

        candidates_{{ k }} as (

            {#- Who may take the lead after the breach of spell {{ k }}: the pool's active members except the breaching
                owner (unless that leaves none), the previous owner, or (no previous owner) the next active member of the
                same queue after the breaching owner by owner_id, wrapping. One join for the three cases, so the
                breached spells are read once. -#}
            select
                breached_{{ k }}.model_id,
                breached_{{ k }}.lead_id,
                breached_{{ k }}.queue_id,
                breached_{{ k }}.owner_id,
                breached_{{ k }}.owner_name,
                breached_{{ k }}.sla_due_at,
                breached_{{ k }}.sla_hours,
                breached_{{ k }}.max_reassignments,
                case
                    when breached_{{ k }}.breach_action = 'recycle_to_pool' then breached_{{ k }}.pool_queue_id
                    when breached_{{ k }}.previous_owner_id is not null then breached_{{ k }}.previous_queue_id
                    else breached_{{ k }}.queue_id
                end as next_queue_id,
                case
                    when {{ to_previous_owner }} then breached_{{ k }}.previous_owner_id
                    else members.owner_id
                end as next_owner_id,
                case
                    when {{ to_previous_owner }} then breached_{{ k }}.previous_owner_name
                    else members.owner_name
                end as next_owner_name,
                case
                    when breached_{{ k }}.breach_action = 'recycle_to_pool' then 'recycled_to_pool'
                    else 'returned_to_previous_owner'
                end as next_transition_type,
                case
                    when breached_{{ k }}.breach_action = 'recycle_to_pool'
                        then {{ dbt.concat([
                            "'recycled to pool '", 'breached_' ~ k ~ '.pool_queue_id', "', member '", 'members.owner_id'
                        ]) }}
                    when breached_{{ k }}.previous_owner_id is not null
                        then {{ dbt.concat([
                            "'returned to previous owner '", 'breached_' ~ k ~ '.previous_owner_id', "' in queue '",
                            'breached_' ~ k ~ '.previous_queue_id'
                        ]) }}
                    else {{ dbt.concat([
                        "'no previous owner: next active member '", 'members.owner_id', "' of queue '",
                        'breached_' ~ k ~ '.queue_id'
                    ]) }}
                end as reassignment_note,
                breached_{{ k }}.breach_action = 'recycle_to_pool' as is_pool_candidate,
                ({{ to_previous_owner }}) or members.owner_id is not null as is_candidate,
                row_number() over (
                    partition by breached_{{ k }}.model_id, breached_{{ k }}.lead_id
                    order by
                        case
                            when breached_{{ k }}.breach_action = 'recycle_to_pool' then 0
                            when members.owner_id > breached_{{ k }}.owner_id then 0
                            else 1
                        end,
                        members.owner_id
                ) - 1 as candidate_index,
                count(*) over (partition by breached_{{ k }}.model_id, breached_{{ k }}.lead_id) as candidate_count

            from breached_{{ k }}
            left join active_members as members
                on
                    members.queue_id = case
                        when breached_{{ k }}.breach_action = 'recycle_to_pool' then breached_{{ k }}.pool_queue_id
                        when breached_{{ k }}.previous_owner_id is null then breached_{{ k }}.queue_id
                    end
                    and (
                        breached_{{ k }}.breach_action <> 'recycle_to_pool'
                        or breached_{{ k }}.owner_id <> members.owner_id
                        or members.active_member_count = 1
                    )

        ),

        chosen_{{ k }} as (

            select * from candidates_{{ k }}
            where
                is_candidate
                and candidate_index = case
                    when is_pool_candidate
                        then {{ hash_bucket(dbt.concat(['lead_id', "':'", "'" ~ (k + 1) ~ "'"]), 'candidate_count') }}
                    else 0
                end

        ),

        spells_{{ k + 1 }} as (

            select
                chosen_{{ k }}.model_id,
                chosen_{{ k }}.lead_id,
                {{ k + 1 }} as spell_number,
                chosen_{{ k }}.next_queue_id as queue_id,
                chosen_{{ k }}.next_owner_id as owner_id,
                chosen_{{ k }}.next_owner_name as owner_name,
                chosen_{{ k }}.queue_id as previous_queue_id,
                chosen_{{ k }}.owner_id as previous_owner_id,
                chosen_{{ k }}.owner_name as previous_owner_name,
                chosen_{{ k }}.next_transition_type as start_transition_type,
                {{ dbt.concat([
                    "'no sales touch within '", text_of('chosen_' ~ k ~ '.sla_hours'),
                    "' hours: SLA of queue '", 'chosen_' ~ k ~ '.queue_id', "' breached by '", 'chosen_' ~ k ~ '.owner_id',
                    "'; '", 'chosen_' ~ k ~ '.reassignment_note'
                ]) }} as start_reason,
                chosen_{{ k }}.sla_due_at as spell_started_at,
                queue_slas.sla_hours,
                {{ dbt.dateadd('second', 'queue_slas.sla_seconds', 'chosen_' ~ k ~ '.sla_due_at') }} as sla_due_at,
                queue_slas.breach_action,
                queue_slas.pool_queue_id,
                chosen_{{ k }}.max_reassignments

            from chosen_{{ k }}
            inner join queue_slas
                on chosen_{{ k }}.next_queue_id = queue_slas.queue_id

        ),

    {%- endif %}
{%- endfor %}

all_spells as (

    {%- for k in range(max_spell_number + 1) %}
        select * from resolved_{{ k }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

final as (

    select
        model_id,
        lead_id,
        spell_number,
        queue_id,
        owner_id,
        owner_name,
        previous_queue_id,
        previous_owner_id,
        start_transition_type,
        start_reason,
        spell_started_at,
        sla_hours,
        sla_due_at,
        sla_outcome,
        first_touch_event_id,
        first_touch_type,
        touched_by,
        first_touched_at,
        is_returned,
        is_reassigned,
        max_reassignments,
        sla_outcome = 'breached' as is_sla_breached,
        case
            when sla_outcome = 'touched' then first_touched_at
            when sla_outcome = 'breached' then sla_due_at
        end as sla_resolved_at,
        case when is_returned then return_event_id end as return_event_id,
        case when is_returned then returned_by end as returned_by,
        case when is_returned then return_candidate_at end as returned_at,
        case when is_returned then return_candidate_status end as returned_status,
        case when is_returned then return_candidate_reason end as return_reason,
        not is_reassigned as is_current_spell

    from all_spells

)

select * from final
