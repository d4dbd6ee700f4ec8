-- The benchmark's single-query floor (issue 33): ONE hand-written DuckDB query that computes, per lead, the decayed
-- and capped engagement points straight from the raw events table and the engagement rules of the `default` model
-- (the seed table dbt loads into the `rules` schema: every column is text). It is the engine's floor, not a peer:
-- it leaves out fit, quarantine, staging's cleaning and de-duplication (a re-delivered event counts again), bursts,
-- points per property unit (such a rule counts its flat `points`), group and axis caps, signals, grades and
-- reasons, so its numbers are NOT compared with marts.lead_scores. What it keeps is the core of engagement scoring:
-- matching (event type, channel, page URL or search term pattern), daily buckets, each rule's decay with its
-- `decay_days` (exponential: half-life; linear and window as docs/scoring_rules.md), the per-rule `max_points` cap,
-- and the sum per lead.
--
-- Parameter: $as_of (text, 'YYYY-MM-DD HH:MM:SS', UTC). Run by benchmarks/benchmark.py (`floor`) in its own process,
-- which stores the result in bench.floor_points. Output: one row per lead with an event that matched a rule:
-- lead_id, engagement_points.
with

clock as (
    select
        cast($as_of as timestamp) as as_of_ts,
        cast(cast($as_of as timestamp) as date) as as_of_date
),

engagement_rules as (
    select
        trim(rule_id) as rule_id,
        lower(trim(event_type)) as event_type,
        lower(nullif(trim(channel), '')) as channel,
        lower(nullif(trim(match_field), '')) as match_field,
        lower(nullif(trim(pattern), '')) as match_pattern,
        try_cast(trim(points) as double) as points,
        lower(trim(decay_method)) as decay_method,
        try_cast(nullif(trim(decay_days), '') as double) as decay_days,
        try_cast(nullif(trim(max_points), '') as double) as max_points
    from rules.scoring_engagement_rules
    where trim(model_id) = 'default'
),

buckets as (
    select
        trim(e.lead_id) as lead_id,
        r.rule_id,
        cast(e.occurred_at as date) as activity_date,
        count(*) as events
    from raw.events as e
    inner join engagement_rules as r on lower(trim(e.event_type)) = r.event_type
    cross join clock
    where e.lead_id is not null
        and e.occurred_at <= clock.as_of_ts
        and (r.channel is null or lower(trim(e.channel)) = r.channel)
        and (r.match_field is null
            or (r.match_field = 'page_url' and lower(e.page_url) like r.match_pattern)
            or (r.match_field = 'search_term' and lower(e.search_term) like r.match_pattern))
    group by all
),

rule_points as (
    select
        b.lead_id,
        r.points,
        r.max_points,
        sum(r.points * b.events * case
            when r.decay_method = 'exponential'
                then power(0.5, cast(date_diff('day', b.activity_date, clock.as_of_date) as double) / r.decay_days)
            when r.decay_method = 'linear'
                then greatest(0.0, 1.0 - cast(date_diff('day', b.activity_date, clock.as_of_date) as double) / r.decay_days)
            when r.decay_method = 'window'
                then case when date_diff('day', b.activity_date, clock.as_of_date) < r.decay_days then 1.0 else 0.0 end
            else 1.0
        end) as x
    from buckets as b
    inner join engagement_rules as r on b.rule_id = r.rule_id
    cross join clock
    group by b.lead_id, b.rule_id, r.points, r.max_points
)

select
    lead_id,
    sum(case
        when max_points is null then x
        when points > 0 then least(x, max_points)
        else greatest(x, 0 - max_points)
    end) as engagement_points
from rule_points
group by lead_id
