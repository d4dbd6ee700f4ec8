"""The DuckDB warehouse file dbt writes: where it is and how to open it (plain Python, no Dagster).

The Dagster resource ``orchestration.defs.resources.WarehouseResource`` wraps :class:`Warehouse`, so the code
location and the command-line tools open the file the same way.
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DUCKDB_PATH_ENV = "LEAD_SCORING_DUCKDB_PATH"
DEFAULT_DUCKDB_PATH = "warehouse/lead_scoring.duckdb"


def resolve_path(value: str | os.PathLike[str] | None = None) -> Path:
    """`value`, else env LEAD_SCORING_DUCKDB_PATH, else warehouse/lead_scoring.duckdb; relative paths are resolved
    against the repository root."""
    path = Path(value or os.environ.get(DUCKDB_PATH_ENV) or DEFAULT_DUCKDB_PATH)
    return path if path.is_absolute() else PROJECT_ROOT / path


@dataclass(frozen=True)
class Warehouse:
    """The DuckDB file dbt writes. `database_path` empty: env LEAD_SCORING_DUCKDB_PATH, read when connecting."""

    database_path: str = ""

    def resolved_path(self) -> Path:
        return resolve_path(self.database_path)

    @contextmanager
    def connect(self, read_only: bool = True) -> Iterator[Any]:
        """A DuckDB connection (session time zone UTC), closed on exit. Read-only refuses a missing file."""
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


def rows(con: Any, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """The result of `sql` as a list of dicts (column name -> value)."""
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]
