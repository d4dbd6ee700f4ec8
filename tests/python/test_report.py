"""The scoring report (lead_scoring/report.py): chart data against independent computations, escaping, the
empty drift history, the rule-health section, the CLI, the Dagster asset, and the page rendered in headless Chromium
(screenshot saved to test-artifacts/scoring_report.png)."""
from __future__ import annotations

import math
import re
import shutil
import struct
import subprocess
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from conftest import PROJECT_ROOT, query
from lead_scoring import monitoring as mon
from orchestration.defs import resources as dres
from lead_scoring import report
from orchestration.defs.reporting.assets import ReportConfig, scoring_report

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
HOSTILE = "<script>alert(1)</script>"
ALL_CHARTS = ["chart-score-distributions", "chart-matrix", "chart-conversion-by-band", "chart-conversion-by-decile",
              "chart-auc", "chart-mql-threshold", "chart-rule-health", "chart-drift-percentiles", "chart-drift-psi",
              "chart-channel-by-source", "chart-channel-by-month", "chart-funnel", "chart-funnel-by-channel"]
SLA_CHARTS = ["chart-sla-breach-rate", "chart-owners"]  # when the SLA marts are in the warehouse
MODEL = "default"
REPORTED_MARTS = ("lead_scores", "score_calibration", "score_auc", "mql_threshold_calibration", "channel_quality",
                  "lead_funnel", "scoring_rule_health", "scoring_band_health")
SLA_MARTS = ("owner_performance", "routing_sla_breach_rate")
OWNER_COLUMNS = {  # marts.owner_performance, as the SLA work defines it
    "model_id": "varchar", "owner_id": "varchar", "owner_name": "varchar", "is_active": "boolean",
    "open_mqls": "integer", "assignments": "integer", "resolved_assignments": "integer",
    "breached_assignments": "integer", "sla_breach_rate": "double", "median_hours_to_first_touch": "double",
    "owned_leads": "integer", "opportunity_leads": "integer", "won_leads": "integer", "opportunity_rate": "double",
    "win_rate": "double", "returned_leads": "integer"}
SLA_COLUMNS = {  # marts.routing_sla_breach_rate
    "model_id": "varchar", "window_start_at": "timestamp", "window_end_at": "timestamp",
    "resolved_assignments": "integer", "breached_assignments": "integer", "breach_rate": "double",
    "breach_rate_warn_limit": "double", "breach_rate_error_limit": "double", "min_resolved_assignments": "integer"}


# --------------------------------------------------------------------------------------------------
# pure functions on hand-made rows
# --------------------------------------------------------------------------------------------------
def _tiny_data(**overrides) -> report.ReportData:
    n_bins = 100 // report.HIST_BIN_WIDTH
    data = report.ReportData(
        model_id=MODEL,
        overview={"leads": 4, "mql_leads": 1, "as_of": datetime(2026, 11, 1), "ruleset_version": "abc",
                  "mean_fit_score": 50.0, "mean_engagement_score": 40.0, "mean_lead_score": 45.0},
        histograms={s: [1, 3] + [0] * (n_bins - 2) for s in report.SCORES},
        matrix=[{"fit_grade": "A", "engagement_level": "1", "leads": 3},
                {"fit_grade": "D", "engagement_level": "4", "leads": 1}],
        history=[], quantiles=[], generated_at=datetime(2026, 11, 2, 3, 4, 5))
    for key, value in overrides.items():
        setattr(data, key, value)
    return data


def test_matrix_grid_places_counts_and_fills_missing_cells_with_zero():
    grid = report.matrix_grid([{"fit_grade": "A", "engagement_level": "1", "leads": 3},
                               {"fit_grade": "C", "engagement_level": "2", "leads": 7}])
    assert grid[0] == [3, 0, 0, 0]
    assert grid[2] == [0, 7, 0, 0]
    assert sum(map(sum, grid)) == 10


def test_channel_totals_are_lead_weighted_by_hand():
    rows = [
        {"lead_source": "webinar", "created_month": "2026-09-01", "leads": 10, "mean_lead_score": 50.0,
         "mql_leads": 2, "converted_leads": 1, "won_leads": 0, "won_amount": 0.0},
        {"lead_source": "webinar", "created_month": "2026-10-01", "leads": 30, "mean_lead_score": 70.0,
         "mql_leads": 6, "converted_leads": 3, "won_leads": 1, "won_amount": 500.0},
        {"lead_source": "social", "created_month": "2026-10-01", "leads": 5, "mean_lead_score": 20.0,
         "mql_leads": 0, "converted_leads": 0, "won_leads": 0, "won_amount": None},
    ]
    webinar, social = report.channel_by_source(rows)
    # (10 x 50 + 30 x 70) / 40 = 65; 8 / 40 MQLs; 4 / 40 converted; 1 / 40 won
    assert webinar["lead_source"] == "webinar" and webinar["leads"] == 40
    assert webinar["mean_lead_score"] == pytest.approx(65.0)
    assert (webinar["mql_rate"], webinar["conversion_rate"], webinar["win_rate"]) == pytest.approx((0.2, 0.1, 0.025))
    assert webinar["won_amount"] == 500.0
    assert social["leads"] == 5 and social["mql_rate"] == 0.0


def _history(run_id, recorded_at, lead_shares, n=100, mql=0.1):
    rows = [{"run_id": run_id, "recorded_at": recorded_at, "as_of": None, "ruleset_version": "v", "metric":
             "lead_score", "bin": b, "count": round(s * n), "share": s} for b, s in zip(mon.SCORE_BINS, lead_shares)]
    rows.append({"run_id": run_id, "recorded_at": recorded_at, "as_of": None, "ruleset_version": "v",
                 "metric": mon.LEAD_COUNT, "bin": "all", "count": n, "share": 1.0})
    rows.append({"run_id": run_id, "recorded_at": recorded_at, "as_of": None, "ruleset_version": "v",
                 "metric": mon.MQL_RATE, "bin": "mql", "count": round(mql * n), "share": mql})
    return rows


def test_drift_runs_order_runs_and_compute_psi_by_hand():
    first = _history("r-1", datetime(2026, 11, 1), [0.5, 0.5] + [0.0] * 8)
    second = _history("r-2", datetime(2026, 11, 2), [0.25, 0.75] + [0.0] * 8, n=120, mql=0.2)
    quantiles = [{"run_id": "r-2", "metric": "lead_score", "percentile": 50, "value": 12.0}]
    runs = report.drift_runs(second + first, quantiles)  # given newest first: sorted by recorded_at
    assert [r.run_id for r in runs] == ["r-1", "r-2"]
    assert runs[0].psi == {}
    # by hand: (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5) = 0.17329 + 0.10137
    assert runs[1].psi["lead_score"] == pytest.approx(0.25 * math.log(2) + 0.25 * math.log(1.5))
    assert (runs[1].lead_count, runs[1].mql_rate) == (120, 0.2)
    assert runs[1].percentiles == {"lead_score": {50: 12.0}}


