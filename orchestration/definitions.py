"""The Dagster code location: `dagster dev -m orchestration.definitions` (or `make dev`).

Assets: the raw landing (external), every dbt model and seed (dbt tests as asset checks) and the monitoring
assets and checks of `orchestration.monitoring`, the SLA breach-rate check (`orchestration.sla_checks`), the
CRM sync export (`orchestration.crm_sync`), the scoring report (`orchestration.report_assets`) and the
on-demand weight suggestions (`orchestration.weight_assets`). Schedules and the rule-seed sensor:
`orchestration.automation`.
"""
from __future__ import annotations

from dagster import Definitions

from orchestration.automation import jobs, schedules, sensors
from orchestration.crm_sync import crm_sync_assets
from orchestration.dbt_project import dbt_resource, lead_scoring_dbt_assets, raw_asset_specs
from orchestration.monitoring import monitoring_assets, monitoring_checks, monitoring_resources
from orchestration.report_assets import report_assets
from orchestration.sla_checks import sla_checks
from orchestration.weight_assets import weight_assets

defs = Definitions(
    assets=[
        *raw_asset_specs,
        lead_scoring_dbt_assets,
        *monitoring_assets,
        *crm_sync_assets,
        *report_assets,
        *weight_assets,
    ],
    asset_checks=[*monitoring_checks, *sla_checks],
    jobs=jobs,
    schedules=schedules,
    sensors=sensors,
    resources={"dbt": dbt_resource, **monitoring_resources},
)
