"""The raw landing, upstream of staging: the dbt sources as external asset specs, recorded by `raw_landing_job`
(defs/raw/landing.py: `lead-scoring load` as a job, on demand) or landed by an EL tool outside Dagster.

dbt sources are keyed ``AssetKey(["raw", <table>])`` (``["raw", "leads"]``, ``["raw", "events"]``,
``["raw", "opportunities"]``) in group ``raw``; the translator (``defs/dbt/translator.py``) gives dbt's sources
the same keys, so staging hangs below them. The columns and faults of each table: docs/raw_contract.md.
"""
from collections.abc import Mapping

from dagster import AssetKey, AssetSpec

from orchestration.defs.resources import ON_DEMAND_TAG, OWNER

RAW_GROUP = "raw"
RAW_TABLES: Mapping[str, str] = {
    "leads": "Raw CRM leads, one row per lead version (the CRM re-lands a lead when it changes); soft deletes "
             "via is_deleted; `_loaded_at` is when the loader wrote the row. Contract: docs/raw_contract.md.",
    "events": "Raw behavioural events, append-only with at-least-once delivery (re-delivered events repeat "
              "event_id); may be anonymous, late, in the future or of unknown type. Contract: "
              "docs/raw_contract.md.",
    "opportunities": "Raw sales opportunities (outcomes) per lead, for calibration and reporting. Contract: "
                     "docs/raw_contract.md.",
}


def raw_asset_key(table: str) -> AssetKey:
    return AssetKey([RAW_GROUP, table])


# External specs (the UI's "Materialize all" leaves them out); raw_landing_job records their materialisations.
raw_asset_specs = [
    AssetSpec(
        key=raw_asset_key(table),
        description=description,
        group_name=RAW_GROUP,
        kinds={"duckdb"},
        owners=[OWNER],
        metadata={"dagster/table_name": f"raw.{table}"},
        tags={ON_DEMAND_TAG: "true"},
    )
    for table, description in RAW_TABLES.items()
]
