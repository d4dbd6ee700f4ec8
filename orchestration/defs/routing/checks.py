"""The SLA breach-rate check on the dbt asset ``routing_sla_breach_rate`` (docs/sla.md).

The grading (``lead_scoring.sla``) is plain Python; this module reads the mart, grades it and reports. The check is
not blocking: a slow sales team must not stop scores reaching the CRM. A failed check is posted to the alert
webhook like the other monitoring checks.
"""
from typing import Any

import dagster as dg

from lead_scoring.monitoring import ERROR, PASS, Notifier, md_table
from lead_scoring.sla import BREACH_RATE_TABLE, CHECK_NAME, grade_all
from lead_scoring.warehouse import rows as _rows
from orchestration.defs.resources import WAREHOUSE_POOL, WarehouseResource, run_id_of

BREACH_RATE_KEY = dg.AssetKey("routing_sla_breach_rate")


@dg.asset_check(
    asset=BREACH_RATE_KEY, name=CHECK_NAME, pool=WAREHOUSE_POOL,
    description=("Share of assignments whose SLA resolved in the trailing window that breached it, per scoring "
                 "model: WARN above breach_rate_warn_limit, ERROR above breach_rate_error_limit "
                 "(seeds/routing_sla_settings.csv); fewer than min_resolved_assignments passes."),
)
def sla_breach_rate_within_limit(context: dg.AssetCheckExecutionContext,
                                 warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        rows = _rows(con, f"select * from {BREACH_RATE_TABLE} order by model_id")
    if not rows:
        summary = f"{BREACH_RATE_TABLE} has no rows: no scoring model was graded"
        Notifier().notify(CHECK_NAME, BREACH_RATE_KEY.to_user_string(), ERROR, summary, run_id=run_id_of(context))
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, description=summary)
    severity, grades = grade_all(rows)
    by_model = {str(r["model_id"]): r for r in rows}
    metadata: dict[str, Any] = {
        "breach rates": dg.MetadataValue.md(md_table(
            ["model", "resolved", "breached", "breach rate", "warn above", "error above", "grade"],
            [[g.model_id, by_model[g.model_id]["resolved_assignments"],
              by_model[g.model_id]["breached_assignments"],
              "n/a" if by_model[g.model_id]["breach_rate"] is None else f"{by_model[g.model_id]['breach_rate']:.3f}",
              by_model[g.model_id]["breach_rate_warn_limit"], by_model[g.model_id]["breach_rate_error_limit"],
              g.severity] for g in grades])),
    }
    for g in grades:
        rate = by_model[g.model_id]["breach_rate"]
        metadata[f"{g.model_id} breach rate"] = None if rate is None else float(rate)
    summary = " | ".join(g.summary for g in grades)
    if severity == PASS:
        return dg.AssetCheckResult(passed=True, metadata=metadata, description=summary)
    Notifier().notify(CHECK_NAME, BREACH_RATE_KEY.to_user_string(), severity, summary, run_id=run_id_of(context))
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity(severity), metadata=metadata,
                               description=summary)

