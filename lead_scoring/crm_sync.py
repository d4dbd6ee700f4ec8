"""Reverse-ETL to the CRM: export the rows of ``marts.crm_lead_sync`` as CSV, JSON Lines and Parquet.

One export is one *batch*: every row the sync view lists (leads whose CRM fields changed since the last
successful sync, or never synced), written to ``<export dir>/crm_lead_sync__<batch_id>.{csv,jsonl,parquet}``.

Safety on failure and retry:

- all three files are written to temporary names in the export folder and renamed into place (``os.replace``,
  atomic on one file system) only once all three were written; a failure removes the temporary files, and the
  next export removes those a killed export (SIGKILL) left behind;
- the sync state (``crm_sync.crm_sync_state``: last synced hash per model and lead) and the batch log
  (``crm_sync.crm_sync_batches``) are written in one transaction *after* the files, so a failure at any point
  before it leaves the state untouched and the view still lists the same rows;
- the batch id is derived from the content and the previous batch id (``batch_id_for``), so a retry of a
  failed export produces the same batch id and rewrites the same files instead of creating a second batch;
  a lead whose fields flip back and forth still gets a new id per batch because the chain moves on.

Readers of the files (a CRM import, an S3 sync) should only take batches listed in ``crm_sync_batches``.

On PostgreSQL and Spark (the dbt target, env ``LEAD_SCORING_TARGET``; ``lead_scoring.warehouse``) the changed rows
are fetched from the view into an in-memory DuckDB, which writes the same three files (same names, same content),
and the state is then recorded in the engine's ``crm_sync`` tables: on PostgreSQL in one transaction; Spark has
no transactions, so the batch is logged first and the state rewritten after it: a failure between the two makes the
next export send those rows again, in a new batch (at least once, never lost).

Entry points: ``lead-scoring export`` and the Dagster asset ``crm_lead_sync_export`` (``orchestration/defs/crm_sync``,
downstream of ``score_distribution_history`` and its blocking drift check, in the ``duckdb_warehouse`` pool); both
call :func:`export_crm_sync`.
"""

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from lead_scoring.clock import utc_now
from lead_scoring.warehouse import Db, DuckDb, Warehouse, as_db, copy_into_duckdb, resolve_target

SYNC_VIEW = "marts.crm_lead_sync"
STATE_TABLE = "crm_sync.crm_sync_state"
BATCHES_TABLE = "crm_sync.crm_sync_batches"
EXPORT_DIR_ENV = "LEAD_SCORING_CRM_EXPORT_DIR"
DEFAULT_EXPORT_SUBDIR = "crm_export"  # next to the DuckDB file: warehouse/crm_export by default
FILE_PREFIX = "crm_lead_sync__"

# Columns written to the files, in order (the view's contract minus its bookkeeping columns), plus batch_id.
EXPORT_COLUMNS: tuple[str, ...] = (
    "crm_sync_key", "crm_external_id", "scoring_model_id", "lead_score", "fit_score", "fit_grade",
    "engagement_score", "engagement_level", "matrix_cell", "lifecycle_stage", "is_mql", "top_reasons",
    "queue_id", "owner_id", "routing_rule_id", "routing_status", "sla_due_at", "routing_status_reason",
    "ruleset_version", "scored_at", "sync_hash", "change_type",
)
# Types of the exported columns in the in-memory DuckDB of other engines: the view's contract (_crm__models.yml).
EXPORT_TYPES: Mapping[str, str] = {
    **{c: "varchar" for c in ("batch_id", *EXPORT_COLUMNS)},
    "lead_score": "double", "fit_score": "double", "engagement_score": "double", "is_mql": "boolean",
    "sla_due_at": "timestamp", "scored_at": "timestamp",
}
STATE_COLUMNS = ("scoring_model_id", "crm_external_id", "sync_hash", "batch_id", "synced_at")
# file extension -> DuckDB COPY options
FORMATS: Mapping[str, str] = {
    "csv": "FORMAT csv, HEADER true",
    "jsonl": "FORMAT json",
    "parquet": "FORMAT parquet",
}

