"""The CRM sync in Dagster: the export asset ``crm_lead_sync_export`` and the sync-state tables it writes.

The export itself (files, batch ids, sync state) is ``lead_scoring.crm_sync.export_crm_sync``, the function
``lead-scoring export`` calls too.
"""

from typing import Any

import dagster as dg

from lead_scoring.crm_sync import BATCHES_TABLE, STATE_TABLE, export_crm_sync, resolve_export_dir
from orchestration.defs.resources import LEAD_SCORES_KEY, WAREHOUSE_POOL, WarehouseResource

GROUP = "crm_sync"
CRM_LEAD_SYNC_KEY = dg.AssetKey("crm_lead_sync")
SCORE_HISTORY_KEY = dg.AssetKey("score_distribution_history")
STATE_KEY = dg.AssetKey(["crm_sync", "crm_sync_state"])
BATCHES_KEY = dg.AssetKey(["crm_sync", "crm_sync_batches"])


class CrmExportConfig(dg.Config):
    """`export_dir`: where the batch files go; empty = env LEAD_SCORING_CRM_EXPORT_DIR or crm_export/ beside
    the DuckDB file."""

    export_dir: str = ""


crm_sync_state_specs = [
    dg.AssetSpec(key=STATE_KEY, group_name=GROUP, kinds={"duckdb"},
                 description=f"{STATE_TABLE}: the last synced sync_hash per scoring model and CRM lead. Written "
                             "only by crm_lead_sync_export after a successful export; read by crm_lead_sync.",
                 metadata={"dagster/table_name": STATE_TABLE}),
    dg.AssetSpec(key=BATCHES_KEY, group_name=GROUP, kinds={"duckdb"},
                 description=f"{BATCHES_TABLE}: one row per exported batch (counts, files, status). Written only "
                             "by crm_lead_sync_export after all the batch's files were written.",
                 metadata={"dagster/table_name": BATCHES_TABLE}),
]


@dg.asset(
    name="crm_lead_sync_export",
    deps=[SCORE_HISTORY_KEY, LEAD_SCORES_KEY, CRM_LEAD_SYNC_KEY],
    group_name=GROUP, pool=WAREHOUSE_POOL, kinds={"duckdb", "python"},
    description=("Exports the leads whose CRM fields changed (marts.crm_lead_sync) as one batch of CSV, JSON Lines "
                 "and Parquet files and records them in crm_sync.crm_sync_state / crm_sync_batches. Downstream of "
                 "score_distribution_history, so an ERROR of the blocking score_distribution_drift check (or a "
                 "failed lead_scores build) stops the sync."),
)
def crm_lead_sync_export(context: dg.AssetExecutionContext, config: CrmExportConfig,
                         warehouse: WarehouseResource) -> dg.MaterializeResult:
    database = warehouse.resolved_path()
    export_dir = resolve_export_dir(config.export_dir or None, database)
    with warehouse.connect(read_only=False) as con:
        result = export_crm_sync(con, export_dir)
    context.log.info(f"CRM sync: {result.status}, {result.row_count} rows, batch {result.batch_id}")
    metadata: dict[str, Any] = {
        "status": result.status, "rows": result.row_count, "new": result.new_count,
        "changed": result.changed_count, "batch_id": result.batch_id or "none",
        "export_dir": dg.MetadataValue.path(str(export_dir)),
    }
    for ext, path in result.files.items():
        metadata[f"{ext} file"] = dg.MetadataValue.path(path)
    return dg.MaterializeResult(metadata=metadata)



