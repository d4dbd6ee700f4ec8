"""The raw landing as a Dagster asset: ``lead_scoring.load`` lands a folder of exports in the raw tables.

One multi-asset, ``raw_landing``, materialises the keys of the dbt sources (``["raw", "leads"]``,
``["raw", "events"]``, ``["raw", "opportunities"]``), so staging hangs below it. It loads every
``leads*``/``events*``/``opportunities*`` file (CSV, Parquet, JSON Lines) of its run config's ``folder`` (or env
``LEAD_SCORING_LANDING_DIR``): already landed files add nothing, a file that breaks the contract fails the run and
lands nothing (docs/loading.md). The scheduled jobs leave it out (on-demand tag): materialise it by hand.
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


@dg.multi_asset(
    name="raw_landing",
    specs=[spec.replace_attributes(tags={ON_DEMAND_TAG: "true"}) for spec in raw_asset_specs],
    pool=WAREHOUSE_POOL,
    description="Land the export folder in the raw tables, typed by the raw contract (lead_scoring.load).",
)
def raw_landing(context: dg.AssetExecutionContext, config: LandingConfig, warehouse: WarehouseResource):
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
        yield dg.MaterializeResult(
            asset_key=raw_asset_key(table),
            metadata={
                "files": len(files),
                "rows landed": sum(r.rows_landed for r in files),
                "rows skipped (already loaded)": sum(r.rows_skipped for r in files),
                "values null-ed (did not parse)": dict(nulled),
                "summary": dg.MetadataValue.md("\n\n".join(r.summary() for r in files) or "no file for this table"),
            },
        )
