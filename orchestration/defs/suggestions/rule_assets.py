"""The on-demand rule suggestions: `rule_suggestions_job` runs `lead_scoring.discovery.suggest_rules`, as
`lead-scoring suggest-rules` does, and records the asset `rule_suggestions`.

On demand like `weight_suggestions`: an external spec (downstream of `lead_scores`, tagged `lead_scoring/on_demand`),
so never in "Materialize all" nor in a schedule or sensor; analysts launch `rule_suggestions_job`, whose op (in the
warehouse pool: it reads the DuckDB file and replays copies of it at the cut-off) logs the asset's materialisation.
It writes the suggested seeds and the report to env LEAD_SCORING_RULE_SUGGESTIONS_DIR (default
warehouse/rule_suggestions); it never writes to seeds/.
"""

import os
import tempfile
from pathlib import Path

import dagster as dg

from lead_scoring import discovery
from orchestration.defs.resources import LEAD_SCORES_KEY, ON_DEMAND_TAG, WAREHOUSE_POOL
from orchestration.defs.suggestions.assets import SUGGESTIONS_GROUP, _resolve, warehouse_path

RULE_SUGGESTIONS_DIR_ENV = "LEAD_SCORING_RULE_SUGGESTIONS_DIR"
DEFAULT_RULE_SUGGESTIONS_DIR = "warehouse/rule_suggestions"


def rule_suggestions_dir() -> Path:
    """Env LEAD_SCORING_RULE_SUGGESTIONS_DIR (relative paths against the repository root)."""
    return _resolve(os.environ.get(RULE_SUGGESTIONS_DIR_ENV) or DEFAULT_RULE_SUGGESTIONS_DIR)


class RuleSuggestionsConfig(dg.Config):
    """Launchpad settings of the rule discovery (defaults as in `lead-scoring suggest-rules`)."""

    model_id: str = discovery.DEFAULT_MODEL
    horizon_days: int = discovery.DEFAULT_HORIZON_DAYS
    max_rules: int = discovery.DEFAULT_MAX_RULES
    mql_share_low: float = discovery.DEFAULT_MQL_SHARE[0]
    mql_share_high: float = discovery.DEFAULT_MQL_SHARE[1]
    holdout_share: float = discovery.DEFAULT_HOLDOUT_SHARE
    min_support: int = discovery.DEFAULT_MIN_SUPPORT
    replay_current: bool = True  # the current rules' AUC at the cut-off (a dbt replay of a scratch copy)
    verify: bool = True  # the suggested rules' AUC as dbt scores them at the cut-off (another replay)


RULE_SUGGESTIONS_KEY = dg.AssetKey("rule_suggestions")

rule_suggestions_spec = dg.AssetSpec(
    key=RULE_SUGGESTIONS_KEY, deps=[LEAD_SCORES_KEY], group_name=SUGGESTIONS_GROUP,
    kinds={"duckdb", "python", "scikitlearn"}, tags={ON_DEMAND_TAG: "true"},
    description=("A whole rule set discovered from outcomes (fit and engagement rules with points, axis weights, "
                 "grade and level cut-offs, MQL threshold), fitted point in time on a time-based split and "
                 "reported beside a logistic and a boosted ceiling; written as seed CSVs in the format of seeds/. "
                 "For review: it never changes the live rules. Not scheduled: launch rule_suggestions_job."),
)


@dg.op(name="rule_suggestions", pool=WAREHOUSE_POOL,
       description="Discovers a rule set from outcomes (lead_scoring.discovery) and records rule_suggestions.")
def rule_suggestions(context: dg.OpExecutionContext, config: RuleSuggestionsConfig) -> None:
    out = rule_suggestions_dir()
    with tempfile.TemporaryDirectory(prefix="rule_suggestions_") as scratch:
        try:
            d = discovery.suggest_rules(
                warehouse_path(), out, model_id=config.model_id, horizon_days=config.horizon_days,
                max_rules=config.max_rules, mql_share=(config.mql_share_low, config.mql_share_high),
                holdout_share=config.holdout_share, min_support=config.min_support, verify=config.verify,
                replay_current=config.replay_current, scratch_dir=scratch)
        except discovery.WeightsError as exc:
            raise dg.Failure(str(exc)) from exc
    context.log.info(f"wrote rule suggestions to {out}: {len(d.rules)} rules")
    metadata: dict[str, object] = {
        "model_id": d.model_id, "as_of": d.as_of, "cutoff": d.cutoff, "rules": len(d.rules),
        "holdout leads": d.holdout["leads"], "holdout converted": d.holdout["converted"],
        "report": dg.MetadataValue.path(d.files[discovery.REPORT_MD]),
        "summary": dg.MetadataValue.md(discovery.render_markdown(d)),
    }
    for key, value in d.auc.items():
        if value is not None:
            metadata[f"AUC {key}"] = value
    context.log_event(dg.AssetMaterialization(asset_key=RULE_SUGGESTIONS_KEY, metadata=metadata))


@dg.job(name="rule_suggestions_job", tags={ON_DEMAND_TAG: "true"},
        description="On demand: a whole rule set discovered from outcomes (asset rule_suggestions).")
def rule_suggestions_job():
    rule_suggestions()
