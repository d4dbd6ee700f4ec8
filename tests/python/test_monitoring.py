"""lead_scoring.monitoring and orchestration/defs/{raw,monitoring}: statistics, settings, raw freshness checks,
score-distribution drift, notifier."""
from __future__ import annotations

import csv
import http.server
import json
import logging
import math
import shutil
import threading
from datetime import datetime, timedelta

import dagster as dg
import duckdb
import pytest

from conftest import PROJECT_ROOT, assert_dbt_ok, copy_project, query, run_dbt
from lead_scoring import datagen
from lead_scoring import monitoring as mon
from orchestration.defs import resources as dres
from orchestration.defs.monitoring import assets as mon_assets
from orchestration.defs.monitoring import checks as mon_checks
from orchestration.defs.raw import checks as raw_checks

AS_OF = "2026-11-01 00:00:00"
NOW = datetime(2026, 11, 1, 12, 0, 0)

FRESHNESS_CHECKS = [raw_checks.raw_leads_freshness, raw_checks.raw_events_freshness]


# --------------------------------------------------------------------------------------------------
# pure statistics
# --------------------------------------------------------------------------------------------------
def test_psi_of_identical_shares_is_zero():
    shares = [0.1, 0.2, 0.3, 0.4]
    assert mon.psi(shares, shares) == 0.0


def test_psi_two_bins_by_hand():
    # (0.8-0.5) ln(0.8/0.5) + (0.2-0.5) ln(0.2/0.5) = 0.3 ln 1.6 + 0.3 ln 2.5 = 0.3 ln 4
    assert mon.psi([0.5, 0.5], [0.8, 0.2]) == pytest.approx(0.3 * math.log(4), abs=1e-12)
    assert mon.psi([0.5, 0.5], [0.8, 0.2]) == pytest.approx(0.415888, abs=1e-6)


def test_psi_empty_bin_uses_epsilon():
    # expected [1, 0] -> [1, 1e-4]: (0.5-1) ln(0.5) + (0.5-1e-4) ln(0.5/1e-4)
    assert mon.psi([1.0, 0.0], [0.5, 0.5], eps=1e-4) == pytest.approx(0.346574 + 0.4999 * 8.517193, abs=1e-5)
    assert math.isfinite(mon.psi([1.0, 0.0], [0.0, 1.0]))


def test_ks_identical_disjoint_and_by_hand():
    assert mon.ks_statistic([1, 2, 3, 4], [4, 3, 2, 1]) == 0.0
    assert mon.ks_statistic([1, 2, 3], [10, 11]) == 1.0
    # F_a(2) = 2/4, F_b(2) = 0; F_a(4) = 1, F_b(4) = 2/4
    assert mon.ks_statistic([1, 2, 3, 4], [3, 4, 5, 6]) == pytest.approx(0.5)
    # ties: at x=1 1/3 vs 0, at x=2 2/3 vs 1, at x=3 1 vs 1
    assert mon.ks_statistic([1, 2, 3], [2]) == pytest.approx(1 / 3)


def _run_rows(run_id, n, mql, lead_score_shares):
    rows = [dict(run_id=run_id, metric="lead_score", bin=b, count=round(s * n), share=s)
            for b, s in zip(mon.SCORE_BINS, lead_score_shares)]
    rows.append(dict(run_id=run_id, metric="lead_count", bin="all", count=n, share=1.0))
    rows.append(dict(run_id=run_id, metric="mql_rate", bin="mql", count=mql, share=mql / n))
    return rows


def test_compare_runs_first_run_passes_with_note():
    result = mon.compare_runs([], _run_rows("r1", 100, 5, [0.1] * 10), mon.MonitoringSettings())
    assert result.severity == mon.PASS and "first recorded run" in result.note


