"""Where the dbt CLI is, and how a production build calls it: one answer for `lead-scoring build`, the Dagster
resource, the weight suggestions, the backfill and the benchmark.

    lead-scoring build [--database PATH] [--as-of "2026-11-01 00:00:00"] [--unit-tests] [--force] [-- <dbt flags>]

`build` is the guarded production build: if another process holds the DuckDB file it says who and exits 75
(``lead_scoring.warehouse_lock``), else it runs ``dbt build`` with `as_of` and the warehouse's absolute path in
the environment (:func:`dbt_environment`: no ``--vars``, so dbt reuses its saved parse from one run to the next).
Unit tests check the SQL's branching on fixtures, not the data, so a production build leaves them out;
``--unit-tests`` keeps them (the CI test build, `make dbt-test`).

Kept free of Dagster imports, so the command-line tools can use it without loading the code location.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from lead_scoring.clock import environment, scoring_clock
from lead_scoring.warehouse import DUCKDB_PATH_ENV, PROJECT_ROOT, resolve_path

VENV_BIN = Path(sys.executable).parent


def dbt_executable() -> str:
    """The dbt of this interpreter's venv (works without activating it), else `dbt` on PATH, else `dbt`."""
    candidate = VENV_BIN / "dbt"
    return str(candidate) if candidate.exists() else (shutil.which("dbt") or "dbt")


# Unit tests check the SQL's branching on fixed fixtures, not the data, so they run in CI (`make dbt-test`) and not
# in every scheduled or benchmarked build (dbt's advice for production runs). Data tests still run in every build.
PRODUCTION_BUILD_EXCLUDES = ("--exclude-resource-type", "unit_test")


def build_args(unit_tests: bool = False, extra: Sequence[str] = ()) -> list[str]:
    """dbt's arguments for a production build: the same for `lead-scoring build` and the Dagster dbt assets
    (orchestration/defs/dbt/assets.py). The scoring instant is not among them: both run dbt inside
    :func:`dbt_environment`, which hands it over in the environment."""
    excludes = () if unit_tests else PRODUCTION_BUILD_EXCLUDES
    return ["build", *excludes, *extra]


@contextmanager
def dbt_environment(database: str | os.PathLike[str], as_of: str | datetime | None) -> Iterator[None]:
    """Within the block, dbt processes started from this one build the DuckDB file `database`, given to the profile
    as its absolute path, scored at `as_of` (``lead_scoring.clock.scoring_clock``): one form for `lead-scoring build`
    and the Dagster dbt assets. dbt reuses the parse it saved only under the same profile, and the warehouse path is
    part of it, so a relative path here and an absolute one there would make each parse the project again. The
    previous values are restored after the block."""
    with environment({DUCKDB_PATH_ENV: str(Path(database).resolve())}), scoring_clock(as_of):
        yield


def build_command(unit_tests: bool = False, extra: Sequence[str] = ()) -> list[str]:
    """The `dbt build` command line: this venv's dbt and :func:`build_args`."""
    return [dbt_executable(), *build_args(unit_tests, extra)]


def skippable(as_of: str | None, extra: Sequence[str], force: bool, environ=None) -> bool:
    """Whether a build may be skipped when nothing is new (lead_scoring.build_state): only at an explicit as_of
    (empty is the run's start time, never the same twice), on DuckDB, without --force or dbt's --full-refresh."""
    env = os.environ if environ is None else environ
    return (bool(as_of) and not force and "--full-refresh" not in extra
            and env.get("LEAD_SCORING_TARGET", "duckdb") in ("", "duckdb"))


def build(database: str | os.PathLike[str] | None, as_of: str | None, unit_tests: bool = False,
          extra: Sequence[str] = (), force: bool = False) -> int:
    """Run the guarded `dbt build` against `database` (relative to the working directory; default env
    LEAD_SCORING_DUCKDB_PATH, relative to the repository); its exit code, 75 when another process holds the file.
    At an explicit `as_of`, a build whose fingerprint (lead_scoring.build_state) is that of the last build that
    succeeded has nothing new to read: it says so and returns 0 without starting dbt (`force`: build anyway)."""
    import duckdb

    from lead_scoring import build_state
    from lead_scoring.warehouse_lock import run_guarded

    path = Path(database).resolve() if database else resolve_path()  # given: relative to the working directory
    path.parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DBT_PROFILES_DIR", str(PROJECT_ROOT))
    args = build_args(unit_tests, extra)
    may_skip = skippable(as_of, extra, force)
    with dbt_environment(path, as_of):  # dbt (a child process) and the fingerprint read both from the environment
        if may_skip:
            try:
                last = build_state.recorded(path)
                if last is not None and build_state.fingerprint(path, PROJECT_ROOT, args) == last[0]:
                    print(f"Nothing new since the build that succeeded at {last[1]} UTC (same as_of, raw tables, "
                          f"rules, code and warehouse): nothing to build. `lead-scoring build --force` builds anyway.")
                    return 0
            except duckdb.Error:
                pass  # held by another process (run_guarded says who) or unreadable: build, and let dbt report
        code = run_guarded(path, [dbt_executable(), *args], cwd=PROJECT_ROOT)
        if code == 0 and may_skip:
            try:
                build_state.record(path, build_state.fingerprint(path, PROJECT_ROOT, args))
            except duckdb.Error as exc:  # another process took the file since: the build stands, the next one runs
                print(f"The build succeeded but was not recorded ({exc}); the next build will run dbt.",
                      file=sys.stderr)
    return code


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `lead-scoring build`."""
    parser.add_argument("--database", default="", help="the DuckDB warehouse (default: env LEAD_SCORING_DUCKDB_PATH "
                                                       "or warehouse/lead_scoring.duckdb)")
    parser.add_argument("--as-of", default="", help="the scoring instant, UTC, e.g. '2026-11-01 00:00:00' "
                                                    "(empty: the run's start time)")
    parser.add_argument("--unit-tests", action="store_true",
                        help="run dbt's unit tests too (the CI test build); a production build leaves them out")
    parser.add_argument("--force", action="store_true",
                        help="build even when nothing is new since the last build at the same --as-of (which is "
                             "otherwise skipped: same raw tables, rules, code and warehouse)")
    parser.add_argument("dbt_flags", nargs="*", help="after --: extra dbt flags, e.g. --select lead_scores+")


def run(args: argparse.Namespace) -> int:
    return build(args.database or None, args.as_of, unit_tests=args.unit_tests, extra=args.dbt_flags,
                 force=args.force)
