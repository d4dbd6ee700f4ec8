"""Run one job of the code location in process, into the Dagster instance `make dev` shows.

    DAGSTER_HOME=.dagster_home python -m orchestration.run_job full_scoring_job --as-of "2026-11-01 00:00:00"

It loads the code location's ``Definitions`` (``orchestration/definitions.py``), resolves the job and executes it
in this process (``JobDefinition.execute_in_process``) with the instance of ``$DAGSTER_HOME``
(``DagsterInstance.get()``), so the run, its materialisations and its check evaluations are in the UI afterwards,
as if the UI had launched it. A scoring job gets the run config of the schedules (``scoring_run_config``: the dbt
``as_of``) and the run tag ``lead_scoring/as_of``; other jobs (the on-demand ones) run with their defaults.
`make demo` ends with the daily job at ``AS_OF`` this way (docs/dagster.md, "After make demo").

Prints one line per failed or warning check and a count of the rest; exits 0 when the run succeeded (a check that
did not pass does not fail a run unless it is blocking), 1 when it failed, 2 on bad arguments.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence

from dagster import DagsterInstance, ExecuteInProcessResult, RunConfig

from lead_scoring.clock import ClockError, normalise_as_of
from orchestration.defs.dbt.assets import AS_OF_TAG, DBT_ASSETS_NAME
from orchestration.defs.dbt.jobs import TRIGGER_TAG, scoring_run_config

TRIGGER = "run_job"


def run_job(job_name: str, instance: DagsterInstance, as_of: str | None = None,
            tags: Mapping[str, str] | None = None, log_level: str = "INFO") -> ExecuteInProcessResult:
    """Execute `job_name` of the code location in process into `instance`; a job that runs the dbt build scores
    at `as_of` (None: the run's start time) and carries it as the ``lead_scoring/as_of`` tag. `log_level`: the
    console's (every event is stored in the instance whatever it is)."""
    from orchestration.definitions import defs  # noqa: PLC0415 - loading the code location is the slow part

    job = defs.resolve_job_def(job_name)
    run_tags = {TRIGGER_TAG: TRIGGER, **(tags or {})}
    ops = {}
    if job.graph.has_node_named(DBT_ASSETS_NAME):
        as_of = normalise_as_of(as_of)
        ops = scoring_run_config(as_of).ops
        if as_of:
            run_tags[AS_OF_TAG] = as_of
    run_config = RunConfig(ops=ops, loggers={"console": {"config": {"log_level": log_level}}})
    return job.execute_in_process(run_config=run_config, instance=instance, tags=run_tags, raise_on_error=False)


def summarise(result: ExecuteInProcessResult) -> list[str]:
    """One line per check that did not pass, then the counts."""
    checks = result.get_asset_check_evaluations()
    lines = [f"  {c.severity.value:<5} {c.asset_key.to_user_string()} / {c.check_name}"
             + (f": {c.description.splitlines()[0]}" if (c.description or "").strip() else "")
             for c in sorted(checks, key=lambda c: (c.severity.value, c.check_name)) if not c.passed]
    materialised = {e.asset_key for e in result.get_asset_materialization_events()}
    lines.append(f"run {result.run_id}: {'success' if result.success else 'FAILED'}, {len(materialised)} assets "
                 f"materialised, {len(checks)} checks evaluated ({sum(c.passed for c in checks)} passed)")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.run_job", description=__doc__.split("\n")[0])
    parser.add_argument("job", help="the job's name, e.g. full_scoring_job, crm_export_job")
    parser.add_argument("--as-of", default="", help="the scoring clock (ISO, UTC) of a scoring job; empty = now")
    parser.add_argument("--log-level", default="INFO", help="console log level (DEBUG shows every event)")
    args = parser.parse_args(argv)
    try:
        normalise_as_of(args.as_of or None)
    except ClockError as exc:
        print(f"run_job: {exc}", file=sys.stderr)
        return 2
    with DagsterInstance.get() as instance:
        result = run_job(args.job, instance, args.as_of or None, log_level=args.log_level)
        for line in summarise(result):
            print(line)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
