"""Grading of the SLA breach rate of ``marts.routing_sla_breach_rate`` (docs/sla.md), plain Python.

The Dagster check ``sla_breach_rate_within_limit`` (``orchestration/defs/routing``) and the report use it.

dbt computes, per scoring model, how many assignments had their SLA resolved inside the trailing window
(touched in time, or breached) and how many breached, and copies the limits from
``seeds/routing_sla_settings.csv``. The functions here grade those figures (no grading in SQL):

- fewer resolved assignments than ``min_resolved_assignments``: PASS, with "not enough data" in the
  description (a breach rate over three assignments says nothing);
- ``breach_rate`` above ``breach_rate_error_limit``: ERROR; above ``breach_rate_warn_limit``: WARN;
  a rate equal to a limit is within it.

:func:`read_breach_rates` reads the mart on any engine (a DuckDB connection or a ``lead_scoring.warehouse.Db``).
"""

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from lead_scoring.clock import format_minute
from lead_scoring.monitoring import ERROR, PASS, WARN, worst
from lead_scoring.warehouse import rows as _rows

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
    window = f"{format_minute(row['window_start_at'])} to {format_minute(row['window_end_at'])}"
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


def read_breach_rates(con: Any) -> list[dict[str, Any]]:
    """The rows of marts.routing_sla_breach_rate, by model (`con`: a DuckDB connection or a Db of any engine)."""
    return _rows(con, f"select * from {BREACH_RATE_TABLE} order by model_id")
