"""The dbt build as one Dagster multi-asset: every dbt model, seed and snapshot, dbt tests as asset checks.

One ``@dbt_assets`` op (``lead_scoring_dbt_assets``) runs ``dbt build`` in the concurrency pool ``duckdb_warehouse``
with the arguments of ``lead-scoring build`` (``lead_scoring.dbt_cli.build_args``; unit tests are left to CI). Its
run config ``as_of`` is the scoring clock (the schedules pass their tick time), handed to dbt in the environment
with the warehouse's absolute path as `lead-scoring build` does (``lead_scoring.dbt_cli.dbt_environment``), so each
run reuses the parse dagster-dbt copies from the project's target folder instead of parsing the project again for
new ``--vars`` or another spelling of the path; the ``ruleset_version`` the build scored with is added to the
lead_scores materialisation and to the run's tags.
"""
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
from dagster import AssetCheckResult, AssetExecutionContext, AssetKey, Config, Failure, Output
from dagster_dbt import DbtCliResource, dbt_assets

from lead_scoring import clock
from lead_scoring.dbt_cli import build_args, dbt_environment
from orchestration.defs.dbt.project import dbt_project, duckdb_path
from orchestration.defs.dbt.translator import dagster_dbt_translator
from orchestration.defs.resources import LEAD_SCORES_KEY, WAREHOUSE_POOL

DBT_ASSETS_NAME = "lead_scoring_dbt_assets"  # also the op name, the key of its run config
AS_OF_TAG = "lead_scoring/as_of"
RULESET_VERSION_TAG = "lead_scoring/ruleset_version"


class DbtBuildConfig(Config):
    """Run config of the dbt op. `as_of`: the scoring clock (ISO, UTC); empty = the run's start time."""

    as_of: str | None = None
    full_refresh: bool = False


def normalise_as_of(value: str | None) -> str | None:
    """`lead_scoring.clock.normalise_as_of`, failing the run (not crashing it) on a text that is no instant."""
    try:
        return clock.normalise_as_of(value)
    except clock.ClockError as exc:
        raise Failure(str(exc)) from exc


def dbt_build_args(config: DbtBuildConfig) -> list[str]:
    """`lead_scoring.dbt_cli.build_args`, as `lead-scoring build` runs it (unit tests left to CI)."""
    return build_args(extra=["--full-refresh"] if config.full_refresh else [])


def read_ruleset_version(db_path: Path) -> str | None:
    """`ruleset_version` of marts.lead_scores (one value per build), or None when there is no such table yet."""
    if not db_path.exists():
        return None
    try:
        con = duckdb.connect(str(db_path), read_only=True)
    except duckdb.Error:
        return None
    try:
        rows = con.execute("select distinct ruleset_version from marts.lead_scores limit 2").fetchall()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return ",".join(sorted(str(r[0]) for r in rows)) or None


def _held_keys(context: AssetExecutionContext) -> set[AssetKey]:
    """lead_scores and every dbt asset downstream of it: their events must follow lead_scores' (Dagster wants a
    multi-asset's outputs in topological order), so they are held back with it."""
    deps = {spec.key: {dep.asset_key for dep in spec.deps} for spec in context.assets_def.specs}
    held = {LEAD_SCORES_KEY}
    while grown := {key for key, parents in deps.items() if key not in held and parents & held}:
        held |= grown
    return held


def _event_asset_key(context: AssetExecutionContext, event: Any) -> AssetKey | None:
    if isinstance(event, AssetCheckResult):
        return event.asset_key
    if isinstance(event, Output):
        return context.asset_key_for_output(event.output_name)
    return None


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=dagster_dbt_translator,
    name=DBT_ASSETS_NAME,
    pool=WAREHOUSE_POOL,
)
def lead_scoring_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig) -> Iterator:
    """`dbt build` of the selected models, seeds and tests, scored at `config.as_of`."""
    db_path = duckdb_path()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    as_of = normalise_as_of(config.as_of)
    context.log.info(f"dbt build on {db_path}, as_of={as_of or 'run start time'}, full_refresh={config.full_refresh}")
    as_of_meta = {"as_of": as_of or "run start time (dbt default)"}

    # The ruleset version is only readable once dbt has released the DuckDB file, so the lead_scores
    # materialisation (and its checks, to keep their order) is held back until the build has finished, with
    # the events of the models downstream of it.
    held: list = []
    held_keys = _held_keys(context)
    error: BaseException | None = None
    try:
        with dbt_environment(db_path, as_of):  # the dbt process takes its environment when it starts, in cli()
            invocation = dbt.cli(dbt_build_args(config), context=context)
        for event in invocation.stream():
            if isinstance(event, Output):
                event = event.with_metadata({**event.metadata, **as_of_meta})
            if _event_asset_key(context, event) in held_keys:
                held.append(event)
            else:
                yield event
    except BaseException as exc:  # a failed build still reports what it did materialise
        error = exc

    ruleset_version = read_ruleset_version(db_path) if held else None
    if ruleset_version:
        context.log.info(f"scored with ruleset_version {ruleset_version}")
        context.instance.add_run_tags(context.run.run_id, {RULESET_VERSION_TAG: ruleset_version})
    for event in held:
        if isinstance(event, Output) and ruleset_version:
            event = event.with_metadata({**event.metadata, "ruleset_version": ruleset_version})
        yield event
    if error is not None:
        raise error
