"""The benchmark's parts at a tiny scale: appending events, the two peers against the mart, the table and JSON.

No timing is asserted (speed figures belong to `make benchmark`); these tests check that the benchmark measures
the right things: appended batches are what they claim (the hourly one on the scoring day of ``as_of``), the peers
score exactly like marts.lead_scores on a dbt-built warehouse with late and re-delivered events, the floor scores
leads, the node counts are those of the build, the hourly job's dbt selection is the Dagster job's, and the report
has one row per scale with its columns.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import sys

import duckdb
import pytest

from benchmarks import bench_pandas_peer, benchmark
from lead_scoring import clock, datagen

AS_OF = "2026-11-01 00:00:00"
SMALL = dict(leads=300, events_per_lead=20, days=120, as_of=AS_OF)
EVENT_COLUMNS = [c for c, _ in datagen.EVENTS_COLUMNS]
TINY_LEADS, TINY_EVENTS_PER_LEAD = 500, 8
# the columns, in its order
EXPECTED_COLUMNS = ["scale", "events", "full build s", "scoring s", "peak MiB", "rows/s", "hourly ratio",
                    "hourly job ratio", "daily ratio", "incr 1% ratio", "SQL-peer ratio", "floor ratio", "pandas ratio",
                    "nodes"]
RATIO_COLUMNS = ["hourly ratio", "hourly job ratio", "daily ratio", "incr 1% ratio", "SQL-peer ratio", "floor ratio",
                 "pandas ratio"]
# The tiny build is limited to the two scoring marts' models and seeds, so the hourly job's selection is too: its
# parts that those marts contain (dbt adds a second --select to the build's own).
TINY_HOURLY_JOB_SELECT = ["source:crm.events+,+lead_scores", "source:crm.events+,+lead_score_reasons"]


def _events(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(f"select {', '.join(EVENT_COLUMNS)} from raw.events").fetchall()
    finally:
        con.close()


def _sorted(rows):
    return sorted(rows, key=lambda r: tuple("" if v is None else str(v) for v in r))


# ------------------------------------------------------------------------------------------------ append_events
@pytest.fixture(scope="module")
def appended(tmp_path_factory):
    """Two identical warehouses and one with another seed, each given the same 5% batch (by arguments)."""
    base = tmp_path_factory.mktemp("append")
    dbs = {name: base / f"{name}.duckdb" for name in ("a", "b", "c")}
    for db in dbs.values():
        datagen.generate(str(db), seed=5, **SMALL)
    before = _events(dbs["a"])
    results = {
        "a": datagen.append_events(str(dbs["a"]), 0.05, seed=9, loaded_at="2026-11-02 00:00:00"),
        "b": datagen.append_events(str(dbs["b"]), 0.05, seed=9, loaded_at="2026-11-02 00:00:00"),
        "c": datagen.append_events(str(dbs["c"]), 0.05, seed=10, loaded_at="2026-11-02 00:00:00"),
    }
    return dbs, before, results


def test_append_events_is_deterministic_for_a_seed(appended):
    dbs, before, _ = appended
    a, b, c = (_sorted(_events(dbs[k])) for k in ("a", "b", "c"))
    assert a == b
    assert a != c  # another seed picks other templates and times
    assert len(a) > len(before)


def test_append_events_adds_the_requested_share(appended):
    dbs, before, results = appended
    after = _events(dbs["a"])
    assert len(after) - len(before) == round(len(before) * 0.05)
    assert results["a"]["appended"] == len(after) - len(before)
    assert results["a"]["events_before"] == len(before)


def test_appended_rows_land_later_and_mostly_recent_with_some_late(appended):
    dbs, before, _ = appended
    latest_before = max(r[8] for r in before if r[8] is not None)
    new = _new_rows(before, _events(dbs["a"]))
    landed = dt.datetime(2026, 11, 2)
    assert all(r[8] > latest_before for r in new)
    assert all(landed <= r[8] < landed + dt.timedelta(minutes=20) for r in new)
    fresh = [r for r in new if r[0].startswith("evx_")]
    assert all(r[4] <= landed for r in fresh)
    recent = [r for r in fresh if r[4] > landed - dt.timedelta(hours=6)]
    late = [r for r in fresh if r[4] <= landed - dt.timedelta(days=1)]
    assert len(recent) + len(late) == len(fresh)
    assert 0 < len(late) < 0.15 * len(fresh)
    assert all(r[4] >= landed - dt.timedelta(days=10) for r in late)


def test_redeliveries_repeat_existing_events_exactly(appended):
    dbs, before, results = appended
    new = _new_rows(before, _events(dbs["a"]))
    old_ids = {r[0] for r in before}
    again = [r for r in new if r[0] in old_ids]
    assert len(again) == results["a"]["redeliveries"] == round(len(new) * 0.02)
    assert len(again) > 0
    old_content = {r[:8] for r in before}  # everything but _loaded_at
    assert all(r[:8] in old_content for r in again)
    fresh_ids = [r[0] for r in new if r[0] not in old_ids]
    assert len(fresh_ids) == len(set(fresh_ids)) == len(new) - len(again)


def test_append_events_refuses_an_earlier_landing(appended):
    dbs, _, _ = appended
    with pytest.raises(ValueError, match="later than the latest _loaded_at"):
        datagen.append_events(str(dbs["c"]), 0.01, seed=1, loaded_at="2026-10-01 00:00:00")


def _new_rows(before, after):
    """Rows of `after` that are not in `before` (multiset difference)."""
    remaining = {}
    for r in before:
        remaining[r] = remaining.get(r, 0) + 1
    out = []
    for r in after:
        if remaining.get(r):
            remaining[r] -= 1
        else:
            out.append(r)
    return out


# ------------------------------------------------------------------------------------------------ a tiny run
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One benchmark run at a tiny scale. The builds are limited to the models and seeds of the two scoring
    marts (data tests are the bulk of a full build's nodes), so the test stays short."""
    work = tmp_path_factory.mktemp("bench")
    code = benchmark.main([
        "--leads", str(TINY_LEADS), "--events-per-lead", str(TINY_EVENTS_PER_LEAD), "--work-dir", str(work),
        "--pandas-max-gib", "4", "--keep",
        "--build-arg=--select", "--build-arg=+lead_scores +lead_score_reasons",
        "--build-arg=--resource-type", "--build-arg=model", "--build-arg=--resource-type", "--build-arg=seed",
        "--hourly-job-select", *TINY_HOURLY_JOB_SELECT,
    ])
    return code, work


