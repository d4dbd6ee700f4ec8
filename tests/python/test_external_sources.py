"""External sources behave like tables (issue 31 part 2): the raw tables read in place from CSV files through
dbt-duckdb's `external_location` (docs/warehouses.md, "Your own data") get the raw-contract check, custom-column
discovery and timestamp parsing of landed tables, with the same messages.

The files are the hand-written export of tests/fixtures/messy_export/ (read with DuckDB's CSV sniffer, so
`_loaded_at` is a TIMESTAMP and the mixed timestamp columns are text); the expected rows are the same as when the
export is landed as tables (test_raw_timestamps_and_placeholders.py).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import AS_OF, PROJECT_ROOT, assert_dbt_ok, copy_project, query, run_dbt
from test_raw_timestamps_and_placeholders import DAY_FIRST, FIXTURES, add_seed_rows

UNIT_EXCLUDE = ("--exclude", "test_type:unit")
TABLE_META = {
    "leads": "config: {meta: {contains_pii: true, extra_columns: custom}}",
    "events": "config: {meta: {contains_pii: true, extra_columns: ignored}}",
    "opportunities": "config: {meta: {extra_columns: ignored}}",
}


def point_sources_at_files(project: Path, files: dict[str, Path]) -> None:
    """Give each crm source table an external_location reading its CSV file."""
    path = project / "models" / "staging" / "crm" / "_crm__sources.yml"
    text = path.read_text(encoding="utf-8")
    for table, meta in TABLE_META.items():
        assert text.count(meta) == 1, table
        location = f"read_csv('{files[table]}', header = true)"
        text = text.replace(meta, meta[:-2] + f', external_location: "{location}"' + "}}")
    path.write_text(text, encoding="utf-8")


def _build(project: Path, db: Path, root: Path, *select):
    return run_dbt(project, db, "build", *select, *UNIT_EXCLUDE, vars={"as_of": AS_OF},
                   target_path=root / "target", log_path=root / "logs")


@pytest.fixture(scope="module")
def external(tmp_path_factory):
    root = tmp_path_factory.mktemp("external")
    files_dir = root / "files"
    shutil.copytree(FIXTURES, files_dir)
    project = copy_project(PROJECT_ROOT, root / "project")
    add_seed_rows(project, "raw_timestamp_formats", [
        dict(format_order="40", timestamp_format=DAY_FIRST, description="The export's day-first form"),
    ])
    add_seed_rows(project, "scoring_fit_rules", [
        dict(model_id="default", rule_id="fit_programme_chosen", rule_group="persona", attribute="programme",
             operator="is_present", value="", min_value="", max_value="", points="5", disqualifies="false",
             description="The lead chose a programme on the form"),
    ])
    point_sources_at_files(project, {t: files_dir / f"{t}.csv" for t in TABLE_META})
    db = root / "external.duckdb"
    proc = _build(project, db, root)
    assert_dbt_ok(proc)
    return root, project, db, files_dir, proc.stdout


def test_external_files_are_checked_and_their_custom_columns_discovered(external):
    root, project, db, files_dir, stdout = external
    assert "raw contract not checked" not in stdout
    assert ("lead_scoring: raw table raw.leads has column(s) outside the raw contract: programme; staging carries "
            "them through as custom CRM fields.") in stdout
    rows = query(db, "select lead_id from marts.lead_score_reasons where rule_id = 'fit_programme_chosen' "
                     "order by lead_id")
    assert [r["lead_id"] for r in rows] == ["L001", "L005"]


def test_external_files_quarantine_like_tables(external):
    root, project, db, files_dir, stdout = external
    leads = query(db, "select lead_id, reason_code from marts.quarantined_leads order by lead_id nulls first")
    assert [(r["lead_id"], r["reason_code"]) for r in leads] == [
        (None, "missing_lead_id"), ("L004", "bad_timestamp"), ("L005", "bad_timestamp"), ("L007", "after_as_of"),
        ("L008", "bad_timestamp"),
    ]
    events = query(db, "select event_id, reason_code from marts.quarantined_events order by event_id")
    assert [(r["event_id"], r["reason_code"]) for r in events] == [
        ("E04", "bad_timestamp"), ("E05", "missing_occurred_at"), ("E06", "bad_timestamp"), ("E08", "unknown_lead"),
        ("E09", "anonymous"), ("E10", "unknown_event_type"), ("E11", "future_event"),
    ]
    rec = {r["source_table"]: (r["raw_rows"], r["staged_rows"], r["quarantined_rows"], r["is_reconciled"])
           for r in query(db, "select * from marts.pipeline_reconciliation")}
    assert rec == {"leads": (11, 6, 5, True), "events": (20, 13, 7, True), "opportunities": (3, 2, 1, True)}


def test_external_file_of_the_wrong_type_fails_with_the_tables_message(external, tmp_path):
    root, project, db, files_dir, stdout = external
    bad = tmp_path / "leads.csv"
    text = (files_dir / "leads.csv").read_text(encoding="utf-8").splitlines()
    header = text[0].split(",")
    col = header.index("annual_revenue")
    row = text[1].split(",")
    row[col] = "lots"
    bad.write_text("\n".join([text[0], ",".join(row), *text[2:]]) + "\n", encoding="utf-8")
    sources = project / "models" / "staging" / "crm" / "_crm__sources.yml"
    original = sources.read_text(encoding="utf-8")
    try:
        sources.write_text(original.replace(str(files_dir / "leads.csv"), str(bad)), encoding="utf-8")
        proc = _build(project, tmp_path / "wh.duckdb", tmp_path, "--select", "stg_crm__leads")
    finally:
        sources.write_text(original, encoding="utf-8")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    problems = [line.strip() for line in output.splitlines() if line.strip().startswith("- Raw table ")]
    assert problems == [
        "- Raw table raw.leads does not match the raw contract: column annual_revenue is VARCHAR, expected a number "
        "(DOUBLE, DECIMAL, INTEGER, ...). Fix: land annual_revenue as a number (DOUBLE, DECIMAL, INTEGER, ...) in "
        "the loader, or set LEAD_SCORING_RAW_LEADS_TABLE to a view over the table that casts it (try_cast, so bad "
        "values become null).",
    ], output[-3000:]