# --------------------------------------------------------------------------------------------------
# pure helpers
# --------------------------------------------------------------------------------------------------
def batch_id_for(previous_batch_id: str | None, rows: Iterable[tuple[str, str, str]]) -> str:
    """Deterministic batch id: sha256 (first 20 hex) of the previous batch id and the sorted
    (scoring_model_id, crm_external_id, sync_hash) rows. Same state and same content -> same id."""
    digest = hashlib.sha256()
    digest.update(f"previous={previous_batch_id or ''}\n".encode())
    for model_id, lead_id, sync_hash in sorted(rows):
        digest.update(f"{model_id}\t{lead_id}\t{sync_hash}\n".encode())
    return digest.hexdigest()[:20]


def batch_file_names(batch_id: str) -> dict[str, str]:
    """{'csv': 'crm_lead_sync__<id>.csv', 'jsonl': ..., 'parquet': ...}."""
    return {ext: f"{FILE_PREFIX}{batch_id}.{ext}" for ext in FORMATS}


def temp_file_name(name: str) -> str:
    """The temporary name a file is written under before its atomic rename (hidden, same folder)."""
    return f".{name}.tmp"


def stale_temp_files(export_dir: Path) -> list[Path]:
    """Temporary batch files (``.crm_lead_sync__*.tmp``) left in `export_dir` by an export that was killed before
    its cleanup ran (SIGKILL, power loss). They were never renamed into place, so no reader takes them."""
    if not export_dir.is_dir():
        return []
    return sorted(p for p in export_dir.glob(f".{FILE_PREFIX}*.tmp") if p.is_file())


def resolve_export_dir(out: str | os.PathLike[str] | None, database: Path,
                       env: Mapping[str, str] | None = None) -> Path:
    """`out`, else env LEAD_SCORING_CRM_EXPORT_DIR, else `crm_export/` beside the DuckDB file."""
    env = os.environ if env is None else env
    chosen = str(out) if out else (env.get(EXPORT_DIR_ENV) or "").strip()
    return Path(chosen) if chosen else database.parent / DEFAULT_EXPORT_SUBDIR


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --------------------------------------------------------------------------------------------------
# the export
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportResult:
    status: str  # "synced" or "nothing_to_sync"
    row_count: int = 0
    new_count: int = 0
    changed_count: int = 0
    batch_id: str | None = None
    batch_number: int | None = None
    export_dir: str | None = None
    files: dict[str, str] = field(default_factory=dict)  # extension -> full path

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class CrmSyncError(RuntimeError):
    """The warehouse is not ready for a CRM export."""


def write_batch_file(con: Any, ext: str, path: Path) -> None:
    """Write the staged batch (temp table crm_batch) to `path` in format `ext` with DuckDB COPY."""
    con.execute(f"copy (select * from crm_batch order by scoring_model_id, crm_external_id) "
                f"to {_sql_literal(str(path))} ({FORMATS[ext]})")


def record_batch(con: Any, batch: Mapping[str, Any], rows: Sequence[tuple] | None = None) -> None:
    """In one transaction: upsert the sync state of the batch's rows and log the batch. `con`: the DuckDB
    warehouse (the rows are its temp table crm_batch) or the :class:`Db` of another engine with the batch's
    `rows` ((scoring_model_id, crm_external_id, sync_hash, change_type) each)."""
    if isinstance(con, Db) and not isinstance(con, DuckDb):
        state = [(m, lead, h, batch["batch_id"], batch["synced_at"]) for m, lead, h, _ in rows or ()]
        columns = list(batch)
        with con.transaction():  # Spark: no transaction; the batch first, so a failure re-sends, never loses
            con.insert_rows(BATCHES_TABLE, columns, [[batch[c] for c in columns]])
            con.replace_keyed(STATE_TABLE, ("scoring_model_id", "crm_external_id"), STATE_COLUMNS, state)
        return
    con = con.con if isinstance(con, DuckDb) else con
    con.execute("begin transaction")
    try:
        con.execute(f"""delete from {STATE_TABLE} as s where exists (
                            select 1 from crm_batch as b
                            where b.scoring_model_id = s.scoring_model_id and b.crm_external_id = s.crm_external_id)""")
        con.execute(f"""insert into {STATE_TABLE} (scoring_model_id, crm_external_id, sync_hash, batch_id, synced_at)
                        select scoring_model_id, crm_external_id, sync_hash, ?, ? from crm_batch""",
                    [batch["batch_id"], batch["synced_at"]])
        columns = list(batch)
        con.execute(f"insert into {BATCHES_TABLE} ({', '.join(columns)}) values ({', '.join('?' * len(columns))})",
                    [batch[c] for c in columns])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _check_ready(con: Any) -> None:
    db = as_db(con)
    missing = [name for name in (SYNC_VIEW, STATE_TABLE, BATCHES_TABLE) if not db.table_exists(*name.split("."))]
    if missing:
        raise CrmSyncError(f"{', '.join(missing)} not found in the warehouse: run `dbt build` (make build) first; "
                           "it creates the sync view and the sync state tables")


