"""A hand-written messy export (tests/fixtures/messy_export/*.csv, issue 31 parts 3-5) landed with DuckDB as text
into a raw schema and built with `dbt build`: timestamps as `DD-MM-YYYY HH:MM` (declared in
seeds/raw_timestamp_formats.csv of a project copy), ISO 8601 with zones, epoch seconds and a few bad ones;
placeholders (`Select`, `N/A`, `未知`, `-`, `(not set)`, ...) in contract and custom columns; a fit rule
`is_present` on the custom column `programme`. The expected rows are worked out by hand from the CSVs.

Then: a 100% quarantine of events fails the build with the named test quarantine_share_below_error_limit, and a bad
format row in the seed fails naming the file, the row and the fix.
"""
from __future__ import annotations

import csv
import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

import oracle
from conftest import AS_OF, PROJECT_ROOT, assert_dbt_ok, copy_project, query, run_dbt

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "messy_export"
UNIT_EXCLUDE = ("--exclude", "test_type:unit")
DAY_FIRST = "%d-%m-%Y %H:%M"


def land(db: Path, fixtures: Path = FIXTURES) -> None:
    """Land the CSVs as text, as a naive loader would: every column VARCHAR except the typed ones the contract
    needs typed (_loaded_at, is_deleted, amounts)."""
    con = duckdb.connect(str(db))
    try:
        con.execute("create schema if not exists raw")
        typed = {
            "leads": "cast(_loaded_at as timestamp) as _loaded_at, cast(is_deleted as boolean) as is_deleted, "
                     "try_cast(annual_revenue as double) as annual_revenue",
            "events": "cast(_loaded_at as timestamp) as _loaded_at",
            "opportunities": "cast(_loaded_at as timestamp) as _loaded_at, cast(is_won as boolean) as is_won, "
                             "try_cast(amount as double) as amount",
        }
        for table, replace in typed.items():
            con.execute(
                f"create or replace table raw.{table} as select * replace ({replace}) "
                f"from read_csv(?, header = true, all_varchar = true)",
                [str(fixtures / f"{table}.csv")],
            )
    finally:
        con.close()


def add_seed_rows(project: Path, seed: str, rows: list[dict]) -> None:
    path = project / "seeds" / f"{seed}.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields, existing = reader.fieldnames, list(reader)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(existing + rows)


@dataclass
class Built:
    root: Path
    project: Path
    db: Path
    stdout: str


def _dbt(built: Built, db: Path, *args):
    return run_dbt(built.project, db, *args, vars={"as_of": AS_OF}, target_path=built.root / "target",
                   log_path=built.root / "logs")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    root = tmp_path_factory.mktemp("messy")
    project = copy_project(PROJECT_ROOT, root / "project")
    add_seed_rows(project, "raw_timestamp_formats", [
        dict(format_order="40", timestamp_format=DAY_FIRST, description="The export's day-first form (05-09-2026 10:30)"),
    ])
    add_seed_rows(project, "scoring_fit_rules", [
        dict(model_id="default", rule_id="fit_programme_chosen", rule_group="persona", attribute="programme",
             operator="is_present", value="", min_value="", max_value="", points="5", disqualifies="false",
             description="The lead chose a programme on the form"),
    ])
    db = root / "messy.duckdb"
    land(db)
    b = Built(root=root, project=project, db=db, stdout="")
    proc = _dbt(b, db, "build", *UNIT_EXCLUDE)
    assert_dbt_ok(proc)
    b.stdout = proc.stdout
    return b


def _utc(*args) -> dt.datetime:
    return dt.datetime(*args)


# --------------------------------------------------------------------------------------------------
# Timestamps
# --------------------------------------------------------------------------------------------------
def test_quarantined_leads_name_bad_timestamps_apart_from_missing_ones(built):
    rows = query(built.db, "select lead_id, reason_code from marts.quarantined_leads order by lead_id nulls first")
    assert [(r["lead_id"], r["reason_code"]) for r in rows] == [
        (None, "missing_lead_id"),
        ("L004", "bad_timestamp"),  # created_at 'next tuesday'
        ("L005", "bad_timestamp"),  # the later version's updated_at 'yesterday'; the earlier version is staged
        ("L007", "after_as_of"),  # 20-11-2026, after as_of
        ("L008", "bad_timestamp"),  # 31-02-2026 matches the day-first form but is no date
    ]


