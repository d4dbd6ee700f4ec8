"""Weight suggestions: fit the rule features against historical conversions and suggest new rule points.

    lead-scoring suggest-weights --database warehouse/lead_scoring.duckdb --out warehouse/suggestions \\
        [--model default] [--holdout-share 0.3] [--min-support 20] [--c 1.0] [--verify]

What it does, in order (each step is a small function below):
1. Reads, from a warehouse the dbt build produced, one row per scored lead of the model (``marts.lead_scores``)
   with its features, taken from the project's own models, never recomputed: for each fit rule whether it
   fired (``int_fit_rule_matches``: 0/1), for each engagement rule its *units*, the lead's points from the rule
   (``int_engagement_rule_points.points``: decayed and capped) divided by the rule's configured points, i.e. a
   decayed, capped event count. Target: the lead has an opportunity (``stg_crm__opportunities``).
2. Time-based hold-out: leads ordered by ``lead_created_at`` (missing first), then ``lead_id``; the latest
   ``holdout_share`` are the hold-out, the others the training set.
3. A logistic regression (scikit-learn, L2, ``C``, fixed ``random_state``) on the training set, features
   standardised with training means and standard deviations; coefficients are reported per raw unit
   (``beta = standardised coefficient / sd``): log-odds per fired fit rule or per unit of an engagement rule.
   The current rules are the prior: the model also gets the current linear score (``sum of axis_weight *
   points * feature``) as an almost unpenalised feature, so a rule's coefficient is ``a * axis_weight *
   current points + its correction`` and the L2 penalty (small ``C``, default 0.005) shrinks each rule towards
   its current points rather than towards 0: with a few hundred conversions and ~60 rules, an unshrunk fit
   mostly learns noise.
   Sign constraint: a rule keeps the sign of its current points (the group caps only let positive groups add
   and negative groups subtract), so a rule whose coefficient comes out with the other sign is removed and the
   model refitted, until every sign agrees; such a rule is suggested 0 points.
4. Coefficients to points: a rule's points reach the lead score as ``axis_weight * points * feature``, so the
   suggestion is ``points = round(k * beta / axis_weight)``, with one scale ``k`` for all rules, chosen so that
   the largest suggested positive points equal the largest current positive points of the model's fit and
   engagement rules (the seeds' own scale). Disqualifying rules, rules fired by fewer than ``min_support``
   training leads and engagement rules with 0 points (their units cannot be read) keep their current points.
5. Writes ``scoring_fit_rules.csv`` and ``scoring_engagement_rules.csv`` in exactly the format of ``seeds/``
   (same header, rows and order; only ``points`` of the model's rows change), ``weight_suggestions.md`` and
   ``weight_suggestions.json``: per rule current and suggested points, coefficient and support, and the
   hold-out ROC AUC and top-decile lift of the current rules (``lead_score`` of the warehouse) and of the
   suggested ones.
6. ``--verify``: copies the dbt project and the warehouse file to a scratch folder, swaps in the suggested
   seeds and runs ``dbt build`` on the scoring path (the two seeds down to ``lead_scores``), so the suggested
   rules' AUC and lift are those of the scores the project itself computes (caps, decay, clamping included).
   Without it, only the logistic model's own hold-out AUC is reported for the suggestion.

Nothing here writes to ``seeds/``: the analyst reviews the suggestion and copies it by hand.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from lead_scoring import ranking

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SEEDS_DIR = PROJECT_ROOT / "seeds"
FIT_SEED = "scoring_fit_rules.csv"
ENGAGEMENT_SEED = "scoring_engagement_rules.csv"
SEED_FILES = {"fit": FIT_SEED, "engagement": ENGAGEMENT_SEED}
REPORT_MD = "weight_suggestions.md"
REPORT_JSON = "weight_suggestions.json"

DEFAULT_MODEL = "default"
DEFAULT_HOLDOUT_SHARE = 0.3
DEFAULT_MIN_SUPPORT = 20
DEFAULT_C = 0.005  # strong shrinkage towards the current rules: few conversions, many rules
RANDOM_STATE = 0
TOP_SHARE = 0.1  # top decile
PRIOR_SCALE = 100.0  # the prior score's feature is multiplied by this, so its L2 penalty is negligible

# The scoring path from the two rule seeds to lead_scores (intersection: downstream of a seed, upstream of
# lead_scores). Tests run only when all their parents are rebuilt (cautious indirect selection).
SCORING_PATH_SELECTION = ("scoring_fit_rules+,+lead_scores", "scoring_engagement_rules+,+lead_scores")

# Suggestion status per rule
FITTED = "fitted"
OPPOSITE_SIGN = "opposite_sign"
LOW_SUPPORT = "low_support"
DISQUALIFYING = "disqualifying"
ZERO_POINTS = "zero_points"
STATUS_TEXT = {
    FITTED: "fitted",
    OPPOSITE_SIGN: "coefficient had the opposite sign of the rule: suggested 0, review the rule",
    LOW_SUPPORT: "too little support: keeps its current points",
    DISQUALIFYING: "disqualifying rule: keeps its current points",
    ZERO_POINTS: "current points are 0, so its units cannot be read: keeps 0",
}


class WeightsError(RuntimeError):
    """A problem the analyst must fix (wrong warehouse, unknown model, no conversions, ...)."""


# --------------------------------------------------------------------------------------------------
# Seed files: read and write in exactly the same format
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SeedFile:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    line_terminator: str = "\n"
    trailing_newline: bool = True


def parse_seed(text: str) -> SeedFile:
    """A seed CSV's header, rows (as text) and line ending."""
    terminator = "\r\n" if "\r\n" in text else "\n"
    records = list(csv.reader(io.StringIO(text, newline="")))
    if not records:
        raise WeightsError("empty seed file")
    return SeedFile(header=tuple(records[0]), rows=tuple(tuple(r) for r in records[1:]),
                    line_terminator=terminator, trailing_newline=text.endswith(("\n", "\r")))


