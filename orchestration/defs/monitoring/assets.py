"""The score-distribution history: ``score_distribution_history`` (group ``monitoring``) appends the distribution of
every scoring run to ``monitoring.score_distribution_history`` and ``monitoring.score_quantiles``
(``lead_scoring.monitoring.record_distribution``, the function ``lead-scoring backfill`` records its runs with).
"""
import dagster as dg

from lead_scoring.monitoring import HISTORY_TABLE, QUANTILES_TABLE, record_distribution
from orchestration.defs.resources import LEAD_SCORES_KEY, WAREHOUSE_POOL, WarehouseResource

GROUP = "monitoring"


@dg.asset(
    deps=[LEAD_SCORES_KEY], group_name=GROUP, pool=WAREHOUSE_POOL, kinds={"duckdb", "python"},
    description=("After each scoring run, appends the distribution of fit, engagement and lead scores "
                 "(10 bins each), the grade and level mix, the lead count and the MQL rate to "
                 f"{HISTORY_TABLE}, and 101 percentiles per score to {QUANTILES_TABLE} (for KS). "
                 "Idempotent per run id; a run that repeats the latest recorded one (same as_of and rule-set "
                 "version for every model: re-materialised without rescoring) records nothing."),
)
def score_distribution_history(context: dg.AssetExecutionContext,
                               warehouse: WarehouseResource) -> dg.MaterializeResult:
    info = record_distribution(warehouse.warehouse, context.run.run_id)
    if info["repeats"]:
        context.log.info("run %s repeats run %s (same as_of and rule sets): nothing recorded", context.run.run_id,
                         info["repeats"])
        return dg.MaterializeResult(metadata={"run_id": context.run.run_id, "repeats run": info["repeats"],
                                              "history rows written": 0, "runs recorded": info["runs_recorded"]})
    context.log.info("recorded %s history rows for run %s", info["history_rows"], context.run.run_id)
    return dg.MaterializeResult(metadata={
        "run_id": context.run.run_id,
        "history rows written": info["history_rows"],
        "quantile rows written": info["quantile_rows"],
        "runs recorded": info["runs_recorded"],
        "lead count": dg.MetadataValue.json(info["lead_count"]),
        "MQL rate": dg.MetadataValue.json(info["mql_rate"]),
    })