def export_crm_sync(con: Any, export_dir: Path, synced_at: datetime | None = None,
                    writer: Callable[[Any, str, Path], None] | None = None) -> ExportResult:
    """Export what `marts.crm_lead_sync` lists as one batch and record it as synced (see the module doc). `con`: a
    DuckDB connection, or the :class:`Db` of any engine (``Warehouse.open``)."""
    _check_ready(con)
    if isinstance(con, Db) and not isinstance(con, DuckDb):
        return _export_from_engine(con, export_dir, synced_at, writer)
    con = con.con if isinstance(con, DuckDb) else con
    writer = writer or write_batch_file
    cols = ", ".join(EXPORT_COLUMNS)
    con.execute(f"create or replace temp table crm_batch as select ? as batch_id, {cols} from {SYNC_VIEW}",
                [""])
    rows = con.execute("select scoring_model_id, crm_external_id, sync_hash, change_type from crm_batch").fetchall()
    if not rows:
        return ExportResult(status="nothing_to_sync", export_dir=str(export_dir))
    previous = con.execute(f"select batch_id, batch_number from {BATCHES_TABLE} "
                           "order by batch_number desc limit 1").fetchone()
    previous_id, previous_number = (previous[0], previous[1]) if previous else (None, 0)
    batch_id = batch_id_for(previous_id, [(m, lead, h) for m, lead, h, _ in rows])
    con.execute("update crm_batch set batch_id = ?", [batch_id])

    # A killed export leaves its temporary files; this export holds the warehouse's write lock, so no other
    # export of this warehouse is writing them now (_write_files removes them).
    finals, names = _write_files(con, export_dir, batch_id, writer)

    new_count = sum(1 for *_, change in rows if change == "new")
    ruleset, scored_at = con.execute(
        "select string_agg(distinct ruleset_version, ',' order by ruleset_version), max(scored_at) from crm_batch"
    ).fetchone()
    batch = {
        "batch_id": batch_id, "batch_number": previous_number + 1, "previous_batch_id": previous_id,
        "status": "synced", "row_count": len(rows), "new_count": new_count, "changed_count": len(rows) - new_count,
        "export_dir": str(export_dir), "csv_file": names["csv"], "jsonl_file": names["jsonl"],
        "parquet_file": names["parquet"], "ruleset_version": ruleset, "scored_at": scored_at,
        "synced_at": synced_at or utc_now(),
    }
    record_batch(con, batch)
    con.execute("drop table if exists crm_batch")
    return ExportResult(status="synced", row_count=len(rows), new_count=new_count,
                        changed_count=len(rows) - new_count, batch_id=batch_id, batch_number=previous_number + 1,
                        export_dir=str(export_dir), files={ext: str(p) for ext, p in finals.items()})


