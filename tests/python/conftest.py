"""Fixtures for the Python tests: a generated, dbt-built warehouse in a temporary directory."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SEEDS_DIR = PROJECT_ROOT / "seeds"
AS_OF = "2026-11-01 00:00:00"
DATAGEN_ARGS = dict(leads=2500, events_per_lead=20, days=180, seed=7, as_of=AS_OF)
DBT = Path(sys.executable).parent / "dbt"

for path in (PROJECT_ROOT, Path(__file__).resolve().parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from lead_scoring.clock import dbt_vars  # noqa: E402

# Under pytest-xdist (`make pytest` runs the files on PYTEST_WORKERS processes, a file per worker), dbt commands that
# name no target or log path (the CLI's backfill, dagster-dbt's per-run folders) would share the project's target/
# and logs/ between workers: each worker gets its own, in a temporary folder. A serial run keeps dbt's defaults.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if XDIST_WORKER:
    import tempfile

    _worker_dir = Path(tempfile.mkdtemp(prefix=f"lead-scoring-{XDIST_WORKER}-"))
    os.environ.setdefault("DBT_TARGET_PATH", str(_worker_dir / "target"))
    os.environ.setdefault("DBT_LOG_PATH", str(_worker_dir / "logs"))

# Hypothesis profiles of the property tests (test_properties.py; one example is a whole data set and dbt runs):
# "quick" (`make test`, CI): LEAD_SCORING_PROPERTY_EXAMPLES examples (2), the slow properties
# LEAD_SCORING_PROPERTY_SLOW_EXAMPLES (1), shrinking only with LEAD_SCORING_PROPERTY_SHRINK=1; "deep"
# (`make test-deep`): LEAD_SCORING_PROPERTY_DEEP_EXAMPLES examples (200) for every property, shrinking on.
# Both: a fixed seed (set on the tests), no example database, no deadline. LEAD_SCORING_HYPOTHESIS_PROFILE picks.
HYPOTHESIS_PROFILE = os.environ.get("LEAD_SCORING_HYPOTHESIS_PROFILE", "quick")
SLOW_EXAMPLES_QUICK = int(os.environ.get("LEAD_SCORING_PROPERTY_SLOW_EXAMPLES", "1"))


def _register_hypothesis_profiles() -> None:
    from hypothesis import HealthCheck, Phase, settings

    common = dict(deadline=None, database=None, derandomize=False, suppress_health_check=list(HealthCheck),
                  print_blob=False)
    shrink = (Phase.shrink,) if os.environ.get("LEAD_SCORING_PROPERTY_SHRINK") else ()
    settings.register_profile("quick", max_examples=int(os.environ.get("LEAD_SCORING_PROPERTY_EXAMPLES", "2")),
                              phases=(Phase.explicit, Phase.generate, *shrink), **common)
    settings.register_profile("deep", max_examples=int(os.environ.get("LEAD_SCORING_PROPERTY_DEEP_EXAMPLES", "200")),
                              phases=(Phase.explicit, Phase.generate, Phase.shrink), **common)
    if HYPOTHESIS_PROFILE not in ("quick", "deep"):
        raise ValueError(f"LEAD_SCORING_HYPOTHESIS_PROFILE={HYPOTHESIS_PROFILE!r}: use quick or deep")
    settings.load_profile(HYPOTHESIS_PROFILE)


_register_hypothesis_profiles()
from lead_scoring.project_copy import copy_project  # noqa: E402  (re-exported for the test modules)


# dbt runs inside the test process (dbt's Python API, dbtRunner) unless LEAD_SCORING_TEST_DBT=subprocess: a dbt
# process costs about 2 s of imports and as much again of cold caches before it parses, and the suite runs dbt a
# couple of hundred times (docs/testing.md). The command line, the environment, the working folder, stdout and the
# exit code are those of the CLI; the tests of `lead-scoring build`, dagster-dbt and the engines keep a process.
DBT_IN_PROCESS = os.environ.get("LEAD_SCORING_TEST_DBT", "in-process") != "subprocess"


def run_dbt(project_dir, db_path, *args, vars=None, target_path=None, log_path=None):
    """Run dbt (this interpreter's venv) in `project_dir` against the DuckDB file `db_path`, as its CLI would:
    a CompletedProcess with dbt's exit code (0 ok, 1 failures, 2 an error) and its log lines as stdout.
    `vars`: {"as_of": ..., other vars}, passed as lead_scoring.clock.dbt_vars builds it."""
    cmd = [str(DBT), *map(str, args)]
    if vars is not None:
        others = {k: v for k, v in vars.items() if k != "as_of"}
        cmd += ["--vars", dbt_vars(vars["as_of"], others)]
    if target_path is not None:
        cmd += ["--target-path", str(target_path)]
    if log_path is not None:
        cmd += ["--log-path", str(log_path)]
    env = dict(
        LEAD_SCORING_DUCKDB_PATH=str(db_path),
        DBT_PROFILES_DIR=str(project_dir),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DBT_USE_COLORS="false",  # readable failure output
    )
    if DBT_IN_PROCESS:
        return _run_dbt_in_process(cmd, project_dir, env)
    return subprocess.run(cmd, cwd=str(project_dir), env={**os.environ, **env}, capture_output=True, text=True)


def _run_dbt_in_process(cmd, project_dir, env):
    import contextlib
    import gc
    import io
    import traceback

    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.cli.main import dbtRunner

    saved_env = {name: os.environ.get(name) for name in env}
    saved_cwd = os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    os.environ.update(env)
    os.chdir(project_dir)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                # an error is logged on stdout ("Encountered an error: ..."), as the CLI does, and comes back here
                result = dbtRunner().invoke(cmd[1:])
                code = 0 if result.success else (2 if result.exception is not None else 1)
            except BaseException:  # what the CLI would die of: its traceback on stderr, exit code 2
                traceback.print_exc(file=err)
                code = 2
    finally:
        # dbt-duckdb keeps the database open in the process after the run; close it, as the CLI's exit does, so
        # that the test (or the next dbt run) can open the file with another configuration.
        DuckDBConnectionManager.close_all_connections()
        gc.collect()
        os.chdir(saved_cwd)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return subprocess.CompletedProcess(cmd, code, out.getvalue(), err.getvalue())


def query(db_path, sql, params=None):
    """Run `sql` on the DuckDB file read-only; rows as dicts."""
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        cur = con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]
    finally:
        con.close()


def assert_dbt_ok(proc, what="dbt build"):
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-60:])
        pytest.fail(f"{what} failed with return code {proc.returncode}:\n{tail}\n{proc.stderr[-2000:]}")


# `make test-fast`, the inner loop, runs the tests not marked slow (`pytest -m "not slow"`): the unit tests, the oracle
# against the session warehouse, the definitions, the report, the CLI. Slow: every test of SLOW_MODULES (each builds
# warehouses, servers or sessions of its own), every test using a fixture of SLOW_FIXTURES, and the tests marked
# @pytest.mark.slow (a build of their own in the body). Sized with the per-test times of a full run (docs/testing.md).
SLOW_MODULES = frozenset({
    "test_backfill", "test_backtest", "test_bad_inputs_raw", "test_benchmark", "test_build_graph", "test_crm_sync",
    "test_discovery", "test_external_sources", "test_faults", "test_incremental", "test_monitoring",
    "test_own_data_end_to_end", "test_postgres_target", "test_preview", "test_properties",
    "test_property_rules_and_starter_model", "test_raw_timestamps_and_placeholders", "test_rule_configuration",
    "test_score_history", "test_sla", "test_spark_target",
})
SLOW_FIXTURES = frozenset({"edge_warehouse", "late_event_warehouse", "hostile_build", "suggestion", "noop_warehouse"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module is not None else ""
        if module in SLOW_MODULES or SLOW_FIXTURES.intersection(item.fixturenames):
            item.add_marker(pytest.mark.slow)


# Disk: a file's warehouses, copies and dbt logs (test_incremental alone writes about 1 GB) are removed when the
# file's last test is done, unless one of its tests failed (then they stay for a look, as pytest keeps the folders
# of a failed run). Left to pytest, they would all stay until the session ends: about 4 GB at the end of
# `make test`, and a CI run on a machine with little free disk failed with "No space left on device"
# (docs/testing.md). The folders of session fixtures are registered in SESSION_DIRS and kept.
SESSION_DIRS: set[Path] = set()


@pytest.fixture(scope="module", autouse=True)
def _remove_the_files_scratch_folders(request, tmp_path_factory):
    import shutil

    base = tmp_path_factory.getbasetemp()
    before = set(base.iterdir())
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed != failed_before:
        return
    for path in set(base.iterdir()) - before - SESSION_DIRS:
        if path.is_symlink():  # pytest's <name>current link to the latest <name>N
            path.unlink(missing_ok=True)
        else:
            shutil.rmtree(path, ignore_errors=True)


@dataclass
class Warehouse:
    root: Path  # the temporary directory
    db_path: Path
    as_of: str
    project_dir: Path
    dbt_stdout: str
    project_snapshot: Path  # a copy of the dbt project as it was when the warehouse was built
    seeds_dir: Path  # its seed CSVs


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory):
    """Generate raw data (seed 7, 2,500 leads) and `dbt build` it with a fixed as_of, once per session."""
    from lead_scoring import datagen

    root = tmp_path_factory.mktemp("warehouse")
    SESSION_DIRS.add(root)
    db_path = root / "wh.duckdb"
    datagen.generate(database=str(db_path), **DATAGEN_ARGS)
    # A snapshot of the project as dbt builds it now: the oracle reads these seeds and the seed-edit test
    # copies this project, even if someone edits the working tree during the session.
    snapshot = root / "project_snapshot"
    copy_project(PROJECT_ROOT, snapshot)
    proc = run_dbt(
        PROJECT_ROOT, db_path, "build",
        vars={"as_of": AS_OF}, target_path=root / "target", log_path=root / "logs",
    )
    assert_dbt_ok(proc)
    return Warehouse(root=root, db_path=db_path, as_of=AS_OF, project_dir=PROJECT_ROOT, dbt_stdout=proc.stdout,
                     project_snapshot=snapshot, seeds_dir=snapshot / "seeds")


@pytest.fixture(scope="session")
def oracle_result(warehouse):
    import oracle

    return oracle.run_oracle(warehouse.db_path, warehouse.seeds_dir, warehouse.as_of)
