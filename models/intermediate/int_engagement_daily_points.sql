{#- Per model, lead, day and engagement rule: how many events matched and the points before decay.
    Scoring reads these small daily buckets, not raw events; decay is applied at scoring time against as_of.
    Incremental (docs/incremental.md): a run recomputes only the (lead, day) pairs touched since the last build -
    days of deliveries written since (new, re-delivered or re-read in the look-back window), days of events that
    were in the future at the last as_of and are not now, and every day of a lead that became staged or stopped
    being staged - from all of that lead-day's staged events (bursts count per lead-minute, inside one day).
    It rebuilds itself in full, with a log line, when the rule-set version changed, as_of moved earlier, the
    deliveries were rebuilt, or the table or its state is missing, empty or of an older layout. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='replace_keys',
    unique_key=['lead_id', 'activity_date'],
    on_schema_change='ignore',
    post_hook="{{ save_lead_day_state(ref('stg_crm__leads'), ref('stg_crm__event_deliveries_ranked'), ref('int_ruleset_version'), engagement_buckets_layout()) }}",
) }}
{%- set state = lead_day_state(ref('stg_crm__event_deliveries_ranked'), ref('int_ruleset_version'), engagement_buckets_layout()) %}
{%- set incremental_run = is_incremental() and state.reason is none %}

with

events as (

    select * from {{ ref('stg_crm__events') }}

),

engagement_rules as (

    select * from {{ ref('stg_rules__engagement_rules') }}

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
        count(*) as events_in_minute

    from scoped_events
    group by 1, 2

),

events_with_minute_counts as (

    select
        scoped_events.lead_id,
        scoped_events.event_type,
        scoped_events.channel,
        scoped_events.page_url,
        scoped_events.search_term,
        scoped_events.activity_date,
        scoped_events.occurred_at,
        events_per_minute.events_in_minute

    from scoped_events
    inner join events_per_minute
        on scoped_events.lead_id = events_per_minute.lead_id
            and {{ dbt.date_trunc('minute', 'scoped_events.occurred_at') }} = events_per_minute.event_minute

),

matched as (

    select
        engagement_rules.model_id,
        events_with_minute_counts.lead_id,
        events_with_minute_counts.activity_date,
        events_with_minute_counts.occurred_at,
        engagement_rules.rule_id,
        engagement_rules.points

    from events_with_minute_counts
    inner join engagement_rules
        on events_with_minute_counts.event_type = engagement_rules.event_type
            and (engagement_rules.channel is null or events_with_minute_counts.channel = engagement_rules.channel)
            and (
                engagement_rules.match_field is null
                or (engagement_rules.match_field = 'page_url' and events_with_minute_counts.page_url like engagement_rules.match_pattern)
                or (
                    engagement_rules.match_field = 'search_term'
                    and events_with_minute_counts.search_term like engagement_rules.match_pattern
                )
            )
    left join burst_rules
        on engagement_rules.model_id = burst_rules.model_id
    where not (
            engagement_rules.points > 0
            and burst_rules.burst_threshold is not null
            and events_with_minute_counts.events_in_minute >= burst_rules.burst_threshold
        )

),

buckets as (

    select
        model_id,
        lead_id,
        activity_date,
        rule_id,
        count(*) as event_count,
        {{ exact_sum('points') }} as base_points,
        max(occurred_at) as last_occurred_at

    from matched
    group by 1, 2, 3, 4

),

final as (

    {%- if is_incremental() %}

        select
            *,
            'row' as incremental_change
        from buckets

        union all

        {%- if incremental_run %}

            select
                null as model_id,
                lead_id,
                activity_date,
                null as rule_id,
                null as event_count,
                null as base_points,
                null as last_occurred_at,
                'delete' as incremental_change
            from touched_days

        {%- else %}

            select
                null as model_id,
                null as lead_id,
                null as activity_date,
                null as rule_id,
                null as event_count,
                null as base_points,
                null as last_occurred_at,
                'reset' as incremental_change

        {%- endif %}

    {%- else %}

        select * from buckets

    {%- endif %}

)

select * from final
