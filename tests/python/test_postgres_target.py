"""The same project on PostgreSQL, for real: a throw-away PostgreSQL server (Debian's binaries, installed when
missing; tests/python/pg_server.py), the raw data of the session's DuckDB warehouse copied into it
(lead_scoring.raw_copy), the full `dbt build` with the postgres target (unit and data tests included), then:

- every mart equals DuckDB's, row for row, matched on the mart's key: text, grades, levels, cells, stages,
  booleans, dates and timestamps exactly, numbers within 1e-6 (ids and hashes are text, so exact);
- after a landing of new events and re-deliveries, the incremental build at a later as_of on each engine
  still gives equal marts (the incremental path, history appends included, runs on PostgreSQL too);
- the BI reader role can read the marts and nothing else: not raw, staging, intermediate, rules, the CRM sync
  state, nor the quarantine marts;
- the monitoring runs on PostgreSQL (lead_scoring.warehouse, target postgres) as on DuckDB, on the same data: raw
  freshness, the score distribution of the full and of the incremental run and their drift statistics, the SLA
  grading, the CRM export (files, state, a second export with nothing to send), the report, and a one-week
  backfill; expected values come from DuckDB's run on the same data or from direct SQL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import AS_OF, DBT, PROJECT_ROOT, assert_dbt_ok, query, run_dbt
from pg_server import start_server, stop_server
from warehouse_compare import assert_same_export_rows, compare_rows, export_file_rows, mart_keys

DATABASE = "lead_scoring"
BI_ROLE = "bi_reader_test"
LATER_AS_OF = "2026-11-02 00:00:00"
APPEND_LOADED_AT = "2026-11-01 06:00:00"
QUARANTINE_MARTS = {"quarantined_leads", "quarantined_events", "quarantined_opportunities"}
# Marts the BI role may not read: the quarantine (raw rows, PII) and the funnel stages (return_reason, free text a
# sales rep typed); dbt_project.yml grants them to nobody (docs/privacy.md).
UNGRANTED_MARTS = QUARANTINE_MARTS | {"lead_funnel_stages"}


def mart_names() -> list[str]:
    """Every model under models/marts (one .sql file per model)."""
    return sorted(path.stem for path in (PROJECT_ROOT / "models" / "marts").rglob("*.sql"))


MARTS = mart_names()


# The env of the profile's postgres target (lead_scoring.warehouse reads the same variables).
def pg_env(server) -> dict[str, str]:
    return dict(LEAD_SCORING_TARGET="postgres", LEAD_SCORING_PG_HOST="127.0.0.1", LEAD_SCORING_PG_PORT=str(server.port),
                LEAD_SCORING_PG_USER=server.superuser, LEAD_SCORING_PG_DATABASE=DATABASE,
                LEAD_SCORING_PG_SSLMODE="disable", LEAD_SCORING_BI_READER_ROLE=BI_ROLE)


FIRST_RUN, SECOND_RUN = "full build", "incremental build"
FIRST_RECORDED, SECOND_RECORDED = "2026-11-01 01:00:00", "2026-11-02 01:00:00"


def record_on_both(server, duckdb_path: Path, run_id: str, recorded_at: str) -> dict:
    """Record the current score distribution as `run_id` on PostgreSQL and on the DuckDB file (same clock)."""
    from lead_scoring.clock import parse_instant
    from lead_scoring.monitoring import record_distribution
    from lead_scoring.warehouse import Warehouse

    at = parse_instant(recorded_at)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in pg_env(server).items():
            mp.setenv(key, value)
        pg = record_distribution(Warehouse(target="postgres"), run_id, recorded_at=at)
    duck = record_distribution(Warehouse(str(duckdb_path), target="duckdb"), run_id, recorded_at=at)
    return dict(postgres=pg, duckdb=duck)


def run_dbt_postgres(server, *args, vars=None, target_path: Path, log_path: Path):
    cmd = [str(DBT), *map(str, args), "--target-path", str(target_path), "--log-path", str(log_path)]
    if vars is not None:
        from lead_scoring.clock import dbt_vars

        cmd += ["--vars", dbt_vars(vars["as_of"])]
    env = dict(
        os.environ,
        DBT_PROFILES_DIR=str(PROJECT_ROOT),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DBT_USE_COLORS="false",
        LEAD_SCORING_TARGET="postgres",
        LEAD_SCORING_PG_HOST="127.0.0.1",
        LEAD_SCORING_PG_PORT=str(server.port),
        LEAD_SCORING_PG_USER=server.superuser,
        LEAD_SCORING_PG_DATABASE=DATABASE,
        LEAD_SCORING_PG_SSLMODE="disable",
        LEAD_SCORING_BI_READER_ROLE=BI_ROLE,
    )
    return subprocess.run(cmd, cwd=str(PROJECT_ROOT), env=env, capture_output=True, text=True)


def read_marts_duckdb(db_path: Path) -> dict[str, tuple[list[str], list[tuple]]]:
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        out = {}
        for mart in MARTS:
            cur = con.execute(f"select * from marts.{mart}")
            out[mart] = ([d[0] for d in cur.description], cur.fetchall())
        return out
    finally:
        con.close()


def read_marts_postgres(server) -> dict[str, tuple[list[str], list[tuple]]]:
    import psycopg2

    con = psycopg2.connect(server.dsn(DATABASE))
    try:
        out = {}
        with con.cursor() as cur:
            for mart in MARTS:
                cur.execute(f"select * from marts.{mart}")
                out[mart] = ([d[0] for d in cur.description], cur.fetchall())
        return out
    finally:
        con.close()


def load_raw(server, duckdb_path: Path) -> None:
    from lead_scoring.raw_copy import copy_to_postgres

    copy_to_postgres(duckdb_path, server.dsn(DATABASE))


@pytest.fixture(scope="module")
def postgres():
    server = start_server()
    try:
        server.execute(f"create database {DATABASE}")
        server.execute(f"create role {BI_ROLE} login")
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="module")
def full_build(postgres, warehouse, tmp_path_factory):
    """The session's DuckDB warehouse (2,500 leads, built at AS_OF) and the same raw data built on PostgreSQL."""
    root = tmp_path_factory.mktemp("postgres_full")
    load_raw(postgres, warehouse.db_path)
    proc = run_dbt_postgres(postgres, "build", vars={"as_of": AS_OF}, target_path=root / "target",
                            log_path=root / "logs")
    assert_dbt_ok(proc, "dbt build on postgres")
    import json

    manifest = json.loads((root / "target" / "manifest.json").read_text())
    return dict(
        proc=proc,
        run_results=json.loads((root / "target" / "run_results.json").read_text()),
        keys=mart_keys(manifest),
        duckdb=read_marts_duckdb(warehouse.db_path),
        postgres=read_marts_postgres(postgres),
    )


