{#- One row per scoring model: the SLA breach rate over the configured window ending at as_of (docs/sla.md) -
    assignments (spells) whose SLA resolved in the window (first touch within the SLA, or the due time when
    breached) and the breached share - with the limits of seeds/routing_sla_settings.csv copied beside it. The
    grading is done by the Dagster check, not here. -#}

with

spells as (

    select * from {{ ref('lead_assignment_spells') }}

),

model_settings as (

    select * from {{ ref('int_routing_sla_model_settings') }}

),

windows as (

    select
        model_id,
        {{ dbt.dateadd('day', '-1 * breach_rate_window_days', as_of_timestamp()) }} as window_start_at,
        {{ as_of_timestamp() }} as window_end_at,
        breach_rate_warn_limit,
        breach_rate_error_limit,
        min_resolved_assignments

    from model_settings

),

window_counts as (

    select
        windows.model_id,
        sum(case when spells.sla_resolved_at is not null then 1 else 0 end) as resolved_assignments,
        sum(case when spells.sla_resolved_at is not null and spells.is_sla_breached then 1 else 0 end)
            as breached_assignments

    from windows
    left join spells
        on
            windows.model_id = spells.model_id
            and windows.window_start_at < spells.sla_resolved_at
            and windows.window_end_at >= spells.sla_resolved_at
    group by windows.model_id

),

final as (

    select
        windows.model_id,
        windows.window_start_at,
        windows.window_end_at,
        cast(coalesce(window_counts.resolved_assignments, 0) as integer) as resolved_assignments,
        cast(coalesce(window_counts.breached_assignments, 0) as integer) as breached_assignments,
        case
            when window_counts.resolved_assignments > 0
                then cast(window_counts.breached_assignments as {{ type_double() }}) / window_counts.resolved_assignments
        end as breach_rate,
        windows.breach_rate_warn_limit,
        windows.breach_rate_error_limit,
        windows.min_resolved_assignments

    from windows
    left join window_counts
        on windows.model_id = window_counts.model_id

)

select * from final
