"""A no-op run: `lead-scoring build` at the same as_of with nothing new skips dbt (lead_scoring/build_state.py).

The skip must never hide a change: each thing a build reads (raw rows, the project's files, settings, as_of) or
writes (a dropped or re-filled relation) changes the fingerprint, any dbt run forgets the record (the on-run-start
hook of macros/build_state.sql), and --force, --full-refresh or an empty as_of always build.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import AS_OF, PROJECT_ROOT, run_dbt
from lead_scoring import build_state, datagen
from lead_scoring.clock import as_of_environ
from lead_scoring.dbt_cli import build_args, skippable

LATER = "2026-11-01 06:00:00"


def _cli_build(db: Path, target: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DBT_TARGET_PATH=str(target), DBT_LOG_PATH=str(target / "logs"))
    return subprocess.run([sys.executable, "-m", "lead_scoring", "build", "--database", str(db), *args],
                          cwd=str(PROJECT_ROOT), env=env, capture_output=True, text=True)


def _invocation(target: Path) -> str:
    return json.loads((target / "run_results.json").read_text())["metadata"]["invocation_id"]


@pytest.fixture(scope="module")
def noop_warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("build_state")
    db = root / "wh.duckdb"
    datagen.generate(str(db), leads=300, events_per_lead=10, days=60, seed=3, as_of=AS_OF)
    target = root / "target"
    first = _cli_build(db, target, "--as-of", AS_OF)
    assert first.returncode == 0, first.stdout[-3000:]
    return dict(db=db, target=target, root=root)


def test_the_same_build_again_is_skipped_and_anything_new_builds(noop_warehouse):
    db, target = noop_warehouse["db"], noop_warehouse["target"]
    assert build_state.recorded(db) is not None
    first = _invocation(target)

    again = _cli_build(db, target, "--as-of", AS_OF)
    assert again.returncode == 0, again.stdout[-3000:]
    assert "Nothing new since the build that succeeded" in again.stdout
    assert _invocation(target) == first  # dbt did not run

    forced = _cli_build(db, target, "--as-of", AS_OF, "--force")
    assert forced.returncode == 0, forced.stdout[-3000:]
    assert "Nothing new" not in forced.stdout and _invocation(target) != first

    # new raw events (with their own _loaded_at): a build, recorded in turn
    appended = datagen.append_events(str(db), 0.01, seed=11, loaded_at="2026-11-01 00:30:00")
    assert appended["appended"] > 0
    before = _invocation(target)
    new_rows = _cli_build(db, target, "--as-of", AS_OF)
    assert new_rows.returncode == 0, new_rows.stdout[-3000:]
    assert "Nothing new" not in new_rows.stdout and _invocation(target) != before
    assert "Nothing new" in _cli_build(db, target, "--as-of", AS_OF).stdout

    # a later as_of builds, on the parse dbt saved in the target folder: the instant reaches dbt in the environment
    # (lead_scoring.clock.scoring_clock), and new --vars would have made dbt parse the whole project again
    before = _invocation(target)
    later = _cli_build(db, target, "--as-of", LATER)
    assert later.returncode == 0 and "Nothing new" not in later.stdout and _invocation(target) != before
    assert "Unable to do partial parsing" not in later.stdout
    lead_scores = duckdb.connect(str(db), read_only=True)
    try:
        assert lead_scores.execute("select distinct cast(scored_at as varchar) from marts.lead_scores").fetchall() == [
            (LATER,)]
    finally:
        lead_scores.close()


def test_any_dbt_run_forgets_the_record(noop_warehouse):
    db = noop_warehouse["db"]
    ok = _cli_build(db, noop_warehouse["target"], "--as-of", LATER)
    assert ok.returncode == 0 and build_state.recorded(db) is not None
    proc = run_dbt(PROJECT_ROOT, db, "run", "--select", "stg_rules__event_types", vars={"as_of": AS_OF},
                   target_path=noop_warehouse["root"] / "target_by_hand")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert build_state.recorded(db) is None


def _copy(noop_warehouse, tmp_path) -> Path:
    db = tmp_path / "copy.duckdb"
    shutil.copyfile(noop_warehouse["db"], db)
    return db


def _execute(db: Path, sql: str) -> None:
    con = duckdb.connect(str(db))
    try:
        con.execute(sql)
    finally:
        con.close()


def test_each_thing_a_build_reads_or_writes_changes_the_fingerprint(noop_warehouse, tmp_path):
    db = _copy(noop_warehouse, tmp_path)
    args = build_args()
    env = {"LEAD_SCORING_TARGET": "duckdb", "DBT_TARGET_PATH": "/a", **as_of_environ(AS_OF)}
    base = build_state.fingerprint(db, PROJECT_ROOT, args, env)
    # stable: the same inputs, and where dbt writes its target and logs
    assert build_state.fingerprint(db, PROJECT_ROOT, args, dict(env, DBT_TARGET_PATH="/b")) == base
    assert build_state.fingerprint(db, PROJECT_ROOT, args, dict(env, **as_of_environ(LATER))) != base
    assert build_state.fingerprint(db, PROJECT_ROOT, build_args(unit_tests=True), env) != base
    assert build_state.fingerprint(db, PROJECT_ROOT, args, dict(env, LEAD_SCORING_DUCKDB_MEMORY_LIMIT="2GB")) != base

    # a raw row re-delivered in place: the same count, a newer _loaded_at
    _execute(db, "update raw.events set _loaded_at = _loaded_at + interval 1 day "
                 "where _loaded_at = (select max(_loaded_at) from raw.events)")
    redelivered = build_state.fingerprint(db, PROJECT_ROOT, args, env)
    assert redelivered != base
    _execute(db, "delete from intermediate.int_scored_leads"
                 " where lead_id = (select min(lead_id) from intermediate.int_scored_leads)")
    emptied = build_state.fingerprint(db, PROJECT_ROOT, args, env)
    assert emptied != redelivered
    _execute(db, "drop view if exists marts.lead_score_history")
    assert build_state.fingerprint(db, PROJECT_ROOT, args, env) != emptied


def test_the_project_digest_covers_rules_models_and_tests_but_not_the_python_suite(tmp_path):
    project = tmp_path / "project"
    for name in ("models", "macros", "seeds", "tests/generic", "tests/python"):
        (project / name).mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: x\n")
    (project / "seeds" / "scoring_fit_rules.csv").write_text("rule_id,points\nr1,10\n")
    (project / "models" / "m.sql").write_text("select 1 as a\n")
    (project / "tests" / "python" / "test_x.py").write_text("def test(): pass\n")
    base = build_state.project_digest(project)

    (project / "tests" / "python" / "test_x.py").write_text("def test(): assert True\n")
    assert build_state.project_digest(project) == base
    for path, text in ((project / "seeds" / "scoring_fit_rules.csv", "rule_id,points\nr1,11\n"),
                       (project / "models" / "m.sql", "select 2 as a\n"),
                       (project / "tests" / "generic" / "t.sql", "{% test t(model) %}select 1{% endtest %}\n"),
                       (project / "dbt_project.yml", "name: y\n")):
        before = build_state.project_digest(project)
        path.write_text(text)
        assert build_state.project_digest(project) != before, path


def test_only_a_build_at_an_explicit_as_of_on_duckdb_may_be_skipped():
    duck = {"LEAD_SCORING_TARGET": "duckdb"}
    assert skippable(AS_OF, (), False, duck)
    assert skippable(AS_OF, (), False, {})
    assert not skippable("", (), False, duck)  # the run's start time: never the same twice
    assert not skippable(None, (), False, duck)
    assert not skippable(AS_OF, (), True, duck)  # --force
    assert not skippable(AS_OF, ("--full-refresh",), False, duck)
    assert not skippable(AS_OF, (), False, {"LEAD_SCORING_TARGET": "postgres"})


def test_a_build_that_cannot_be_recorded_still_succeeds(tmp_path, monkeypatch, capsys):
    """The record is written after dbt: if another process took the file since, the build's success stands."""
    from lead_scoring import dbt_cli, warehouse_lock

    def taken(database, value):
        raise duckdb.IOException("Could not set lock on file: held by another process")

    monkeypatch.setattr(warehouse_lock, "run_guarded", lambda database, command, cwd=None: 0)
    monkeypatch.setattr(build_state, "fingerprint", lambda *args, **kwargs: "f")
    monkeypatch.setattr(build_state, "record", taken)
    monkeypatch.delenv("LEAD_SCORING_TARGET", raising=False)
    # build() points dbt at the file through the environment: restored after the test
    monkeypatch.setenv("LEAD_SCORING_DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
    monkeypatch.setenv("DBT_PROFILES_DIR", str(PROJECT_ROOT))
    assert dbt_cli.build(tmp_path / "wh.duckdb", AS_OF) == 0
    assert "was not recorded" in capsys.readouterr().err