def test_compare_runs_grades_every_statistic_and_takes_the_worst():
    flat = [0.1] * 10
    base = _run_rows("r1", 100, 5, flat)
    same = mon.compare_runs(base, _run_rows("r2", 100, 5, flat), mon.MonitoringSettings())
    assert same.severity == mon.PASS and {s.severity for s in same.statistics} == {mon.PASS}
    # 130 leads (+30 % -> WARN), MQL 5 % -> 26/130 = 20 % (+15 pp -> ERROR), same score shares
    compare = mon.compare_runs(base, _run_rows("r2", 130, 26, flat), mon.MonitoringSettings())
    by_name = {(s.name, s.metric): s for s in compare.statistics}
    assert by_name[("lead count change", "lead_count")].value == pytest.approx(0.30)
    assert by_name[("lead count change", "lead_count")].severity == mon.WARN
    assert by_name[("MQL rate change", "mql_rate")].value == pytest.approx(15.0)
    assert by_name[("MQL rate change", "mql_rate")].severity == mon.ERROR
    assert by_name[("PSI", "lead_score")].value == pytest.approx(0.0)
    assert compare.severity == mon.ERROR
    # a shifted score distribution: half the mass moves from bin 0 to bin 9
    shifted = [0.05] + [0.1] * 8 + [0.15]
    psi_expected = 0.05 * math.log(1.5) + 0.05 * math.log(2)  # (0.15-0.1)ln1.5 + (0.05-0.1)ln0.5
    res = mon.compare_runs(base, _run_rows("r2", 100, 5, shifted), mon.MonitoringSettings())
    psi_stat = next(s for s in res.statistics if s.name == "PSI")
    assert psi_stat.value == pytest.approx(psi_expected) and psi_stat.severity == mon.PASS  # 0.055 < 0.1
    assert res.bins["lead_score"][0] == ("[0,10)", 0.1, 0.05, pytest.approx(-0.05 * math.log(0.5)))
    # KS from the stored samples
    res = mon.compare_runs(base, _run_rows("r2", 100, 5, flat), mon.MonitoringSettings(),
                           {"lead_score": [1, 2, 3, 4]}, {"lead_score": [3, 4, 5, 6]})
    ks = next(s for s in res.statistics if s.name == "KS")
    assert ks.value == pytest.approx(0.5) and ks.severity == mon.ERROR


def test_trailing_baseline_averages_runs():
    settings = mon.MonitoringSettings(baseline_mode="trailing", baseline_window=2)
    base = _run_rows("r1", 100, 5, [0.1] * 10) + _run_rows("r2", 140, 7, [0.1] * 10)
    res = mon.compare_runs(base, _run_rows("r3", 120, 6, [0.1] * 10), settings)
    change = next(s for s in res.statistics if s.name == "lead count change")
    assert change.value == pytest.approx(0.0)  # mean of 100 and 140
    assert res.severity == mon.PASS and res.baseline_runs == ["r1", "r2"]


def test_settings_from_env_and_validation():
    s = mon.MonitoringSettings.from_env({"LEAD_SCORING_DRIFT_PSI_WARN": "0.05",
                                         "LEAD_SCORING_DRIFT_BASELINE": "Trailing",
                                         "LEAD_SCORING_DRIFT_BASELINE_WINDOW": "3",
                                         "LEAD_SCORING_FRESHNESS_EVENTS_ERROR_HOURS": "48"})
    assert (s.psi_warn, s.psi_error, s.baseline_mode, s.baseline_runs) == (0.05, 0.25, "trailing", 3)
    assert s.events_freshness_error_hours == 48.0
    assert mon.MonitoringSettings.from_env({}) == mon.MonitoringSettings()
    with pytest.raises(ValueError, match="psi"):
        mon.MonitoringSettings(psi_warn=0.3, psi_error=0.2)
    with pytest.raises(ValueError, match="LEAD_SCORING_DRIFT_KS_WARN"):
        mon.MonitoringSettings.from_env({"LEAD_SCORING_DRIFT_KS_WARN": "lots"})
    with pytest.raises(ValueError, match="baseline_mode"):
        mon.MonitoringSettings(baseline_mode="median")


