{#- Per model, lead, day and engagement rule: how many events matched and the points before decay.
    Scoring reads these small daily buckets, not raw events; decay is applied at scoring time against as_of. -#}

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

events_per_minute as (

    select
        lead_id,
        {{ dbt.date_trunc('minute', 'occurred_at') }} as event_minute,
        count(*) as events_in_minute

    from events
    group by 1, 2

),

events_with_minute_counts as (

    select
        events.lead_id,
        events.event_type,
        events.channel,
        events.page_url,
        events.search_term,
        events.activity_date,
        events.occurred_at,
        events_per_minute.events_in_minute

    from events
    inner join events_per_minute
        on events.lead_id = events_per_minute.lead_id
            and {{ dbt.date_trunc('minute', 'events.occurred_at') }} = events_per_minute.event_minute

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

final as (

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

)

select * from final
