{#- One row per scoring model, MQL lead and routing rule the lead matches (docs/routing.md): every non-blank
    list of the rule contains the lead's value. match_rank 1 is the rule that routes the lead (lowest
    priority number); key accounts are decided in lead_assignments. -#}

with

lifecycle as (

    select * from {{ ref('int_lead_lifecycle') }}

),

leads as (

    select * from {{ ref('stg_crm__leads') }}

),

routing_rules as (

    select * from {{ ref('stg_rules__routing_rules') }}

),

mql_leads as (

    select
        lifecycle.model_id,
        lifecycle.lead_id,
        upper(leads.country_code) as country_code,
        lower(leads.region) as region,
        lower(leads.industry) as industry,
        upper(lifecycle.fit_grade) as fit_grade,
        upper(lifecycle.matrix_cell) as matrix_cell

    from lifecycle
    inner join leads
        on lifecycle.lead_id = leads.lead_id
    where lifecycle.lifecycle_stage = 'mql'

),

checked as (

    select
        mql_leads.model_id,
        mql_leads.lead_id,
        routing_rules.rule_id,
        routing_rules.priority,
        routing_rules.queue_id,
        routing_rules.is_fallback,
        routing_rules.rule_description,
        mql_leads.region,
        mql_leads.country_code,
        mql_leads.industry,
        mql_leads.fit_grade,
        mql_leads.matrix_cell,
        routing_rules.regions is null
        or coalesce({{ list_contains('routing_rules.regions', 'mql_leads.region') }}, false) as is_region_match,
        routing_rules.countries is null
        or coalesce({{ list_contains('routing_rules.countries', 'mql_leads.country_code') }}, false) as is_country_match,
        routing_rules.industries is null
        or coalesce({{ list_contains('routing_rules.industries', 'mql_leads.industry') }}, false) as is_industry_match,
        routing_rules.grades is null
        or coalesce({{ list_contains('routing_rules.grades', 'mql_leads.fit_grade') }}, false) as is_grade_match,
        routing_rules.matrix_cells is null
        or coalesce({{ list_contains('routing_rules.matrix_cells', 'mql_leads.matrix_cell') }}, false) as is_cell_match

    from mql_leads
    inner join routing_rules
        on mql_leads.model_id = routing_rules.model_id

),

matches as (

    select
        model_id,
        lead_id,
        rule_id,
        priority,
        queue_id,
        is_fallback,
        rule_description,
        region,
        country_code,
        industry,
        fit_grade,
        matrix_cell

    from checked
    where is_region_match and is_country_match and is_industry_match and is_grade_match and is_cell_match

),

final as (

    select
        *,
        row_number() over (
            partition by model_id, lead_id
            order by priority
        ) as match_rank

    from matches

)

select * from final
