"""Rules on event properties, the B2C starter model (switched on in a copy of the seeds) and the rule-health marts,
on a hand-written B2C-style export: the marts agree with the oracle lead for lead, hand-worked property edges, an
incremental build equals a full one, a switched-off model scores nothing, and bad property seeds fail with the
file, the row and the fix."""
from __future__ import annotations

import datetime as dt
import json
import random
from collections import defaultdict

import pytest

import oracle
from conftest import AS_OF, PROJECT_ROOT, assert_dbt_ok, copy_project, query, run_dbt
from test_oracle import _check_accounts, _check_reasons, _diff, _mart_scores, _report
from test_rule_configuration import edit_seed

MODEL = "b2c_education"
B2C_COLUMNS = ("lead_origin", "occupation", "total_visits", "page_views_per_visit", "last_activity",
               "what_matters_most", "specialization", "do_not_email")
LEAD_COLUMNS = oracle.LEAD_CONTRACT_COLUMNS + B2C_COLUMNS
AS_OF_DT = oracle.parse_as_of(AS_OF)
# events loaded after this instant are the second batch of the incremental test
SPLIT_AT = AS_OF_DT - dt.timedelta(days=2)
TOL = 1e-6

# A rule on the B2C model of the test copy that uses a range and points per unit together.
RANGE_AND_UNIT_RULE = dict(
    model_id=MODEL, rule_id="t_range_and_unit", rule_group="web", event_type="page_view", channel="", match_field="",
    pattern="", points="2", decay_method="linear", decay_days="60", max_points="10",
    description="2 points per 30 seconds of a page view lasting 30 seconds to 10 minutes",
    property_name="duration_seconds", property_min="30", property_max="600", property_unit="30",
)