def test_definitions_contract():
    from orchestration.definitions import defs

    assert mon_assets.score_distribution_history.key == dg.AssetKey("score_distribution_history")
    check_keys = {k for c in [*FRESHNESS_CHECKS, mon_checks.score_distribution_drift] for k in c.check_keys}
    assert check_keys == {
        dg.AssetCheckKey(dg.AssetKey(["raw", "leads"]), "raw_leads_freshness"),
        dg.AssetCheckKey(dg.AssetKey(["raw", "events"]), "raw_events_freshness"),
        dg.AssetCheckKey(dg.AssetKey("score_distribution_history"), "score_distribution_drift"),
    }
    drift = mon_checks.score_distribution_drift
    assert next(iter(drift.check_specs)).blocking
    assert isinstance(defs.resources["warehouse"], dres.WarehouseResource)
    history = mon_assets.score_distribution_history
    assert history.op.pool == dres.WAREHOUSE_POOL
    assert dg.AssetKey("lead_scores") in {d.asset_key for d in history.specs_by_key[history.key].deps}


def test_warehouse_path_resolves_lazily(monkeypatch, tmp_path):
    res = dres.WarehouseResource()
    monkeypatch.setenv("LEAD_SCORING_DUCKDB_PATH", str(tmp_path / "x.duckdb"))
    assert res.resolved_path() == tmp_path / "x.duckdb"
    monkeypatch.delenv("LEAD_SCORING_DUCKDB_PATH")
    assert res.resolved_path() == PROJECT_ROOT / "warehouse" / "lead_scoring.duckdb"


# --------------------------------------------------------------------------------------------------
# raw freshness
# --------------------------------------------------------------------------------------------------
def _raw_db(path, leads_age_h, events_loaded_age_h, events_occurred_age_h=None):
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema raw")
        con.execute("create table raw.leads (lead_id varchar, _loaded_at timestamp)")
        con.execute("create table raw.events (event_id varchar, occurred_at timestamp, _loaded_at timestamp)")
        con.execute("insert into raw.leads values ('l1', ?), ('l2', ?)",
                    [NOW - timedelta(hours=leads_age_h), NOW - timedelta(hours=leads_age_h + 500)])
        occurred = NOW - timedelta(hours=events_occurred_age_h if events_occurred_age_h is not None
                                   else events_loaded_age_h)
        con.execute("insert into raw.events values ('e1', ?, ?), ('e_future', ?, ?)",
                    [occurred, NOW - timedelta(hours=events_loaded_age_h),
                     NOW + timedelta(days=30), NOW - timedelta(hours=events_loaded_age_h + 1)])
    finally:
        con.close()
    return path


def _freshness(check, db, now=None):
    ctx = dg.build_asset_check_context(resources={"warehouse": dres.WarehouseResource(database_path=str(db))})
    return check(ctx, raw_checks.ClockConfig(now=now or NOW.isoformat(sep=" ")))


@pytest.mark.parametrize("age_h, expected", [(1, None), (30, dg.AssetCheckSeverity.WARN),
                                             (100, dg.AssetCheckSeverity.ERROR)])
def test_raw_freshness_grades_by_age(tmp_path, monkeypatch, age_h, expected):
    monkeypatch.delenv(mon.WEBHOOK_ENV, raising=False)
    db = _raw_db(tmp_path / "landing.duckdb", age_h, age_h)
    for check in (raw_checks.raw_leads_freshness, raw_checks.raw_events_freshness):
        result = _freshness(check, db)
        assert result.passed is (expected is None), result.description
        if expected is not None:
            assert result.severity == expected
        meta = result.metadata
        assert meta["_loaded_at age (hours)"].value == pytest.approx(age_h)
        assert meta["warn after (hours)"].value == 24.0 and meta["error after (hours)"].value == 72.0
        assert meta["newest _loaded_at"].value == (NOW - timedelta(hours=age_h)).isoformat(sep=" ")
    # future-dated events do not make raw.events look fresh
    result = _freshness(raw_checks.raw_events_freshness, db)
    assert result.metadata["occurred_at age (hours)"].value == pytest.approx(age_h)


def test_a_stalled_event_stream_with_future_dated_rows_is_not_fresh(tmp_path, monkeypatch):
    """Loads go on (re-deliveries) but no new event has happened for 80 hours; the only recent event times belong to
    rows that were future-dated when they landed (event time after load time): they must not count."""
    monkeypatch.delenv(mon.WEBHOOK_ENV, raising=False)
    db = _raw_db(tmp_path / "landing.duckdb", 1, 1, events_occurred_age_h=80)
    con = duckdb.connect(str(db))
    try:  # landed 2 h ago, dated 30 min ago: after its own load time, before now
        con.execute("insert into raw.events values ('e_dated_after_load', ?, ?)",
                    [NOW - timedelta(minutes=30), NOW - timedelta(hours=2)])
    finally:
        con.close()
    result = _freshness(raw_checks.raw_events_freshness, db)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR, result.description
    assert result.metadata["occurred_at age (hours)"].value == pytest.approx(80)
    assert "occurred_at" in result.description


