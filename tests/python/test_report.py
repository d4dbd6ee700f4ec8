"""The scoring report (orchestration/report.py): chart data against independent computations, escaping, the
empty drift history, the CLI, the Dagster asset, and the page rendered in headless Chromium (screenshot saved
to test-artifacts/scoring_report.png)."""
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
from orchestration import monitoring as mon
from orchestration import report
from orchestration.report_assets import ReportConfig, scoring_report

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
HOSTILE = "<script>alert(1)</script>"
ALL_CHARTS = ["chart-score-distributions", "chart-matrix", "chart-conversion-by-band", "chart-conversion-by-decile",
              "chart-auc", "chart-mql-threshold", "chart-drift-percentiles", "chart-drift-psi",
              "chart-channel-by-source", "chart-channel-by-month"]
MODEL = "default"
REPORTED_MARTS = ("lead_scores", "score_calibration", "score_auc", "mql_threshold_calibration", "channel_quality")


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
    assert page.charts == ["chart-score-distributions", "chart-matrix"]
    assert 'id="chart-drift' not in page.html
    assert '<meta name="chart-count" content="2">' in page.html


def test_data_text_is_escaped_everywhere():
    channel = [{"lead_source": HOSTILE, "created_month": "2026-10-01", "leads": 3, "mean_fit_score": 1.0,
                "mean_engagement_score": 1.0, "mean_lead_score": 10.0, "mql_leads": 1, "mql_rate": 1 / 3,
                "converted_leads": 0, "conversion_rate": 0.0, "won_leads": 0, "win_rate": 0.0, "won_amount": 0.0}]
    data = _tiny_data(model_id='m"<b>x</b>', channel=channel)
    data.overview["ruleset_version"] = "<img src=x onerror=alert(2)>"
    page = report.render_report(data)
    for raw in (HOSTILE, "<img src=x", "<b>x</b>"):
        assert raw not in page.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.html  # in the table and in the chart labels
    assert "&lt;img src=x onerror=alert(2)&gt;" in page.html
    assert "chart-channel-by-source" in page.charts


def test_page_is_self_contained():
    from plotly.offline import get_plotlyjs

    html = report.render_report(_tiny_data()).html
    bundle = get_plotlyjs()
    assert html.count(bundle) == 1  # plotly.js inline, once
    rest = html.replace(bundle, "")
    assert not re.search(r"<script[^>]*\bsrc=", rest)  # no CDN
    assert not re.search(r"<link[^>]*\bhref=|\bsrc=\"https?:|https?://", rest)  # nothing from the network
    assert rest.count("<script") == 3  # plotly.js + one per chart


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
    res = mon.WarehouseResource(database_path=str(db))
    mon.record_distribution(res, "run-one", datetime(2026, 11, 1, 6))
    before = _lead_score_shares(db)
    con = duckdb.connect(str(db))
    try:
        con.execute("update marts.lead_scores set lead_score = least(100, lead_score * 1.25)")
    finally:
        con.close()
    after = _lead_score_shares(db)
    mon.record_distribution(res, "run-two", datetime(2026, 11, 2, 6))
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
    assert "10 charts" in capsys.readouterr().out
    assert report.main(["--database", str(tmp_path / "missing.duckdb"), "--out", str(out)]) == 1
    assert "build the warehouse first" in capsys.readouterr().err


def test_scoring_report_is_wired_downstream_of_the_marts_it_reads():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey("scoring_report"))
    expected = {dg.AssetKey(m) for m in REPORTED_MARTS} | {dg.AssetKey("score_distribution_history")}
    assert set(node.parent_keys) == expected
    assert all(graph.get(k).is_materializable for k in expected)  # the dbt marts, not dangling keys
    assert node.group_name == "reporting"
    assert dg.AssetKey("scoring_report") in defs.resolve_job_def("full_scoring_job").asset_layer.selected_asset_keys


def test_dagster_asset_writes_the_report_with_metadata(report_db, tmp_path):
    out = tmp_path / "asset_report.html"
    result = dg.materialize(
        [scoring_report], resources={"warehouse": mon.WarehouseResource(database_path=str(report_db["db"]))},
        run_config=dg.RunConfig(ops={"scoring_report": ReportConfig(out=str(out))}))
    assert result.success
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["chart count"].value == len(ALL_CHARTS)
    assert metadata["path"].value == str(out) and out.exists()
    assert scoring_report.op.pool == mon.POOL
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


def test_report_renders_in_headless_chromium(report_db, tmp_path):
    db = tmp_path / "hostile.duckdb"
    shutil.copy2(report_db["db"], db)
    con = duckdb.connect(str(db))
    try:  # a raw lead source with markup in it: must show as text, not run
        con.execute("update marts.channel_quality set lead_source = ? where lead_source = "
                    "(select min(lead_source) from marts.channel_quality)", [HOSTILE])
    finally:
        con.close()
    html_path = tmp_path / "scoring_report.html"
    assert report.main(["--database", str(db), "--out", str(html_path)]) == 0
    url = html_path.as_uri()

    dom = _chromium("--dump-dom", url).stdout
    slices = _chart_slices(dom)
    assert list(slices) == ALL_CHARTS
    rendered = [cid for cid, part in slices.items()
                if "js-plotly-plot" in part and 'class="main-svg"' in part and re.search(r'class="trace[ "]|class="hm"', part)]
    assert rendered == ALL_CHARTS, f"charts without a rendered plot: {sorted(set(ALL_CHARTS) - set(rendered))}"
    for cid in ALL_CHARTS:  # every chart drew data: bars/markers as points, lines, heat-map images and labels
        assert re.search(r'class="point"|<image[^>]*href="data:image|class="js-line"', slices[cid]), cid
    assert re.search(r'<meta name="chart-count" content="10"', dom)

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

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "scoring_report.png"
    shot.unlink(missing_ok=True)
    _chromium("--hide-scrollbars", "--window-size=1400,6400", f"--screenshot={shot}", url)
    assert shot.exists()
    assert _png_size(shot) == (1400, 6400)
    assert shot.stat().st_size > 150_000  # a blank page of this size compresses to a few kB