def render_seed(seed: SeedFile) -> str:
    """The CSV text of `seed` (minimal quoting, its own line ending): the inverse of `parse_seed`."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator=seed.line_terminator)
    writer.writerow(seed.header)
    writer.writerows(seed.rows)
    text = buffer.getvalue()
    return text if seed.trailing_newline else text[: -len(seed.line_terminator)]


def read_seed(path: Path | str) -> SeedFile:
    return parse_seed(Path(path).read_text(encoding="utf-8"))


def format_points(value: float) -> str:
    """Points as the seeds write them: an integer without a decimal point."""
    return str(int(round(value)))


def seed_rule_rows(seed: SeedFile, model_id: str) -> list[dict[str, str]]:
    """The rows of one model, as dicts, in file order."""
    return [dict(zip(seed.header, row)) for row in seed.rows if row[seed.header.index("model_id")].strip() == model_id]


def with_points(seed: SeedFile, model_id: str, points: Mapping[str, int]) -> SeedFile:
    """`seed` with the `points` cell replaced for the model's rules named in `points`; all else unchanged."""
    model_col, rule_col, points_col = (seed.header.index(c) for c in ("model_id", "rule_id", "points"))
    unknown = set(points) - {r[rule_col].strip() for r in seed.rows if r[model_col].strip() == model_id}
    if unknown:
        raise WeightsError(f"no rule {sorted(unknown)} for model {model_id!r} in the seed")
    rows = []
    for row in seed.rows:
        rule_id = row[rule_col].strip()
        if row[model_col].strip() == model_id and rule_id in points:
            row = (*row[:points_col], format_points(points[rule_id]), *row[points_col + 1:])
        rows.append(tuple(row))
    return SeedFile(seed.header, tuple(rows), seed.line_terminator, seed.trailing_newline)