# --------------------------------------------------------------------------------------------------
# the export: B2C leads with custom columns, page views with time on site as an event property
# --------------------------------------------------------------------------------------------------
def _b2c_raw(n=150, seed=31):
    rng = random.Random(seed)
    leads, events, opportunities = [], [], []
    ago = lambda days, h=12, m=0, s=0: dt.datetime(2026, 11, 1, h, m, s) - dt.timedelta(days=days)  # noqa: E731
    seq = iter(range(1_000_000))

    def lead(lead_id, created, **kw):
        row = {c: None for c in LEAD_COLUMNS}
        row.update(lead_id=lead_id, email=f"{lead_id.lower()}@gmail.com", created_at=created, updated_at=created,
                   _loaded_at=created, is_deleted=False)
        row.update(kw)
        leads.append(row)

    def ev(lead_id, event_type, when, properties=None, **kw):
        loaded = AS_OF_DT - dt.timedelta(hours=1) if when > AS_OF_DT - dt.timedelta(days=3) else when + dt.timedelta(minutes=5)
        row = dict(event_id=f"b{next(seq):06d}", lead_id=lead_id, event_type=event_type, channel="website",
                   occurred_at=when, page_url=None, search_term=None,
                   properties=properties if properties is None or isinstance(properties, str) else json.dumps(properties),
                   _loaded_at=loaded)
        row.update(kw)
        events.append(row)

    occupations = ["Working Professional", "Unemployed", "Student", "Businessman", "Other", None]
    origins = ["Landing Page Submission", "API", "Lead Add Form", "Lead Import"]
    sources = ["Google", "Direct Traffic", "Olark Chat", "Organic Search", "Reference", "Welingak Website", None]
    activities = ["Email Opened", "SMS Sent", "Olark Chat Conversation", "Page Visited on Website", "Converted to Lead",
                  "Email Bounced", "Email Link Clicked", "Form Submitted on Website", "Unreachable", "Unsubscribed",
                  "Had a Phone Conversation", None]
    durations = [5, 9.99, 10, 45, 60, 90, 299.999, 300, 420, 1800, "75", "1.2e2", None]
    for i in range(n):
        lead_id = f"B{i:04d}"
        created = AS_OF_DT - dt.timedelta(days=rng.randint(1, 150), hours=rng.randint(1, 23))
        occupation = rng.choice(occupations)
        lead(lead_id, created,
             email=rng.choice([f"{lead_id.lower()}@gmail.com", f"{lead_id.lower()}@school-{i % 7}.edu", "not-an-email",
                               None]),
             lead_source=rng.choice(sources), country=rng.choice(["India", "India", "Singapore", None]),
             city=rng.choice(["Mumbai", "Thane & Outskirts", "Other Cities", None]),
             lead_origin=rng.choice(origins), occupation=occupation,
             total_visits=rng.choice(["0", "2", "3", "5", "12", None, "abc"]),
             page_views_per_visit=rng.choice(["1", "2.5", "3", "4.33", None]),
             last_activity=rng.choice(activities),
             what_matters_most=rng.choice(["Better Career Prospects", "Flexibility & Convenience", None]),
             specialization=rng.choice(["Finance Management", "Marketing Management", None]),
             do_not_email=rng.choice(["No", "No", "Yes"]))
        for _ in range(rng.randint(0, 12)):
            when = AS_OF_DT - dt.timedelta(days=rng.randint(0, 120), seconds=rng.randint(1, 86_399))
            event_type = rng.choice(["page_view"] * 8 + ["form_submit", "email_open", "email_click", "sms_click",
                                                         "content_download", "webinar_attend"] * 2
                                    + ["email_bounce", "unsubscribe"])
            if event_type == "page_view":
                duration = rng.choice(durations)
                ev(lead_id, event_type, when,
                   {"user_agent": "Mozilla"} if duration is None else {"duration_seconds": duration, "user_agent": "x"},
                   page_url=rng.choice(["/", "/courses/data-science", "/fees", "/pricing", "/blog/a", "/apply"]))
            else:
                ev(lead_id, event_type, when, channel="email" if event_type.startswith(("email", "unsub")) else "website")
        hot = rng.random() < 0.25
        for k in range(6 if hot else 0):  # a hot lead: recent long visits to the fees page, then an application
            when = AS_OF_DT - dt.timedelta(days=rng.randint(0, 10), seconds=rng.randint(1, 86_399))
            if k < 5:
                ev(lead_id, "page_view", when, {"duration_seconds": rng.choice([240, 420, 900])}, page_url="/fees")
            else:
                ev(lead_id, "form_submit", when)
        if rng.random() < (0.45 if hot else 0.35 if occupation == "Working Professional" else 0.12):
            opened = created + dt.timedelta(days=1)
            opportunities.append(dict(opportunity_id=f"o{i}", lead_id=lead_id, created_at=opened, stage="open",
                                      is_won=False, closed_at=None, amount=1000.0, _loaded_at=opened))

    base = AS_OF_DT - dt.timedelta(days=200)
    # hand-worked leads, one per edge of the property rules (test_property_edges_hand_worked)
    lead("P_unit", base, occupation="Working Professional")
    ev("P_unit", "page_view", ago(1), {"duration_seconds": 90})
    lead("P_text_numbers", base)
    ev("P_text_numbers", "page_view", ago(1), {"duration_seconds": "120"})
    ev("P_text_numbers", "page_view", ago(1, 13), {"duration_seconds": "1.2e2"})
    lead("P_not_numbers", base)
    for props in ({"duration_seconds": "abc"}, {"duration_seconds": True}, {"duration_seconds": None},
                  {"duration_seconds": {"s": 60}}, {"duration_seconds": [60]}, {"duration_seconds": "1_000"},
                  {"duration_seconds": " 60"}, {"duration_seconds": "NaN"}, {"other": 60},
                  "{'duration_seconds': 60}", '{"duration_seconds": 60', "duration_seconds=60", None):
        ev("P_not_numbers", "page_view", ago(2), props)
    lead("P_bounds", base)
    ev("P_bounds", "page_view", ago(1, 9), {"duration_seconds": 300})
    ev("P_bounds", "page_view", ago(1, 10), {"duration_seconds": 299.999})
    ev("P_bounds", "page_view", ago(1, 11), {"duration_seconds": 10})
    ev("P_bounds", "page_view", ago(1, 12), {"duration_seconds": 9.99})
    lead("P_huge", base)
    ev("P_huge", "page_view", ago(1, 9), {"duration_seconds": 1e12})
    ev("P_huge", "page_view", ago(1, 10), {"duration_seconds": 2e12})
    ev("P_huge", "page_view", ago(1, 11), '{"duration_seconds": 1e400}')
    lead("P_negative", base)
    ev("P_negative", "page_view", ago(1), {"duration_seconds": -30})
    lead("P_duplicate_key", base)
    ev("P_duplicate_key", "page_view", ago(1), '{"duration_seconds": 600, "duration_seconds": 6}')
    lead("P_burst", base)
    for s in range(30):
        ev("P_burst", "page_view", dt.datetime(2026, 10, 25, 3, 4, s), {"duration_seconds": 100})
    lead("P_student", base, occupation=" student ", last_activity="SMS Sent")
    return {"leads": leads, "events": events, "opportunities": opportunities}