def test_text_timestamps_parse_in_every_accepted_form(built):
    rows = {r["lead_id"]: r for r in query(
        built.db, "select lead_id, created_at, updated_at, job_title from staging.stg_crm__leads")}
    assert sorted(rows) == ["L001", "L002", "L003", "L005", "L006", "L009"]
    assert (rows["L001"]["created_at"], rows["L001"]["updated_at"]) == (_utc(2026, 9, 5, 10, 30), _utc(2026, 9, 6, 8))
    # ISO 8601 with +08:00 and with Z: converted to UTC
    assert (rows["L002"]["created_at"], rows["L002"]["updated_at"]) == (_utc(2026, 9, 10, 1), _utc(2026, 9, 10, 1))
    # epoch seconds
    assert (rows["L003"]["created_at"], rows["L003"]["updated_at"]) == (_utc(2026, 9, 1), _utc(2026, 9, 2))
    # the staged version of L005 is the one whose timestamps parse
    assert rows["L005"]["updated_at"] == _utc(2026, 10, 1, 9) and rows["L005"]["job_title"] == "Analyst"
    # blanks are missing values, not bad ones
    assert (rows["L006"]["created_at"], rows["L006"]["updated_at"]) == (None, None)
    # ISO date only, and ISO without a zone
    assert (rows["L009"]["created_at"], rows["L009"]["updated_at"]) == (_utc(2026, 10, 1), _utc(2026, 10, 2, 12))


def test_quarantined_events_and_parsed_occurred_at(built):
    rows = query(built.db, "select event_id, reason_code from marts.quarantined_events order by event_id")
    assert [(r["event_id"], r["reason_code"]) for r in rows] == [
        ("E04", "bad_timestamp"),  # 'last week'
        ("E05", "missing_occurred_at"),  # blank
        ("E06", "bad_timestamp"),  # 32-10-2026
        ("E08", "unknown_lead"),  # L004 is quarantined
        ("E09", "anonymous"),
        ("E10", "unknown_event_type"),
        ("E11", "future_event"),  # 20-12-2026
    ]
    staged = {r["event_id"]: r["occurred_at"] for r in query(
        built.db, "select event_id, occurred_at from staging.stg_crm__events")}
    assert staged["E01"] == _utc(2026, 10, 15, 14, 5)
    assert staged["E02"] == _utc(2026, 10, 16, 2)  # 10:00 at +08:00
    assert staged["E03"] == _utc(2026, 10, 3, 4)  # epoch 1791000000
    assert staged["E07"] == _utc(2026, 10, 20, 8)  # the shipped form %Y/%m/%d %H:%M
    assert staged["E12"] == _utc(2026, 10, 21, 10)  # padded with spaces
    assert len(staged) == 13


def test_opportunities_with_text_timestamps(built):
    rows = query(built.db, "select opportunity_id, version_status, quarantine_reason, won_at "
                           "from staging.stg_crm__opportunity_versions order by opportunity_id")
    assert [(r["opportunity_id"], r["version_status"], r["quarantine_reason"], r["won_at"]) for r in rows] == [
        ("O1", "staged", None, _utc(2026, 10, 20, 12)),
        ("O2", "quarantined", "bad_timestamp", None),
        ("O3", "staged", None, None),
    ]


def test_reconciliation_and_quarantine_rates(built):
    rec = {r["source_table"]: r for r in query(built.db, "select * from marts.pipeline_reconciliation")}
    got = {t: (r["raw_rows"], r["staged_rows"], r["quarantined_rows"], r["superseded_rows"], r["is_reconciled"])
           for t, r in rec.items()}
    assert got == {
        "leads": (11, 6, 5, 0, True),
        "events": (20, 13, 7, 0, True),
        "opportunities": (3, 2, 1, 0, True),
    }
    rates = {r["source_table"]: r for r in query(built.db, "select * from marts.quarantine_rates")}
    # rows only not known yet at as_of (after_as_of, future_event) are not judged
    assert rates["leads"]["top_reasons"] == "bad_timestamp 3 (75.0%), missing_lead_id 1 (25.0%)"
    assert rates["events"]["top_reasons"] == (
        "bad_timestamp 2 (33.3%), anonymous 1 (16.7%), missing_occurred_at 1 (16.7%)")
    assert {t: (r["judged_quarantined_rows"], r["judged_rows"], r["not_yet_known_rows"]) for t, r in rates.items()} == {
        "leads": (4, 10, 1), "events": (6, 19, 1), "opportunities": (1, 3, 0)}
    assert {t: r["rate_status"] for t, r in rates.items()} == {"leads": "warn", "events": "warn",
                                                               "opportunities": "warn"}
    assert rates["events"]["message"].startswith(
        "raw.events: 31.6% quarantined (6 of 19 raw rows known at as_of; warn above 5.0%, fail above 50.0%); "
        "top reasons: bad_timestamp 2 (33.3%)")
    assert "seeds/raw_timestamp_formats.csv" in rates["events"]["fix"]
    # above the warning limit: the build warns, naming the test and each table, and stays green
    assert "WARN 3 quarantine_share_below_warn_limit" in built.stdout
    assert ("lead_scoring: quarantine share above warn_share: raw.opportunities: 33.3% quarantined (1 of 3 raw rows "
            "known at as_of") in built.stdout


