"""lead_scoring/backfill.py: the plan (pure) and one real backfill on a small generated warehouse."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from conftest import query
from lead_scoring import backfill, clock
from lead_scoring.clock import AS_OF_ENV
from lead_scoring.datagen import generate

END = dt.datetime(2026, 11, 1)


def test_the_plan_runs_weekly_instants_oldest_first_and_ends_with_a_build():
    steps, skipped = backfill.plan(END, weeks=3, every_days=7, latest_recorded=None, build_end=True)
    assert [(s.as_of, s.command) for s in steps] == [
        (dt.datetime(2026, 10, 11), "run"), (dt.datetime(2026, 10, 18), "run"), (dt.datetime(2026, 10, 25), "run"),
        (END, "build")]
    assert skipped == []


def test_only_the_final_build_runs_data_tests_and_none_runs_unit_tests():
    run_args = backfill.dbt_args(backfill.Step(dt.datetime(2026, 10, 11), "run"))
    build_args = backfill.dbt_args(backfill.Step(END, "build"))
    assert run_args[:2] == ["run", "--select"] and "--exclude-resource-type" not in run_args
    assert build_args[0] == "build"
    assert build_args[build_args.index("--exclude-resource-type") + 1] == "unit_test"
    assert "--vars" not in run_args and "--vars" not in build_args  # the as_of: in the environment (run_step)


def test_each_step_hands_its_as_of_to_dbt_in_the_environment(monkeypatch):
    seen = []
    monkeypatch.setattr(backfill, "invoke_dbt",
                        lambda database, args, target: seen.append((args[0], os.environ.get(AS_OF_ENV))))
    monkeypatch.delenv(AS_OF_ENV, raising=False)
    backfill.run_step(Path("wh.duckdb"), backfill.Step(dt.datetime(2026, 10, 11, 6), "run"))
    backfill.run_step(Path("wh.duckdb"), backfill.Step(END, "build"))
    assert seen == [("run", "2026-10-11 06:00:00"), ("build", "2026-11-01 00:00:00")]
    assert AS_OF_ENV not in os.environ


def test_the_plan_skips_instants_the_history_already_has():
    steps, skipped = backfill.plan(END, weeks=2, every_days=3, latest_recorded=dt.datetime(2026, 10, 21),
                                   build_end=False)
    # 10-18, 10-21 are covered; 10-24, 10-27, 10-30 are not (end itself is not a run without build_end)
    assert skipped == [dt.datetime(2026, 10, 18), dt.datetime(2026, 10, 21)]
    assert [s.as_of.day for s in steps] == [24, 27, 30]


@pytest.mark.parametrize("weeks, every", [(-1, 7), (2, 0)])
def test_the_plan_refuses_nonsense(weeks, every):
    with pytest.raises(ValueError):
        backfill.plan(END, weeks=weeks, every_days=every, latest_recorded=None, build_end=False)


@pytest.mark.parametrize("text, expected", [
    ("2026-11-01", END), ("2026-11-01 06:30:00", dt.datetime(2026, 11, 1, 6, 30)),
    ("2026-11-01T06:30:00Z", dt.datetime(2026, 11, 1, 6, 30)),
    ("2026-11-01T08:30:00+02:00", dt.datetime(2026, 11, 1, 6, 30)),
])
def test_instants_are_read_as_utc(text, expected):
    assert clock.parse_instant(text) == expected


def test_a_backfill_records_each_run_once(tmp_path, monkeypatch, capsys):
    db = tmp_path / "wh.duckdb"
    generate(str(db), leads=300, events_per_lead=15, days=120, seed=11, as_of="2026-11-01 00:00:00")
    monkeypatch.setenv("LEAD_SCORING_DUCKDB_PATH", str(db))
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    args = ["--end", "2026-11-01", "--weeks", "2", "--every-days", "7",
            "--", "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")]
    assert backfill.main(args) == 0
    runs = query(db, "select distinct valid_from from marts.lead_score_snapshots order by 1")
    assert [r["valid_from"] for r in runs] == [dt.datetime(2026, 10, 18), dt.datetime(2026, 10, 25)]
    recorded = query(db, """select run_id, min(recorded_at) as recorded_at, min(as_of) as as_of
                            from monitoring.score_distribution_history group by 1 order by 2""")
    assert [tuple(r.values()) for r in recorded] == [
        ("backfill 2026-10-18 00:00:00", dt.datetime(2026, 10, 18), dt.datetime(2026, 10, 18)),
        ("backfill 2026-10-25 00:00:00", dt.datetime(2026, 10, 25), dt.datetime(2026, 10, 25))]
    # the marts hold the last run
    assert query(db, "select distinct scored_at from marts.lead_scores") == [{"scored_at": dt.datetime(2026, 10, 25)}]
    capsys.readouterr()
    # a second backfill over the same weeks does nothing
    assert backfill.main(args) == 0
    out = capsys.readouterr().out
    assert out.count("skip ") == 2 and "done " not in out
    assert query(db, "select count(distinct run_id) as n from monitoring.score_distribution_history") == [{"n": 2}]


HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(120)
"""


def test_a_backfill_on_a_busy_warehouse_says_who_holds_it_and_changes_nothing(tmp_path, monkeypatch, capsys):
    import subprocess
    import sys

    from lead_scoring.warehouse_lock import EXIT_LOCKED

    db = tmp_path / "wh.duckdb"
    generate(str(db), leads=40, events_per_lead=5, days=60, seed=3, as_of="2026-11-01 00:00:00")
    before = db.read_bytes()
    monkeypatch.setenv("LEAD_SCORING_DUCKDB_PATH", str(db))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code = backfill.main(["--end", "2026-11-01", "--weeks", "1", "--build-end",
                              "--", "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")])
        err = capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    assert code == EXIT_LOCKED
    assert f"another run is writing the warehouse {db} (pid {holder.pid}" in err
    assert not (tmp_path / "target").exists()  # no dbt command was started
    assert db.read_bytes() == before
