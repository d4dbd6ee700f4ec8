"""Monitoring in Dagster: the raw freshness checks, the score-distribution history asset and its drift check.

What the code location imports (see docs/monitoring.md):

- ``monitoring_assets``: ``score_distribution_history`` (group ``monitoring``), which appends the distribution
  of every scoring run to ``monitoring.score_distribution_history`` and ``monitoring.score_quantiles``;
- ``monitoring_checks``: ``raw_leads_freshness`` and ``raw_events_freshness`` (on the raw-table keys) and
  ``score_distribution_drift`` (blocking, on ``score_distribution_history``);
- ``monitoring_resources``: ``{"warehouse": WarehouseResource()}``.

The statistics, the history writer and the thresholds are plain Python in ``lead_scoring.monitoring``.
"""

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg

from lead_scoring.monitoring import (
    ERROR,
    HISTORY_TABLE,
    QUANTILES_TABLE,
    PASS,
    DriftResult,
    MonitoringSettings,
    Notifier,
    compare_runs,
    format_statistic,
    load_comparison,
    md_table,
    measure_freshness,
    record_distribution,
    resolve_now,
    worst,
)
from lead_scoring.warehouse import Warehouse

POOL = "duckdb_warehouse"  # every step that opens the DuckDB file runs in this pool (limit 1)
GROUP = "monitoring"