def test_raw_events_freshness_uses_event_time_too_and_env_clock(tmp_path, monkeypatch):
    db = _raw_db(tmp_path / "landing.duckdb", 1, 1, events_occurred_age_h=80)  # loaded now, newest event old
    result = _freshness(raw_checks.raw_events_freshness, db)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert "occurred_at" in result.description
    # the clock from LEAD_SCORING_NOW: 200 h later everything is stale; settings from env
    monkeypatch.setenv(mon.NOW_ENV, (NOW + timedelta(hours=200)).isoformat())
    monkeypatch.setenv("LEAD_SCORING_FRESHNESS_LEADS_ERROR_HOURS", "1000")
    ctx = dg.build_asset_check_context(resources={"warehouse": dres.WarehouseResource(database_path=str(db))})
    result = raw_checks.raw_leads_freshness(ctx, raw_checks.ClockConfig())
    assert result.severity == dg.AssetCheckSeverity.WARN and result.metadata["error after (hours)"].value == 1000


def test_freshness_checks_run_in_a_job_with_the_clock_from_run_config(tmp_path, monkeypatch):
    monkeypatch.delenv(mon.WEBHOOK_ENV, raising=False)
    monkeypatch.delenv(mon.NOW_ENV, raising=False)
    db = _raw_db(tmp_path / "landing.duckdb", 30, 1)
    job = dg.define_asset_job("freshness", selection=dg.AssetSelection.checks(*FRESHNESS_CHECKS))
    defs = dg.Definitions(assets=[dg.AssetSpec(["raw", "leads"]), dg.AssetSpec(["raw", "events"])],
                          asset_checks=FRESHNESS_CHECKS, jobs=[job],
                          resources={"warehouse": dres.WarehouseResource(database_path=str(db))})
    now = {"config": {"now": NOW.isoformat(sep=" ")}}
    result = defs.resolve_job_def("freshness").execute_in_process(
        run_config={"ops": {"raw__leads_raw_leads_freshness": now, "raw__events_raw_events_freshness": now}})
    by_name = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not by_name["raw_leads_freshness"].passed
    assert by_name["raw_leads_freshness"].severity == dg.AssetCheckSeverity.WARN
    assert by_name["raw_events_freshness"].passed


def test_freshness_is_judged_at_the_runs_as_of_not_the_wall_clock(tmp_path, monkeypatch):
    """Demo or replayed data: its newest rows are 1 h old at NOW (weeks before the wall clock). A run scoring NOW
    (tag lead_scoring/as_of, or the dbt op's run config as_of) finds them fresh; a run scoring 30 h or 100 h later
    finds the same rows WARN and ERROR by the same limits (24 h, 72 h); a run without an as_of uses the wall clock."""
    monkeypatch.delenv(mon.WEBHOOK_ENV, raising=False)
    monkeypatch.delenv(mon.NOW_ENV, raising=False)
    db = _raw_db(tmp_path / "landing.duckdb", 1, 1)
    job = dg.define_asset_job("freshness", selection=dg.AssetSelection.checks(*FRESHNESS_CHECKS))
    defs = dg.Definitions(assets=[dg.AssetSpec(["raw", "leads"]), dg.AssetSpec(["raw", "events"])],
                          asset_checks=FRESHNESS_CHECKS, jobs=[job],
                          resources={"warehouse": dres.WarehouseResource(database_path=str(db))})

    def run(tags=None):
        result = defs.resolve_job_def("freshness").execute_in_process(tags=tags or {})
        return {e.check_name: e for e in result.get_asset_check_evaluations()}

    def as_of(hours_after_now):
        return (NOW + timedelta(hours=hours_after_now)).isoformat(sep=" ")

    for hours, expected in ((0, None), (30, dg.AssetCheckSeverity.WARN), (100, dg.AssetCheckSeverity.ERROR)):
        by_name = run({"lead_scoring/as_of": as_of(hours)})
        for name in ("raw_leads_freshness", "raw_events_freshness"):
            check = by_name[name]
            assert check.passed is (expected is None), (hours, check.description)
            assert check.severity == expected or expected is None
            assert check.metadata["_loaded_at age (hours)"].value == pytest.approx(1 + hours)
            assert check.metadata["clock"].value == f"the run's as_of (the data's clock): {as_of(hours)}"
    # no as_of: the wall clock (weeks after NOW), so the same data is stale
    wall = run()["raw_leads_freshness"]
    assert wall.severity == dg.AssetCheckSeverity.ERROR and wall.metadata["clock"].value.startswith("wall clock")
    # the as_of of the dbt op's run config counts too (a run launched from the launchpad, without the tag)
    assert raw_checks.run_as_of({}, {"ops": {"lead_scoring_dbt_assets": {"config": {"as_of": as_of(0)}}}}) == as_of(0)
    # an as_of in the future is no clock for freshness: the wall clock is used
    now, source = raw_checks.freshness_clock("", "2999-01-01 00:00:00")
    assert source == "wall clock" and now.year < 2999
    # an operator's explicit clock (env LEAD_SCORING_NOW) outranks the run's as_of
    monkeypatch.setenv(mon.NOW_ENV, as_of(200))
    now, source = raw_checks.freshness_clock("", as_of(0))
    assert source == f"env {mon.NOW_ENV}" and now == NOW + timedelta(hours=200)


