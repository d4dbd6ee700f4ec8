{#- Per model, lead, day and engagement rule: how many events matched and the points before decay.
    Scoring reads these small daily buckets, not raw events; decay is applied at scoring time against as_of.
    Incremental (docs/incremental.md): a run recomputes only the (lead, day) pairs touched since the last build -
    days of deliveries written since (new, re-delivered or re-read in the look-back window), days of events that
    were in the future at the last as_of and are not now, and every day of a lead that became staged or stopped
    being staged - from all of that lead-day's staged events.
    Burst minutes come from int_engagement_burst_minutes (the only per-minute count; a ref, so it is built first,
    from the same touched lead-days): this model looks its matches up in that small table instead of counting
    every lead-minute. Its stored contents are the same as when it counted the minutes itself, so its layout
    version did not change.
    It rebuilds itself in full, with a log line, when the rule-set version changed, as_of moved earlier, the
    deliveries were rebuilt, or the table or its state is missing, empty or of an older layout.
    built_as_of is the as_of of the run that wrote the row; the data tests check only the rows of the latest run
    (as_of never moves earlier between incremental runs: that rebuilds in full, and a full build writes every row
    with its as_of), so an incremental run does not rescan every stored bucket. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='replace_keys',
    unique_key=['lead_id', 'activity_date'],
    on_schema_change='ignore',
    pre_hook="{{ add_missing_columns(this, {'built_as_of': dbt.type_timestamp()}) }}",
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

burst_minutes as (

    select
        model_id,
        lead_id,
        event_minute

    from {{ ref('int_engagement_burst_minutes') }}

),

{#- CTE scoped_events, the events this model reads (macros/incremental.sql): every staged event on a full build,
    only those of the lead-days touched since the last build on an incremental run. #}
{{ scoped_lead_day_events_ctes(state, incremental_run) }}

matched as (

    select
        engagement_rules.model_id,
        scoped_events.lead_id,
        scoped_events.activity_date,
        scoped_events.occurred_at,
        {{ dbt.date_trunc('minute', 'scoped_events.occurred_at') }} as event_minute,
        engagement_rules.rule_id,
        engagement_rules.points as rule_points,
        engagement_rules.property_name,
        engagement_rules.property_min,
        engagement_rules.property_max,
        engagement_rules.property_unit,
        -- only a rule on an event property reads the JSON: the name is a column (data), never pasted into the SQL
        case
            when engagement_rules.property_name is not null
                then {{ json_extract_text_at('scoped_events.properties', 'engagement_rules.property_name') }}
        end as property_text

    from scoped_events
    inner join engagement_rules
        on scoped_events.event_type = engagement_rules.event_type
            and (engagement_rules.channel is null or scoped_events.channel = engagement_rules.channel)
            and (
                engagement_rules.match_field is null
                or (engagement_rules.match_field = 'page_url' and scoped_events.page_url like engagement_rules.match_pattern)
                or (
                    engagement_rules.match_field = 'search_term'
                    and scoped_events.search_term like engagement_rules.match_pattern
                )
            )

),

measured as (

    select
        *,
        {{ bounded_number('property_text') }} as property_value

    from matched

),

-- a rule on a property matches only the events whose property holds a number in [property_min, property_max)
-- (and not negative for points per unit); such a rule earns points * value / property_unit per event
property_matched as (

    select
        model_id,
        lead_id,
        activity_date,
        occurred_at,
        event_minute,
        rule_id,
        rule_points,
        case
            when property_unit is null then rule_points
            else rule_points * property_value / property_unit
        end as points

    from measured
    where
        property_name is null
        or (
            property_value is not null
            and (property_min is null or property_value >= property_min)
            and (property_max is null or property_value < property_max)
            and (property_unit is null or property_value >= 0)
        )

),

-- a match of a rule with positive points in one of the lead's burst minutes for that model earns nothing
-- (negative rules still count). A correlated exists, not a left join: DuckDB plans it as a mark join whose hash
-- table is built on the small burst-minutes table; with a left join it flipped the sides (a right join building on
-- every match).
kept as (

    select property_matched.*

    from property_matched
    where
        not (
            property_matched.rule_points > 0
            and exists (
                select 1
                from burst_minutes
                where
                    burst_minutes.model_id = property_matched.model_id
                    and burst_minutes.lead_id = property_matched.lead_id
                    and burst_minutes.event_minute = property_matched.event_minute
            )
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
        max(occurred_at) as last_occurred_at,
        {{ as_of_timestamp() }} as built_as_of

    from kept
    group by 1, 2, 3, 4

),

final as (

    {%- if is_incremental() %}

        select
            *,
            'row' as incremental_change
        from buckets

        union all

        {{ replace_keys_key_rows(
            ['model_id', 'lead_id', 'activity_date', 'rule_id', 'event_count', 'base_points', 'last_occurred_at',
                'built_as_of'],
            ['lead_id', 'activity_date'], incremental_run, 'touched_days'
        ) }}

    {%- else %}

        select * from buckets

    {%- endif %}

)

select * from final