@pytest.fixture(scope="module")
def incremental_build(full_build, postgres, warehouse, tmp_path_factory):
    """A landing of 1% new events (late ones and re-deliveries among them) on a copy of the DuckDB warehouse and
    on PostgreSQL, then an incremental `dbt build` at a later as_of on each."""
    from lead_scoring import datagen

    root = tmp_path_factory.mktemp("postgres_incremental")
    db_copy = root / "wh.duckdb"
    shutil.copy(warehouse.db_path, db_copy)
    # The monitoring's first run: the full build's score distribution, recorded on both engines before the landing.
    first = record_on_both(postgres, db_copy, FIRST_RUN, FIRST_RECORDED)
    appended = datagen.append_events(str(db_copy), 0.01, seed=5, loaded_at=APPEND_LOADED_AT)
    load_raw(postgres, db_copy)
    duck = run_dbt(PROJECT_ROOT, db_copy, "build", "--exclude-resource-type", "unit_test",
                   vars={"as_of": LATER_AS_OF}, target_path=root / "target_duckdb", log_path=root / "logs_duckdb")
    assert_dbt_ok(duck, "incremental dbt build on duckdb")
    proc = run_dbt_postgres(postgres, "build", "--exclude-resource-type", "unit_test", vars={"as_of": LATER_AS_OF},
                            target_path=root / "target", log_path=root / "logs")
    assert_dbt_ok(proc, "incremental dbt build on postgres")
    return dict(
        appended=appended,
        proc=proc,
        duckdb=read_marts_duckdb(db_copy),
        postgres=read_marts_postgres(postgres),
        db_copy=db_copy,
        first_run=first,
        root=root,
    )


def assert_mart_equal(build: dict, keys: dict, mart: str) -> None:
    columns, duck_rows = build["duckdb"][mart]
    pg_columns, pg_rows = build["postgres"][mart]
    assert pg_columns == columns, f"{mart}: columns differ"
    diff = compare_rows(mart, columns, duck_rows, pg_rows, keys.get(mart, columns), tolerance=1e-6)
    assert diff.equal, diff.summary()


