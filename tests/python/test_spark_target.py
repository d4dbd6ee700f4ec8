"""The dbt project on Apache Spark (target `spark`, a local pyspark session) scores like DuckDB.

One small generated data set is loaded into a local Spark warehouse (lead_scoring/spark_local.py) and into a
copy of its DuckDB file; `dbt build` (seeds included) runs on Spark and `dbt build` on DuckDB, each in a subprocess
with its own target path. Every mart built on Spark must then agree with DuckDB's row for row, matched on the
key its unique tests declare: text, ids, hashes, grades, levels, stages and flags exactly, numbers within 1e-6.

Needs Java 17+ and pyspark: without them the tests fail (they are not skipped).
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import AS_OF, DBT, PROJECT_ROOT, dbt_vars, query
from warehouse_compare import assert_same_export_rows, export_file_rows, mart_keys

LEADS = 150
EVENTS_PER_LEAD = 15
SEED = 7
TOLERANCE = 1e-6
# Every mart is compared, matched on the key its unique tests declare (from the Spark build's manifest).
MARTS = sorted(path.stem for path in (PROJECT_ROOT / "models" / "marts").rglob("*.sql"))


def _require_spark() -> None:
    """Fail (never skip) when the Spark runtime is missing."""
    java = shutil.which("java") or (Path(os.environ["JAVA_HOME"]) / "bin" / "java"
                                    if os.environ.get("JAVA_HOME") else None)
    if not java or not Path(java).exists():
        pytest.fail("Java (17+) is not installed: the Spark target cannot be tested. `make engines` installs "
                    "Debian's openjdk-17-jre-headless (part of `make test`), or set JAVA_HOME.")
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"pyspark is not installed ({exc}): pip install -e '.[spark]' (part of the dev extra).")


def _run(cmd, env, what):
    proc = subprocess.run([str(c) for c in cmd], cwd=str(PROJECT_ROOT), env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-60:])
        pytest.fail(f"{what} failed with return code {proc.returncode}:\n{tail}\n{proc.stderr[-3000:]}")
    return proc


def _dbt_env(**extra) -> dict:
    env = dict(os.environ)
    env.update(DBT_PROFILES_DIR=str(PROJECT_ROOT), DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_USE_COLORS="false",
               DO_NOT_TRACK="1", **extra)
    return env


def _node_statuses(target_path: Path) -> dict[str, str]:
    results = json.loads((target_path / "run_results.json").read_text())
    return {r["unique_id"]: r["status"] for r in results["results"]}


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """Raw data in DuckDB and Spark; both built. Yields the paths and an open Spark session (stopped at the end)."""
    _require_spark()
    from lead_scoring import datagen

    root = tmp_path_factory.mktemp("spark_target")
    raw_db = root / "source.duckdb"
    datagen.generate(str(raw_db), leads=LEADS, events_per_lead=EVENTS_PER_LEAD, seed=SEED, as_of=AS_OF)
    duck_db = root / "duck.duckdb"
    shutil.copyfile(raw_db, duck_db)
    spark_dir = root / "spark"
    vars_arg = ["--vars", dbt_vars(AS_OF)]

    # Loader and dbt each open the Derby metastore in their own process, one after the other.
    spark_env = _dbt_env(LEAD_SCORING_TARGET="spark", LEAD_SCORING_SPARK_DIR=str(spark_dir))
    _run([sys.executable, "-m", "lead_scoring.spark_local", "load", "--database", raw_db], spark_env, "spark_local load")
    spark_target = root / "target_spark"
    common = ["--target-path", spark_target, "--log-path", root / "logs_spark"]
    # `dbt build` loads the seeds itself (first in its graph): a separate `dbt seed` before it cost a Spark start and
    # all 25 seeds again (about 50 s).
    spark_build = _run([DBT, "build", *common, "--exclude-resource-type", "unit_test", *vars_arg], spark_env, "dbt build (spark)")

    # The SLA replay's unit tests (breaches, pool recycling, returns to the previous owner, the reassignment cap) on
    # Spark: the generated data set is too small to breach an SLA at AS_OF.
    sla_target = root / "target_spark_sla"
    _run([DBT, "test", "--target-path", sla_target, "--log-path", root / "logs_spark", "--select",
          "lead_assignment_spells,resource_type:unit_test", *vars_arg], spark_env, "dbt unit tests (spark)")

    duck_target = root / "target_duckdb"
    duck_env = _dbt_env(LEAD_SCORING_TARGET="duckdb", LEAD_SCORING_DUCKDB_PATH=str(duck_db))
    _run([DBT, "build", "--target-path", duck_target, "--log-path", root / "logs_duckdb", "--exclude-resource-type",
          "unit_test", *vars_arg], duck_env, "dbt build (duckdb)")

    from lead_scoring.spark_local import spark_session

    spark = spark_session(spark_dir)
    try:
        yield dict(spark=spark, duck_db=duck_db, raw_db=raw_db, spark_target=spark_target, sla_target=sla_target,
                   spark_stdout=spark_build.stdout,
                   keys=mart_keys(json.loads((spark_target / "manifest.json").read_text())))
    finally:
        spark.stop()


def _normalise(value):
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def _spark_rows(spark, table: str) -> list[dict]:
    frame = spark.table(f"marts.{table}")
    # Timestamps as text in the session time zone (UTC), so no Python-side time zone conversion applies.
    columns = [f"date_format(`{f.name}`, 'yyyy-MM-dd HH:mm:ss.SSSSSS') as `{f.name}`"
               if f.dataType.typeName() in ("timestamp", "timestamp_ntz") else f"`{f.name}`"
               for f in frame.schema.fields]
    return [{k: _normalise(v) for k, v in row.asDict().items()} for row in frame.selectExpr(*columns).collect()]


def _duck_rows(db: Path, table: str) -> list[dict]:
    types = {r["column_name"]: r["data_type"] for r in query(
        db, "select column_name, data_type from information_schema.columns"
            " where table_schema = 'marts' and table_name = ?", [table])}
    columns = [f"strftime(\"{c}\", '%Y-%m-%d %H:%M:%S.%f') as \"{c}\"" if t.startswith("TIMESTAMP") else f'"{c}"'
               for c, t in types.items()]
    return [{k: _normalise(v) for k, v in row.items()}
            for row in query(db, f"select {', '.join(columns)} from marts.{table}")]


def _differences(duck: list[dict], spark: list[dict], key: tuple[str, ...]) -> tuple[list[str], float, int]:
    """Human-readable differences (at most 20), the largest numeric difference, the number of rows compared."""
    problems: list[str] = []
    by_key_duck = {tuple(r[k] for k in key): r for r in duck}
    by_key_spark = {tuple(r[k] for k in key): r for r in spark}
    assert len(by_key_duck) == len(duck) and len(by_key_spark) == len(spark), "grain is not unique"
    missing = sorted(set(by_key_duck) - set(by_key_spark), key=str)
    extra = sorted(set(by_key_spark) - set(by_key_duck), key=str)
    problems += [f"only on DuckDB: {k}" for k in missing[:10]]
    problems += [f"only on Spark: {k}" for k in extra[:10]]
    columns = set(duck[0]) if duck else set()
    if spark and set(spark[0]) != columns:
        problems.append(f"columns differ: DuckDB {sorted(columns)}, Spark {sorted(set(spark[0]))}")
    max_diff = 0.0
    for k in sorted(set(by_key_duck) & set(by_key_spark), key=str):
        d, s = by_key_duck[k], by_key_spark[k]
        for column in sorted(columns & set(s)):
            a, b = d[column], s[column]
            numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))
            if numeric:
                max_diff = max(max_diff, abs(float(a) - float(b)))
                same = abs(float(a) - float(b)) <= TOLERANCE
            else:
                same = a == b
            if not same and len(problems) < 20:
                problems.append(f"{k} {column}: DuckDB {a!r}, Spark {b!r}")
    return problems, max_diff, len(by_key_duck)


def test_local_session_has_the_profiles_spark_settings():
    """lead_scoring.spark_local opens the session the `spark` profile describes (same settings, same defaults)."""
    import yaml

    from lead_scoring.spark_local import session_config

    profile = yaml.safe_load((PROJECT_ROOT / "profiles.yml").read_text())
    parameters = profile["lead_scoring"]["outputs"]["spark"]["server_side_parameters"]
    config = session_config("/data/spark")
    assert set(config) == set(parameters) | {"spark.sql.ansi.enabled"}
    for key, value in parameters.items():
        if "{{" not in value:  # literal settings are equal; env-driven ones are checked by the builds below
            assert config[key] == value, key


def test_raw_tables_keep_their_types_and_rows(builds):
    from lead_scoring.datagen import TABLES

    spark = builds["spark"]
    expected_types = {"VARCHAR": "string", "TIMESTAMP": "timestamp", "DOUBLE": "double", "BOOLEAN": "boolean"}
    for table, columns in TABLES.items():
        fields = {f.name: f.dataType.simpleString() for f in spark.table(f"raw.{table}").schema.fields}
        assert fields == {name: expected_types[t] for name, t in columns}, table
        duck_count = query(builds["raw_db"], f"select count(*) as n from raw.{table}")[0]["n"]
        assert spark.table(f"raw.{table}").count() == duck_count > 0
    # Naive UTC timestamps do not shift on the way: the latest event load time is the same on both sides.
    spark_max = spark.sql("select date_format(max(_loaded_at), 'yyyy-MM-dd HH:mm:ss.SSSSSS') from raw.events").first()[0]
    duck_max = query(builds["raw_db"], "select strftime(max(_loaded_at), '%Y-%m-%d %H:%M:%S.%f') as m from raw.events")
    assert spark_max == duck_max[0]["m"]


def test_every_spark_node_built_and_passed(builds):
    statuses = _node_statuses(builds["spark_target"])
    bad = {node: status for node, status in statuses.items()
           if status not in ("success", "pass") and not node.startswith("exposure.")
           # rule-health checks warn by design when a rule fires on nearly every lead or almost none
           and not (status == "warn" and ".no_health_issue_" in node)}
    assert bad == {}
    # The build covered the scoring marts, the history tables and their tests.
    for model in ("lead_scores", "lead_score_reasons", "account_scores", "lead_score_snapshots",
                  "stg_crm__event_deliveries_ranked", "int_engagement_daily_points", "pipeline_reconciliation",
                  "lead_assignment_spells", "lead_assignment_transitions", "crm_lead_sync"):
        assert any(node.startswith("model.") and node.endswith(f".{model}") for node in statuses), model
    assert sum(node.startswith("test.") for node in statuses) > 150  # 155: one invariants test per model, ...


def test_sla_replay_unit_tests_pass_on_spark(builds):
    statuses = _node_statuses(builds["sla_target"])
    unit_tests = {node: status for node, status in statuses.items() if node.startswith("unit_test.")}
    assert len(unit_tests) >= 3 and all(node.split(".")[-2] == "lead_assignment_spells" for node in unit_tests)
    assert set(unit_tests.values()) == {"pass"}


@pytest.mark.parametrize("mart", MARTS)
def test_mart_matches_duckdb(builds, mart):
    duck = _duck_rows(builds["duck_db"], mart)
    spark = _spark_rows(builds["spark"], mart)
    if mart in ("lead_scores", "lead_score_reasons", "account_scores"):
        assert len(duck) > 0
    assert mart in builds["keys"], f"{mart} declares no unique key to match rows on"
    key = tuple(builds["keys"][mart])
    problems, max_diff, compared = _differences(duck, spark, key)
    print(f"{mart}: {compared} rows compared, max abs numeric difference {max_diff:.3g}")
    assert problems == []
    assert len(spark) == len(duck)


# ------------------------------------------------------------------------------------------------
# Monitoring on Spark (lead_scoring.warehouse, target spark), against DuckDB on the same data. These run after the
# mart comparisons: the drift test changes marts.lead_scores on both engines (last).
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def duck_copy(builds, tmp_path_factory):
    """A copy of the DuckDB build, for the monitoring writes (the marts compared above stay as built)."""
    path = tmp_path_factory.mktemp("spark_monitoring") / "duck.duckdb"
    shutil.copyfile(builds["duck_db"], path)
    return path


@pytest.fixture
def on_spark(builds, monkeypatch):
    """lead_scoring.warehouse on the module's Spark warehouse (its open session is reused, not stopped)."""
    from lead_scoring.warehouse import Warehouse

    monkeypatch.setenv("LEAD_SCORING_TARGET", "spark")
    return Warehouse(target="spark")


