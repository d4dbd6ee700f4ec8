"""The two scoring jobs: ``engagement_refresh_job`` (what depends on raw events, plus the marts) and
``full_scoring_job`` (everything). Only materialisable assets: the raw specs are external, but their checks run.
Assets tagged ``lead_scoring/on_demand`` (the raw landing, weight and rule suggestions, the CRM export) are never in
these jobs nor in a schedule or sensor: they have their own jobs, launched by hand (``crm_export_job``, ...).
"""
from dagster import AssetSelection, RunConfig, define_asset_job

from orchestration.defs.dbt.assets import DBT_ASSETS_NAME, DbtBuildConfig
from orchestration.defs.raw.assets import RAW_TABLES, raw_asset_key
from orchestration.defs.resources import ON_DEMAND_TAG

TRIGGER_TAG = "lead_scoring/trigger"

ON_DEMAND = AssetSelection.tag(ON_DEMAND_TAG, "true")
# External specs (the on-demand CRM export and its state) are never materialised by an asset job: materializable().
engagement_selection = (
    AssetSelection.assets(raw_asset_key("events")).downstream(include_self=False).materializable() - ON_DEMAND
    | AssetSelection.groups("marts")
    | AssetSelection.checks_for_assets(raw_asset_key("events"))
)
full_selection = (
    AssetSelection.all().materializable() - AssetSelection.groups("raw") - ON_DEMAND
    | AssetSelection.checks_for_assets(*(raw_asset_key(t) for t in RAW_TABLES))
)

engagement_refresh_job = define_asset_job(
    "engagement_refresh_job", selection=engagement_selection,
    description="Re-score engagement: the dbt models downstream of raw events, and the marts.",
)
full_scoring_job = define_asset_job(
    "full_scoring_job", selection=full_selection,
    description="Build and test everything: seeds, staging, intermediate, marts (and the monitoring assets).",
)


def scoring_run_config(as_of: str | None, full_refresh: bool = False) -> RunConfig:
    return RunConfig(ops={DBT_ASSETS_NAME: DbtBuildConfig(as_of=as_of, full_refresh=full_refresh)})


jobs = [engagement_refresh_job, full_scoring_job]