def _export_from_engine(db: Db, export_dir: Path, synced_at: datetime | None,
                        writer: Callable[[Any, str, Path], None] | None) -> ExportResult:
    """The export on PostgreSQL or Spark: the view's rows staged in an in-memory DuckDB (temp table crm_batch, as
    on DuckDB), the files written from there, the state recorded in the engine."""
    import duckdb

    writer = writer or write_batch_file
    cols = ", ".join(EXPORT_COLUMNS)
    names, data = db.query(f"select '' as batch_id, {cols} from {SYNC_VIEW}")
    if not data:
        return ExportResult(status="nothing_to_sync", export_dir=str(export_dir))
    local = duckdb.connect(":memory:")
    try:
        local.execute("set TimeZone = 'UTC'")
        copy_into_duckdb(local, "crm_batch", names, data, dict(EXPORT_TYPES))
        rows = local.execute("select scoring_model_id, crm_external_id, sync_hash, change_type from crm_batch"
                             ).fetchall()
        previous = db.query(f"select batch_id, batch_number from {BATCHES_TABLE} "
                            "order by batch_number desc limit 1")[1]
        previous_id, previous_number = (previous[0][0], int(previous[0][1])) if previous else (None, 0)
        batch_id = batch_id_for(previous_id, [(m, lead, h) for m, lead, h, _ in rows])
        local.execute("update crm_batch set batch_id = ?", [batch_id])
        finals, names_by_ext = _write_files(local, export_dir, batch_id, writer)
        ruleset, scored_at = local.execute(
            "select string_agg(distinct ruleset_version, ',' order by ruleset_version), max(scored_at) from crm_batch"
        ).fetchone()
    finally:
        local.close()
    new_count = sum(1 for *_, change in rows if change == "new")
    batch = {
        "batch_id": batch_id, "batch_number": previous_number + 1, "previous_batch_id": previous_id,
        "status": "synced", "row_count": len(rows), "new_count": new_count, "changed_count": len(rows) - new_count,
        "export_dir": str(export_dir), "csv_file": names_by_ext["csv"], "jsonl_file": names_by_ext["jsonl"],
        "parquet_file": names_by_ext["parquet"], "ruleset_version": ruleset, "scored_at": scored_at,
        "synced_at": synced_at or utc_now(),
    }
    record_batch(db, batch, rows)
    return ExportResult(status="synced", row_count=len(rows), new_count=new_count,
                        changed_count=len(rows) - new_count, batch_id=batch_id, batch_number=previous_number + 1,
                        export_dir=str(export_dir), files={ext: str(p) for ext, p in finals.items()})


def _write_files(con: Any, export_dir: Path, batch_id: str, writer: Callable[[Any, str, Path], None]
                 ) -> tuple[dict[str, Path], dict[str, str]]:
    """Write the three files of crm_batch (in `con`) under temporary names, then rename them into place."""
    export_dir.mkdir(parents=True, exist_ok=True)
    for stale in stale_temp_files(export_dir):
        stale.unlink(missing_ok=True)
    names = batch_file_names(batch_id)
    temps = {ext: export_dir / temp_file_name(name) for ext, name in names.items()}
    finals = {ext: export_dir / name for ext, name in names.items()}
    try:
        for ext in FORMATS:
            writer(con, ext, temps[ext])
        for ext in FORMATS:
            os.replace(temps[ext], finals[ext])
    finally:
        for path in temps.values():
            path.unlink(missing_ok=True)
    return finals, names


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `lead-scoring export` (and `python -m lead_scoring.crm_sync`)."""
    parser.add_argument("--database", help="DuckDB file (default: env LEAD_SCORING_DUCKDB_PATH or "
                                           "warehouse/lead_scoring.duckdb)")
    parser.add_argument("--target", default="", help="the warehouse engine, as the dbt target: duckdb, postgres "
                                                     "or spark (default: env LEAD_SCORING_TARGET, else duckdb)")
    parser.add_argument("--out", help=f"export folder (default: env {EXPORT_DIR_ENV} or crm_export/ beside the "
                                      "DuckDB file)")


def run(args: argparse.Namespace) -> int:
    warehouse = Warehouse(args.database or "", resolve_target(getattr(args, "target", "")))
    database = warehouse.resolved_path()
    if not warehouse.exists():
        print(f"error: DuckDB warehouse {database} does not exist: build it first (make build)", file=sys.stderr)
        return 2
    try:
        with warehouse.open(read_only=False) as db:
            result = export_crm_sync(db, resolve_export_dir(args.out, database))
    except CrmSyncError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.as_dict(), indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lead_scoring.crm_sync",
                                     description="Export the changed CRM lead rows (marts.crm_lead_sync) as one "
                                                 "batch of CSV, JSON Lines and Parquet files.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
