{#- Per model, lead and bot-like burst minute: the calendar minutes (occurred_at truncated) holding at least the
    model's burst threshold of the lead's staged events. The only place events are counted per lead-minute:
    int_engagement_daily_points drops positive-point matches in these minutes (a join on this small table, not on
    every minute count), and int_lead_signal_points counts them over the burst rule's window. Incremental like
    int_engagement_daily_points (the same touched lead-days, state and full-rebuild reasons; docs/incremental.md):
    a minute lies inside one day, so a recomputed lead-day has all its minutes. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='replace_keys',
    unique_key=['lead_id', 'activity_date'],
    on_schema_change='ignore',
    post_hook="{{ save_lead_day_state(ref('stg_crm__leads'), ref('stg_crm__event_deliveries_ranked'), ref('int_ruleset_version'), engagement_burst_minutes_layout()) }}",
) }}
{%- set state = lead_day_state(ref('stg_crm__event_deliveries_ranked'), ref('int_ruleset_version'), engagement_burst_minutes_layout()) %}
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

{#- CTE scoped_events, the events this model reads (macros/incremental.sql): every staged event on a full build,
    only those of the lead-days touched since the last build on an incremental run. #}
{{ scoped_lead_day_events_ctes(state, incremental_run) }}

events_per_minute as (

    select
        lead_id,
        {{ dbt.date_trunc('minute', 'occurred_at') }} as event_minute,
        activity_date,
        count(*) as events_in_minute

    from scoped_events
    group by 1, 2, 3

),

burst_minutes as (

    select
        burst_rules.model_id,
        events_per_minute.lead_id,
        events_per_minute.event_minute,
        events_per_minute.activity_date,
        events_per_minute.events_in_minute

    from events_per_minute
    inner join burst_rules
        on events_per_minute.events_in_minute >= burst_rules.burst_threshold

),

final as (

    {%- if is_incremental() %}

        select
            *,
            'row' as incremental_change
        from burst_minutes

        union all

        {{ replace_keys_key_rows(
            ['model_id', 'lead_id', 'event_minute', 'activity_date', 'events_in_minute'],
            ['lead_id', 'activity_date'], incremental_run, 'touched_days'
        ) }}

    {%- else %}

        select * from burst_minutes

    {%- endif %}

)

select * from final
