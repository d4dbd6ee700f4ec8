"""Whether a build has anything to do: the fingerprint of everything a production build reads and writes.

`lead-scoring build` at an explicit ``--as-of`` records, after a build that succeeded, one fingerprint in the
warehouse (table ``lead_scoring_state.last_build``) of:

- the build's arguments: ``as_of``, unit tests or not, the extra dbt flags;
- the dbt project: the contents of every file under models/, macros/, seeds/, snapshots/, analyses/ and tests/
  (the Python tests under tests/python/ left out), dbt_project.yml, profiles.yml and selectors.yml; the versions of
  dbt-core and dbt-duckdb; every ``LEAD_SCORING_*`` and ``DBT_*`` setting in the environment;
- the warehouse: every table (name, column count, exact row count) and view, and in the raw schema
  (``LEAD_SCORING_RAW_SCHEMA``, default ``raw``) each table's newest ``_loaded_at``.

The next build whose fingerprint is the recorded one has nothing new to read: it says so and returns without
starting dbt (a no-op run, issue 33). Anything else builds as before: a new or re-delivered raw row (appended with
its own ``_loaded_at``), a changed seed or model, another ``as_of`` (an empty ``--as-of`` is the run's start time, so
it never repeats), a dropped or re-filled relation. The record is removed before every build and written only after
one that succeeded, so a failed or interrupted build never leaves a stale "nothing to do".

Not seen: raw rows changed in place without a new ``_loaded_at`` when the row counts stay the same (an edit made by
hand; the loader and every EL tool the raw contract describes append). ``--force`` builds anyway. The incremental
models rely on the same rule (docs/incremental.md).
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import duckdb

STATE_SCHEMA = "lead_scoring_state"
STATE_TABLE = f"{STATE_SCHEMA}.last_build"
RAW_SCHEMA_ENV = "LEAD_SCORING_RAW_SCHEMA"
PROJECT_FOLDERS = ("models", "macros", "seeds", "snapshots", "analyses", "tests")
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "selectors.yml")
SKIPPED_PARTS = ("__pycache__", "python")  # tests/python: the pytest suite, not read by dbt
ENV_PREFIXES = ("LEAD_SCORING_", "DBT_")
# Changing on every run without changing what dbt builds: where dbt writes its target and logs.
ENV_IGNORED = ("DBT_TARGET_PATH", "DBT_LOG_PATH")
PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb")


def project_digest(root: Path) -> str:
    """sha256 of the dbt project's files (relative path and bytes, in path order) that a build reads."""
    digest = hashlib.sha256()
    paths = [root / name for name in PROJECT_FILES if (root / name).is_file()]
    for folder in PROJECT_FOLDERS:
        base = root / folder
        if base.is_dir():
            paths += [p for p in base.rglob("*") if p.is_file()
                      and not any(part in SKIPPED_PARTS for part in p.relative_to(base).parts)]
    for path in sorted(paths, key=lambda p: p.relative_to(root).as_posix()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def settings(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment's dbt and project settings (``LEAD_SCORING_*``, ``DBT_*``) and the package versions."""
    env = os.environ if environ is None else environ
    found = {k: v for k, v in env.items() if k.startswith(ENV_PREFIXES) and k not in ENV_IGNORED}
    for package in PACKAGES:
        try:
            found[f"package:{package}"] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[f"package:{package}"] = "missing"
    return dict(sorted(found.items()))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def warehouse_state(con: duckdb.DuckDBPyConnection, raw_schema: str) -> list[list]:
    """Every table (schema, name, columns, exact rows, newest _loaded_at in the raw schema) and view, sorted; the
    state schema left out."""
    tables = con.execute(
        "select schema_name, table_name, column_count from duckdb_tables() "
        "where not internal and database_name = current_database() and schema_name <> ? order by 1, 2",
        [STATE_SCHEMA]).fetchall()
    loaded = {(s, t) for s, t in con.execute(
        "select table_schema, table_name from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ? and column_name = '_loaded_at'",
        [raw_schema]).fetchall()}
    state: list[list] = []
    for schema, table, columns in tables:
        relation = f"{_quoted(schema)}.{_quoted(table)}"
        newest = (f", cast(max({_quoted('_loaded_at')}) as varchar)" if (schema, table) in loaded else "")
        row = con.execute(f"select count(*){newest} from {relation}").fetchone()
        state.append(["table", schema, table, columns, *row])
    views = con.execute(
        "select schema_name, view_name from duckdb_views() "
        "where not internal and database_name = current_database() and schema_name <> ? order by 1, 2",
        [STATE_SCHEMA]).fetchall()
    state += [["view", schema, view] for schema, view in views]
    return state


def fingerprint(database: Path, project_root: Path, build_args: Sequence[str],
                environ: dict[str, str] | None = None) -> str:
    """sha256 of the build's arguments, the project, the settings and the warehouse's state (read-only)."""
    env = os.environ if environ is None else environ
    con = duckdb.connect(str(database), read_only=True)
    try:
        state = warehouse_state(con, env.get(RAW_SCHEMA_ENV, "raw"))
    finally:
        con.close()
    document = {"args": list(build_args), "project": project_digest(project_root), "settings": settings(env),
                "warehouse": state}
    return hashlib.sha256(json.dumps(document, default=str).encode()).hexdigest()


def recorded(database: Path) -> tuple[str, str] | None:
    """(fingerprint, recorded_at) of the last build that succeeded, or None (no warehouse, no record)."""
    if not database.exists():
        return None
    con = duckdb.connect(str(database), read_only=True)
    try:
        found = con.execute(
            "select count(*) from information_schema.tables where table_catalog = current_database() "
            "and table_schema = ? and table_name = 'last_build'", [STATE_SCHEMA]).fetchone()[0]
        if not found:
            return None
        row = con.execute(f"select fingerprint, cast(recorded_at as varchar) from {STATE_TABLE}").fetchone()
        return None if row is None else (row[0], row[1])
    finally:
        con.close()


def clear(database: Path) -> None:
    """Remove the record (before a build: until it succeeds, there is no build to compare with)."""
    if not database.exists():
        return
    con = duckdb.connect(str(database))
    try:
        con.execute(f"drop table if exists {STATE_TABLE}")
    finally:
        con.close()


def record(database: Path, value: str) -> None:
    """Record `value` as the fingerprint of the build that just succeeded."""
    con = duckdb.connect(str(database))
    try:
        con.execute(f"create schema if not exists {STATE_SCHEMA}")
        con.execute(f"create or replace table {STATE_TABLE} as "
                    "select cast(? as varchar) as fingerprint, timezone('UTC', current_timestamp) as recorded_at", [value])
    finally:
        con.close()
