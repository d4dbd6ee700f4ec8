"""lead_scoring.datagen's planted truth (`planted_truth=True`): every planted driver shows in the RAW tables with
a margin, the noise does not, the flag off changes nothing, and the same seed gives the same data (no dbt needed).

Conversion here is "the lead has a row in raw.opportunities"; attributes are read from raw.leads with the
staging rules re-done in SQL (trim, lower-case, placeholders of seeds/map_missing_values.csv read as missing,
industry and seniority through seeds/map_industries.csv and seeds/map_job_titles.csv), never from the
generator's own flags, except where a test says so.
"""
from __future__ import annotations

import csv
import math
import subprocess
import sys

import duckdb
import pytest

from conftest import PROJECT_ROOT, SEEDS_DIR
from lead_scoring import datagen

AS_OF = "2026-11-01 00:00:00"
PLANTED_ARGS = dict(leads=5000, events_per_lead=20, days=180, seed=7, as_of=AS_OF)
SMALL = dict(leads=1200, events_per_lead=8, days=180, as_of=AS_OF, seed=3)
Z = 3.5  # binomial tolerance: two-sided p ~ 0.0005 per comparison


def _rows(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _dump(db, table):
    return _rows(db, f"SELECT * FROM raw.{table} ORDER BY ALL")


def _seed_values(name, column):
    with open(SEEDS_DIR / f"{name}.csv", newline="", encoding="utf-8") as fh:
        return [row[column] for row in csv.DictReader(fh)]


def tolerance(k1, n1, k2, n2, z=Z):
    """z standard errors of the difference of two conversion rates, under the pooled rate."""
    p = (k1 + k2) / (n1 + n2)
    return z * math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))


@pytest.fixture(scope="module")
def planted_db(tmp_path_factory):
    """One 5,000-lead generation with the planted truth, flags kept in schema dg_latent, and a `lead_view`
    table (per lead: normalised attributes from raw.leads, conversion from raw.opportunities)."""
    db = tmp_path_factory.mktemp("planted") / "planted.duckdb"
    datagen.generate(database=str(db), latent_schema="dg_latent", planted_truth=True, **PLANTED_ARGS)
    seeds = SEEDS_DIR.as_posix()
    con = duckdb.connect(str(db))
    try:
        con.execute(f"""
        CREATE TABLE lead_view AS
        WITH missing AS (
            SELECT lower(trim(missing_value)) AS v
            FROM read_csv('{seeds}/map_missing_values.csv', header = true, all_varchar = true)
        ), latest AS (
            SELECT * FROM raw.leads WHERE lead_id IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY lead_id ORDER BY updated_at DESC, _loaded_at DESC) = 1
        ), norm AS (
            SELECT lead_id, email, company_name, company_domain, employee_count, annual_revenue,
                   lower(trim(industry)) AS industry_raw, lower(trim(job_title)) AS title,
                   {", ".join(f"CASE WHEN nullif(lower(trim({c})), '') IN (SELECT v FROM missing) THEN NULL "
                              f"ELSE nullif(lower(trim({c})), '') END AS {c}"
                              for c, _ in datagen.PLANTED_LEAD_COLUMNS)}
            FROM latest
        ), seniority AS (
            SELECT n.lead_id, arg_min(t.value, t.priority::INTEGER) AS seniority
            FROM norm n JOIN read_csv('{seeds}/map_job_titles.csv', header = true, all_varchar = true) t
              ON t.dimension = 'seniority' AND n.title LIKE t.pattern
            GROUP BY n.lead_id
        ), opp AS (
            SELECT lead_id, min(created_at) AS opp_at FROM raw.opportunities GROUP BY lead_id
        )
        SELECT n.*, m.industry, s.seniority, TRY_CAST(n.seats_requested AS INTEGER) AS seats,
               TRY_CAST(n.survey_score AS INTEGER) AS survey, o.opp_at, o.lead_id IS NOT NULL AS converted
        FROM norm n
        LEFT JOIN read_csv('{seeds}/map_industries.csv', header = true, all_varchar = true) m
          ON n.industry_raw = m.raw_label
        LEFT JOIN seniority s USING (lead_id)
        LEFT JOIN opp o USING (lead_id)
        """)
    finally:
        con.close()
    return db


