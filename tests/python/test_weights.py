"""Weight suggestions (lead_scoring.weights, orchestration/defs/suggestions): pure functions against hand-worked
values and scikit-learn, the seed format, and on the session warehouse the proof that the suggested rules,
re-scored by dbt, beat the current rules' hold-out AUC."""
from __future__ import annotations

import csv
import hashlib
import io
import warnings
from datetime import datetime

import numpy as np
import pytest
from conftest import DATAGEN_ARGS, PROJECT_ROOT, SEEDS_DIR, query

OUR_DEPRECATIONS_ARE_ERRORS = r"error::DeprecationWarning:orchestration(\.|$)"
pytestmark = pytest.mark.filterwarnings(OUR_DEPRECATIONS_ARE_ERRORS)
warnings.filterwarnings("error", category=DeprecationWarning, module=r"orchestration(\.|$)")

from lead_scoring import weights  # noqa: E402


def seeds_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(SEEDS_DIR.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------------
# Pure functions
# --------------------------------------------------------------------------------------------------
def test_coefficients_to_points_by_hand():
    # ratios coef / axis weight: a 1.0, b 0.4, c -0.2, d 1.2 -> k = 30 / 1.2 = 25
    coef = {"a": 0.5, "b": 0.2, "c": -0.1, "d": 0.3}
    axis_weight = {"a": 0.5, "b": 0.5, "c": 0.5, "d": 0.25}
    points, k = weights.coefficients_to_points(coef, axis_weight, target_max_points=30)
    assert k == pytest.approx(25.0)
    assert points == {"a": 25, "b": 10, "c": -5, "d": 30}


def test_coefficients_to_points_needs_a_positive_coefficient():
    with pytest.raises(weights.WeightsError, match="positive"):
        weights.coefficients_to_points({"a": -1.0}, {"a": 0.5}, 30)


def test_rounding_is_half_away_from_zero():
    assert [weights.round_half_away(v) for v in (2.5, -2.5, 2.49, -0.4, 0.0)] == [3, -3, 2, 0, 0]


def test_holdout_split_is_by_creation_time_then_lead_id_and_order_free():
    t = datetime(2026, 1, 1)
    later = datetime(2026, 2, 1)
    leads = ["L5", "L2", "L3", "L1", "L4"]
    created = [later, t, None, later, later]  # L3 has no creation time: the oldest
    # by hand: order L3 (missing), L2 (t), then the ties at `later` by id: L1, L4, L5; 40% of 5 = 2 held out
    mask = weights.holdout_mask(leads, created, 0.4)
    assert {lead for lead, h in zip(leads, mask) if h} == {"L4", "L5"}
    # the same leads in another order give the same split
    order = [3, 0, 4, 2, 1]
    mask2 = weights.holdout_mask([leads[i] for i in order], [created[i] for i in order], 0.4)
    assert {leads[i] for i, h in zip(order, mask2) if h} == {"L4", "L5"}
    with pytest.raises(weights.WeightsError):
        weights.holdout_mask(leads, created, 1.0)


def test_auc_matches_sklearn_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    scores = rng.integers(0, 12, size=400).astype(float)  # many ties
    labels = rng.random(400) < 0.15 + 0.04 * scores
    assert weights.roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert weights.roc_auc([1, 2, 3, 4], [False, False, True, True]) == 1.0
    assert weights.roc_auc([1, 1, 1, 1], [False, True, False, True]) == 0.5


def test_top_decile_lift_counts_ties_at_the_cut_off_pro_rata():
    # 20 leads, 4 converted (rate 0.2); top 10% = 2 leads: the 10 (converted) and one of three tied 9s, one
    # of which converted -> expected converted in the top (1 + 1/3), rate (4/3) / 2, lift (2/3) / 0.2 = 10/3
    scores = [10, 9, 9, 9] + [1] * 16
    labels = [True, True, False, False] + [True, True] + [False] * 14
    assert weights.top_share_lift(scores, labels, 0.1) == pytest.approx(10 / 3)
    # no ties: the top 2 of 20 both converted, rate 1 / 0.2 = 5
    assert weights.top_share_lift(list(range(20, 0, -1)), [True, True] + [False] * 18, 0.1) == pytest.approx(10.0)


@pytest.mark.parametrize("seed_file", sorted(p.name for p in SEEDS_DIR.glob("*.csv")))
def test_every_live_seed_round_trips_byte_for_byte(seed_file):
    text = (SEEDS_DIR / seed_file).read_text(encoding="utf-8")
    assert weights.render_seed(weights.parse_seed(text)) == text


def test_with_points_changes_only_the_points_of_the_named_rules():
    seed = weights.read_seed(SEEDS_DIR / weights.FIT_SEED)
    changed = weights.with_points(seed, "default", {"fit_industry_software": 7, "fit_neg_missing_title": -3})
    text = weights.render_seed(changed)
    before = list(csv.DictReader(io.StringIO((SEEDS_DIR / weights.FIT_SEED).read_text(encoding="utf-8"))))
    after = list(csv.DictReader(io.StringIO(text)))
    assert [r["rule_id"] for r in after] == [r["rule_id"] for r in before]
    for old, new in zip(before, after):
        expected_points = {"fit_industry_software": "7", "fit_neg_missing_title": "-3"}.get(new["rule_id"], old["points"])
        assert new == {**old, "points": expected_points}
    with pytest.raises(weights.WeightsError, match="no rule"):
        weights.with_points(seed, "default", {"no_such_rule": 1})


def test_logistic_fit_reports_raw_unit_coefficients_and_enforces_signs():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(11)
    n = 4000
    x = np.column_stack([rng.random(n) < 0.4, rng.poisson(3.0, n), rng.random(n) < 0.5]).astype(float)
    logit = -2.0 + 1.2 * x[:, 0] + 0.3 * x[:, 1] - 0.8 * x[:, 2]
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    # practically unregularised: the per-unit coefficients are the maximum-likelihood ones, which plain
    # scikit-learn on the raw (unstandardised) features also finds
    fit = weights.fit_logistic(x, y, [0, 1, 2], signs={}, c=1e6)
    reference = LogisticRegression(C=1e6, max_iter=10000).fit(x, y)
    assert [fit.coef[j] for j in range(3)] == pytest.approx(list(reference.coef_[0]), abs=2e-3)
    assert fit.intercept == pytest.approx(reference.intercept_[0], abs=2e-3)
    # column 2 has a negative effect; requiring it to be positive drops it (suggested 0 points)
    constrained = weights.fit_logistic(x, y, [0, 1, 2], signs={0: 1, 1: 1, 2: 1}, c=1e6)
    assert constrained.dropped_for_sign == [2] and constrained.columns == [0, 1]


def test_logistic_fit_shrinks_towards_the_prior_not_towards_zero():
    rng = np.random.default_rng(5)
    n = 3000
    x = (rng.random((n, 3)) < 0.3).astype(float)
    y = rng.random(n) < 1 / (1 + np.exp(-(-2.0 + 1.0 * x[:, 0] + 0.5 * x[:, 1] + 0.25 * x[:, 2])))
    prior = {0: 4.0, 1: 2.0, 2: 1.0}  # the true 4:2:1 ratio
    # penalty so strong that the corrections vanish: the coefficients are a multiple of the prior weights
    strong = weights.fit_logistic(x, y, [0, 1, 2], signs={}, c=1e-7, prior=prior)
    assert strong.prior_coef > 0
    assert [strong.coef[j] / strong.coef[2] for j in range(3)] == pytest.approx([4.0, 2.0, 1.0], rel=1e-3)
    # without a prior the same penalty drives every coefficient to about 0
    no_prior = weights.fit_logistic(x, y, [0, 1, 2], signs={}, c=1e-7)
    assert max(abs(b) for b in no_prior.coef.values()) < 1e-3
    # the decision function is intercept + sum of coefficients times features
    assert strong.decision(x) == pytest.approx(strong.intercept + x @ np.array([strong.coef[j] for j in range(3)]))


def test_suggestions_are_never_written_into_seeds(tmp_path):
    with pytest.raises(weights.WeightsError, match="refusing"):
        weights.suggest_weights(tmp_path / "missing.duckdb", SEEDS_DIR)
    with pytest.raises(weights.WeightsError, match="refusing"):
        weights.suggest_weights(tmp_path / "missing.duckdb", SEEDS_DIR / "sub")


# --------------------------------------------------------------------------------------------------
# On the session warehouse (2,500 generated leads): the proof
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def suggestion(warehouse, tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    before = seeds_digest()
    result = weights.suggest_weights(
        warehouse.db_path, root / "out", seeds_dir=warehouse.seeds_dir, project_dir=warehouse.project_snapshot,
        verify=True, scratch_dir=root / "scratch")
    assert seeds_digest() == before, "the weight suggestion changed a file under seeds/"
    return result


def _holdout_truth(db_path, share):
    """Hold-out leads and conversions, computed here independently: SQL order by created_at, lead_id."""
    rows = query(db_path, """
        select s.lead_id, s.lead_score,
               exists (select 1 from staging.stg_crm__opportunities as o where o.lead_id = s.lead_id) as converted
        from marts.lead_scores as s
        where s.model_id = 'default'
        order by s.lead_created_at nulls first, s.lead_id""")
    n_holdout = int(len(rows) * share + 0.5)
    return rows[len(rows) - n_holdout:]


def test_suggested_rules_rescored_by_dbt_beat_the_current_rules_on_the_holdout(suggestion, warehouse):
    from sklearn.metrics import roc_auc_score

    holdout = _holdout_truth(warehouse.db_path, suggestion.holdout_share)
    labels = [r["converted"] for r in holdout]
    assert suggestion.holdout["leads"] == len(holdout) and suggestion.holdout["converted"] == sum(labels)
    assert suggestion.current.auc == pytest.approx(roc_auc_score(labels, [r["lead_score"] for r in holdout]))

    rescored = {r["lead_id"]: r["lead_score"] for r in query(
        suggestion.rescored_database, "select lead_id, lead_score from marts.lead_scores where model_id = 'default'")}
    assert suggestion.suggested is not None
    suggested_scores = [rescored[r["lead_id"]] for r in holdout]
    assert suggestion.suggested.auc == pytest.approx(roc_auc_score(labels, suggested_scores))
    # the re-scored warehouse really used the suggested points
    fit_points = {r["rule_id"]: float(r["points"]) for r in query(
        suggestion.rescored_database, "select rule_id, points from staging.stg_rules__fit_rules "
                                      "where model_id = 'default'")}
    assert fit_points == {r.rule_id: r.suggested_points for r in suggestion.rules if r.axis == "fit"}
    assert any(r.suggested_points != r.current_points for r in suggestion.rules)

    # the proof asked for
    assert suggestion.suggested.auc > suggestion.current.auc, (suggestion.suggested, suggestion.current)


def test_the_target_is_the_generators_hidden_truth(suggestion, warehouse, tmp_path):
    """datagen draws opportunities from latent fit and engagement; regenerate the same data with the latent
    table kept, and check that the tool's target (converted) is that hidden outcome, lead for lead."""
    from lead_scoring import datagen

    latent_db = tmp_path / "truth.duckdb"  # not latent.duckdb: that catalog name would clash with the schema
    datagen.generate(database=str(latent_db), latent_schema="latent", **DATAGEN_ARGS)
    truth = {r["lead_id"]: r["has_opp"] for r in query(latent_db, "select lead_id, has_opp from latent.lead_latent")}
    rows = query(warehouse.db_path, """
        select s.lead_id,
               exists (select 1 from staging.stg_crm__opportunities as o where o.lead_id = s.lead_id) as converted
        from marts.lead_scores as s where s.model_id = 'default'""")
    assert rows and all(truth[r["lead_id"]] == r["converted"] for r in rows)


def test_suggested_seed_files_have_the_live_format(suggestion, warehouse):
    for name in (weights.FIT_SEED, weights.ENGAGEMENT_SEED):
        live = list(csv.reader(io.StringIO((warehouse.seeds_dir / name).read_text(encoding="utf-8"))))
        new = list(csv.reader(io.StringIO(open(suggestion.files[name], encoding="utf-8").read())))
        assert new[0] == live[0]
        points = live[0].index("points")
        assert len(new) == len(live)
        for old_row, new_row in zip(live[1:], new[1:]):
            assert new_row[:points] + new_row[points + 1:] == old_row[:points] + old_row[points + 1:]
            assert new_row[points].lstrip("-").isdigit()
    statuses = {r.rule_id: r.status for r in suggestion.rules}
    assert statuses["fit_neg_competitor"] in (weights.LOW_SUPPORT, weights.DISQUALIFYING)
    assert statuses["fit_neg_student"] in (weights.LOW_SUPPORT, weights.DISQUALIFYING)
    for r in suggestion.rules:
        if r.status in (weights.LOW_SUPPORT, weights.DISQUALIFYING, weights.ZERO_POINTS):
            assert r.suggested_points == r.current_points
        if r.status == weights.LOW_SUPPORT:
            assert r.support < suggestion.min_support
        assert r.suggested_points * r.current_points >= 0  # never flips a rule's sign
    report = open(suggestion.files[weights.REPORT_MD], encoding="utf-8").read()
    assert f"{suggestion.current.auc:.3f}" in report and f"{suggestion.suggested.auc:.3f}" in report


def test_weight_suggestions_asset_is_on_demand_and_materialises(warehouse, tmp_path, monkeypatch):
    import dagster as dg

    from orchestration.defs.dbt import jobs
    from orchestration.defs.suggestions import assets as weight_assets
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    key = dg.AssetKey("weight_suggestions")
    assert graph.get(key).parent_keys == {dg.AssetKey("lead_scores")}
    assert weight_assets.weight_suggestions.pool == "duckdb_warehouse"
    assert not graph.get(key).is_executable  # an external spec: never in "Materialize all"
    assert key not in jobs.full_selection.resolve(graph)
    assert key not in jobs.engagement_selection.resolve(graph)

    out = tmp_path / "suggestions"
    monkeypatch.setenv("LEAD_SCORING_DUCKDB_PATH", str(warehouse.db_path))
    monkeypatch.setenv(weight_assets.SUGGESTIONS_DIR_ENV, str(out))
    before = seeds_digest()
    result = defs.resolve_job_def("weight_suggestions_job").execute_in_process(
        run_config=dg.RunConfig(ops={"weight_suggestions": weight_assets.WeightSuggestionsConfig(verify=False)}),
    )
    assert result.success
    assert seeds_digest() == before
    [event] = result.get_asset_materialization_events()
    assert event.asset_key == key
    metadata = event.materialization.metadata
    assert {p.name for p in out.iterdir()} == {weights.FIT_SEED, weights.ENGAGEMENT_SEED, weights.REPORT_MD,
                                               weights.REPORT_JSON}
    holdout = _holdout_truth(warehouse.db_path, weights.DEFAULT_HOLDOUT_SHARE)
    from sklearn.metrics import roc_auc_score

    assert metadata["current AUC"].value == pytest.approx(
        roc_auc_score([r["converted"] for r in holdout], [r["lead_score"] for r in holdout]))
    assert metadata["report"].value == str(out / weights.REPORT_MD)


def test_project_root_seeds_dir_is_the_live_one():
    assert weights.SEEDS_DIR == PROJECT_ROOT / "seeds"


def test_cli_refuses_the_seeds_folder_and_a_missing_warehouse(tmp_path, capsys):
    assert weights.main(["--database", str(tmp_path / "wh.duckdb"), "--out", str(SEEDS_DIR)]) == 1
    assert "refusing" in capsys.readouterr().err
    assert weights.main(["--database", str(tmp_path / "wh.duckdb"), "--out", str(tmp_path / "out")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
