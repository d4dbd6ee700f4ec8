"""Freshness checks on the raw landing: ``raw_leads_freshness`` and ``raw_events_freshness``.

The measurement and the thresholds (env ``LEAD_SCORING_FRESHNESS_*``) are ``lead_scoring.monitoring``; a check that
does not pass is posted to the alert webhook (``lead_scoring.monitoring.Notifier``).

The clock (:func:`freshness_clock`): the data is judged against the instant the run scores, not the wall clock,
so demo or replayed data (whose newest rows are weeks old) is fresh at its own ``as_of`` and a backfilled tick is
judged as it was then. In order: the check's run config ``now``; env ``LEAD_SCORING_NOW`` (an operator's explicit
clock); the run's ``as_of`` (tag ``lead_scoring/as_of``, else the dbt op's run config ``as_of``) when it is in the
past; the wall clock. The
metadata says which one was used (docs/monitoring.md).
"""
import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import dagster as dg

from lead_scoring.clock import format_as_of, utc_now
from lead_scoring.monitoring import FRESHNESS_COLUMNS, NOW_ENV, PASS, Notifier, measure_freshness, resolve_now
from orchestration.defs.dbt.assets import AS_OF_TAG, DBT_ASSETS_NAME
from orchestration.defs.raw.assets import raw_asset_key
from orchestration.defs.resources import WAREHOUSE_POOL, WarehouseResource, run_id_of


class ClockConfig(dg.Config):
    """`now`: the instant the check measures against (ISO, UTC); empty = env LEAD_SCORING_NOW, else the run's
    as_of when it is in the past, else the wall clock."""

    now: str = ""


def run_as_of(tags: Mapping[str, str], run_config: Mapping[str, Any]) -> str | None:
    """The instant a run scores: its ``lead_scoring/as_of`` tag, else the dbt op's run config ``as_of``."""
    if (tags.get(AS_OF_TAG) or "").strip():
        return tags[AS_OF_TAG]
    op_config = ((run_config or {}).get("ops") or {}).get(DBT_ASSETS_NAME) or {}
    return (op_config.get("config") or {}).get("as_of") or None


def freshness_clock(config_now: str = "", as_of: str | None = None,
                    wall_clock: datetime | None = None) -> tuple[datetime, str]:
    """The instant freshness is measured at, and where it came from (see the module docstring)."""
    if config_now.strip():
        return resolve_now(config_now), "run config now"
    if os.environ.get(NOW_ENV, "").strip():
        return resolve_now(), f"env {NOW_ENV}"
    wall_clock = wall_clock or utc_now()
    if as_of:
        scored = resolve_now(as_of)
        if scored < wall_clock:
            return scored, "the run's as_of (the data's clock)"
    return wall_clock, "wall clock"


def _context_as_of(context: dg.AssetCheckExecutionContext) -> str | None:
    try:
        run = context.run
    except dg.DagsterError:  # invoked directly (tests): no run
        return None
    return run_as_of(run.tags or {}, run.run_config or {})


def _freshness_check(table: str) -> dg.AssetChecksDefinition:
    check_name = f"raw_{table}_freshness"
    key = raw_asset_key(table)
    columns = FRESHNESS_COLUMNS[table]

    @dg.asset_check(
        asset=key, name=check_name, pool=WAREHOUSE_POOL,
        description=(f"raw.{table}: newest {' and newest '.join(columns)} must be younger than the warning and "
                     f"error limits (LEAD_SCORING_FRESHNESS_{table.upper()}_WARN_HOURS / _ERROR_HOURS), measured "
                     "at the run's as_of when it scores a past instant (the data's own clock), else at env "
                     "LEAD_SCORING_NOW or the wall clock."),
    )
    def _check(context: dg.AssetCheckExecutionContext, config: ClockConfig,
               warehouse: WarehouseResource) -> dg.AssetCheckResult:
        now, source = freshness_clock(config.now, _context_as_of(context))
        result = measure_freshness(warehouse.warehouse, table, now)
        result.metadata["clock"] = f"{source}: {format_as_of(now)}"
        if result.severity == PASS:
            return dg.AssetCheckResult(passed=True, metadata=result.metadata,
                                       description=f"raw.{table} is fresh at {format_as_of(now)} ({source})")
        summary = f"{result.summary} (clock: {source}, {format_as_of(now)})"
        Notifier().notify(check_name, key.to_user_string(), result.severity, summary, run_id=run_id_of(context))
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity(result.severity),
                                   metadata={**result.metadata, "summary": summary}, description=summary)

    return _check


raw_leads_freshness = _freshness_check("leads")
raw_events_freshness = _freshness_check("events")
