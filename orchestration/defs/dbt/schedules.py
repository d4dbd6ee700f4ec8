"""The scoring schedules (both stopped by default; UTC):

- ``engagement_refresh_hourly`` (``0 * * * *``): ``engagement_refresh_job``, so new behaviour is scored every hour
  without rebuilding the lead-only models and seeds;
- ``full_scoring_daily`` (``0 5 * * *``): ``full_scoring_job``.

Schedules pass their tick time (not the wall clock) as the dbt ``as_of`` var and as the run tag
``lead_scoring/as_of``, so a backfilled or late tick scores the past as it was.
"""
from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, schedule

from lead_scoring.clock import format_as_of, utc_now
from orchestration.defs.dbt.assets import AS_OF_TAG
from orchestration.defs.dbt.jobs import TRIGGER_TAG, engagement_refresh_job, full_scoring_job, scoring_run_config


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


schedules = [engagement_refresh_hourly, full_scoring_daily]
