"""Replay scoring runs at past `as_of` instants, oldest first, to seed the score history of a new warehouse.

A warehouse scored once knows every lead's current score but not when anything happened: every MQL is dated
"at or before the first run" (docs/sales_touches.md), so the funnel's time to MQL and the SLA clocks
(docs/sla.md) have nothing observed to work from, and the drift check has no earlier run to compare with.
The Dagster schedules build that history going forward. This command builds it backwards, once, when a
warehouse is first deployed on data that already spans weeks:

    lead-scoring backfill --end "2026-11-01 00:00:00" --weeks 8 [--every-days 7] [--build-end]
                                     [-- <extra dbt flags>]

It loads the seeds, then for each instant `end - weeks*7d, ..., end - every` (ascending) it runs `dbt run`
on the history models and everything upstream of them with that `as_of` (events and lead rows from after it
are invisible to that run, as they were then), then records the score distribution of that run in the
monitoring history (run id `backfill <as_of>`, `recorded_at` = the as_of). With `--build-end` it finishes
with a full `dbt build` at `end` (every model and test) and records that run too. Instants at or before the
newest run already in the history are skipped: the history only appends (a replay would add nothing), so a
backfill can be re-run or resumed safely.

dbt runs in a child process, one command at a time, on the dbt target (env `LEAD_SCORING_TARGET` or
`--target`: duckdb, postgres or spark, as profiles.yml); the history is read and recorded through
`lead_scoring.warehouse` on the same engine. `LEAD_SCORING_DUCKDB_PATH`, the `LEAD_SCORING_PG_*` and
`LEAD_SCORING_SPARK_*` variables and `DBT_PROFILES_DIR` are read as for `make build`. On Spark the local session
of each read or record is stopped before the next dbt command (Derby admits one process): do not run a backfill
while another process holds that Spark warehouse open.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Sequence

from lead_scoring.clock import format_as_of, parse_instant, scoring_clock, utc_now
from lead_scoring.monitoring import record_distribution
from lead_scoring.warehouse import DUCKDB_PATH_ENV, TARGET_ENV, Warehouse, as_warehouse, resolve_path, resolve_target
from lead_scoring.dbt_cli import PRODUCTION_BUILD_EXCLUDES, dbt_executable
from lead_scoring.warehouse_lock import EXIT_LOCKED, find_lock_holder, lock_message, run_guarded

PROJECT_ROOT = Path(__file__).resolve().parents[1]
HISTORY_SELECTION = ("+path:models/intermediate/history", "+path:models/marts/history")
SNAPSHOT_SCHEMA, SNAPSHOT_NAME = "marts", "lead_score_snapshots"


@dataclass(frozen=True)
class Step:
    as_of: datetime
    command: str  # "run" (history selection) or "build" (everything)


def plan(end: datetime, weeks: int, every_days: int, latest_recorded: datetime | None,
         build_end: bool) -> tuple[list[Step], list[datetime]]:
    """The steps to run, oldest first, and the instants skipped because the history already has them."""
    if weeks < 0 or every_days <= 0:
        raise ValueError(f"--weeks must be >= 0 (got {weeks}) and --every-days > 0 (got {every_days})")
    start = end - timedelta(days=7 * weeks)
    instants, at = [], start
    while at < end:
        instants.append(at)
        at += timedelta(days=every_days)
    steps = [Step(i, "run") for i in instants]
    if build_end:
        steps.append(Step(end, "build"))
    skipped = [s.as_of for s in steps if latest_recorded is not None and s.as_of <= latest_recorded
               and s.command == "run"]
    return [s for s in steps if s.as_of not in skipped], skipped


def latest_recorded_as_of(warehouse: Warehouse) -> datetime | None:
    """The newest run in the score history (its newest `valid_from`: a run stores only changed leads, and decay
    changes some lead in practically every run), or None for a warehouse without history."""
    warehouse = as_warehouse(warehouse)
    if not warehouse.exists():
        return None
    with warehouse.open(read_only=True) as db:
        if not db.table_exists(SNAPSHOT_SCHEMA, SNAPSHOT_NAME):
            return None
        return db.scalar(f"select max(valid_from) from {db.relation(SNAPSHOT_SCHEMA, SNAPSHOT_NAME)}")


def dbt_args(step: Step, extra: Sequence[str] = ()) -> list[str]:
    args = [step.command]
    if step.command == "run":
        args += ["--select", *HISTORY_SELECTION]
    else:
        args += PRODUCTION_BUILD_EXCLUDES
    return [*args, "--project-dir", str(PROJECT_ROOT), *extra]  # the as_of: in the environment (run_step)


def run_step(database: Path, step: Step, extra: Sequence[str] = (), target: str = "duckdb") -> None:
    """One step's dbt command, scored at the step's as_of. The instant goes in the environment
    (``lead_scoring.clock.scoring_clock``), not in ``--vars``, so the steps reuse one saved parse of the project
    instead of parsing it again each (about 5 s a step)."""
    with scoring_clock(step.as_of):
        invoke_dbt(database, dbt_args(step, extra), target)


def invoke_dbt(database: Path, args: Sequence[str], target: str = "duckdb") -> None:
    """Run one dbt command on `target` in a child process (its output goes to this one's), so no connection of
    dbt's stays open in this process between the runs and the monitoring writes. On DuckDB it goes through the
    warehouse-lock guard, as `make build` does: if another process writes `database`, it says who instead of dbt's
    traceback."""
    command = [dbt_executable(), *args]  # the target: env LEAD_SCORING_TARGET, set by run()
    if target == "duckdb":
        code = run_guarded(database, command, cwd=PROJECT_ROOT)
    else:
        code = subprocess.run(command, cwd=str(PROJECT_ROOT)).returncode
    if code == EXIT_LOCKED:
        raise RuntimeError(f"dbt {args[0]} was not run: the warehouse is busy (see the message above)")
    if code != 0:
        raise RuntimeError(f"dbt {args[0]} exited with {code} (see its output above)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `lead-scoring backfill` (and `python -m lead_scoring.backfill`)."""
    parser.add_argument("--database", default="", help="the DuckDB warehouse (default: env LEAD_SCORING_DUCKDB_PATH "
                        "or warehouse/lead_scoring.duckdb)")
    parser.add_argument("--target", default="", help="the warehouse engine, as the dbt target: duckdb, postgres or "
                        "spark (default: env LEAD_SCORING_TARGET, else duckdb)")
    parser.add_argument("--end", default="", help="the last instant (UTC), e.g. '2026-11-01 00:00:00'; "
                        "empty: now")
    parser.add_argument("--weeks", type=int, default=8, help="how far back the first run is (default 8)")
    parser.add_argument("--every-days", type=int, default=7, help="days between runs (default 7)")
    parser.add_argument("--build-end", action="store_true", help="finish with a full dbt build at --end")
    parser.add_argument("--dry-run", action="store_true", help="print the plan only")
    parser.add_argument("dbt_flags", nargs="*", help="after --: extra flags for every dbt command, e.g. "
                        "--target-path /tmp/target")


def run(args: argparse.Namespace) -> int:
    extra = list(args.dbt_flags)
    os.environ.setdefault("DBT_PROFILES_DIR", str(PROJECT_ROOT))
    # dbt (a child process) reads the warehouse path from the environment: always the absolute path, as `lead-scoring
    # build` and the Dagster assets give it (lead_scoring.dbt_cli.dbt_environment), so they share one saved parse
    os.environ[DUCKDB_PATH_ENV] = str((Path(args.database) if args.database else resolve_path()).resolve())
    try:
        target = resolve_target(getattr(args, "target", ""))
    except ValueError as exc:
        print(f"backfill: {exc}", file=sys.stderr)
        return 2
    os.environ[TARGET_ENV] = target  # dbt (a child process) and the warehouse reads use the same engine
    warehouse = Warehouse(target=target)
    database = warehouse.resolved_path()
    holder = find_lock_holder(database) if target == "duckdb" else None
    if holder is not None:  # even reading the history needs the file: say who holds it, change nothing
        print(lock_message(str(database), holder), file=sys.stderr)
        return EXIT_LOCKED
    try:
        end = parse_instant(args.end, what="--end") if args.end.strip() else utc_now(whole_seconds=True)
        steps, skipped = plan(end, args.weeks, args.every_days, latest_recorded_as_of(warehouse), args.build_end)
    except ValueError as exc:
        print(f"backfill: {exc}", file=sys.stderr)
        return 2
    for at in skipped:
        print(f"skip {format_as_of(at)}: the score history already has a run at or after it")
    for step in steps:
        print(f"{'plan' if args.dry_run else 'run '} {format_as_of(step.as_of)}: dbt {step.command}")
    if args.dry_run or not steps:
        return 0
    try:
        invoke_dbt(database, ["seed", "--project-dir", str(PROJECT_ROOT), *extra], target)
    except RuntimeError as exc:
        print(f"backfill: {exc}", file=sys.stderr)
        return 1
    for step in steps:
        started = time.monotonic()
        try:
            run_step(database, step, extra, target)
        except RuntimeError as exc:
            print(f"backfill stopped at {format_as_of(step.as_of)}: {exc}. Fix it and re-run: the runs before "
                  "it are kept and will be skipped.", file=sys.stderr)
            return 1
        info = record_distribution(warehouse, f"backfill {format_as_of(step.as_of)}", recorded_at=step.as_of)
        print(f"done {format_as_of(step.as_of)} in {time.monotonic() - started:.1f} s: lead count "
              f"{info['lead_count']}, MQL rate {info['mql_rate']}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lead_scoring.backfill", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
