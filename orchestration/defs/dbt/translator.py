"""How dbt nodes become Dagster assets: keys, groups, owners, mart freshness.

Asset keys (a contract the other concerns rely on):
- dbt models and seeds are keyed by their bare name (no schema prefix): ``AssetKey("lead_scores")``,
  ``AssetKey("scoring_fit_rules")``;
- dbt sources are ``AssetKey(["raw", <table>])``, the external specs of ``defs/raw/assets.py``.

dbt tests become asset checks (the dagster-dbt default, made explicit), each with a description of what it asserts
(:func:`check_description`: the test's own YAML description, else its generic test and arguments - for a model's
`invariants` test every invariant it asserts - or the opening comment of a singular test), so the UI says what a
check is for.
"""
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from dagster import AssetCheckSpec, AssetKey, AssetSpec, FreshnessPolicy
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

from orchestration.defs.raw.assets import RAW_GROUP, raw_asset_key
from orchestration.defs.resources import OWNER

# Mart freshness (Dagster FreshnessPolicy): the daily run is at 05:00 UTC, so a mart older than ~a day warns.
MART_FRESHNESS_WARN_HOURS = float(os.environ.get("LEAD_SCORING_MART_FRESHNESS_WARN_HOURS", "26"))
MART_FRESHNESS_FAIL_HOURS = float(os.environ.get("LEAD_SCORING_MART_FRESHNESS_FAIL_HOURS", "50"))


CHECK_DESCRIPTION_CHARS = 500
# An `invariants` test (tests/generic/invariants.sql) asserts a model's plain invariants at once: its check lists all.
INVARIANTS_DESCRIPTION_CHARS = 8000


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return " ".join(text.split())


def _range(options: Mapping[str, Any]) -> str:
    inclusive = options.get("inclusive", True)
    low, high = options.get("min_value"), options.get("max_value")
    if low is not None and high is not None:
        return f"{'[' if inclusive else '('}{low}, {high}{']' if inclusive else ')'}"
    if low is not None:
        return f"{'>=' if inclusive else '>'} {low}"
    return f"{'<=' if inclusive else '<'} {high}"


def invariants_description(model: str, kwargs: Mapping[str, Any]) -> str:
    """Every invariant an `invariants` test asserts, by kind: "invariants of lead_scores: not null: lead_id,
    fit_score; unique: lead_score_id, (model_id, lead_id); in range: fit_score in [0, 100]; ..."."""
    parts = []
    if kwargs.get("not_null"):
        parts.append("not null: " + ", ".join(kwargs["not_null"]))
    if kwargs.get("unique"):
        parts.append("unique: " + ", ".join(key if isinstance(key, str) else f"({', '.join(key)})"
                                            for key in kwargs["unique"]))
    if kwargs.get("accepted_range"):
        parts.append("in range (nulls pass): " + ", ".join(
            f"{column} {_range(options)}" for column, options in kwargs["accepted_range"].items()))
    if kwargs.get("accepted_values"):
        parts.append("accepted values (nulls pass): " + ", ".join(
            f"{column} in {{{', '.join(map(str, values))}}}" for column, values in kwargs["accepted_values"].items()))
    if kwargs.get("expressions"):
        parts.append("true on every row: " + "; ".join(_value(e) for e in kwargs["expressions"]))
    return f"invariants of {model} (one query, one failing row per violated invariant): " + "; ".join(parts)


def check_description(test: Mapping[str, Any]) -> str:
    """What a dbt test asserts, for its Dagster check: the description the YAML gives it; else, for a generic
    test, its name, column, model and arguments ("unique: event_id of stg_crm__events"); for a singular test, the
    opening comment of its SQL file. At most CHECK_DESCRIPTION_CHARS characters."""
    limit = CHECK_DESCRIPTION_CHARS
    if (test.get("description") or "").strip():
        text = test["description"]
    elif (test.get("test_metadata") or {}).get("name") == "invariants":
        target = (test.get("attached_node") or "").split(".")[-1] or "its model"
        text, limit = invariants_description(target, test["test_metadata"].get("kwargs") or {}), \
            INVARIANTS_DESCRIPTION_CHARS
    elif test.get("test_metadata"):
        meta = test["test_metadata"]
        kwargs = {k: v for k, v in (meta.get("kwargs") or {}).items() if k not in ("model", "column_name")}
        target = (test.get("attached_node") or "").split(".")[-1] or "its model"
        column = test.get("column_name") or (meta.get("kwargs") or {}).get("column_name")
        name = f"{meta['namespace']}.{meta['name']}" if meta.get("namespace") else meta["name"]
        text = f"{name}: {column + ' of ' if column else ''}{target}"
        if kwargs:
            text += " (" + "; ".join(f"{k} = {_value(v)}" for k, v in sorted(kwargs.items())) + ")"
    else:
        comment = re.match(r"\s*\{#-?(.*?)-?#\}", test.get("raw_code") or "", re.S)
        text = comment.group(1) if comment else f"singular test {test.get('original_file_path', test['name'])}"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


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

    def get_asset_check_spec(self, asset_spec: AssetSpec, manifest: Mapping[str, Any], unique_id: str,
                             project: DbtProject | None) -> AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        return spec._replace(description=check_description(manifest["nodes"][unique_id]))

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if spec.group_name == "marts":
            spec = spec.replace_attributes(freshness_policy=self.mart_freshness_policy)
        return spec


dagster_dbt_translator = LeadScoringTranslator()
