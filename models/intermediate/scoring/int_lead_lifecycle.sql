{#- Per model and lead: the grade after a pin_grade override, the matrix cell, and the lifecycle stage from the
    first lifecycle rule (by priority) whose conditions hold, then pin_stage and exclude overrides.
    Incremental on the lead within a scoring day: only the leads the lead scope rescores (int_lead_scoring_scope)
    are computed again (docs/incremental.md, section 2c). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='replace_keys',
    unique_key=['lead_id'],
    on_schema_change='ignore',
    meta={'lead_scope_layout': lead_lifecycle_layout()},
    post_hook="{{ save_lead_scope_consumer_state(ref('int_lead_scoring_scope'), lead_lifecycle_layout()) }}",
) }}
-- depends_on: {{ ref('int_lead_scoring_scope') }}
{%- set incremental_run = lead_scope_consumer_run(ref('int_lead_scoring_scope'), lead_lifecycle_layout()) %}

with

lead_scores as (

    select * from {{ ref('int_lead_scores') }}
    {{ in_lead_scope(incremental_run) }}

),

overrides as (

    select * from {{ ref('int_lead_overrides') }}
    {{ in_lead_scope(incremental_run) }}

),

lifecycle_rules as (

    select * from {{ ref('stg_rules__lifecycle_rules') }}

),

graded as (

    select
        lead_scores.*,
        grade_pins.override_id as grade_override_id,
        coalesce(grade_pins.override_value, lead_scores.fit_grade) as final_grade

    from lead_scores
    left join overrides as grade_pins
        on lead_scores.model_id = grade_pins.model_id
            and lead_scores.lead_id = grade_pins.lead_id
            and grade_pins.override_action = 'pin_grade'

),

celled as (

    select
        *,
        {{ dbt.concat(['final_grade', 'engagement_level']) }} as final_cell

    from graded

),

rule_matches as (

    select
        celled.model_id,
        celled.lead_id,
        lifecycle_rules.lifecycle_stage,
        lifecycle_rules.priority,
        row_number() over (
            partition by celled.model_id, celled.lead_id
            order by lifecycle_rules.priority
        ) as match_rank

    from celled
    inner join lifecycle_rules
        on celled.model_id = lifecycle_rules.model_id
    where (lifecycle_rules.requires_disqualifier is null or lifecycle_rules.requires_disqualifier = celled.has_disqualifier)
        and (
            lifecycle_rules.matrix_cells is null
            or {{ dbt.position(
                dbt.concat(["'|'", 'celled.final_cell', "'|'"]),
                dbt.concat(["'|'", 'lifecycle_rules.matrix_cells', "'|'"])
            ) }}
            > 0
        )
        and (lifecycle_rules.min_lead_score is null or celled.lead_score >= lifecycle_rules.min_lead_score)
        and (lifecycle_rules.min_fit_score is null or celled.fit_score >= lifecycle_rules.min_fit_score)
        and (lifecycle_rules.min_engagement_score is null or celled.engagement_score >= lifecycle_rules.min_engagement_score)

),

lifecycle as (

    select
        celled.model_id,
        celled.lead_id,
        celled.fit_score,
        celled.fit_grade as computed_fit_grade,
        celled.final_grade as fit_grade,
        celled.engagement_score,
        celled.engagement_level,
        celled.final_cell as matrix_cell,
        celled.lead_score,
        celled.has_disqualifier,
        rule_matches.lifecycle_stage as computed_lifecycle_stage,
        rule_matches.priority as lifecycle_rule_priority,
        celled.grade_override_id,
        stage_pins.override_id as stage_override_id,
        exclusions.override_id as exclusion_override_id,
        case
            when exclusions.override_id is not null then 'excluded'
            when stage_pins.override_id is not null then stage_pins.override_value
            else rule_matches.lifecycle_stage
        end as lifecycle_stage,
        exclusions.override_id is not null as is_excluded

    from celled
    left join rule_matches
        on celled.model_id = rule_matches.model_id
            and celled.lead_id = rule_matches.lead_id
            and rule_matches.match_rank = 1
    left join overrides as stage_pins
        on celled.model_id = stage_pins.model_id
            and celled.lead_id = stage_pins.lead_id
            and stage_pins.override_action = 'pin_stage'
    left join overrides as exclusions
        on celled.model_id = exclusions.model_id
            and celled.lead_id = exclusions.lead_id
            and exclusions.override_action = 'exclude'

),

final as (

    {{ lead_scope_rows(
        'lifecycle',
        ['model_id', 'lead_id', 'fit_score', 'computed_fit_grade', 'fit_grade', 'engagement_score',
            'engagement_level', 'matrix_cell', 'lead_score', 'has_disqualifier', 'computed_lifecycle_stage',
            'lifecycle_rule_priority', 'grade_override_id', 'stage_override_id', 'exclusion_override_id',
            'lifecycle_stage', 'is_excluded'],
        incremental_run
    ) }}

)

select * from final