def _rate(db, where):
    """(converted, leads) among lead_view rows matching `where`."""
    k, n = _rows(db, f"SELECT count(*) FILTER (WHERE converted), count(*) FROM lead_view WHERE {where}")[0]
    assert n >= 50, f"too few leads for {where!r}: {n}"
    return k, n


def _r(kn):
    return kn[0] / kn[1]


# --------------------------------------------------------------------------------------------------
# the flag: off changes nothing, on is deterministic
# --------------------------------------------------------------------------------------------------
def test_flag_off_leaves_every_table_as_without_the_argument(tmp_path):
    a, b = tmp_path / "default.duckdb", tmp_path / "off.duckdb"
    datagen.generate(database=str(a), latent_schema="lat", **SMALL)
    datagen.generate(database=str(b), latent_schema="lat", planted_truth=False, **SMALL)
    for table in datagen.TABLES:
        assert _dump(a, table) == _dump(b, table), table
    assert _rows(a, "SELECT * FROM lat.lead_latent ORDER BY ALL") == _rows(b, "SELECT * FROM lat.lead_latent ORDER BY ALL")
    columns = [r[0] for r in _rows(b, "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' "
                                      "AND table_name = 'leads' ORDER BY ordinal_position")]
    assert columns == [c for c, _ in datagen.LEADS_COLUMNS]
    assert not _rows(b, "SELECT 1 FROM information_schema.tables WHERE table_name = 'lead_planted'")


def test_same_seed_same_planted_data_and_the_flag_changes_it(tmp_path):
    a, b, off = tmp_path / "a.duckdb", tmp_path / "b.duckdb", tmp_path / "off.duckdb"
    datagen.generate(database=str(a), planted_truth=True, **SMALL)
    datagen.generate(database=str(b), planted_truth=True, **SMALL)
    datagen.generate(database=str(off), **SMALL)
    for table in datagen.TABLES:
        assert _dump(a, table) == _dump(b, table), table
    assert _dump(a, "opportunities") != _dump(off, "opportunities")
    # the leads themselves are the same people: ids and emails do not move with the flag
    assert _rows(a, "SELECT lead_id, email FROM raw.leads ORDER BY ALL") == \
        _rows(off, "SELECT lead_id, email FROM raw.leads ORDER BY ALL")


