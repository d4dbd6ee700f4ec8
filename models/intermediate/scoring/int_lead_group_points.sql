{#- Per model, lead, axis and rule group: positive and negative points before and after the group's caps.
    Incremental on the lead within a scoring day: only the leads the lead scope rescores (int_lead_scoring_scope)
    are computed again (docs/incremental.md, section 2c). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='replace_keys',
    unique_key=['lead_id'],
    on_schema_change='ignore',
    meta={'lead_scope_layout': lead_group_points_layout()},
    post_hook="{{ save_lead_scope_consumer_state(ref('int_lead_scoring_scope'), lead_group_points_layout()) }}",
) }}
-- depends_on: {{ ref('int_lead_scoring_scope') }}
{%- set incremental_run = lead_scope_consumer_run(ref('int_lead_scoring_scope'), lead_group_points_layout()) %}

with

rule_points as (

    select * from {{ ref('int_lead_rule_points') }}
    {{ in_lead_scope(incremental_run) }}

),

group_caps as (

    select * from {{ ref('stg_rules__group_caps') }}

),

per_group as (

    select
        model_id,
        lead_id,
        axis,
        rule_group,
        {{ exact_sum('case when points > 0 then points else 0 end') }} as positive_points,
        {{ exact_sum('case when points < 0 then points else 0 end') }} as negative_points

    from rule_points
    group by 1, 2, 3, 4

),

group_points as (

    select
        per_group.model_id,
        per_group.lead_id,
        per_group.axis,
        per_group.rule_group,
        per_group.positive_points,
        per_group.negative_points,
        case
            when group_caps.max_positive_points is null then per_group.positive_points
            else least(per_group.positive_points, group_caps.max_positive_points)
        end as capped_positive_points,
        case
            when group_caps.max_negative_points is null then per_group.negative_points
            else greatest(per_group.negative_points, 0 - group_caps.max_negative_points)
        end as capped_negative_points

    from per_group
    left join group_caps
        on per_group.model_id = group_caps.model_id
            and per_group.axis = group_caps.axis
            and per_group.rule_group = group_caps.rule_group

),

final as (

    {{ lead_scope_rows(
        'group_points',
        ['model_id', 'lead_id', 'axis', 'rule_group', 'positive_points', 'negative_points',
            'capped_positive_points', 'capped_negative_points'],
        incremental_run
    ) }}

)

select * from final
