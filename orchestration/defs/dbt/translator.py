"""How dbt nodes become Dagster assets: keys, groups, owners, mart freshness.

Asset keys (a contract the other concerns rely on):
- dbt models and seeds are keyed by their bare name (no schema prefix): ``AssetKey("lead_scores")``,
  ``AssetKey("scoring_fit_rules")``;
- dbt sources are ``AssetKey(["raw", <table>])``, the external specs of ``defs/raw/assets.py``.

dbt tests become asset checks (the dagster-dbt default, made explicit).
"""
import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from dagster import AssetKey, AssetSpec, FreshnessPolicy
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

from orchestration.defs.raw.assets import RAW_GROUP, raw_asset_key
from orchestration.defs.resources import OWNER

# Mart freshness (Dagster FreshnessPolicy): the daily run is at 05:00 UTC, so a mart older than ~a day warns.
MART_FRESHNESS_WARN_HOURS = float(os.environ.get("LEAD_SCORING_MART_FRESHNESS_WARN_HOURS", "26"))
MART_FRESHNESS_FAIL_HOURS = float(os.environ.get("LEAD_SCORING_MART_FRESHNESS_FAIL_HOURS", "50"))


class LeadScoringTranslator(DagsterDbtTranslator):
    """dagster-dbt defaults plus: sources as ["raw", table], groups by layer, FreshnessPolicy on the marts."""

    def __init__(self, mart_warn_hours: float = MART_FRESHNESS_WARN_HOURS,
                 mart_fail_hours: float = MART_FRESHNESS_FAIL_HOURS):
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))
        self.mart_freshness_policy = FreshnessPolicy.time_window(
            fail_window=timedelta(hours=mart_fail_hours), warn_window=timedelta(hours=mart_warn_hours)
        )

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        meta = dbt_resource_props.get("config", {}).get("meta", {}) or dbt_resource_props.get("meta", {})
        if (meta.get("dagster") or {}).get("asset_key"):  # an explicit key in the dbt yml wins
            return super().get_asset_key(dbt_resource_props)
        if dbt_resource_props["resource_type"] == "source":
            return raw_asset_key(dbt_resource_props["name"])
        # Models and seeds: the bare name, even though dbt_project.yml gives each layer a schema (which the
        # dagster-dbt default would prefix): AssetKey("lead_scores"), AssetKey("scoring_fit_rules").
        return AssetKey(dbt_resource_props["name"])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        resource_type = dbt_resource_props["resource_type"]
        if resource_type == "source":
            return RAW_GROUP
        if resource_type == "seed":
            return "rules"
        fqn = dbt_resource_props.get("fqn") or []
        if len(fqn) > 1 and fqn[1] in ("staging", "intermediate", "marts"):
            return fqn[1]
        return super().get_group_name(dbt_resource_props)

    def get_owners(self, dbt_resource_props: Mapping[str, Any]):
        return [*(super().get_owners(dbt_resource_props) or []), OWNER]

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if spec.group_name == "marts":
            spec = spec.replace_attributes(freshness_policy=self.mart_freshness_policy)
        return spec


dagster_dbt_translator = LeadScoringTranslator()
