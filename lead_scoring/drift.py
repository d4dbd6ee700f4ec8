"""`lead-scoring drift`: the drift check's per-run status, and the recorded acceptance that lifts a drift block.

    lead-scoring drift status [--database DB] [--target duckdb|postgres|spark]
    lead-scoring drift accept --by NAME --why TEXT [--run RUN_ID] [--database DB] [--target ...]

The warehouse is the dbt target's (env ``LEAD_SCORING_TARGET`` or ``--target``; ``lead_scoring.warehouse``).

The Dagster check ``score_distribution_drift`` stores its result per scoring run in ``monitoring.drift_run_status``
(``lead_scoring.monitoring.record_check_result``): a run at ERROR is *blocked*. A blocked run never serves as the
baseline of a later run, so a mistaken rule change keeps failing the check, and keeps the CRM export blocked, on every
run until the rules are changed back (the next run then passes against the last good run) or someone accepts the
blocked run's distribution as the new normal with ``drift accept``: who, why and when are recorded, and the accepted
run becomes the oldest baseline run of later checks.
"""
from __future__ import annotations

import argparse
import sys

from lead_scoring import monitoring as mon
from lead_scoring.clock import format_timestamp
from lead_scoring.warehouse import Warehouse, resolve_target

TARGET_HELP = "the warehouse engine, as the dbt target: duckdb, postgres or spark (default: env LEAD_SCORING_TARGET)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="<action>", title="actions")
    sub.required = True
    status = sub.add_parser("status", help="list the drift-checked runs with their severity and status")
    status.add_argument("--database", default="", help="the DuckDB warehouse (default: env or warehouse/...)")
    status.add_argument("--target", default="", help=TARGET_HELP)
    accept = sub.add_parser("accept", help="accept a blocked run's score distribution (recorded with who and why)")
    accept.add_argument("--database", default="", help="the DuckDB warehouse (default: env or warehouse/...)")
    accept.add_argument("--target", default="", help=TARGET_HELP)
    accept.add_argument("--run", default=None, help="the run id to accept (default: the latest blocked run)")
    accept.add_argument("--by", required=True, help="who accepts it (recorded)")
    accept.add_argument("--why", required=True, help="why the new distribution is right (recorded)")


def run(args: argparse.Namespace) -> int:
    warehouse = Warehouse(args.database, resolve_target(getattr(args, "target", "")))
    if args.action == "accept":
        try:
            info = mon.accept_run(warehouse, args.by, args.why, args.run)
        except mon.DriftAcceptanceError as exc:
            print(f"drift accept: {exc}", file=sys.stderr)
            return 1
        print(f"accepted run {info['run_id']} ({info['accepted_by']}: {info['reason']}); the next drift check "
              "compares against it")
        return 0
    with warehouse.open(read_only=True) as db:
        statuses = mon.run_statuses(db)
    if not statuses:
        print("no drift-checked run yet")
        return 0
    for r in sorted(statuses.values(), key=lambda r: (r["checked_at"], r["run_id"])):
        line = f"{format_timestamp(r['checked_at'])}  {r['run_id']}  {r['severity']:<5}  {r['status']}"
        if r["status"] == mon.ACCEPTED:
            line += f"  by {r['accepted_by']} at {format_timestamp(r['accepted_at'])}: {r['accepted_reason']}"
        print(line)
    return 0
