"""Engine comparison: the same generated data built by the same project on DuckDB, Spark (local session) and
PostgreSQL, timed, so a user can see what moving engines costs or buys on this machine.

    python -m benchmarks.engine_bench [--leads 10000] [--events-per-lead 100] [--engines duckdb spark postgres]
                                         [--work-dir warehouse/engine_bench] [--as-of "2026-11-01 00:00:00"]

(``make engine-bench ENGINE_BENCH_LEADS=10000``.) Not part of the test run.

For each engine it lands the same raw tables (DuckDB: a fresh file; Spark: Parquet tables through
lead_scoring.spark_local; PostgreSQL: a fresh database ``<LEAD_SCORING_PG_DATABASE>_bench`` on the server the
LEAD_SCORING_PG_* variables name, through lead_scoring.raw_copy), then times ``dbt build`` as production runs
it (seeds, models and data tests; no unit tests: lead_scoring.dbt_cli.PRODUCTION_BUILD_EXCLUDES), with the
peak resident memory of the dbt process tree (Spark's JVM is a child of dbt; a PostgreSQL server is not, so
its memory is not counted). It prints one table: seconds, rows per second, peak memory and the ratio to DuckDB,
and checks that every engine scored the same number of leads.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from lead_scoring import datagen
from lead_scoring.clock import dbt_vars
from benchmarks.benchmark import REPO, machine_info, run_measured
from lead_scoring.dbt_cli import PRODUCTION_BUILD_EXCLUDES

ENGINES = ("duckdb", "spark", "postgres")


def _env(engine: str, work: Path) -> dict:
    env = dict(os.environ)
    env.update({
        "LEAD_SCORING_TARGET": engine,
        "DBT_PROFILES_DIR": str(REPO),
        "DBT_TARGET_PATH": str(work / f"target_{engine}"),
        "DBT_LOG_PATH": str(work / f"target_{engine}" / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        "LEAD_SCORING_DUCKDB_PATH": str(work / "duckdb" / "warehouse.duckdb"),
        "LEAD_SCORING_SPARK_DIR": str(work / "spark"),
    })
    if engine == "postgres":
        env["LEAD_SCORING_PG_DATABASE"] = postgres_bench_database()
    return env


def postgres_bench_database() -> str:
    return os.environ.get("LEAD_SCORING_PG_DATABASE", "lead_scoring") + "_bench"


def postgres_dsn(dbname: str) -> str:
    parts = {
        "host": os.environ.get("LEAD_SCORING_PG_HOST", "localhost"),
        "port": os.environ.get("LEAD_SCORING_PG_PORT", "5432"),
        "user": os.environ.get("LEAD_SCORING_PG_USER", "postgres"),
        "dbname": dbname,
    }
    if os.environ.get("LEAD_SCORING_PG_PASSWORD"):
        parts["password"] = os.environ["LEAD_SCORING_PG_PASSWORD"]
    return " ".join(f"{key}={value}" for key, value in parts.items())


def land_raw(engine: str, source: Path, work: Path) -> None:
    """Put the generated raw tables where `engine`'s build reads them, replacing earlier ones."""
    if engine == "duckdb":
        import duckdb

        target = work / "duckdb" / "warehouse.duckdb"
        shutil.rmtree(target.parent, ignore_errors=True)
        target.parent.mkdir(parents=True)
        con = duckdb.connect(str(target))
        try:
            con.execute(f"attach '{source}' as src (read_only)")
            con.execute("create schema raw")
            for table in ("leads", "events", "opportunities"):
                con.execute(f"create table raw.{table} as select * from src.raw.{table}")
        finally:
            con.close()
    elif engine == "spark":
        # In a process of its own: a Spark session keeps its JVM, and with it the Derby catalogue, until the process
        # ends, and the dbt build that follows must open that catalogue.
        shutil.rmtree(work / "spark", ignore_errors=True)
        subprocess.run([sys.executable, "-m", "lead_scoring.spark_local", "load", "--database", str(source),
                        "--spark-dir", str(work / "spark")], check=True, cwd=REPO)
    elif engine == "postgres":
        import psycopg2

        from lead_scoring.raw_copy import copy_to_postgres

        dbname = postgres_bench_database()
        admin = psycopg2.connect(postgres_dsn("postgres"))
        admin.autocommit = True
        try:
            with admin.cursor() as cur:
                cur.execute(f'drop database if exists "{dbname}"')
                cur.execute(f'create database "{dbname}"')
        finally:
            admin.close()
        copy_to_postgres(source, postgres_dsn(dbname))
    else:
        raise ValueError(f"unknown engine {engine}")


