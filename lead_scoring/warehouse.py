"""The warehouse dbt writes, on any of its engines: where it is and how to open it (plain Python, no Dagster).

The engine is the dbt target (env ``LEAD_SCORING_TARGET``, as ``profiles.yml``: ``duckdb`` | ``postgres`` |
``spark``; default ``duckdb``), opened with the settings of that target's profile:

- ``duckdb``: the file (``database_path``, else env ``LEAD_SCORING_DUCKDB_PATH``, else
  ``warehouse/lead_scoring.duckdb``), session time zone UTC;
- ``postgres``: psycopg2 with the profile's env ``LEAD_SCORING_PG_HOST``, ``_PORT``, ``_USER``, ``_PASSWORD``,
  ``_DATABASE``, ``_SSLMODE`` (and their profile defaults), session time zone UTC;
- ``spark``: the local session of ``lead_scoring.spark_local`` (same settings as the profile). Derby admits one
  process at a time: open it only while dbt is not running; a session this module started is stopped, and its
  JVM ended, on exit, so a dbt run can follow.

:meth:`Warehouse.open` gives a :class:`Db` on every engine: ``rows``, ``execute``, ``insert_rows``,
``delete_where``, ``table_exists``, ``relation``, ``create_table`` and ``transaction`` (a no-op on Spark). SQL
passed to it uses ``?`` placeholders, bound by each engine (``%s`` for psycopg2, literals on Spark), and
portable SQL only. :meth:`Warehouse.connect` keeps giving the raw DuckDB connection on DuckDB (existing
callers); every function that takes a connection also takes a :class:`Db` (:func:`as_db`).

The Dagster resource ``orchestration.defs.resources.WarehouseResource`` wraps :class:`Warehouse`, so the code
location and the command-line tools open the warehouse the same way.
"""
from __future__ import annotations

import datetime as dt
import decimal
import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lead_scoring.clock import format_timestamp, parse_instant

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DUCKDB_PATH_ENV = "LEAD_SCORING_DUCKDB_PATH"
DEFAULT_DUCKDB_PATH = "warehouse/lead_scoring.duckdb"
TARGET_ENV = "LEAD_SCORING_TARGET"
TARGETS = ("duckdb", "postgres", "spark")

# Portable column types of create_table -> each engine's spelling.
COLUMN_TYPES = {
    "duckdb": {"text": "varchar", "timestamp": "timestamp", "bigint": "bigint", "integer": "integer",
               "double": "double", "boolean": "boolean"},
    "postgres": {"text": "text", "timestamp": "timestamp", "bigint": "bigint", "integer": "integer",
                 "double": "double precision", "boolean": "boolean"},
    "spark": {"text": "string", "timestamp": "timestamp", "bigint": "bigint", "integer": "int",
              "double": "double", "boolean": "boolean"},
}


def resolve_path(value: str | os.PathLike[str] | None = None) -> Path:
    """`value`, else env LEAD_SCORING_DUCKDB_PATH, else warehouse/lead_scoring.duckdb; relative paths are resolved
    against the repository root."""
    path = Path(value or os.environ.get(DUCKDB_PATH_ENV) or DEFAULT_DUCKDB_PATH)
    return path if path.is_absolute() else PROJECT_ROOT / path


def resolve_target(value: str | None = None) -> str:
    """`value`, else env LEAD_SCORING_TARGET, else duckdb (the dbt target, as profiles.yml names it)."""
    target = (value or os.environ.get(TARGET_ENV, "") or "duckdb").strip().lower()
    if target not in TARGETS:
        raise ValueError(f"unknown warehouse target {target!r}: one of {', '.join(TARGETS)} (env {TARGET_ENV})")
    return target


