"""A local Apache Spark warehouse for the dbt target ``spark`` (profiles.yml), and a loader of raw tables into it.

    lead-scoring raw-copy --target spark --database PATH.duckdb [--spark-dir DIR] [--schema raw]
    python -m lead_scoring.spark_local load --database PATH.duckdb [--spark-dir DIR] [--schema raw]

The ``spark`` target runs Spark inside the dbt process (dbt-spark's ``session`` method): tables are Parquet files
in ``<spark_dir>/tables`` and the catalogue is an embedded Derby metastore in ``<spark_dir>/metastore_db``, where
``spark_dir`` is env ``LEAD_SCORING_SPARK_DIR`` (default ``warehouse/spark``). :func:`spark_session` opens a session
configured exactly like that profile, so it sees what dbt built. Derby admits one process at a time: close the
session (``session.stop()``) before dbt runs, and do not open one while dbt runs.

:func:`copy_raw_to_spark` copies the raw tables of a DuckDB file (as ``lead_scoring.datagen`` writes them:
``raw.leads``, ``raw.events``, ``raw.opportunities``) into the Spark database of the same name: DuckDB writes each
table to Parquet, Spark saves it as a managed Parquet table with the same columns and types (VARCHAR -> string,
TIMESTAMP -> timestamp, DOUBLE -> double, BOOLEAN -> boolean). Timestamps are naive UTC on both sides; the session
time zone is UTC, so no value shifts.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import duckdb

DEFAULT_SPARK_DIR = "warehouse/spark"
RAW_TABLES = ("leads", "events", "opportunities")

# DuckDB type -> Spark SQL type of the copied column; other types keep the type Spark reads from Parquet.
SPARK_TYPES = {"VARCHAR": "string", "TIMESTAMP": "timestamp", "DOUBLE": "double", "BOOLEAN": "boolean"}


def spark_dir_from_env() -> str:
    """The Spark directory of the profile: env LEAD_SCORING_SPARK_DIR, default warehouse/spark."""
    return os.environ.get("LEAD_SCORING_SPARK_DIR", DEFAULT_SPARK_DIR)


def session_config(spark_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """The Spark settings of the profile's ``spark`` target (server_side_parameters, with the same env defaults),
    plus spark.sql.ansi.enabled=false, which dbt-spark forces on every session."""
    base = os.fspath(spark_dir) if spark_dir is not None else spark_dir_from_env()
    env = os.environ.get
    return {
        "spark.master": env("LEAD_SCORING_SPARK_MASTER", "local[2]"),
        "spark.driver.memory": env("LEAD_SCORING_SPARK_DRIVER_MEMORY", "4g"),
        "spark.sql.warehouse.dir": f"{base}/tables",
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={base}/metastore_db;create=true",
        "spark.sql.shuffle.partitions": env("LEAD_SCORING_SPARK_SHUFFLE_PARTITIONS", "4"),
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.sql.analyzer.maxIterations": "1000",
        "spark.driver.extraJavaOptions": f"-Dderby.stream.error.file={base}/derby.log",
        "spark.sql.ansi.enabled": "false",
    }


def spark_session(spark_dir: str | os.PathLike | None = None):
    """A local SparkSession (Hive catalogue) on the warehouse of the profile's ``spark`` target. One per process:
    a session already open in this process is returned as it is (Spark keeps one per JVM)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("lead_scoring").enableHiveSupport()
    for key, value in session_config(spark_dir).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _duckdb_columns(con, schema: str, table: str) -> list[tuple[str, str]]:
    return con.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_catalog = current_database() and table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()


def copy_raw_to_spark(duckdb_path, spark_dir=None, schema: str = "raw", tables=RAW_TABLES, spark=None) -> dict:
    """Copy ``<schema>.<table>`` of the DuckDB file into the Spark database ``<schema>`` (replacing the tables).
    Returns {table: rows copied}. Opens (and stops) its own session unless ``spark`` is given."""
    base = Path(os.fspath(spark_dir) if spark_dir is not None else spark_dir_from_env())
    staging = base / "_raw_parquet"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    columns: dict[str, list[tuple[str, str]]] = {}
    counts: dict[str, int] = {}
    con = duckdb.connect(os.fspath(duckdb_path), read_only=True)
    try:
        catalog = con.execute("select current_database()").fetchone()[0]  # qualified: a file raw.duckdb is catalog raw
        for table in tables:
            cols = _duckdb_columns(con, schema, table)
            if not cols:
                raise LookupError(f"{duckdb_path} has no table {schema}.{table}")
            columns[table] = cols
            qualified = f'"{catalog}"."{schema}"."{table}"'
            counts[table] = con.execute(f"select count(*) from {qualified}").fetchone()[0]
            target = (staging / table).as_posix()
            con.execute(f"copy (select * from {qualified}) to '{target}' (format parquet, per_thread_output)")
    finally:
        con.close()

    own = spark is None
    if own:
        spark = spark_session(base)
    try:
        spark.sql(f"create database if not exists `{schema}`")
        for table, cols in columns.items():
            frame = spark.read.parquet((staging / table).as_posix())
            select = []
            for name, duck_type in cols:
                spark_type = SPARK_TYPES.get(duck_type.upper())
                select.append(f"cast(`{name}` as {spark_type}) as `{name}`" if spark_type else f"`{name}`")
            frame.selectExpr(*select).write.mode("overwrite").format("parquet").saveAsTable(f"`{schema}`.`{table}`")
            stored = spark.table(f"`{schema}`.`{table}`").count()
            if stored != counts[table]:
                raise RuntimeError(f"Spark {schema}.{table} has {stored} rows, DuckDB {counts[table]}")
    finally:
        if own:
            spark.stop()
        shutil.rmtree(staging, ignore_errors=True)
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lead_scoring.spark_local", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load", help="copy the raw tables of a DuckDB file into the local Spark warehouse")
    load.add_argument("--database", required=True, help="DuckDB file with the raw tables (read-only)")
    load.add_argument("--spark-dir", default=None,
                      help=f"Spark warehouse directory (default env LEAD_SCORING_SPARK_DIR or {DEFAULT_SPARK_DIR})")
    load.add_argument("--schema", default="raw", help="schema of the raw tables, and the Spark database (default raw)")
    args = parser.parse_args(argv)
    if not Path(args.database).exists():
        print(f"spark_local: {args.database} does not exist", file=sys.stderr)
        return 1
    started = time.monotonic()
    counts = copy_raw_to_spark(args.database, args.spark_dir, schema=args.schema)
    target = args.spark_dir or spark_dir_from_env()
    for table, rows in counts.items():
        print(f"{args.schema}.{table}: {rows} rows")
    print(f"loaded into Spark warehouse {target} in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