def test_the_postgres_build_runs_every_node(full_build):
    """Models, seeds, data tests and unit tests all ran on PostgreSQL, none skipped, none failing, none warning but
    the rule-health checks."""
    results = full_build["run_results"]["results"]
    by_type: dict[str, int] = {}
    for result in results:
        if result["unique_id"].startswith("exposure."):
            continue  # exposures are documentation; dbt reports them as no-op
        # rule-health checks warn by design when a rule fires on nearly every lead or almost none (docs/rule_health.md)
        allowed = ("success", "pass", "warn") if ".no_health_issue_" in result["unique_id"] else ("success", "pass")
        assert result["status"] in allowed, (result["unique_id"], result["status"], result["message"])
        kind = result["unique_id"].split(".")[0]
        by_type[kind] = by_type.get(kind, 0) + 1
    assert by_type.get("model", 0) >= 70 and by_type.get("test", 0) >= 150, by_type
    # one invariants test per model (tests/generic/invariants.sql) holds the plain per-column checks
    assert sum(".invariants_" in r["unique_id"] for r in results) >= 80
    assert by_type.get("unit_test", 0) >= 50 and by_type.get("seed", 0) >= 20, by_type


def test_lead_scores_are_not_empty(full_build):
    columns, rows = full_build["postgres"]["lead_scores"]
    assert len(rows) > 2000, len(rows)
    assert {"fit_grade", "engagement_level", "matrix_cell", "lifecycle_stage", "lead_score"} <= set(columns)


@pytest.mark.parametrize("mart", MARTS)
def test_full_build_mart_equals_duckdb(full_build, mart):
    assert_mart_equal(full_build, full_build["keys"], mart)


@pytest.mark.parametrize("mart", MARTS)
def test_incremental_build_mart_equals_duckdb(incremental_build, full_build, mart):
    assert_mart_equal(incremental_build, full_build["keys"], mart)


def test_the_incremental_run_scored_the_new_events(incremental_build, full_build):
    """The landing reached the scores: some lead's engagement changed between the two runs on PostgreSQL."""
    assert incremental_build["appended"]["new_events"] > 0, incremental_build["appended"]
    columns, before = full_build["postgres"]["lead_scores"]
    _, after = incremental_build["postgres"]["lead_scores"]
    at = columns.index("lead_score_id"), columns.index("engagement_score")
    before_by_id = {row[at[0]]: row[at[1]] for row in before}
    changed = [row[at[0]] for row in after if before_by_id.get(row[at[0]]) != row[at[1]]]
    assert changed, "no lead's engagement score changed after the landing"
    history = incremental_build["postgres"]["lead_score_snapshots"][1]
    assert len(history) > len(full_build["postgres"]["lead_score_snapshots"][1])


def test_bi_reader_reads_the_marts_and_nothing_else(full_build, postgres):
    import psycopg2

    admin = psycopg2.connect(postgres.dsn(DATABASE))
    try:
        with admin.cursor() as cur:
            cur.execute(
                "select table_schema, table_name from information_schema.tables"
                " where table_schema not in ('pg_catalog', 'information_schema') order by 1, 2"
            )
            relations = cur.fetchall()
    finally:
        admin.close()
    schemas = {schema for schema, _ in relations}
    assert {"raw", "staging", "intermediate", "marts", "rules", "crm_sync"} <= schemas, schemas

    readable, refused = [], []
    reader = psycopg2.connect(postgres.dsn(DATABASE, user=BI_ROLE))
    reader.autocommit = True
    try:
        for schema, name in relations:
            with reader.cursor() as cur:
                try:
                    cur.execute(f'select count(*) from "{schema}"."{name}"')
                    cur.fetchone()
                    readable.append((schema, name))
                except psycopg2.errors.InsufficientPrivilege:
                    refused.append((schema, name))
    finally:
        reader.close()

    expected_readable = sorted(("marts", mart) for mart in MARTS if mart not in UNGRANTED_MARTS)
    assert sorted(readable) == expected_readable
    assert {("marts", mart) for mart in UNGRANTED_MARTS} <= set(refused)
    assert any(schema == "raw" for schema, _ in refused) and any(schema == "intermediate" for schema, _ in refused)


# ------------------------------------------------------------------------------------------------
# Monitoring on PostgreSQL (after the incremental build: both engines hold the same later data)
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def on_postgres(postgres, monkeypatch):
    """lead_scoring.warehouse pointed at the test server (env of the profile's postgres target)."""
    from lead_scoring.warehouse import Warehouse

    for key, value in pg_env(postgres).items():
        monkeypatch.setenv(key, value)
    return Warehouse(target="postgres")


def pg_query(server, sql: str, params=None) -> list[tuple]:
    import psycopg2

    con = psycopg2.connect(server.dsn(DATABASE))
    try:
        with con.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        con.close()