def postgres_dsn_params(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """psycopg2.connect keywords from the env of the profile's ``postgres`` target, with its defaults."""
    env = os.environ if environ is None else environ
    params: dict[str, Any] = {
        "host": env.get("LEAD_SCORING_PG_HOST", "localhost"),
        "port": int(env.get("LEAD_SCORING_PG_PORT", "5432")),
        "user": env.get("LEAD_SCORING_PG_USER", "postgres"),
        "dbname": env.get("LEAD_SCORING_PG_DATABASE", "lead_scoring"),
        "sslmode": env.get("LEAD_SCORING_PG_SSLMODE", "prefer"),
    }
    if env.get("LEAD_SCORING_PG_PASSWORD"):
        params["password"] = env["LEAD_SCORING_PG_PASSWORD"]
    return params


@dataclass(frozen=True)
class Warehouse:
    """The warehouse dbt writes. `database_path` empty: env LEAD_SCORING_DUCKDB_PATH, read when connecting (DuckDB
    only). `target` empty: env LEAD_SCORING_TARGET, default duckdb."""

    database_path: str = ""
    target: str = ""

    @property
    def engine(self) -> str:
        return resolve_target(self.target)

    def resolved_path(self) -> Path:
        return resolve_path(self.database_path)

    def describe(self) -> str:
        """Where the warehouse is, for messages (no secret: the PostgreSQL password is never shown)."""
        if self.engine == "duckdb":
            return f"DuckDB warehouse {self.resolved_path()}"
        if self.engine == "postgres":
            p = postgres_dsn_params()
            return f"PostgreSQL warehouse {p['dbname']} on {p['host']}:{p['port']}"
        from lead_scoring.spark_local import spark_dir_from_env

        return f"Spark warehouse {spark_dir_from_env()}"

    def exists(self) -> bool:
        """False only for a DuckDB file that is not there (a server or Spark warehouse is assumed present)."""
        return self.engine != "duckdb" or self.resolved_path().exists()

    @contextmanager
    def connect(self, read_only: bool = True) -> Iterator[Any]:
        """DuckDB: a DuckDB connection (session time zone UTC), closed on exit; read-only refuses a missing file.
        Other engines: the :class:`Db` of :meth:`open`."""
        if self.engine != "duckdb":
            with self.open(read_only=read_only) as db:
                yield db
            return
        import duckdb

        path = self.resolved_path()
        if read_only and not path.exists():
            raise FileNotFoundError(f"DuckDB warehouse {path} does not exist: build it first (make build)")
        con = duckdb.connect(str(path), read_only=read_only)
        try:
            con.execute("SET TimeZone = 'UTC'")
            yield con
        finally:
            con.close()

    @contextmanager
    def open(self, read_only: bool = True) -> Iterator["Db"]:
        """The engine-neutral :class:`Db`, closed on exit."""
        engine = self.engine
        if engine == "duckdb":
            with self.connect(read_only=read_only) as con:
                yield DuckDb(con)
        elif engine == "postgres":
            import psycopg2

            con = psycopg2.connect(**postgres_dsn_params())
            try:
                con.autocommit = True
                with con.cursor() as cur:
                    cur.execute("set time zone 'UTC'")
                yield PostgresDb(con)
            finally:
                con.close()
        else:
            from pyspark.sql import SparkSession

            from lead_scoring.spark_local import spark_session

            # a session this process already has (active in this thread, or created here) is used and left open
            already = SparkSession.getActiveSession() or getattr(SparkSession, "_instantiatedSession", None)
            spark = already or spark_session()
            try:
                yield SparkDb(spark)
            finally:
                if already is None:
                    stop_spark(spark)


def stop_spark(spark: Any) -> None:
    """Stop `spark` and end its JVM (pyspark's gateway exits when its stdin closes), so the embedded Derby
    metastore is free for the next process (dbt). The next session of this process starts a new JVM."""
    from pyspark import SparkContext

    spark.stop()
    gateway = SparkContext._gateway
    if gateway is None:
        return
    proc = getattr(gateway, "proc", None)
    try:
        gateway.shutdown()
    finally:
        if proc is not None:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=120)
        SparkContext._gateway = None
        SparkContext._jvm = None


def _plain(value: Any) -> Any:
    """Decimal -> float (sums and averages on PostgreSQL and Spark), the rest as it is."""
    return float(value) if isinstance(value, decimal.Decimal) else value


