"""The two scoring jobs: ``engagement_refresh_job`` (what depends on raw events, but the evidence) and
``full_scoring_job`` (everything). Only materialisable assets: the raw specs are external, but their checks run.
The evidence (dbt folders ``evidence/``: calibration, AUC, MQL threshold, channel quality, rule and band health, and
the report that reads them) measures the scoring over every lead and outcome: the daily job refreshes it, the hourly
one does not.
The dbt tests tagged ``audit`` recompute or rescan whole tables (every lead's score from the rules, every staged
event): they run in ``full_scoring_job`` (daily), in ``lead-scoring build`` and in CI, but not in the hourly
``engagement_refresh_job``, which keeps every other check of its assets (docs/dagster.md).
Assets tagged ``lead_scoring/on_demand`` (the raw landing, weight and rule suggestions, the CRM export) are never in
these jobs nor in a schedule or sensor: they have their own jobs, launched by hand (``crm_export_job``, ...).
"""
from dagster import AssetCheckKey, AssetSelection, RunConfig, define_asset_job
from dagster_dbt import build_dbt_asset_selection
from dagster_dbt.asset_utils import get_asset_check_key_for_test, get_manifest_and_translator_from_dbt_assets

from orchestration.defs.dbt.assets import DBT_ASSETS_NAME, DbtBuildConfig, lead_scoring_dbt_assets
from orchestration.defs.raw.assets import RAW_TABLES, raw_asset_key
from orchestration.defs.resources import ON_DEMAND_TAG

TRIGGER_TAG = "lead_scoring/trigger"
AUDIT_TAG = "audit"  # dbt tag of the whole-table audits left out of the hourly job


def audit_check_keys(manifest, translator, project) -> list[AssetCheckKey]:
    """The asset checks of the dbt tests tagged ``audit`` in `manifest`, keyed as `translator` keys them."""
    keys = []
    for unique_id, node in sorted(manifest["nodes"].items()):
        if node["resource_type"] == "test" and AUDIT_TAG in node.get("tags", []):
            key = get_asset_check_key_for_test(manifest, translator, unique_id, project)
            if key is None:
                raise ValueError(f"the audit test {unique_id} is no asset check: give it meta.dagster.ref")
            keys.append(key)
    return keys


# from the manifest, translator and project the dbt assets were built with
AUDIT_CHECKS = audit_check_keys(*get_manifest_and_translator_from_dbt_assets([lead_scoring_dbt_assets]))

ON_DEMAND = AssetSelection.tag(ON_DEMAND_TAG, "true")
# dbt selector of the evidence models (with their tests); everything downstream of them is daily too (the report).
EVIDENCE_DBT_SELECT = "path:models/intermediate/evidence+ path:models/marts/evidence+"
EVIDENCE = build_dbt_asset_selection([lead_scoring_dbt_assets], dbt_select=EVIDENCE_DBT_SELECT).downstream()
# External specs (the on-demand CRM export and its state) are never materialised by an asset job: materializable().
# The marts that no event reaches (the lead and opportunity quarantines, the placeholder and dictionary audits, the
# rule-configuration snapshots) read only what the daily job rebuilds - leads, opportunities, seeds - so an hourly
# rebuild would write what they already hold: they are daily.
engagement_selection = (
    AssetSelection.assets(raw_asset_key("events")).downstream(include_self=False).materializable() - ON_DEMAND
    | AssetSelection.checks_for_assets(raw_asset_key("events"))
) - EVIDENCE - AssetSelection.checks(*AUDIT_CHECKS)
full_selection = (
    AssetSelection.all().materializable() - AssetSelection.groups("raw") - ON_DEMAND
    | AssetSelection.checks_for_assets(*(raw_asset_key(t) for t in RAW_TABLES))
)

engagement_refresh_job = define_asset_job(
    "engagement_refresh_job", selection=engagement_selection,
    description="Re-score engagement: the dbt models downstream of raw events, with their checks; the marts no"
                " event reaches, the evidence marts (and the report) and the whole-table audits (dbt tag audit) are"
                " left to the daily full_scoring_job.",
)
full_scoring_job = define_asset_job(
    "full_scoring_job", selection=full_selection,
    description="Build and test everything: seeds, staging, intermediate, marts (and the monitoring assets).",
)


def scoring_run_config(as_of: str | None, full_refresh: bool = False) -> RunConfig:
    return RunConfig(ops={DBT_ASSETS_NAME: DbtBuildConfig(as_of=as_of, full_refresh=full_refresh)})


jobs = [engagement_refresh_job, full_scoring_job]