def test_empty_history_renders_the_note_and_no_drift_chart():
    page = report.render_report(_tiny_data())
    assert report.NO_RUNS_NOTE in page.html
    assert report.RULE_HEALTH_NOTE in page.html  # no rule-health marts: a note, no chart
    assert page.charts == ["chart-score-distributions", "chart-matrix"]
    assert 'id="chart-drift' not in page.html
    assert '<meta name="chart-count" content="2">' in page.html


def test_data_text_is_escaped_everywhere():
    channel = [{"lead_source": HOSTILE, "created_month": "2026-10-01", "leads": 3, "mean_fit_score": 1.0,
                "mean_engagement_score": 1.0, "mean_lead_score": 10.0, "mql_leads": 1, "mql_rate": 1 / 3,
                "converted_leads": 0, "conversion_rate": 0.0, "won_leads": 0, "win_rate": 0.0, "won_amount": 0.0}]
    funnel = [_funnel_row(HOSTILE, "A1", 4, 2, 1, 1, 0, 1)]
    owners = [_owner("<i>o1</i>", "<svg onload=alert(3)>", 1, 2, 1, 2, 1)]
    sla = [dict(_sla(2, 1), window_start_at="<u>start</u>")]
    rules = [_rule(HOSTILE, 0.97, issue="fires_on_almost_every_lead", fix="<em>narrow it</em>")]
    bands = [_band("fit_grade", "<s>A</s>", 0.95, issue="one_band_holds_almost_every_lead")]
    data = _tiny_data(model_id='m"<b>x</b>', channel=channel, funnel=funnel, owners=owners, sla=sla,
                      rule_health=rules, band_health=bands)
    data.overview["ruleset_version"] = "<img src=x onerror=alert(2)>"
    page = report.render_report(data)
    for raw in (HOSTILE, "<img src=x", "<b>x</b>", "<i>o1</i>", "<svg onload", "<u>start", "<em>narrow",
                "<s>A</s>"):
        assert raw not in page.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.html  # in the table and in the chart labels
    assert "&lt;img src=x onerror=alert(2)&gt;" in page.html
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td><td>4</td>" in page.html  # the funnel channel table
    assert "<td>&lt;svg onload=alert(3)&gt;</td><td>&lt;i&gt;o1&lt;/i&gt;</td>" in page.html  # the owner table
    assert "&lt;u&gt;start&lt;/u&gt;" in page.html
    assert 'data-id="&lt;script&gt;alert(1)&lt;/script&gt;"' in page.html  # the flagged rule, as text
    assert "&lt;em&gt;narrow it&lt;/em&gt;" in page.html and "&lt;s&gt;A&lt;/s&gt;" in page.html
    assert list(report.rule_health_figure(rules).data[0].x) == ["&lt;script&gt;alert(1)&lt;/script&gt;"]
    assert {"chart-channel-by-source", "chart-funnel-by-channel", "chart-owners"} <= set(page.charts)
    by_channel = report.funnel_channel_figure(report.funnel_by(funnel))
    assert list(by_channel.data[0].x) == ["&lt;script&gt;alert(1)&lt;/script&gt;"]
    assert list(report.owners_figure(owners).data[0].x) == ["&lt;svg onload=alert(3)&gt;"]


def test_page_is_self_contained():
    from plotly.offline import get_plotlyjs

    html = report.render_report(_tiny_data()).html
    bundle = get_plotlyjs()
    assert html.count(bundle) == 1  # plotly.js inline, once
    rest = html.replace(bundle, "")
    assert not re.search(r"<script[^>]*\bsrc=", rest)  # no CDN
    assert not re.search(r"<link[^>]*\bhref=|\bsrc=\"https?:|https?://", rest)  # nothing from the network
    assert rest.count("<script") == 3  # plotly.js + one per chart


def _funnel_row(source, cell, leads, mql, accepted, opportunity, won, returned, month="2026-09-01"):
    return {"created_month": month, "lead_source": source, "matrix_cell": cell, "leads": leads, "mql_leads": mql,
            "accepted_leads": accepted, "opportunity_leads": opportunity, "won_leads": won,
            "returned_leads": returned}


FUNNEL_ROWS = [
    _funnel_row("webinar", "A1", 10, 6, 4, 2, 1, 1),
    _funnel_row("webinar", "B2", 30, 4, 1, 1, 0, 2, month="2026-10-01"),
    _funnel_row("social", "D4", 5, 0, 0, 0, 0, 0),
]


def test_funnel_totals_steps_and_rates_by_hand():
    totals = report.funnel_totals(FUNNEL_ROWS)
    assert totals == {"leads": 45, "mql_leads": 10, "accepted_leads": 5, "opportunity_leads": 3, "won_leads": 1,
                      "returned_leads": 3}
    steps = report.funnel_steps(totals)
    assert [s["stage"] for s in steps] == ["leads", "MQL", "accepted", "opportunity", "won"]
    assert [s["leads"] for s in steps] == [45, 10, 5, 3, 1]
    # 10/45, 5/10, 3/5, 1/3
    assert steps[0]["rate_from_previous"] is None
    assert [s["rate_from_previous"] for s in steps[1:]] == pytest.approx([2 / 9, 0.5, 0.6, 1 / 3])
    assert steps[4]["share_of_leads"] == pytest.approx(1 / 45)


def test_funnel_by_source_sums_months_and_cells_by_hand():
    webinar, social = report.funnel_by(FUNNEL_ROWS, "lead_source")
    assert webinar["lead_source"] == "webinar" and webinar["leads"] == 40 and webinar["returned_leads"] == 3
    # 10/40, 5/10, 3/5, 1/3, 1/40
    assert (webinar["lead_to_mql_rate"], webinar["mql_to_accepted_rate"], webinar["accepted_to_opportunity_rate"],
            webinar["opportunity_to_won_rate"], webinar["lead_to_won_rate"]) == pytest.approx(
        (0.25, 0.5, 0.6, 1 / 3, 0.025))
    # no MQLs: the rates after the first stage are unknown, not 0
    assert social["lead_to_mql_rate"] == 0.0 and social["mql_to_accepted_rate"] is None
    assert social["opportunity_to_won_rate"] is None
    cells = report.funnel_by(FUNNEL_ROWS, "matrix_cell")
    assert [c["matrix_cell"] for c in cells] == ["B2", "A1", "D4"]  # biggest first


