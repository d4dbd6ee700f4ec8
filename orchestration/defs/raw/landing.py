"""The raw landing in Dagster: ``raw_landing_job`` runs ``lead_scoring.load`` on a folder of exports.

Its op ``raw_landing`` records materialisations of the keys of the dbt sources (``["raw", "leads"]``,
``["raw", "events"]``, ``["raw", "opportunities"]``: external specs, defs/raw/assets.py, so staging hangs below
them). It loads every ``leads*``/``events*``/``opportunities*`` file (CSV, Parquet, JSON Lines) of its run config's
``folder`` (or env ``LEAD_SCORING_LANDING_DIR``): already landed files add nothing, a file that breaks the contract
fails the run and lands nothing (docs/loading.md). On demand: the raw specs are external, so "Materialize all" and
the scheduled jobs leave the landing out (without a folder it would fail and stop the build); launch the job.
"""
import os
from collections import defaultdict

import dagster as dg

from lead_scoring.load import LoadError, load_folder
from orchestration.defs.raw.assets import raw_asset_key, raw_asset_specs
from orchestration.defs.resources import ON_DEMAND_TAG, WAREHOUSE_POOL, WarehouseResource

LANDING_DIR_ENV = "LEAD_SCORING_LANDING_DIR"


class LandingConfig(dg.Config):
    """`folder`: the exports to land (leads*.csv, events*.jsonl, opportunities*.parquet, ...); empty = env
    LEAD_SCORING_LANDING_DIR."""

    folder: str = ""


@dg.op(name="raw_landing", pool=WAREHOUSE_POOL,
       description="Land the export folder in the raw tables, typed by the raw contract (lead_scoring.load).")
def raw_landing(context: dg.OpExecutionContext, config: LandingConfig, warehouse: WarehouseResource) -> None:
    folder = config.folder or os.environ.get(LANDING_DIR_ENV, "")
    if not folder:
        raise dg.Failure(f"no folder to land: set the run config's `folder` or env {LANDING_DIR_ENV}")
    try:
        results = load_folder(warehouse.resolved_path(), folder)
    except LoadError as exc:
        raise dg.Failure(str(exc)) from exc
    by_table = defaultdict(list)
    for result in results:
        context.log.info(result.summary())
        by_table[result.table.split(".")[-1]].append(result)
    for spec in raw_asset_specs:
        table = spec.key.path[-1]
        files = by_table.get(table, [])
        nulled: dict[str, int] = defaultdict(int)
        for result in files:
            for column, count in result.nulled.items():
                nulled[column] += count
        context.log_event(dg.AssetMaterialization(
            asset_key=raw_asset_key(table),
            metadata={
                "files": len(files),
                "rows landed": sum(r.rows_landed for r in files),
                "rows skipped (already loaded)": sum(r.rows_skipped for r in files),
                "values null-ed (did not parse)": dict(nulled),
                "summary": dg.MetadataValue.md("\n\n".join(r.summary() for r in files) or "no file for this table"),
            },
        ))


@dg.job(name="raw_landing_job", tags={ON_DEMAND_TAG: "true"},
        description="On demand: land a folder of exports in the raw tables (run config folder or env "
                    f"{LANDING_DIR_ENV}).")
def raw_landing_job():
    raw_landing()
