"""The scoring report: one self-contained HTML page (plotly, embedded inline, works offline).

    lead-scoring report --database PATH --out FILE.html [--model default]

It reads, read-only, from the warehouse of the dbt target (env ``LEAD_SCORING_TARGET`` or ``--target``: DuckDB, or
PostgreSQL and Spark through ``lead_scoring.warehouse``, whose tables below are copied into an in-memory DuckDB
first, so the page's SQL is the same on every engine):

- ``marts.lead_scores``: headline figures, score distributions, the 4x4 grade x level matrix;
- ``marts.score_calibration``, ``marts.score_auc``, ``marts.mql_threshold_calibration``: conversion and lift
  by lead-score band and decile, conversion per matrix cell, AUC per score, configured vs suggested MQL
  threshold;
- ``marts.channel_quality``: leads, mean score, MQL, conversion and win rates by lead source and month;
- ``monitoring.score_distribution_history`` and ``monitoring.score_quantiles`` (written by
  ``lead_scoring.monitoring``): percentiles, lead count, MQL rate and PSI against the previous run, per run;
- ``marts.lead_funnel``: the funnel lead -> MQL -> accepted -> opportunity -> won summed over its rows, with
  stage-to-stage rates and returned leads, and the same by lead source; ``marts.lead_funnel_stages``
  (one row per lead): the median and 90th-percentile hours between stages over the whole model (medians of the
  mart's rows cannot be added up);
- ``marts.owner_performance`` and ``marts.routing_sla_breach_rate``: open MQLs, SLA breach rate and conversion per
  owner, and the overall breach rate against its warn and error limits;
- ``marts.scoring_rule_health`` and ``marts.scoring_band_health`` (docs/rule_health.md): the flagged rule and band
  issues with their fix, then every rule of the model by the share of scored leads it fires on, with the conversion
  of the leads with and without it and the lift, and the most common grade and level.

Only ``marts.lead_scores`` is required. A missing optional table, or an empty drift history, renders a note in
its section instead of a chart. Every text that comes from data (lead sources, model ids, rule-set versions)
is HTML-escaped before it goes into the page or into a chart, so it renders as text.

The data functions (``load_*``) return plain rows; the figure functions (``*_figure``) are pure and take
those rows, so both can be tested separately. :func:`render_report` returns the page and the ids of the
charts it contains.
"""
from __future__ import annotations

import argparse
import html
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import duckdb
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from lead_scoring.clock import format_as_of, format_minute, format_month, utc_now
from lead_scoring.monitoring import ERROR, HISTORY_TABLE, LEAD_COUNT, MQL_RATE, PASS, PSI_METRICS, QUANTILES_TABLE, \
    WARN, psi
from lead_scoring.sla import breach_severity
from lead_scoring.warehouse import Db, DuckDb, Warehouse, local_mirror, resolve_target

GRADES = ("A", "B", "C", "D")
LEVELS = ("1", "2", "3", "4")
SCORES = ("fit_score", "engagement_score", "lead_score")
SCORE_TITLES = {"fit_score": "Fit score", "engagement_score": "Engagement score", "lead_score": "Lead score"}
HIST_BIN_WIDTH = 5  # score histogram bins: [0,5), [5,10), ..., [95,100]
DRIFT_PERCENTILES = (10, 25, 50, 75, 90)
PSI_WARN, PSI_ERROR = 0.10, 0.25  # the defaults of MonitoringSettings, drawn as reference lines

SCORES_TABLE = "marts.lead_scores"
CALIBRATION_TABLE = "marts.score_calibration"
AUC_TABLE = "marts.score_auc"
THRESHOLD_TABLE = "marts.mql_threshold_calibration"
CHANNEL_TABLE = "marts.channel_quality"
FUNNEL_TABLE = "marts.lead_funnel"
FUNNEL_STAGES_TABLE = "marts.lead_funnel_stages"
OWNER_TABLE = "marts.owner_performance"
SLA_TABLE = "marts.routing_sla_breach_rate"
RULE_HEALTH_TABLE = "marts.scoring_rule_health"
BAND_HEALTH_TABLE = "marts.scoring_band_health"
# Every relation the page reads (copied from PostgreSQL or Spark into DuckDB before loading).
REPORT_RELATIONS = (SCORES_TABLE, CALIBRATION_TABLE, AUC_TABLE, THRESHOLD_TABLE, CHANNEL_TABLE, FUNNEL_TABLE,
                    FUNNEL_STAGES_TABLE, OWNER_TABLE, SLA_TABLE, RULE_HEALTH_TABLE, BAND_HEALTH_TABLE, HISTORY_TABLE,
                    QUANTILES_TABLE)

# The funnel stages in order: (label, count column of lead_funnel, timestamp column of lead_funnel_stages).
FUNNEL_STAGES = (
    ("leads", "leads", "created_at"),
    ("MQL", "mql_leads", "mql_at"),
    ("accepted", "accepted_leads", "accepted_at"),
    ("opportunity", "opportunity_leads", "opportunity_at"),
    ("won", "won_leads", "won_at"),
)
FUNNEL_COUNTS = tuple(c for _, c, _ in FUNNEL_STAGES) + ("returned_leads",)
FUNNEL_RATE_NAMES = ("lead to MQL", "MQL to accepted", "accepted to opportunity", "opportunity to won")
SLA_MARTS_NOTE = ("SLA marts not built: marts.owner_performance and marts.routing_sla_breach_rate are not in the "
                  "warehouse. They appear once the routing SLA models are built.")

RULE_HEALTH_NOTE = ("Rule health marts not built: marts.scoring_rule_health and marts.scoring_band_health are not "
                    "in the warehouse. They appear once the rule-health models are built (docs/rule_health.md).")
NO_RULE_OR_BAND_ISSUE = "No rule or band issue"
# health_issue values of the two marts, as the page words them
HEALTH_ISSUE_LABELS = {"fires_on_almost_every_lead": "fires on almost every lead",
                       "almost_never_fires": "almost never fires",
                       "one_band_holds_almost_every_lead": "one band holds almost every lead"}
BAND_AXIS_LABELS = {"fit_grade": "fit grade", "engagement_level": "engagement level"}

NO_RUNS_NOTE = ("No runs recorded yet: the drift history (monitoring.score_distribution_history) is empty. "
                "It fills after each scoring run (Dagster asset score_distribution_history).")
COLORS = {"fit_score": "#1f77b4", "engagement_score": "#2ca02c", "lead_score": "#9467bd"}


class ReportError(Exception):
    """The warehouse cannot be reported on (no lead_scores table, or no scores for the model)."""


def esc(value: Any) -> str:
    """HTML-escape a value for the page or a chart label (None becomes an em dash)."""
    return "\u2014" if value is None else html.escape(str(value), quote=True)