RAW_TYPES = {"annual_revenue": "DOUBLE", "created_at": "TIMESTAMP", "updated_at": "TIMESTAMP", "is_deleted": "BOOLEAN",
             "_loaded_at": "TIMESTAMP", "occurred_at": "TIMESTAMP", "closed_at": "TIMESTAMP", "is_won": "BOOLEAN",
             "amount": "DOUBLE"}
TABLE_COLUMNS = {
    "leads": LEAD_COLUMNS,
    "events": oracle.EVENT_CONTRACT_COLUMNS,
    "opportunities": ("opportunity_id", "lead_id", "created_at", "stage", "is_won", "closed_at", "amount", "_loaded_at"),
}


def _write_raw(db_path, raw, lead_columns=LEAD_COLUMNS, events_filter=None):
    import duckdb

    con = duckdb.connect(str(db_path))
    try:
        con.execute("create schema if not exists raw")
        for table, columns in TABLE_COLUMNS.items():
            columns = lead_columns if table == "leads" else columns
            ddl = ", ".join(f"{c} {RAW_TYPES.get(c, 'VARCHAR')}" for c in columns)
            con.execute(f"create or replace table raw.{table} ({ddl})")
            rows = [r for r in raw[table] if table != "events" or events_filter is None or events_filter(r)]
            if rows:
                con.executemany(f"insert into raw.{table} values ({', '.join('?' for _ in columns)})",
                                [[r.get(c) for c in columns] for r in rows])
    finally:
        con.close()


def _append_events(db_path, rows):
    import duckdb

    con = duckdb.connect(str(db_path))
    try:
        columns = oracle.EVENT_CONTRACT_COLUMNS
        con.executemany(f"insert into raw.events values ({', '.join('?' for _ in columns)})",
                        [[r.get(c) for c in columns] for r in rows])
    finally:
        con.close()


def _switch_on_b2c(project):
    edit_seed(project, "scoring_models",
              lambda rows: [dict(r, is_enabled="true") if r["model_id"] == MODEL else r for r in rows])
    edit_seed(project, "scoring_engagement_rules", lambda rows: rows + [dict(RANGE_AND_UNIT_RULE)])


def _build(project, db_path, *extra, as_of=AS_OF):
    return run_dbt(project, db_path, "build", "--exclude", "test_type:unit", *extra, vars={"as_of": as_of},
                   target_path=project / "target", log_path=project / "logs")


@pytest.fixture(scope="module")
def b2c_project(tmp_path_factory):
    project = tmp_path_factory.mktemp("b2c") / "project"
    copy_project(PROJECT_ROOT, project)
    _switch_on_b2c(project)
    return project


@pytest.fixture(scope="module")
def b2c_warehouse(b2c_project):
    """The export built in full with the B2C model switched on (beside the default model), and the oracle."""
    db_path = b2c_project.parent / "b2c.duckdb"
    _write_raw(db_path, _b2c_raw())
    proc = _build(b2c_project, db_path)
    assert_dbt_ok(proc, "dbt build of the B2C export with b2c_education switched on")
    return db_path, oracle.run_oracle(db_path, b2c_project / "seeds", AS_OF), proc.stdout


