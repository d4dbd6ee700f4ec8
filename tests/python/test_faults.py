"""Faults, for real: SIGKILL during `dbt build`, two runs at once on one DuckDB file, SIGKILL during a CRM export.

One module fixture generates a small raw data set (300 leads) and builds a *base* warehouse at an earlier
as_of (T0), so that the history tables exist and a build at T1 really appends to them. Every later dbt run
works at T1 on the same file path (partial parsing stays valid), from a copy of the base:

- the reference run is held inside the insert transaction of `lead_score_snapshots` (a test-only post-hook,
  injected into a copy of the project, that blocks reading a FIFO) while a second `dbt build`, the guard CLI
  and `find_lock_holder` try the same file; then it is released and completes;
- the kill chain starts again from the base and SIGKILLs `dbt build` after the first model of staging, of
  intermediate and of marts, then inside the (uncommitted) insert of `lead_score_snapshots`, then inside that of
  `lead_rule_points_snapshots` (after `lead_score_snapshots` committed), plants stale __dbt_tmp/__dbt_backup
  relations, and runs `dbt build` once more; every relation of schema marts must then equal the reference
  row for row (order-free, floats exact);
- the CRM export is SIGKILLed at three points on a copy of the reference, then re-run;
- in Dagster, two runs submitted to an instance configured from orchestration/dagster.yaml: the second waits.

Every value is compared exactly, floats too: sums of float points are exact decimal sums (macros/portable.sql,
exact_sum), so two clean builds are bit-identical (see docs/reliability.md, Faults).
"""
from __future__ import annotations

import csv
import errno
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from conftest import AS_OF, DBT, PROJECT_ROOT, copy_project, query
from lead_scoring import datagen
from lead_scoring.clock import dbt_vars
from lead_scoring import crm_sync
from lead_scoring import warehouse_lock as wl

pytestmark = pytest.mark.filterwarnings(r"error::DeprecationWarning:orchestration(\.|$)")

T0 = "2026-10-25 00:00:00"  # the base build: history tables exist before the runs under test
T1 = AS_OF
LEADS = 300
BUILD = ("build", "--resource-type", "seed", "--resource-type", "model")
HISTORY = ("lead_score_snapshots", "lead_rule_points_snapshots", "scoring_rule_config_snapshots")
PAUSE_MODEL_ENV, PAUSE_FIFO_ENV = "LEAD_SCORING_TEST_PAUSE_MODEL", "LEAD_SCORING_TEST_PAUSE_FIFO"
# Sums of float points are exact decimal sums (exact_sum in macros/portable.sql), so two clean builds are
# bit-identical, floats included (they used to differ in the last bits: DuckDB sums in parallel, in no order).
FLOAT_ABS = 0.0
WAIT_SECONDS = 300  # generous upper bound for a step on a loaded machine (not a timing assertion)

