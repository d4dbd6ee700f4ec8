{#- One row per scoring model: its SLA settings from seeds/routing_sla_settings.csv, or, when the model has no
    row of its own, the row of model default (docs/sla.md). A setting missing from both is null. -#}

with

sla_settings as (

    select * from {{ ref('stg_rules__routing_sla_settings') }}

),

scoring_models as (

    select * from {{ ref('stg_rules__scoring_models') }}

),

final as (

    select
        scoring_models.model_id,
        coalesce(own_settings.max_reassignments, default_settings.max_reassignments) as max_reassignments,
        coalesce(own_settings.breach_rate_window_days, default_settings.breach_rate_window_days)
            as breach_rate_window_days,
        coalesce(own_settings.breach_rate_warn_limit, default_settings.breach_rate_warn_limit)
            as breach_rate_warn_limit,
        coalesce(own_settings.breach_rate_error_limit, default_settings.breach_rate_error_limit)
            as breach_rate_error_limit,
        coalesce(own_settings.min_resolved_assignments, default_settings.min_resolved_assignments)
            as min_resolved_assignments,
        own_settings.model_id is not null as has_own_settings

    from scoring_models
    left join sla_settings as own_settings
        on scoring_models.model_id = own_settings.model_id
    left join sla_settings as default_settings
        on default_settings.model_id = 'default'

)

select * from final
