"""Copy the raw tables of a DuckDB file (as `lead_scoring.datagen` writes them) into another warehouse.

The generator and the demo write DuckDB; a PostgreSQL or Spark target reads the same raw contract from its own
catalogue. This module lands identical raw tables there, column for column and value for value (nulls stay
null, empty strings stay empty), so a build on each engine scores the same data:

    lead-scoring raw-copy --database warehouse/ci.duckdb --target postgres \
        --dsn "host=localhost port=5432 dbname=lead_scoring user=postgres"

PostgreSQL is loaded with COPY from a CSV that DuckDB writes (every value quoted, nulls unquoted `\\N`).
Spark is loaded by `lead_scoring.spark_local` from Parquet files that DuckDB writes.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

RAW_TABLES = ("leads", "events", "opportunities")

# DuckDB column types of the raw contract and their PostgreSQL names.
POSTGRES_TYPES = {
    "VARCHAR": "text",
    "TIMESTAMP": "timestamp",
    "DOUBLE": "double precision",
    "BOOLEAN": "boolean",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "DATE": "date",
}

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class RawColumn:
    name: str
    duckdb_type: str


def _identifier(name: str) -> str:
    """A plain SQL identifier, refused otherwise (names come from a catalogue, never pasted unchecked)."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"'{name}' is not a plain identifier")
    return name


def raw_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[RawColumn]:
    """The table's columns in order, with their DuckDB types."""
    rows = con.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    if not rows:
        raise ValueError(f"{schema}.{table} does not exist in the DuckDB file")
    return [RawColumn(_identifier(name), data_type) for name, data_type in rows]


def postgres_type(duckdb_type: str) -> str:
    try:
        return POSTGRES_TYPES[duckdb_type]
    except KeyError:
        raise ValueError(f"no PostgreSQL type for the DuckDB type {duckdb_type}") from None


def copy_to_postgres(duckdb_path: str | Path, dsn: str, schema: str = "raw", source_schema: str = "raw") -> dict[str, int]:
    """Replace the rows of `schema`'s raw tables in the PostgreSQL database `dsn` with the DuckDB file's (tables
    of the same layout are truncated and refilled, others created); returns row counts. One transaction."""
    import psycopg2

    schema = _identifier(schema)
    counts: dict[str, int] = {}
    source = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        with psycopg2.connect(dsn) as target, target.cursor() as cur, tempfile.TemporaryDirectory() as scratch:
            cur.execute(f"create schema if not exists {schema}")
            for table in RAW_TABLES:
                columns = raw_columns(source, _identifier(source_schema), table)
                ddl = ", ".join(f"{c.name} {postgres_type(c.duckdb_type)}" for c in columns)
                cur.execute(
                    "select column_name, data_type from information_schema.columns"
                    " where table_schema = %s and table_name = %s order by ordinal_position",
                    (schema, table),
                )
                existing = cur.fetchall()
                wanted = [(c.name, postgres_type(c.duckdb_type)) for c in columns]
                if existing and [(name, data_type) for name, data_type in existing] == [
                    (name, "timestamp without time zone" if t == "timestamp" else t) for name, t in wanted
                ]:
                    # Same layout: emptied in place, so the views built on it (staging) stay valid.
                    cur.execute(f"truncate table {schema}.{table}")
                else:
                    cur.execute(f"drop table if exists {schema}.{table}")
                    cur.execute(f"create table {schema}.{table} ({ddl})")
                csv_path = Path(scratch) / f"{table}.csv"
                # Every value quoted, so an empty string stays a string; null is the unquoted \N.
                source.execute(
                    f"copy {source_schema}.{table} to '{csv_path}'"
                    " (format csv, header false, nullstr '\\N', force_quote *,"
                    " timestampformat '%Y-%m-%d %H:%M:%S.%f')"
                )
                with csv_path.open("r", encoding="utf-8") as handle:
                    cur.copy_expert(
                        f"copy {schema}.{table} ({', '.join(c.name for c in columns)})"
                        " from stdin with (format csv, null '\\N')",
                        handle,
                    )
                cur.execute(f"select count(*) from {schema}.{table}")
                counts[table] = cur.fetchone()[0]
                cur.execute(f"analyze {schema}.{table}")
        return counts
    finally:
        source.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `lead-scoring raw-copy` (and `python -m lead_scoring.raw_copy`)."""
    parser.add_argument("--database", required=True, help="DuckDB file holding the raw schema (read-only)")
    parser.add_argument("--target", choices=["postgres", "spark"], default="postgres",
                        help="where to copy the raw tables (default %(default)s)")
    parser.add_argument("--dsn", help="postgres: libpq connection string of the PostgreSQL database")
    parser.add_argument("--spark-dir", default=None, help="spark: the local Spark warehouse directory (default env "
                                                          "LEAD_SCORING_SPARK_DIR or warehouse/spark)")
    parser.add_argument("--schema", default="raw", help="schema to (re)create the raw tables in (default raw)")


def run(args: argparse.Namespace) -> int:
    if args.target == "spark":
        from lead_scoring import spark_local

        return spark_local.main(["load", "--database", args.database, "--schema", args.schema,
                                 *(["--spark-dir", args.spark_dir] if args.spark_dir else [])])
    if not args.dsn:
        print("raw-copy: --target postgres needs --dsn", file=sys.stderr)
        return 2
    counts = copy_to_postgres(args.database, args.dsn, args.schema)
    for table, count in counts.items():
        print(f"{args.schema}.{table}: {count:,} rows")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lead_scoring.raw_copy", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
