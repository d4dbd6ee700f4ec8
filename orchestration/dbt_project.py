"""The dbt project as Dagster assets: the raw landing, every dbt model and seed, dbt tests as asset checks.

Asset keys (a contract other modules rely on, e.g. ``orchestration.monitoring``):
- dbt models and seeds are keyed by their bare name (no schema prefix): ``AssetKey("lead_scores")``,
  ``AssetKey("scoring_fit_rules")``;
- dbt sources are ``AssetKey(["raw", <table>])``: ``["raw", "leads"]``, ``["raw", "events"]``,
  ``["raw", "opportunities"]``; they are declared here as external ``AssetSpec``s in group ``raw``.

One ``@dbt_assets`` op runs ``dbt build --vars '{"as_of": ...}'`` in the concurrency pool ``duckdb_warehouse``
(limit 1 in ``orchestration/dagster.yaml``): DuckDB allows one writing process, so runs queue instead of
failing on the file lock.
"""

import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Config,
    Failure,
    FreshnessPolicy,
    Output,
)
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from lead_scoring import clock
from lead_scoring.clock import dbt_vars_args
from lead_scoring.dbt_cli import PRODUCTION_BUILD_EXCLUDES, VENV_BIN, dbt_executable

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SEEDS_DIR = PROJECT_ROOT / "seeds"

DUCKDB_PATH_ENV = "LEAD_SCORING_DUCKDB_PATH"
DEFAULT_DUCKDB_PATH = "warehouse/lead_scoring.duckdb"

# Mart freshness (Dagster FreshnessPolicy): the daily run is at 05:00 UTC, so a mart older than ~a day warns.
MART_FRESHNESS_WARN_HOURS = float(os.environ.get("LEAD_SCORING_MART_FRESHNESS_WARN_HOURS", "26"))
MART_FRESHNESS_FAIL_HOURS = float(os.environ.get("LEAD_SCORING_MART_FRESHNESS_FAIL_HOURS", "50"))

DBT_ASSETS_NAME = "lead_scoring_dbt_assets"  # also the op name, the key of its run config
WAREHOUSE_POOL = "duckdb_warehouse"
OWNER = "team:analytics-engineering"

AS_OF_TAG = "lead_scoring/as_of"
RULESET_VERSION_TAG = "lead_scoring/ruleset_version"


def duckdb_path() -> Path:
    """The warehouse file: env LEAD_SCORING_DUCKDB_PATH, relative paths resolved against the repo root."""
    path = Path(os.environ.get(DUCKDB_PATH_ENV) or DEFAULT_DUCKDB_PATH)
    return path if path.is_absolute() else PROJECT_ROOT / path


# --------------------------------------------------------------------------------------------------
# The dbt project, parsed once at import
# --------------------------------------------------------------------------------------------------
if shutil.which("dbt") is None and (VENV_BIN / "dbt").exists():
    # `.venv/bin/dagster dev` without an activated venv: the project preparer runs plain `dbt parse`.
    os.environ["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"

dbt_project = DbtProject(project_dir=PROJECT_ROOT, profiles_dir=PROJECT_ROOT)
# `dagster dev` re-parses the project (dbt parse) so the manifest matches the working tree.
dbt_project.prepare_if_dev()
if not dbt_project.manifest_path.exists():  # e.g. a fresh clone imported outside `dagster dev`
    dbt_project.preparer.prepare(dbt_project)


# --------------------------------------------------------------------------------------------------
# The raw landing (dbt sources), upstream of staging
# --------------------------------------------------------------------------------------------------
RAW_GROUP = "raw"
RAW_TABLES: Mapping[str, str] = {
    "leads": "Raw CRM leads, one row per lead version (the CRM re-lands a lead when it changes); soft deletes "
             "via is_deleted; `_loaded_at` is when the loader wrote the row. Contract: ../shared/RAW_CONTRACT.md.",
    "events": "Raw behavioural events, append-only with at-least-once delivery (re-delivered events repeat "
              "event_id); may be anonymous, late, in the future or of unknown type. Contract: "
              "../shared/RAW_CONTRACT.md.",
    "opportunities": "Raw sales opportunities (outcomes) per lead, for calibration and reporting. Contract: "
                     "../shared/RAW_CONTRACT.md.",
}


def raw_asset_key(table: str) -> AssetKey:
    return AssetKey([RAW_GROUP, table])


raw_asset_specs = [
    AssetSpec(
        key=raw_asset_key(table),
        description=description,
        group_name=RAW_GROUP,
        kinds={"duckdb"},
        owners=[OWNER],
        metadata={"dagster/table_name": f"raw.{table}"},
    )
    for table, description in RAW_TABLES.items()
]


# --------------------------------------------------------------------------------------------------
# Translator: keys, groups, freshness
# --------------------------------------------------------------------------------------------------
class LeadScoringTranslator(DagsterDbtTranslator):
    """dagster-dbt defaults plus: sources as ["raw", table], groups by layer, FreshnessPolicy on the marts."""

    def __init__(self, mart_warn_hours: float = MART_FRESHNESS_WARN_HOURS,
                 mart_fail_hours: float = MART_FRESHNESS_FAIL_HOURS):
        # dbt tests become asset checks (the dagster-dbt default, made explicit).
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


# --------------------------------------------------------------------------------------------------
# The dbt build
# --------------------------------------------------------------------------------------------------
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
    args = ["build", *PRODUCTION_BUILD_EXCLUDES, *dbt_vars_args(normalise_as_of(config.as_of))]
    if config.full_refresh:
        args.append("--full-refresh")
    return args


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


LEAD_SCORES_KEY = AssetKey("lead_scores")


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
        for event in dbt.cli(dbt_build_args(config), context=context).stream():
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


# The dbt subprocess inherits os.environ, hence LEAD_SCORING_DUCKDB_PATH and the other LEAD_SCORING_* settings.
dbt_resource = DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())
