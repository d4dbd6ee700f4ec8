"""The scoring report: one self-contained HTML page (plotly, embedded inline, works offline).

    python -m orchestration.report --database PATH --out FILE.html [--model default]

It reads, read-only, from the DuckDB warehouse:

- ``marts.lead_scores``: headline figures, score distributions, the 4x4 grade x level matrix;
- ``marts.score_calibration``, ``marts.score_auc``, ``marts.mql_threshold_calibration``: conversion and lift
  by lead-score band and decile, conversion per matrix cell, AUC per score, configured vs suggested MQL
  threshold;
- ``marts.channel_quality``: leads, mean score, MQL, conversion and win rates by lead source and month;
- ``monitoring.score_distribution_history`` and ``monitoring.score_quantiles`` (written by
  ``orchestration.monitoring``): percentiles, lead count, MQL rate and PSI against the previous run, per run.

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
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import duckdb
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from orchestration.monitoring import HISTORY_TABLE, LEAD_COUNT, MQL_RATE, PSI_METRICS, QUANTILES_TABLE, psi

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
    generated_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc).replace(tzinfo=None))


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


def load_report_data(con, model_id: str | None = None) -> ReportData:
    """Everything the page shows, for one scoring model (default: 'default', else the first model)."""
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
        stamp = recorded_at.strftime("%Y-%m-%d %H:%M") if hasattr(recorded_at, "strftime") else str(recorded_at)
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


def _month(value: Any) -> str:
    return value.strftime("%Y-%m") if hasattr(value, "strftime") else str(value)[:7]


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

    as_of = ov["as_of"]
    meta = (f"model <b>{esc(data.model_id)}</b> &middot; scored as of <b>{esc(as_of)} UTC</b> &middot; rule-set "
            f"version <b>{esc(ov['ruleset_version'])}</b> &middot; report generated "
            f"{esc(data.generated_at.strftime('%Y-%m-%d %H:%M:%S'))} UTC")
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


def write_report(con, out: str | Path, model_id: str | None = None,
                 generated_at: datetime | None = None) -> tuple[Path, Page, ReportData]:
    """Load, render and write the page to `out` (parent directories created)."""
    data = load_report_data(con, model_id)
    if generated_at is not None:
        data.generated_at = generated_at
    page = render_report(data)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page.html, encoding="utf-8")
    return path, page, data


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the lead-scoring HTML report of a DuckDB warehouse.")
    parser.add_argument("--database", required=True, help="the DuckDB file dbt built")
    parser.add_argument("--out", default="warehouse/scoring_report.html", help="the HTML file to write")
    parser.add_argument("--model", default=None, help="scoring model id (default: 'default' or the first)")
    args = parser.parse_args(argv)
    if not Path(args.database).exists():
        print(f"report: {args.database} does not exist: build the warehouse first (make build)", file=sys.stderr)
        return 1
    con = duckdb.connect(args.database, read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        path, page, _ = write_report(con, args.out, args.model)
    except (ReportError, duckdb.Error) as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()
    print(f"report: wrote {path} ({len(page.charts)} charts, {path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
