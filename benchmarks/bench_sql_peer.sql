-- The benchmark's SQL peer: ONE hand-written DuckDB query that scores every staged lead for the `default`
-- scoring model from the raw tables (raw.leads, raw.events) and the seed tables dbt loads into the `rules`
-- schema, following docs/scoring_rules.md. It is the lower bound for this engine: no intermediate tables, no
-- reasons, no history, no data tests; only what lead_scores' numbers need.
--
-- Parameter: $as_of (text, 'YYYY-MM-DD HH:MM:SS', UTC). Run by benchmarks/benchmark.py (`sql-peer`), which
-- stores the result in bench.sql_peer_scores. Output: one row per staged lead with lead_id, fit_score,
-- fit_grade, engagement_score, engagement_level, matrix_cell, lead_score, lifecycle_stage.
--
-- Lead attributes that fit rules can target: the normalised columns below (the project's
-- lead_scoring_attributes()); a fit rule on a custom CRM column would need that column added to fit_candidates.
-- Not a dbt model (it lives outside models/ and is not linted by sqlfluff): DuckDB syntax is fine here.
with

clock as (
    select
        cast($as_of as timestamp) as as_of_ts,
        cast(cast($as_of as timestamp) as date) as as_of_date
),

-- ---------------------------------------------------------------- rules (seed tables: every column is text)
scoring_model as (
    select
        trim(model_id) as model_id,
        try_cast(trim(fit_weight) as double) as fit_weight,
        try_cast(trim(engagement_weight) as double) as engagement_weight,
        try_cast(nullif(trim(fit_max_positive_points), '') as double) as fit_max_pos,
        try_cast(nullif(trim(fit_max_negative_points), '') as double) as fit_max_neg,
        try_cast(nullif(trim(engagement_max_positive_points), '') as double) as eng_max_pos,
        try_cast(nullif(trim(engagement_max_negative_points), '') as double) as eng_max_neg
    from rules.scoring_models
    where trim(model_id) = 'default'
),

fit_rules as (
    select
        trim(rule_id) as rule_id,
        lower(trim(rule_group)) as rule_group,
        lower(trim(attribute)) as attribute,
        lower(trim(operator)) as operator,
        lower(nullif(trim(value), '')) as rule_value,
        '|' || replace(replace(replace(replace(lower(nullif(trim(value), '')), ' |', '|'), '| ', '|'), ' |', '|'), '| ', '|')
            || '|' as rule_value_list,
        try_cast(nullif(trim(min_value), '') as double) as min_value,
        try_cast(nullif(trim(max_value), '') as double) as max_value,
        try_cast(trim(points) as double) as points,
        coalesce(lower(trim(disqualifies)) = 'true', false) as is_disqualifying
    from rules.scoring_fit_rules
    where trim(model_id) = 'default'
),

