"""The SLA breach-rate check (lead_scoring/sla.py, orchestration/defs/routing/checks.py): grading on hand-made rows, and the Dagster check run
against a scratch DuckDB holding a hand-made marts.routing_sla_breach_rate."""
from __future__ import annotations

import datetime as dt

import dagster as dg
import duckdb
import pytest

from lead_scoring import monitoring as mon
from orchestration.defs import resources as dres
from lead_scoring import sla
from orchestration.defs.routing import checks as sla_checks

WINDOW_END = dt.datetime(2026, 11, 1)
WINDOW_START = WINDOW_END - dt.timedelta(days=7)


def row(model_id="default", resolved=30, breached=6, rate="auto", warn=0.2, error=0.35, minimum=20):
    return {
        "model_id": model_id, "window_start_at": WINDOW_START, "window_end_at": WINDOW_END,
        "resolved_assignments": resolved, "breached_assignments": breached,
        "breach_rate": (breached / resolved if resolved else None) if rate == "auto" else rate,
        "breach_rate_warn_limit": warn, "breach_rate_error_limit": error, "min_resolved_assignments": minimum,
    }


@pytest.mark.parametrize("breached, expected", [
    (0, mon.PASS),
    (6, mon.PASS),     # 6/30 = 0.20: equal to the warning limit is within it
    (7, mon.WARN),     # 0.233
    (10, mon.WARN),    # 0.333
    (11, mon.ERROR),   # 0.367 > 0.35
    (30, mon.ERROR),
])
def test_breach_rate_is_graded_against_the_limits(breached, expected):
    grade = sla.grade_breach_rate(row(breached=breached))
    assert grade.severity == expected
    assert f"{breached} of 30" in grade.summary


def test_too_few_resolved_assignments_pass_with_a_note():
    grade = sla.grade_breach_rate(row(resolved=19, breached=19))  # 100 % breached, but 19 < 20
    assert grade.severity == mon.PASS and "not enough data" in grade.summary
    assert sla.grade_breach_rate(row(resolved=0, breached=0, minimum=0)).severity == mon.PASS


def test_an_inconsistent_rate_is_an_error():
    grade = sla.grade_breach_rate(row(breached=3, rate=0.5))
    assert grade.severity == mon.ERROR and "inconsistent" in grade.summary


def test_the_worst_model_decides():
    severity, grades = sla.grade_all([row("z_model", breached=11), row("default", breached=1)])
    assert severity == mon.ERROR
    assert [(g.model_id, g.severity) for g in grades] == [("default", mon.PASS), ("z_model", mon.ERROR)]


def _scratch(tmp_path, rows):
    db = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema marts")
    con.execute("""create table marts.routing_sla_breach_rate (
        model_id varchar, window_start_at timestamp, window_end_at timestamp, resolved_assignments integer,
        breached_assignments integer, breach_rate double, breach_rate_warn_limit double,
        breach_rate_error_limit double, min_resolved_assignments integer)""")
    for r in rows:
        con.execute("insert into marts.routing_sla_breach_rate values (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            r["model_id"], r["window_start_at"], r["window_end_at"], r["resolved_assignments"],
            r["breached_assignments"], r["breach_rate"], r["breach_rate_warn_limit"],
            r["breach_rate_error_limit"], r["min_resolved_assignments"]])
    con.close()
    return db


def _run_check(db):
    ctx = dg.build_asset_check_context(resources={"warehouse": dres.WarehouseResource(database_path=str(db))})
    return sla_checks.sla_breach_rate_within_limit(ctx)


@pytest.mark.parametrize("breached, passed, severity", [
    (4, True, None),
    (8, False, dg.AssetCheckSeverity.WARN),
    (12, False, dg.AssetCheckSeverity.ERROR),
])
def test_the_dagster_check_reads_the_mart(tmp_path, breached, passed, severity):
    result = _run_check(_scratch(tmp_path, [row(breached=breached), row("product_b", breached=0)]))
    assert result.passed is passed
    if not passed:
        assert result.severity == severity
    assert result.metadata["default breach rate"].value == pytest.approx(breached / 30)
    assert result.metadata["product_b breach rate"].value == 0
    assert f"default: {breached} of 30" in result.description


def test_an_empty_mart_fails_the_check(tmp_path):
    result = _run_check(_scratch(tmp_path, []))
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert "no rows" in result.description