RAW_LEADS_KEY = dg.AssetKey(["raw", "leads"])
RAW_EVENTS_KEY = dg.AssetKey(["raw", "events"])
LEAD_SCORES_KEY = dg.AssetKey("lead_scores")


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB file dbt writes (a :class:`lead_scoring.warehouse.Warehouse`). `database_path` empty: env
    LEAD_SCORING_DUCKDB_PATH, read when connecting."""

    database_path: str = ""

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.database_path)

    def resolved_path(self) -> Path:
        return self.warehouse.resolved_path()

    @contextmanager
    def connect(self, read_only: bool = True) -> Iterator[Any]:
        with self.warehouse.connect(read_only=read_only) as con:
            yield con


def run_id_of(context) -> str | None:
    """The Dagster run id, or None when the check is invoked directly (tests)."""
    try:
        return context.run.run_id
    except dg.DagsterError:  # DagsterInvalidPropertyError on direct invocation
        return None


class ClockConfig(dg.Config):
    """`now`: the instant the check measures against (ISO, UTC); empty = env LEAD_SCORING_NOW or wall clock."""

    now: str = ""


# ------------------------------------------------------------------------------------------------
# Raw freshness checks
# ------------------------------------------------------------------------------------------------
def _freshness_check(table: str, key: dg.AssetKey, columns: tuple[str, ...]) -> dg.AssetChecksDefinition:
    check_name = f"raw_{table}_freshness"

    @dg.asset_check(
        asset=key, name=check_name, pool=POOL,
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
        metadata = {**result.metadata, "summary": summary}
        Notifier().notify(check_name, key.to_user_string(), result.severity, summary, run_id=run_id_of(context))
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity(result.severity),
                                   metadata=metadata, description=summary)

    return _check


raw_leads_freshness = _freshness_check("leads", RAW_LEADS_KEY, ("_loaded_at",))
raw_events_freshness = _freshness_check("events", RAW_EVENTS_KEY, ("_loaded_at", "occurred_at"))


# ------------------------------------------------------------------------------------------------
# Score-distribution history
# ------------------------------------------------------------------------------------------------
@dg.asset(
    deps=[LEAD_SCORES_KEY], group_name=GROUP, pool=POOL, kinds={"duckdb", "python"},
    description=("After each scoring run, appends the distribution of fit, engagement and lead scores "
                 "(10 bins each), the grade and level mix, the lead count and the MQL rate to "
                 f"{HISTORY_TABLE}, and 101 percentiles per score to {QUANTILES_TABLE} (for KS). "
                 "Idempotent per run id."),
)
def score_distribution_history(context: dg.AssetExecutionContext,
                               warehouse: WarehouseResource) -> dg.MaterializeResult:
    info = record_distribution(warehouse.warehouse, context.run.run_id)
    context.log.info("recorded %s history rows for run %s", info["history_rows"], context.run.run_id)
    return dg.MaterializeResult(metadata={
        "run_id": context.run.run_id,
        "history rows written": info["history_rows"],
        "quantile rows written": info["quantile_rows"],
        "runs recorded": info["runs_recorded"],
        "lead count": dg.MetadataValue.json(info["lead_count"]),
        "MQL rate": dg.MetadataValue.json(info["mql_rate"]),
    })


# ------------------------------------------------------------------------------------------------
# Drift check
# ------------------------------------------------------------------------------------------------
def drift_metadata(results: Mapping[str, DriftResult], settings: MonitoringSettings) -> dict[str, Any]:
    """Check metadata: statistics with thresholds, floats per statistic and per-bin tables (markdown)."""
    prefix = len(results) > 1
    meta: dict[str, Any] = {}
    stat_rows = []
    for model_id, res in sorted(results.items()):
        p = f"{model_id}: " if prefix else ""
        if res.note:
            meta[f"{p}note"] = res.note
        for st in res.statistics:
            stat_rows.append([*([model_id] if prefix else []), st.name, st.metric, format_statistic(st.value, st.unit),
                              format_statistic(st.warn, st.unit), format_statistic(st.error, st.unit), st.severity])
            key = {"PSI": f"psi {st.metric}", "KS": f"ks {st.metric}", "lead count change": "lead_count_change",
                   "MQL rate change": "mql_rate_change_pp"}[st.name]
            key = p + key
            meta[key] = dg.MetadataValue.float(float(st.value) if math.isfinite(st.value) else -1.0)
        for metric, rows in res.bins.items():
            meta[f"{p}bins {metric}"] = dg.MetadataValue.md(md_table(
                ["bin", "baseline share", "current share", "PSI contribution"],
                [[b, f"{e:.4f}", f"{a:.4f}", f"{c:.5f}"] for b, e, a, c in rows]))
    if stat_rows:
        header = [*(["model"] if prefix else []), "statistic", "metric", "value", "warn at", "error at", "result"]
        meta["statistics"] = dg.MetadataValue.md(md_table(header, stat_rows))
    meta["thresholds"] = dg.MetadataValue.json({
        "psi": [settings.psi_warn, settings.psi_error], "psi_epsilon": settings.psi_epsilon,
        "ks": [settings.ks_warn, settings.ks_error],
        "lead_count_change": [settings.lead_count_change_warn, settings.lead_count_change_error],
        "mql_rate_change_pp": [settings.mql_rate_change_warn_pp, settings.mql_rate_change_error_pp],
        "baseline": settings.baseline_mode, "baseline_window": settings.baseline_runs})
    return meta


@dg.asset_check(
    asset=score_distribution_history, name="score_distribution_drift", blocking=True, pool=POOL,
    description=("Compares the latest scoring run with its baseline (previous run or trailing window): PSI of "
                 "every score, grade and level distribution, KS of every score, lead-count and MQL-rate change. "
                 "ERROR blocks everything downstream of score_distribution_history."),
)
def score_distribution_drift(context: dg.AssetCheckExecutionContext,
                             warehouse: WarehouseResource) -> dg.AssetCheckResult:
    settings = MonitoringSettings.from_env()
    with warehouse.connect(read_only=True) as con:
        data = load_comparison(con, settings, run_id_of(context))
    if data["current"] is None:
        summary = f"{HISTORY_TABLE} is empty: nothing recorded yet"
        Notifier().notify("score_distribution_drift", "score_distribution_history", ERROR, summary,
                          run_id=run_id_of(context))
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, description=summary)
    results = {model_id: compare_runs(m["baseline"], m["current"], settings, m["base_q"], m["cur_q"])
               for model_id, m in data["models"].items() if m["current"]}
    severity = worst(*(r.severity for r in results.values()))
    metadata = drift_metadata(results, settings)
    metadata["current run"] = data["current"]
    metadata["baseline runs"] = ", ".join(data["baseline"]) or "none (first run)"
    summary = " | ".join(f"{m}: {r.summary()}" if len(results) > 1 else r.summary()
                         for m, r in sorted(results.items()))
    if severity == PASS:
        return dg.AssetCheckResult(passed=True, metadata=metadata, description=summary)
    Notifier().notify("score_distribution_drift", "score_distribution_history", severity, summary,
                      run_id=run_id_of(context))
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity(severity), metadata=metadata,
                               description=summary)


monitoring_assets: list = [score_distribution_history]
monitoring_checks: list = [raw_leads_freshness, raw_events_freshness, score_distribution_drift]
monitoring_resources: dict = {"warehouse": WarehouseResource()}