# --------------------------------------------------------------------------------------------------
# Placeholders
# --------------------------------------------------------------------------------------------------
def test_placeholders_are_missing_in_staged_leads(built):
    rows = {r["lead_id"]: r for r in query(
        built.db, "select lead_id, job_title, industry_raw, industry, country_raw, city, lead_source, budget, "
                  "employee_count_raw, programme from staging.stg_crm__leads")}
    assert rows["L002"] == dict(lead_id="L002", job_title=None, industry_raw=None, industry=None, country_raw=None,
                                city=None, lead_source=None, budget=None, employee_count_raw=None, programme=None)
    assert (rows["L003"]["industry_raw"], rows["L003"]["budget"], rows["L003"]["employee_count_raw"],
            rows["L003"]["programme"]) == (None, None, None, None)
    assert rows["L006"]["programme"] is None and rows["L009"]["programme"] is None
    assert rows["L001"]["programme"] == "MBA" and rows["L001"]["job_title"] == "Marketing Manager"
    unmapped = query(built.db, "select dictionary_name, raw_value from marts.unmapped_dictionary_values")
    assert not [r for r in unmapped if r["raw_value"] in ("n/a", "无", "未知", "select")]


def test_placeholder_counts_per_column_and_value(built):
    rows = query(built.db, "select column_name, placeholder_value, raw_rows, lead_count "
                           "from marts.placeholder_values order by column_name, placeholder_value")
    assert [(r["column_name"], r["placeholder_value"], r["raw_rows"], r["lead_count"]) for r in rows] == [
        ("budget", "none", 1, 1),
        ("budget", "unknown", 1, 1),
        ("city", "-", 1, 1),
        ("country", "未知", 1, 1),
        ("employee_count", "n/a", 1, 1),
        ("industry", "n/a", 1, 1),
        ("industry", "无", 1, 1),
        ("job_title", "select", 1, 1),
        ("lead_source", "select", 1, 1),
        ("programme", "(not set)", 1, 1),
        ("programme", "-", 1, 1),
        ("programme", "null", 1, 1),
        ("programme", "please select", 1, 1),
    ]


def test_is_present_rule_does_not_fire_on_placeholders(built):
    rows = query(built.db, "select lead_id from marts.lead_score_reasons where rule_id = 'fit_programme_chosen' "
                           "order by lead_id")
    assert [r["lead_id"] for r in rows] == ["L001", "L005"]  # L002, L003, L006, L009 hold placeholders


def test_oracle_reads_the_same_placeholders(built):
    seeds = oracle.load_seeds(built.project / "seeds")
    d = oracle.Dictionaries.from_seeds(seeds)
    assert {"select", "n/a", "-", "none", "null", "unknown", "(not set)", "please select", "未知", "无"} <= d.missing_values
    raw = {c: None for c in oracle.LEAD_CONTRACT_COLUMNS}
    raw.update(lead_id="L1", job_title="  SELECT ", industry="N/A", country="未知", city="Selector",
               programme="(Not Set)", other="x'); drop table leads; --")
    lead = oracle.normalise_lead(raw, d)
    assert (lead["job_title"], lead["industry"], lead["country_code"], lead["city"]) == (None, None, None, "selector")
    assert lead["programme"] is None and lead["other"] == "x'); drop table leads; --"
    # and the oracle's staged leads of the fixture agree with the mart on the placeholder columns
    staged = {r["lead_id"]: r for r in query(built.db, "select lead_id, job_title, city, programme "
                                                       "from staging.stg_crm__leads")}
    for lead_id, raw_csv in _latest_csv_leads().items():
        if lead_id in staged:
            mine = oracle.normalise_lead({**raw_csv, "created_at": None, "updated_at": None}, d)
            assert (mine["job_title"], mine["city"], mine["programme"]) == (
                staged[lead_id]["job_title"], staged[lead_id]["city"], staged[lead_id]["programme"]), lead_id