# --------------------------------------------------------------------------------------------------
# (1) the marts agree with the oracle, lead for lead, on both models
# --------------------------------------------------------------------------------------------------
def test_b2c_scores_match_oracle(b2c_warehouse):
    db_path, result, _ = b2c_warehouse
    mart = _mart_scores(db_path)
    expected = result.scores
    assert {k[0] for k in expected} == {"default", MODEL}
    assert sum(1 for k in mart if k[0] == MODEL) == len(result.leads) >= 150
    missing, extra = sorted(set(expected) - set(mart)), sorted(set(mart) - set(expected))
    assert not missing and not extra, f"only in the oracle: {missing[:5]}, only in the mart: {extra[:5]}"
    diffs = [(k, d) for k in sorted(expected) if (d := _diff(expected[k], mart[k]))]
    assert not diffs, _report(diffs, limit=20)


def test_b2c_reasons_and_accounts_match_oracle(b2c_warehouse):
    db_path, result, _ = b2c_warehouse
    _check_reasons(db_path, result)
    _check_accounts(db_path, result)


def test_b2c_rules_fire_on_the_export(b2c_warehouse):
    """The starter model's rules reach the export: every kind of rule fires on some lead."""
    db_path, _, _ = b2c_warehouse
    fired = {r["rule_id"] for r in query(db_path, "select distinct rule_id from marts.lead_score_reasons "
                                                  "where model_id = ? and rule_id is not null", [MODEL])}
    for rule_id in ("b2c_fit_occupation_working", "b2c_fit_origin_add_form", "b2c_fit_last_sms",
                    "b2c_fit_visits_3_plus", "b2c_eng_time_on_site", "b2c_eng_long_visit", "b2c_neg_short_visit",
                    "t_range_and_unit", "b2c_sig_bot_burst"):
        assert rule_id in fired, f"{rule_id} fired on no lead"
    stages = {r["lifecycle_stage"] for r in query(db_path, "select distinct lifecycle_stage from marts.lead_scores "
                                                           "where model_id = ?", [MODEL])}
    assert "mql" in stages and "disqualified" not in stages


# --------------------------------------------------------------------------------------------------
# (2) the property edges, worked by hand (guards the oracle) and read from the mart
# --------------------------------------------------------------------------------------------------
def test_property_edges_hand_worked(b2c_warehouse):
    db_path, result, _ = b2c_warehouse
    points = lambda lead_id: result.engagement_rule_points.get((MODEL, lead_id), {})  # noqa: E731
    mart = defaultdict(dict)
    for r in query(db_path, "select lead_id, rule_id, points from marts.lead_score_reasons "
                            "where model_id = ? and lead_id like 'P\\_%' escape '\\' and rule_id is not null", [MODEL]):
        mart[r["lead_id"]][r["rule_id"]] = r["points"]
    one_day = 0.5 ** (1 / 30)
    # 90 seconds, 1 point per 60 seconds: 1.5 points, a day old (half-life 30); 90 is in [30, 600): 2 * 90 / 30,
    # linear over 60 days
    assert points("P_unit")["b2c_eng_time_on_site"] == pytest.approx(1.5 * one_day)
    assert points("P_unit")["t_range_and_unit"] == pytest.approx(6 * (1 - 1 / 60))
    # "120" and "1.2e2" are numbers: 2 minutes each
    assert points("P_text_numbers")["b2c_eng_time_on_site"] == pytest.approx(4 * one_day)
    # none of these holds a number: only the plain page-view rule fires
    assert set(points("P_not_numbers")) == {"b2c_eng_page_view"}
    # 300 is a long visit, 299.999 is not; 9.99 is a bounce (< 10), 10 is not
    assert points("P_bounds")["b2c_eng_long_visit"] == pytest.approx(3 * one_day)
    assert points("P_bounds")["b2c_neg_short_visit"] == -1.0
    # 1e12 counts (capped at 20); 2e12 and 1e400 are beyond 1e12
    assert points("P_huge")["b2c_eng_time_on_site"] == 20.0
    assert "b2c_eng_long_visit" in points("P_huge")
    # a negative duration never earns points per unit, and is below 10
    assert "b2c_eng_time_on_site" not in points("P_negative")
    assert points("P_negative")["b2c_neg_short_visit"] == -1.0
    # the first of a key written twice counts: 600 is a long visit, and outside [30, 600)
    assert "b2c_eng_long_visit" in points("P_duplicate_key") and "t_range_and_unit" not in points("P_duplicate_key")
    # burst events earn nothing from positive rules
    assert not points("P_burst") and result.signals[(MODEL, "P_burst")]["b2c_sig_bot_burst"] == -20.0
    # students are scored, never disqualified, in the B2C model (the default model disqualifies them only by title)
    assert result.fired_fit_rules[(MODEL, "P_student")]["b2c_fit_occupation_student"] == 10.0
    assert result.scores[(MODEL, "P_student")]["has_disqualifier"] is False
    for lead_id in ("P_unit", "P_text_numbers", "P_not_numbers", "P_bounds", "P_huge", "P_negative",
                    "P_duplicate_key"):
        assert set(mart[lead_id]) >= set(points(lead_id)), lead_id
        for rule_id, value in points(lead_id).items():
            assert mart[lead_id][rule_id] == pytest.approx(value, abs=TOL), (lead_id, rule_id)