def test_raw_freshness_missing_table_is_an_error(tmp_path):
    db = tmp_path / "empty.duckdb"
    duckdb.connect(str(db)).close()
    result = _freshness(raw_checks.raw_leads_freshness, db)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert "cannot read raw.leads" in result.description


# --------------------------------------------------------------------------------------------------
# drift end to end: generated data, dbt, Dagster
# --------------------------------------------------------------------------------------------------
@dg.asset(deps=[mon_assets.score_distribution_history.key])
def crm_sync_stub() -> None:
    """Stands in for the CRM sync of a later issue: must not run after a drift ERROR."""


def _record(db):
    result = dg.materialize([mon_assets.score_distribution_history, mon_checks.score_distribution_drift, crm_sync_stub],
                            resources={"warehouse": dres.WarehouseResource(database_path=str(db))},
                            raise_on_error=False)
    (evaluation,) = result.get_asset_check_evaluations()
    synced = bool(result.asset_materializations_for_node("crm_sync_stub"))
    return result, evaluation, synced


def _bin_shares(db, metric):
    rows = query(db, f"select {metric} as v from marts.lead_scores")
    counts = [0] * 10
    for r in rows:
        counts[min(max(int(r["v"] // 10), 0), 9)] += 1
    return [c / len(rows) for c in counts]


def _independent_psi(before, after, eps=1e-4):
    return sum((max(a, eps) - max(e, eps)) * math.log(max(a, eps) / max(e, eps)) for e, a in zip(before, after))


@pytest.fixture(scope="module")
def drift_runs(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(mon.WEBHOOK_ENV, raising=False)  # the failing run 3 must not post to a real webhook
        yield _drift_runs(tmp_path_factory)


def _drift_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("drift")
    db = root / "wh.duckdb"
    datagen.generate(database=str(db), leads=400, events_per_lead=10, days=120, seed=3, as_of=AS_OF)
    dbt_dirs = dict(target_path=root / "target", log_path=root / "logs")
    # seeds and models up to lead_scores only: the data tests run elsewhere, and this keeps the file fast
    build = ("build", "--select", "+lead_scores", "--resource-type", "seed", "--resource-type", "model")
    assert_dbt_ok(run_dbt(PROJECT_ROOT, db, *build, vars={"as_of": AS_OF}, **dbt_dirs))
    runs = {"run1": _record(db)}
    # the same data and rules rebuilt: a repeat of run 1 (same as_of, same rules) records nothing
    assert_dbt_ok(run_dbt(PROJECT_ROOT, db, *build, vars={"as_of": AS_OF}, **dbt_dirs))
    runs["run2"] = _record(db)
    # the same comparison recorded on purpose (skip_repeated=False) in a copy: identical distributions
    same_db = root / "same.duckdb"
    shutil.copy(db, same_db)
    mon.record_distribution(dres.WarehouseResource(database_path=str(same_db)), "identical rebuild",
                            skip_repeated=False)
    runs["identical"] = _record(same_db)
    before = {m: _bin_shares(db, m) for m in mon.SCORE_METRICS}
    samples_before = {m: [r["v"] for r in query(db, f"select {m} as v from marts.lead_scores")]
                      for m in mon.SCORE_METRICS}
    before_ruleset = query(db, "select distinct ruleset_version from marts.lead_scores")
    # an analyst triples every engagement points value in a copy of the project
    project = root / "project"
    copy_project(PROJECT_ROOT, project)
    rules = project / "seeds" / "scoring_engagement_rules.csv"
    with open(rules, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header, rows = reader.fieldnames, list(reader)
    for row in rows:
        row["points"] = str(float(row["points"]) * 3).removesuffix(".0")
    with open(rules, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    assert_dbt_ok(run_dbt(project, db, *build, vars={"as_of": AS_OF}, **dbt_dirs))
    after = {m: _bin_shares(db, m) for m in mon.SCORE_METRICS}
    samples_after = {m: [r["v"] for r in query(db, f"select {m} as v from marts.lead_scores")]
                     for m in mon.SCORE_METRICS}
    assert query(db, "select distinct ruleset_version from marts.lead_scores") != before_ruleset
    runs["run3"] = _record(db)
    # the mistake stays in place for two more hourly runs: still blocked (never compared with a blocked run)
    for run, hours in (("run4", 1), ("run5", 2)):
        assert_dbt_ok(run_dbt(project, db, *build, vars={"as_of": _later(hours)}, **dbt_dirs))
        runs[run] = _record(db)
    status_after_block = query(db, "select run_id, severity, status from monitoring.drift_run_status")
    # branch 1 (a copy): the rules are changed back; the next run passes against the last good run (run 1)
    restored_db = root / "restored.duckdb"
    shutil.copy(db, restored_db)
    assert_dbt_ok(run_dbt(PROJECT_ROOT, restored_db, *build, vars={"as_of": _later(3)}, **dbt_dirs))
    runs["restored"] = _record(restored_db)
    # branch 2: an analyst accepts the tripled distribution (recorded), and the next run with it passes
    accepted = mon.accept_run(dres.WarehouseResource(database_path=str(db)), "ana.lyst",
                              "engagement points tripled on purpose: the new campaign scoring")
    assert_dbt_ok(run_dbt(project, db, *build, vars={"as_of": _later(3)}, **dbt_dirs))
    runs["after_accept"] = _record(db)
    return dict(db=db, runs=runs, before=before, after=after, samples_before=samples_before,
                samples_after=samples_after, status_after_block=status_after_block, accepted=accepted)


def _later(hours):
    return (datetime.fromisoformat(AS_OF) + timedelta(hours=hours)).isoformat(sep=" ")


def test_first_run_passes_with_a_note(drift_runs):
    result, evaluation, synced = drift_runs["runs"]["run1"]
    assert result.success and evaluation.passed and synced
    assert "first recorded run" in evaluation.metadata["note"].value
    assert evaluation.metadata["baseline runs"].value == "none (first run)"


def test_a_repeat_of_the_latest_run_records_nothing(drift_runs):
    result, evaluation, synced = drift_runs["runs"]["run2"]
    assert result.success and evaluation.passed and synced, evaluation.description
    (materialization,) = result.asset_materializations_for_node("score_distribution_history")
    run1_id = drift_runs["runs"]["run1"][0].run_id
    assert materialization.metadata["repeats run"].value == run1_id
    assert materialization.metadata["history rows written"].value == 0
    assert evaluation.metadata["current run"].value == run1_id  # the check re-evaluates the run it repeats


def test_identical_rebuild_passes(drift_runs):
    result, evaluation, synced = drift_runs["runs"]["identical"]
    assert result.success and evaluation.passed and synced, evaluation.description
    for metric in mon.PSI_METRICS:
        assert evaluation.metadata[f"psi {metric}"].value == pytest.approx(0.0, abs=1e-12)
    for metric in mon.SCORE_METRICS:
        assert evaluation.metadata[f"ks {metric}"].value == 0.0
    assert evaluation.metadata["lead_count_change"].value == 0.0
    assert "| [0,10) |" in evaluation.metadata["bins lead_score"].value


def test_history_tables_are_written_once_per_run(drift_runs):
    db = drift_runs["db"]
    per_run = query(db, "select run_id, count(*) as n, min(recorded_at) as t "
                        "from monitoring.score_distribution_history group by run_id order by t")
    assert len(per_run) == 5  # runs 1, 3, 4, 5 and the one after the acceptance; run 2 repeated run 1
    expected_rows = 3 * 10 + 4 + 4 + 2  # 3 scores x 10 bins, grades A-D, levels 1-4, lead count, MQL rate
    assert {r["n"] for r in per_run} == {expected_rows}
    quantiles = query(db, "select run_id, metric, count(*) as n from monitoring.score_quantiles group by all")
    assert {r["n"] for r in quantiles} == {101} and len(quantiles) == 5 * 3
    # shares add up to 1 per run and distribution metric; the lead count matches the mart
    sums = query(db, "select run_id, metric, sum(share) as s from monitoring.score_distribution_history "
                     "where metric not in ('lead_count', 'mql_rate') group by all")
    assert all(r["s"] == pytest.approx(1.0) for r in sums)
    # idempotent per run_id: recording the last run again replaces its rows
    last = per_run[-1]["run_id"]
    mon.record_distribution(dres.WarehouseResource(database_path=str(db)), last)
    again = query(db, "select count(*) as n from monitoring.score_distribution_history where run_id = ?", [last])
    assert again[0]["n"] == expected_rows


def test_tripled_engagement_points_fail_the_drift_check_and_block_downstream(drift_runs):
    before, after = drift_runs["before"], drift_runs["after"]
    expected_psi = {m: _independent_psi(before[m], after[m]) for m in mon.SCORE_METRICS}
    assert expected_psi["engagement_score"] >= 0.25  # computed here independently: an ERROR
    result, evaluation, synced = drift_runs["runs"]["run3"]
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR, evaluation.description
    for metric in mon.SCORE_METRICS:
        assert evaluation.metadata[f"psi {metric}"].value == pytest.approx(expected_psi[metric], abs=1e-9)
    stats = evaluation.metadata["statistics"].value
    assert "| PSI | engagement_score |" in stats and "| ERROR |" in stats and "0.2500" in stats
    assert "PSI contribution" in evaluation.metadata["bins engagement_score"].value
    assert "PSI engagement_score" in evaluation.description
    # KS from the 101 stored percentiles is close to KS on the full samples (computed here by brute force)
    for metric in mon.SCORE_METRICS:
        a, b = drift_runs["samples_before"][metric], drift_runs["samples_after"][metric]
        full_ks = max(abs(sum(v <= x for v in a) / len(a) - sum(v <= x for v in b) / len(b)) for x in {*a, *b})
        assert evaluation.metadata[f"ks {metric}"].value == pytest.approx(full_ks, abs=0.02)
    # blocking: the stand-in CRM sync did not run
    assert not synced and not result.success


def test_a_drift_block_holds_until_the_rules_are_restored_or_the_run_is_accepted(drift_runs):
    runs = drift_runs["runs"]
    run_id = {name: runs[name][0].run_id for name in ("run1", "run3", "run4", "run5", "restored", "after_accept")}
    # the mistake blocks three runs in a row, each compared with the last good run, never with a blocked one
    for name in ("run3", "run4", "run5"):
        result, evaluation, synced = runs[name]
        assert evaluation.severity == dg.AssetCheckSeverity.ERROR and not synced, (name, evaluation.description)
        assert evaluation.metadata["baseline runs"].value == run_id["run1"], name
        assert evaluation.metadata["run status"].value == mon.BLOCKED
    assert runs["run5"][1].metadata["blocked runs left out of the baseline"].value == \
        f"{run_id['run4']}, {run_id['run3']}"
    status = {r["run_id"]: (r["severity"], r["status"]) for r in drift_runs["status_after_block"]}
    assert status[run_id["run1"]] == (mon.PASS, mon.PASSED)
    assert all(status[run_id[n]] == (mon.ERROR, mon.BLOCKED) for n in ("run3", "run4", "run5"))
    # rules changed back: passes against run 1, and the CRM sync runs
    result, evaluation, synced = runs["restored"]
    assert evaluation.passed and synced, evaluation.description
    assert evaluation.metadata["baseline runs"].value == run_id["run1"]
    # accepted (who, why, when recorded): the next run with the tripled rules is compared with it and passes
    assert drift_runs["accepted"]["run_id"] == run_id["run5"]
    result, evaluation, synced = runs["after_accept"]
    assert evaluation.passed and synced, evaluation.description
    assert evaluation.metadata["baseline runs"].value == run_id["run5"]
    row = query(drift_runs["db"], "select * from monitoring.drift_run_status where run_id = ?", [run_id["run5"]])[0]
    assert (row["status"], row["accepted_by"]) == (mon.ACCEPTED, "ana.lyst")
    assert "tripled on purpose" in row["accepted_reason"] and row["accepted_at"] is not None


def test_an_acceptance_needs_a_blocked_run_and_a_reason(tmp_path):
    wh = dres.WarehouseResource(database_path=str(tmp_path / "wh.duckdb"))
    with pytest.raises(mon.DriftAcceptanceError, match="who accepts"):
        mon.accept_run(wh, "ana", " ")
    with pytest.raises(mon.DriftAcceptanceError, match="no blocked run"):
        mon.accept_run(wh, "ana", "fine")
    mon.record_check_result(wh, "r1", mon.PASS)
    with pytest.raises(mon.DriftAcceptanceError, match="not blocked"):
        mon.accept_run(wh, "ana", "fine", run_id="r1")
    mon.record_check_result(wh, "r2", mon.ERROR)
    assert mon.accept_run(wh, "ana", "fine")["run_id"] == "r2"
    assert mon.record_check_result(wh, "r2", mon.ERROR) == mon.ACCEPTED  # a re-check does not undo the decision


# --------------------------------------------------------------------------------------------------
# notifier
# --------------------------------------------------------------------------------------------------
@pytest.fixture
def webhook():
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks/s3cr3t-token", received
    finally:
        server.shutdown()
        server.server_close()


def test_failed_check_posts_to_the_webhook_without_logging_the_url(tmp_path, monkeypatch, caplog, webhook):
    url, received = webhook
    monkeypatch.setenv(mon.WEBHOOK_ENV, url)
    caplog.set_level(logging.DEBUG)
    db = _raw_db(tmp_path / "landing.duckdb", 100, 1)
    result = _freshness(raw_checks.raw_leads_freshness, db)
    assert result.severity == dg.AssetCheckSeverity.ERROR
    assert len(received) == 1
    path, content_type, payload = received[0]
    assert path == "/hooks/s3cr3t-token" and content_type == "application/json"
    assert payload["check_name"] == "raw_leads_freshness" and payload["asset"] == "raw/leads"
    assert payload["severity"] == "ERROR" and "100.0 h old" in payload["summary"]
    # a passing check does not notify
    assert _freshness(raw_checks.raw_events_freshness, db).passed and len(received) == 1
    assert "raw_leads_freshness" in caplog.text
    assert "s3cr3t" not in caplog.text and "127.0.0.1" not in caplog.text
    assert all("s3cr3t" not in str(v.value) for v in result.metadata.values())


def test_webhook_failure_is_logged_and_never_raises(monkeypatch, caplog):
    with socket_free_port() as port:
        url = f"http://127.0.0.1:{port}/hooks/s3cr3t-token"  # nothing listens there
    monkeypatch.setenv(mon.WEBHOOK_ENV, url)
    caplog.set_level(logging.DEBUG)
    assert mon.Notifier(timeout=1).notify("c", "a", "WARN", "something") is False
    assert "could not post the alert" in caplog.text and "s3cr3t" not in caplog.text
    monkeypatch.delenv(mon.WEBHOOK_ENV)
    assert mon.Notifier().notify("c", "a", "WARN", "logged only") is False
    assert "logged only" in caplog.text


class socket_free_port:
    def __enter__(self):
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc):
        self.sock.close()
