"""Jobs, schedules and the rule-seed sensor of the lead-scoring code location.

- ``engagement_refresh_hourly`` (``0 * * * *`` UTC): the assets downstream of ``raw/events`` (dbt models,
  marts, the score-history asset) plus the marts group and the checks on ``raw/events``, so new behaviour
  is scored every hour without rebuilding the lead-only models and seeds.
- ``full_scoring_daily`` (``0 5 * * *`` UTC): every materialisable asset and the checks on the raw assets.
- ``rule_seed_change_sensor``: a change to ``seeds/*.csv`` re-scores everything.

Schedules pass their tick time (not the wall clock) as the dbt ``as_of`` var and as the run tag
``lead_scoring/as_of``, so a backfilled or late tick scores the past as it was.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunConfig,
    RunRequest,
    ScheduleEvaluationContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)

from lead_scoring.clock import format_as_of, utc_now
from orchestration.dbt_project import (
    AS_OF_TAG,
    DBT_ASSETS_NAME,
    SEEDS_DIR,
    RAW_TABLES,
    DbtBuildConfig,
    raw_asset_key,
)

RULESET_HASH_TAG = "lead_scoring/ruleset_hash"
TRIGGER_TAG = "lead_scoring/trigger"

# Jobs. Only materialisable assets: the raw AssetSpecs are external (landed by the EL tool).
# The raw assets themselves are not built, but their asset checks (freshness, in orchestration.monitoring) run.
# Assets tagged lead_scoring/on_demand (e.g. weight_suggestions) are materialised by hand, never by a job here.
ON_DEMAND = AssetSelection.tag("lead_scoring/on_demand", "true")
engagement_selection = (
    AssetSelection.assets(raw_asset_key("events")).downstream(include_self=False) - ON_DEMAND
    | AssetSelection.groups("marts")
    | AssetSelection.checks_for_assets(raw_asset_key("events"))
)
full_selection = (
    AssetSelection.all() - AssetSelection.groups("raw") - ON_DEMAND
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


def tick_as_of(context: ScheduleEvaluationContext) -> str:
    """The tick time in UTC as the dbt `as_of` (lead_scoring.clock); now() only if invoked outside a tick."""
    return format_as_of(context.scheduled_execution_time or utc_now())


def _scheduled_run(context: ScheduleEvaluationContext, trigger: str) -> RunRequest:
    as_of = tick_as_of(context)
    return RunRequest(
        run_key=f"{trigger}:{as_of}",
        run_config=scoring_run_config(as_of),
        tags={AS_OF_TAG: as_of, TRIGGER_TAG: trigger},
    )


@schedule(cron_schedule="0 * * * *", job=engagement_refresh_job, execution_timezone="UTC",
          default_status=DefaultScheduleStatus.STOPPED,
          description="Hourly engagement re-scoring at the tick time (as_of = tick).")
def engagement_refresh_hourly(context: ScheduleEvaluationContext) -> RunRequest:
    return _scheduled_run(context, "engagement_refresh_hourly")


@schedule(cron_schedule="0 5 * * *", job=full_scoring_job, execution_timezone="UTC",
          default_status=DefaultScheduleStatus.STOPPED,
          description="Daily full build and scoring at 05:00 UTC (as_of = tick).")
def full_scoring_daily(context: ScheduleEvaluationContext) -> RunRequest:
    return _scheduled_run(context, "full_scoring_daily")


# --------------------------------------------------------------------------------------------------
# Rule seeds
# --------------------------------------------------------------------------------------------------
def seeds_hash(seeds_dir: Path | str) -> str:
    """sha256 over the sorted `*.csv` file names and their bytes."""
    digest = hashlib.sha256()
    for path in sorted(Path(seeds_dir).glob("*.csv"), key=lambda p: p.name):
        digest.update(path.name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def build_rule_seed_change_sensor(seeds_dir: Path | str = SEEDS_DIR,
                                  name: str = "rule_seed_change_sensor") -> SensorDefinition:
    """A sensor requesting a full scoring run whenever the hash of `seeds_dir/*.csv` differs from its cursor.

    The first evaluation (no cursor) records the hash and requests a run too, so the warehouse is known to
    be scored by the rules on disk. Going back to an earlier rule set is a change too, and re-scores.
    """
    seeds_dir = Path(seeds_dir)

    @sensor(name=name, job=full_scoring_job, minimum_interval_seconds=60,
            default_status=DefaultSensorStatus.STOPPED,
            description=f"Re-scores everything when a rule seed ({seeds_dir.name}/*.csv) changes.")
    def _sensor(context: SensorEvaluationContext) -> SensorResult | SkipReason:
        current = seeds_hash(seeds_dir)
        if context.cursor == current:
            return SkipReason(f"rule seeds unchanged (sha256 {current[:12]})")
        context.log.info(f"rule seeds changed: {context.cursor or '(no cursor)'} -> {current}")
        return SensorResult(
            # No run key: Dagster never re-runs a run key it has seen, so a rule change that is reverted
            # (A -> B -> A) would not re-score. The cursor already keeps one run per change.
            run_requests=[RunRequest(
                run_config=scoring_run_config(None),
                tags={RULESET_HASH_TAG: current, TRIGGER_TAG: name},
            )],
            cursor=current,
        )

    return _sensor


rule_seed_change_sensor = build_rule_seed_change_sensor(SEEDS_DIR)

schedules = [engagement_refresh_hourly, full_scoring_daily]
sensors = [rule_seed_change_sensor]
jobs = [engagement_refresh_job, full_scoring_job]