def leads_scored(engine: str, work: Path) -> int:
    """Rows of marts.lead_scores after the build, read back through dbt (the same query on every engine)."""
    exe = str(Path(sys.executable).with_name("dbt"))
    proc = subprocess.run(
        [exe, "show", "--inline", "select count(*) as n from {{ ref('lead_scores') }}", "--output", "json",
         "--log-format", "json"],
        cwd=REPO, env=_env(engine, work), capture_output=True, text=True,
    )
    for line in proc.stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        preview = event.get("data", {}).get("preview")
        if preview:
            rows = json.loads(preview)
            return int(rows[0]["n"])
    raise RuntimeError(f"could not read lead_scores on {engine}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def bench(leads: int, events_per_lead: float, engines: list[str], work: Path, as_of: str, seed: int) -> list[dict]:
    work.mkdir(parents=True, exist_ok=True)
    source = work / "generated.duckdb"
    if source.exists():
        source.unlink()
    counts = datagen.generate(database=str(source), leads=leads, events_per_lead=events_per_lead, seed=seed,
                              as_of=as_of)
    raw_rows = counts.get("events", 0) + counts.get("leads", 0)
    rows = []
    for engine in engines:
        land_raw(engine, source, work)
        exe = str(Path(sys.executable).with_name("dbt"))
        command = [exe, "build", *PRODUCTION_BUILD_EXCLUDES, "--vars", dbt_vars(as_of)]
        log = work / f"build_{engine}.log"
        measured = run_measured(command, env=_env(engine, work), log_path=log)
        if measured.returncode != 0:
            tail = "\n".join(measured.output.splitlines()[-25:])
            raise RuntimeError(f"dbt build failed on {engine} (exit {measured.returncode}); log {log}:\n{tail}")
        rows.append({
            "engine": engine,
            "leads": leads,
            "raw rows": raw_rows,
            "build s": round(measured.seconds, 1),
            "rows/s": round(raw_rows / measured.seconds),
            "peak MiB": round(measured.peak_mib),
            "leads scored": leads_scored(engine, work),
        })
    base = next((r["build s"] for r in rows if r["engine"] == "duckdb"), None)
    for row in rows:
        row["x DuckDB"] = round(row["build s"] / base, 2) if base else None
    return rows


def format_table(rows: list[dict]) -> str:
    columns = list(rows[0])
    widths = [max(len(c), *(len(f"{r[c]}") for r in rows)) for c in columns]
    lines = [" | ".join(c.ljust(w) for c, w in zip(columns, widths)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(f"{r[c]}".ljust(w) for c, w in zip(columns, widths)) for r in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10000)
    parser.add_argument("--events-per-lead", type=float, default=100)
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=["duckdb", "spark"])
    parser.add_argument("--work-dir", default=str(REPO / "warehouse" / "engine_bench"))
    parser.add_argument("--as-of", default="2026-11-01 00:00:00")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    if "duckdb" not in args.engines:
        args.engines.insert(0, "duckdb")  # the ratios are to DuckDB
    rows = bench(args.leads, args.events_per_lead, args.engines, Path(args.work_dir), args.as_of, args.seed)
    info = machine_info()
    print(f"machine: {info['nproc']} cores, {info['ram_gib']} GiB, {info['cpu']}")
    print(format_table(rows))
    scored = {row["leads scored"] for row in rows}
    print("check: every engine scored the same leads:", "OK" if len(scored) == 1 else f"NO {scored}")
    (Path(args.work_dir) / "engine_bench.json").write_text(json.dumps({"machine": info, "rows": rows}, indent=2))
    return 0 if len(scored) == 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
