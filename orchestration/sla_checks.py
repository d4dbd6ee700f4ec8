"""The SLA breach-rate check on the dbt asset ``routing_sla_breach_rate`` (docs/sla.md).

dbt computes, per scoring model, how many assignments had their SLA resolved inside the trailing window
(touched in time, or breached) and how many breached, and copies the limits from
``seeds/routing_sla_settings.csv``. This check grades those figures (no grading in SQL):

- fewer resolved assignments than ``min_resolved_assignments``: PASS, with "not enough data" in the
  description (a breach rate over three assignments says nothing);
- ``breach_rate`` above ``breach_rate_error_limit``: ERROR; above ``breach_rate_warn_limit``: WARN;
  a rate equal to a limit is within it.

The check is not blocking: a slow sales team must not stop scores reaching the CRM. A failed check is posted
to the alert webhook like the other monitoring checks. ``grade_breach_rate`` is a pure function.
"""

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import dagster as dg

from orchestration.monitoring import ERROR, PASS, POOL, WARN, Notifier, WarehouseResource, _md_table, _rows, \
    _run_id, worst

BREACH_RATE_KEY = dg.AssetKey("routing_sla_breach_rate")
BREACH_RATE_TABLE = "marts.routing_sla_breach_rate"
CHECK_NAME = "sla_breach_rate_within_limit"


@dataclass(frozen=True)
class BreachGrade:
    model_id: str
    severity: str
    summary: str


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def breach_severity(rate: float, warn_limit: float | None, error_limit: float | None) -> str:
    """ERROR above the error limit, WARN above the warn limit, else PASS (a rate equal to a limit is within it)."""
    if error_limit is not None and rate > error_limit:
        return ERROR
    if warn_limit is not None and rate > warn_limit:
        return WARN
    return PASS


def grade_breach_rate(row: Mapping[str, Any]) -> BreachGrade:
    """Grade one row of marts.routing_sla_breach_rate (one scoring model)."""
    model_id = str(row["model_id"])
    resolved = int(row["resolved_assignments"] or 0)
    breached = int(row["breached_assignments"] or 0)
    minimum = int(row["min_resolved_assignments"] or 0)
    warn_limit = _float(row["breach_rate_warn_limit"])
    error_limit = _float(row["breach_rate_error_limit"])
    window = f"{row['window_start_at']:%Y-%m-%d %H:%M} to {row['window_end_at']:%Y-%m-%d %H:%M}"
    if resolved < minimum or resolved == 0:
        return BreachGrade(model_id, PASS, f"{model_id}: {breached} of {resolved} assignments resolved {window} "
                                           f"breached: not enough data (minimum {minimum})")
    rate = breached / resolved
    stored = _float(row["breach_rate"])
    if stored is None or math.isnan(stored) or abs(stored - rate) > 1e-9:
        return BreachGrade(model_id, ERROR, f"{model_id}: breach_rate {stored} does not equal "
                                            f"{breached}/{resolved}: the mart is inconsistent")
    severity = breach_severity(rate, warn_limit, error_limit)
    if severity == ERROR:
        limit_text = f"above the error limit {error_limit:.0%}"
    elif severity == WARN:
        limit_text = f"above the warning limit {warn_limit:.0%}"
    else:
        limit_text = f"within the warning limit {warn_limit:.0%}" if warn_limit is not None else "no limit set"
    return BreachGrade(model_id, severity, f"{model_id}: {breached} of {resolved} assignments resolved {window} "
                                           f"breached their SLA ({rate:.1%}), {limit_text}")


def grade_all(rows: Sequence[Mapping[str, Any]]) -> tuple[str, list[BreachGrade]]:
    """The worst severity over every scoring model, and each model's grade (sorted by model)."""
    grades = [grade_breach_rate(r) for r in sorted(rows, key=lambda r: str(r["model_id"]))]
    return worst(*(g.severity for g in grades)), grades


@dg.asset_check(
    asset=BREACH_RATE_KEY, name=CHECK_NAME, pool=POOL,
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
        Notifier().notify(CHECK_NAME, BREACH_RATE_KEY.to_user_string(), ERROR, summary, run_id=_run_id(context))
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, description=summary)
    severity, grades = grade_all(rows)
    by_model = {str(r["model_id"]): r for r in rows}
    metadata: dict[str, Any] = {
        "breach rates": dg.MetadataValue.md(_md_table(
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
    Notifier().notify(CHECK_NAME, BREACH_RATE_KEY.to_user_string(), severity, summary, run_id=_run_id(context))
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity(severity), metadata=metadata,
                               description=summary)


sla_checks: list = [sla_breach_rate_within_limit]