def test_percentile_cont_and_durations_by_hand():
    # percentile_cont(0.9) of (10, 20, 30): position 1.8, 20 + 0.8 x 10 = 28; of (10, 50): 10 + 0.9 x 40 = 46
    assert report.percentile_cont([30, 10, 20], 0.5) == 20
    assert report.percentile_cont([30, 10, 20], 0.9) == pytest.approx(28)
    assert report.percentile_cont([10, 50], 0.9) == pytest.approx(46)
    assert report.percentile_cont([7], 0.9) == 7 and report.percentile_cont([], 0.5) is None
    hours = [{"lead_to_mql": None, "mql_to_accepted": None, "accepted_to_opportunity": 10.0, "opportunity_to_won": 5.0},
             {"lead_to_mql": None, "mql_to_accepted": None, "accepted_to_opportunity": 50.0, "opportunity_to_won": None},
             {"lead_to_mql": None, "mql_to_accepted": None, "accepted_to_opportunity": None, "opportunity_to_won": None}]
    durations = {d["transition"]: d for d in report.funnel_durations(hours)}
    assert durations["lead_to_mql"] == {"transition": "lead_to_mql", "label": "lead to MQL", "leads": 0,
                                        "median_hours": None, "p90_hours": None}
    assert (durations["accepted_to_opportunity"]["leads"], durations["accepted_to_opportunity"]["median_hours"],
            durations["accepted_to_opportunity"]["p90_hours"]) == (2, 30, pytest.approx(46))
    assert durations["opportunity_to_won"]["median_hours"] == 5


def test_funnel_section_renders_charts_numbers_and_the_mql_moment_note():
    hours = [{"lead_to_mql": None, "mql_to_accepted": None, "accepted_to_opportunity": 12.0,
              "opportunity_to_won": None}]
    page = report.render_report(_tiny_data(funnel=FUNNEL_ROWS, funnel_hours=hours))
    assert page.charts[-2:] == ["chart-funnel", "chart-funnel-by-channel"]
    figure = report.funnel_figure(report.funnel_steps(report.funnel_totals(FUNNEL_ROWS)), 3)
    assert list(figure.data[0].x) == [45, 10, 5, 3, 1]
    assert list(figure.data[0].text) == ["45", "10 (22.2% of leads)", "5 (50.0% of MQL)", "3 (60.0% of accepted)",
                                         "1 (33.3% of opportunity)"]
    assert "returned by sales as not ready: 3" in figure.layout.title.text
    assert "<b>3</b> MQLs (30.0% of MQLs)" in page.html  # 3 of 10
    one_returned = report.render_report(_tiny_data(funnel=FUNNEL_ROWS[:1], funnel_hours=hours))
    assert "<b>1</b> MQL (16.7% of MQLs)" in one_returned.html  # 1 of 6
    assert "<tr><td>MQL</td><td>10</td><td>22.2%</td><td>22.2%</td></tr>" in page.html
    assert "<tr><td>accepted to opportunity</td><td>1</td><td>12.0</td><td>12.0</td></tr>" in page.html
    assert report.MQL_MOMENT_NOTE in page.html
    by_channel = report.funnel_channel_figure(report.funnel_by(FUNNEL_ROWS))
    assert [t.name for t in by_channel.data] == list(report.FUNNEL_RATE_NAMES)
    assert list(by_channel.data[0].x) == ["webinar", "social"] and list(by_channel.data[0].y) == [0.25, 0.0]


def test_funnel_and_owner_sections_show_notes_without_their_tables():
    page = report.render_report(_tiny_data())  # funnel, funnel_hours, owners and sla are None
    assert "marts.lead_funnel is not in the warehouse" in page.html
    assert report.SLA_MARTS_NOTE in page.html and "SLA marts not built" in page.html
    assert not [c for c in page.charts if c.startswith(("chart-funnel", "chart-owners", "chart-sla"))]
    page = report.render_report(_tiny_data(funnel=FUNNEL_ROWS))  # no stages table: counts, no durations
    assert "lead_funnel_stages is not in the warehouse" in page.html and "chart-funnel" in page.charts
    page = report.render_report(_tiny_data(funnel=[], owners=[], sla=None))
    assert "marts.lead_funnel has no rows for this model" in page.html
    assert "marts.routing_sla_breach_rate is not in the warehouse" in page.html
    assert "marts.owner_performance has no rows for this model" in page.html


def _owner(owner_id, name, open_mqls, resolved, breached, owned, opportunities, active=True):
    return {"owner_id": owner_id, "owner_name": name, "is_active": active, "open_mqls": open_mqls,
            "assignments": resolved + open_mqls, "resolved_assignments": resolved, "breached_assignments": breached,
            "sla_breach_rate": breached / resolved if resolved else None, "median_hours_to_first_touch": 3.5,
            "owned_leads": owned, "opportunity_leads": opportunities, "won_leads": 0,
            "opportunity_rate": opportunities / owned if owned else None, "win_rate": 0.0 if owned else None,
            "returned_leads": 1}


def _sla(resolved, breached, warn=0.1, error=0.25, min_resolved=20):
    return {"window_start_at": datetime(2026, 10, 4), "window_end_at": datetime(2026, 11, 1),
            "resolved_assignments": resolved, "breached_assignments": breached,
            "breach_rate": breached / resolved if resolved else None, "breach_rate_warn_limit": warn,
            "breach_rate_error_limit": error, "min_resolved_assignments": min_resolved}


def test_sla_status_against_the_limits_by_hand():
    assert report.sla_status(_sla(100, 5)) == "ok"  # 5 % <= 10 %
    assert report.sla_status(_sla(100, 10)) == "ok"  # at the warn limit, not above it
    assert report.sla_status(_sla(100, 11)) == "warn"  # 11 % > 10 %
    assert report.sla_status(_sla(100, 25)) == "warn"  # at the error limit
    assert report.sla_status(_sla(100, 40)) == "error"  # 40 % > 25 %
    assert report.sla_status(_sla(10, 9)) == "too few resolved"  # 10 < 20 resolved: not judged
    assert report.sla_status(_sla(0, 0, min_resolved=0)) == "too few resolved"  # no rate at all


def test_owner_figure_and_table_from_hand_made_rows():
    owners = [_owner("o-b", "Bea", 2, 10, 1, 8, 2), _owner("o-a", "Al", 5, 4, 2, 5, 1),
              _owner("o-c", "Cy", 2, 0, 0, 0, 0, active=False)]
    ordered = report.owners_ordered(owners)
    assert [o["owner_id"] for o in ordered] == ["o-a", "o-b", "o-c"]  # 5 open MQLs first, then by id
    figure = report.owners_figure(ordered)
    bars, breach, opportunity = figure.data
    assert list(bars.x) == ["Al", "Bea", "Cy"] and list(bars.y) == [5, 2, 2]
    assert list(breach.y) == [0.5, 0.1, None]  # 2/4, 1/10, nothing resolved
    assert list(opportunity.y) == [0.2, 0.25, None]  # 1/5, 2/8
    sla = _sla(40, 6)  # 15 %: above warn 10 %, below error 25 %
    sla_fig = report.sla_figure(sla)
    assert list(sla_fig.data[0].x) == [pytest.approx(0.15)]
    assert sorted(shape.x0 for shape in sla_fig.layout.shapes) == [0.1, 0.25]
    page = report.render_report(_tiny_data(owners=owners, sla=[sla]))
    assert page.charts[-2:] == ["chart-sla-breach-rate", "chart-owners"]
    assert "Breach rate <b>15.0%</b> (6 of 40 resolved assignments" in page.html and "<b>warn</b>" in page.html
    assert ("<tr><td>Al</td><td>o-a</td><td>yes</td><td>5</td><td>9</td><td>4</td><td>2</td><td>50.0%</td>"
            "<td>3.5</td><td>5</td><td>1</td><td>0</td><td>20.0%</td><td>0.0%</td><td>1</td></tr>") in page.html
    assert "<tr><td>Cy</td><td>o-c</td><td>no</td><td>2</td><td>2</td><td>0</td><td>0</td><td>\u2014</td>" in page.html


