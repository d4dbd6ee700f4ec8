"""The on-demand weight suggestions: `weight_suggestions_job` runs `lead_scoring.weights.suggest_weights`, as
`lead-scoring suggest-weights` does, and records the asset `weight_suggestions`.

On demand, never in "Materialize all" nor in a schedule or sensor: the asset is an external spec (downstream of
`lead_scores`, tagged `lead_scoring/on_demand`) that the UI cannot materialise; analysts launch
`weight_suggestions_job` (Jobs, with its launchpad settings), whose op (in the warehouse pool: it reads the DuckDB
file and copies it) logs the asset's materialisation. It writes the suggested seeds and the report to env
LEAD_SCORING_SUGGESTIONS_DIR (default warehouse/suggestions); it never writes to seeds/.
"""

import os
import tempfile
from pathlib import Path

import dagster as dg

from lead_scoring import weights
from lead_scoring.warehouse import resolve_path
from orchestration.defs.resources import LEAD_SCORES_KEY, ON_DEMAND_TAG, WAREHOUSE_POOL

SUGGESTIONS_DIR_ENV = "LEAD_SCORING_SUGGESTIONS_DIR"
DEFAULT_SUGGESTIONS_DIR = "warehouse/suggestions"


def _resolve(value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else weights.PROJECT_ROOT / path


def suggestions_dir() -> Path:
    """Env LEAD_SCORING_SUGGESTIONS_DIR (relative paths against the repository root)."""
    return _resolve(os.environ.get(SUGGESTIONS_DIR_ENV) or DEFAULT_SUGGESTIONS_DIR)


def warehouse_path() -> Path:
    """Env LEAD_SCORING_DUCKDB_PATH (relative paths against the repository root)."""
    return resolve_path()


class WeightSuggestionsConfig(dg.Config):
    """Launchpad settings of the weight suggestion (defaults as in `lead-scoring suggest-weights`)."""

    model_id: str = weights.DEFAULT_MODEL
    holdout_share: float = weights.DEFAULT_HOLDOUT_SHARE
    min_support: int = weights.DEFAULT_MIN_SUPPORT
    c: float = weights.DEFAULT_C
    verify: bool = True  # re-score with the suggested seeds through dbt (a scratch copy of the warehouse)


WEIGHT_SUGGESTIONS_KEY = dg.AssetKey("weight_suggestions")
SUGGESTIONS_GROUP = "suggestions"

weight_suggestions_spec = dg.AssetSpec(
    key=WEIGHT_SUGGESTIONS_KEY, deps=[LEAD_SCORES_KEY], group_name=SUGGESTIONS_GROUP,
    kinds={"duckdb", "python", "scikitlearn"}, tags={ON_DEMAND_TAG: "true"},
    description=("Suggested points for the fit and engagement rules, fitted on historical conversions (logistic "
                 "regression, time-based hold-out), written as seed CSVs in the format of seeds/ with a report of "
                 "the hold-out AUC and top-decile lift of the current and the suggested rules. For review: it "
                 "never changes the live rules. Not scheduled: launch weight_suggestions_job."),
)


@dg.op(name="weight_suggestions", pool=WAREHOUSE_POOL,
       description="Suggests rule points from conversions (lead_scoring.weights) and records weight_suggestions.")
def weight_suggestions(context: dg.OpExecutionContext, config: WeightSuggestionsConfig) -> None:
    out = suggestions_dir()
    with tempfile.TemporaryDirectory(prefix="weight_suggestions_") as scratch:
        try:
            s = weights.suggest_weights(warehouse_path(), out, model_id=config.model_id,
                                        holdout_share=config.holdout_share, min_support=config.min_support,
                                        c=config.c, verify=config.verify, scratch_dir=scratch)
        except weights.WeightsError as exc:
            raise dg.Failure(str(exc)) from exc
    s.rescored_database = None  # the scratch copy is gone
    changed = [r.rule_id for r in s.rules if r.suggested_points != r.current_points]
    context.log.info(f"wrote weight suggestions to {out}: {len(changed)} of {len(s.rules)} rules changed")
    metadata: dict[str, object] = {
        "model_id": s.model_id,
        "as_of": s.as_of,
        "holdout leads": s.holdout["leads"],
        "holdout converted": s.holdout["converted"],
        "current AUC": s.current.auc,
        "current top-decile lift": s.current.top_decile_lift,
        "model probability AUC": s.model_probability.auc,
        "rules changed": len(changed),
        "report": dg.MetadataValue.path(s.files[weights.REPORT_MD]),
        "suggested fit seed": dg.MetadataValue.path(s.files[weights.FIT_SEED]),
        "suggested engagement seed": dg.MetadataValue.path(s.files[weights.ENGAGEMENT_SEED]),
        "summary": dg.MetadataValue.md(weights.render_markdown(s)),
    }
    if s.suggested is not None:
        metadata["suggested AUC"] = s.suggested.auc
        metadata["suggested top-decile lift"] = s.suggested.top_decile_lift
    context.log_event(dg.AssetMaterialization(asset_key=WEIGHT_SUGGESTIONS_KEY, metadata=metadata))


@dg.job(name="weight_suggestions_job", tags={ON_DEMAND_TAG: "true"},
        description="On demand: suggested points for the fit and engagement rules (asset weight_suggestions).")
def weight_suggestions_job():
    weight_suggestions()