def test_freshness_on_spark_equals_direct_sql_and_duckdb(builds, on_spark, duck_copy):
    from lead_scoring.clock import format_timestamp, parse_instant
    from lead_scoring.monitoring import measure_freshness
    from lead_scoring.warehouse import Warehouse

    now = parse_instant(AS_OF)
    for table, columns in (("leads", ["_loaded_at"]), ("events", ["_loaded_at", "occurred_at"])):
        got = measure_freshness(on_spark, table, now)
        expected = measure_freshness(Warehouse(str(duck_copy), "duckdb"), table, now)
        assert got.severity == expected.severity and got.problems == expected.problems, (got, expected)
        for column in columns:
            condition = " and occurred_at <= _loaded_at" if column == "occurred_at" else ""
            newest = builds["spark"].sql(
                f"select date_format(max({column}), 'yyyy-MM-dd HH:mm:ss.SSSSSS') from raw.{table} "
                f"where {column} <= timestamp '{AS_OF}'{condition}").first()[0]
            assert newest is not None
            assert got.metadata[f"newest {column}"] == format_timestamp(newest) == expected.metadata[f"newest {column}"]


def test_sla_grading_on_spark_equals_duckdb_and_direct_sql(builds, on_spark, duck_copy):
    import duckdb

    from lead_scoring.sla import grade_all, read_breach_rates

    with on_spark.open() as db:
        spark_rows = read_breach_rates(db)
    con = duckdb.connect(str(duck_copy), read_only=True)
    try:
        duck_rows = read_breach_rates(con)
    finally:
        con.close()
    direct = {r[0]: r[1] for r in builds["spark"].sql(
        "select model_id, resolved_assignments from marts.routing_sla_breach_rate").collect()}
    assert spark_rows and {r["model_id"]: r["resolved_assignments"] for r in spark_rows} == direct
    spark_severity, spark_grades = grade_all(spark_rows)
    duck_severity, duck_grades = grade_all(duck_rows)
    assert spark_severity == duck_severity
    assert [(g.model_id, g.severity, g.summary) for g in spark_grades] == \
        [(g.model_id, g.severity, g.summary) for g in duck_grades]