class Db:
    """One open connection to the warehouse, with portable operations (see the module doc)."""

    engine = ""
    quote_char = '"'
    # DuckDB types of the columns of the last query, where the engine says them (None: infer from the values)
    last_types: list[str | None] = []

    def quote(self, identifier: str) -> str:
        q = self.quote_char
        return q + identifier.replace(q, q + q) + q

    def relation(self, schema: str, name: str) -> str:
        return f"{self.quote(schema)}.{self.quote(name)}"

    def qualified(self, dotted: str) -> str:
        """'schema.name' -> the quoted relation."""
        schema, name = dotted.split(".")
        return self.relation(schema, name)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return [dict(zip(names, row)) for names, row in self._iter(sql, params)]

    def query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        """Column names and rows (tuples) of `sql`."""
        raise NotImplementedError

    def _iter(self, sql: str, params: Sequence[Any]):
        names, rows = self.query(sql, params)
        return ((names, row) for row in rows)

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        _, rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    def insert_rows(self, relation: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def delete_where(self, relation: str, condition: str, params: Sequence[Any] = ()) -> None:
        self.execute(f"delete from {relation} where {condition}", params)

    def replace_keyed(self, relation: str, key: Sequence[str], columns: Sequence[str],
                      rows: Sequence[Sequence[Any]]) -> None:
        """Upsert: delete the rows of `relation` whose (text) `key` columns equal those of one of `rows`, then insert
        `rows` (call inside :meth:`transaction` to make it atomic)."""
        if not rows:
            return
        at = [list(columns).index(k) for k in key]
        text = COLUMN_TYPES[self.engine]["text"]
        self.execute("drop table if exists _replace_keys")
        self.execute(f"create temporary table _replace_keys ({', '.join(f'{k} {text}' for k in key)})")
        self.insert_rows("_replace_keys", key, sorted({tuple(r[i] for i in at) for r in rows}))
        match = " and ".join(f"k.{k} = t.{k}" for k in key)
        self.execute(f"delete from {relation} as t where exists (select 1 from _replace_keys as k where {match})")
        self.execute("drop table _replace_keys")
        self.insert_rows(relation, columns, rows)

    def table_exists(self, schema: str, name: str) -> bool:
        return bool(self.scalar("select count(*) from information_schema.tables where table_schema = ? "
                                "and table_name = ?", [schema, name]))

    def create_schema(self, schema: str) -> None:
        self.execute(f"create schema if not exists {self.quote(schema)}")

    def create_table(self, schema: str, name: str, columns: Sequence[tuple[str, str, bool]],
                     key: Sequence[str] = ()) -> None:
        """`create table if not exists` with portable types (COLUMN_TYPES); not null and the primary key where the
        engine has them."""
        types = COLUMN_TYPES[self.engine]
        parts = [f"{c} {types[t]}{' not null' if required else ''}" for c, t, required in columns]
        if key:
            parts.append(f"primary key ({', '.join(key)})")
        self.execute(f"create table if not exists {self.relation(schema, name)} ({', '.join(parts)})")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.execute("begin")
        try:
            yield
        except BaseException:
            self.execute("rollback")
            raise
        self.execute("commit")


class DuckDb(Db):
    engine = "duckdb"

    def __init__(self, con: Any):
        self.con = con

    def query(self, sql, params=()):
        cur = self.con.execute(sql, list(params))
        return [d[0] for d in cur.description], cur.fetchall()

    def execute(self, sql, params=()):
        self.con.execute(sql, list(params))

    def insert_rows(self, relation, columns, rows):
        if rows:
            marks = ", ".join("?" * len(columns))
            self.con.executemany(f"insert into {relation} ({', '.join(columns)}) values ({marks})",
                                 [list(r) for r in rows])

    def table_exists(self, schema, name):
        return bool(self.scalar("select count(*) from information_schema.tables where table_catalog = "
                                "current_database() and table_schema = ? and table_name = ?", [schema, name]))


class PostgresDb(Db):
    engine = "postgres"

    def __init__(self, con: Any):
        self.con = con

    @staticmethod
    def _sql(sql: str, params: Sequence[Any]) -> str:
        return sql.replace("%", "%%").replace("?", "%s") if params else sql

    # PostgreSQL type OIDs -> DuckDB types (the rest: inferred from the values)
    OID_TYPES = {16: "boolean", 20: "bigint", 21: "bigint", 23: "bigint", 700: "double", 701: "double",
                 1700: "double", 1114: "timestamp", 1082: "date", 25: "varchar", 1043: "varchar"}

    def query(self, sql, params=()):
        with self.con.cursor() as cur:
            cur.execute(self._sql(sql, params), list(params) or None)
            names = [d[0] for d in cur.description]
            self.last_types = [self.OID_TYPES.get(d[1]) for d in cur.description]
            return names, [tuple(_plain(v) for v in row) for row in cur.fetchall()]

    def execute(self, sql, params=()):
        with self.con.cursor() as cur:
            cur.execute(self._sql(sql, params), list(params) or None)

    def insert_rows(self, relation, columns, rows):
        if rows:
            from psycopg2.extras import execute_values

            with self.con.cursor() as cur:
                execute_values(cur, f"insert into {relation} ({', '.join(columns)}) values %s",
                               [tuple(r) for r in rows], page_size=1000)


def spark_literal(value: Any) -> str:
    """A Python value as a Spark SQL literal (timestamps are read in the session time zone, UTC)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return f"double('{value}')"  # NaN, inf, -inf
    if isinstance(value, (int, float, decimal.Decimal)):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, dt.datetime):
        return f"timestamp '{format_timestamp(value)}'"  # naive UTC (an aware value is converted)
    if isinstance(value, dt.date):
        return f"date '{value}'"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


SPARK_DUCK_TYPES = {"boolean": "boolean", "integer": "bigint", "long": "bigint", "short": "bigint", "byte": "bigint",
                    "double": "double", "float": "double", "decimal": "double", "timestamp": "timestamp",
                    "timestamp_ntz": "timestamp", "date": "date", "string": "varchar"}


class SparkDb(Db):
    engine = "spark"
    quote_char = "`"

    def __init__(self, spark: Any):
        self.spark = spark

    @staticmethod
    def bind(sql: str, params: Sequence[Any]) -> str:
        """`?` placeholders replaced by literals, in order (the SQL of this project has no `?` inside strings)."""
        if not params:
            return sql
        parts = sql.split("?")
        if len(parts) != len(params) + 1:
            raise ValueError(f"{len(parts) - 1} placeholders for {len(params)} parameters")
        out = [parts[0]]
        for value, part in zip(params, parts[1:]):
            out += [spark_literal(value), part]
        return "".join(out)

    def query(self, sql, params=()):
        frame = self.spark.sql(self.bind(sql, params))
        # Timestamps as text in the session time zone (UTC), parsed here: no Python-side time zone conversion.
        fields = frame.schema.fields
        stamps = {f.name for f in fields if f.dataType.typeName() in ("timestamp", "timestamp_ntz")}
        if stamps:
            frame = frame.selectExpr(*(f"date_format(`{f.name}`, 'yyyy-MM-dd HH:mm:ss.SSSSSS') as `{f.name}`"
                                       if f.name in stamps else f"`{f.name}`" for f in fields))
        names = [f.name for f in fields]
        self.last_types = [SPARK_DUCK_TYPES.get(f.dataType.typeName()) for f in fields]
        out = []
        for row in frame.collect():
            out.append(tuple(parse_instant(v) if n in stamps and v is not None else _plain(v)
                             for n, v in zip(names, row)))
        return names, out

    def execute(self, sql, params=()):
        self.spark.sql(self.bind(sql, params)).collect()

    def insert_rows(self, relation, columns, rows, chunk: int = 500):
        for start in range(0, len(rows), chunk):
            values = ", ".join("(" + ", ".join(spark_literal(v) for v in row) + ")"
                               for row in rows[start:start + chunk])
            self.execute(f"insert into {relation} ({', '.join(columns)}) values {values}")

    def delete_where(self, relation, condition, params=()):
        """Parquet tables have no DELETE: the kept rows are checkpointed, then written over the table."""
        kept = self.spark.sql(self.bind(f"select * from {relation} where not coalesce({condition}, false)",
                                        params)).localCheckpoint(eager=True)
        kept.write.insertInto(relation.replace("`", ""), overwrite=True)

    def replace_keyed(self, relation, key, columns, rows):
        """No DELETE on Parquet: the rows without a key of `rows` are checkpointed and written over the table, then
        `rows` are inserted (two steps, not atomic)."""
        if not rows:
            return
        at = [list(columns).index(k) for k in key]
        keys = sorted({tuple(str(r[i]) for i in at) for r in rows})
        self.spark.createDataFrame(keys, ", ".join(f"{k} string" for k in key)).createOrReplaceTempView(
            "_replace_keys")
        match = " and ".join(f"t.{k} = k.{k}" for k in key)
        kept = self.spark.sql(f"select t.* from {relation} as t left anti join _replace_keys as k on {match}"
                              ).localCheckpoint(eager=True)
        kept.write.insertInto(relation.replace("`", ""), overwrite=True)
        self.spark.catalog.dropTempView("_replace_keys")
        self.insert_rows(relation, columns, rows)

    def table_exists(self, schema, name):
        return bool(self.spark.catalog.tableExists(f"{schema}.{name}"))

    def create_schema(self, schema):
        self.execute(f"create database if not exists {self.quote(schema)}")

    def create_table(self, schema, name, columns, key=()):
        types = COLUMN_TYPES["spark"]
        parts = [f"{c} {types[t]}" for c, t, _ in columns]  # Parquet tables: no not null, no primary key
        self.execute(f"create table if not exists {self.relation(schema, name)} ({', '.join(parts)}) using parquet")

    @contextmanager
    def transaction(self):
        yield  # Spark has no transactions: each statement commits on its own


def as_warehouse(obj: Any) -> Warehouse:
    """`obj` as a :class:`Warehouse`: itself, or the Warehouse an object wraps (the Dagster resource's
    ``.warehouse``), or, for a bare object with only ``connect`` (old callers), a DuckDB Warehouse at its path."""
    if isinstance(obj, Warehouse):
        return obj
    inner = getattr(obj, "warehouse", None)
    if isinstance(inner, Warehouse):
        return inner
    return obj


def as_db(con: Any) -> Db:
    """`con` as a :class:`Db`: a Db as it is, a DuckDB connection wrapped."""
    return con if isinstance(con, Db) else DuckDb(con)


def rows(con: Any, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """The result of `sql` as a list of dicts (column name -> value); `con` is a DuckDB connection or a Db."""
    return as_db(con).rows(sql, params)


def _duck_type(values: Sequence[Any]) -> str:
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, bool):
        return "boolean"
    if isinstance(sample, int):
        return "bigint"
    if isinstance(sample, (float, decimal.Decimal)):
        return "double"
    if isinstance(sample, dt.datetime):
        return "timestamp"
    if isinstance(sample, dt.date):
        return "date"
    return "varchar"


def copy_into_duckdb(local: Any, table: str, names: Sequence[str], data: Sequence[tuple],
                     types: dict[str, str] | None = None) -> None:
    """Create `table` in the DuckDB connection `local` with the rows `data` (columns `names`; types from `types`,
    else from the values), column by column through unnest (fast for large results)."""
    types = types or {}
    columns = list(zip(*data)) if data else [() for _ in names]
    decl = []
    for name, values in zip(names, columns):
        decl.append(f'"{name}" {types.get(name) or _duck_type(values)}')
    local.execute(f"create or replace table {table} ({', '.join(decl)})")
    if data:
        cells = [[_plain(v) if not isinstance(v, (list, dict, tuple)) else str(v) for v in col] for col in columns]
        select = ", ".join(f"unnest(?::{d.split(' ', 1)[1]}[])" for d in decl)
        local.execute(f"insert into {table} select {select}", cells)


@contextmanager
def local_mirror(db: Db, relations: Sequence[str]) -> Iterator[Any]:
    """An in-memory DuckDB holding a copy of each existing `relations` ('schema.name') of `db`, same names: DuckDB
    SQL (reports, quantiles) then runs on the data of any engine. On DuckDB itself, read the file instead."""
    import duckdb

    local = duckdb.connect(":memory:")
    try:
        local.execute("set TimeZone = 'UTC'")
        for dotted in relations:
            schema, name = dotted.split(".")
            if not db.table_exists(schema, name):
                continue
            local.execute(f'create schema if not exists "{schema}"')
            names, data = db.query(f"select * from {db.relation(schema, name)}")
            types = {n: t for n, t in zip(names, db.last_types) if t}
            copy_into_duckdb(local, f'"{schema}"."{name}"', names, data, types)
        yield local
    finally:
        local.close()
