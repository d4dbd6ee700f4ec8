{#- Per model, lead and day with a bot-like burst: how many of the lead's calendar minutes that day hold at least
    the model's burst threshold of staged events, and the most events in one of them. int_lead_signal_points
    reads these small rows instead of counting every event per minute on each run. Incremental like
    int_engagement_daily_points (the same touched lead-days, state and full-rebuild reasons; docs/incremental.md):
    a minute lies inside one day, so a recomputed lead-day has all its minutes. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='replace_keys',
    unique_key=['lead_id', 'activity_date'],
    on_schema_change='ignore',
    post_hook="{{ save_lead_day_state(ref('stg_crm__leads'), ref('stg_crm__event_deliveries_ranked'), ref('int_ruleset_version'), engagement_bursts_layout()) }}",
) }}
{%- set state = lead_day_state(ref('stg_crm__event_deliveries_ranked'), ref('int_ruleset_version'), engagement_bursts_layout()) %}
{%- set incremental_run = is_incremental() and state.reason is none %}

with

events as (

    select * from {{ ref('stg_crm__events') }}

),

burst_rules as (

    select
        model_id,
        threshold as burst_threshold
    from {{ ref('stg_rules__signal_rules') }}
    where signal = 'burst'

),

{{ scoped_lead_day_events_ctes(state, incremental_run) }}

events_per_minute as (

    select
        lead_id,
        {{ dbt.date_trunc('minute', 'occurred_at') }} as event_minute,
        min(activity_date) as activity_date,
        count(*) as events_in_minute

    from scoped_events
    group by 1, 2

),

bursts as (

    select
        burst_rules.model_id,
        events_per_minute.lead_id,
        events_per_minute.activity_date,
        count(*) as burst_minute_count,
        max(events_per_minute.events_in_minute) as max_events_in_minute

    from events_per_minute
    inner join burst_rules
        on events_per_minute.events_in_minute >= burst_rules.burst_threshold
    group by 1, 2, 3

),

final as (

    {%- if is_incremental() %}

        select
            *,
            'row' as incremental_change
        from bursts

        union all

        {%- if incremental_run %}

            select
                null as model_id,
                lead_id,
                activity_date,
                null as burst_minute_count,
                null as max_events_in_minute,
                'delete' as incremental_change
            from touched_days

        {%- else %}

            select
                null as model_id,
                null as lead_id,
                null as activity_date,
                null as burst_minute_count,
                null as max_events_in_minute,
                'reset' as incremental_change

        {%- endif %}

    {%- else %}

        select * from bursts

    {%- endif %}

)

select * from final