def test_crm_export_on_spark_writes_duckdbs_files_and_records_its_state(builds, on_spark, duck_copy, tmp_path):
    from lead_scoring.clock import parse_instant
    from lead_scoring.crm_sync import export_crm_sync
    from lead_scoring.warehouse import Warehouse

    spark = builds["spark"]
    at = parse_instant("2026-11-01 02:00:00")
    listed = spark.sql("select count(*) from marts.crm_lead_sync").first()[0]
    with on_spark.open(read_only=False) as db:
        got = export_crm_sync(db, tmp_path / "spark", synced_at=at)
    with Warehouse(str(duck_copy), "duckdb").connect(read_only=False) as con:
        expected = export_crm_sync(con, tmp_path / "duck", synced_at=at)
    assert got.row_count == expected.row_count == listed > 0
    assert got.batch_id == expected.batch_id  # same rows, same sync hashes: same batch id and file names
    got_rows, expected_rows = export_file_rows(got.files), export_file_rows(expected.files)
    for ext in ("csv", "jsonl", "parquet"):
        assert len(got_rows[ext]) == listed
        assert_same_export_rows(got_rows[ext], expected_rows[ext], tolerance=TOLERANCE)
    state = spark.sql("select count(*), count(distinct batch_id) from crm_sync.crm_sync_state").first()
    assert tuple(state) == (got.row_count, 1)
    batches = [tuple(r) for r in spark.sql("select batch_id, batch_number, row_count from crm_sync.crm_sync_batches"
                                           ).collect()]
    assert batches == [(got.batch_id, 1, got.row_count)]
    assert spark.sql("select count(*) from marts.crm_lead_sync").first()[0] == 0
    with on_spark.open(read_only=False) as db:
        again = export_crm_sync(db, tmp_path / "spark")
    assert again.status == "nothing_to_sync"