def test_benchmark_writes_one_row_per_scale_with_the_columns(tiny_run):
    code, work = tiny_run
    assert code == 0
    report = json.loads((work / "benchmark.json").read_text())
    assert report["columns"] == EXPECTED_COLUMNS
    assert len(report["rows"]) == 1
    row = report["rows"][0]
    assert list(row) == EXPECTED_COLUMNS
    assert row["scale"] == TINY_LEADS
    generated = duckdb.connect(str(work / f"leads_{TINY_LEADS}" / "generated.duckdb"), read_only=True)
    try:
        raw_events, raw_leads = generated.execute(
            "select (select count(*) from raw.events), (select count(*) from raw.leads)").fetchone()
    finally:
        generated.close()
    assert row["events"] == raw_events
    for column in ("full build s", "scoring s", "peak MiB", "rows/s", "nodes", *RATIO_COLUMNS):
        assert isinstance(row[column], (int, float)) and row[column] > 0, column
    assert math.isclose(row["rows/s"], (raw_events + raw_leads) / row["full build s"], rel_tol=0.01)
    details = report["details"][0]
    # the hourly batch comes first: the daily one is 0.1% of the events after it
    assert details["incr_1_appended"] == round((raw_events + details["hourly_appended"]) * 0.001)
    # the no-op skips dbt: it takes a fraction of the rebuild before it (which runs every node again)
    assert 0 < details["noop_s"] < details["rebuild_s"] / 2 and details["noop_peak_mib"] > 0
    assert math.isclose(row["daily ratio"], details["incr_1_s"] / row["full build s"], rel_tol=0.02)
    assert math.isclose(row["hourly ratio"], details["hourly_s"] / row["full build s"], rel_tol=0.02)
    assert math.isclose(row["hourly job ratio"], details["hourly_job_s"] / row["full build s"], rel_tol=0.02)
    assert math.isclose(row["floor ratio"], row["full build s"] / details["floor_s"], rel_tol=0.02)
    assert report["settings"]["hourly_job_select"] == TINY_HOURLY_JOB_SELECT
    assert 0 < len(report["slowest_nodes"]) <= 10
    assert report["slowest_nodes"] == sorted(report["slowest_nodes"], key=lambda n: -n["seconds"])
    assert len(report["checks"]) == 4
    assert all(": equal on" in line for line in report["checks"][:2])
    # every timed dbt run started from the saved parse, as production runs (the as_of in the environment)
    assert details["full_parse_logs"] == [] and "every timed dbt run reused it" in report["checks"][2]
    assert f"single-query floor: engagement points of {details['floor_leads']:,} leads" in report["checks"][3]
    assert report["machine"]["nproc"] >= 1