# A post-hook for the copy of the project: inside the model's transaction (after its insert, before COMMIT),
# block reading a FIFO when the model is the one named by the env var. Off (select 1) otherwise.
PAUSE_MACRO = """
{% macro test_pause_hook() -%}
    {%- set fifo = env_var('LEAD_SCORING_TEST_PAUSE_FIFO', '') -%}
    {%- if fifo and env_var('LEAD_SCORING_TEST_PAUSE_MODEL', '') == this.identifier -%}
        select count(*) as released from read_csv('{{ fifo }}', header = true)
    {%- else -%}
        select 1 as not_paused
    {%- endif -%}
{%- endmacro %}
"""


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------
def _copy_db(src: Path, dst: Path) -> None:
    """Copy a DuckDB file with its WAL (if any), replacing `dst` and its WAL."""
    for suffix in ("", ".wal"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
        if Path(f"{src}{suffix}").exists():
            shutil.copy(f"{src}{suffix}", f"{dst}{suffix}")


def _relations(db: Path) -> dict[tuple[str, str], str]:
    return {(r["table_schema"], r["table_name"]): r["table_type"] for r in query(
        db, "select table_schema, table_name, table_type from information_schema.tables")}


def _rows(db: Path, relation: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        return con.execute(f"select * from {relation}").fetchall()
    finally:
        con.close()


def _marts(db: Path) -> dict[str, list[tuple]]:
    return {name: _rows(db, f"marts.{name}") for schema, name in _relations(db) if schema == "marts"}


def _split(row: tuple) -> tuple[str, tuple[float, ...]]:
    """(repr of the row's non-float values, its float values)."""
    return repr(tuple(v for v in row if not isinstance(v, float))), tuple(v for v in row if isinstance(v, float))


def compare_rows(expected: list[tuple], actual: list[tuple]) -> tuple[list[str], int]:
    """Order-free comparison of two row sets: every non-float value (ids, hashes, grades, stages, counts,
    timestamps, text) exactly, as a multiset of rows; float values of rows with the same non-float values to
    FLOAT_ABS (0: exact; see docs/reliability.md). Returns (problems, number of float
    values that are not bit-identical)."""
    def grouped(rows):
        out: dict[str, list[tuple[float, ...]]] = {}
        for row in rows:
            key, floats = _split(row)
            out.setdefault(key, []).append(floats)
        return out

    exp, act = grouped(expected), grouped(actual)
    problems = [f"row only expected: {k}" for k in exp.keys() - act.keys()][:3]
    problems += [f"row only actual: {k}" for k in act.keys() - exp.keys()][:3]
    inexact = 0
    for key in exp.keys() & act.keys():
        if len(exp[key]) != len(act[key]):
            problems.append(f"{key}: {len(exp[key])} expected vs {len(act[key])} actual rows")
            continue
        for e_floats, a_floats in zip(sorted(exp[key]), sorted(act[key])):
            for e, a in zip(e_floats, a_floats):
                inexact += e != a
                if not math.isclose(e, a, rel_tol=0.0, abs_tol=FLOAT_ABS):
                    problems.append(f"{key}: {e} vs {a}")
    return problems, inexact


def _count(db: Path, relation: str) -> int:
    return query(db, f"select count(*) as n from {relation}")[0]["n"]


def _fifo_reader_waiting(fifo: Path) -> int | None:
    """A write end of `fifo` if a reader has it open (kept open, so the reader blocks on read), else None."""
    try:
        return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            return None
        raise


@dataclass
class Lab:
    root: Path
    project: Path
    work: Path  # the one DuckDB path every dbt run of this module uses
    target: Path
    env: dict[str, str]
    notes: dict = field(default_factory=dict)

    def start(self, log: Path, pause_model: str | None = None, fifo: Path | None = None,
              args: tuple[str, ...] = BUILD, target: Path | None = None) -> subprocess.Popen:
        env = dict(self.env)
        if pause_model:
            env.update({PAUSE_MODEL_ENV: pause_model, PAUSE_FIFO_ENV: str(fifo)})
        cmd = [str(DBT), *args, "--vars", dbt_vars(T1), "--target-path", str(target or self.target),
               "--log-path", str(self.root / "logs")]
        return subprocess.Popen(cmd, cwd=self.project, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)

    def build(self, as_of: str, log_name: str) -> str:
        log = self.root / log_name
        cmd = [str(DBT), *BUILD, "--vars", dbt_vars(as_of), "--target-path", str(self.target),
               "--log-path", str(self.root / "logs")]
        proc = subprocess.run(cmd, cwd=self.project, env=self.env, stdout=log.open("w"), stderr=subprocess.STDOUT)
        text = log.read_text()
        assert proc.returncode == 0, f"dbt build at {as_of} failed:\n{text[-4000:]}"
        return text


def _wait(proc: subprocess.Popen, log: Path, ready, what: str):
    """Poll until `ready()` returns something truthy (returned); fail if dbt exits first."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        got = ready()
        if got:
            return got
        if proc.poll() is not None:
            pytest.fail(f"dbt exited ({proc.returncode}) before {what}:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"gave up waiting for {what}")


def _kill_after_line(lab: Lab, name: str, marker: str) -> str:
    log = lab.root / f"{name}.log"
    proc = lab.start(log)
    _wait(proc, log, lambda: marker in log.read_text(), f"'{marker}'")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return log.read_text()


def _kill_paused(lab: Lab, name: str, model: str) -> str:
    """SIGKILL dbt while it is blocked in `model`'s post-hook: after its insert, before its COMMIT."""
    log, fifo = lab.root / f"{name}.log", lab.root / f"{name}.fifo"
    os.mkfifo(fifo)
    proc = lab.start(log, pause_model=model, fifo=fifo)
    fd = _wait(proc, log, lambda: _fifo_reader_waiting(fifo), f"the pause in {model}")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    os.close(fd)
    return log.read_text()


# --------------------------------------------------------------------------------------------------
# the module's runs
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Lab:
    root = tmp_path_factory.mktemp("faults")
    raw = root / "generated.duckdb"  # not raw.duckdb: the catalog name would clash with schema raw
    datagen.generate(database=str(raw), leads=LEADS, events_per_lead=20, days=180, seed=7, as_of=T1)
    project = copy_project(PROJECT_ROOT, root / "project")
    (project / "macros" / "test_pause_hook.sql").write_text(PAUSE_MACRO)
    for model in HISTORY:
        sql = project / "models" / "marts" / "history" / f"{model}.sql"
        sql.write_text(sql.read_text() + '\n{{ config(post_hook="{{ test_pause_hook() }}") }}\n')
    work = root / "wh.duckdb"
    env = dict(os.environ, LEAD_SCORING_DUCKDB_PATH=str(work), DBT_PROFILES_DIR=str(project),
               DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_USE_COLORS="false")
    for name in (PAUSE_MODEL_ENV, PAUSE_FIFO_ENV):
        env.pop(name, None)
    lab = Lab(root=root, project=project, work=work, target=root / "target", env=env)
    _copy_db(raw, work)
    lab.build(T0, "base.log")
    _copy_db(work, root / "base.duckdb")
    lab.notes["base_counts"] = {m: _count(work, f"marts.{m}") for m in HISTORY}
    return lab


@pytest.fixture(scope="module")
def reference(lab: Lab) -> dict:
    """The reference build at T1, held mid-transaction while a second run tries the same file."""
    _copy_db(lab.root / "base.duckdb", lab.work)
    log, fifo = lab.root / "reference.log", lab.root / "reference.fifo"
    os.mkfifo(fifo)
    first = lab.start(log, pause_model="lead_score_snapshots", fifo=fifo)
    fd = _wait(first, log, lambda: _fifo_reader_waiting(fifo), "the pause in lead_score_snapshots")
    seen: dict = {"pid": first.pid}
    try:
        # 1. the guard, in-process
        seen["holder"] = wl.find_lock_holder(lab.work)
        # 2. the guard CLI around a second dbt build (refused before dbt starts)
        guard = subprocess.run([sys.executable, "-m", "lead_scoring.warehouse_lock", "--database", str(lab.work),
                                "--", str(DBT), *BUILD], cwd=PROJECT_ROOT, env=lab.env, capture_output=True,
                               text=True)
        seen["guard"] = guard
        # 3. a bare second `dbt build` on the same file (its own target folder, primed for partial parsing)
        second_target = lab.root / "target_second"
        second_target.mkdir()
        shutil.copy(lab.target / "partial_parse.msgpack", second_target / "partial_parse.msgpack")
        second_log = lab.root / "second.log"
        second = lab.start(second_log, target=second_target)
        second.wait(timeout=WAIT_SECONDS)
        seen["second_rc"], seen["second_out"] = second.returncode, second_log.read_text()
        seen["first_running"] = first.poll() is None
    finally:
        os.write(fd, b"released\n1\n")
        os.close(fd)
    first.wait(timeout=WAIT_SECONDS)
    seen["first_rc"], seen["first_out"] = first.returncode, log.read_text()
    ref = lab.root / "reference.duckdb"
    _copy_db(lab.work, ref)
    seen["db"] = ref
    seen["marts"] = _marts(ref)
    return seen


@pytest.fixture(scope="module")
def kill_chain(lab: Lab, reference: dict) -> dict:
    """From the base: five SIGKILLed builds in a row, stale work relations planted, then one more build."""
    _copy_db(lab.root / "base.duckdb", lab.work)
    out: dict = {"logs": {}}
    for layer, marker in (("staging", "OK created sql view model staging."),
                          ("intermediate", "OK created sql table model intermediate."),
                          ("marts", "OK created sql table model marts.")):
        out["logs"][layer] = _kill_after_line(lab, f"kill_{layer}", marker)
    for model in ("lead_score_snapshots", "lead_rule_points_snapshots"):
        out["logs"][model] = _kill_paused(lab, f"kill_{model}", model)
        probe = lab.root / f"probe_{model}.duckdb"
        out.setdefault("had_wal", {})[model] = Path(f"{lab.work}.wal").exists()
        _copy_db(lab.work, probe)  # read the killed state from a copy (opening it replays the WAL)
        out.setdefault("counts_after_kill", {})[model] = {m: _count(probe, f"marts.{m}") for m in HISTORY}
    # what a kill between a model's COMMIT and its cleanup leaves behind (too short a window to hit by timing)
    con = duckdb.connect(str(lab.work))
    try:
        con.execute("create table marts.lead_scores__dbt_backup as select * from marts.lead_scores")
        con.execute("create table marts.account_scores__dbt_tmp as select * from marts.account_scores")
        con.execute("create view staging.stg_crm__leads__dbt_tmp as select 1 as planted")
        con.execute("create table marts.scoring_rule_config_snapshots__dbt_tmp as select 1 as planted")
    finally:
        con.close()
    out["recovery_log"] = lab.build(T1, "recovery.log")
    out["db"] = lab.root / "recovered.duckdb"
    _copy_db(lab.work, out["db"])
    out["marts"] = _marts(out["db"])
    return out


# --------------------------------------------------------------------------------------------------
# two runs at once
# --------------------------------------------------------------------------------------------------
def test_compare_rows_is_exact_except_for_float_noise():
    ref = [("a", 1, 0.1 + 0.2, None), ("b", 2, 5.0, "x"), ("b", 2, 5.0, "x")]
    assert compare_rows(ref, list(reversed(ref))) == ([], 0)
    assert compare_rows(ref, [("a", 1, 0.3, None), *ref[1:]])[0]  # last-bit noise is a difference now
    assert compare_rows(ref, [("a", 1, 0.300002, None), *ref[1:]])[0]  # a real difference
    assert compare_rows(ref, ref[:2])[0]  # a row lost
    assert compare_rows(ref, [*ref, ref[1]])[0]  # a row twice
    assert compare_rows(ref, [("a", 1, 0.3, "y"), *ref[1:]])[0]  # a non-float value differs


def test_parse_lock_error_and_message():
    text = ('Runtime Error\n  IO Error: Could not set lock on file "/data/wh.duckdb": Conflicting lock is held in '
            '/usr/bin/python3.11 (PID 4242). See also https://duckdb.org/docs/current/connect/concurrency')
    holder = wl.parse_lock_error(text)
    assert holder == wl.LockHolder(path="/data/wh.duckdb", program="/usr/bin/python3.11", pid=4242)
    assert wl.parse_lock_error("IO Error: No such file or directory") is None
    message = wl.lock_message("/data/wh.duckdb", holder)
    assert "another run is writing the warehouse /data/wh.duckdb (pid 4242" in message and "Wait for it" in message


def test_guard_passes_a_free_warehouse_and_translates_a_lock_failure_of_the_command(tmp_path, capsys):
    db = tmp_path / "free.duckdb"
    duckdb.connect(str(db)).close()
    assert wl.find_lock_holder(db) is None
    assert wl.find_lock_holder(tmp_path / "missing.duckdb") is None and not (tmp_path / "missing.duckdb").exists()
    assert wl.main(["--database", str(db), "--", sys.executable, "-c", "print('built')"]) == 0
    assert "built" in capsys.readouterr().out
    # a run that starts between the check and the command: the command's lock error becomes the message
    lock_line = ('IO Error: Could not set lock on file \\"x\\": Conflicting lock is held in /bin/dbt (PID 77). '
                 'See also')
    code = wl.main(["--database", str(db), "--", sys.executable, "-c", f"print(\"{lock_line}\"); raise SystemExit(2)"])
    err = capsys.readouterr().err
    assert code == wl.EXIT_LOCKED and "another run is writing" in err and "pid 77" in err
    # other failures keep their exit code and get no lock message
    assert wl.main(["--database", str(db), "--", sys.executable, "-c", "raise SystemExit(3)"]) == 3
    assert "another run" not in capsys.readouterr().err


def test_a_second_run_on_a_held_warehouse_is_refused_with_a_clear_message(reference, lab):
    pid = reference["pid"]
    assert reference["first_running"]  # the refusals happened while the first run held the file
    assert reference["holder"] is not None and reference["holder"].pid == pid
    guard = reference["guard"]
    assert guard.returncode == wl.EXIT_LOCKED
    assert f"another run is writing the warehouse {lab.work} (pid {pid}" in guard.stderr
    assert "Running with dbt" not in guard.stdout  # refused before dbt started
    # the bare dbt build fails on DuckDB's lock and names the file and the holder's pid
    assert reference["second_rc"] != 0
    out = reference["second_out"]
    assert f'Could not set lock on file "{lab.work}"' in out and f"(PID {pid})" in out


def test_the_first_run_completes_and_the_warehouse_is_sound(reference, lab):
    assert reference["first_rc"] == 0, reference["first_out"][-3000:]
    assert "ERROR=0" in reference["first_out"]
    marts = reference["marts"]
    assert len(marts["lead_scores"]) > 250
    base = lab.notes["base_counts"]
    # the paused insert committed once: snapshots grew, and the history grain is unique
    assert _count(reference["db"], "marts.lead_score_snapshots") > base["lead_score_snapshots"]
    dup = query(reference["db"], "select count(*) as n from (select model_id, lead_id, valid_from from "
                                 "marts.lead_score_snapshots group by all having count(*) > 1)")
    assert dup[0]["n"] == 0


# --------------------------------------------------------------------------------------------------
# a run killed in the middle
# --------------------------------------------------------------------------------------------------
def test_each_kill_happened_mid_run(kill_chain):
    logs = kill_chain["logs"]
    for name, text in logs.items():
        assert "Completed successfully" not in text and "Finished running" not in text, name
    # the layer kills came before any history model ran; the paused kills inside the named history model
    for layer in ("staging", "intermediate", "marts"):
        assert "model marts.lead_score_snapshots" not in logs[layer], layer
    assert "OK created sql incremental model marts.lead_score_snapshots" not in logs["lead_score_snapshots"]
    assert "OK created sql incremental model marts.lead_score_snapshots" in logs["lead_rule_points_snapshots"]
    assert "OK created sql incremental model marts.lead_rule_points_snapshots" not in logs["lead_rule_points_snapshots"]


def test_a_kill_inside_an_incremental_insert_rolls_it_back_and_keeps_committed_ones(kill_chain, lab, reference):
    base = lab.notes["base_counts"]
    ref_counts = {m: _count(reference["db"], f"marts.{m}") for m in HISTORY}
    assert ref_counts["lead_score_snapshots"] > base["lead_score_snapshots"]
    assert ref_counts["lead_rule_points_snapshots"] > base["lead_rule_points_snapshots"]
    # killed after lead_score_snapshots' insert, before its COMMIT: nothing of it is stored
    first = kill_chain["counts_after_kill"]["lead_score_snapshots"]
    assert first["lead_score_snapshots"] == base["lead_score_snapshots"]
    assert first["lead_rule_points_snapshots"] == base["lead_rule_points_snapshots"]
    # killed inside lead_rule_points_snapshots: lead_score_snapshots (committed by that run) is complete,
    # lead_rule_points_snapshots is not touched
    second = kill_chain["counts_after_kill"]["lead_rule_points_snapshots"]
    assert second["lead_score_snapshots"] == ref_counts["lead_score_snapshots"]
    assert second["lead_rule_points_snapshots"] == base["lead_rule_points_snapshots"]


def test_the_next_run_completes_and_every_mart_equals_a_clean_run(kill_chain, reference):
    assert "Completed successfully" in kill_chain["recovery_log"]
    recovered, ref = kill_chain["marts"], reference["marts"]
    assert sorted(recovered) == sorted(ref)
    assert set(HISTORY) <= set(ref) and {"lead_scores", "crm_lead_sync", "lead_score_history"} <= set(ref)
    problems = {name: compare_rows(ref[name], recovered[name])[0] for name in ref}
    assert {name: p for name, p in problems.items() if p} == {}
    # the append-only history neither lost nor duplicated a row (reference: one uninterrupted T1 run)
    for model in HISTORY:
        assert len(recovered[model]) == len(ref[model])
        ids = Counter(row[0] for row in recovered[model])  # the snapshot id, first column
        assert max(ids.values()) == 1


def test_stale_work_relations_are_dropped_and_nothing_is_left_behind(kill_chain):
    log = kill_chain["recovery_log"]
    assert "lead_scores__dbt_backup" in log and "left behind by an interrupted run" in log
    leftovers = [key for key in _relations(kill_chain["db"]) if "__dbt_" in key[1]]
    assert leftovers == []
    assert not Path(f"{kill_chain['db']}.wal").exists()


# --------------------------------------------------------------------------------------------------
# a CRM export killed half-way
# --------------------------------------------------------------------------------------------------
# The exporter as a real process, paused at a named point (marker file, then sleep) so the test can SIGKILL it.
CRM_DRIVER = """
import sys, time
from pathlib import Path
from lead_scoring import crm_sync
point, marker = sys.argv[1], Path(sys.argv[2])
def pause():
    marker.write_text("paused")
    time.sleep(600)
real_writer, real_record = crm_sync.write_batch_file, crm_sync.record_batch
def writer(con, ext, path):
    real_writer(con, ext, path)
    if point == "after_csv" and ext == "csv":
        pause()
def record(con, batch):
    if point == "before_record":
        pause()
    real_record(con, batch)
    if point == "after_record":
        pause()
crm_sync.write_batch_file, crm_sync.record_batch = writer, record
raise SystemExit(crm_sync.main(sys.argv[3:]))
"""


def _kill_export(point: str, db: Path, out: Path, root: Path) -> None:
    marker = root / f"{point}.paused"
    proc = subprocess.Popen([sys.executable, "-c", CRM_DRIVER, point, str(marker), "--database", str(db),
                             "--out", str(out)], cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + WAIT_SECONDS
    while not marker.exists():
        assert proc.poll() is None, f"exporter exited early: {proc.stderr.read()}"
        assert time.monotonic() < deadline, "exporter never reached " + point
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()


@pytest.fixture(scope="module")
def crm_kills(reference, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("crm_kill")
    db, out = root / "wh.duckdb", root / "out"
    _copy_db(reference["db"], db)
    expected = query(db, "select scoring_model_id, crm_external_id, sync_hash, change_type from marts.crm_lead_sync")
    seen: dict = {"expected": expected, "db": db, "out": out}
    for point in ("after_csv", "before_record"):
        _kill_export(point, db, out, root)
        seen[point] = {"state": _count(db, crm_sync.STATE_TABLE), "batches": _count(db, crm_sync.BATCHES_TABLE),
                       "files": sorted(p.name for p in out.iterdir())}
    retry = subprocess.run([sys.executable, "-m", "lead_scoring.crm_sync", "--database", str(db), "--out", str(out)],
                           cwd=PROJECT_ROOT, capture_output=True, text=True)
    seen["retry"] = retry
    seen["after_retry_files"] = sorted(p.name for p in out.iterdir())
    seen["after_retry_batches"] = query(db, f"select * from {crm_sync.BATCHES_TABLE}")
    seen["after_retry_state"] = query(db, f"select * from {crm_sync.STATE_TABLE}")
    # resend five leads (the documented way: delete their state rows), killed right after the state was committed
    con = duckdb.connect(str(db))
    try:
        resend = con.execute(f"select scoring_model_id, crm_external_id from {crm_sync.STATE_TABLE} "
                             "order by crm_external_id limit 5").fetchall()
        con.executemany(f"delete from {crm_sync.STATE_TABLE} where scoring_model_id = ? and crm_external_id = ?",
                        [list(r) for r in resend])
    finally:
        con.close()
    seen["resend"] = set(resend)
    _kill_export("after_record", db, out, root)
    again = subprocess.run([sys.executable, "-m", "lead_scoring.crm_sync", "--database", str(db), "--out", str(out)],
                           cwd=PROJECT_ROOT, capture_output=True, text=True)
    seen["again"] = again
    return seen


def test_stale_temp_files_are_found(tmp_path):
    (tmp_path / ".crm_lead_sync__abc.csv.tmp").write_text("x")
    (tmp_path / "crm_lead_sync__abc.csv").write_text("x")
    (tmp_path / ".other.tmp").write_text("x")
    assert crm_sync.stale_temp_files(tmp_path) == [tmp_path / ".crm_lead_sync__abc.csv.tmp"]
    assert crm_sync.stale_temp_files(tmp_path / "missing") == []


def test_a_killed_export_changes_no_state_and_the_rerun_sends_each_change_exactly_once(crm_kills):
    expected = crm_kills["expected"]
    assert len(expected) > 250 and {r["change_type"] for r in expected} == {"new"}
    killed_csv, killed_record = crm_kills["after_csv"], crm_kills["before_record"]
    assert killed_csv["state"] == 0 and killed_csv["batches"] == 0
    assert [n for n in killed_csv["files"] if not n.endswith(".tmp")] == []  # nothing renamed into place
    assert any(n.endswith(".csv.tmp") for n in killed_csv["files"])  # the kill left its temporary file
    assert killed_record["state"] == 0 and killed_record["batches"] == 0
    assert len([n for n in killed_record["files"] if not n.endswith(".tmp")]) == 3  # complete, unrecorded

    retry = crm_kills["retry"]
    assert retry.returncode == 0, retry.stderr
    assert '"status": "synced"' in retry.stdout
    assert not [n for n in crm_kills["after_retry_files"] if n.endswith(".tmp")]  # stale temp files removed
    assert len(crm_kills["after_retry_files"]) == 3  # the retry rewrote the same batch (same id, same names)

    batches = crm_kills["after_retry_batches"]
    assert len(batches) == 1
    with open(Path(batches[0]["export_dir"]) / batches[0]["csv_file"], newline="", encoding="utf-8") as fh:
        sent = list(csv.DictReader(fh))
    sent_keys = Counter((r["scoring_model_id"], r["crm_external_id"], r["change_type"]) for r in sent)
    assert max(sent_keys.values()) == 1  # nothing twice
    assert set(sent_keys) == {(r["scoring_model_id"], r["crm_external_id"], r["change_type"]) for r in expected}
    state = {(r["scoring_model_id"], r["crm_external_id"]): r["sync_hash"] for r in crm_kills["after_retry_state"]}
    assert state == {(r["scoring_model_id"], r["crm_external_id"]): r["sync_hash"] for r in expected}


def test_an_export_killed_after_recording_resends_nothing(crm_kills):
    again = crm_kills["again"]
    assert again.returncode == 0, again.stderr
    assert '"status": "nothing_to_sync"' in again.stdout
    db = crm_kills["db"]
    batches = query(db, f"select * from {crm_sync.BATCHES_TABLE} order by batch_number")
    assert [b["batch_number"] for b in batches] == [1, 2] and batches[1]["row_count"] == 5
    with open(Path(batches[1]["export_dir"]) / batches[1]["csv_file"], newline="", encoding="utf-8") as fh:
        sent = [(r["scoring_model_id"], r["crm_external_id"]) for r in csv.DictReader(fh)]
    assert sorted(sent) == sorted(crm_kills["resend"])  # the killed export's batch is complete and recorded
    assert _count(db, crm_sync.STATE_TABLE) == len(crm_kills["expected"])
    assert _count(db, "marts.crm_lead_sync") == 0


# --------------------------------------------------------------------------------------------------
# two runs at once in Dagster: the instance settings of orchestration/dagster.yaml queue the second
# --------------------------------------------------------------------------------------------------
# A tiny code location with one job whose op is in the warehouse pool (the real dbt code location needs a dbt
# parse to load, minutes on a busy machine; the queueing is decided by the instance, not by the job).
TOY_DEFS = '''
import dagster as dg
from orchestration.defs.resources import WAREHOUSE_POOL as POOL

@dg.asset(pool=POOL)
def writes_the_warehouse() -> None:
    pass

defs = dg.Definitions(assets=[writes_the_warehouse],
                      jobs=[dg.define_asset_job("warehouse_job", selection=[writes_the_warehouse])])
'''


def test_dagster_queues_a_second_run_until_the_first_finishes(tmp_path):
    import yaml
    from dagster import DagsterInstance, DagsterRunStatus
    from dagster._core.events import DagsterEvent, DagsterEventType
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster._core.test_utils import create_run_for_test, create_test_daemon_workspace_context
    from dagster._core.workspace.load_target import PythonFileTarget
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

    home = tmp_path / "dagster_home"
    home.mkdir()
    config = yaml.safe_load((PROJECT_ROOT / "orchestration" / "dagster.yaml").read_text())
    # the project's settings as they are, plus a launcher that records launches instead of starting processes
    config["run_launcher"] = {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"}
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    defs_file = tmp_path / "toy_defs.py"
    defs_file.write_text(TOY_DEFS)
    instance = DagsterInstance.from_config(str(home))
    try:
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        target = PythonFileTarget(python_file=str(defs_file), attribute=None, working_directory=str(PROJECT_ROOT),
                                  location_name="toy")
        with create_test_daemon_workspace_context(target, instance) as workspace:
            request = workspace.create_request_context()
            entry = next(iter(request.get_code_location_entries().values()))
            assert entry.code_location is not None, entry.load_error
            job = next(iter(entry.code_location.get_repositories().values())).get_full_job("warehouse_job")
            run_ids = []
            for _ in range(2):  # e.g. a schedule tick while a backfill runs
                run = create_run_for_test(instance, job_name=job.name, remote_job_origin=job.get_remote_origin(),
                                          job_code_origin=job.get_python_origin(), job_snapshot=job.job_snapshot)
                instance.submit_run(run.run_id, request)
                run_ids.append(run.run_id)

            def statuses():
                return [instance.get_run_by_id(run_id).status for run_id in run_ids]

            assert statuses() == [DagsterRunStatus.QUEUED] * 2  # submitted, neither failed
            daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)
            list(daemon.run_iteration(workspace))
            assert statuses() == [DagsterRunStatus.STARTING, DagsterRunStatus.QUEUED]
            list(daemon.run_iteration(workspace))  # the first is still in progress: the second keeps waiting
            assert statuses() == [DagsterRunStatus.STARTING, DagsterRunStatus.QUEUED]
            assert [r.run_id for r in instance.run_launcher.queue()] == run_ids[:1]
            instance.report_dagster_event(
                DagsterEvent(event_type_value=DagsterEventType.RUN_SUCCESS.value, job_name=job.name,
                             message="first run finished"), run_id=run_ids[0])
            list(daemon.run_iteration(workspace))
            assert statuses() == [DagsterRunStatus.SUCCESS, DagsterRunStatus.STARTING]
    finally:
        instance.dispose()