def test_report_on_spark_shows_its_figures(builds, on_spark, tmp_path):
    from lead_scoring.report import _card, _num, write_report

    with on_spark.open() as db:
        path, page, data = write_report(db, tmp_path / "report.html")
    leads, mqls = builds["spark"].sql("select count(*), count_if(is_mql) from marts.lead_scores where model_id = "
                                      f"'{data.model_id}'").first()
    assert data.overview["leads"] == leads > 0 and data.overview["mql_leads"] == mqls
    html = path.read_text()
    assert _card("leads scored", _num(leads)) in html
    assert f'<div class="v">{_num(mqls)} (' in html
    assert len(page.charts) >= 5


def test_backfill_plans_from_the_newest_recorded_as_of_on_spark(builds, on_spark, duck_copy, monkeypatch, capsys):
    """The backfill's resume point on Spark equals direct SQL and DuckDB's, and `lead-scoring backfill --target
    spark --dry-run` plans from it: the instants at or before it are skipped, the later ones planned. (Its dbt
    runs are not run here: each costs minutes on Spark; PostgreSQL's test runs a real one.)"""
    import argparse
    import datetime

    from lead_scoring import backfill
    from lead_scoring.clock import format_as_of
    from lead_scoring.warehouse import Warehouse

    newest = builds["spark"].sql("select date_format(max(valid_from), 'yyyy-MM-dd HH:mm:ss.SSSSSS') "
                                 "from marts.lead_score_snapshots").first()[0]
    got = backfill.latest_recorded_as_of(on_spark)
    assert got is not None and got.isoformat(sep=" ", timespec="microseconds") == newest
    assert got == backfill.latest_recorded_as_of(Warehouse(str(duck_copy), "duckdb"))

    monkeypatch.setenv("DBT_PROFILES_DIR", str(PROJECT_ROOT))
    parser = argparse.ArgumentParser()
    backfill.add_arguments(parser)
    end = got.replace(hour=0, minute=0, second=0, microsecond=0) + datetime.timedelta(days=8)
    assert backfill.run(parser.parse_args(["--target", "spark", "--end", format_as_of(end), "--weeks", "2",
                                           "--dry-run"])) == 0
    out = capsys.readouterr().out
    instants = [end - datetime.timedelta(days=d) for d in (14, 7)]
    expected = [f"skip {format_as_of(i)}" if i <= datetime.datetime.fromisoformat(newest) else
                f"plan {format_as_of(i)}: dbt run" for i in instants]
    assert any(line.startswith("skip") for line in expected) and any(line.startswith("plan") for line in expected)
    for line in expected:
        assert line in out, out