# --------------------------------------------------------------------------------------------------
# (3) rule health on the export, recomputed from the oracle
# --------------------------------------------------------------------------------------------------
def test_rule_health_matches_the_oracle(b2c_warehouse):
    db_path, result, _ = b2c_warehouse
    converted = {r["lead_id"] for r in query(db_path, "select distinct lead_id from raw.opportunities")}
    excluded = {k for k, s in result.scores.items() if s["lifecycle_stage"] == "excluded"}
    rows = query(db_path, "select * from marts.scoring_rule_health")
    assert {r["model_id"] for r in rows} == {"default", MODEL}
    checked = 0
    for r in rows:
        population = [k[1] for k in result.scores if k[0] == r["model_id"] and k not in excluded]
        if r["axis"] == "fit":
            source = result.fired_fit_rules
        elif r["rule_source"] == "engagement":
            source = result.engagement_rule_points
        else:
            source = result.signals
        fired = {lead for lead in population if source.get((r["model_id"], lead), {}).get(r["rule_id"], 0) != 0}
        assert r["scored_leads"] == len(population) and r["fired_leads"] == len(fired), r
        assert r["fired_share"] == pytest.approx(round(len(fired) / len(population), 6)), r
        with_rate = len(fired & converted) / len(fired) if fired else None
        others = set(population) - fired
        without_rate = len(others & converted) / len(others) if others else None
        assert (r["conversion_rate_with"] is None) == (with_rate is None), r
        if with_rate is not None:
            assert r["conversion_rate_with"] == pytest.approx(with_rate, abs=1e-6)
        if without_rate is not None:
            assert r["conversion_rate_without"] == pytest.approx(without_rate, abs=1e-6)
        expected_issue = ("fires_on_almost_every_lead" if r["fired_share"] >= 0.95
                          else "almost_never_fires" if r["fired_share"] <= 0.005 else None)
        assert r["health_issue"] == expected_issue, r
        if expected_issue:
            assert r["rule_id"] in r["health_fix"] and "Fix:" in r["health_fix"]
        checked += 1
    assert checked == len(rows) > 40
    bands = {(r["model_id"], r["axis"]): r for r in query(db_path, "select * from marts.scoring_band_health")}
    for model_id in ("default", MODEL):
        scored = [s for k, s in result.scores.items() if k[0] == model_id and k not in excluded]
        for axis in ("fit_grade", "engagement_level"):
            counts = defaultdict(int)
            for s in scored:
                counts[s[axis]] += 1
            top = max(counts.values())
            row = bands[(model_id, axis)]
            assert row["top_band_leads"] == top and row["band_count"] == len(counts)
            assert row["top_band"] == min(b for b, n in counts.items() if n == top)
            assert (row["health_issue"] is not None) == (top / len(scored) >= 0.9)


