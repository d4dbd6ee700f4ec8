"""Freshness checks on the raw landing: ``raw_leads_freshness`` and ``raw_events_freshness``.

The measurement and the thresholds (env ``LEAD_SCORING_FRESHNESS_*``) are ``lead_scoring.monitoring``; a check that
does not pass is posted to the alert webhook (``lead_scoring.monitoring.Notifier``).
"""
import dagster as dg

from lead_scoring.monitoring import FRESHNESS_COLUMNS, PASS, Notifier, measure_freshness, resolve_now
from orchestration.defs.raw.assets import raw_asset_key
from orchestration.defs.resources import WAREHOUSE_POOL, WarehouseResource, run_id_of


class ClockConfig(dg.Config):
    """`now`: the instant the check measures against (ISO, UTC); empty = env LEAD_SCORING_NOW or wall clock."""

    now: str = ""


def _freshness_check(table: str) -> dg.AssetChecksDefinition:
    check_name = f"raw_{table}_freshness"
    key = raw_asset_key(table)
    columns = FRESHNESS_COLUMNS[table]

    @dg.asset_check(
        asset=key, name=check_name, pool=WAREHOUSE_POOL,
        description=(f"raw.{table}: newest {' and newest '.join(columns)} must be younger than the warning and "
                     f"error limits (LEAD_SCORING_FRESHNESS_{table.upper()}_WARN_HOURS / _ERROR_HOURS)."),
    )
    def _check(context: dg.AssetCheckExecutionContext, config: ClockConfig,
               warehouse: WarehouseResource) -> dg.AssetCheckResult:
        result = measure_freshness(warehouse.warehouse, table, resolve_now(config.now))
        if result.severity == PASS:
            return dg.AssetCheckResult(passed=True, metadata=result.metadata,
                                       description=f"raw.{table} is fresh")
        summary = result.summary
        Notifier().notify(check_name, key.to_user_string(), result.severity, summary, run_id=run_id_of(context))
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity(result.severity),
                                   metadata={**result.metadata, "summary": summary}, description=summary)

    return _check


raw_leads_freshness = _freshness_check("leads")
raw_events_freshness = _freshness_check("events")