def _scratch_warehouse(path: Path, owners: list[dict], sla: list[dict]) -> None:
    """A tiny DuckDB: marts.lead_scores with three leads and the two SLA marts from hand-made rows."""
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema marts")
        con.execute("create table marts.lead_scores as select * from (values "
                    "('default', 'L1', true, timestamp '2026-11-01', 'v1', 80.0, 70.0, 76.0, 'A', 1), "
                    "('default', 'L2', false, timestamp '2026-11-01', 'v1', 20.0, 10.0, 16.0, 'D', 4), "
                    "('other', 'L3', false, timestamp '2026-11-01', 'v1', 20.0, 10.0, 16.0, 'D', 4)) "
                    "as t(model_id, lead_id, is_mql, scored_at, ruleset_version, fit_score, engagement_score, "
                    "lead_score, fit_grade, engagement_level)")
    finally:
        con.close()
    _add_sla_marts(path, owners, sla)


def _add_sla_marts(path: Path, owners: list[dict], sla: list[dict]) -> None:
    """(Re)create marts.owner_performance and marts.routing_sla_breach_rate in `path` from hand-made rows."""
    con = duckdb.connect(str(path))
    try:
        for table, columns, rows in (("owner_performance", OWNER_COLUMNS, owners),
                                     ("routing_sla_breach_rate", SLA_COLUMNS, sla)):
            con.execute(f"create or replace table marts.{table} ("
                        + ", ".join(f"{c} {t}" for c, t in columns.items()) + ")")
            for row in rows:
                con.execute(f"insert into marts.{table} values ({', '.join('?' * len(columns))})",
                            [row[c] for c in columns])
    finally:
        con.close()


def test_owner_section_reads_hand_made_sla_marts_from_a_scratch_duckdb(tmp_path):
    db = tmp_path / "sla.duckdb"
    owners = [dict(_owner("o-a", HOSTILE, 3, 20, 5, 10, 4), model_id="default"),
              dict(_owner("o-z", "Zed", 9, 1, 1, 1, 0), model_id="other")]
    sla = [dict(_sla(20, 6), model_id="default"), dict(_sla(50, 1), model_id="other")]
    _scratch_warehouse(db, owners, sla)
    out = tmp_path / "r.html"
    assert report.main(["--database", str(db), "--out", str(out)]) == 0
    con = duckdb.connect(str(db), read_only=True)
    try:
        data = report.load_report_data(con)
    finally:
        con.close()
    assert data.model_id == "default" and data.funnel is None and data.funnel_hours is None
    assert [o["owner_id"] for o in data.owners] == ["o-a"]  # the other model's owner is not shown
    assert len(data.sla) == 1 and data.sla[0]["breach_rate"] == pytest.approx(0.3)  # 6 / 20
    html = out.read_text(encoding="utf-8")
    assert "Breach rate <b>30.0%</b> (6 of 20 resolved assignments" in html
    assert "<b>error</b>" in html  # 30 % > 25 %
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td><td>o-a</td><td>yes</td><td>3</td>" in html
    assert HOSTILE not in html and "Zed" not in html
    assert "marts.lead_funnel is not in the warehouse" in html and report.SLA_MARTS_NOTE not in html
    assert data.rule_health is None and data.band_health is None  # no rule-health marts: a note, not a crash
    assert report.RULE_HEALTH_NOTE in html and 'id="chart-rule-health"' not in html


def _rule(rule_id, share, axis="fit", source="fit", scored=1000, with_=None, without=None, lift=None, issue=None,
          fix=None):
    fix = fix if fix is not None or issue is None else f"Fix {rule_id}."
    return {"axis": axis, "rule_source": source, "rule_id": rule_id, "rule_group": None, "points": 5,
            "scored_leads": scored, "fired_leads": None if share is None else round(share * scored),
            "fired_share": share, "converted_leads": 100, "fired_converted_leads": None, "conversion_rate_with": with_,
            "conversion_rate_without": without, "conversion_lift": lift, "health_issue": issue, "health_fix": fix}


def _band(axis, top_band, share, issue=None, scored=1000, bands=4):
    return {"axis": axis, "top_band": top_band, "top_band_leads": round(share * scored), "scored_leads": scored,
            "top_band_share": share, "band_count": bands, "health_issue": issue,
            "health_fix": None if issue is None else f"Fix the {axis} cut-offs."}


HEALTH_RULES = [
    _rule("fit_rare", 0.004, issue="almost_never_fires", with_=0.5, without=0.1, lift=5.0),
    _rule("eng_any_view", 0.97, axis="engagement", source="engagement", issue="fires_on_almost_every_lead",
          with_=0.1, without=0.05, lift=2.0),
    _rule("sig_burst", 0.2, axis="engagement", source="signal", with_=0.02, without=0.12, lift=0.166667),
    _rule("fit_title", 0.2, with_=0.3, without=0.05, lift=6.0),
    _rule("fit_unscored", None),
]
HEALTH_BANDS = [_band("fit_grade", "D", 0.92, issue="one_band_holds_almost_every_lead"),
                _band("engagement_level", "4", 0.4)]


def test_rules_by_fired_share_and_the_flagged_issues_by_hand():
    ordered = report.rules_by_fired_share(HEALTH_RULES)
    # 0.97, then the two at 0.2 by axis (engagement before fit), then 0.004, the rule without a share last
    assert [r["rule_id"] for r in ordered] == ["eng_any_view", "sig_burst", "fit_title", "fit_rare", "fit_unscored"]
    issues = report.health_issues(HEALTH_RULES, HEALTH_BANDS)
    assert [(i["kind"], i["id"], i["issue"]) for i in issues] == [
        ("rule", "eng_any_view", "fires_on_almost_every_lead"), ("rule", "fit_rare", "almost_never_fires"),
        ("band", "fit_grade", "one_band_holds_almost_every_lead")]
    assert issues[0]["where"] == "engagement / engagement" and issues[2]["share"] == 0.92
    assert report.health_issues(None, None) == [] and report.health_issues(HEALTH_RULES[2:], HEALTH_BANDS[1:]) == []
    figure = report.rule_health_figure(ordered)
    assert list(figure.data[0].x) == ["eng_any_view", "sig_burst", "fit_title", "fit_rare", "fit_unscored"]
    assert list(figure.data[0].y) == [0.97, 0.2, 0.2, 0.004, None]
    assert list(figure.data[0].marker.color) == ["#d62728", "#1f77b4", "#1f77b4", "#d62728", "#1f77b4"]


