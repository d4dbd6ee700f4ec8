{#- One row per scoring model and rule (model_id, axis, rule_id): every fit, engagement and signal rule of the
    switched-on models, the share of scored leads it fires on and, where the model's leads have outcomes, the
    conversion rate of the leads with and without it and the lift. A rule fires for a lead when it is among the
    lead's reasons (int_lead_rule_points: non-zero points after the rule's own cap). Population: scored_lead_outcomes
    (every scored lead but those excluded by an override). health_issue flags a rule that fires on almost every
    lead or almost never, against the limits of macros/rule_health.sql (docs/rule_health.md). -#}
{%- set max_share = health_limit('rule_health_max_fire_share') %}
{%- set min_share = health_limit('rule_health_min_fire_share') %}

with

population as (

    select * from {{ ref('scored_lead_outcomes') }}

),

rule_points as (

    select * from {{ ref('int_lead_rule_points') }}

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

rules as (

    select
        model_id,
        'fit' as axis,
        'fit' as rule_source,
        rule_id,
        rule_group,
        rule_description,
        points
    from fit_rules

    union all

    select
        model_id,
        'engagement' as axis,
        'engagement' as rule_source,
        rule_id,
        rule_group,
        rule_description,
        points
    from engagement_rules

    union all

    select
        model_id,
        'engagement' as axis,
        'signal' as rule_source,
        rule_id,
        rule_group,
        rule_description,
        points
    from signal_rules

),

model_totals as (

    select
        model_id,
        count(*) as scored_leads,
        sum(case when is_converted then 1 else 0 end) as converted_leads

    from population
    group by 1

),

fired as (

    select distinct
        rule_points.model_id,
        rule_points.axis,
        rule_points.rule_id,
        rule_points.lead_id,
        population.is_converted

    from rule_points
    inner join population
        on rule_points.model_id = population.model_id
            and rule_points.lead_id = population.lead_id

),

fired_counts as (

    select
        model_id,
        axis,
        rule_id,
        count(*) as fired_leads,
        sum(case when is_converted then 1 else 0 end) as fired_converted_leads

    from fired
    group by 1, 2, 3

),

counted as (

    select
        rules.model_id,
        rules.axis,
        rules.rule_source,
        rules.rule_id,
        rules.rule_group,
        rules.rule_description,
        rules.points,
        coalesce(model_totals.scored_leads, 0) as scored_leads,
        coalesce(fired_counts.fired_leads, 0) as fired_leads,
        coalesce(model_totals.converted_leads, 0) as converted_leads,
        coalesce(fired_counts.fired_converted_leads, 0) as fired_converted_leads

    from rules
    left join model_totals
        on rules.model_id = model_totals.model_id
    left join fired_counts
        on rules.model_id = fired_counts.model_id
            and rules.axis = fired_counts.axis
            and rules.rule_id = fired_counts.rule_id

),

rated as (

    select
        *,
        case
            when scored_leads > 0
                then {{ round_double('cast(fired_leads as ' ~ type_double() ~ ') / scored_leads', 6) }}
        end as fired_share,
        -- outcomes exist when at least one lead of the model converted; else the rates are unknown, not 0
        case
            when converted_leads > 0 and fired_leads > 0
                then {{ round_double('cast(fired_converted_leads as ' ~ type_double() ~ ') / fired_leads', 6) }}
        end as conversion_rate_with,
        case
            when converted_leads > 0 and scored_leads > fired_leads
                then {{ round_double(
                    'cast(converted_leads - fired_converted_leads as ' ~ type_double() ~ ') / (scored_leads - fired_leads)', 6
                ) }}
        end as conversion_rate_without

    from counted

),

flagged as (

    select
        *,
        case
            when conversion_rate_without > 0
                then {{ round_double('conversion_rate_with / conversion_rate_without', 6) }}
        end as conversion_lift,
        case
            when fired_share is null then null
            when fired_share >= {{ max_share }} then 'fires_on_almost_every_lead'
            when fired_share <= {{ min_share }} then 'almost_never_fires'
        end as health_issue,
        case
            when rule_source = 'signal'
                then 'Fix: check its threshold and window against this data (a guard such as a bot-burst rule is '
                    || 'meant to be rare: then the warning only confirms that it is quiet), or delete the row from '
                    || 'seeds/scoring_signal_rules.csv.'
            else
                'Fix: check that its value, pattern or event type is spelled as in this data '
                || '(marts.unmapped_dictionary_values lists unmapped values), or delete the row from seeds/scoring_'
                || rule_source || '_rules.csv if the segment is meant to be rare.'
        end as rare_rule_fix

    from rated

),

final as (

    select
        model_id,
        axis,
        rule_source,
        rule_id,
        rule_group,
        rule_description,
        points,
        scored_leads,
        fired_leads,
        fired_share,
        converted_leads,
        fired_converted_leads,
        conversion_rate_with,
        conversion_rate_without,
        conversion_lift,
        health_issue,
        case
            when health_issue = 'fires_on_almost_every_lead'
                then {{ dbt.concat([
                    "'Rule '", "rule_id", "' of model '", "model_id", "' fires on '", share_text('fired_share'),
                    "' of scored leads (warning at " ~ ("%g" | format(max_share * 100)) ~ "%): it hardly tells leads apart. '",
                    "'Fix: check its condition against this data (a placeholder or default answer, a column every row has, '",
                    "'a pattern that is too wide) and narrow it, or delete the row from seeds/scoring_'",
                    "rule_source", "'_rules.csv.'"
                ]) }}
            when health_issue = 'almost_never_fires'
                then {{ dbt.concat([
                    "'Rule '", "rule_id", "' of model '", "model_id", "' fires on '", share_text('fired_share'),
                    "' of scored leads (warning at " ~ ("%g" | format(min_share * 100)) ~ "% or less): it almost never scores. '",
                    "rare_rule_fix"
                ]) }}
        end as health_fix

    from flagged

)

select * from final