engagement_rules as (
    select
        trim(rule_id) as rule_id,
        lower(trim(rule_group)) as rule_group,
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

signal_rules as (
    select
        trim(rule_id) as rule_id,
        lower(trim(rule_group)) as rule_group,
        lower(trim(signal)) as signal,
        try_cast(nullif(trim(threshold), '') as double) as threshold,
        try_cast(nullif(trim(window_days), '') as double) as window_days,
        try_cast(trim(points) as double) as points
    from rules.scoring_signal_rules
    where trim(model_id) = 'default'
),

group_caps as (
    select
        lower(trim(axis)) as axis,
        lower(trim(rule_group)) as rule_group,
        try_cast(nullif(trim(max_positive_points), '') as double) as max_pos,
        try_cast(nullif(trim(max_negative_points), '') as double) as max_neg
    from rules.scoring_group_caps
    where trim(model_id) = 'default'
),

score_bands as (
    select
        lower(trim(axis)) as axis,
        upper(trim(band)) as band,
        try_cast(trim(min_score) as double) as min_score
    from rules.scoring_score_bands
    where trim(model_id) = 'default'
),

lifecycle_rules as (
    select
        try_cast(trim(priority) as double) as priority,
        lower(trim(stage)) as stage,
        case lower(nullif(trim(requires_disqualifier), '')) when 'true' then true when 'false' then false end
            as requires_disqualifier,
        '|' || upper(replace(replace(nullif(trim(matrix_cells), ''), ' ', ''), ',', '|')) || '|' as matrix_cells,
        try_cast(nullif(trim(min_lead_score), '') as double) as min_lead_score,
        try_cast(nullif(trim(min_fit_score), '') as double) as min_fit_score,
        try_cast(nullif(trim(min_engagement_score), '') as double) as min_engagement_score
    from rules.scoring_lifecycle_rules
    where trim(model_id) = 'default'
),

active_overrides as (
    select
        trim(o.override_id) as override_id,
        nullif(trim(o.lead_id), '') as lead_id,
        lower(nullif(trim(o.company_domain), '')) as company_domain,
        lower(trim(o.action)) as action,
        case when lower(trim(o.action)) = 'pin_grade' then upper(nullif(trim(o.value), ''))
            else lower(nullif(trim(o.value), '')) end as override_value
    from rules.scoring_overrides as o, clock
    where (nullif(trim(o.model_id), '') is null or trim(o.model_id) = 'default')
        and (nullif(trim(o.valid_until), '') is null or try_cast(trim(o.valid_until) as date) >= clock.as_of_date)
),

email_domains as (
    select lower(trim(domain)) as domain, lower(trim(domain_type)) as domain_type
    from rules.map_email_domains
),

industries as (
    select lower(trim(raw_label)) as raw_label, lower(trim(industry)) as industry
    from rules.map_industries
),

countries as (
    select lower(trim(raw_value)) as raw_value, upper(trim(country_code)) as country_code, lower(trim(region)) as region
    from rules.map_countries
),

job_titles as (
    select
        lower(trim(pattern)) as pattern,
        lower(trim(dimension)) as dimension,
        lower(trim(value)) as mapped_value,
        try_cast(trim(priority) as double) as priority
    from rules.map_job_titles
),

size_bands as (
    select band, min_employees, lead(min_employees) over (order by min_employees) as next_min
    from (select lower(trim(band)) as band, try_cast(trim(min_employees) as double) as min_employees
          from rules.map_company_size_bands)
),

revenue_bands as (
    select band, min_revenue, lead(min_revenue) over (order by min_revenue) as next_min
    from (select lower(trim(band)) as band, try_cast(trim(min_revenue_usd) as double) as min_revenue
          from rules.map_revenue_bands)
),

event_types as (
    select distinct lower(trim(event_type)) as event_type from rules.ref_event_types
),

-- ---------------------------------------------------------------- leads: latest version, cleaned, normalised
lead_rows as (
    select
        nullif(trim(cast(lead_id as varchar)), '') as lead_id,
        lower(nullif(trim(cast(email as varchar)), '')) as email,
        nullif(trim(cast(job_title as varchar)), '') as job_title,
        lower(nullif(trim(cast(company_domain as varchar)), '')) as company_domain_raw,
        lower(nullif(trim(cast(industry as varchar)), '')) as industry_key,
        replace(replace(lower(nullif(trim(cast(employee_count as varchar)), '')), ',', ''), ' ', '') as employee_count_text,
        cast(annual_revenue as double) as annual_revenue_raw,
        lower(nullif(trim(cast(country as varchar)), '')) as country_key,
        lower(nullif(trim(cast(city as varchar)), '')) as city,
        lower(nullif(trim(cast(lead_source as varchar)), '')) as lead_source,
        lower(nullif(trim(cast(budget as varchar)), '')) as budget,
        lower(nullif(trim(cast(authority as varchar)), '')) as authority,
        lower(nullif(trim(cast(need as varchar)), '')) as need,
        lower(nullif(trim(cast(timeline as varchar)), '')) as timeline,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(is_deleted as boolean) as is_deleted_raw,
        cast(_loaded_at as timestamp) as loaded_at,
        md5(concat_ws('|',
            coalesce(cast(email as varchar), ''), coalesce(cast(first_name as varchar), ''),
            coalesce(cast(last_name as varchar), ''), coalesce(cast(job_title as varchar), ''),
            coalesce(cast(company_name as varchar), ''), coalesce(cast(company_domain as varchar), ''),
            coalesce(cast(industry as varchar), ''), coalesce(cast(employee_count as varchar), ''),
            coalesce(cast(country as varchar), ''), coalesce(cast(city as varchar), ''),
            coalesce(cast(lead_source as varchar), ''), coalesce(cast(budget as varchar), ''),
            coalesce(cast(authority as varchar), ''), coalesce(cast(need as varchar), ''),
            coalesce(cast(timeline as varchar), ''))) as content_hash
    from raw.leads
),

latest_leads as (
    select
        lead_rows.*,
        coalesce(lead_rows.created_at > clock.as_of_ts or lead_rows.updated_at > clock.as_of_ts, false) as is_after_as_of
    from lead_rows, clock
    where lead_rows.lead_id is not null
    qualify row_number() over (
        partition by lead_rows.lead_id
        order by is_after_as_of asc, lead_rows.updated_at desc nulls last, lead_rows.loaded_at desc nulls last,
            lead_rows.is_deleted_raw desc nulls last, lead_rows.annual_revenue_raw desc nulls last,
            lead_rows.content_hash asc
    ) = 1
),

parsed_leads as (
    select
        lead_id, email, job_title, industry_key, country_key, city, lead_source, budget, authority, need, timeline,
        created_at, updated_at,
        case when regexp_matches(email, '^[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$')
            then split_part(email, '@', 2) end as email_domain,
        nullif(regexp_replace(regexp_replace(regexp_replace(company_domain_raw, '^https?://', ''), '^www[.]', ''),
            '/.*$', ''), '') as company_domain_cleaned,
        case
            when regexp_matches(employee_count_text, '^[0-9]+$') then try_cast(employee_count_text as bigint)
            when regexp_matches(employee_count_text, '^[0-9]+[+]$') then try_cast(replace(employee_count_text, '+', '') as bigint)
            when regexp_matches(employee_count_text, '^[0-9]+-[0-9]+$') then try_cast(split_part(employee_count_text, '-', 1) as bigint)
        end as employee_count_parsed,
        case when annual_revenue_raw >= 0 and annual_revenue_raw <= 1000000000000 then annual_revenue_raw end
            as annual_revenue
    from latest_leads
    where not is_after_as_of and not coalesce(is_deleted_raw, false)
),

titles as (
    select distinct lower(job_title) as title_key from parsed_leads where job_title is not null
),

title_map as (
    select
        titles.title_key,
        arg_min(job_titles.mapped_value, (job_titles.priority, job_titles.mapped_value))
            filter (where job_titles.dimension = 'seniority') as seniority,
        arg_min(job_titles.mapped_value, (job_titles.priority, job_titles.mapped_value))
            filter (where job_titles.dimension = 'job_function') as job_function
    from titles
    inner join job_titles on titles.title_key like job_titles.pattern
    group by titles.title_key
),

leads as (
    select
        p.lead_id,
        p.created_at,
        p.updated_at,
        p.email_domain,
        coalesce(p.company_domain_cleaned,
            case when coalesce(email_type_map.domain_type, 'business') <> 'personal' then p.email_domain end)
            as company_domain,
        email_type_map.domain_type as email_domain_type,
        p.job_title,
        case when title_map.seniority is not null then title_map.seniority
            when p.job_title is not null then 'unmapped' end as seniority,
        case when title_map.job_function is not null then title_map.job_function
            when p.job_title is not null then 'unmapped' end as job_function,
        case when industries.industry is not null then industries.industry
            when p.industry_key is not null then 'unmapped' end as industry,
        case when p.employee_count_parsed between 1 and 10000000 then p.employee_count_parsed end as employee_count,
        p.annual_revenue,
        countries.country_code,
        countries.region,
        p.city, p.lead_source, p.budget, p.authority, p.need, p.timeline
    from parsed_leads as p
    left join email_domains as email_type_map on p.email_domain = email_type_map.domain
    left join title_map on lower(p.job_title) = title_map.title_key
    left join industries on p.industry_key = industries.raw_label
    left join countries on p.country_key = countries.raw_value
),

lead_attributes as (
    select
        leads.*,
        case
            when company_type.domain_type = 'competitor' or leads.email_domain_type = 'competitor' then 'competitor'
            when leads.email_domain is null then 'invalid'
            when leads.email_domain_type = 'personal' then 'personal'
            else 'business'
        end as email_type,
        size_bands.band as company_size_band,
        revenue_bands.band as revenue_band
    from leads
    left join email_domains as company_type on leads.company_domain = company_type.domain
    left join size_bands
        on leads.employee_count >= size_bands.min_employees
            and (size_bands.next_min is null or leads.employee_count < size_bands.next_min)
    left join revenue_bands
        on leads.annual_revenue >= revenue_bands.min_revenue
            and (revenue_bands.next_min is null or leads.annual_revenue < revenue_bands.next_min)
),

-- ---------------------------------------------------------------- fit
fit_candidates as (
    select
        a.lead_id,
        r.rule_id, r.rule_group, r.operator, r.rule_value, r.rule_value_list, r.min_value, r.max_value, r.points,
        r.is_disqualifying,
        case r.attribute
            when 'industry' then a.industry
            when 'company_size_band' then a.company_size_band
            when 'employee_count' then cast(a.employee_count as varchar)
            when 'revenue_band' then a.revenue_band
            when 'annual_revenue' then cast(a.annual_revenue as varchar)
            when 'seniority' then a.seniority
            when 'job_function' then a.job_function
            when 'job_title' then a.job_title
            when 'country_code' then a.country_code
            when 'region' then a.region
            when 'city' then a.city
            when 'email_type' then a.email_type
            when 'email_domain' then a.email_domain
            when 'company_domain' then a.company_domain
            when 'lead_source' then a.lead_source
            when 'budget' then a.budget
            when 'authority' then a.authority
            when 'need' then a.need
            when 'timeline' then a.timeline
        end as v
    from lead_attributes as a
    cross join fit_rules as r
),

fit_fired as (
    select lead_id, rule_id, rule_group, points, is_disqualifying
    from fit_candidates
    where case operator
        when 'equals' then lower(v) = rule_value
        when 'one_of' then position('|' || lower(v) || '|' in rule_value_list) > 0
        when 'pattern' then lower(v) like rule_value
        when 'between' then try_cast(trim(v) as double) is not null
            and (min_value is null or try_cast(trim(v) as double) >= min_value)
            and (max_value is null or try_cast(trim(v) as double) < max_value)
        when 'is_missing' then v is null
        when 'is_present' then v is not null
        else false
    end
),

-- ---------------------------------------------------------------- events: first delivery, staged
-- DuckDB materialises a CTE that is read more than once, in full: at 100M raw events that is tens of GB, spilled
-- or out of memory. The event CTEs are `not materialized`, so each reader re-scans raw.events (a columnar scan)
-- and only small results (the repeated ids, the burst minutes) are kept.
event_rows as not materialized (
    select
        nullif(trim(cast(event_id as varchar)), '') as event_id,
        nullif(trim(cast(lead_id as varchar)), '') as lead_id,
        lower(nullif(trim(cast(event_type as varchar)), '')) as event_type,
        lower(nullif(trim(cast(channel as varchar)), '')) as channel,
        cast(occurred_at as timestamp) as occurred_at,
        lower(nullif(trim(cast(page_url as varchar)), '')) as page_url,
        lower(nullif(trim(cast(search_term as varchar)), '')) as search_term,
        nullif(trim(cast(properties as varchar)), '') as properties,
        cast(_loaded_at as timestamp) as loaded_at
    from raw.events
),

-- a window over every delivery is the costly way to de-duplicate: only ids delivered more than once are ranked
repeated_ids as (
    select event_id from event_rows where event_id is not null group by event_id having count(*) > 1
),

first_deliveries as not materialized (
    select event_id, lead_id, event_type, channel, occurred_at, page_url, search_term
    from event_rows anti join repeated_ids using (event_id)
    where event_id is not null
    union all
    select event_id, lead_id, event_type, channel, occurred_at, page_url, search_term
    from (
        select *
        from event_rows semi join repeated_ids using (event_id)
        qualify row_number() over (
            partition by event_id order by loaded_at asc nulls last, occurred_at asc nulls last,
                -- the content tie-break, over the cleaned values: hashed only for ids delivered more than once
                md5(concat_ws('|', coalesce(lead_id, ''), coalesce(event_type, ''), coalesce(channel, ''),
                    coalesce(page_url, ''), coalesce(search_term, ''), coalesce(properties, ''))) asc
        ) = 1
    )
),

staged_events as not materialized (
    select
        e.lead_id, e.event_type, e.channel, e.occurred_at, cast(e.occurred_at as date) as activity_date,
        date_trunc('minute', e.occurred_at) as event_minute, e.page_url, e.search_term
    from first_deliveries as e, clock
    where e.occurred_at is not null
        and e.occurred_at <= clock.as_of_ts
        and e.event_type in (select event_type from event_types)
        and e.lead_id in (select lead_id from lead_attributes)
),

burst_minutes as (
    select m.lead_id, m.event_minute, m.activity_date
    from (
        select lead_id, event_minute, min(activity_date) as activity_date, count(*) as events_in_minute
        from staged_events
        group by lead_id, event_minute
    ) as m
    inner join signal_rules as s on s.signal = 'burst' and m.events_in_minute >= s.threshold
),

-- every staged event, flagged when its lead-minute is a burst: the few burst minutes are the join's build side.
-- (Joined after the rules instead, DuckDB estimated the matched events as the smaller side and hashed all of them.)
flagged_events as (
    select e.*, b.lead_id is not null as is_in_burst
    from staged_events as e
    left join burst_minutes as b on e.lead_id = b.lead_id and e.event_minute = b.event_minute
),

matched as (
    select e.lead_id, e.activity_date, r.rule_id
    from flagged_events as e
    inner join engagement_rules as r on e.event_type = r.event_type
    where (r.channel is null or e.channel = r.channel)
        and (r.match_field is null
            or (r.match_field = 'page_url' and e.page_url like r.match_pattern)
            or (r.match_field = 'search_term' and e.search_term like r.match_pattern))
        and not (r.points > 0 and e.is_in_burst)
),

buckets as (
    select lead_id, activity_date, rule_id, count(*) as events
    from matched
    group by lead_id, activity_date, rule_id
),

engagement_points as (
    select
        b.lead_id, r.rule_id, r.rule_group, r.points, b.last_activity_date,
        case
            when r.max_points is null then x
            when r.points > 0 then least(x, r.max_points)
            else greatest(x, 0 - r.max_points)
        end as capped_points
    from (
        select
            buckets.lead_id, buckets.rule_id,
            max(buckets.activity_date) as last_activity_date,
            cast(sum(cast(
                cast(cast(er.points * buckets.events as decimal(38, 12)) as double) * case
                    when er.decay_method = 'exponential'
                        then power(0.5, cast(date_diff('day', buckets.activity_date, clock.as_of_date) as double) / er.decay_days)
                    when er.decay_method = 'linear'
                        then greatest(0.0, 1.0 - cast(date_diff('day', buckets.activity_date, clock.as_of_date) as double) / er.decay_days)
                    when er.decay_method = 'window'
                        then case when cast(date_diff('day', buckets.activity_date, clock.as_of_date) as double) < er.decay_days
                            then 1.0 else 0.0 end
                    else 1.0
                end as decimal(38, 12))) as double) as x
        from buckets
        inner join engagement_rules as er on buckets.rule_id = er.rule_id
        cross join clock
        group by buckets.lead_id, buckets.rule_id
    ) as b
    inner join engagement_rules as r on b.rule_id = r.rule_id
),

-- per lead, the latest day with an event of a positive rule: one row per lead, not one per lead-day (at 100M
-- events a per-day CTE read twice is materialised in full)
last_positive_days as (
    select lead_id, max(last_activity_date) as last_day
    from engagement_points
    where points > 0
    group by lead_id
),

-- ---------------------------------------------------------------- signals
inactivity_fired as (
    select a.lead_id, s.rule_id, s.rule_group, s.points
    from lead_attributes as a
    cross join clock
    inner join signal_rules as s on s.signal = 'inactivity'
    left join last_positive_days as le on a.lead_id = le.lead_id
    where date_diff('day', coalesce(le.last_day, cast(a.created_at as date), cast(a.updated_at as date)), clock.as_of_date)
        >= s.threshold
),

burst_fired as (
    select distinct b.lead_id, s.rule_id, s.rule_group, s.points
    from burst_minutes as b
    cross join clock
    inner join signal_rules as s on s.signal = 'burst'
    where s.window_days is null or date_diff('day', b.activity_date, clock.as_of_date) < s.window_days
),

colleague_rule as (
    select * from signal_rules where signal = 'engaged_colleagues'
),

-- a positive day inside the window exists when the latest one is inside it
engaged_leads as (
    select distinct p.lead_id
    from last_positive_days as p
    cross join clock
    cross join colleague_rule as c
    where c.window_days is null or date_diff('day', p.last_day, clock.as_of_date) < c.window_days
),

researching_accounts as (
    select a.company_domain
    from lead_attributes as a
    left join email_domains as d on a.company_domain = d.domain and d.domain_type = 'personal'
    left join engaged_leads as e on a.lead_id = e.lead_id
    where a.company_domain is not null and d.domain is null
    group by a.company_domain
    having count(e.lead_id) >= (select min(threshold) from colleague_rule)
),

account_fired as (
    select a.lead_id, c.rule_id, c.rule_group, c.points
    from lead_attributes as a
    inner join researching_accounts as r on a.company_domain = r.company_domain
    cross join colleague_rule as c
),

-- ---------------------------------------------------------------- caps, scores, bands
rule_points as (
    select lead_id, 'fit' as axis, rule_group, points from fit_fired
    union all
    select lead_id, 'engagement', rule_group, capped_points from engagement_points where capped_points <> 0
    union all
    select lead_id, 'engagement', rule_group, points from inactivity_fired
    union all
    select lead_id, 'engagement', rule_group, points from burst_fired
    union all
    select lead_id, 'engagement', rule_group, points from account_fired
),

group_points as (
    select
        g.lead_id, g.axis,
        case when c.max_pos is null then g.pos else least(g.pos, c.max_pos) end as pos,
        case when c.max_neg is null then g.neg else greatest(g.neg, 0 - c.max_neg) end as neg
    from (
        select lead_id, axis, rule_group,
            cast(sum(cast(case when points > 0 then points else 0 end as decimal(38, 12))) as double) as pos,
            cast(sum(cast(case when points < 0 then points else 0 end as decimal(38, 12))) as double) as neg
        from rule_points
        group by lead_id, axis, rule_group
    ) as g
    left join group_caps as c on g.axis = c.axis and g.rule_group = c.rule_group
),

axis_points as (
    select lead_id,
        cast(sum(cast(pos as decimal(38, 12))) filter (where axis = 'fit') as double) as fit_pos,
        cast(sum(cast(neg as decimal(38, 12))) filter (where axis = 'fit') as double) as fit_neg,
        cast(sum(cast(pos as decimal(38, 12))) filter (where axis = 'engagement') as double) as eng_pos,
        cast(sum(cast(neg as decimal(38, 12))) filter (where axis = 'engagement') as double) as eng_neg
    from group_points
    group by lead_id
),

scores as (
    select
        a.lead_id,
        a.company_domain,
        round(least(100.0, greatest(0.0,
            (case when m.fit_max_pos is null then coalesce(p.fit_pos, 0) else least(coalesce(p.fit_pos, 0), m.fit_max_pos) end)
            + (case when m.fit_max_neg is null then coalesce(p.fit_neg, 0) else greatest(coalesce(p.fit_neg, 0), 0 - m.fit_max_neg) end)
        )), 6) as fit_score,
        round(least(100.0, greatest(0.0,
            (case when m.eng_max_pos is null then coalesce(p.eng_pos, 0) else least(coalesce(p.eng_pos, 0), m.eng_max_pos) end)
            + (case when m.eng_max_neg is null then coalesce(p.eng_neg, 0) else greatest(coalesce(p.eng_neg, 0), 0 - m.eng_max_neg) end)
        )), 6) as engagement_score,
        m.fit_weight,
        m.engagement_weight,
        exists (select 1 from fit_fired as f where f.lead_id = a.lead_id and f.is_disqualifying) as has_disqualifier
    from lead_attributes as a
    cross join scoring_model as m
    left join axis_points as p on a.lead_id = p.lead_id
),

banded as (
    select
        s.*,
        (select arg_max(b.band, b.min_score) from score_bands as b where b.axis = 'fit' and b.min_score <= s.fit_score)
            as computed_grade,
        (select arg_max(b.band, b.min_score) from score_bands as b
            where b.axis = 'engagement' and b.min_score <= s.engagement_score) as engagement_level,
        s.fit_weight * s.fit_score + s.engagement_weight * s.engagement_score as lead_score
    from scores as s
),

-- ---------------------------------------------------------------- overrides and lifecycle
chosen_overrides as (
    select
        b.lead_id,
        o.action,
        arg_min(o.override_value, (case when o.lead_id is not null then 1 else 2 end, o.override_id)) as override_value
    from banded as b
    inner join active_overrides as o on o.lead_id = b.lead_id or o.company_domain = b.company_domain
    group by b.lead_id, o.action
),

celled as (
    select
        b.*,
        coalesce(g.override_value, b.computed_grade) as fit_grade,
        coalesce(g.override_value, b.computed_grade) || b.engagement_level as matrix_cell
    from banded as b
    left join chosen_overrides as g on b.lead_id = g.lead_id and g.action = 'pin_grade'
),

staged_lifecycle as (
    select
        c.lead_id,
        arg_min(r.stage, r.priority) as stage
    from celled as c
    inner join lifecycle_rules as r
        on (r.requires_disqualifier is null or r.requires_disqualifier = c.has_disqualifier)
            and (r.matrix_cells is null or position('|' || c.matrix_cell || '|' in r.matrix_cells) > 0)
            and (r.min_lead_score is null or c.lead_score >= r.min_lead_score)
            and (r.min_fit_score is null or c.fit_score >= r.min_fit_score)
            and (r.min_engagement_score is null or c.engagement_score >= r.min_engagement_score)
    group by c.lead_id
),

final as (
    select
        c.lead_id,
        c.fit_score,
        c.fit_grade,
        c.engagement_score,
        c.engagement_level,
        c.matrix_cell,
        c.lead_score,
        case
            when x.lead_id is not null then 'excluded'
            when p.lead_id is not null then p.override_value
            else l.stage
        end as lifecycle_stage
    from celled as c
    left join staged_lifecycle as l on c.lead_id = l.lead_id
    left join chosen_overrides as p on c.lead_id = p.lead_id and p.action = 'pin_stage'
    left join chosen_overrides as x on c.lead_id = x.lead_id and x.action = 'exclude'
)

select * from final