def test_cli_flag(tmp_path):
    db = tmp_path / "cli.duckdb"
    proc = subprocess.run(
        [sys.executable, "-m", "lead_scoring.datagen", "--database", str(db), "--leads", "300",
         "--events-per-lead", "5", "--seed", "3", "--as-of", AS_OF, "--planted-truth"],
        cwd=str(PROJECT_ROOT), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "planted truth" in proc.stdout
    columns = {r[0] for r in _rows(db, "SELECT column_name FROM information_schema.columns "
                                       "WHERE table_schema = 'raw' AND table_name = 'leads'")}
    assert {c for c, _ in datagen.PLANTED_LEAD_COLUMNS} <= columns


# --------------------------------------------------------------------------------------------------
# the exported truth is consistent with the project
# --------------------------------------------------------------------------------------------------
def test_planted_truth_names_known_columns_and_event_types():
    event_types = set(_seed_values("ref_event_types", "event_type"))
    custom = {c for c, _ in datagen.PLANTED_LEAD_COLUMNS}
    names = [d.name for d in datagen.PLANTED_DRIVERS + datagen.PLANTED_NOISE]
    assert len(names) == len(set(names))
    assert {d.kind for d in datagen.PLANTED_DRIVERS} == {
        "categorical", "numeric_range", "event_decay", "event_property", "interaction", "segment_path"}
    for d in datagen.PLANTED_DRIVERS + datagen.PLANTED_NOISE:
        assert d.column is None or d.column in custom | {"industry", "seniority"}, d
        assert d.event_type is None or d.event_type in event_types, d
        assert (d.direction == 0) == (d.strength == 0) == (d in datagen.PLANTED_NOISE), d
        assert d.direction == 0 or (d.strength > 0) == (d.direction > 0), d
    assert all(d.direction == 0 for d in datagen.PLANTED_NOISE)
    assert {d.column for d in datagen.PLANTED_NOISE if d.column} == {"form_variant", "survey_score"}


def test_planted_rows_are_well_formed(planted_db):
    db = planted_db
    total, converted = _rows(db, "SELECT count(*), count(*) FILTER (WHERE converted) FROM lead_view")[0]
    assert 0.05 <= converted / total <= 0.12
    known = set(_seed_values("ref_event_types", "event_type"))
    planted_types = {r[0] for r in _rows(db, "SELECT DISTINCT event_type FROM raw.events WHERE event_id LIKE 'evp_%'")}
    assert planted_types == {"demo_request", "webinar_attend", "sms_click"} and planted_types <= known
    # planted events are never in the future, never loaded before they occur
    assert _rows(db, f"""SELECT count(*) FROM raw.events WHERE event_id LIKE 'evp_%'
                         AND (occurred_at > TIMESTAMP '{AS_OF}' OR _loaded_at < occurred_at
                              OR _loaded_at > TIMESTAMP '{AS_OF}')""")[0][0] == 0
    # the same eligibility as without the flag: no opportunity for invalid or competitor emails or students
    assert _rows(db, """SELECT count(*) FROM dg_latent.lead_latent WHERE has_opp
                        AND (email_kind IN (4, 5) OR sen_bucket = 6)""")[0][0] == 0
    # placeholders and case variants are there, as a CRM export has them
    raw_plan = {r[0] for r in _rows(db, "SELECT DISTINCT plan_interest FROM raw.leads")}
    assert {"N/A", "", None, "Enterprise", "enterprise", "ENTERPRISE"} <= raw_plan


# --------------------------------------------------------------------------------------------------
# each planted driver shows in the raw data
# --------------------------------------------------------------------------------------------------
def test_plan_interest_enterprise_up_and_starter_down(planted_db):
    db = planted_db
    enterprise = _rate(db, "plan_interest = 'enterprise'")
    rest = _rate(db, "plan_interest IS DISTINCT FROM 'enterprise'")
    assert _r(enterprise) >= 3 * _r(rest), (enterprise, rest)
    starter = _rate(db, "plan_interest = 'starter'")
    middle = _rate(db, "plan_interest IS DISTINCT FROM 'starter' AND plan_interest IS DISTINCT FROM 'enterprise' "
                       "AND customer_type IS DISTINCT FROM 'consumer'")
    assert _r(starter) <= 0.6 * _r(middle), (starter, middle)
    assert _r(middle) - _r(starter) > tolerance(*starter, *middle)


def test_seats_requested_is_a_range_not_a_threshold(planted_db):
    db = planted_db
    below = _rate(db, "seats < 50")
    inside = _rate(db, "seats BETWEEN 50 AND 500")
    above = _rate(db, "seats > 500")
    assert _r(inside) >= 2 * _r(below) and _r(inside) >= 2 * _r(above), (below, inside, above)
    # far above converts no better than below: no threshold explains it
    far_above = _rate(db, "seats > 1500")
    assert abs(_r(far_above) - _r(below)) < tolerance(*far_above, *below)


def test_demo_requests_cluster_in_the_14_days_before_the_opportunity(planted_db):
    db = planted_db
    recent, earlier, converters = _rows(db, """
        SELECT count(*) FILTER (WHERE e.occurred_at >= l.opp_at - INTERVAL 14 DAY AND e.occurred_at < l.opp_at),
               count(*) FILTER (WHERE e.occurred_at >= l.opp_at - INTERVAL 120 DAY
                                  AND e.occurred_at < l.opp_at - INTERVAL 60 DAY),
               count(DISTINCT l.lead_id)
        FROM lead_view l JOIN raw.events e USING (lead_id)
        WHERE l.converted AND e.event_type = 'demo_request'""")[0]
    assert converters >= 30
    # per day of window: 14 days against 60 days
    assert recent / 14 >= 10 * (earlier / 60), (recent, earlier)
    assert recent >= 3 * earlier, (recent, earlier)
    # and a demo request at any time still goes with conversion
    with_demo = _rate(db, "lead_id IN (SELECT lead_id FROM raw.events WHERE event_type = 'demo_request')")
    without = _rate(db, "lead_id NOT IN (SELECT lead_id FROM raw.events WHERE event_type = 'demo_request' "
                        "AND lead_id IS NOT NULL)")
    assert _r(with_demo) >= 2 * _r(without), (with_demo, without)


def test_long_page_views_go_with_conversion_beyond_page_view_volume(planted_db):
    db = planted_db
    per_lead = """(SELECT lead_id, count(*) AS views,
                          count(*) FILTER (WHERE TRY_CAST(try(json_extract_string(properties, '$.duration_seconds')) AS INTEGER) >= 120) AS long_views
                   FROM raw.events WHERE event_type = 'page_view' AND event_id NOT LIKE 'evb_%' AND lead_id IS NOT NULL
                   GROUP BY lead_id HAVING count(*) >= 4)"""
    mostly_long = _rate(db, f"lead_id IN (SELECT lead_id FROM {per_lead} WHERE long_views >= 0.5 * views)")
    mostly_short = _rate(db, f"lead_id IN (SELECT lead_id FROM {per_lead} WHERE long_views < 0.5 * views)")
    assert _r(mostly_long) >= 2 * _r(mostly_short), (mostly_long, mostly_short)
    # the volume of page views alone carries much less: leads with many against few views
    many = _rate(db, f"lead_id IN (SELECT lead_id FROM {per_lead} WHERE views >= 12)")
    few = _rate(db, f"lead_id IN (SELECT lead_id FROM {per_lead} WHERE views < 12)")
    assert _r(mostly_long) / _r(mostly_short) > _r(many) / _r(few), (mostly_long, mostly_short, many, few)


def test_software_and_director_plus_interact(planted_db):
    db = planted_db
    senior = "seniority IN ('c_level', 'vp', 'director')"
    both = _rate(db, f"industry = 'software' AND {senior}")
    software_only = _rate(db, f"industry = 'software' AND NOT coalesce({senior}, false)")
    senior_only = _rate(db, f"industry IS DISTINCT FROM 'software' AND industry IS NOT NULL AND {senior}")
    neither = _rate(db, f"industry IS DISTINCT FROM 'software' AND industry IS NOT NULL AND NOT coalesce({senior}, false)")
    assert _r(both) >= 1.8 * max(_r(software_only), _r(senior_only)), (both, software_only, senior_only)
    # more than additive on the log-odds scale: the interaction term is positive by a margin
    def logit(kn):
        return math.log(_r(kn) / (1 - _r(kn)))

    assert logit(both) - logit(software_only) - logit(senior_only) + logit(neither) > 0.8


def test_consumers_convert_through_webinars_and_have_no_company_fields(planted_db):
    db = planted_db
    consumer = "customer_type = 'consumer'"
    attended = "lead_id IN (SELECT lead_id FROM raw.events WHERE event_type = 'webinar_attend' AND lead_id IS NOT NULL)"
    with_webinar = _rate(db, f"{consumer} AND {attended}")
    without = _rate(db, f"{consumer} AND NOT ({attended})")
    assert _r(with_webinar) >= 5 * _r(without), (with_webinar, without)
    # a different path: for business leads webinar attendance matters far less
    b2b_with = _rate(db, f"customer_type IS DISTINCT FROM 'consumer' AND {attended}")
    b2b_without = _rate(db, f"customer_type IS DISTINCT FROM 'consumer' AND NOT ({attended})")
    assert _r(with_webinar) / _r(without) >= 3 * _r(b2b_with) / _r(b2b_without)
    domain_type = dict(zip(_seed_values("map_email_domains", "domain"),
                           _seed_values("map_email_domains", "domain_type")))
    rows = _rows(db, f"""SELECT split_part(lower(trim(email)), '@', 2), company_name, company_domain, industry_raw,
                                employee_count, annual_revenue, seats_requested, plan_interest
                         FROM lead_view WHERE {consumer}""")
    assert len(rows) >= 200
    assert all(r[1:] == (None,) * 7 for r in rows)
    assert all(domain_type.get(r[0]) == "personal" for r in rows)


# --------------------------------------------------------------------------------------------------
# the noise has no effect (and the same tolerance does catch the drivers)
# --------------------------------------------------------------------------------------------------
def test_noise_columns_and_events_have_no_effect(planted_db):
    db = planted_db
    comparisons = {
        "form_variant a": ("form_variant = 'a'", "form_variant IN ('b', 'c')"),
        "form_variant b": ("form_variant = 'b'", "form_variant IN ('a', 'c')"),
        "form_variant missing": ("form_variant IS NULL", "form_variant IS NOT NULL"),
        "survey_score missing": ("survey IS NULL", "survey IS NOT NULL"),
        "survey_score high": ("survey >= 6", "survey <= 5"),
        "survey_score middle": ("survey BETWEEN 3 AND 7", "survey NOT BETWEEN 3 AND 7"),
        "sms_click": ("lead_id IN (SELECT lead_id FROM raw.events WHERE event_type = 'sms_click')",
                      "lead_id NOT IN (SELECT lead_id FROM raw.events WHERE event_type = 'sms_click' AND lead_id IS NOT NULL)"),
    }
    for name, (a, b) in comparisons.items():
        ka, kb = _rate(db, a), _rate(db, b)
        assert abs(_r(ka) - _r(kb)) < tolerance(*ka, *kb), (name, ka, kb)
    # the same test separates each planted attribute driver from the rest
    for a, b in (("plan_interest = 'enterprise'", "plan_interest IS DISTINCT FROM 'enterprise'"),
                 ("seats BETWEEN 50 AND 500", "seats IS NULL OR seats NOT BETWEEN 50 AND 500"),
                 ("plan_interest = 'starter'", "plan_interest IS DISTINCT FROM 'starter'")):
        ka, kb = _rate(db, a), _rate(db, b)
        assert abs(_r(ka) - _r(kb)) > tolerance(*ka, *kb), (a, ka, kb)


def test_lead_planted_flags_match_the_raw_columns(planted_db):
    """The per-lead flags kept for tests agree with what raw.leads shows (a consumer has customer_type
    consumer, a planted enterprise lead says enterprise), so tests elsewhere can rely on them."""
    db = planted_db
    mismatches = _rows(db, """
        SELECT count(*) FILTER (WHERE p.is_consumer <> coalesce(v.customer_type = 'consumer', false)),
               count(*) FILTER (WHERE p.plan_interest IS DISTINCT FROM v.plan_interest),
               count(*) FILTER (WHERE p.seats_requested IS DISTINCT FROM v.seats)
        FROM dg_latent.lead_planted p JOIN lead_view v USING (lead_id)""")[0]
    assert mismatches == (0, 0, 0)
    flags = _rows(db, """SELECT count(*) FILTER (WHERE in_market), count(*) FILTER (WHERE deep_reader),
                                count(*) FILTER (WHERE webinar_attendee), count(*) FILTER (WHERE software_director_plus)
                         FROM dg_latent.lead_planted""")[0]
    assert all(f >= 50 for f in flags)
    # every in-market lead has its planted demo requests
    assert _rows(db, """SELECT count(*) FROM dg_latent.lead_planted p WHERE in_market AND NOT EXISTS (
                            SELECT 1 FROM raw.events e WHERE e.lead_id = p.lead_id AND e.event_id LIKE 'evp_int_%')""")[0][0] == 0
