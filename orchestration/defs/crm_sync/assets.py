"""The CRM sync in Dagster: ``crm_export_job``, launched by hand, writes the batch ``crm_lead_sync_export`` and the
sync-state tables.

On demand, never in "Materialize all" nor in a schedule or sensor: the export and the state tables are external
asset specs (the UI cannot materialise them, so "Materialize all" leaves them out), and the op job
``crm_export_job`` records their materialisations (``AssetMaterialization``) when it has written a batch. Its first
op records the distribution of the scores about to be sent (nothing when a scoring run already recorded them) and
evaluates the blocking drift check ``score_distribution_drift`` on it (the check's own code, status recorded): an
ERROR that nobody accepted fails the job before anything is written.

The export itself (files, batch ids, sync state) is ``lead_scoring.crm_sync.export_crm_sync``, the function
``lead-scoring export`` calls too.
"""

from typing import Any

import dagster as dg

from lead_scoring.crm_sync import BATCHES_TABLE, STATE_TABLE, export_crm_sync, resolve_export_dir
from lead_scoring.monitoring import record_distribution
from orchestration.defs.monitoring.checks import evaluate_drift
from orchestration.defs.resources import LEAD_SCORES_KEY, ON_DEMAND_TAG, WAREHOUSE_POOL, WarehouseResource

GROUP = "crm_sync"
EXPORT_KEY = dg.AssetKey("crm_lead_sync_export")
JOB_NAME = "crm_export_job"
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
                             f"only by {JOB_NAME} after a successful export; read by crm_lead_sync.",
                 metadata={"dagster/table_name": STATE_TABLE}),
    dg.AssetSpec(key=BATCHES_KEY, group_name=GROUP, kinds={"duckdb"},
                 description=f"{BATCHES_TABLE}: one row per exported batch (counts, files, status). Written only "
                             f"by {JOB_NAME} after all the batch's files were written.",
                 metadata={"dagster/table_name": BATCHES_TABLE}),
]


crm_lead_sync_export_spec = dg.AssetSpec(
    key=EXPORT_KEY, deps=[SCORE_HISTORY_KEY, LEAD_SCORES_KEY, CRM_LEAD_SYNC_KEY], group_name=GROUP,
    kinds={"duckdb", "python"}, tags={ON_DEMAND_TAG: "true"},
    description=("The batch of leads whose CRM fields changed (marts.crm_lead_sync) as CSV, JSON Lines and Parquet "
                 "files, recorded in crm_sync.crm_sync_state / crm_sync_batches. On demand: launch crm_export_job "
                 "(Jobs), which first evaluates the blocking score_distribution_drift check on the latest scoring "
                 "run and stops on an ERROR nobody accepted (lead-scoring drift accept)."),
)


@dg.op(pool=WAREHOUSE_POOL, out=dg.Out(dg.Nothing),
       description="score_distribution_drift on the latest scoring run; fails (nothing exported) on an ERROR.")
def crm_drift_gate(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> None:
    # The scores about to be sent are judged, even if no scoring job recorded them (e.g. `make build`): their
    # distribution is recorded first (nothing, when it repeats the latest recorded run), then checked.
    info = record_distribution(warehouse.warehouse, context.run_id)
    if not info["repeats"]:
        context.log.info(f"recorded the distribution of the scores to export as run {context.run_id}")
    result = evaluate_drift(warehouse)
    context.log.info(f"score_distribution_drift: {'passed' if result.passed else result.severity.value}: "
                     f"{result.description}")
    if not result.passed and result.severity == dg.AssetCheckSeverity.ERROR:
        raise dg.Failure(f"CRM export blocked by score_distribution_drift: {result.description}",
                         metadata={"drift": result.description or ""}, allow_retries=False)


@dg.op(pool=WAREHOUSE_POOL, ins={"gate": dg.In(dg.Nothing)},
       description="Exports the changed leads as one batch and records the sync state (lead_scoring.crm_sync).")
def crm_lead_sync_export(context: dg.OpExecutionContext, config: CrmExportConfig, warehouse: WarehouseResource):
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
    context.log_event(dg.AssetMaterialization(asset_key=EXPORT_KEY, metadata=metadata))
    for key in (STATE_KEY, BATCHES_KEY):
        context.log_event(dg.AssetMaterialization(asset_key=key, metadata={"batch_id": result.batch_id or "none"}))


@dg.job(name=JOB_NAME, tags={ON_DEMAND_TAG: "true"},
        description=("On demand: export the leads whose CRM fields changed as one batch and record the sync state, "
                     "unless the blocking drift check is at ERROR on the latest scoring run."))
def crm_export_job():
    crm_lead_sync_export(gate=crm_drift_gate())
