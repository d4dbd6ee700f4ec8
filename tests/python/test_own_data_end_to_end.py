"""Bring your own data, end to end (issue 31), as a user does it (docs/your_own_data.md): a hand-written B2C
education CRM export (tests/fixtures/own_data/*.csv: form answers as categories, placeholders `Select`, `N/A`,
`未知` and blanks, a trailing comma on every line, `DD-MM-YYYY HH:MM` timestamps, custom columns read by the
b2c_education fit rules, page views with `duration_seconds` in a JSON `properties`, and a few bad rows of each kind)
landed with `lead-scoring load` into a copy of the project in which the user declared the day-first timestamp form
and switched the b2c_education starter model on; then `dbt build` at a fixed as_of and `lead-scoring report`.

Every expected value below is worked out by hand from the fixture files and docs/scoring_rules.md; the comments
show the working. as_of = 2026-11-01 00:00:00, so as_of_date = 2026-11-01.

Then the same export without the declared form: every row is `bad_timestamp` and the build fails, naming
quarantine_share_below_error_limit.
"""
from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import AS_OF, PROJECT_ROOT, assert_dbt_ok, copy_project, query, run_dbt

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "own_data"
CLI = Path(sys.executable).parent / "lead-scoring"
MODEL = "b2c_education"
DAY_FIRST = "%d-%m-%Y %H:%M"
UNIT_EXCLUDE = ("--exclude", "test_type:unit")
TOL = 1e-6


def decay(age_days: float, half_life: float) -> float:
    """docs/scoring_rules.md, "Decay": exponential is 0.5 ^ (a / h)."""
    return 0.5 ** (age_days / half_life)


# --------------------------------------------------------------------------------------------------
# what the user does
# --------------------------------------------------------------------------------------------------
def _edit_csv(path: Path, edit) -> None:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(edit(rows))


def declare_day_first(project: Path) -> None:
    """Step 1 of the guide: one row in seeds/raw_timestamp_formats.csv."""
    _edit_csv(project / "seeds" / "raw_timestamp_formats.csv", lambda rows: rows + [
        dict(format_order="40", timestamp_format=DAY_FIRST, description="The CRM export's day-first form (05-09-2026 10:30)"),
    ])


def switch_on_b2c(project: Path) -> None:
    """Step 2 of the guide: is_enabled = true for b2c_education in seeds/scoring_models.csv."""
    _edit_csv(project / "seeds" / "scoring_models.csv",
              lambda rows: [dict(r, is_enabled="true") if r["model_id"] == MODEL else r for r in rows])


