"""Stand-ins for the calibration and channel marts (branch `evidence`), with exactly their agreed columns.

Used by tests/python/test_report.py on a *copy* of the test warehouse when the warehouse does not have the
real marts. The values are computed here, independently of orchestration/report.py, from marts.lead_scores
and staging.stg_crm__opportunities (converted = the lead has an opportunity, won = one of them is won).
"""
from __future__ import annotations

from sklearn.metrics import roc_auc_score

INTERFACE_MARTS = ("score_calibration", "score_auc", "mql_threshold_calibration", "channel_quality")

_LEADS = """
    select s.model_id, s.lead_id, s.lead_source, s.fit_score, s.engagement_score, s.lead_score, s.fit_grade,
           s.engagement_level::varchar as engagement_level, s.matrix_cell, s.is_mql, s.lead_created_at,
           coalesce(o.has_opp, false) as is_converted, coalesce(o.has_won, false) as is_won,
           coalesce(o.won_amount, 0) as won_amount
    from marts.lead_scores as s
    left join (select lead_id, true as has_opp, bool_or(coalesce(is_won, false)) as has_won,
                      sum(case when is_won then amount else 0 end) as won_amount
               from staging.stg_crm__opportunities group by lead_id) as o on o.lead_id = s.lead_id
"""

_CALIBRATION = f"""
create or replace table marts.score_calibration as
with leads as ({_LEADS}),
tagged as (
    select *, least(floor(lead_score / 10), 9)::integer as band,
           ntile(10) over (partition by model_id order by lead_score, lead_id) as decile
    from leads
),
buckets as (
    select model_id, 'lead_score_band' as dimension, (b * 10)::varchar || '-' || (b * 10 + 10)::varchar as bucket,
           b + 1 as bucket_order, b as k from (select distinct model_id from leads), range(10) as r(b)
    union all
    select model_id, 'lead_score_decile', 'D' || lpad((d + 1)::varchar, 2, '0'), d + 1, d
    from (select distinct model_id from leads), range(10) as r(d)
    union all
    select model_id, 'fit_grade', g, 5 - i, i from (select distinct model_id from leads),
           (values ('A', 4), ('B', 3), ('C', 2), ('D', 1)) as v(g, i)
    union all
    select model_id, 'engagement_level', lv, 5 - lv::integer, lv::integer from (select distinct model_id from leads),
           (values ('1'), ('2'), ('3'), ('4')) as v(lv)
    union all
    select model_id, 'matrix_cell', g || lv, 17 - (gi * 4 + lv::integer), 0 from (select distinct model_id from leads),
           (values ('A', 0), ('B', 1), ('C', 2), ('D', 3)) as g(g, gi), (values ('1'), ('2'), ('3'), ('4')) as l(lv)
),
member as (
    select b.model_id, b.dimension, b.bucket, b.bucket_order, t.lead_score, t.is_converted, t.is_won
    from buckets as b
    left join tagged as t on t.model_id = b.model_id and (
        (b.dimension = 'lead_score_band' and t.band = b.k)
        or (b.dimension = 'lead_score_decile' and t.decile = b.k + 1)
        or (b.dimension = 'fit_grade' and t.fit_grade = b.bucket)
        or (b.dimension = 'engagement_level' and t.engagement_level = b.bucket)
        or (b.dimension = 'matrix_cell' and t.matrix_cell = b.bucket))
),
overall as (select model_id, avg(is_converted::integer) as rate from leads group by model_id)
select m.model_id, m.dimension, m.bucket, m.bucket_order, count(m.lead_score) as leads,
       count(*) filter (where m.is_converted) as converted_leads, count(*) filter (where m.is_won) as won_leads,
       case when count(m.lead_score) > 0 then count(*) filter (where m.is_converted) / count(m.lead_score) end
           as conversion_rate,
       case when count(m.lead_score) > 0 then count(*) filter (where m.is_won) / count(m.lead_score) end as win_rate,
       case when count(m.lead_score) > 0 and any_value(o.rate) > 0
            then count(*) filter (where m.is_converted) / count(m.lead_score) / any_value(o.rate) end as lift,
       min(m.lead_score) as min_lead_score, max(m.lead_score) as max_lead_score
from member as m join overall as o on o.model_id = m.model_id
group by m.model_id, m.dimension, m.bucket, m.bucket_order
"""

_CHANNEL = f"""
create or replace table marts.channel_quality as
with leads as ({_LEADS})
select model_id, lead_source, date_trunc('month', lead_created_at)::date as created_month, count(*) as leads,
       avg(fit_score) as mean_fit_score, avg(engagement_score) as mean_engagement_score,
       avg(lead_score) as mean_lead_score, count(*) filter (where is_mql) as mql_leads,
       avg(is_mql::integer) as mql_rate, count(*) filter (where is_converted) as converted_leads,
       avg(is_converted::integer) as conversion_rate, count(*) filter (where is_won) as won_leads,
       avg(is_won::integer) as win_rate, sum(won_amount) as won_amount
from leads group by all
"""


def add_interface_marts(con, configured_threshold: float = 70.0, target_share: float = 0.9) -> None:
    """Create the four marts of the agreed interface in the (writable) DuckDB connection `con`."""
    con.execute(_CALIBRATION)
    con.execute(_CHANNEL)
    rows = con.execute(f"select model_id, fit_score, engagement_score, lead_score, is_converted, is_won "
                       f"from ({_LEADS})").fetchall()
    auc_rows, threshold_rows = [], []
    for model_id in sorted({r[0] for r in rows}):
        mine = [r for r in rows if r[0] == model_id]
        conv, won = [r[4] for r in mine], [r[5] for r in mine]
        for i, score in enumerate(("fit_score", "engagement_score", "lead_score"), start=1):
            values = [r[i] for r in mine]
            auc_rows.append((model_id, score, len(mine), sum(conv), sum(won),
                             roc_auc_score(conv, values) if 0 < sum(conv) < len(mine) else None,
                             roc_auc_score(won, values) if 0 < sum(won) < len(mine) else None))
        converted_scores = sorted(r[3] for r in mine if r[4])
        suggested = converted_scores[int(len(converted_scores) * (1 - target_share))] if converted_scores else None

        def at(threshold):
            above = [r for r in mine if r[3] >= threshold]
            share = sum(r[4] for r in above) / max(len(converted_scores), 1)
            return share, len(above) / len(mine), (sum(r[4] for r in above) / len(above) if above else None)

        c_share, c_rate, c_conv = at(configured_threshold)
        s_share, s_rate, s_conv = at(suggested) if suggested is not None else (None, None, None)
        threshold_rows.append((model_id, configured_threshold, suggested, target_share, c_share, s_share, c_rate,
                               s_rate, c_conv, s_conv, converted_scores[0] if converted_scores else None))
    con.execute("""create or replace table marts.score_auc (model_id varchar, score_name varchar, leads bigint,
                   converted_leads bigint, won_leads bigint, roc_auc double, roc_auc_won double)""")
    con.executemany("insert into marts.score_auc values (?, ?, ?, ?, ?, ?, ?)", auc_rows)
    con.execute("""create or replace table marts.mql_threshold_calibration (model_id varchar,
                   configured_mql_threshold double, suggested_mql_threshold double, target_converted_share double,
                   converted_share_at_configured double, converted_share_at_suggested double,
                   mql_rate_at_configured double, mql_rate_at_suggested double,
                   conversion_rate_above_configured double, conversion_rate_above_suggested double,
                   lowest_converted_score double)""")
    con.executemany("insert into marts.mql_threshold_calibration values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    threshold_rows)