# --------------------------------------------------------------------------------------------------
# Hold-out split, metrics
# --------------------------------------------------------------------------------------------------
def holdout_mask(lead_ids: Sequence[str], created_at: Sequence[datetime | None], holdout_share: float) -> np.ndarray:
    """True for the hold-out: the latest `holdout_share` of leads by created_at (missing = oldest), ties by
    lead_id. The hold-out size is round(n * share), at least 1 and at most n - 1."""
    if not 0 < holdout_share < 1:
        raise WeightsError(f"holdout_share must be between 0 and 1, not {holdout_share}")
    n = len(lead_ids)
    if n < 2:
        raise WeightsError(f"need at least 2 leads to split, got {n}")
    order = sorted(range(n), key=lambda i: (created_at[i] is not None, created_at[i] or datetime.min, lead_ids[i]))
    n_holdout = min(n - 1, max(1, math.floor(n * holdout_share + 0.5)))
    mask = np.zeros(n, dtype=bool)
    mask[order[n - n_holdout:]] = True
    return mask


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """ROC AUC (lead_scoring.ranking.roc_auc), raising WeightsError when the hold-out has one class only."""
    try:
        return ranking.roc_auc(scores, labels)
    except ranking.RankingError as exc:
        raise WeightsError(f"{exc} in the hold-out") from exc


def top_share_lift(scores: Sequence[float], labels: Sequence[bool], share: float = TOP_SHARE) -> float:
    """Top-share lift (lead_scoring.ranking.top_share_lift), raising WeightsError without conversions."""
    try:
        return ranking.top_share_lift(scores, labels, share)
    except ranking.RankingError as exc:
        raise WeightsError(str(exc)) from exc


# --------------------------------------------------------------------------------------------------
# Features from the warehouse
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    rule_id: str
    axis: str  # fit | engagement
    rule_group: str
    points: float
    is_disqualifying: bool


@dataclass
class Dataset:
    model_id: str
    as_of: str
    lead_ids: list[str]
    created_at: list[datetime | None]
    converted: np.ndarray  # bool, per lead
    current_score: np.ndarray  # lead_score, per lead
    rules: list[Rule]  # the columns of features, in seed order (fit rules, then engagement rules)
    features: np.ndarray  # leads x rules: 0/1 for fit rules, units for engagement rules
    axis_weights: dict[str, float]