def test_distribution_and_drift_on_spark_equal_duckdb(builds, on_spark, duck_copy):
    """Two recorded runs on each engine, the second after the same change of the scores (grade D leads removed):
    the same baseline and the same drift statistics on Spark as on DuckDB, and not all zero."""
    from lead_scoring.clock import parse_instant
    from lead_scoring.monitoring import MonitoringSettings, compare_runs, load_comparison, record_distribution
    from lead_scoring.warehouse import Warehouse

    duck = Warehouse(str(duck_copy), "duckdb")
    infos = {}
    for run_id, recorded_at in (("first", "2026-11-01 01:00:00"), ("second", "2026-11-01 02:00:00")):
        for name, wh in (("spark", on_spark), ("duckdb", duck)):
            if run_id == "second":
                with wh.open(read_only=False) as db:
                    # lead_scores is a view of int_scored_leads
                    db.delete_where("intermediate.int_scored_leads", "fit_grade = ?", ["D"])
            infos[name, run_id] = record_distribution(wh, run_id, recorded_at=parse_instant(recorded_at),
                                                      skip_repeated=False)
    counts = {r[0]: r[1] for r in builds["spark"].sql(
        "select model_id, count(*) from marts.lead_scores group by model_id").collect()}
    assert infos["spark", "second"]["lead_count"] == counts == infos["duckdb", "second"]["lead_count"]
    settings = MonitoringSettings()
    results = {}
    for name, wh in (("spark", on_spark), ("duckdb", duck)):
        with wh.open() as db:
            data = load_comparison(db, settings)
        assert data["current"] == "second" and data["baseline"] == ["first"], name
        results[name] = {model: compare_runs(m["baseline"], m["current"], settings, m["base_q"], m["cur_q"])
                         for model, m in data["models"].items()}
    assert set(results["spark"]) == set(results["duckdb"]) == set(counts)
    for model, expected in results["duckdb"].items():
        got = results["spark"][model]
        assert got.severity == expected.severity
        assert [(s.name, s.metric) for s in got.statistics] == [(s.name, s.metric) for s in expected.statistics]
        for a, b in zip(got.statistics, expected.statistics):
            assert a.value == pytest.approx(b.value, abs=1e-9), (model, a.name, a.metric)
        assert any(s.value > 0 for s in expected.statistics if s.name == "lead count change")
