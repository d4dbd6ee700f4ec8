"""The blocking drift check ``score_distribution_drift`` on ``score_distribution_history``.

It compares the latest scoring run with its baseline (``lead_scoring.monitoring.compare_runs``: PSI, KS, lead-count
and MQL-rate change, thresholds from env ``LEAD_SCORING_DRIFT_*``); an ERROR blocks everything downstream of the
history (the CRM export, the report). The result is stored per run (``monitoring.drift_run_status``): a run at ERROR
is *blocked* and never becomes a baseline, so the block holds on every later run until the rules are changed back or
someone accepts the run (``lead-scoring drift accept``, recorded with who and why).
"""
import math
from collections.abc import Mapping
from typing import Any

import dagster as dg

from lead_scoring.monitoring import (
    ACCEPTED,
    ERROR,
    HISTORY_TABLE,
    PASS,
    DriftResult,
    MonitoringSettings,
    Notifier,
    compare_runs,
    format_statistic,
    load_comparison,
    md_table,
    record_check_result,
    worst,
)
from orchestration.defs.monitoring.assets import score_distribution_history
from orchestration.defs.resources import WAREHOUSE_POOL, WarehouseResource, run_id_of


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
    asset=score_distribution_history, name="score_distribution_drift", blocking=True, pool=WAREHOUSE_POOL,
    description=("Compares the latest scoring run with its baseline (previous run or trailing window, never a blocked "
                 "run): PSI of every score, grade and level distribution, KS of every score, lead-count and MQL-rate "
                 "change. ERROR blocks everything downstream of score_distribution_history (the report; the on-demand "
                 "crm_export_job evaluates this check first and stops) on this and every later run until the rules are changed back or the run is accepted "
                 "(lead-scoring drift accept)."),
)
def score_distribution_drift(context: dg.AssetCheckExecutionContext,
                             warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return evaluate_drift(warehouse, run_id_of(context))


def evaluate_drift(warehouse: WarehouseResource, run_id: str | None = None) -> dg.AssetCheckResult:
    """The drift check of the latest recorded scoring run (or `run_id`), its status recorded; the CRM export job
    (defs/crm_sync) evaluates it too before it writes anything."""
    settings = MonitoringSettings.from_env()
    with warehouse.connect(read_only=True) as con:
        data = load_comparison(con, settings, run_id)
    if data["current"] is None:
        summary = f"{HISTORY_TABLE} is empty: nothing recorded yet"
        Notifier().notify("score_distribution_drift", "score_distribution_history", ERROR, summary,
                          run_id=run_id)
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, description=summary)
    results = {model_id: compare_runs(m["baseline"], m["current"], settings, m["base_q"], m["cur_q"])
               for model_id, m in data["models"].items() if m["current"]}
    severity = worst(*(r.severity for r in results.values()))
    metadata = drift_metadata(results, settings)
    metadata["current run"] = data["current"]
    metadata["baseline runs"] = ", ".join(data["baseline"]) or "none (first run)"
    if data["left_out"]:
        metadata["blocked runs left out of the baseline"] = ", ".join(data["left_out"])
    summary = " | ".join(f"{m}: {r.summary()}" if len(results) > 1 else r.summary()
                         for m, r in sorted(results.items()))
    status = record_check_result(warehouse.warehouse, data["current"], severity)
    metadata["run status"] = status
    if status == ACCEPTED:
        accepted = data["status"] or {}
        return dg.AssetCheckResult(
            passed=True, metadata=metadata,
            description=(f"accepted by {accepted.get('accepted_by')} ({accepted.get('accepted_reason')}); "
                         f"against its own baseline: {summary}"))
    if severity == PASS:
        return dg.AssetCheckResult(passed=True, metadata=metadata, description=summary)
    Notifier().notify("score_distribution_drift", "score_distribution_history", severity, summary,
                      run_id=run_id)
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity(severity), metadata=metadata,
                               description=summary)