def _rows(con, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def load_dataset(con, model_id: str, seeds: Mapping[str, SeedFile]) -> Dataset:
    """Leads, features and target of `model_id` from the warehouse (an open DuckDB connection).

    The rules are those of the seed files, in their order; the warehouse must have been scored with the same
    points (else the features would describe other rules)."""
    models = _rows(con, "select fit_weight, engagement_weight from staging.stg_rules__scoring_models "
                        "where model_id = ?", [model_id])
    if not models:
        raise WeightsError(f"model {model_id!r} is not in the warehouse's scoring_models")
    axis_weights = {"fit": float(models[0][0]), "engagement": float(models[0][1])}

    scored = {
        "fit": {r[0]: r[1:] for r in _rows(con, "select rule_id, rule_group, points, is_disqualifying "
                                                "from staging.stg_rules__fit_rules where model_id = ?", [model_id])},
        "engagement": {r[0]: (*r[1:], False) for r in _rows(con, "select rule_id, rule_group, points "
                                                            "from staging.stg_rules__engagement_rules "
                                                            "where model_id = ?", [model_id])},
    }
    rules: list[Rule] = []
    for axis, seed_name in SEED_FILES.items():
        seed_rows = seed_rule_rows(seeds[axis], model_id)
        if {r["rule_id"].strip() for r in seed_rows} != set(scored[axis]):
            raise WeightsError(f"the warehouse was scored with other {axis} rules than seeds/{seed_name} for model "
                               f"{model_id!r}: rebuild it (make build) before suggesting weights")
        for row in seed_rows:
            rule_id = row["rule_id"].strip()
            group, points, disqualifying = scored[axis][rule_id]
            if float(row["points"]) != float(points):
                raise WeightsError(f"rule {rule_id} has {points:g} points in the warehouse but {row['points']} in "
                                   f"seeds/{seed_name}: rebuild the warehouse (make build) first")
            rules.append(Rule(rule_id, axis, group, float(points), bool(disqualifying)))

    leads = _rows(con, "select lead_id, lead_created_at, lead_score, scored_at from marts.lead_scores "
                       "where model_id = ? order by lead_id", [model_id])
    if not leads:
        raise WeightsError(f"marts.lead_scores has no rows for model {model_id!r}")
    as_of_values = {str(r[3]) for r in leads}
    if len(as_of_values) != 1:
        raise WeightsError(f"marts.lead_scores mixes scoring instants {sorted(as_of_values)}")
    index = {r[0]: i for i, r in enumerate(leads)}
    column = {(r.axis, r.rule_id): j for j, r in enumerate(rules)}
    features = np.zeros((len(leads), len(rules)))

    for lead_id, rule_id in _rows(con, "select lead_id, rule_id from intermediate.int_fit_rule_matches "
                                       "where model_id = ?", [model_id]):
        if lead_id in index:
            features[index[lead_id], column[("fit", rule_id)]] = 1.0
    for lead_id, rule_id, points in _rows(con, "select lead_id, rule_id, points from "
                                               "intermediate.int_engagement_rule_points where model_id = ?",
                                          [model_id]):
        j = column[("engagement", rule_id)]
        if lead_id in index and rules[j].points != 0:
            features[index[lead_id], j] = float(points) / rules[j].points

    converted_ids = {r[0] for r in _rows(con, "select distinct lead_id from staging.stg_crm__opportunities "
                                              "where lead_id is not null")}
    return Dataset(
        model_id=model_id, as_of=as_of_values.pop(),
        lead_ids=[r[0] for r in leads], created_at=[r[1] for r in leads],
        converted=np.array([r[0] in converted_ids for r in leads], dtype=bool),
        current_score=np.array([float(r[2]) for r in leads]),
        rules=rules, features=features, axis_weights=axis_weights,
    )


# --------------------------------------------------------------------------------------------------
# The model and the mapping to points
# --------------------------------------------------------------------------------------------------
@dataclass
class LogisticFit:
    columns: list[int]  # feature columns in the final model
    coef: dict[int, float]  # per raw unit (log-odds per fire / per unit), by column
    intercept: float
    means: np.ndarray
    sds: np.ndarray
    dropped_for_sign: list[int] = field(default_factory=list)
    prior_coef: float = 0.0  # a: log-odds per point of the prior score
    prior: dict[int, float] = field(default_factory=dict)

    def decision(self, features: np.ndarray) -> np.ndarray:
        """Log-odds for rows of the full feature matrix (columns outside the model count by the prior)."""
        z = np.full(features.shape[0], self.intercept)
        for j in set(self.columns) | set(self.prior):
            z = z + self.coef.get(j, self.prior_coef * self.prior.get(j, 0.0)) * features[:, j]
        return z


def fit_logistic(features: np.ndarray, converted: np.ndarray, columns: Sequence[int], signs: Mapping[int, int],
                 c: float = DEFAULT_C, prior: Mapping[int, float] | None = None,
                 random_state: int = RANDOM_STATE) -> LogisticFit:
    """L2 logistic regression on standardised `columns`; a column whose coefficient has the opposite sign of
    `signs[j]` (+1 or -1; 0 = free) is removed and the model refitted, until all signs agree.

    `prior` (column -> weight, e.g. the current points times the axis weight): the model also gets the prior
    score ``sum_j prior[j] * x_j`` as a feature whose penalty is negligible (scaled by PRIOR_SCALE), so the L2
    penalty shrinks each rule towards its share of the prior score instead of towards 0. A column's
    coefficient is then ``a * prior[j] + its own coefficient``, ``a`` being the prior score's."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(converted, dtype=bool)
    if y.all() or not y.any():
        raise WeightsError("the training set needs converted and non-converted leads")
    kept, dropped = list(columns), []
    while True:
        prior_score, live_prior = None, {j: w for j, w in (prior or {}).items() if j not in dropped}
        if live_prior:  # a rule dropped for its sign leaves the prior too: its coefficient is then 0
            prior_score = sum(weight * features[:, j] for j, weight in live_prior.items())
            prior_sd = float(np.std(prior_score)) or 1.0
            prior_mean = float(np.mean(prior_score))
        x = features[:, kept]
        means = x.mean(axis=0) if kept else np.zeros(0)
        sds = x.std(axis=0) if kept else np.zeros(0)
        sds = np.where(sds > 0, sds, 1.0)
        design = [(x - means) / sds] if kept else []
        if prior_score is not None:
            design.append((PRIOR_SCALE * (prior_score - prior_mean) / prior_sd)[:, None])
        if not design:
            raise WeightsError("no rule has enough support to fit")
        model = LogisticRegression(C=c, max_iter=5000, random_state=random_state)
        model.fit(np.hstack(design), y)
        raw = model.coef_[0][:len(kept)] / sds
        intercept = float(model.intercept_[0] - np.sum(raw * means))
        a = 0.0
        if prior_score is not None:
            a = float(model.coef_[0][-1]) * PRIOR_SCALE / prior_sd
            intercept -= a * prior_mean
        coef = {j: float(b) + a * live_prior.get(j, 0.0) for j, b in zip(kept, raw)}
        wrong = [j for j in kept if signs.get(j, 0) * coef[j] < 0]
        if not wrong:
            fit = LogisticFit(columns=list(kept), coef=coef, intercept=intercept, means=means, sds=sds,
                              dropped_for_sign=dropped)
            fit.prior_coef = a
            fit.prior = live_prior
            return fit
        # drop the most wrong one (largest coefficient against its sign, in standard deviations) and refit
        worst = max(wrong, key=lambda j: abs(coef[j] * sds[kept.index(j)]))
        dropped.append(worst)
        kept.remove(worst)


def round_half_away(value: float) -> int:
    return int(math.floor(abs(value) + 0.5)) * (1 if value >= 0 else -1)


def coefficients_to_points(coef: Mapping[str, float], axis_weight: Mapping[str, float],
                           target_max_points: float) -> tuple[dict[str, int], float]:
    """Integer points from per-unit coefficients: points = round(k * coef / axis_weight), with the one scale
    `k` that gives the largest positive `coef / axis_weight` exactly `target_max_points`. Returns (points, k)."""
    ratios = {rule: b / axis_weight[rule] for rule, b in coef.items() if axis_weight[rule] > 0}
    positive = [r for r in ratios.values() if r > 0]
    if not positive or target_max_points <= 0:
        raise WeightsError("no rule has a positive coefficient: nothing to scale the points to")
    k = target_max_points / max(positive)
    return {rule: round_half_away(k * r) for rule, r in ratios.items()}, k


# --------------------------------------------------------------------------------------------------
# Re-scoring with the suggested seeds (--verify)
# --------------------------------------------------------------------------------------------------
def rescore(project_dir: Path, database: Path, seed_texts: Mapping[str, str], scratch: Path,
            as_of: str) -> Path:
    """Build the scoring path of a copy of the project, with `seed_texts` (file name -> CSV text) swapped in,
    against a copy of `database`; returns the scratch DuckDB file (lead_scoring.scratch.build_copy, which keeps
    the file name, so the DuckDB catalog and the views dbt created in it keep their names)."""
    from lead_scoring.scratch import ScratchError, build_copy

    try:
        return build_copy(project_dir, database, scratch, as_of, overlay=seed_texts,
                          selection=SCORING_PATH_SELECTION).database
    except ScratchError as exc:
        raise WeightsError(f"dbt build with the suggested seeds failed: {exc}") from exc


def read_scores(database: Path, model_id: str) -> dict[str, float]:
    import duckdb

    con = duckdb.connect(str(database), read_only=True)
    try:
        return {r[0]: float(r[1]) for r in con.execute(
            "select lead_id, lead_score from marts.lead_scores where model_id = ?", [model_id]).fetchall()}
    finally:
        con.close()


# --------------------------------------------------------------------------------------------------
# The whole suggestion
# --------------------------------------------------------------------------------------------------
@dataclass
class RuleSuggestion:
    rule_id: str
    axis: str
    rule_group: str
    current_points: float
    suggested_points: float
    coefficient: float | None  # log-odds per fire (fit) or per unit (engagement); None when not fitted
    support: int  # training leads with the feature non-zero
    status: str


@dataclass
class Evaluation:
    leads: int
    converted: int
    auc: float
    top_decile_lift: float


@dataclass
class Suggestion:
    model_id: str
    as_of: str
    database: str
    holdout_share: float
    min_support: int
    c: float
    scale_k: float
    prior_log_odds_per_point: float  # a: the fitted weight of the current rules' linear score
    train: dict[str, Any]
    holdout: dict[str, Any]
    current: Evaluation  # the warehouse's lead_score on the hold-out
    model_probability: Evaluation  # the logistic model's probabilities on the hold-out
    suggested: Evaluation | None  # the re-scored lead_score with the suggested seeds (--verify)
    rules: list[RuleSuggestion]
    files: dict[str, str] = field(default_factory=dict)
    rescored_database: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(scores: np.ndarray, converted: np.ndarray) -> Evaluation:
    return Evaluation(leads=int(len(scores)), converted=int(converted.sum()), auc=roc_auc(scores, converted),
                      top_decile_lift=top_share_lift(scores, converted))


def suggest_points(data: Dataset, train: np.ndarray, min_support: int, c: float
                   ) -> tuple[list[RuleSuggestion], LogisticFit, float]:
    """Fit on the training rows and map the coefficients to points (see the module docstring)."""
    x, y = data.features[train], data.converted[train]
    support = (x != 0).sum(axis=0)
    status: dict[int, str] = {}
    for j, rule in enumerate(data.rules):
        if rule.axis == "engagement" and rule.points == 0:
            status[j] = ZERO_POINTS
        elif support[j] < min_support:
            status[j] = LOW_SUPPORT
    columns = [j for j in range(len(data.rules)) if j not in status]
    signs = {j: (0 if data.rules[j].is_disqualifying else int(np.sign(data.rules[j].points))) for j in columns}
    prior = {j: data.axis_weights[r.axis] * r.points for j, r in enumerate(data.rules) if r.points != 0}
    fit = fit_logistic(data.features[train], y, columns, signs, c=c, prior=prior)
    changeable = [j for j in fit.columns if not data.rules[j].is_disqualifying]
    target_max = max((r.points for r in data.rules if r.points > 0 and not r.is_disqualifying), default=0.0)
    points, k = coefficients_to_points(
        {data.rules[j].rule_id + "@" + data.rules[j].axis: fit.coef[j] for j in changeable},
        {data.rules[j].rule_id + "@" + data.rules[j].axis: data.axis_weights[data.rules[j].axis] for j in changeable},
        target_max)
    suggestions = []
    for j, rule in enumerate(data.rules):
        key = rule.rule_id + "@" + rule.axis
        if j in status:
            st, suggested = status[j], rule.points
        elif j in fit.dropped_for_sign:
            st, suggested = OPPOSITE_SIGN, 0.0
        elif rule.is_disqualifying:
            st, suggested = DISQUALIFYING, rule.points
        elif key in points:
            st, suggested = FITTED, float(points[key])
        else:  # an axis with weight 0: the rule cannot move the lead score
            st, suggested = LOW_SUPPORT, rule.points
        suggestions.append(RuleSuggestion(
            rule_id=rule.rule_id, axis=rule.axis, rule_group=rule.rule_group, current_points=rule.points,
            suggested_points=suggested, coefficient=fit.coef.get(j), support=int(support[j]), status=st))
    return suggestions, fit, k


def _resolve_out(out_dir: Path, seeds_dir: Path) -> Path:
    out = out_dir.resolve()
    for seeds in {seeds_dir.resolve(), SEEDS_DIR.resolve()}:
        if out == seeds or seeds in out.parents:
            raise WeightsError(f"refusing to write suggestions into {out}: the live rules under {seeds} are only "
                               "changed by an analyst, by hand")
    return out


def suggest_weights(database: Path | str, out_dir: Path | str, model_id: str = DEFAULT_MODEL,
                    holdout_share: float = DEFAULT_HOLDOUT_SHARE, min_support: int = DEFAULT_MIN_SUPPORT,
                    c: float = DEFAULT_C, seeds_dir: Path | str = SEEDS_DIR, project_dir: Path | str = PROJECT_ROOT,
                    verify: bool = False, scratch_dir: Path | str | None = None) -> Suggestion:
    """Suggest points for the fit and engagement rules of `model_id` and write them to `out_dir`."""
    import duckdb

    database, seeds_dir, project_dir = Path(database).resolve(), Path(seeds_dir), Path(project_dir)
    out = _resolve_out(Path(out_dir), seeds_dir)
    if not database.exists():
        raise WeightsError(f"warehouse {database} does not exist: build it first (make build)")
    seeds = {axis: read_seed(seeds_dir / name) for axis, name in SEED_FILES.items()}
    con = duckdb.connect(str(database), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        data = load_dataset(con, model_id, seeds)
    finally:
        con.close()

    hold = holdout_mask(data.lead_ids, data.created_at, holdout_share)
    train = ~hold
    rules, fit, k = suggest_points(data, train, min_support, c)
    new_points = {axis: {r.rule_id: r.suggested_points for r in rules if r.axis == axis} for axis in SEED_FILES}
    seed_texts = {SEED_FILES[axis]: render_seed(with_points(seeds[axis], model_id, new_points[axis]))
                  for axis in SEED_FILES}

    y_hold = data.converted[hold]
    suggestion = Suggestion(
        model_id=model_id, as_of=data.as_of, database=str(database), holdout_share=holdout_share,
        min_support=min_support, c=c, scale_k=k, prior_log_odds_per_point=fit.prior_coef,
        train={"leads": int(train.sum()), "converted": int(data.converted[train].sum()),
               "created_until": str(max((d for d, t in zip(data.created_at, train) if t and d), default=None))},
        holdout={"leads": int(hold.sum()), "converted": int(y_hold.sum()),
                 "created_from": str(min((d for d, h in zip(data.created_at, hold) if h and d), default=None))},
        current=evaluate(data.current_score[hold], y_hold),
        model_probability=evaluate(fit.decision(data.features[hold]), y_hold),
        suggested=None, rules=rules,
    )

    if verify:
        scratch_root = Path(scratch_dir) if scratch_dir else Path(tempfile.mkdtemp(prefix="weight_suggestions_"))
        db_copy = rescore(project_dir, database, seed_texts, scratch_root, data.as_of)
        rescored = read_scores(db_copy, model_id)
        missing = [lead for lead in data.lead_ids if lead not in rescored]
        if missing or len(rescored) != len(data.lead_ids):
            raise WeightsError(f"the re-scored warehouse has {len(rescored)} leads, the warehouse "
                               f"{len(data.lead_ids)} ({len(missing)} missing)")
        scores = np.array([rescored[lead] for lead in data.lead_ids])
        suggestion.suggested = evaluate(scores[hold], y_hold)
        suggestion.rescored_database = str(db_copy)

    out.mkdir(parents=True, exist_ok=True)
    for name, text in seed_texts.items():
        (out / name).write_text(text, encoding="utf-8", newline="")
        suggestion.files[name] = str(out / name)
    suggestion.files[REPORT_JSON] = str(out / REPORT_JSON)
    suggestion.files[REPORT_MD] = str(out / REPORT_MD)
    (out / REPORT_JSON).write_text(json.dumps(suggestion.to_json(), indent=2, default=str) + "\n", encoding="utf-8")
    (out / REPORT_MD).write_text(render_markdown(suggestion), encoding="utf-8")
    return suggestion


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------
def _num(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _points(value: float) -> str:
    return f"{value:g}"


def render_markdown(s: Suggestion) -> str:
    suggested = s.suggested
    lines = [
        f"# Weight suggestions for model `{s.model_id}`",
        "",
        f"Warehouse `{s.database}`, scored at {s.as_of} (UTC). Suggested seeds: "
        f"`{FIT_SEED}` and `{ENGAGEMENT_SEED}` beside this file, in the format of `seeds/`. Nothing was changed "
        "in `seeds/`: review, then copy the files there yourself and run `make build`.",
        "",
        f"Time-based hold-out: the latest {s.holdout_share:.0%} of leads by creation time "
        f"({s.holdout['leads']} leads, {s.holdout['converted']} converted, created from {s.holdout['created_from']}); "
        f"trained on the {s.train['leads']} earlier leads ({s.train['converted']} converted).",
        "",
        "## Hold-out performance",
        "",
        "| scores | ROC AUC | top-decile lift |",
        "|---|---|---|",
        f"| current rules (`lead_score` in the warehouse) | {_num(s.current.auc)} | {_num(s.current.top_decile_lift, 2)} |",
    ]
    if suggested is not None:
        lines.append(f"| suggested rules (re-scored by dbt: caps, decay, clamping) | {_num(suggested.auc)} | "
                     f"{_num(suggested.top_decile_lift, 2)} |")
    else:
        lines.append("| suggested rules (re-scored by dbt) | not run: use `--verify` | |")
    lines += [
        f"| logistic model's probabilities (before rounding to points and caps) | {_num(s.model_probability.auc)} | "
        f"{_num(s.model_probability.top_decile_lift, 2)} |",
        "",
        "Top-decile lift: the conversion rate of the 10% best-scored hold-out leads divided by the hold-out's "
        "conversion rate (leads tied at the cut-off count pro rata).",
        "",
        "## Per rule",
        "",
        f"Coefficient: log-odds per fired fit rule, or per unit (decayed, capped event) of an engagement rule, from "
        f"a logistic regression (L2, C = {s.c:g}) that starts from the current rules: coefficient = "
        f"{s.prior_log_odds_per_point:.4f} x axis weight x current points + a penalised correction. "
        f"Suggested points = round(k x coefficient / axis weight), k = {s.scale_k:.3f}, so that the largest "
        f"suggested positive points equal the largest current ones. Support: training leads on which the rule "
        f"fired (at least {s.min_support} to be fitted).",
        "",
        "| axis | rule_id | group | current points | suggested points | coefficient | support | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in s.rules:
        changed = "" if r.suggested_points == r.current_points else " *"
        lines.append(f"| {r.axis} | {r.rule_id} | {r.rule_group} | {_points(r.current_points)} | "
                     f"{_points(r.suggested_points)}{changed} | {_num(r.coefficient)} | {r.support} | "
                     f"{STATUS_TEXT[r.status]} |")
    lines += ["", "`*`: changed. Signals (`scoring_signal_rules.csv`), caps and cut-offs are not part of the "
                  "suggestion.", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `lead-scoring suggest-weights` (and `python -m lead_scoring.weights`)."""
    parser.add_argument("--database", required=True, help="the DuckDB warehouse a dbt build scored")
    parser.add_argument("--out", required=True, help="folder for the suggested seeds and the report")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="scoring model id (default: %(default)s)")
    parser.add_argument("--holdout-share", type=float, default=DEFAULT_HOLDOUT_SHARE,
                        help="latest share of leads by creation time held out (default: %(default)s)")
    parser.add_argument("--min-support", type=int, default=DEFAULT_MIN_SUPPORT,
                        help="training leads a rule must fire on to be fitted (default: %(default)s)")
    parser.add_argument("--c", type=float, default=DEFAULT_C,
                        help="inverse L2 regularisation strength of the logistic regression (default: %(default)s)")
    parser.add_argument("--seeds-dir", default=str(SEEDS_DIR), help="the live seeds (read only)")
    parser.add_argument("--project-dir", default=str(PROJECT_ROOT), help="the dbt project (for --verify)")
    parser.add_argument("--verify", action="store_true",
                        help="re-score the warehouse with the suggested seeds through dbt (a scratch copy)")
    parser.add_argument("--scratch", default=None, help="scratch folder for --verify (default: a temp folder)")


