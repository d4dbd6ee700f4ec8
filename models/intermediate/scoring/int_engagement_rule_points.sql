{#- Per model, lead and engagement rule: the decayed points against as_of, then the rule's own cap.
    Incremental on the lead within a scoring day (docs/incremental.md): decay counts whole days, so while as_of
    stays on the day of the stored build only the leads whose daily buckets may have changed since are computed
    again - the leads of the lead-days touched since that build (touched_lead_days_ctes: new, re-delivered and
    re-ranked deliveries, events that were after the build's as_of and are not now, leads that became staged or
    stopped being staged) - from all of their buckets. It rebuilds in full, with a log line, on another scoring
    day, when the rule-set version changed, as_of moved earlier, the deliveries were rebuilt, or the table or
    its state is missing, empty or of an older layout. The sums are exact (exact_sum), so a run equals a full
    build to the bit. built_as_of is the as_of of the run that wrote a lead's rows: the data tests check only the
    latest run's rows (layout 2 added it; the pre-hook adds the column to an older stored table). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='replace_keys',
    unique_key=['lead_id'],
    on_schema_change='ignore',
    pre_hook="{{ add_missing_columns(this, {'built_as_of': dbt.type_timestamp()}) }}",
    post_hook="{{ save_lead_day_state(ref('stg_crm__leads'), ref('stg_crm__event_deliveries_ranked'), ref('int_ruleset_version'), engagement_rule_points_layout()) }}",
) }}
{%- set state = scoring_day_state(ref('stg_crm__event_deliveries_ranked'), ref('int_ruleset_version'), engagement_rule_points_layout()) %}
{%- set incremental_run = is_incremental() and state.reason is none %}
{%- set age_in_days = days_between('daily_points.activity_date', as_of_date()) %}

with

{%- if incremental_run %}

    {{ touched_lead_days_ctes(
        state,
        ref('stg_crm__event_deliveries_ranked'),
        ref('stg_crm__leads'),
        lead_day_state_relation(),
        stored_days=false
    ) }}

    touched_leads as {{ materialized_cte() }} (

        select distinct lead_id from touched_days

    ),

    daily_points as (

        select buckets.*

        from {{ ref('int_engagement_daily_points') }} as buckets
        inner join touched_leads
            on buckets.lead_id = touched_leads.lead_id

    ),

{%- else %}

    daily_points as (

        select * from {{ ref('int_engagement_daily_points') }}

    ),

{%- endif %}

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

rule_points as (

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
        end as points,
        {{ as_of_timestamp() }} as built_as_of

    from per_rule
    inner join engagement_rules
        on per_rule.model_id = engagement_rules.model_id
            and per_rule.rule_id = engagement_rules.rule_id

),

final as (

    {%- if is_incremental() %}

        select
            *,
            'row' as incremental_change
        from rule_points

        union all

        {{ replace_keys_key_rows(
            ['model_id', 'lead_id', 'rule_id', 'rule_group', 'event_type', 'rule_description', 'event_count',
                'last_occurred_at', 'decayed_points', 'points', 'built_as_of'],
            ['lead_id'], incremental_run, 'touched_leads'
        ) }}

    {%- else %}

        select * from rule_points

    {%- endif %}

)

select * from final