def test_rule_health_section_lists_issues_then_the_rules_table():
    page = report.render_report(_tiny_data(rule_health=HEALTH_RULES, band_health=HEALTH_BANDS))
    assert "chart-rule-health" in page.charts
    html = page.html
    flagged = re.findall(r'<li class="health-issue" data-kind="(rule|band)" data-id="([^"]*)">', html)
    assert flagged == [("rule", "eng_any_view"), ("rule", "fit_rare"), ("band", "fit_grade")]
    assert "Fix eng_any_view." in html and "Fix the fit_grade cut-offs." in html
    assert "<b>fit_rare</b> (fit / fit): almost never fires, 0.40% of scored leads." in html
    assert report.NO_RULE_OR_BAND_ISSUE not in html
    rows = _rendered_table(html, "rule", after='data-chart="chart-rule-health"')
    assert rows == [
        ["eng_any_view", "engagement / engagement", "97.00%", "970", "10.0%", "5.0%", "2.00",
         "fires on almost every lead"],
        ["sig_burst", "engagement / signal", "20.00%", "200", "2.0%", "12.0%", "0.17", ""],
        ["fit_title", "fit / fit", "20.00%", "200", "30.0%", "5.0%", "6.00", ""],
        ["fit_rare", "fit / fit", "0.40%", "4", "50.0%", "10.0%", "5.00", "almost never fires"],
        ["fit_unscored", "fit / fit", "\u2014", "\u2014", "\u2014", "\u2014", "\u2014", ""]]
    assert _rendered_table(html, "axis", after='data-chart="chart-rule-health"') == [
        ["fit grade", "D", "920", "92.0%", "4", "one band holds almost every lead"],
        ["engagement level", "4", "400", "40.0%", "4", ""]]


def test_rule_health_section_without_issues_or_without_one_mart():
    healthy = report.render_report(_tiny_data(rule_health=HEALTH_RULES[2:4], band_health=HEALTH_BANDS[1:])).html
    assert f'<p id="rule-health-ok">{report.NO_RULE_OR_BAND_ISSUE}:' in healthy
    assert 'class="health-issue"' not in healthy
    only_rules = report.render_report(_tiny_data(rule_health=HEALTH_RULES, band_health=None))
    assert "marts.scoring_band_health is not in the warehouse" in only_rules.html
    assert "chart-rule-health" in only_rules.charts and report.RULE_HEALTH_NOTE not in only_rules.html
    assert re.findall(r'data-kind="band"', only_rules.html) == []
    only_bands = report.render_report(_tiny_data(rule_health=None, band_health=HEALTH_BANDS))
    assert "marts.scoring_rule_health is not in the warehouse" in only_bands.html
    assert "chart-rule-health" not in only_bands.charts
    assert re.findall(r'data-kind="(\w+)" data-id="([^"]*)"', only_bands.html) == [("band", "fit_grade")]
    no_rows = report.render_report(_tiny_data(rule_health=[], band_health=[])).html
    assert "marts.scoring_rule_health has no rows for this model" in no_rows


