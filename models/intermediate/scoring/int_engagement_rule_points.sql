{#- Per model, lead and engagement rule: the decayed points against as_of, then the rule's own cap. -#}
{%- set age_in_days = days_between('daily_points.activity_date', as_of_date()) %}

with

daily_points as (

    select * from {{ ref('int_engagement_daily_points') }}

),

engagement_rules as (

    select * from {{ ref('stg_rules__engagement_rules') }}

),

aged as (

    select
        daily_points.model_id,
        daily_points.lead_id,
        daily_points.rule_id,
        daily_points.activity_date,
        daily_points.event_count,
        daily_points.base_points,
        daily_points.last_occurred_at,
        engagement_rules.decay_method,
        engagement_rules.decay_days,
        cast({{ age_in_days }} as {{ type_double() }})
            as age_days

    from daily_points
    inner join engagement_rules
        on daily_points.model_id = engagement_rules.model_id
            and daily_points.rule_id = engagement_rules.rule_id

),

decayed as (

    select
        *,
        base_points * case
            when decay_method = 'exponential' then power(0.5, age_days / decay_days)
            when decay_method = 'linear' then greatest(0.0, 1.0 - age_days / decay_days)
            when decay_method = 'window' then case when age_days < decay_days then 1.0 else 0.0 end
            else 1.0
        end as decayed_points

    from aged

),

per_rule as (

    select
        model_id,
        lead_id,
        rule_id,
        sum(event_count) as event_count,
        {{ exact_sum('decayed_points') }} as decayed_points,
        max(last_occurred_at) as last_occurred_at

    from decayed
    group by 1, 2, 3

),

final as (

    select
        per_rule.model_id,
        per_rule.lead_id,
        per_rule.rule_id,
        engagement_rules.rule_group,
        engagement_rules.event_type,
        engagement_rules.rule_description,
        per_rule.event_count,
        per_rule.last_occurred_at,
        per_rule.decayed_points,
        case
            when engagement_rules.max_points is null then per_rule.decayed_points
            when engagement_rules.points > 0 then least(per_rule.decayed_points, engagement_rules.max_points)
            else greatest(per_rule.decayed_points, 0 - engagement_rules.max_points)
        end as points

    from per_rule
    inner join engagement_rules
        on per_rule.model_id = engagement_rules.model_id
            and per_rule.rule_id = engagement_rules.rule_id

)

select * from final
