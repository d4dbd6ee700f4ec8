"""The rule-seed sensor: a change to ``seeds/*.csv`` re-scores everything (``full_scoring_job``)."""
import hashlib
from pathlib import Path

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from orchestration.defs.dbt.jobs import TRIGGER_TAG, full_scoring_job, scoring_run_config
from orchestration.defs.dbt.project import SEEDS_DIR

RULESET_HASH_TAG = "lead_scoring/ruleset_hash"


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

sensors = [rule_seed_change_sensor]
