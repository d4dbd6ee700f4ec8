{#- Why each lead has its score: one row per rule that fired, per cap or bound that changed a total, and per
    override applied. On each axis the points of a lead's rows sum to its score. lead_score_reasons adds the
    as_of they are scored at. Incremental on the lead within a scoring day like int_scored_leads: only the leads
    the lead scope rescores are computed again (docs/incremental.md). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='replace_keys',
    unique_key=['lead_id'],
    on_schema_change='ignore',
    meta={'lead_scope_layout': scored_lead_reasons_layout()},
    post_hook="{{ save_lead_scope_consumer_state(ref('int_lead_scoring_scope'), scored_lead_reasons_layout()) }}",
) }}
-- depends_on: {{ ref('int_lead_scoring_scope') }}
{%- set incremental_run = lead_scope_consumer_run(ref('int_lead_scoring_scope'), scored_lead_reasons_layout()) %}

with

rule_points as (

    select * from {{ ref('int_lead_rule_points') }}
    {{ in_lead_scope(incremental_run) }}

),

group_points as (

    select * from {{ ref('int_lead_group_points') }}
    {{ in_lead_scope(incremental_run) }}

),

axis_scores as (

    select * from {{ ref('int_lead_axis_scores') }}
    {{ in_lead_scope(incremental_run) }}

),

lifecycle as (

    select * from {{ ref('int_lead_lifecycle') }}
    {{ in_lead_scope(incremental_run) }}

),

overrides as (

    select * from {{ ref('int_lead_overrides') }}
    {{ in_lead_scope(incremental_run) }}

),

ruleset as (

    select * from {{ ref('int_ruleset_version') }}

),

rules_fired as (

    select
        model_id,
        lead_id,
        axis,
        'rule' as reason_type,
        rule_id,
        rule_group,
        dimension,
        points,
        evidence,
        rule_description as reason_description

    from rule_points

),

group_caps as (

    {{ cap_adjustment_reasons(
        'group_points', 'group_cap', 'rule_group', 'capped_positive_points', 'positive_points',
        'positive points of the group', 'Cap on the rule group (seeds/scoring_group_caps.csv)'
    ) }}

    union all

    {{ cap_adjustment_reasons(
        'group_points', 'group_cap', 'rule_group', 'capped_negative_points', 'negative_points',
        'negative points of the group', 'Cap on the rule group (seeds/scoring_group_caps.csv)'
    ) }}

),

axis_adjustments as (

    {{ cap_adjustment_reasons(
        'axis_scores', 'axis_cap', none, 'axis_capped_positive_points', 'group_capped_positive_points',
        'positive points of the axis', 'Cap on the axis total (seeds/scoring_models.csv)'
    ) }}

    union all

    {{ cap_adjustment_reasons(
        'axis_scores', 'axis_cap', none, 'axis_capped_negative_points', 'group_capped_negative_points',
        'negative points of the axis', 'Cap on the axis total (seeds/scoring_models.csv)'
    ) }}

    union all

    select
        model_id,
        lead_id,
        axis,
        'score_bound' as reason_type,
        cast(null as {{ dbt.type_string() }}) as rule_id,
        cast(null as {{ dbt.type_string() }}) as rule_group,
        cast(null as {{ dbt.type_string() }}) as dimension,
        least(100.0, greatest(0.0, total_points)) - total_points as points,
        {{ dbt.concat([
            "'score kept within 0-100; total was '",
            rounded_text('total_points', 6)
        ]) }} as evidence,
        'Scores run from 0 to 100' as reason_description

    from axis_scores
    where total_points < 0 or total_points > 100

),

overrides_applied as (

    select
        overrides.model_id,
        overrides.lead_id,
        'override' as axis,
        'override' as reason_type,
        overrides.override_id as rule_id,
        cast(null as {{ dbt.type_string() }}) as rule_group,
        overrides.override_action as dimension,
        0.0 as points,
        {{ dbt.concat([
            'overrides.override_action',
            "case when overrides.override_value is null then '' else " ~ dbt.concat(["' '", 'overrides.override_value']) ~ " end"
        ]) }} as evidence,
        overrides.override_reason as reason_description

    from overrides
    inner join lifecycle
        on overrides.model_id = lifecycle.model_id
            and overrides.lead_id = lifecycle.lead_id

),

unioned as (

    select * from rules_fired
    union all
    select * from group_caps
    union all
    select * from axis_adjustments
    union all
    select * from overrides_applied

),

reasons as (

    select
        {{ surrogate_key([
            'unioned.model_id', 'unioned.lead_id', 'unioned.axis', 'unioned.reason_type',
            'unioned.rule_id', 'unioned.rule_group', 'unioned.evidence'
        ]) }}
            as lead_score_reason_id,
        unioned.model_id,
        unioned.lead_id,
        unioned.axis,
        unioned.reason_type,
        unioned.rule_id,
        unioned.rule_group,
        unioned.dimension,
        unioned.points,
        unioned.evidence,
        unioned.reason_description,
        ruleset.ruleset_version

    from unioned
    cross join ruleset

),

final as (

    {{ lead_scope_rows(
        'reasons',
        ['lead_score_reason_id', 'model_id', 'lead_id', 'axis', 'reason_type', 'rule_id', 'rule_group',
            'dimension', 'points', 'evidence', 'reason_description', 'ruleset_version'],
        incremental_run
    ) }}

)

select * from final