# --------------------------------------------------------------------------------------------------
# on the test warehouse
# --------------------------------------------------------------------------------------------------
def _lead_score_shares(db):
    counts = [0] * 10
    rows = query(db, "select lead_score from marts.lead_scores where model_id = ?", [MODEL])
    for r in rows:
        counts[min(max(int(r["lead_score"] // 10), 0), 9)] += 1
    return [c / len(rows) for c in counts]


@pytest.fixture(scope="module")
def report_db(warehouse, tmp_path_factory):
    """A copy of the session warehouse with two recorded runs, the second after lead scores rose by 25 %."""
    root = tmp_path_factory.mktemp("report")
    db = root / "wh.duckdb"
    shutil.copy2(warehouse.db_path, db)
    marts = {r["table_name"] for r in query(db, "select table_name from information_schema.tables "
                                                "where table_schema = 'marts'")}
    assert set(REPORTED_MARTS) <= marts, f"the warehouse lacks {sorted(set(REPORTED_MARTS) - marts)}"
    res = dres.WarehouseResource(database_path=str(db))
    mon.record_distribution(res, "run-one", datetime(2026, 11, 1, 6))
    before = _lead_score_shares(db)
    con = duckdb.connect(str(db))
    try:
        # lead_scores is a view of int_scored_leads: the stored rows change
        con.execute("update intermediate.int_scored_leads set lead_score = least(100, lead_score * 1.25)")
    finally:
        con.close()
    after = _lead_score_shares(db)
    # the same as_of and rules as run-one (the scores were changed in place): recorded on purpose
    mon.record_distribution(res, "run-two", datetime(2026, 11, 2, 6), skip_repeated=False)
    return {"db": db, "root": root, "before": before, "after": after}


@pytest.fixture(scope="module")
def loaded(report_db):
    con = duckdb.connect(str(report_db["db"]), read_only=True)
    try:
        return report.load_report_data(con)
    finally:
        con.close()


def test_matrix_counts_equal_a_group_by_of_lead_scores(report_db, loaded):
    rows = query(report_db["db"], "select fit_grade, engagement_level from marts.lead_scores where model_id = ?",
                 [MODEL])
    counted = Counter((r["fit_grade"], str(r["engagement_level"])) for r in rows)
    figure = report.matrix_figure(loaded.matrix, loaded.calibration)
    z = [list(row) for row in figure.data[0].z]
    assert z == [[counted.get((g, lv), 0) for lv in "1234"] for g in "ABCD"]
    assert sum(map(sum, z)) == len(rows) == loaded.overview["leads"]


def test_histograms_equal_python_binning(report_db, loaded):
    width = report.HIST_BIN_WIDTH
    for score in report.SCORES:
        values = [r["v"] for r in query(report_db["db"], f"select {score} as v from marts.lead_scores "
                                                         f"where model_id = ?", [MODEL])]
        expected = [0] * (100 // width)
        for v in values:
            expected[min(int(v // width), 100 // width - 1)] += 1
        assert loaded.histograms[score] == expected, score
        figure = report.distributions_figure(loaded.histograms)
        assert list(figure.data[report.SCORES.index(score)].y) == expected


def test_drift_psi_equals_an_independent_computation(report_db, loaded):
    runs = report.drift_runs(loaded.history, loaded.quantiles)
    assert [r.run_id for r in runs] == ["run-one", "run-two"]
    expected = sum((max(a, 1e-4) - max(e, 1e-4)) * math.log(max(a, 1e-4) / max(e, 1e-4))
                   for e, a in zip(report_db["before"], report_db["after"]))
    assert expected > 0.01  # the 25 % rise moved leads across bins
    assert runs[1].psi["lead_score"] == pytest.approx(expected, rel=1e-9)
    assert runs[1].psi["fit_score"] == pytest.approx(0.0, abs=1e-12)  # fit scores were not touched
    median = query(report_db["db"], "select quantile_disc(lead_score, 0.5) as m from marts.lead_scores "
                                    "where model_id = ?", [MODEL])[0]["m"]
    assert runs[1].percentiles["lead_score"][50] == pytest.approx(median)


def test_calibration_and_channel_charts_show_the_mart_rows(report_db, loaded):
    bands = query(report_db["db"], "select bucket, conversion_rate from marts.score_calibration where "
                                   "model_id = ? and dimension = 'lead_score_band' order by bucket_order", [MODEL])
    figure = report.conversion_figure(report.calibration_dimension(loaded.calibration, "lead_score_band"), "t", "x")
    assert list(figure.data[0].x) == [r["bucket"] for r in bands]
    assert list(figure.data[0].y) == [r["conversion_rate"] for r in bands]
    # channel totals against lead_scores directly: leads and MQL rate per source (the marts leave out excluded
    # leads and call a missing source 'unknown')
    rows = query(report_db["db"], "select lead_source as s, is_mql from marts.lead_scores "
                                  "where model_id = ? and not is_excluded", [MODEL])
    by_source = Counter(r["s"] or "unknown" for r in rows)
    mql = Counter(r["s"] or "unknown" for r in rows if r["is_mql"])
    totals = report.channel_by_source(loaded.channel)
    assert {r["lead_source"]: r["leads"] for r in totals} == dict(by_source)
    for r in totals:
        assert r["mql_rate"] == pytest.approx(mql.get(r["lead_source"], 0) / by_source[r["lead_source"]])


def _expected_charts(db) -> list[str]:
    """The charts of a report on `db`: ALL_CHARTS, plus the SLA charts once the SLA marts are built with rows."""
    tables = {r["t"] for r in query(db, "select table_name as t from information_schema.tables "
                                        "where table_schema = 'marts'")}
    if set(SLA_MARTS) <= tables and all(query(db, f"select count(*) as n from marts.{t} where model_id = ?",
                                              [MODEL])[0]["n"] for t in SLA_MARTS):
        return ALL_CHARTS + SLA_CHARTS
    return list(ALL_CHARTS)


def _rendered_table(html: str, first_header: str, after: str = "<main>") -> list[list[str]]:
    """The body cells of the first table after `after` whose first header is `first_header`."""
    start = html.index(f"<table><thead><tr><th>{first_header}</th>", html.index(after))
    body = html[html.index("<tbody>", start): html.index("</tbody>", start)]
    return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


def test_funnel_numbers_equal_a_group_by_of_lead_funnel_and_the_lead_stages(report_db, tmp_path):
    db = report_db["db"]
    out = tmp_path / "funnel.html"
    assert report.main(["--database", str(db), "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    # independent 1: the mart's rows grouped in SQL
    mart = query(db, "select sum(leads) as leads, sum(mql_leads) as mql, sum(accepted_leads) as accepted, "
                     "sum(opportunity_leads) as opportunity, sum(won_leads) as won, sum(returned_leads) as returned "
                     "from marts.lead_funnel where model_id = ?", [MODEL])[0]
    # independent 2: the lead-level stages, counted in Python (a stage counts only after every earlier one)
    stages = query(db, "select created_at, mql_at, accepted_at, opportunity_at, won_at, returned_at "
                       "from marts.lead_funnel_stages where model_id = ?", [MODEL])
    chain = ("created_at", "mql_at", "accepted_at", "opportunity_at", "won_at")
    counted = [sum(1 for r in stages if all(r[c] is not None for c in chain[: i + 1])) for i in range(len(chain))]
    returned = sum(1 for r in stages if r["returned_at"] is not None)
    expected = [int(mart[k]) for k in ("leads", "mql", "accepted", "opportunity", "won")]
    assert expected == counted and int(mart["returned"]) == returned
    assert all(n > 0 for n in expected), expected  # the data reach every stage
    rows = _rendered_table(html, "stage", after='data-chart="chart-funnel"')
    assert [r[0] for r in rows] == ["leads", "MQL", "accepted", "opportunity", "won"]
    assert [int(r[1].replace(",", "")) for r in rows] == expected
    assert [r[2] for r in rows[1:]] == [f"{b / a * 100:.1f}%" for a, b in zip(expected, expected[1:])]
    noun = "MQL" if returned == 1 else "MQLs"
    assert f"<b>{returned:,}</b> {noun} ({returned / expected[1] * 100:.1f}% of MQLs)" in html
    # by lead source: counts per channel from the lead stages
    by_source = {r[0]: [int(c.replace(",", "")) for c in r[1:7]] for r in _rendered_table(
        html, "lead source", after='data-chart="chart-funnel-by-channel"')}
    lead_rows = query(db, "select lead_source, mql_at, accepted_at, opportunity_at, won_at, returned_at "
                          "from marts.lead_funnel_stages where model_id = ?", [MODEL])
    want: dict[str, list[int]] = {}
    for r in lead_rows:
        reached = [True] + [all(r[c] is not None for c in chain[1: i + 1]) for i in range(1, len(chain))]
        acc = want.setdefault(r["lead_source"], [0] * 6)
        for i, ok in enumerate(reached):
            acc[i] += ok
        acc[5] += r["returned_at"] is not None
    assert by_source == want


def test_funnel_hours_equal_numpy_percentiles_of_the_lead_stages(report_db, loaded):
    import numpy as np

    rows = query(report_db["db"], "select is_mql_at_observed, accepted_at, opportunity_at, won_at "
                                  "from marts.lead_funnel_stages where model_id = ?", [MODEL])
    spans = {"accepted_to_opportunity": [(r["opportunity_at"] - r["accepted_at"]).total_seconds() / 3600
                                         for r in rows if r["opportunity_at"] is not None],
             "opportunity_to_won": [(r["won_at"] - r["opportunity_at"]).total_seconds() / 3600
                                    for r in rows if r["won_at"] is not None]}
    durations = {d["transition"]: d for d in report.funnel_durations(loaded.funnel_hours)}
    for name, values in spans.items():
        assert values, name
        assert durations[name]["leads"] == len(values)
        assert durations[name]["median_hours"] == pytest.approx(float(np.percentile(values, 50)))
        assert durations[name]["p90_hours"] == pytest.approx(float(np.percentile(values, 90)))
    # one history run: no MQL moment is observed, so the two durations at it are empty and the page says why
    assert not any(r["is_mql_at_observed"] for r in rows)
    assert durations["lead_to_mql"]["median_hours"] is None and durations["mql_to_accepted"]["leads"] == 0
    assert report.MQL_MOMENT_NOTE in report.render_report(loaded).html


def _rule_health_mart(db) -> list[dict]:
    """The model's rows of marts.scoring_rule_health, read directly, most-fired first (ties: axis, source, id)."""
    rows = query(db, "select rule_id, axis, rule_source, fired_share, fired_leads, scored_leads, conversion_rate_with, "
                     "conversion_rate_without, conversion_lift, health_issue, health_fix "
                     "from marts.scoring_rule_health where model_id = ?", [MODEL])
    return sorted(rows, key=lambda r: (r["fired_share"] is None, -(r["fired_share"] or 0), r["axis"],
                                       r["rule_source"], r["rule_id"]))


def _cell_pct(value, digits=1):
    return "\u2014" if value is None else f"{value * 100:.{digits}f}%"


def _report_html(db, out) -> str:
    assert report.main(["--database", str(db), "--out", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def test_rule_health_section_shows_the_flagged_rules_and_every_rule_of_the_mart(report_db, tmp_path):
    db = report_db["db"]
    html = _report_html(db, tmp_path / "health.html")
    mart = _rule_health_mart(db)
    assert len(mart) >= 10 and all(r["scored_leads"] > 0 for r in mart)
    # the flagged rules: exactly the mart's rows with a health issue, in fired-share order, each with its fix
    flagged = [r for r in mart if r["health_issue"] is not None]
    bands = query(db, "select axis, health_issue, health_fix from marts.scoring_band_health where model_id = ? "
                      "and health_issue is not null order by axis", [MODEL])
    assert flagged, "the test data set is expected to flag rules (docs/rule_health.md: eng_page_view, sig_bot_burst)"
    listed = re.findall(r'<li class="health-issue" data-kind="(rule|band)" data-id="([^"]*)">', html)
    assert listed == [("rule", r["rule_id"]) for r in flagged] + [("band", b["axis"]) for b in bands]
    for r in [*flagged, *bands]:
        assert html.count(report.esc(r["health_fix"])) == 1, r
    assert report.NO_RULE_OR_BAND_ISSUE not in html
    # the table: one row per rule of the mart, in the same order, with the mart's figures
    rows = _rendered_table(html, "rule", after='data-chart="chart-rule-health"')
    assert rows == [[r["rule_id"], f"{r['axis']} / {r['rule_source']}", _cell_pct(r["fired_share"], 2),
                     f"{r['fired_leads']:,}", _cell_pct(r["conversion_rate_with"]),
                     _cell_pct(r["conversion_rate_without"]),
                     "\u2014" if r["conversion_lift"] is None else f"{r['conversion_lift']:,.2f}",
                     "" if r["health_issue"] is None else r["health_issue"].replace("_", " ")] for r in mart]
    assert any(r["conversion_rate_with"] is not None for r in mart)  # the data set has outcomes
    # the chart: one bar per rule, the same order and shares
    con = duckdb.connect(str(db), read_only=True)
    try:
        loaded = report.load_report_data(con)
    finally:
        con.close()
    figure = report.rule_health_figure(report.rules_by_fired_share(loaded.rule_health))
    assert list(figure.data[0].x) == [r["rule_id"] for r in mart]
    assert list(figure.data[0].y) == [r["fired_share"] for r in mart]
    # the most common grade and level: the band mart's rows
    top = query(db, "select axis, top_band, top_band_share from marts.scoring_band_health where model_id = ?",
                [MODEL])
    band_rows = _rendered_table(html, "axis", after='data-chart="chart-rule-health"')
    assert sorted((r[0], r[1], r[3]) for r in band_rows) == sorted(
        (report.BAND_AXIS_LABELS[t["axis"]], str(t["top_band"]), _cell_pct(t["top_band_share"])) for t in top)


def test_rule_health_section_on_an_edited_warehouse_copy(report_db, tmp_path):
    """No flagged row: the plain no-issue line; a flagged grade: listed with its fix; marts dropped: the note."""
    db = tmp_path / "edited.duckdb"
    shutil.copy2(report_db["db"], db)

    def execute(*statements):
        con = duckdb.connect(str(db))
        try:
            for sql in statements:
                con.execute(sql)
        finally:
            con.close()

    execute("update marts.scoring_rule_health set health_issue = null, health_fix = null",
            "update marts.scoring_band_health set health_issue = null, health_fix = null")
    html = _report_html(db, tmp_path / "ok.html")
    assert f'<p id="rule-health-ok">{report.NO_RULE_OR_BAND_ISSUE}:' in html and 'class="health-issue"' not in html
    execute("update marts.scoring_band_health set health_issue = 'one_band_holds_almost_every_lead', "
            "health_fix = 'Fix: move the cut-offs <now>.' where axis = 'engagement_level'")
    html = _report_html(db, tmp_path / "band.html")
    assert re.findall(r'data-kind="(\w+)" data-id="([^"]*)"', html) == [("band", "engagement_level")]
    assert "Fix: move the cut-offs &lt;now&gt;." in html and report.NO_RULE_OR_BAND_ISSUE not in html
    execute("drop table marts.scoring_rule_health", "drop table marts.scoring_band_health")
    out = tmp_path / "none.html"
    html = _report_html(db, out)
    assert report.RULE_HEALTH_NOTE in html and 'id="chart-rule-health"' not in html
    assert 'id="chart-funnel"' in html  # the rest of the page is still there


def test_empty_history_on_the_warehouse_renders_the_note(warehouse, tmp_path):
    con = duckdb.connect(str(warehouse.db_path), read_only=True)
    try:
        path, page, data = report.write_report(con, tmp_path / "r.html")
    finally:
        con.close()
    assert data.history == [] and report.NO_RUNS_NOTE in path.read_text(encoding="utf-8")
    assert not [c for c in page.charts if c.startswith("chart-drift")]


def test_cli_writes_the_report_and_fails_clearly_without_a_warehouse(report_db, tmp_path, capsys):
    out = tmp_path / "sub" / "report.html"
    assert report.main(["--database", str(report_db["db"]), "--out", str(out)]) == 0
    assert out.stat().st_size > 1_000_000  # plotly.js is embedded
    assert f"{len(_expected_charts(report_db['db']))} charts" in capsys.readouterr().out
    assert report.main(["--database", str(tmp_path / "missing.duckdb"), "--out", str(out)]) == 1
    assert "build the warehouse first" in capsys.readouterr().err


def test_scoring_report_is_wired_downstream_of_the_marts_it_reads():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey("scoring_report"))
    expected = {dg.AssetKey(m) for m in (*REPORTED_MARTS, "lead_funnel_stages", "score_distribution_history")}
    expected |= {dg.AssetKey(m) for m in SLA_MARTS if graph.has(dg.AssetKey(m))}  # once dbt builds them
    assert set(node.parent_keys) == expected
    assert all(graph.get(k).is_materializable for k in expected)  # the dbt marts, not dangling keys
    assert node.group_name == "reporting"
    assert dg.AssetKey("scoring_report") in defs.resolve_job_def("full_scoring_job").asset_layer.selected_asset_keys


def test_dagster_asset_writes_the_report_with_metadata(report_db, tmp_path):
    out = tmp_path / "asset_report.html"
    result = dg.materialize(
        [scoring_report], resources={"warehouse": dres.WarehouseResource(database_path=str(report_db["db"]))},
        run_config=dg.RunConfig(ops={"scoring_report": ReportConfig(out=str(out))}))
    assert result.success
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["chart count"].value == len(_expected_charts(report_db["db"]))
    assert metadata["path"].value == str(out) and out.exists()
    assert scoring_report.op.pool == dres.WAREHOUSE_POOL
    assert {dg.AssetKey("lead_scores"), dg.AssetKey("score_distribution_history"),
            dg.AssetKey("score_calibration"), dg.AssetKey("channel_quality")} <= set(
        scoring_report.asset_deps[dg.AssetKey("scoring_report")])


# --------------------------------------------------------------------------------------------------
# headless Chromium
# --------------------------------------------------------------------------------------------------
def _chromium(*args: str) -> subprocess.CompletedProcess:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (installs Debian's chromium with apt-get)")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--virtual-time-budget=15000", *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def _chart_slices(dom: str) -> dict[str, str]:
    """The rendered DOM of each chart div (scripts removed), by chart id."""
    body = re.sub(r"<script\b.*?</script>", "", dom, flags=re.S)
    starts = [(m.start(), m.group(1)) for m in re.finditer(r'<div id="(chart-[a-z-]+)"', body)]
    return {cid: body[pos: starts[i + 1][0] if i + 1 < len(starts) else len(body)]
            for i, (pos, cid) in enumerate(starts)}


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


@pytest.mark.slow
def test_report_renders_in_headless_chromium(report_db, tmp_path):
    db = tmp_path / "hostile.duckdb"
    shutil.copy2(report_db["db"], db)
    con = duckdb.connect(str(db))
    try:  # a raw lead source with markup in it: must show as text, not run
        con.execute("update marts.channel_quality set lead_source = ? where lead_source = "
                    "(select min(lead_source) from marts.channel_quality)", [HOSTILE])
        con.execute("update marts.lead_funnel set lead_source = ? where lead_source = "
                    "(select min(lead_source) from marts.lead_funnel)", [HOSTILE])
        con.execute("update marts.scoring_rule_health set rule_id = ? where model_id = ? and rule_id = "
                    "(select min(rule_id) from marts.scoring_rule_health where model_id = ?)", [HOSTILE, MODEL, MODEL])
    finally:
        con.close()
    # the SLA marts, hand-made (replacing the built ones, if any), with a hostile owner name
    owners = [dict(_owner("o-1", HOSTILE, 4, 20, 3, 9, 3), model_id=MODEL),
              dict(_owner("o-2", "Dana Lee", 7, 10, 4, 6, 1), model_id=MODEL)]
    _add_sla_marts(db, owners, [dict(_sla(30, 7), model_id=MODEL)])
    funnel = query(db, "select sum(leads) as a, sum(mql_leads) as b, sum(accepted_leads) as c, "
                       "sum(opportunity_leads) as d, sum(won_leads) as e from marts.lead_funnel where model_id = ?",
                   [MODEL])[0]
    html_path = tmp_path / "scoring_report.html"
    assert report.main(["--database", str(db), "--out", str(html_path)]) == 0
    url = html_path.as_uri()

    dom = _chromium("--dump-dom", url).stdout
    slices = _chart_slices(dom)
    charts = ALL_CHARTS + SLA_CHARTS
    assert list(slices) == charts
    rendered = [cid for cid, part in slices.items()
                if "js-plotly-plot" in part and 'class="main-svg"' in part and re.search(r'class="trace[ "]|class="hm"', part)]
    assert rendered == charts, f"charts without a rendered plot: {sorted(set(charts) - set(rendered))}"
    for cid in charts:  # every chart drew data: bars/markers as points, lines, heat-map images and labels
        assert re.search(r'class="point"|<image[^>]*href="data:image|class="js-line"', slices[cid]), cid
    assert re.search(f'<meta name="chart-count" content="{len(charts)}"', dom)

    # data values on the page: the matrix cell counts and a band tick label
    counts = Counter((r["g"], str(r["l"])) for r in query(db, "select fit_grade as g, engagement_level as l "
                                                              "from marts.lead_scores where model_id = ?", [MODEL]))
    matrix = slices["chart-matrix"]
    for (g, lv), n in counts.items():
        assert f">{n:,} leads<" in matrix, (g, lv, n)
    a1 = query(db, "select conversion_rate as r from marts.score_calibration where model_id = ? and "
                   "dimension = 'matrix_cell' and bucket = 'A1'", [MODEL])[0]["r"]
    assert (f">conv {a1 * 100:.1f}%<" if a1 is not None else ">conv \u2014<") in matrix
    assert ">90-100<" in slices["chart-conversion-by-band"]
    assert ">D10<" in slices["chart-conversion-by-decile"]
    assert re.search(r">run 2 \(2026-11-02 06:00\)<", slices["chart-drift-psi"])

    # the hostile source is text in the channel chart and table, never an element
    assert HOSTILE not in dom
    assert ">&lt;script&gt;alert(1)&lt;/script&gt;<" in slices["chart-channel-by-source"]  # a tick label text
    assert ">&lt;script&gt;alert(1)&lt;/script&gt;<" in slices["chart-channel-by-month"]  # and in the table
    assert ">&amp;lt;script" not in dom  # no text node shows the entity itself (escaped once, not twice)

    # the funnel: one drawn bar per stage, labelled with the counts of an independent sum and the rates
    counts = [int(funnel[k]) for k in "abcde"]
    labels = [f"{counts[0]:,}"] + [f"{b:,} ({b / a * 100:.1f}% of {stage})" for a, b, stage in
                                   zip(counts, counts[1:], ("leads", "MQL", "accepted", "opportunity"))]
    for label in labels:
        assert f">{label}<" in slices["chart-funnel"], label
    assert len(re.findall(r'class="point"', slices["chart-funnel"])) == 5
    assert ">&lt;script&gt;alert(1)&lt;/script&gt;<" in slices["chart-funnel-by-channel"]  # tick label, as text
    # rule health: one bar per rule of the model, the hostile rule id as a tick label text
    n_rules = query(db, "select count(*) as n from marts.scoring_rule_health where model_id = ?", [MODEL])[0]["n"]
    assert len(re.findall(r'class="point"', slices["chart-rule-health"])) == n_rules
    assert ">&lt;script&gt;alert(1)&lt;/script&gt;<" in slices["chart-rule-health"]
    # owners and SLA: hand-made rows, the hostile owner name as text, 7 of 30 = 23.3 % between warn and error
    assert ">&lt;script&gt;alert(1)&lt;/script&gt;<" in slices["chart-owners"] and ">Dana Lee<" in slices["chart-owners"]
    assert ">23.3% (7 of 30 resolved)<" in slices["chart-sla-breach-rate"]
    assert ">SLA breach rate: warn<" in slices["chart-sla-breach-rate"]

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "scoring_report.png"
    shot.unlink(missing_ok=True)
    _chromium("--hide-scrollbars", "--window-size=1400,11000", f"--screenshot={shot}", url)
    assert shot.exists()
    assert _png_size(shot) == (1400, 11000)
    assert shot.stat().st_size > 150_000  # a blank page of this size compresses to a few kB