def test_freshness_on_postgres_equals_direct_sql_and_duckdb(incremental_build, on_postgres, postgres):
    from lead_scoring.clock import format_timestamp, parse_instant
    from lead_scoring.monitoring import measure_freshness
    from lead_scoring.warehouse import Warehouse

    now = parse_instant("2026-11-02 12:00:00")
    duck = Warehouse(str(incremental_build["db_copy"]), target="duckdb")
    for table, columns in (("leads", ["_loaded_at"]), ("events", ["_loaded_at", "occurred_at"])):
        got = measure_freshness(on_postgres, table, now)
        expected = measure_freshness(duck, table, now)
        assert got.severity == expected.severity and got.problems == expected.problems, (got, expected)
        for column in columns:
            condition = " and occurred_at <= _loaded_at" if column == "occurred_at" else ""
            newest = pg_query(postgres, f"select max({column}) from raw.{table} where {column} <= %s{condition}",
                              [now])[0][0]
            assert newest is not None
            assert got.metadata[f"newest {column}"] == format_timestamp(newest) == expected.metadata[f"newest {column}"]
            assert got.metadata[f"{column} age (hours)"] == round((now - newest).total_seconds() / 3600, 2)


def test_distribution_and_drift_on_postgres_equal_duckdb(incremental_build, on_postgres, postgres):
    """The full build's run (recorded before the landing) and the incremental build's run, compared on each engine:
    the same baseline, the same statistics (PSI per metric, KS, lead count and MQL rate changes)."""
    from lead_scoring.monitoring import MonitoringSettings, compare_runs, load_comparison
    from lead_scoring.warehouse import Warehouse

    first = incremental_build["first_run"]
    assert first["postgres"]["history_rows"] == first["duckdb"]["history_rows"] > 0
    second = record_on_both(postgres, incremental_build["db_copy"], SECOND_RUN, SECOND_RECORDED)
    assert second["postgres"]["lead_count"] == second["duckdb"]["lead_count"]
    # the recorded lead count and MQL rate are the mart's, counted directly
    counts = dict(pg_query(postgres, "select model_id, count(*) from marts.lead_scores group by model_id"))
    mqls = dict(pg_query(postgres, "select model_id, count(*) from marts.lead_scores where is_mql group by model_id"))
    assert second["postgres"]["lead_count"] == counts
    assert second["postgres"]["mql_rate"] == {m: round(mqls.get(m, 0) / n, 4) for m, n in counts.items()}

    settings = MonitoringSettings()
    results = {}
    for name, wh in (("postgres", on_postgres), ("duckdb", Warehouse(str(incremental_build["db_copy"]), "duckdb"))):
        with wh.open() as db:
            data = load_comparison(db, settings)
        assert data["current"] == SECOND_RUN and data["baseline"] == [FIRST_RUN], (name, data["current"])
        results[name] = {model: compare_runs(m["baseline"], m["current"], settings, m["base_q"], m["cur_q"])
                         for model, m in data["models"].items()}
    assert set(results["postgres"]) == set(results["duckdb"]) == set(counts)
    moved = 0.0
    for model, duck in results["duckdb"].items():
        pg = results["postgres"][model]
        assert pg.severity == duck.severity
        assert [(s.name, s.metric) for s in pg.statistics] == [(s.name, s.metric) for s in duck.statistics]
        for a, b in zip(pg.statistics, duck.statistics):
            assert a.value == pytest.approx(b.value, abs=1e-9), (model, a.name, a.metric)
            moved = max(moved, b.value if b.name == "PSI" else 0.0)
    assert moved > 0  # the landing moved some distribution: the statistics compared are not all zero


def test_sla_grading_on_postgres_equals_duckdb_and_direct_sql(incremental_build, on_postgres, postgres):
    from lead_scoring.sla import grade_all, read_breach_rates

    with on_postgres.open() as db:
        pg_rows = read_breach_rates(db)
    import duckdb

    con = duckdb.connect(str(incremental_build["db_copy"]), read_only=True)
    try:
        duck_rows = read_breach_rates(con)
    finally:
        con.close()
    assert pg_rows and len(pg_rows) == len(duck_rows)
    direct = dict(pg_query(postgres, "select model_id, breached_assignments from marts.routing_sla_breach_rate"))
    assert {r["model_id"]: r["breached_assignments"] for r in pg_rows} == direct
    pg_severity, pg_grades = grade_all(pg_rows)
    duck_severity, duck_grades = grade_all(duck_rows)
    assert pg_severity == duck_severity
    assert [(g.model_id, g.severity, g.summary) for g in pg_grades] == \
        [(g.model_id, g.severity, g.summary) for g in duck_grades]