def load(db: Path, folder: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(CLI), "load", "--database", str(db), "--replace", str(folder)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@dataclass
class Built:
    root: Path
    project: Path
    db: Path
    load_output: str
    build_output: str
    returncode: int


def _copy_load_build(root: Path, *, declare: bool) -> Built:
    project = copy_project(PROJECT_ROOT, root / "project")
    if declare:
        declare_day_first(project)
    switch_on_b2c(project)
    db = root / "warehouse.duckdb"
    loaded = load(db, FIXTURES)
    proc = run_dbt(project, db, "build", *UNIT_EXCLUDE, vars={"as_of": AS_OF}, target_path=root / "target",
                   log_path=root / "logs")
    return Built(root, project, db, loaded.stdout + loaded.stderr, proc.stdout + proc.stderr, proc.returncode)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    b = _copy_load_build(tmp_path_factory.mktemp("own_data"), declare=True)
    assert b.returncode == 0, b.build_output[-4000:]
    return b


@pytest.fixture(scope="module")
def undeclared(tmp_path_factory) -> Built:
    return _copy_load_build(tmp_path_factory.mktemp("own_data_undeclared"), declare=False)


def _reasons(db: Path, lead_id: str) -> dict:
    rows = query(db, "select rule_id, points from marts.lead_score_reasons "
                     "where model_id = ? and lead_id = ? and rule_id is not null", [MODEL, lead_id])
    return {r["rule_id"]: r["points"] for r in rows}


def _scores(db: Path, lead_id: str) -> dict:
    return query(db, "select fit_score, engagement_score, fit_grade from marts.lead_scores "
                     "where model_id = ? and lead_id = ?", [MODEL, lead_id])[0]


# --------------------------------------------------------------------------------------------------
# the load
# --------------------------------------------------------------------------------------------------
def test_loader_lands_every_row_and_keeps_the_custom_columns(built):
    counts = {t: query(built.db, f"select count(*) as n from raw.{t}")[0]["n"]
              for t in ("leads", "events", "opportunities")}
    assert counts == {"leads": 14, "events": 12, "opportunities": 2}
    columns = {r["column_name"] for r in query(
        built.db, "select column_name from information_schema.columns where table_schema = 'raw' "
                  "and table_name = 'leads'")}
    assert {"lead_origin", "occupation", "what_matters_most", "specialization", "last_activity", "total_visits",
            "page_views_per_visit", "do_not_email"} <= columns
    assert "empty header" in built.load_output  # the trailing comma's unnamed column is dropped with a note
    # loading the same folder again adds nothing
    again = subprocess.run([str(CLI), "load", "--database", str(built.root / "reload.duckdb"), str(FIXTURES)],
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    again = subprocess.run([str(CLI), "load", "--database", str(built.root / "reload.duckdb"), str(FIXTURES)],
                           capture_output=True, text=True)
    assert again.returncode == 0 and "already loaded" in again.stdout, again.stdout + again.stderr
    assert query(built.root / "reload.duckdb", "select count(*) as n from raw.leads") == [{"n": 14}]


# --------------------------------------------------------------------------------------------------
# quarantine and reconciliation
# --------------------------------------------------------------------------------------------------
def test_quarantined_rows_and_reasons(built):
    leads = query(built.db, "select lead_id, reason_code from marts.quarantined_leads order by lead_id nulls first")
    assert [(r["lead_id"], r["reason_code"]) for r in leads] == [
        (None, "missing_lead_id"),  # the row without an id
        ("E013", "bad_timestamp"),  # created_at 'yesterday'
    ]
    events = query(built.db, "select event_id, reason_code from marts.quarantined_events order by event_id")
    assert [(r["event_id"], r["reason_code"]) for r in events] == [
        ("ev010", "unknown_lead"),  # E099 is in no leads file
        ("ev011", "future_event"),  # 05-11-2026, after as_of
        ("ev012", "bad_timestamp"),  # 31.10.2026 10:00: dots, a form nobody declared
    ]


def test_reconciliation(built):
    rec = {r["source_table"]: (r["raw_rows"], r["staged_rows"], r["quarantined_rows"], r["superseded_rows"],
                               r["is_reconciled"])
           for r in query(built.db, "select * from marts.pipeline_reconciliation")}
    assert rec == {
        # 14 rows: E001-E011 staged (11), the id-less row and E013 quarantined (2), E011's first version superseded
        "leads": (14, 11, 2, 1, True),
        "events": (12, 9, 3, 0, True),
        "opportunities": (2, 2, 0, 0, True),
    }


def test_quarantine_rates(built):
    rates = {r["source_table"]: r for r in query(built.db, "select * from marts.quarantine_rates")}
    # the future event is not known at as_of, so it is not judged: events 2 of 11
    assert {t: (r["judged_quarantined_rows"], r["judged_rows"], r["not_yet_known_rows"], r["rate_status"])
            for t, r in rates.items()} == {
        "leads": (2, 14, 0, "warn"),  # 14.3% > 5%
        "events": (2, 11, 1, "warn"),  # 18.2% > 5%
        "opportunities": (0, 2, 0, "ok"),
    }
    assert rates["leads"]["top_reasons"] == "bad_timestamp 1 (50.0%), missing_lead_id 1 (50.0%)"
    assert rates["events"]["top_reasons"] == "bad_timestamp 1 (50.0%), unknown_lead 1 (50.0%)"
    assert rates["events"]["message"].startswith("raw.events: 18.2% quarantined (2 of 11 raw rows known at as_of")
    assert rates["leads"]["message"].startswith("raw.leads: 14.3% quarantined (2 of 14 raw rows known at as_of")
    assert "WARN 2 quarantine_share_below_warn_limit" in built.build_output


# --------------------------------------------------------------------------------------------------
# placeholders
# --------------------------------------------------------------------------------------------------
def test_placeholder_counts_for_specialization(built):
    rows = query(built.db, "select placeholder_value, raw_rows, lead_count from marts.placeholder_values "
                           "where column_name = 'specialization' order by placeholder_value")
    # Select: E002, E005; N/A: E003, E009; 未知: E006; E010's blank is a blank, not a placeholder
    assert [(r["placeholder_value"], r["raw_rows"], r["lead_count"]) for r in rows] == [
        ("n/a", 2, 2), ("select", 2, 2), ("未知", 1, 1),
    ]
    staged = {r["lead_id"]: r["specialization"] for r in query(
        built.db, "select lead_id, specialization from staging.stg_crm__leads")}
    assert [k for k, v in sorted(staged.items()) if v is not None] == ["E001", "E004", "E007", "E008", "E011"]


# --------------------------------------------------------------------------------------------------
# rule health
# --------------------------------------------------------------------------------------------------
def test_rule_health_fired_shares(built):
    rows = {r["rule_id"]: r for r in query(built.db, "select * from marts.scoring_rule_health where model_id = ?",
                                           [MODEL])}
    expected = {
        # Working Professional: E001, E005, E008 and E011 (its latest version)
        "b2c_fit_occupation_working": 4,
        # a specialisation that is not a placeholder: E001, E004, E007, E008, E011
        "b2c_fit_specialization_given": 5,
        # page views with duration_seconds > 0 among staged events: E001, E002, E004, E008
        "b2c_eng_time_on_site": 4,
        # no positive engagement for 60 days: E003 (created 01-06-2026), E009 (created 01-08-2026)
        "b2c_sig_inactive_60d": 2,
    }
    for rule_id, fired in expected.items():
        r = rows[rule_id]
        assert (r["scored_leads"], r["fired_leads"]) == (11, fired), r
        assert r["fired_share"] == pytest.approx(round(fired / 11, 6)), r


def test_band_health_engagement_level(built):
    row = query(built.db, "select top_band, top_band_leads, scored_leads, top_band_share, health_issue "
                          "from marts.scoring_band_health where model_id = ? and axis = 'engagement_level'", [MODEL])[0]
    # level 3 (10 to 50): E001 (about 10.26), E005 (form_submit a day old: 15 * 0.5^(1/30)), E008 (about 25.4);
    # the other 8 staged leads are below 10: level 4, 8 of 11, under the 0.9 limit
    assert row == dict(top_band="4", top_band_leads=8, scored_leads=11, top_band_share=pytest.approx(0.727273),
                       health_issue=None)


# --------------------------------------------------------------------------------------------------
# scores of chosen leads
# --------------------------------------------------------------------------------------------------
def test_e001_time_on_site_earns_points_per_minute(built):
    """E001: Working Professional, Lead Add Form, Reference, Better Career Prospects, Finance Management, SMS Sent,
    5 visits, 3.5 pages per visit; two page views on 02-10-2026 (age 30): /courses/data-science 180 s and /fees
    420 s. The page view of 05-11-2026 is a future event."""
    reasons = _reasons(built.db, "E001")
    # (180 + 420) / 60 = 10 points, half-life 30 at age 30: 5
    assert reasons["b2c_eng_time_on_site"] == pytest.approx(5.0, abs=TOL)
    assert reasons["b2c_eng_long_visit"] == pytest.approx(3 * 0.5, abs=TOL)  # only the 420 s view is >= 300 s
    assert reasons["b2c_eng_page_view"] == pytest.approx(2 * decay(30, 14), abs=TOL)
    assert reasons["b2c_intent_course_page"] == pytest.approx(4 * decay(30, 21), abs=TOL)
    assert reasons["b2c_intent_fees_page"] == pytest.approx(8 * decay(30, 14), abs=TOL)
    assert reasons["b2c_fit_occupation_working"] == 30
    assert reasons["b2c_fit_origin_add_form"] == 25 and reasons["b2c_fit_source_reference"] == 15
    assert reasons["b2c_fit_last_sms"] == 20
    assert reasons["b2c_fit_visits_3_plus"] == 6 and reasons["b2c_fit_pages_per_visit_3_plus"] == 4
    assert "b2c_neg_short_visit" not in reasons and "b2c_sig_inactive_60d" not in reasons
    scores = _scores(built.db, "E001")
    # fit: profile 30 + 6 + 4 = 40 (cap 40), origin 25 + 15 = 40 capped to 30, activity 20, web 6 + 4 = 10: 100
    assert scores["fit_score"] == pytest.approx(100.0)
    assert scores["fit_grade"] == "A"
    engagement = (2 * decay(30, 14) + 5.0 + 1.5) + (4 * decay(30, 21) + 8 * decay(30, 14))
    assert scores["engagement_score"] == pytest.approx(round(engagement, 6), abs=TOL)


def test_e002_placeholders_score_nothing_and_a_bounce_costs_a_point(built):
    """E002: Student, Landing Page Submission, Google, 'Select' twice, Olark Chat Conversation, 2 visits, N/A pages
    per visit; one 5-second page view on 31-10-2026 (age 1); its 31.10.2026 view is quarantined."""
    reasons = _reasons(built.db, "E002")
    assert set(k for k in reasons if k.startswith("b2c_fit")) == {
        "b2c_fit_occupation_student", "b2c_fit_source_search", "b2c_fit_last_chat"}
    assert reasons["b2c_fit_occupation_student"] == 10  # scored, not disqualified
    assert reasons["b2c_neg_short_visit"] == -1  # under 10 s, window 30 days
    assert reasons["b2c_eng_time_on_site"] == pytest.approx(5 / 60 * decay(1, 30), abs=TOL)
    scores = _scores(built.db, "E002")
    assert scores["fit_score"] == pytest.approx(10 + 5 - 10)
    assert scores["engagement_score"] == pytest.approx(round(decay(1, 14) + 5 / 60 * decay(1, 30) - 1, 6), abs=TOL)


def test_e008_long_visit_and_webinar(built):
    """E008: like E001 but Form Submitted on Website, 4 visits, 4 pages per visit; a 300-second /pricing view on
    31-10-2026 (age 1) and an open day attended on 25-10-2026 (age 7)."""
    reasons = _reasons(built.db, "E008")
    assert reasons["b2c_eng_time_on_site"] == pytest.approx(5 * decay(1, 30), abs=TOL)  # 300 / 60 = 5 points
    assert reasons["b2c_eng_long_visit"] == pytest.approx(3 * decay(1, 30), abs=TOL)  # 300 is in [300, ...)
    assert reasons["b2c_intent_pricing_page"] == pytest.approx(8 * decay(1, 14), abs=TOL)
    assert reasons["b2c_eng_webinar_attend"] == pytest.approx(10 * decay(7, 45), abs=TOL)
    scores = _scores(built.db, "E008")
    assert scores["fit_score"] == pytest.approx(40 + 30 + 8 + 10)  # profile 40, origin 30 (capped), form 8, web 10
    engagement = decay(1, 14) + 5 * decay(1, 30) + 3 * decay(1, 30) + 8 * decay(1, 14) + 10 * decay(7, 45)
    assert scores["engagement_score"] == pytest.approx(round(engagement, 6), abs=TOL)


# --------------------------------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------------------------------
def test_report_has_the_rule_health_section(built):
    out = built.root / "report.html"
    proc = subprocess.run([str(CLI), "report", "--database", str(built.db), "--out", str(out), "--model", MODEL],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = out.read_text(encoding="utf-8")
    assert "Rule health" in html
    assert "b2c_fit_occupation_working" in html


# --------------------------------------------------------------------------------------------------
# the format not declared: a 100% quarantine fails the build
# --------------------------------------------------------------------------------------------------
def test_undeclared_timestamp_form_fails_the_build_naming_the_check(undeclared):
    assert undeclared.returncode != 0, undeclared.build_output[-3000:]
    fails = [line for line in undeclared.build_output.splitlines()
             if "quarantine_share_below_error_limit" in line and "FAIL" in line]
    assert fails, undeclared.build_output[-3000:]
    assert "raw.leads: 100.0% quarantined (14 of 14 raw rows known at as_of" in undeclared.build_output
    rates = {r["source_table"]: r["rate_status"] for r in query(undeclared.db, "select * from marts.quarantine_rates")}
    assert rates == {"leads": "error", "events": "error", "opportunities": "error"}