def test_rule_health_warnings_name_the_rule_and_the_fix(b2c_warehouse):
    """The warning tests run in the build: a warning (never an error) for each flagged rule or axis."""
    db_path, _, stdout = b2c_warehouse
    flagged = query(db_path, "select count(*) as n from marts.scoring_rule_health where health_issue is not null")[0]["n"]
    warn_lines = [line for line in stdout.splitlines() if "no_health_issue_scoring_rule_health" in line and "WARN" in line]
    assert (flagged > 0) == bool(warn_lines)
    assert not [line for line in stdout.splitlines() if "no_health_issue" in line and "ERROR" in line]


# --------------------------------------------------------------------------------------------------
# (4) incremental: the property rules' buckets equal a full build's
# --------------------------------------------------------------------------------------------------
def test_incremental_property_buckets_equal_full_build(b2c_project, b2c_warehouse):
    full_db, _, _ = b2c_warehouse
    raw = _b2c_raw()
    db_path = b2c_project.parent / "b2c_incremental.duckdb"
    first = lambda r: r["_loaded_at"] <= SPLIT_AT  # noqa: E731
    _write_raw(db_path, raw, events_filter=first)
    assert_dbt_ok(_build(b2c_project, db_path, as_of=(SPLIT_AT - dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")),
                  "first build (batch 1)")
    later = [r for r in raw["events"] if not first(r)]
    assert len(later) > 20
    _append_events(db_path, later)
    proc = _build(b2c_project, db_path)
    assert_dbt_ok(proc, "incremental build (batch 2)")
    assert "int_engagement_daily_points: full rebuild" not in proc.stdout, "the second build should be incremental"

    cols = "model_id, lead_id, activity_date, rule_id, event_count, base_points, last_occurred_at"
    sql = f"select {cols} from intermediate.int_engagement_daily_points order by {cols}"
    incremental, full = query(db_path, sql), query(full_db, sql)
    assert any(r["rule_id"] == "b2c_eng_time_on_site" for r in full)
    assert incremental == full  # exact: the buckets are exact sums
    for table, cols in (("lead_scores", "model_id, lead_id, fit_score, engagement_score, lead_score, matrix_cell"),
                        ("lead_score_reasons", "model_id, lead_id, axis, reason_type, rule_id, rule_group, points")):
        sql = f"select {cols} from marts.{table}"
        ordered = lambda rows: sorted(rows, key=lambda r: tuple(str(v) for v in r.values()))  # noqa: E731
        assert ordered(query(db_path, sql)) == ordered(query(full_db, sql)), table


# --------------------------------------------------------------------------------------------------
# (5) the shipped seeds: the B2C model is switched off and scores nothing; the default model is unchanged
# --------------------------------------------------------------------------------------------------
def test_switched_off_model_scores_nothing(b2c_warehouse, tmp_path):
    full_db, _, _ = b2c_warehouse
    project = tmp_path / "project"
    copy_project(PROJECT_ROOT, project)
    db_path = tmp_path / "shipped.duckdb"
    _write_raw(db_path, _b2c_raw())
    assert_dbt_ok(_build(project, db_path), "dbt build with the shipped seeds")
    for table in ("lead_scores", "lead_score_reasons", "account_scores", "lead_assignments", "scoring_rule_health",
                  "scoring_band_health"):
        models = {r["model_id"] for r in query(db_path, f"select distinct model_id from marts.{table}")}
        assert MODEL not in models, table
    assert not query(db_path, "select 1 from intermediate.int_engagement_daily_points where model_id = ?", [MODEL])
    sql = "select * from marts.lead_scores where model_id = 'default' order by lead_id"
    drop = ("scored_at", "ruleset_version")
    strip = lambda rows: [{k: v for k, v in r.items() if k not in drop} for r in rows]  # noqa: E731
    assert strip(query(db_path, sql)) == strip(query(full_db, sql))
    # switching the model on changes the rule-set version; switching it off gives back the shipped one
    versions = [query(db, "select distinct ruleset_version from marts.lead_scores") for db in (db_path, full_db)]
    assert len(versions[0]) == len(versions[1]) == 1 and versions[0] != versions[1]


# --------------------------------------------------------------------------------------------------
# (6) bad property seeds and a model switched on without its columns fail with the file, the row and the fix
# --------------------------------------------------------------------------------------------------
@pytest.fixture
def raw_project(tmp_path):
    project = tmp_path / "project"
    copy_project(PROJECT_ROOT, project)
    _write_raw(project.parent / "wh.duckdb", _b2c_raw(n=20))
    return project


def test_bad_property_rules_fail_with_file_row_and_fix(raw_project):
    template = dict(RANGE_AND_UNIT_RULE, model_id="default")
    bad = [
        dict(template, rule_id="t_min_above_max", property_min="600", property_max="30", property_unit=""),
        dict(template, rule_id="t_unit_without_property", property_name="", property_min="", property_max=""),
        dict(template, rule_id="t_bound_not_a_number", property_min="one minute"),
        dict(template, rule_id="t_bad_property_name", property_name="duration seconds"),
        dict(template, rule_id="t_unit_zero", property_unit="0"),
    ]
    edit_seed(raw_project, "scoring_engagement_rules", lambda rows: rows + bad)
    proc = _build(raw_project, raw_project.parent / "wh.duckdb", "--select", "+stg_rules__engagement_rules")
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    seed = "seeds/scoring_engagement_rules.csv, row model_id = default, rule_id = "
    for fragment in (
        seed + "t_min_above_max: property_min 600 is not below property_max 30: no value can match. Fix:",
        seed + "t_unit_without_property: property_unit is set but property_name is blank. Fix: name the event property",
        seed + "t_bound_not_a_number: property_min is 'one minute', which is not a number. Fix:",
        seed + "t_bad_property_name: property_name is 'duration seconds', which is not a plain property name. Fix:",
        seed + "t_unit_zero: property_unit is '0', which is not above 0. Fix:",
    ):
        assert fragment in output, f"{fragment!r} not in the build output:\n{output[-4000:]}"


def test_switching_on_a_model_whose_columns_the_export_lacks_names_them(tmp_path):
    project = tmp_path / "project"
    copy_project(PROJECT_ROOT, project)
    _switch_on_b2c(project)
    db_path = tmp_path / "wh.duckdb"
    _write_raw(db_path, _b2c_raw(n=20), lead_columns=oracle.LEAD_CONTRACT_COLUMNS)
    proc = _build(project, db_path, "--select", "+stg_rules__fit_rules")
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert ("seeds/scoring_fit_rules.csv, row model_id = b2c_education, rule_id = b2c_fit_occupation_working: "
            "attribute is 'occupation', which is not one of:") in output, output[-3000:]


@pytest.mark.parametrize("edit, expected", [
    pytest.param(lambda rows: [dict(r, is_enabled="maybe") if r["model_id"] == MODEL else r for r in rows],
                 "seeds/scoring_models.csv, row model_id = b2c_education: is_enabled is 'maybe', which is not one of: "
                 "true, false. Fix:", id="not-true-or-false"),
    pytest.param(lambda rows: [dict(r, is_enabled="false") for r in rows],
                 "seeds/scoring_models.csv, row (all): every scoring model has is_enabled = false, so nothing would be "
                 "scored. Fix:", id="all-switched-off"),
])
def test_bad_is_enabled_fails_with_file_row_and_fix(raw_project, edit, expected):
    edit_seed(raw_project, "scoring_models", edit)
    proc = _build(raw_project, raw_project.parent / "wh.duckdb", "--select", "+stg_rules__scoring_models")
    assert proc.returncode != 0
    assert expected in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-3000:]
