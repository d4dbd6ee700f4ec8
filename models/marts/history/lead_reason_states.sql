{#- One row per scoring model, live lead, axis and reason key (model_id, lead_id, axis, reason_key): the points
    each rule, cap or bound contributes to the lead's fit or engagement score in this run, with what a change
    can be attributed to - the rule's event count and latest event, its evidence, its configuration hash.
    Engagement rules whose decayed points are 0 are kept (with 0 points) so that a rule decaying to nothing is
    still compared with its event count. Reason keys: the rule_id for rules; group_cap:<group>:<positive|negative>,
    axis_cap:<positive|negative> and score_bound for the adjustments. Rules are read from int_lead_rule_points,
    which carries their event counts, and the adjustments from lead_score_reasons: joining every reason back to
    the engagement rule points cost more than the rest of the per-rule history together at 1M leads. -#}
{{ config(materialized='view') }}

with

rule_points as (

    select * from {{ ref('int_lead_rule_points') }}

),

reasons as (

    select * from {{ ref('lead_score_reasons') }}

),

engagement_points as (

    select * from {{ ref('int_engagement_rule_points') }}

),

rule_configs as (

    select * from {{ ref('int_rule_config_versions') }}

),

fired_rules as (

    select
        model_id,
        lead_id,
        axis,
        'rule' as reason_type,
        rule_id,
        rule_group,
        points,
        evidence,
        rule_id as reason_key,
        event_count,
        last_event_at

    from rule_points

),

adjustments as (

    select
        model_id,
        lead_id,
        axis,
        reason_type,
        rule_id,
        rule_group,
        points,
        evidence,
        case
            when reason_type = 'group_cap' then {{ dbt.concat([
                "'group_cap:'", 'rule_group', "':'", "case when points < 0 then 'positive' else 'negative' end"
            ]) }}
            when reason_type = 'axis_cap' then {{ dbt.concat([
                "'axis_cap:'", "case when points < 0 then 'positive' else 'negative' end"
            ]) }}
            else reason_type
        end as reason_key,
        cast(null as {{ dbt.type_bigint() }}) as event_count,
        cast(null as {{ dbt.type_timestamp() }}) as last_event_at

    from reasons
    where reason_type <> 'rule'
        and axis in ('fit', 'engagement')

),

zero_point_rules as (

    select
        engagement_points.model_id,
        engagement_points.lead_id,
        'engagement' as axis,
        'rule' as reason_type,
        engagement_points.rule_id,
        engagement_points.rule_group,
        engagement_points.points,
        'decayed to 0 points' as evidence,
        engagement_points.rule_id as reason_key,
        engagement_points.event_count,
        engagement_points.last_occurred_at as last_event_at

    from engagement_points
    where engagement_points.points = 0

),

all_reasons as (

    select * from fired_rules
    union all
    select * from adjustments
    union all
    select * from zero_point_rules

),

final as (

    select
        all_reasons.model_id,
        all_reasons.lead_id,
        all_reasons.axis,
        all_reasons.reason_key,
        all_reasons.reason_type,
        all_reasons.rule_id,
        all_reasons.rule_group,
        rule_configs.rule_source,
        all_reasons.points,
        all_reasons.evidence,
        all_reasons.event_count,
        all_reasons.last_event_at,
        rule_configs.rule_config_hash

    from all_reasons
    left join rule_configs
        on all_reasons.reason_type = 'rule'
            and all_reasons.model_id = rule_configs.model_id
            and all_reasons.axis = rule_configs.axis
            and all_reasons.rule_id = rule_configs.rule_id

)

select * from final