# ------------------------------------------------------------------------------------------------
# Loading (read-only queries; identifiers are constants of this module, values are bound parameters)
# ------------------------------------------------------------------------------------------------
def _rows(con, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def table_exists(con, relation: str) -> bool:
    schema, name = relation.split(".")
    return bool(con.execute("select count(*) from information_schema.tables where table_schema = ? "
                            "and table_name = ?", [schema, name]).fetchone()[0])


@dataclass
class ReportData:
    model_id: str
    overview: dict[str, Any]
    histograms: dict[str, list[int]]  # score -> counts per HIST_BIN_WIDTH bin
    matrix: list[dict[str, Any]]  # fit_grade, engagement_level, leads
    calibration: list[dict[str, Any]] | None = None
    auc: list[dict[str, Any]] | None = None
    threshold: dict[str, Any] | None = None
    channel: list[dict[str, Any]] | None = None
    history: list[dict[str, Any]] | None = None
    quantiles: list[dict[str, Any]] | None = None
    funnel: list[dict[str, Any]] | None = None  # lead_funnel rows of the model (None: no such table)
    funnel_hours: list[dict[str, Any]] | None = None  # per lead: hours between consecutive stages (None: no table)
    owners: list[dict[str, Any]] | None = None  # owner_performance rows (None: no such table)
    sla: list[dict[str, Any]] | None = None  # routing_sla_breach_rate rows, at most one (None: no such table)
    rule_health: list[dict[str, Any]] | None = None  # scoring_rule_health rows of the model (None: no such table)
    band_health: list[dict[str, Any]] | None = None  # scoring_band_health rows of the model (None: no such table)
    preview: dict[str, Any] | None = None  # a rule-change preview (preview.json of `lead-scoring preview`), if given
    generated_at: datetime = field(default_factory=utc_now)


def load_overview(con, model_id: str) -> dict[str, Any]:
    row = _rows(con, f"""
        select count(*) as leads, count(*) filter (where is_mql) as mql_leads, max(scored_at) as as_of,
               string_agg(distinct ruleset_version, ', ' order by ruleset_version) as ruleset_version,
               avg(fit_score) as mean_fit_score, avg(engagement_score) as mean_engagement_score,
               avg(lead_score) as mean_lead_score
        from {SCORES_TABLE} where model_id = ?""", [model_id])[0]
    if not row["leads"]:
        raise ReportError(f"{SCORES_TABLE} has no scores for model {model_id!r}: build the warehouse first")
    return row


def load_histograms(con, model_id: str) -> dict[str, list[int]]:
    n_bins = 100 // HIST_BIN_WIDTH
    out = {}
    for score in SCORES:
        counts = [0] * n_bins
        for r in _rows(con, f"""select least(greatest(floor({score} / {HIST_BIN_WIDTH}), 0), {n_bins - 1})::integer
                                       as b, count(*) as n
                                from {SCORES_TABLE} where model_id = ? group by 1""", [model_id]):
            counts[r["b"]] = r["n"]
        out[score] = counts
    return out


def load_matrix(con, model_id: str) -> list[dict[str, Any]]:
    return _rows(con, f"""select fit_grade, engagement_level::varchar as engagement_level, count(*) as leads
                          from {SCORES_TABLE} where model_id = ? group by all order by all""", [model_id])


def _optional(con, relation: str, sql: str, params: Sequence[Any]) -> list[dict[str, Any]] | None:
    return _rows(con, sql, params) if table_exists(con, relation) else None


def load_funnel_hours(con, model_id: str) -> list[dict[str, Any]] | None:
    """Per funnel lead that reached the MQL stage: the hours between consecutive stages (null when a stage is
    missing; the two at the MQL moment also null when that moment is a bound, as in lead_funnel)."""
    if not table_exists(con, FUNNEL_STAGES_TABLE):
        return None

    def hours(start: str, end: str) -> str:
        return f"date_diff('second', {start}, {end}) / 3600.0"

    return _rows(con, f"""
        select case when is_mql_at_observed then {hours("created_at", "mql_at")} end as lead_to_mql,
               case when is_mql_at_observed then {hours("mql_at", "accepted_at")} end as mql_to_accepted,
               {hours("accepted_at", "opportunity_at")} as accepted_to_opportunity,
               {hours("opportunity_at", "won_at")} as opportunity_to_won
        from {FUNNEL_STAGES_TABLE} where model_id = ? and mql_at is not null order by lead_id""", [model_id])


def load_report_data(con, model_id: str | None = None) -> ReportData:
    """Everything the page shows, for one scoring model (default: 'default', else the first model). `con`: a
    DuckDB connection, or a :class:`lead_scoring.warehouse.Db` of any engine."""
    if isinstance(con, DuckDb):
        con = con.con
    elif isinstance(con, Db):
        with local_mirror(con, REPORT_RELATIONS) as local:
            return load_report_data(local, model_id)
    if not table_exists(con, SCORES_TABLE):
        raise ReportError(f"{SCORES_TABLE} does not exist: build the warehouse first (make build)")
    if model_id is None:
        models = [r[0] for r in con.execute(f"select distinct model_id from {SCORES_TABLE} order by 1").fetchall()]
        model_id = "default" if "default" in models or not models else models[0]
    data = ReportData(model_id=model_id, overview=load_overview(con, model_id),
                      histograms=load_histograms(con, model_id), matrix=load_matrix(con, model_id))
    p = [model_id]
    data.calibration = _optional(con, CALIBRATION_TABLE, f"""
        select dimension, bucket, bucket_order, leads, converted_leads, won_leads, conversion_rate, win_rate, lift,
               min_lead_score, max_lead_score
        from {CALIBRATION_TABLE} where model_id = ? order by dimension, bucket_order""", p)
    data.auc = _optional(con, AUC_TABLE, f"""
        select score_name, leads, converted_leads, won_leads, roc_auc, roc_auc_won
        from {AUC_TABLE} where model_id = ? order by score_name""", p)
    threshold = _optional(con, THRESHOLD_TABLE, f"select * from {THRESHOLD_TABLE} where model_id = ?", p)
    data.threshold = (threshold[0] if threshold else {}) if threshold is not None else None
    data.channel = _optional(con, CHANNEL_TABLE, f"""
        select lead_source, created_month, leads, mean_fit_score, mean_engagement_score, mean_lead_score, mql_leads,
               mql_rate, converted_leads, conversion_rate, won_leads, win_rate, won_amount
        from {CHANNEL_TABLE} where model_id = ? order by lead_source nulls last, created_month""", p)
    data.funnel = _optional(con, FUNNEL_TABLE, f"""
        select created_month, lead_source, matrix_cell, {", ".join(FUNNEL_COUNTS)}
        from {FUNNEL_TABLE} where model_id = ? order by created_month, lead_source, matrix_cell""", p)
    data.funnel_hours = load_funnel_hours(con, model_id)
    data.owners = _optional(con, OWNER_TABLE, f"""
        select owner_id, owner_name, is_active, open_mqls, assignments, resolved_assignments, breached_assignments,
               sla_breach_rate, median_hours_to_first_touch, owned_leads, opportunity_leads, won_leads,
               opportunity_rate, win_rate, returned_leads
        from {OWNER_TABLE} where model_id = ? order by owner_id""", p)
    data.sla = _optional(con, SLA_TABLE, f"""
        select window_start_at, window_end_at, resolved_assignments, breached_assignments, breach_rate,
               breach_rate_warn_limit, breach_rate_error_limit, min_resolved_assignments
        from {SLA_TABLE} where model_id = ?""", p)
    data.rule_health = _optional(con, RULE_HEALTH_TABLE, f"""
        select axis, rule_source, rule_id, rule_group, points, scored_leads, fired_leads, fired_share,
               converted_leads, fired_converted_leads, conversion_rate_with, conversion_rate_without, conversion_lift,
               health_issue, health_fix
        from {RULE_HEALTH_TABLE} where model_id = ?
        order by fired_share desc nulls last, axis, rule_source, rule_id""", p)
    data.band_health = _optional(con, BAND_HEALTH_TABLE, f"""
        select axis, top_band, top_band_leads, scored_leads, top_band_share, band_count, health_issue, health_fix
        from {BAND_HEALTH_TABLE} where model_id = ? order by axis desc""", p)
    if table_exists(con, HISTORY_TABLE):
        data.history = _rows(con, f"""select run_id, recorded_at, as_of, ruleset_version, metric, bin, count, share
                                      from {HISTORY_TABLE} where model_id = ? order by recorded_at, run_id""", p)
    else:
        data.history = []
    if table_exists(con, QUANTILES_TABLE):
        data.quantiles = _rows(con, f"""select run_id, metric, percentile, value from {QUANTILES_TABLE}
                                        where model_id = ? and percentile in ({", ".join(map(str, DRIFT_PERCENTILES))})
                                        order by run_id, metric, percentile""", p)
    else:
        data.quantiles = []
    return data


# ------------------------------------------------------------------------------------------------
# Chart data (pure)
# ------------------------------------------------------------------------------------------------
def matrix_grid(rows: Sequence[Mapping[str, Any]], value: str = "leads") -> list[list[Any]]:
    """4x4 grid (grades A-D as rows, levels 1-4 as columns) of `value`; cells without a row: 0 for counts."""
    cells = {(str(r["fit_grade"]), str(r["engagement_level"])): r[value] for r in rows}
    default = 0 if value == "leads" else None
    return [[cells.get((g, lv), default) for lv in LEVELS] for g in GRADES]


def calibration_cells(calibration: Sequence[Mapping[str, Any]] | None) -> dict[str, Mapping[str, Any]]:
    """Matrix-cell rows of score_calibration by cell ('A1'..'D4')."""
    return {str(r["bucket"]): r for r in calibration or () if r["dimension"] == "matrix_cell"}


def calibration_dimension(calibration: Sequence[Mapping[str, Any]] | None, dimension: str) -> list[Mapping[str, Any]]:
    return sorted((r for r in calibration or () if r["dimension"] == dimension), key=lambda r: r["bucket_order"])


@dataclass
class DriftRun:
    label: str
    run_id: str
    recorded_at: Any
    ruleset_version: str | None
    lead_count: int | None
    mql_rate: float | None
    psi: dict[str, float]  # metric -> PSI against the previous run (empty for the first run)
    percentiles: dict[str, dict[int, float]]  # score -> percentile -> value


def drift_runs(history: Sequence[Mapping[str, Any]], quantiles: Sequence[Mapping[str, Any]],
               eps: float = 1e-4) -> list[DriftRun]:
    """One entry per recorded run (oldest first), with PSI of every monitored distribution vs the run before."""
    order: list[str] = []
    by_run: dict[str, list[Mapping[str, Any]]] = {}
    for r in sorted(history, key=lambda r: (r["recorded_at"], r["run_id"])):
        if r["run_id"] not in by_run:
            order.append(r["run_id"])
        by_run.setdefault(r["run_id"], []).append(r)
    pct: dict[str, dict[str, dict[int, float]]] = {}
    for q in quantiles:
        if q["value"] is not None:
            pct.setdefault(q["run_id"], {}).setdefault(q["metric"], {})[int(q["percentile"])] = float(q["value"])
    runs: list[DriftRun] = []
    previous: dict[str, dict[str, float]] | None = None
    for i, run_id in enumerate(order, start=1):
        rows = by_run[run_id]
        shares: dict[str, dict[str, float]] = {}
        for r in rows:
            shares.setdefault(r["metric"], {})[str(r["bin"])] = float(r["share"])
        lead_count = next((int(r["count"]) for r in rows if r["metric"] == LEAD_COUNT), None)
        mql_rate = next((float(r["share"]) for r in rows if r["metric"] == MQL_RATE), None)
        run_psi = {}
        if previous is not None:
            for metric in PSI_METRICS:
                bins = sorted(set(shares.get(metric, {})) | set(previous.get(metric, {})))
                if bins:
                    run_psi[metric] = psi([previous.get(metric, {}).get(b, 0.0) for b in bins],
                                          [shares.get(metric, {}).get(b, 0.0) for b in bins], eps)
        recorded_at = rows[0]["recorded_at"]
        stamp = format_minute(recorded_at) if isinstance(recorded_at, datetime) else str(recorded_at)
        runs.append(DriftRun(label=f"run {i} ({stamp})", run_id=run_id, recorded_at=recorded_at,
                             ruleset_version=rows[0]["ruleset_version"], lead_count=lead_count, mql_rate=mql_rate,
                             psi=run_psi, percentiles=pct.get(run_id, {})))
        previous = shares
    return runs


def channel_by_source(channel: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Totals per lead source over all months: leads, lead-weighted mean score, MQL, conversion and win rates."""
    acc: dict[Any, dict[str, float]] = {}
    for r in channel:
        a = acc.setdefault(r["lead_source"], {"leads": 0, "score_sum": 0.0, "mql": 0, "conv": 0, "won": 0,
                                              "won_amount": 0.0})
        n = int(r["leads"] or 0)
        a["leads"] += n
        a["score_sum"] += float(r["mean_lead_score"] or 0.0) * n
        a["mql"] += int(r["mql_leads"] or 0)
        a["conv"] += int(r["converted_leads"] or 0)
        a["won"] += int(r["won_leads"] or 0)
        a["won_amount"] += float(r["won_amount"] or 0.0)
    out = []
    for source, a in acc.items():
        n = a["leads"]
        out.append({"lead_source": source, "leads": n, "mean_lead_score": a["score_sum"] / n if n else None,
                    "mql_rate": a["mql"] / n if n else None, "conversion_rate": a["conv"] / n if n else None,
                    "win_rate": a["won"] / n if n else None, "converted_leads": a["conv"], "won_leads": a["won"],
                    "won_amount": a["won_amount"]})
    return sorted(out, key=lambda r: (-r["leads"], str(r["lead_source"])))


# -- the funnel ------------------------------------------------------------------------------------
FUNNEL_TRANSITIONS = tuple(zip(("lead_to_mql", "mql_to_accepted", "accepted_to_opportunity", "opportunity_to_won"),
                               FUNNEL_RATE_NAMES))


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def funnel_totals(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """The lead_funnel counts (leads, mql_leads, ..., won_leads, returned_leads) summed over `rows`."""
    return {c: sum(int(r[c] or 0) for r in rows) for c in FUNNEL_COUNTS}


def funnel_steps(totals: Mapping[str, int]) -> list[dict[str, Any]]:
    """One entry per stage, in order: its leads, the rate from the stage before (None for the first stage or an
    empty previous stage) and the share of all leads."""
    steps: list[dict[str, Any]] = []
    previous: int | None = None
    for label, column, _ in FUNNEL_STAGES:
        n = int(totals[column])
        steps.append({"stage": label, "leads": n,
                      "rate_from_previous": None if previous is None else _ratio(n, previous),
                      "share_of_leads": _ratio(n, int(totals["leads"]))})
        previous = n
    return steps


def funnel_by(rows: Sequence[Mapping[str, Any]], key: str = "lead_source") -> list[dict[str, Any]]:
    """Funnel counts summed per value of `key` (lead_source or matrix_cell) with the stage-to-stage rates
    (<transition>_rate, None when the earlier stage is empty) and lead_to_won_rate; biggest group first."""
    groups: dict[Any, list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r[key], []).append(r)
    out = []
    for value, members in groups.items():
        totals = funnel_totals(members)
        entry: dict[str, Any] = {key: value, **totals}
        counts = [totals[c] for _, c, _ in FUNNEL_STAGES]
        for (name, _), earlier, later in zip(FUNNEL_TRANSITIONS, counts, counts[1:]):
            entry[f"{name}_rate"] = _ratio(later, earlier)
        entry["lead_to_won_rate"] = _ratio(totals["won_leads"], totals["leads"])
        out.append(entry)
    return sorted(out, key=lambda r: (-r["leads"], str(r[key])))


def percentile_cont(values: Sequence[float], q: float) -> float | None:
    """Continuous percentile with linear interpolation (SQL percentile_cont): None for no values."""
    ordered = sorted(float(v) for v in values)
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def funnel_durations(hours: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per transition (lead_to_mql, ...): the leads with a duration, the median and the 90th percentile hours."""
    out = []
    for name, label in FUNNEL_TRANSITIONS:
        values = [float(r[name]) for r in hours if r.get(name) is not None]
        out.append({"transition": name, "label": label, "leads": len(values),
                    "median_hours": percentile_cont(values, 0.5), "p90_hours": percentile_cont(values, 0.9)})
    return out


# -- owners and SLA --------------------------------------------------------------------------------
def owners_ordered(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Owners with the most open MQLs first (then by owner id)."""
    return sorted(rows, key=lambda r: (-int(r["open_mqls"] or 0), str(r["owner_id"])))


def sla_status(row: Mapping[str, Any]) -> str:
    """'error' when the breach rate is above its error limit, 'warn' when above the warn limit, 'ok' otherwise;
    'too few resolved' when fewer than min_resolved_assignments were resolved (or there is no rate)."""
    rate = row.get("breach_rate")
    resolved = int(row.get("resolved_assignments") or 0)
    if rate is None or resolved < int(row.get("min_resolved_assignments") or 0):
        return "too few resolved"
    error, warn = row.get("breach_rate_error_limit"), row.get("breach_rate_warn_limit")
    severity = breach_severity(float(rate), None if warn is None else float(warn),
                               None if error is None else float(error))  # the Dagster check's rule
    return {PASS: "ok", WARN: "warn", ERROR: "error"}[severity]


# -- rule health -----------------------------------------------------------------------------------
def rules_by_fired_share(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """scoring_rule_health rows, the rule that fires on the most leads first (no share last), then by axis,
    source and rule id."""
    return sorted(rows, key=lambda r: (r["fired_share"] is None, -float(r["fired_share"] or 0.0), str(r["axis"]),
                                       str(r["rule_source"]), str(r["rule_id"])))


def rule_kind(row: Mapping[str, Any]) -> str:
    """'axis / source' of a rule: 'fit / fit', 'engagement / engagement' or 'engagement / signal'."""
    return f"{row['axis']} / {row['rule_source']}"


def health_issues(rules: Sequence[Mapping[str, Any]] | None,
                  bands: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """The flagged rows (health_issue not null) of both marts: rules by fired share first, then the axes. Each:
    kind ('rule' or 'band'), id (the rule id or the axis), where (the rule's axis / source, or the top band),
    issue, share (fired or top-band share) and fix."""
    out: list[dict[str, Any]] = []
    for r in rules_by_fired_share([r for r in rules or () if r["health_issue"] is not None]):
        out.append({"kind": "rule", "id": r["rule_id"], "where": rule_kind(r), "issue": r["health_issue"],
                    "share": r["fired_share"], "fix": r["health_fix"]})
    for b in sorted((b for b in bands or () if b["health_issue"] is not None), key=lambda b: str(b["axis"])):
        out.append({"kind": "band", "id": b["axis"], "where": f"top band {b['top_band']}", "issue": b["health_issue"],
                    "share": b["top_band_share"], "fix": b["health_fix"]})
    return out


def _month(value: Any) -> str:
    return format_month(value) if hasattr(value, "strftime") else str(value)[:7]


def _pct(value: Any, digits: int = 1) -> str:
    return "\u2014" if value is None else f"{float(value) * 100:.{digits}f}%"


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "\u2014"
    return f"{value:,}" if isinstance(value, int) else f"{float(value):,.{digits}f}"


# ------------------------------------------------------------------------------------------------
# Figures (pure: rows in, plotly figure out)
# ------------------------------------------------------------------------------------------------
def _layout(fig: go.Figure, title: str, height: int = 420) -> go.Figure:
    fig.update_layout(title={"text": title, "x": 0.01}, height=height, template="plotly_white",
                      margin={"l": 60, "r": 30, "t": 60, "b": 50}, legend={"orientation": "h", "y": -0.18})
    return fig


def distributions_figure(histograms: Mapping[str, Sequence[int]],
                         thresholds: Mapping[str, float | None] | None = None) -> go.Figure:
    """Histograms of fit, engagement and lead score (bins of HIST_BIN_WIDTH), MQL thresholds on the lead score."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=[SCORE_TITLES[s] for s in SCORES], shared_yaxes=True)
    for col, score in enumerate(SCORES, start=1):
        counts = list(histograms[score])
        centres = [i * HIST_BIN_WIDTH + HIST_BIN_WIDTH / 2 for i in range(len(counts))]
        labels = [f"{i * HIST_BIN_WIDTH}-{(i + 1) * HIST_BIN_WIDTH}" for i in range(len(counts))]
        fig.add_trace(go.Bar(x=centres, y=counts, width=HIST_BIN_WIDTH, name=SCORE_TITLES[score], customdata=labels,
                             marker={"color": COLORS[score], "line": {"width": 0.5, "color": "white"}},
                             hovertemplate="%{customdata}: %{y} leads<extra></extra>", showlegend=False),
                      row=1, col=col)
        fig.update_xaxes(range=[0, 100], title_text="score", row=1, col=col)
    for name, value in (thresholds or {}).items():
        if value is not None:
            fig.add_vline(x=float(value), line_dash="dash" if name == "suggested" else "solid",
                          line_color="#d62728" if name == "configured" else "#ff7f0e", row=1, col=3,
                          annotation_text=f"{name} MQL {float(value):.1f}", annotation_position="top left")
    fig.update_yaxes(title_text="leads", row=1, col=1)
    return _layout(fig, "Score distributions")


def matrix_figure(matrix: Sequence[Mapping[str, Any]],
                  calibration: Sequence[Mapping[str, Any]] | None = None) -> go.Figure:
    """4x4 heat map of lead counts (grade rows A-D, level columns 1-4), with the conversion rate when known."""
    counts = matrix_grid(matrix)
    cells = calibration_cells(calibration)
    text = []
    for g, row in zip(GRADES, counts):
        line = []
        for lv, n in zip(LEVELS, row):
            label = f"<b>{g}{lv}</b><br>{n:,} leads"
            cal = cells.get(f"{g}{lv}")
            if cal is not None:
                label += f"<br>conv {_pct(cal['conversion_rate'])}"
            line.append(label)
        text.append(line)
    fig = go.Figure(go.Heatmap(z=counts, x=[f"level {lv}" for lv in LEVELS], y=[f"grade {g}" for g in GRADES],
                               text=text, texttemplate="%{text}", colorscale="Blues", colorbar={"title": "leads"},
                               hovertemplate="%{y}, %{x}: %{z} leads<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    title = "Fit grade x engagement level: leads" + (" and conversion rate" if cells else "")
    return _layout(fig, title, height=460)


def conversion_figure(rows: Sequence[Mapping[str, Any]], title: str, x_title: str) -> go.Figure:
    """Conversion and win rate (bars, left axis) and lift (line, right axis) per calibration bucket."""
    buckets = [esc(r["bucket"]) for r in rows]
    leads = [r["leads"] for r in rows]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=buckets, y=[r["conversion_rate"] for r in rows], name="conversion rate",
                         customdata=leads, marker_color="#1f77b4",
                         hovertemplate="%{x}: %{y:.1%} of %{customdata} leads converted<extra></extra>"),
                  secondary_y=False)
    fig.add_trace(go.Bar(x=buckets, y=[r["win_rate"] for r in rows], name="win rate", marker_color="#2ca02c",
                         hovertemplate="%{x}: %{y:.1%} won<extra></extra>"), secondary_y=False)
    fig.add_trace(go.Scatter(x=buckets, y=[r["lift"] for r in rows], name="lift (x average)", mode="lines+markers",
                             marker_color="#d62728", hovertemplate="%{x}: lift %{y:.2f}<extra></extra>"),
                  secondary_y=True)
    fig.update_yaxes(title_text="rate", tickformat=".0%", secondary_y=False)
    fig.update_yaxes(title_text="lift", secondary_y=True, rangemode="tozero", showgrid=False)
    fig.update_xaxes(title_text=x_title, type="category")
    return _layout(fig, title)


def auc_figure(auc: Sequence[Mapping[str, Any]]) -> go.Figure:
    """ROC AUC of each score against conversion and against won deals, with the 0.5 no-skill line."""
    names = [SCORE_TITLES.get(r["score_name"], esc(r["score_name"])) for r in auc]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=[r["roc_auc"] for r in auc], name="AUC: converted", marker_color="#1f77b4",
                         text=[_num(r["roc_auc"], 3) for r in auc], textposition="outside"))
    fig.add_trace(go.Bar(x=names, y=[r["roc_auc_won"] for r in auc], name="AUC: won", marker_color="#2ca02c",
                         text=[_num(r["roc_auc_won"], 3) for r in auc], textposition="outside"))
    fig.add_hline(y=0.5, line_dash="dot", line_color="grey", annotation_text="no skill (0.5)")
    fig.update_yaxes(range=[0, 1.05], title_text="ROC AUC")
    return _layout(fig, "How well each score ranks converting leads (ROC AUC)")


THRESHOLD_MEASURES = (
    ("converted leads at or above", "converted_share_at"),
    ("MQL rate (share of leads)", "mql_rate_at"),
    ("conversion rate above", "conversion_rate_above"),
)


def threshold_figure(threshold: Mapping[str, Any]) -> go.Figure:
    """Configured vs suggested MQL threshold: share of converters captured, MQL rate, conversion above."""
    fig = go.Figure()
    for which, colour in (("configured", "#d62728"), ("suggested", "#ff7f0e")):
        value = threshold.get(f"{which}_mql_threshold")
        ys = [threshold.get(f"{prefix}_{which}") for _, prefix in THRESHOLD_MEASURES]
        fig.add_trace(go.Bar(x=[m for m, _ in THRESHOLD_MEASURES], y=ys, marker_color=colour,
                             name=f"{which} threshold {_num(value, 1)}", text=[_pct(y) for y in ys],
                             textposition="outside"))
    fig.update_yaxes(tickformat=".0%", range=[0, 1.1], title_text="share")
    return _layout(fig, "MQL threshold: configured vs suggested")


def drift_percentiles_figure(runs: Sequence[DriftRun]) -> go.Figure:
    """Per score, the 10th-90th percentile band, the quartiles and the median of every recorded run."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=[SCORE_TITLES[s] for s in SCORES], shared_yaxes=True)
    labels = [r.label for r in runs]
    for col, score in enumerate(SCORES, start=1):
        for p, dash in ((10, "dot"), (25, "dash"), (50, "solid"), (75, "dash"), (90, "dot")):
            ys = [r.percentiles.get(score, {}).get(p) for r in runs]
            fig.add_trace(go.Scatter(x=labels, y=ys, mode="lines+markers", name=f"p{p}", legendgroup=f"p{p}",
                                     showlegend=col == 1, line={"dash": dash, "color": COLORS[score]},
                                     hovertemplate=f"%{{x}}: p{p} = %{{y:.1f}}<extra></extra>"), row=1, col=col)
        fig.update_xaxes(type="category", tickangle=-30, row=1, col=col)
    fig.update_yaxes(range=[0, 100], title_text="score", row=1, col=1)
    _layout(fig, "Score percentiles per scoring run", height=480)
    fig.update_layout(legend={"y": -0.45}, margin={"b": 120})  # below the tilted run labels
    return fig


def drift_psi_figure(runs: Sequence[DriftRun]) -> go.Figure:
    """PSI of every monitored distribution against the previous run, with the warning and error lines."""
    later = [r for r in runs if r.psi]
    fig = go.Figure()
    for metric in PSI_METRICS:
        fig.add_trace(go.Scatter(x=[r.label for r in later], y=[r.psi.get(metric) for r in later],
                                 mode="lines+markers", name=metric,
                                 hovertemplate=f"%{{x}}: PSI {metric} %{{y:.4f}}<extra></extra>"))
    fig.add_hline(y=PSI_WARN, line_dash="dash", line_color="#ff7f0e", annotation_text=f"warn {PSI_WARN}")
    fig.add_hline(y=PSI_ERROR, line_dash="dash", line_color="#d62728", annotation_text=f"error {PSI_ERROR}")
    fig.update_xaxes(type="category")
    fig.update_yaxes(title_text="PSI vs previous run", rangemode="tozero")
    return _layout(fig, "Distribution drift: PSI against the previous run")


def channel_source_figure(totals: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Per lead source: MQL, conversion and win rates (bars) and the mean lead score (markers, right axis)."""
    sources = [esc(r["lead_source"]) for r in totals]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for key, name, colour in (("mql_rate", "MQL rate", "#9467bd"), ("conversion_rate", "conversion rate", "#1f77b4"),
                              ("win_rate", "win rate", "#2ca02c")):
        fig.add_trace(go.Bar(x=sources, y=[r[key] for r in totals], name=name, marker_color=colour,
                             customdata=[r["leads"] for r in totals],
                             hovertemplate=f"%{{x}}: {name} %{{y:.1%}} of %{{customdata}} leads<extra></extra>"),
                      secondary_y=False)
    fig.add_trace(go.Scatter(x=sources, y=[r["mean_lead_score"] for r in totals], name="mean lead score",
                             mode="markers", marker={"size": 11, "color": "#d62728", "symbol": "diamond"},
                             hovertemplate="%{x}: mean lead score %{y:.1f}<extra></extra>"), secondary_y=True)
    fig.update_yaxes(title_text="rate", tickformat=".0%", secondary_y=False)
    fig.update_yaxes(title_text="mean lead score", range=[0, 100], secondary_y=True, showgrid=False)
    fig.update_xaxes(type="category", title_text="lead source")
    return _layout(fig, "Channel quality by lead source (all months)")


def channel_month_figure(channel: Sequence[Mapping[str, Any]], totals: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Heat map lead source x created month: mean lead score (colour) with the lead count and MQL rate."""
    sources = [r["lead_source"] for r in totals]  # biggest channel first
    months = sorted({_month(r["created_month"]) for r in channel})
    cells = {(r["lead_source"], _month(r["created_month"])): r for r in channel}
    z, text = [], []
    for s in sources:
        z.append([cells[(s, m)]["mean_lead_score"] if (s, m) in cells else None for m in months])
        text.append([f"{cells[(s, m)]['leads']} leads<br>MQL {_pct(cells[(s, m)]['mql_rate'], 0)}"
                     if (s, m) in cells else "" for m in months])
    fig = go.Figure(go.Heatmap(z=z, x=months, y=[esc(s) for s in sources], text=text, texttemplate="%{text}",
                               colorscale="Viridis", zmin=0, zmax=100, colorbar={"title": "mean lead score"},
                               hovertemplate="%{y}, %{x}: mean lead score %{z:.1f}<br>%{text}<extra></extra>"))
    fig.update_xaxes(type="category", title_text="created month")
    fig.update_yaxes(type="category", autorange="reversed")
    return _layout(fig, "Channel quality by month: mean lead score, leads and MQL rate",
                   height=max(360, 60 + 48 * len(sources)))


FUNNEL_COLORS = ("#1f77b4", "#9467bd", "#17becf", "#ff7f0e", "#2ca02c")


def funnel_figure(steps: Sequence[Mapping[str, Any]], returned_leads: int | None = None) -> go.Figure:
    """The funnel lead -> MQL -> accepted -> opportunity -> won: leads per stage with the rate from the stage
    before; returned leads (not a stage) in the title."""
    text = [f"{s['leads']:,}" + ("" if s["rate_from_previous"] is None else
                                 f" ({_pct(s['rate_from_previous'])} of {prev['stage']})")
            for s, prev in zip(steps, [steps[0], *steps])]
    fig = go.Figure(go.Funnel(y=[s["stage"] for s in steps], x=[s["leads"] for s in steps], text=text,
                              textinfo="text", textposition="auto", marker={"color": list(FUNNEL_COLORS)},
                              customdata=[_pct(s["share_of_leads"]) for s in steps],
                              hovertemplate="%{y}: %{x:,} leads (%{customdata} of all leads)<extra></extra>"))
    title = "Lead funnel: leads per stage and conversion from the stage before"
    if returned_leads is not None:
        title += f" (returned by sales as not ready: {returned_leads:,})"
    return _layout(fig, title, height=380)


def funnel_channel_figure(groups: Sequence[Mapping[str, Any]], key: str = "lead_source") -> go.Figure:
    """Stage-to-stage conversion rates per group (lead source or matrix cell), one bar per transition."""
    names = [esc(g[key]) for g in groups]
    fig = go.Figure()
    for (name, label), colour in zip(FUNNEL_TRANSITIONS, FUNNEL_COLORS[1:]):
        fig.add_trace(go.Bar(x=names, y=[g[f"{name}_rate"] for g in groups], name=label, marker_color=colour,
                             hovertemplate=f"%{{x}}: {label} %{{y:.1%}}<extra></extra>"))
    fig.update_yaxes(title_text="conversion from the stage before", tickformat=".0%", range=[0, 1.05])
    fig.update_xaxes(type="category", title_text=key.replace("_", " "))
    return _layout(fig, "Funnel conversion by " + key.replace("_", " "))


def owners_figure(owners: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Per owner: open MQLs (bars, left axis), SLA breach rate and opportunity rate (markers, right axis)."""
    names = [esc(o["owner_name"] if o["owner_name"] is not None else o["owner_id"]) for o in owners]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=names, y=[o["open_mqls"] for o in owners], name="open MQLs", marker_color="#1f77b4",
                         hovertemplate="%{x}: %{y} open MQLs<extra></extra>"), secondary_y=False)
    for key, label, colour, symbol in (("sla_breach_rate", "SLA breach rate", "#d62728", "x"),
                                       ("opportunity_rate", "opportunity rate", "#2ca02c", "diamond")):
        fig.add_trace(go.Scatter(x=names, y=[o[key] for o in owners], name=label, mode="markers",
                                 marker={"size": 12, "color": colour, "symbol": symbol},
                                 hovertemplate=f"%{{x}}: {label} %{{y:.1%}}<extra></extra>"), secondary_y=True)
    fig.update_yaxes(title_text="open MQLs", rangemode="tozero", secondary_y=False)
    fig.update_yaxes(title_text="rate", tickformat=".0%", range=[0, 1.05], secondary_y=True, showgrid=False)
    fig.update_xaxes(type="category", title_text="owner")
    return _layout(fig, "Owners: open MQLs, SLA breach rate and opportunity rate")


def sla_figure(sla: Mapping[str, Any]) -> go.Figure:
    """The overall SLA breach rate (bar) against its warn and error limits (lines)."""
    rate = sla.get("breach_rate")
    fig = go.Figure(go.Bar(x=[rate], y=["breach rate"], orientation="h", marker_color="#9467bd",
                           text=[f"{_pct(rate)} ({_num(sla.get('breached_assignments'))} of "
                                 f"{_num(sla.get('resolved_assignments'))} resolved)"], textposition="auto",
                           hovertemplate="breach rate %{x:.1%}<extra></extra>"))
    for key, label, colour in (("breach_rate_warn_limit", "warn", "#ff7f0e"),
                               ("breach_rate_error_limit", "error", "#d62728")):
        if sla.get(key) is not None:
            fig.add_vline(x=float(sla[key]), line_dash="dash", line_color=colour,
                          annotation_text=f"{label} {_pct(sla[key])}", annotation_position="top")
    limits = [float(sla[k]) for k in ("breach_rate_warn_limit", "breach_rate_error_limit") if sla.get(k) is not None]
    fig.update_xaxes(tickformat=".0%", range=[0, max([0.1, float(rate or 0), *limits]) * 1.15],
                     title_text="assignments that breached their SLA (of those resolved)")
    return _layout(fig, f"SLA breach rate: {sla_status(sla)}", height=260)


def rule_health_figure(rules: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Share of scored leads each rule fires on, one bar per rule in the given order (most frequent first);
    flagged rules in red."""
    names = [esc(r["rule_id"]) for r in rules]
    fig = go.Figure(go.Bar(
        x=names, y=[r["fired_share"] for r in rules],
        marker_color=["#d62728" if r["health_issue"] is not None else "#1f77b4" for r in rules],
        customdata=[[esc(rule_kind(r)), _num(r["fired_leads"]),
                     esc(HEALTH_ISSUE_LABELS.get(r["health_issue"], r["health_issue"]) or "")] for r in rules],
        hovertemplate="%{x} (%{customdata[0]}): fires on %{y:.2%} of scored leads (%{customdata[1]} leads)"
                      "<br>%{customdata[2]}<extra></extra>"))
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05], title_text="share of scored leads")
    fig.update_xaxes(type="category", tickangle=-60, tickfont={"size": 10})
    _layout(fig, "Rule health: share of scored leads each rule fires on (flagged in red)", height=480)
    fig.update_layout(margin={"b": 150})  # room for the tilted rule ids
    return fig


# ------------------------------------------------------------------------------------------------
# Page
# ------------------------------------------------------------------------------------------------
CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 0; color: #222;
       background: #f6f7f9; }
header { background: #1f2d3d; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 6px 0; font-size: 24px; }
header .meta { font-size: 13px; opacity: .85; }
main { padding: 16px 28px 40px; max-width: 1400px; }
section { background: #fff; border: 1px solid #e3e6ea; border-radius: 6px; padding: 12px 16px; margin: 14px 0; }
section h2 { font-size: 18px; margin: 4px 0 8px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { background: #fff; border: 1px solid #e3e6ea; border-radius: 6px; padding: 10px 14px; min-width: 150px; }
.card .v { font-size: 22px; font-weight: 600; }
.card .l { font-size: 12px; color: #666; }
.note { background: #fff8e1; border-left: 4px solid #f0ad4e; padding: 10px 12px; margin: 8px 0; }
table { border-collapse: collapse; font-size: 13px; margin-top: 8px; }
th, td { border-bottom: 1px solid #e3e6ea; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
"""

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


@dataclass
class Page:
    html: str
    charts: list[str]  # ids of the chart divs, in page order


def _card(label: str, value: str) -> str:
    return f'<div class="card"><div class="v">{value}</div><div class="l">{label}</div></div>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _note(text: str) -> str:
    return f'<p class="note">{text}</p>'


MQL_MOMENT_NOTE = ("Hours from lead to MQL and from MQL to accepted are empty: no MQL moment has been observed yet. "
                   "Every MQL was one already at its first scoring run, so when it crossed the threshold is unknown "
                   "(docs/sales_touches.md); these fill once the score history sees leads cross between two runs.")


ChartFn = Callable[[str, go.Figure], str]
SectionFn = Callable[..., None]


def _funnel_section(data: ReportData, chart: ChartFn, section: SectionFn) -> None:
    """The "Lead funnel" section: the funnel, conversion by lead source, hours between stages."""
    title = "Lead funnel"
    if data.funnel is None:
        section(title, _note("marts.lead_funnel is not in the warehouse: the funnel appears once the funnel marts "
                             "are built."))
        return
    if not data.funnel:
        section(title, _note("marts.lead_funnel has no rows for this model."))
        return
    totals = funnel_totals(data.funnel)
    steps = funnel_steps(totals)
    returned = totals["returned_leads"]
    parts = [chart("chart-funnel", funnel_figure(steps, returned)),
             f'<p id="funnel-returned">Returned by sales as not ready (back to nurturing): <b>{returned:,}</b> '
             f'{"MQL" if returned == 1 else "MQLs"} ({_pct(_ratio(returned, totals["mql_leads"]))} of MQLs). A return is not a funnel stage; a '
             "lead counts at a stage only when it reached every stage before it, in order.</p>",
             _table(["stage", "leads", "conversion from the stage before", "share of all leads"],
                    [[s["stage"], _num(s["leads"]), _pct(s["rate_from_previous"]), _pct(s["share_of_leads"])]
                     for s in steps])]
    by_source = funnel_by(data.funnel, "lead_source")
    parts.append(chart("chart-funnel-by-channel", funnel_channel_figure(by_source, "lead_source")))
    parts.append(_table(
        ["lead source", "leads", "MQL", "accepted", "opportunity", "won", "returned",
         *FUNNEL_RATE_NAMES, "lead to won"],
        [[esc(g["lead_source"]), *(_num(g[c]) for c in FUNNEL_COUNTS),
          *(_pct(g[f"{name}_rate"]) for name, _ in FUNNEL_TRANSITIONS), _pct(g["lead_to_won_rate"])]
         for g in by_source]))
    if data.funnel_hours is None:
        parts.append(_note("marts.lead_funnel_stages is not in the warehouse: the hours between stages "
                           "are not shown."))
    else:
        durations = funnel_durations(data.funnel_hours)
        parts.append("<h3>Hours between stages (all leads of the model)</h3>")
        parts.append(_table(["from stage to stage", "leads with both", "median hours", "90th percentile hours"],
                            [[d["label"], _num(d["leads"]), _num(d["median_hours"]), _num(d["p90_hours"])]
                             for d in durations]))
        if any(d["median_hours"] is None for d in durations[:2]):
            parts.append(_note(MQL_MOMENT_NOTE))
    section(title, *parts)


def _owner_section(data: ReportData, chart: ChartFn, section: SectionFn) -> None:
    """The "Owners and SLA" section: the overall breach rate against its limits, and per owner."""
    title = "Owners and SLA"
    if data.owners is None and data.sla is None:
        section(title, _note(SLA_MARTS_NOTE))
        return
    parts = []
    if data.sla is None:
        parts.append(_note("marts.routing_sla_breach_rate is not in the warehouse."))
    elif not data.sla:
        parts.append(_note("marts.routing_sla_breach_rate has no row for this model."))
    else:
        sla = data.sla[0]
        parts.append(chart("chart-sla-breach-rate", sla_figure(sla)))
        parts.append(
            f'<p id="sla-summary">Breach rate <b>{_pct(sla["breach_rate"])}</b> ({_num(sla["breached_assignments"])} '
            f'of {_num(sla["resolved_assignments"])} resolved assignments, window {esc(sla["window_start_at"])} to '
            f'{esc(sla["window_end_at"])} UTC): <b>{esc(sla_status(sla))}</b> against the warn limit '
            f'{_pct(sla["breach_rate_warn_limit"])} and the error limit {_pct(sla["breach_rate_error_limit"])} '
            f'(judged from {_num(sla["min_resolved_assignments"])} resolved assignments).</p>')
    if data.owners is None:
        parts.append(_note("marts.owner_performance is not in the warehouse."))
    elif not data.owners:
        parts.append(_note("marts.owner_performance has no rows for this model."))
    else:
        owners = owners_ordered(data.owners)
        parts.append(chart("chart-owners", owners_figure(owners)))
        parts.append(_table(
            ["owner", "owner id", "active", "open MQLs", "assignments", "resolved", "breached", "breach rate",
             "median hours to first touch", "owned leads", "opportunity leads", "won leads", "opportunity rate",
             "win rate", "returned"],
            [[esc(o["owner_name"]), esc(o["owner_id"]), "yes" if o["is_active"] else "no", _num(o["open_mqls"]),
              _num(o["assignments"]), _num(o["resolved_assignments"]), _num(o["breached_assignments"]),
              _pct(o["sla_breach_rate"]), _num(o["median_hours_to_first_touch"]), _num(o["owned_leads"]),
              _num(o["opportunity_leads"]), _num(o["won_leads"]), _pct(o["opportunity_rate"]), _pct(o["win_rate"]),
              _num(o["returned_leads"])] for o in owners]))
    section(title, *parts)


def _rule_health_section(data: ReportData, chart: ChartFn, section: SectionFn) -> None:
    """The "Rule health" section: the flagged issues with their fix (or a plain no-issue line), the rules by
    fired share (chart and table) and the most common grade and level."""
    title = "Rule health"
    if data.rule_health is None and data.band_health is None:
        section(title, _note(RULE_HEALTH_NOTE))
        return
    parts = []
    issues = health_issues(data.rule_health, data.band_health)
    if issues:
        items = "".join(
            f'<li class="health-issue" data-kind="{i["kind"]}" data-id="{esc(i["id"])}"><b>{esc(i["id"])}</b> '
            f'({esc(i["where"])}): {esc(HEALTH_ISSUE_LABELS.get(i["issue"], i["issue"]))}, '
            f'{_pct(i["share"], 2)} of scored leads. {esc(i["fix"])}</li>' for i in issues)
        noun = "issue" if len(issues) == 1 else "issues"
        parts.append(f'<p>{len(issues)} {noun} flagged (a warning, not an error: read the fix, then change the rule '
                     f'or accept the warning):</p><ul id="rule-health-issues">{items}</ul>')
    elif data.rule_health is not None and data.band_health is not None:
        parts.append(f'<p id="rule-health-ok">{NO_RULE_OR_BAND_ISSUE}: every rule fires on some leads but not on '
                     'almost all of them, and no grade or level holds almost every lead.</p>')
    else:
        checked = "rule" if data.rule_health is not None else "band"
        parts.append(f'<p id="rule-health-ok">No {checked} issue.</p>')
    if data.rule_health is None:
        parts.append(_note(f"{RULE_HEALTH_TABLE} is not in the warehouse: the rules are not shown."))
    elif not data.rule_health:
        parts.append(_note(f"{RULE_HEALTH_TABLE} has no rows for this model."))
    else:
        rules = rules_by_fired_share(data.rule_health)
        parts.append(chart("chart-rule-health", rule_health_figure(rules)))
        parts.append(_table(
            ["rule", "axis / kind", "fired share", "leads fired on", "conversion with", "conversion without", "lift",
             "issue"],
            [[esc(r["rule_id"]), esc(rule_kind(r)), _pct(r["fired_share"], 2), _num(r["fired_leads"]),
              _pct(r["conversion_rate_with"]), _pct(r["conversion_rate_without"]), _num(r["conversion_lift"], 2),
              esc(HEALTH_ISSUE_LABELS.get(r["health_issue"], r["health_issue"])) if r["health_issue"] else ""]
             for r in rules]))
        parts.append("<p>Fired share: the share of the model's scored leads (overrides excluded) the rule gives "
                     "points to. Conversion with and without: the share of those leads, and of the others, that "
                     "converted (empty when no lead of the model converted); lift = with / without.</p>")
    if data.band_health is None:
        parts.append(_note(f"{BAND_HEALTH_TABLE} is not in the warehouse: the grade and level shares are not "
                           "shown."))
    elif data.band_health:
        parts.append(_table(
            ["axis", "most common band", "leads in it", "share of scored leads", "bands holding leads", "issue"],
            [[esc(BAND_AXIS_LABELS.get(b["axis"], b["axis"])), esc(b["top_band"]), _num(b["top_band_leads"]),
              _pct(b["top_band_share"]), _num(b["band_count"]),
              esc(HEALTH_ISSUE_LABELS.get(b["health_issue"], b["health_issue"])) if b["health_issue"] else ""]
             for b in data.band_health]))
    section(title, *parts)


def _preview_section(p: Mapping[str, Any], chart: ChartFn, section: SectionFn) -> None:
    """The "Rule-change preview" section, from preview.json (lead_scoring.preview): what the candidate seeds
    would change - movers, MQL volume, grade transitions, rule changes, backtest before and after, a sample."""
    s = p["scores"]
    cards = "".join([
        _card("leads moving grade, level, cell or stage", f"{len(s['movers']):,} of {s['leads_compared']:,}"),
        _card("MQLs: current / candidate", f"{s['mql_before']:,} / {s['mql_after']:,}"),
        _card("rule, band or threshold changes", f"{len(p['rule_changes']):,}"),
    ])
    parts = [_note(f"Candidate seeds {esc(p['seeds_dir'])} ({esc(', '.join(p['seed_files']))}) scored in a scratch "
                   f"copy at {esc(p['as_of'])} UTC beside the current scores; nothing in production changed."),
             f'<div class="cards">{cards}</div>']
    grades = [t for t in s["transitions"]["fit_grade"]]
    labels = sorted({t["from"] for t in grades} | {t["to"] for t in grades})
    z = [[sum(t["leads"] for t in grades if t["from"] == a and t["to"] == b) for b in labels] for a in labels]
    fig = go.Figure(go.Heatmap(z=z, x=[esc(v) for v in labels], y=[esc(v) for v in labels], colorscale="Blues",
                               text=z, texttemplate="%{text}", hovertemplate="%{y} -> %{x}: %{z} leads<extra></extra>"))
    fig.update_xaxes(title="candidate grade")
    fig.update_yaxes(title="current grade", autorange="reversed")
    parts.append(chart("chart-preview-grade-transitions", _layout(fig, "Fit grade: current -> candidate", 380)))
    stage = [[esc(t["from"]), esc(t["to"]), f"{t['leads']:,}"] for t in s["transitions"]["lifecycle_stage"]
             if t["from"] != t["to"]]
    if stage:
        parts.append(_table(["current stage", "candidate stage", "leads"], stage))
    changes = [[esc(c["seed"]), esc(", ".join(f"{k}={v}" for k, v in c["key"].items())), esc(c["change"]),
                esc("; ".join(f"{k}: {o} -> {n}" for k, (o, n) in c["columns"].items()))] for c in p["rule_changes"]]
    parts.append(_table(["seed", "key", "change", "current -> candidate"], changes) if changes
                 else _note("No rule, band or threshold differs from the project's seeds."))
    if p.get("backtest"):
        b = p["backtest"]
        rows = []
        for rs in b["rule_sets"]:
            m = rs["metrics"]
            mql = m["top_segments"]["MQL"]
            rows.append([esc(rs["name"]), f"{m['leads']:,}", f"{m['conversions']:,}", _num(m["roc_auc"], 3),
                         _num(m["top_decile_lift"], 2), _pct(mql["share_of_leads"]), _pct(mql["capture"])])
        parts.append(_note(f"Backtest: both rule sets replayed at the cut-off {esc(b['cutoff'])} UTC; converted = "
                           f"first opportunity after it and by {esc(b['as_of'])}."))
        parts.append(_table(["rule set", "leads", "conversions", "ROC AUC", "top-decile lift", "MQL share",
                             "MQL capture"], rows))
    sample = [[esc(m["lead_id"]), f"{m['old']['lead_score']:.1f} -> {m['new']['lead_score']:.1f}",
               esc(f"{m['old']['matrix_cell']} -> {m['new']['matrix_cell']}"),
               esc(f"{m['old']['lifecycle_stage']} -> {m['new']['lifecycle_stage']}"),
               esc("; ".join(m["old_reasons"])), esc("; ".join(m["new_reasons"]))] for m in p["sample"]]
    if sample:
        parts.append(_table(["lead", "lead score", "cell", "stage", "top reasons now", "top reasons with the candidate"],
                            sample))
    section("Rule-change preview", *parts)


def render_report(data: ReportData) -> Page:
    """The HTML page (plotly.js inline) and the ids of its charts."""
    charts: list[str] = []
    sections: list[str] = []

    def chart(chart_id: str, fig: go.Figure) -> str:
        charts.append(chart_id)
        div = pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=chart_id, config=PLOTLY_CONFIG)
        return f'<div class="chart" data-chart="{chart_id}">{div}</div>'

    def section(title: str, *parts: str) -> None:
        sections.append(f"<section><h2>{title}</h2>{''.join(parts)}</section>")

    ov, thr = data.overview, data.threshold or {}
    auc_lead = next((r for r in data.auc or () if r["score_name"] == "lead_score"), None)
    cal_total = calibration_dimension(data.calibration, "lead_score_band")
    converted = sum(int(r["converted_leads"] or 0) for r in cal_total) if cal_total else None
    calibrated = sum(int(r["leads"] or 0) for r in cal_total)  # the calibration population (not excluded)
    cards = [
        _card("leads scored", _num(int(ov["leads"]))),
        _card("MQLs", f"{_num(int(ov['mql_leads']))} ({_pct(ov['mql_leads'] / ov['leads'])})"),
        _card("mean lead score", _num(ov["mean_lead_score"])),
        _card("mean fit / engagement", f"{_num(ov['mean_fit_score'])} / {_num(ov['mean_engagement_score'])}"),
    ]
    if converted is not None:
        cards.append(_card("converted leads", f"{converted:,} ({_pct(converted / calibrated if calibrated else None)})"))
    if auc_lead is not None:
        cards.append(_card("lead score ROC AUC", _num(auc_lead["roc_auc"], 3)))
    if thr:
        cards.append(_card("MQL threshold: configured / suggested",
                           f"{_num(thr.get('configured_mql_threshold'))} / {_num(thr.get('suggested_mql_threshold'))}"))
    sections.append(f'<div class="cards" id="headline">{"".join(cards)}</div>')

    thresholds = {"configured": thr.get("configured_mql_threshold"), "suggested": thr.get("suggested_mql_threshold")}
    section("Score distributions", chart("chart-score-distributions", distributions_figure(data.histograms,
                                                                                          thresholds)))
    missing_cal = _note("marts.score_calibration is not in the warehouse: conversion by band, decile and cell "
                        "appears once the calibration marts are built.")
    section("Fit x engagement matrix", chart("chart-matrix", matrix_figure(data.matrix, data.calibration)))

    if data.calibration is not None:
        bands = calibration_dimension(data.calibration, "lead_score_band")
        deciles = calibration_dimension(data.calibration, "lead_score_decile")
        parts = []
        if bands:
            parts.append(chart("chart-conversion-by-band",
                               conversion_figure(bands, "Conversion and lift by lead-score band", "lead score band")))
        if deciles:
            parts.append(chart("chart-conversion-by-decile",
                               conversion_figure(deciles, "Conversion and lift by lead-score decile (D10 = top)",
                                                 "lead score decile")))
        population = ("<p>Conversion figures count the leads that are not excluded by an override; converted = "
                      "the lead has an opportunity, won = one of its opportunities is won.</p>")
        section("Conversion by score", *(parts or [_note("No calibration rows for this model.")]), population)
    else:
        section("Conversion by score", missing_cal)

    if data.auc:
        section("Ranking quality", chart("chart-auc", auc_figure(data.auc)))
    else:
        section("Ranking quality", _note("marts.score_auc is not in the warehouse (or has no rows for this model)."))

    if thr:
        rows = [[label, _pct(thr.get(f"{prefix}_configured")), _pct(thr.get(f"{prefix}_suggested"))]
                for label, prefix in THRESHOLD_MEASURES]
        rows.insert(0, ["threshold", _num(thr.get("configured_mql_threshold")),
                        _num(thr.get("suggested_mql_threshold"))])
        explain = (f"<p>The suggested threshold keeps {_pct(thr.get('target_converted_share'), 0)} of the converted "
                   f"leads at or above it; the lowest score of a converted lead is "
                   f"{_num(thr.get('lowest_converted_score'))}.</p>")
        section("MQL threshold", chart("chart-mql-threshold", threshold_figure(thr)), explain,
                _table(["", "configured", "suggested"], rows))
    else:
        section("MQL threshold", _note("marts.mql_threshold_calibration is not in the warehouse (or has no row "
                                       "for this model)."))

    _rule_health_section(data, chart, section)

    runs = drift_runs(data.history or [], data.quantiles or [])
    if not runs:
        section("Score drift over runs", _note(NO_RUNS_NOTE))
    else:
        run_rows = [[esc(r.label), esc(r.run_id), esc(r.ruleset_version), _num(r.lead_count), _pct(r.mql_rate),
                     _num(r.psi.get("lead_score"), 4) if r.psi else "first run"] for r in runs]
        parts = [chart("chart-drift-percentiles", drift_percentiles_figure(runs))]
        if len(runs) > 1:
            parts.append(chart("chart-drift-psi", drift_psi_figure(runs)))
        else:
            parts.append(_note("Only one run recorded: PSI needs a previous run to compare with."))
        parts.append(_table(["run", "run id", "rule-set version", "leads", "MQL rate", "PSI lead score"], run_rows))
        section("Score drift over runs", *parts)

    if data.channel:
        totals = channel_by_source(data.channel)
        rows = [[esc(r["lead_source"]), _num(r["leads"]), _num(r["mean_lead_score"]), _pct(r["mql_rate"]),
                 _pct(r["conversion_rate"]), _pct(r["win_rate"]), _num(r["won_amount"], 0)] for r in totals]
        section("Channel quality", chart("chart-channel-by-source", channel_source_figure(totals)),
                chart("chart-channel-by-month", channel_month_figure(data.channel, totals)),
                _table(["lead source", "leads", "mean lead score", "MQL rate", "conversion rate", "win rate",
                        "won amount"], rows))
    else:
        section("Channel quality", _note("marts.channel_quality is not in the warehouse (or has no rows for this "
                                         "model)."))

    _funnel_section(data, chart, section)
    _owner_section(data, chart, section)

    if data.preview is not None:
        _preview_section(data.preview, chart, section)

    as_of = ov["as_of"]
    meta = (f"model <b>{esc(data.model_id)}</b> &middot; scored as of <b>{esc(as_of)} UTC</b> &middot; rule-set "
            f"version <b>{esc(ov['ruleset_version'])}</b> &middot; report generated "
            f"{esc(format_as_of(data.generated_at))} UTC")
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="chart-count" content="{len(charts)}">
<title>Lead scoring report - {esc(data.model_id)} - {esc(as_of)}</title>
<style>{CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head>
<body data-chart-count="{len(charts)}">
<header><h1>Lead scoring report</h1><div class="meta">{meta}</div></header>
<main>
{"".join(sections)}
</main>
</body>
</html>
"""
    return Page(html=page, charts=charts)


def write_report(con, out: str | Path, model_id: str | None = None, generated_at: datetime | None = None,
                 preview: Mapping[str, Any] | None = None) -> tuple[Path, Page, ReportData]:
    """Load, render and write the page to `out` (parent directories created); `preview`: a preview.json's
    contents, rendered as the "Rule-change preview" section."""
    data = load_report_data(con, model_id)
    data.preview = dict(preview) if preview is not None else None
    if generated_at is not None:
        data.generated_at = generated_at
    page = render_report(data)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page.html, encoding="utf-8")
    return path, page, data


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `lead-scoring report` (and `python -m lead_scoring.report`)."""
    parser.add_argument("--database", default="", help="the DuckDB file dbt built (default: env "
                                                       "LEAD_SCORING_DUCKDB_PATH or warehouse/lead_scoring.duckdb)")
    parser.add_argument("--target", default="", help="the warehouse engine, as the dbt target: duckdb, postgres or "
                                                     "spark (default: env LEAD_SCORING_TARGET, else duckdb)")
    parser.add_argument("--out", default="warehouse/scoring_report.html", help="the HTML file to write")
    parser.add_argument("--model", default=None, help="scoring model id (default: 'default' or the first)")
    parser.add_argument("--preview", default=None, help="a preview.json of `lead-scoring preview`: adds its section")


def run(args: argparse.Namespace) -> int:
    try:
        warehouse = Warehouse(args.database, resolve_target(args.target))
    except ValueError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 1
    if not warehouse.exists():
        print(f"report: {warehouse.resolved_path()} does not exist: build the warehouse first (make build)",
              file=sys.stderr)
        return 1
    try:
        with warehouse.open(read_only=True) as db:
            preview = json.loads(Path(args.preview).read_text(encoding="utf-8")) if args.preview else None
            path, page, _ = write_report(db, args.out, args.model, preview=preview)
    except (ReportError, duckdb.Error, OSError, ValueError) as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 1
    print(f"report: wrote {path} ({len(page.charts)} charts, {path.stat().st_size / 1e6:.1f} MB)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the lead-scoring HTML report of a DuckDB warehouse.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