def test_benchmark_prints_the_same_table(tiny_run):
    _, work = tiny_run
    report = json.loads((work / "benchmark.json").read_text())
    lines = report["table"].splitlines()
    assert [c.strip() for c in lines[0].split(" | ")] == EXPECTED_COLUMNS
    assert len(lines) == 3  # header, rule, one scale
    cells = [c.strip() for c in lines[2].split(" | ")]
    assert cells[0] == f"{TINY_LEADS:,}"
    # every cell of the table is the JSON's value, as the table formats it
    assert cells == [benchmark._cell(report["rows"][0][c]) for c in EXPECTED_COLUMNS]


def test_hourly_rows_are_appended_on_the_scoring_day_of_as_of(tiny_run):
    """The hourly batch lands hours after as_of on its day and is built at a clock of that day, before the daily
    batch of the next day; it has rows even at this tiny scale."""
    _, work = tiny_run
    details = json.loads((work / "benchmark.json").read_text())["details"][0]
    assert details["hourly_appended"] > 0
    as_of_day = clock.parse_instant(AS_OF).date()
    landed, built = clock.parse_instant(details["hourly_landed"]), clock.parse_instant(details["hourly_as_of"])
    assert clock.parse_instant(AS_OF) < landed < built and landed.date() == built.date() == as_of_day
    con = duckdb.connect(str(work / f"leads_{TINY_LEADS}" / "full_build.duckdb"), read_only=True)
    try:
        rows = con.execute("select min(_loaded_at), max(_loaded_at), count(*) from raw.events "
                           "where _loaded_at >= ? and _loaded_at < ? + interval 1 day",
                           [landed, dt.datetime.combine(as_of_day, dt.time())]).fetchone()
        later = con.execute("select min(_loaded_at) from raw.events where _loaded_at > ?", [rows[1]]).fetchone()[0]
    finally:
        con.close()
    first, last, count = rows
    assert count == details["hourly_appended"]
    assert landed <= first and last < built and last.date() == as_of_day
    assert later.date() > as_of_day  # the next batch (the daily run's) lands on a later day


def test_the_floor_scores_leads_from_the_raw_events(tiny_run):
    _, work = tiny_run
    details = json.loads((work / "benchmark.json").read_text())["details"][0]
    con = duckdb.connect(str(work / f"leads_{TINY_LEADS}" / "score.duckdb"), read_only=True)
    try:
        leads, distinct, engaged, raw_leads = con.execute(f"""
            select count(*), count(distinct lead_id), count(*) filter (where engagement_points > 0),
                   (select count(distinct lead_id) from raw.events)
            from {benchmark.FLOOR_TABLE}
        """).fetchone()
    finally:
        con.close()
    assert details["floor_leads"] == leads == distinct > 0
    assert 0 < engaged <= leads <= raw_leads


def test_node_counts_are_the_nodes_the_build_ran(tiny_run):
    _, work = tiny_run
    report = json.loads((work / "benchmark.json").read_text())
    counts = report["node_counts"][0]
    results = json.loads((work / f"leads_{TINY_LEADS}" / "target_full" / "run_results.json").read_text())["results"]
    assert counts["total"] == report["rows"][0]["nodes"] == len(results)
    assert sum(v for k, v in counts.items() if k not in ("scale", "total")) == counts["total"]
    assert counts["model"] > 0 and counts["seed"] > 0  # the tiny build selects only models and seeds
    assert counts["test"] == 0
    nodes_line = [line for line in report["aims"] if "nodes in the production build" in line]
    assert len(nodes_line) == 1 and f"{counts['total']:,} nodes" in nodes_line[0]


def _selected_by(manifest: dict, selectors) -> set[str]:
    """The models and seeds dbt selects for the forms HOURLY_JOB_SELECT uses (``source:<s>.<t>+`` and
    ``path:<dir>``), from the manifest's child map."""
    out: set[str] = set()
    for selector in selectors:
        method, _, value = selector.partition(":")
        if method == "source" and value.endswith("+"):
            source, table = value[:-1].split(".")
            stack = [f"source.lead_scoring.{source}.{table}"]
            while stack:
                for child in manifest["child_map"].get(stack.pop(), []):
                    if child not in out:
                        out.add(child)
                        stack.append(child)
        elif method == "path":
            roots = {uid for uid, n in manifest["nodes"].items()
                     if n["original_file_path"].startswith(value.removesuffix("+"))}
            out |= roots
            stack = list(roots) if value.endswith("+") else []
            while stack:
                for child in manifest["child_map"].get(stack.pop(), []):
                    if child not in out:
                        out.add(child)
                        stack.append(child)
        else:
            raise AssertionError(f"a selector form this test does not read: {selector}")
    return {manifest["nodes"][uid]["name"] for uid in out
            if uid in manifest["nodes"] and manifest["nodes"][uid]["resource_type"] in ("model", "seed")}


