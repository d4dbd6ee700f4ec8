{#- Each lead's fit and engagement scores, per model, recomputed here from the rule seeds and the lead's inputs,
    on a path of its own: fit rules evaluated on int_lead_attributes, engagement rules decayed (against as_of)
    and capped from the daily match buckets of int_engagement_daily_points, signal rules at their seed points,
    then group caps, axis caps and the 0-100 bound (docs/scoring_rules.md). Fails where lead_scores differs from
    the recomputed score, where a 'rule' row of lead_score_reasons differs from the recomputed points of its
    rule, or where a lead's reason points do not sum to its score (all within 1e-6). Tagged audit: it recomputes
    every lead, so it runs in every `lead-scoring build`, the daily job and CI, not in the hourly job
    (docs/dagster.md). -#}
{{ config(tags=['audit'], meta={'dagster': {'ref': {'name': 'lead_score_reasons'}}}) }}
{%- set age_in_days = days_between('buckets.activity_date', as_of_date()) %}

with

scores as (

    select * from {{ ref('lead_scores') }}

),

reasons as (

    select * from {{ ref('lead_score_reasons') }}

),

attributes as (

    select * from {{ ref('int_lead_attributes') }}

),

buckets as (

    select * from {{ ref('int_engagement_daily_points') }}

),

fired_signals as (

    select * from {{ ref('int_lead_signal_points') }}

),

fit_rules as (

    select * from {{ ref('stg_rules__fit_rules') }}

),

engagement_rules as (

    select * from {{ ref('stg_rules__engagement_rules') }}

),

signal_rules as (

    select * from {{ ref('stg_rules__signal_rules') }}

),

group_caps as (

    select * from {{ ref('stg_rules__group_caps') }}

),

scoring_models as (

    select * from {{ ref('stg_rules__scoring_models') }}

),

-- fit: each rule's operator on the lead's attribute value (docs/scoring_rules.md, "Fit rules")
fit_candidates as (

    select
        fit_rules.model_id,
        attributes.lead_id,
        fit_rules.rule_id,
        fit_rules.rule_group,
        fit_rules.operator,
        fit_rules.rule_value,
        fit_rules.min_value,
        fit_rules.max_value,
        fit_rules.points,
        attributes.attribute_value,
        lower(trim(attributes.attribute_value)) as value_text,
        {{ to_number('attributes.attribute_value') }} as value_number,
        -- one_of: the list's items, each trimmed, between bars ('|a|b|')
        {{ dbt.concat([
            "'|'",
            "replace(replace(replace(replace(fit_rules.rule_value, '| ', '|'), ' |', '|'), '| ', '|'), ' |', '|')",
            "'|'"
        ]) }} as value_list

    from fit_rules
    inner join attributes
        on fit_rules.attribute = attributes.attribute

),

fit_points as (

    select
        model_id,
        lead_id,
        'fit' as axis,
        rule_id,
        rule_group,
        points

    from fit_candidates
    where
        (operator = 'is_missing' and attribute_value is null)
        or (operator = 'is_present' and attribute_value is not null)
        or (operator = 'equals' and value_text = trim(rule_value))
        or (
            operator = 'one_of'
            and {{ dbt.position(dbt.concat(["'|'", "value_text", "'|'"]), 'value_list') }} > 0
        )
        or (operator = 'pattern' and value_text like rule_value)
        or (
            operator = 'between'
            and value_number >= coalesce(min_value, value_number)
            and value_number < coalesce(max_value, value_number + 1)
        )

),

-- engagement: a day's points before decay, decayed by the rule's method against as_of, summed, then the rule's cap
decayed_buckets as (

    select
        buckets.model_id,
        buckets.lead_id,
        buckets.rule_id,
        engagement_rules.rule_group,
        engagement_rules.points as rule_points,
        engagement_rules.max_points,
        buckets.base_points * (
            case
                when engagement_rules.decay_method = 'exponential'
                    then power(0.5, cast({{ age_in_days }} as {{ type_double() }}) / engagement_rules.decay_days)
                when engagement_rules.decay_method = 'linear'
                    then greatest(0.0, 1.0 - cast({{ age_in_days }} as {{ type_double() }}) / engagement_rules.decay_days)
                when engagement_rules.decay_method = 'window' and {{ age_in_days }} >= engagement_rules.decay_days then 0.0
                else 1.0
            end
        ) as points

    from buckets
    inner join engagement_rules
        on buckets.model_id = engagement_rules.model_id
            and buckets.rule_id = engagement_rules.rule_id

),

engagement_rule_totals as (

    select
        model_id,
        lead_id,
        rule_id,
        rule_group,
        max(rule_points) as rule_points,
        max(max_points) as max_points,
        sum(points) as points

    from decayed_buckets
    group by model_id, lead_id, rule_id, rule_group

),

engagement_points as (

    select
        model_id,
        lead_id,
        'engagement' as axis,
        rule_id,
        rule_group,
        case
            when max_points is null then points
            when rule_points > 0 then least(points, max_points)
            else greatest(points, 0 - max_points)
        end as points

    from engagement_rule_totals

),

-- signals: which rules fired comes from int_lead_signal_points, their points from the seed
signal_points as (

    select
        fired_signals.model_id,
        fired_signals.lead_id,
        'engagement' as axis,
        fired_signals.rule_id,
        signal_rules.rule_group,
        signal_rules.points

    from fired_signals
    inner join signal_rules
        on fired_signals.model_id = signal_rules.model_id
            and fired_signals.rule_id = signal_rules.rule_id

),

rule_points as (

    select * from fit_points
    union all
    select * from engagement_points
    union all
    select * from signal_points

),

-- caps: per rule group, then per axis (the model's), then the 0-100 bound
group_totals as (

    select
        rule_points.model_id,
        rule_points.lead_id,
        rule_points.axis,
        rule_points.rule_group,
        sum(case when rule_points.points > 0 then rule_points.points else 0 end) as positive_points,
        sum(case when rule_points.points < 0 then rule_points.points else 0 end) as negative_points

    from rule_points
    group by rule_points.model_id, rule_points.lead_id, rule_points.axis, rule_points.rule_group

),

group_capped as (

    select
        group_totals.model_id,
        group_totals.lead_id,
        group_totals.axis,
        least(group_totals.positive_points, coalesce(group_caps.max_positive_points, group_totals.positive_points))
            as positive_points,
        greatest(
            group_totals.negative_points, 0 - coalesce(group_caps.max_negative_points, 0 - group_totals.negative_points)
        ) as negative_points

    from group_totals
    left join group_caps
        on group_totals.model_id = group_caps.model_id
            and group_totals.axis = group_caps.axis
            and group_totals.rule_group = group_caps.rule_group

),

axis_totals as (

    select
        model_id,
        lead_id,
        axis,
        sum(positive_points) as positive_points,
        sum(negative_points) as negative_points

    from group_capped
    group by model_id, lead_id, axis

),

recomputed as (

    select
        axis_totals.model_id,
        axis_totals.lead_id,
        axis_totals.axis,
        least(100.0, greatest(0.0,
            least(
                axis_totals.positive_points,
                coalesce(
                    case when axis_totals.axis = 'fit' then scoring_models.fit_max_positive_points
                        else scoring_models.engagement_max_positive_points end,
                    axis_totals.positive_points
                )
            )
            + greatest(
                axis_totals.negative_points,
                0 - coalesce(
                    case when axis_totals.axis = 'fit' then scoring_models.fit_max_negative_points
                        else scoring_models.engagement_max_negative_points end,
                    0 - axis_totals.negative_points
                )
            )
        )) as score

    from axis_totals
    inner join scoring_models
        on axis_totals.model_id = scoring_models.model_id

),

-- the marts
mart_scores as (

    select
        model_id,
        lead_id,
        'fit' as axis,
        fit_score as score
    from scores

    union all

    select
        model_id,
        lead_id,
        'engagement' as axis,
        engagement_score as score
    from scores

),

reason_totals as (

    select
        model_id,
        lead_id,
        axis,
        sum(points) as points
    from reasons
    where axis in ('fit', 'engagement')
    group by model_id, lead_id, axis

),

rule_reasons as (

    select
        model_id,
        lead_id,
        axis,
        rule_id,
        points
    from reasons
    where reason_type = 'rule'

),

-- the checks: a scored lead with no recomputed points scores 0, a recomputed lead must be scored
score_differences as (

    select
        'score differs from the recomputed score' as problem,
        coalesce(mart_scores.model_id, recomputed.model_id) as model_id,
        coalesce(mart_scores.lead_id, recomputed.lead_id) as lead_id,
        coalesce(mart_scores.axis, recomputed.axis) as axis,
        cast(null as {{ dbt.type_string() }}) as rule_id,
        mart_scores.score as mart_points,
        coalesce(recomputed.score, 0) as expected_points

    from mart_scores
    full outer join recomputed
        on mart_scores.model_id = recomputed.model_id
            and mart_scores.lead_id = recomputed.lead_id
            and mart_scores.axis = recomputed.axis
    where
        mart_scores.score is null
        or abs(mart_scores.score - coalesce(recomputed.score, 0)) > 0.000001

),

rule_differences as (

    select
        'rule reason differs from the recomputed rule points' as problem,
        coalesce(rule_reasons.model_id, rule_points.model_id) as model_id,
        coalesce(rule_reasons.lead_id, rule_points.lead_id) as lead_id,
        coalesce(rule_reasons.axis, rule_points.axis) as axis,
        coalesce(rule_reasons.rule_id, rule_points.rule_id) as rule_id,
        rule_reasons.points as mart_points,
        rule_points.points as expected_points

    from rule_reasons
    full outer join rule_points
        on rule_reasons.model_id = rule_points.model_id
            and rule_reasons.lead_id = rule_points.lead_id
            and rule_reasons.axis = rule_points.axis
            and rule_reasons.rule_id = rule_points.rule_id
    where abs(coalesce(rule_reasons.points, 0) - coalesce(rule_points.points, 0)) > 0.000001

),

sum_differences as (

    select
        'reason points do not sum to the score' as problem,
        coalesce(mart_scores.model_id, reason_totals.model_id) as model_id,
        coalesce(mart_scores.lead_id, reason_totals.lead_id) as lead_id,
        coalesce(mart_scores.axis, reason_totals.axis) as axis,
        cast(null as {{ dbt.type_string() }}) as rule_id,
        mart_scores.score as mart_points,
        coalesce(reason_totals.points, 0) as expected_points

    from mart_scores
    full outer join reason_totals
        on mart_scores.model_id = reason_totals.model_id
            and mart_scores.lead_id = reason_totals.lead_id
            and mart_scores.axis = reason_totals.axis
    where
        mart_scores.score is null
        or abs(mart_scores.score - coalesce(reason_totals.points, 0)) > 0.000001

),

final as (

    select * from score_differences
    union all
    select * from rule_differences
    union all
    select * from sum_differences

)

select * from final
