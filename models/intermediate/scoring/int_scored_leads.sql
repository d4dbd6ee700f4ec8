{#- One row per live lead and scoring model: the scores, grade, level, cell, lifecycle stage and top reasons,
    stamped with the rule-set version; lead_scores adds the as_of they are scored at. Incremental on the lead
    within a scoring day: only the leads the lead scope rescores (int_lead_scoring_scope) are computed again,
    their stored rows replaced; a full scope, or a scope this table did not follow, rebuilds it in full with a
    log line (docs/incremental.md). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='replace_keys',
    unique_key=['lead_id'],
    on_schema_change='ignore',
    meta={'lead_scope_layout': scored_leads_layout()},
    post_hook="{{ save_lead_scope_consumer_state(ref('int_lead_scoring_scope'), scored_leads_layout()) }}",
) }}
-- depends_on: {{ ref('int_lead_scoring_scope') }}
{%- set incremental_run = lead_scope_consumer_run(ref('int_lead_scoring_scope'), scored_leads_layout()) %}

with

leads as (

    select * from {{ ref('stg_crm__leads') }}
    {{ in_lead_scope(incremental_run) }}

),

lifecycle as (

    select * from {{ ref('int_lead_lifecycle') }}
    {{ in_lead_scope(incremental_run) }}

),

rule_points as (

    select * from {{ ref('int_lead_rule_points') }}
    {{ in_lead_scope(incremental_run) }}

),

ruleset as (

    select * from {{ ref('int_ruleset_version') }}

),

ranked_reasons as (

    select
        model_id,
        lead_id,
        rule_id,
        points,
        row_number() over (
            partition by model_id, lead_id
            order by abs(points) desc, rule_id
        ) as reason_rank

    from rule_points

),

top_reasons as (

    select
        model_id,
        lead_id,
        {{ dbt.listagg(
            dbt.concat([
                'rule_id', "' '",
                "case when points > 0 then '+' else '' end",
                rounded_text('points', 1)
            ]),
            "'; '",
            'order by reason_rank'
        ) }} as top_reasons

    from ranked_reasons
    where reason_rank <= 3
    group by 1, 2

),

scored as (

    select
        {{ surrogate_key(['lifecycle.model_id', 'lifecycle.lead_id']) }} as lead_score_id,
        lifecycle.model_id,
        lifecycle.lead_id,
        leads.company_domain,
        leads.lead_source,
        leads.email_type,
        leads.industry,
        leads.seniority,
        leads.country_code,
        lifecycle.fit_score,
        lifecycle.fit_grade,
        lifecycle.computed_fit_grade,
        lifecycle.engagement_score,
        lifecycle.engagement_level,
        lifecycle.matrix_cell,
        lifecycle.lead_score,
        lifecycle.lifecycle_stage,
        lifecycle.lifecycle_stage = 'mql' as is_mql,
        lifecycle.has_disqualifier,
        lifecycle.is_excluded,
        coalesce(lifecycle.grade_override_id, lifecycle.stage_override_id, lifecycle.exclusion_override_id)
        is not null as has_override,
        top_reasons.top_reasons,
        ruleset.ruleset_version,
        leads.created_at as lead_created_at

    from lifecycle
    inner join leads
        on lifecycle.lead_id = leads.lead_id
    left join top_reasons
        on lifecycle.model_id = top_reasons.model_id
            and lifecycle.lead_id = top_reasons.lead_id
    cross join ruleset

),

final as (

    {{ lead_scope_rows(
        'scored',
        ['lead_score_id', 'model_id', 'lead_id', 'company_domain', 'lead_source', 'email_type', 'industry',
            'seniority', 'country_code', 'fit_score', 'fit_grade', 'computed_fit_grade', 'engagement_score',
            'engagement_level', 'matrix_cell', 'lead_score', 'lifecycle_stage', 'is_mql', 'has_disqualifier',
            'is_excluded', 'has_override', 'top_reasons', 'ruleset_version', 'lead_created_at'],
        incremental_run
    ) }}

)

select * from final