def test_the_hourly_job_selection_is_the_dagster_jobs(tiny_run):
    """HOURLY_JOB_SELECT selects the dbt models and seeds of engagement_refresh_job, the hourly schedule's job."""
    from orchestration.defs.dbt import assets as dbt_assets
    from orchestration.definitions import defs

    _, work = tiny_run
    manifest = json.loads((work / f"leads_{TINY_LEADS}" / "target_full" / "manifest.json").read_text())
    selected = defs.resolve_job_def("engagement_refresh_job").asset_layer.selected_asset_keys
    job_dbt = {key.path[-1] for key in selected & set(dbt_assets.lead_scoring_dbt_assets.keys)}
    from orchestration.defs.dbt import jobs

    evidence = jobs.EVIDENCE_DBT_SELECT.split()
    assert benchmark.HOURLY_JOB_EXCLUDE == ("tag:audit", *evidence)
    excluded = _selected_by(manifest, evidence)
    assert {"score_calibration", "scoring_rule_health", "int_lead_outcomes"} <= excluded
    assert job_dbt and _selected_by(manifest, benchmark.HOURLY_JOB_SELECT) - excluded == job_dbt
    # its --exclude leaves out the tests the job leaves out: the whole-table audits
    audits = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "test" and "audit" in n["tags"]}
    assert audits and audits == {key.name for key in jobs.AUDIT_CHECKS}
    job_checks = defs.resolve_job_def("engagement_refresh_job").asset_layer.asset_graph.asset_check_keys
    assert not audits & {key.name for key in job_checks}


# ------------------------------------------------------------------------------------------------ the peers
def _mart(con):
    rows = con.execute("""
        select lead_id, fit_score, fit_grade, engagement_score, engagement_level, matrix_cell, lead_score,
               lifecycle_stage
        from marts.lead_scores where model_id = 'default'
    """).fetchall()
    return {r[0]: r for r in rows}


def _assert_same_scores(mart: dict, peer_rows, label):
    peer = {r[0]: r for r in peer_rows}
    assert set(peer) == set(mart), f"{label}: other leads than the mart"
    for lead_id, m in mart.items():
        p = peer[lead_id]
        for i in (1, 3, 6):  # fit, engagement, lead score
            assert abs(m[i] - p[i]) <= 1e-6, (label, lead_id, i, m, p)
        for i in (2, 4, 5, 7):  # grade, level, cell, stage
            assert m[i] == p[i], (label, lead_id, i, m, p)


def _later_clock():
    return clock.format_as_of(clock.parse_instant(AS_OF) + dt.timedelta(days=2, hours=1))


def test_the_mart_under_the_peers_is_worth_comparing(tiny_run):
    """The warehouse the peers are checked on was built by dbt at the last incremental clock, after batches with
    late events and re-deliveries, and it spreads over grades, levels and stages."""
    _, work = tiny_run
    con = duckdb.connect(str(work / f"leads_{TINY_LEADS}" / "full_build.duckdb"), read_only=True)
    try:
        scored_at, cells, stages, engaged, repeated = con.execute(f"""
            select max(scored_at), count(distinct matrix_cell), count(distinct lifecycle_stage),
                   count(*) filter (where engagement_score > 0),
                   (select count(*) from (select event_id from raw.events group by 1 having count(*) > 1))
            from marts.lead_scores
        """).fetchone()
    finally:
        con.close()
    assert f"{scored_at:%Y-%m-%d %H:%M:%S}" == _later_clock()
    assert cells >= 6 and stages >= 3 and engaged > 50 and repeated > 0


def test_sql_peer_equals_lead_scores(tiny_run):
    _, work = tiny_run
    db = work / f"leads_{TINY_LEADS}" / "full_build.duckdb"
    assert benchmark.run_sql_peer(str(db), _later_clock(), table="bench.test_sql_peer") > 0
    con = duckdb.connect(str(db), read_only=True)
    try:
        mart = _mart(con)
        peer = con.execute("select lead_id, fit_score, fit_grade, engagement_score, engagement_level, matrix_cell, "
                           "lead_score, lifecycle_stage from bench.test_sql_peer").fetchall()
    finally:
        con.close()
    _assert_same_scores(mart, peer, "SQL peer")