def _latest_csv_leads() -> dict:
    """The fixture's lead rows by id (for L005 the staged, earlier version)."""
    with open(FIXTURES / "leads.csv", newline="", encoding="utf-8") as fh:
        rows = [{k: (v if v != "" else None) for k, v in row.items()} for row in csv.DictReader(fh)]
    out = {}
    for row in rows:
        if row["lead_id"] and row["lead_id"] not in out:
            out[row["lead_id"]] = row
    return out


def test_seed_placeholder_text_is_inert(built, tmp_path):
    """A placeholder row that looks like SQL is data: it only nulls a value equal to it."""
    project = copy_project(built.project, tmp_path / "project")
    add_seed_rows(project, "map_missing_values", [
        dict(missing_value="x'); drop table leads; --", language="any", description="hostile"),
    ])
    db = tmp_path / "wh.duckdb"
    shutil.copy(built.db, db)
    con = duckdb.connect(str(db))
    con.execute("update raw.leads set city = 'x''); drop table leads; --' where lead_id = 'L001'")
    con.close()
    proc = run_dbt(project, db, "build", "--select", "+stg_crm__leads", *UNIT_EXCLUDE, vars={"as_of": AS_OF},
                   target_path=tmp_path / "target", log_path=tmp_path / "logs")
    assert_dbt_ok(proc)
    assert query(db, "select count(*) as n from raw.leads") == [{"n": 11}]
    assert query(db, "select city from staging.stg_crm__leads where lead_id = 'L001'") == [{"city": None}]


# --------------------------------------------------------------------------------------------------
# Failures
# --------------------------------------------------------------------------------------------------
def test_a_full_quarantine_fails_the_build_with_the_named_test(built, tmp_path):
    """Every event with a day-first timestamp and no declared form: 100% bad_timestamp, the build fails."""
    project = copy_project(PROJECT_ROOT, tmp_path / "project")  # the shipped seeds: no day-first form
    db = tmp_path / "wh.duckdb"
    shutil.copy(built.db, db)
    con = duckdb.connect(str(db))
    # re-landed (a later _loaded_at, so the incremental deliveries read them again) in the export's day-first form
    con.execute("update raw.events set occurred_at = '20-10-2026 10:00', _loaded_at = timestamp '2026-10-31 06:00:00'")
    # leads and opportunities in ISO 8601, so only events are over a limit
    con.execute("update raw.leads set created_at = '2026-09-01', updated_at = '2026-09-02'")
    con.execute("update raw.opportunities set created_at = '2026-10-01', closed_at = null")
    con.close()
    proc = run_dbt(project, db, "build", *UNIT_EXCLUDE, vars={"as_of": AS_OF}, target_path=tmp_path / "target",
                   log_path=tmp_path / "logs")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    assert "FAIL 1 quarantine_share_below_error_limit" in output, output[-3000:]
    assert ("lead_scoring: quarantine share above error_share: raw.events: 100.0% quarantined (20 of 20 raw rows "
            "known at as_of; warn above 5.0%, fail above 50.0%); top reasons: bad_timestamp 20 (100.0%). Fix: a "
            "timestamp column holds text in no accepted form") in output
    rates = {r["source_table"]: r["rate_status"] for r in query(db, "select * from marts.quarantine_rates")}
    assert rates["events"] == "error"


def test_a_bad_timestamp_format_fails_naming_file_row_and_fix(built, tmp_path):
    project = copy_project(PROJECT_ROOT, tmp_path / "project")
    add_seed_rows(project, "raw_timestamp_formats", [
        dict(format_order="50", timestamp_format="%d.%m.%Y'; select 1; --", description="hostile"),
    ])
    db = tmp_path / "wh.duckdb"
    shutil.copy(built.db, db)
    proc = run_dbt(project, db, "build", "--select", "raw_timestamp_formats", "stg_rules__raw_timestamp_formats",
                   *UNIT_EXCLUDE, vars={"as_of": AS_OF}, target_path=tmp_path / "target", log_path=tmp_path / "logs")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert ("seeds/raw_timestamp_formats.csv, row format_order = 50: timestamp_format is '%d.%m.%Y'; select 1; --', "
            "which is blank or uses something other than the directives") in output, output[-3000:]
    assert "Fix: write the format with those directives only" in output
