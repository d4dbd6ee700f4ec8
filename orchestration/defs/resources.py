"""The warehouse resource and the names every concern of the code location shares.

``WarehouseResource`` wraps ``lead_scoring.warehouse.Warehouse`` (the DuckDB file dbt writes), so the assets and
the ``lead-scoring`` command open the file the same way. Every step that opens it runs in the concurrency pool
``duckdb_warehouse`` (limit 1 in ``orchestration/dagster.yaml``): DuckDB allows one writing process, so runs queue
instead of failing on the file lock.
"""
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg

from lead_scoring.warehouse import Warehouse

WAREHOUSE_POOL = "duckdb_warehouse"
OWNER = "team:analytics-engineering"
ON_DEMAND_TAG = "lead_scoring/on_demand"  # scheduled jobs leave assets with this tag out
LEAD_SCORES_KEY = dg.AssetKey("lead_scores")


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB file dbt writes (a :class:`lead_scoring.warehouse.Warehouse`). `database_path` empty: env
    LEAD_SCORING_DUCKDB_PATH, read when connecting."""

    database_path: str = ""

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.database_path)

    def resolved_path(self) -> Path:
        return self.warehouse.resolved_path()

    @contextmanager
    def connect(self, read_only: bool = True) -> Iterator[Any]:
        with self.warehouse.connect(read_only=read_only) as con:
            yield con


def run_id_of(context) -> str | None:
    """The Dagster run id, or None when a check is invoked directly (tests)."""
    try:
        return context.run.run_id
    except dg.DagsterError:  # DagsterInvalidPropertyError on direct invocation
        return None


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"warehouse": WarehouseResource()})