def test_pandas_peer_equals_lead_scores(tiny_run):
    _, work = tiny_run
    db = work / f"leads_{TINY_LEADS}" / "full_build.duckdb"
    con = duckdb.connect(str(db))
    try:
        frame = bench_pandas_peer.score(con, _later_clock())
        mart = _mart(con)
    finally:
        con.close()
    rows = [tuple(None if isinstance(v, float) and math.isnan(v) else v for v in r)
            for r in frame.itertuples(index=False, name=None)]
    _assert_same_scores(mart, rows, "pandas peer")


# ------------------------------------------------------------------------------------------------ a peer that does not fit
OUT_OF_MEMORY_SCRIPT = """
import duckdb
con = duckdb.connect()
con.execute("set memory_limit = '20MB'")
con.execute("set temp_directory = ''")  # no spilling: the limit holds
con.execute("select count(*) from (select cast(x as varchar) as s, count(*) from range(5000000) t(x) group by 1)")
"""


def test_a_peer_out_of_duckdb_memory_is_recognised(tmp_path):
    """A real DuckDB out-of-memory failure, in its own process as the SQL peer runs, is read as 'out of memory'."""
    run = benchmark.run_measured([sys.executable, "-c", OUT_OF_MEMORY_SCRIPT], log_path=tmp_path / "peer.log")
    assert run.returncode != 0
    assert benchmark.resource_failure(run.output) == "out of memory"
    assert "Out of Memory Error" in benchmark._last_error_line(run.output)


def test_any_other_peer_failure_is_not_taken_for_a_resource_limit(tmp_path):
    run = benchmark.run_measured([sys.executable, "-c", "import duckdb; duckdb.sql('select * from no_such_table')"],
                                 log_path=tmp_path / "peer.log")
    assert run.returncode != 0
    assert benchmark.resource_failure(run.output) is None


def test_the_report_says_which_peer_did_not_finish_and_that_its_aim_was_not_measured():
    row = {"scale": 1_000_000, "full build s": 700.0, "scoring s": 300.0, "peak MiB": 6500,
           "hourly ratio": 0.02, "hourly job ratio": 0.01, "daily ratio": 0.37,
           "SQL-peer ratio": "out of memory after 575 s", "sql_peer_check": None,
           "pandas ratio": "skipped: needs ~110 GiB", "pandas_check": None,
           "floor ratio": "out of memory after 80 s", "floor_leads": None,
           "nodes": 400, "node_counts": {"model": 100, "seed": 20, "test": 274, "operation": 6, "total": 400}}
    small = {"scale": 10_000, "full build s": 20.0, "scoring s": 5.0, "peak MiB": 600, "noop_s": 12.5}
    row["noop_s"] = 9.0
    checks = benchmark.check_lines([row])
    assert checks == [
        "1,000,000 leads: SQL peer: no scores to compare (out of memory after 575 s)",
        "1,000,000 leads: pandas peer: no scores to compare (skipped: needs ~110 GiB)",
        "1,000,000 leads: single-query floor: did not finish (out of memory after 80 s)",
    ]
    aims = benchmark.aim_lines([row])
    assert any(a.startswith("  pass  no-op run") and "9.0 s at 1,000,000 leads" in a for a in aims)
    # the no-op aim holds at any scale: a slow no-op at a smaller scale fails it
    assert any(a.startswith("  FAIL  no-op run") and "12.5 s at 10,000 leads" in a
               for a in benchmark.aim_lines([small, row]))
    assert any("full build / SQL peer: not measured, the SQL peer did not finish (out of memory after 575 s)" in a
               for a in aims)
    assert any(a.startswith("  pass  hourly run (+0.01%, same day), dbt build = 2.0%") for a in aims)  # <= 3%
    assert any(a.startswith("  pass  hourly run, the hourly job's selection = 1.0%") for a in aims)
    assert any(a.startswith("  FAIL  daily run (+0.1%, next day) = 37.0%") for a in aims)  # > 10%
    assert any(a.startswith("  FAIL  400 nodes") for a in aims)  # 400 > 350
    assert any(a.startswith("  pass  peak memory") for a in aims)
    assert any(a.startswith("  info  full build / single-query floor: not measured") for a in aims)
    assert "out of memory after 575 s" in benchmark.format_table([row]).splitlines()[2]