def run(args: argparse.Namespace) -> int:
    try:
        s = suggest_weights(args.database, args.out, model_id=args.model, holdout_share=args.holdout_share,
                            min_support=args.min_support, c=args.c, seeds_dir=args.seeds_dir,
                            project_dir=args.project_dir, verify=args.verify, scratch_dir=args.scratch)
    except WeightsError as exc:
        print(f"weights: {exc}", file=sys.stderr)
        return 1
    changed = sum(r.suggested_points != r.current_points for r in s.rules)
    print(f"hold-out: {s.holdout['leads']} leads, {s.holdout['converted']} converted")
    print(f"current rules:   AUC {s.current.auc:.3f}, top-decile lift {s.current.top_decile_lift:.2f}")
    if s.suggested is not None:
        print(f"suggested rules: AUC {s.suggested.auc:.3f}, top-decile lift {s.suggested.top_decile_lift:.2f} "
              "(re-scored by dbt)")
    print(f"logistic model:  AUC {s.model_probability.auc:.3f}, top-decile lift "
          f"{s.model_probability.top_decile_lift:.2f}")
    print(f"{changed} of {len(s.rules)} rules changed; wrote {', '.join(sorted(s.files.values()))}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lead_scoring.weights",
                                     description="Suggest rule points from historical conversions.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