def test_crm_export_on_postgres_writes_duckdbs_files_and_records_its_state(incremental_build, on_postgres, postgres,
                                                                          tmp_path):
    from lead_scoring.clock import parse_instant
    from lead_scoring.crm_sync import export_crm_sync
    from lead_scoring.warehouse import Warehouse

    at = parse_instant("2026-11-02 02:00:00")
    listed = pg_query(postgres, "select count(*) from marts.crm_lead_sync")[0][0]
    with on_postgres.open(read_only=False) as db:
        got = export_crm_sync(db, tmp_path / "pg", synced_at=at)
    with Warehouse(str(incremental_build["db_copy"]), "duckdb").connect(read_only=False) as con:
        expected = export_crm_sync(con, tmp_path / "duck", synced_at=at)
    assert got.status == expected.status == "synced"
    assert got.row_count == expected.row_count == listed > 0
    assert got.batch_id == expected.batch_id  # same rows, same sync hashes, same batch id and file names
    assert {e: Path(f).name for e, f in got.files.items()} == {e: Path(f).name for e, f in expected.files.items()}
    got_rows, expected_rows = export_file_rows(got.files), export_file_rows(expected.files)
    for ext in ("csv", "jsonl", "parquet"):
        assert_same_export_rows(got_rows[ext], expected_rows[ext], tolerance=1e-6)
    # the state is recorded in PostgreSQL: one state row per exported row, the batch logged, the view empty
    assert pg_query(postgres, "select count(*), count(distinct batch_id) from crm_sync.crm_sync_state") == \
        [(got.row_count, 1)]
    assert pg_query(postgres, "select batch_id, batch_number, row_count from crm_sync.crm_sync_batches") == \
        [(got.batch_id, 1, got.row_count)]
    assert pg_query(postgres, "select count(*) from marts.crm_lead_sync")[0][0] == 0
    with on_postgres.open(read_only=False) as db:
        again = export_crm_sync(db, tmp_path / "pg")
    assert again.status == "nothing_to_sync" and again.row_count == 0
    assert len(list((tmp_path / "pg").iterdir())) == 3


def test_report_on_postgres_shows_its_figures(incremental_build, on_postgres, postgres, tmp_path):
    from lead_scoring.report import _card, _num, write_report

    with on_postgres.open() as db:
        path, page, data = write_report(db, tmp_path / "report.html")
    leads, mqls = pg_query(postgres, "select count(*), count(*) filter (where is_mql) from marts.lead_scores "
                                     "where model_id = %s", [data.model_id])[0]
    assert data.overview["leads"] == leads > 0 and data.overview["mql_leads"] == mqls
    html = path.read_text()
    assert _card("leads scored", _num(leads)) in html
    assert f'<div class="v">{_num(mqls)} (' in html  # the MQL card: count (share)
    runs = pg_query(postgres, "select count(distinct run_id) from monitoring.score_distribution_history "
                              "where model_id = %s", [data.model_id])[0][0]
    assert runs >= 2 and len({r["run_id"] for r in data.history}) == runs
    assert len(page.charts) >= 5


def test_one_week_backfill_on_postgres_runs_dbt_and_records_the_run(incremental_build, on_postgres, postgres,
                                                                   tmp_path, monkeypatch, capsys):
    """`lead-scoring backfill --target postgres` a week past the incremental run: one dbt run of the history
    models at its instant, recorded in PostgreSQL's history; the newest as_of read back equals direct SQL."""
    from lead_scoring import backfill
    from lead_scoring.clock import parse_instant

    before = pg_query(postgres, "select max(valid_from) from marts.lead_score_snapshots")[0][0]
    assert backfill.latest_recorded_as_of(on_postgres) == before
    monkeypatch.setenv("DBT_PROFILES_DIR", str(PROJECT_ROOT))
    monkeypatch.delenv("LEAD_SCORING_TARGET")  # --target says it
    parser = __import__("argparse").ArgumentParser()
    backfill.add_arguments(parser)
    args = parser.parse_args(["--target", "postgres", "--end", "2026-11-10 00:00:00", "--weeks", "1", "--",
                              "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")])
    assert backfill.run(args) == 0, capsys.readouterr()
    at = parse_instant("2026-11-03 00:00:00")  # end - 1 week: the one instant after the history's newest run
    recorded = pg_query(postgres, "select distinct run_id, recorded_at from monitoring.score_distribution_history "
                                  "where run_id like 'backfill %'")
    assert recorded == [("backfill 2026-11-03 00:00:00", at)]
    newest = pg_query(postgres, "select max(valid_from) from marts.lead_score_snapshots")[0][0]
    assert newest == at > before
    assert backfill.latest_recorded_as_of(on_postgres) == newest
