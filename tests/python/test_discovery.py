"""Rule discovery (lead_scoring.discovery, `lead-scoring suggest-rules`): pure functions against hand computations
of the project's semantics (docs/scoring_rules.md) and against scikit-learn, then one end-to-end run on generated
data with a planted truth (lead_scoring.datagen.PLANTED_DRIVERS / PLANTED_NOISE): the strong drivers found by
name, the noise left out, the points within 0.01 AUC of the logistic regression, grades and levels monotone."""
from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

import numpy as np
import pytest
from conftest import AS_OF, PROJECT_ROOT, SEEDS_DIR, assert_dbt_ok, query, run_dbt

from lead_scoring import discovery, ranking, weights


def seeds_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(SEEDS_DIR.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _pit(lead_ids, created, converted, attributes=None, events=None):
    ev = events or discovery.Events(np.zeros(0, dtype=int), np.zeros(0), [], [], [], [], [])
    return discovery.PitData("default", datetime(2026, 11, 1), datetime(2026, 9, 2), list(lead_ids), list(created),
                             np.asarray(converted, dtype=bool), attributes or {}, ev, [])


# --------------------------------------------------------------------------------------------------
# The project's semantics, by hand
# --------------------------------------------------------------------------------------------------
def test_decay_factors_match_the_documented_formula():
    age = np.array([0.0, 7.0, 14.0, 30.0, 45.0])
    assert discovery.decay_factor("exponential", 14, age) == pytest.approx([1.0, 2 ** -0.5, 0.5, 0.5 ** (30 / 14),
                                                                            0.5 ** (45 / 14)])
    assert discovery.decay_factor("linear", 30, age) == pytest.approx([1.0, 23 / 30, 16 / 30, 0.0, 0.0])
    assert discovery.decay_factor("window", 14, age).tolist() == [1.0, 1.0, 0.0, 0.0, 0.0]  # age < h
    assert discovery.decay_factor("none", None, age).tolist() == [1.0] * 5


def test_units_are_decayed_event_sums_capped_like_max_points():
    # lead 0: events 0 and 14 days old; lead 1: three events today; lead 2: none
    events = discovery.Events(np.array([0, 0, 1, 1, 1]), np.array([0.0, 14.0, 0.0, 0.0, 0.0]),
                              ["page_view"] * 5, [None] * 5, [None] * 5, [None] * 5, [None] * 5)
    mask = np.ones(5, dtype=bool)
    u = discovery.units(events, mask, 3, "exponential", 14, cap=2)
    # by hand: lead 0 = 1 + 0.5 = 1.5; lead 1 = 3 capped at 2; dbt: min(points * 1.5, points * 2) = points * 1.5
    assert u.tolist() == pytest.approx([1.5, 2.0, 0.0])
    points = 6
    assert (points * u).tolist() == pytest.approx([min(points * 1.5, points * 2), min(points * 3, points * 2), 0])


def test_like_patterns_follow_sql_like():
    rx = discovery.like_regex("%/product%")
    assert rx.match("https://x.com/product/a") and rx.match("https://x.com/products")
    assert not rx.match("https://x.com/pro_duct")
    assert discovery.like_regex("a_c").match("abc") and not discovery.like_regex("a_c").match("abbc")
    assert discovery.url_segment("https://www.vendor.com/resources/ebook-x") == "resources"
    assert discovery.url_segment("https://www.vendor.com/") is None


def test_property_numbers_follow_the_documented_rules():
    assert discovery.property_number('{"d": 90}', "d") == 90.0
    assert discovery.property_number('{"d": "1.5e2"}', "d") == 150.0
    for bad in ('{"d": true}', '{"d": null}', '{"d": "1_000"}', '{"d": 2e12}', "not json", '[1]', '{"e": 1}'):
        assert discovery.property_number(bad, "d") is None


# --------------------------------------------------------------------------------------------------
# Candidates
# --------------------------------------------------------------------------------------------------
def test_fit_candidates_values_missing_and_numeric_ranges():
    n = 400
    rng = np.random.default_rng(0)
    plan = ["Enterprise" if i % 4 == 0 else ("starter" if i % 4 == 1 else None) for i in range(n)]
    plan[3] = "rare"  # below min support: no candidate
    seats = [str(int(v)) for v in rng.integers(1, 1000, n)]
    converted = np.array([s is not None and s.lower() == "enterprise" for s in plan])
    data = _pit([f"L{i:03d}" for i in range(n)], [datetime(2026, 5, 1)] * n, converted,
                {"plan": plan, "seats": seats})
    train = np.ones(n, dtype=bool)
    cands = {c.rule_id: c for c in discovery.fit_candidates(data, train, min_support=30)}
    ent = cands["fit_plan_enterprise"]
    assert ent.spec == {"operator": "equals", "value": "enterprise"}  # lower-cased: dbt compares lower(v)
    assert ent.values.sum() == 100
    assert cands["fit_plan_missing"].spec == {"operator": "is_missing"}
    assert cands["fit_plan_missing"].values.sum() == sum(p is None for p in plan)
    assert not any("rare" in r for r in cands)
    # seats carries no signal: its quantile ranges merge into one, so it gives no range rule
    assert not any(c.attribute == "seats" and c.spec["operator"] == "between" for c in cands.values())


def test_quantile_ranges_merge_where_adjacent_ranges_convert_alike():
    # rates by construction: [0,10) 0.1, [10,20) 0.1, [20,30) 0.5, [30,40) 0.5 -> two ranges split at 20
    x = np.repeat([5.0, 15.0, 25.0, 35.0], 200)
    y = np.zeros(800, dtype=bool)
    for block, rate in enumerate((0.1, 0.1, 0.5, 0.5)):
        y[block * 200: block * 200 + int(rate * 200)] = True
    edges = discovery.merge_ranges([-math.inf, 10, 20, 30, math.inf], x, y)
    assert edges == [-math.inf, 20, math.inf]


def test_engagement_candidate_decay_is_chosen_by_validation():
    # converters had a demo_request 0-6 days before T, the others 60-90 days before: a short window or
    # half-life separates them; 'none' (every event counts alike) does not
    n = 200
    lead_index, ages, converted = [], [], np.zeros(n, dtype=bool)
    for i in range(n):
        conv = i % 4 == 0
        converted[i] = conv
        lead_index.append(i)
        ages.append(float(i % 7) if conv else 60.0 + i % 30)
    ev = discovery.Events(np.array(lead_index), np.array(ages), ["demo_request"] * n, ["website"] * n, [None] * n,
                          [None] * n, [None] * n)
    data = _pit([f"L{i:03d}" for i in range(n)], [datetime(2026, 5, 1) + timedelta(hours=i) for i in range(n)],
                converted, {}, ev)
    train = np.ones(n, dtype=bool)
    inner_valid = np.arange(n) >= 120
    [cand] = discovery.engagement_candidates(data, train, inner_valid, min_support=10)
    assert cand.spec == {} and cand.attribute == "demo_request"
    assert (cand.decay_method, cand.decay_days) in {("exponential", 7), ("exponential", 14), ("window", 14),
                                                    ("window", 30)}
    expected = discovery.units(ev, np.ones(n, dtype=bool), n, cand.decay_method, cand.decay_days, cand.cap_units)
    assert cand.values == pytest.approx(expected)


# --------------------------------------------------------------------------------------------------
# Points, bands, MQL
# --------------------------------------------------------------------------------------------------
def _cand(rule_id, axis, attribute, values, cap=None):
    return discovery.Candidate(rule_id, axis, attribute, {"operator": "equals", "value": "x"}, rule_id,
                               np.asarray(values, dtype=float), cap_units=cap)


def test_points_keep_the_lead_score_affine_in_the_logit():
    # fit: attribute a has +1.0 and -0.5 (exclusive values), b has +0.5 -> logit range [-0.5, 1.5], R_f = 2;
    # engagement: e with 0.25 per unit, training max 4 units -> R_e = 1
    a_pos = [1, 0, 0, 1, 0, 0]
    a_neg = [0, 1, 0, 0, 1, 0]
    b = [1, 1, 0, 0, 1, 1]
    e = [0, 4, 2, 1, 0, 1]  # logits 1.5, 1.0, 0.5, 1.25, 0, 0.75: no ties
    cands = [_cand("a_pos", "fit", "a", a_pos), _cand("a_neg", "fit", "a", a_neg), _cand("b", "fit", "b", b),
             _cand("e", "engagement", "ev", e, cap=4)]
    fit = discovery.SparseFit([0, 1, 2, 3], {0: 1.0, 1: -0.5, 2: 0.5, 3: 0.25}, -2.0, 1.0, [])
    x = np.column_stack([c.values for c in cands])
    pm = discovery.coefficients_to_points(cands, fit, x)
    # by hand: s_f = 100 / 2 = 50 -> points 50, -25, 25, baseline 25; s_e = 100 / 1 -> 25 per unit;
    # weights R_f / (R_f + R_e) = 2/3 -> 0.67, 0.33
    assert pm.fit_points == {0: 50, 1: -25, 2: 25} and pm.baseline == 25
    assert pm.engagement_points == {3: 25}
    assert (pm.fit_weight, pm.engagement_weight) == (0.67, 0.33)
    fit_s, eng_s, lead = discovery.python_scores(cands, pm)
    logit = x @ np.array([1.0, -0.5, 0.5, 0.25])
    assert fit_s.min() >= 0 and fit_s.max() <= 100
    # affine: the lead score ranks exactly as the logit (up to the rounding of the weights)
    assert np.argsort(lead, kind="stable").tolist() == np.argsort(logit, kind="stable").tolist()
    assert ranking.roc_auc(lead, [1, 0, 0, 1, 0, 1]) == pytest.approx(ranking.roc_auc(logit, [1, 0, 0, 1, 0, 1]))
    # fit score by hand: baseline 25 + 50 a_pos - 25 a_neg + 25 b
    assert fit_s.tolist() == pytest.approx([25 + 50 * a_pos[i] - 25 * a_neg[i] + 25 * b[i] for i in range(6)])


def test_band_recut_is_monotone_and_merges_what_the_data_cannot_separate():
    # scores 0..99, 10 leads each; exactly 4 of 10 convert at 50 and above (A and B cannot be told apart), 1 of
    # 10 in [20, 50), none below 20 -> the shares 20/30/30 cut at 80, 50, 20, and bands A and B merge
    s = np.repeat(np.arange(100.0), 10)
    k = np.tile(np.arange(10), 100)
    y = k < np.where(s >= 50, 4, np.where(s >= 20, 1, 0))
    cutoffs, notes = discovery.recut_bands(s, y, discovery.FIT_BANDS, epsilon=0.5)
    assert len(cutoffs) == 4 and cutoffs[-1] == 0 and all(a > b for a, b in zip(cutoffs, cutoffs[1:]))
    bands = discovery.band_of(s, cutoffs, discovery.FIT_BANDS)
    rates = [g.conversion_rate for g in ranking.conversion_by_group(bands, y, discovery.FIT_BANDS)]
    assert ranking.is_monotone(rates)
    assert notes and None in rates  # one band merged: it is empty
    # an independent check of the merge: the live bands' rates differ by a clear margin
    live = [r for r in rates if r is not None]
    assert all(a > b for a, b in zip(live, live[1:]))


def test_mql_threshold_lies_in_the_share_range():
    rng = np.random.default_rng(2)
    s = rng.random(1000) * 100
    y = rng.random(1000) < s / 200
    t = discovery.choose_mql_threshold(s, y, (0.10, 0.25))
    assert 0.10 <= (s >= t).mean() <= 0.25


def test_mql_threshold_with_a_capture_target_takes_the_smallest_share_that_reaches_it():
    # 100 leads scored 1..100; the converters are the leads scored 71..80 and 91..100 (20 conversions): the top
    # 10% captures half, the top 30% all of them; shares 15-35% are allowed
    s = np.arange(1, 101, dtype=float)
    y = ((s > 70) & (s <= 80)) | (s > 90)
    # 60%: leads 79-80 and 91-100 are 12 of the 20 conversions in the top 22%
    assert discovery.choose_mql_threshold(s, y, (0.15, 0.35), target_capture=0.6) == 79
    assert discovery.choose_mql_threshold(s, y, (0.15, 0.35), target_capture=1.0) == 71  # top 30%: all 20
    # unreachable within the range: the lowest threshold the range allows (the most capture)
    assert discovery.choose_mql_threshold(s, y, (0.15, 0.25), target_capture=1.0) == 76
    # without a target: capture minus share is largest at the top 30% (1.0 - 0.30)
    assert discovery.choose_mql_threshold(s, y, (0.15, 0.35)) == 71


def test_the_mql_threshold_moves_to_the_nearest_score_that_puts_todays_share_in_range():
    today = np.arange(1, 101, dtype=float)  # 100 leads today, scored 1..100
    assert discovery.threshold_for_current_share(today, 81, (0.10, 0.25)) == 81  # 20% of today's leads: kept
    assert discovery.threshold_for_current_share(today, 40, (0.10, 0.25)) == 76  # 61% -> nearest in range: 25%
    assert discovery.threshold_for_current_share(today, 99, (0.10, 0.25)) == 91  # 2% -> nearest in range: 10%
    assert discovery.threshold_for_current_share(np.full(10, 50.0), 40, (0.10, 0.25)) == 40  # ties: no way in


def test_a_suggestion_that_ranks_below_the_current_rules_or_has_unordered_bands_is_flagged():
    ordered = {"grades_monotone": True, "levels_monotone": True}
    assert discovery.outcome_warnings({"current_rules_dbt": 0.70, "suggested_points_dbt": 0.72}, ordered, 50) == []
    below = discovery.outcome_warnings({"current_rules_dbt": 0.68, "suggested_points": 0.59}, ordered, 42)
    assert len(below) == 1 and "below the current rules" in below[0] and "0.590 against 0.680" in below[0]
    unordered = discovery.outcome_warnings({"current_rules_dbt": None, "suggested_points": 0.7},
                                           {"grades_monotone": False, "levels_monotone": True}, 50)
    assert len(unordered) == 1 and "grades" in unordered[0]


def test_seeds_keep_other_models_rows_and_the_format():
    seeds = {name: weights.read_seed(SEEDS_DIR / name) for name in discovery.CHANGED_SEEDS}
    cands = [_cand("fit_x", "fit", "industry", [1, 0]), _cand("eng_y", "engagement", "page_view", [1, 0], cap=3)]
    cands[1].spec, cands[1].decay_method, cands[1].decay_days = {}, "exponential", 14.0
    pm = discovery.PointsModel({0: 10}, {1: 5}, 3, 0.6, 0.4, 1.0, 1.0)
    texts = discovery.build_seed_texts(seeds, "default", cands, pm, [60, 59.5, 20, 0], [50, 30, 10, 0], 42.5,
                                       "industry", {"page_view": "web"})
    for name, text in texts.items():
        new = weights.parse_seed(text)
        old = seeds[name]
        assert new.header == old.header and new.line_terminator == old.line_terminator
        model_col = old.header.index("model_id")
        assert [r for r in new.rows if r[model_col] != "default"] == [r for r in old.rows if r[model_col] != "default"]
    eng = [dict(zip(weights.parse_seed(texts[discovery.ENGAGEMENT_SEED]).header, r))
           for r in weights.parse_seed(texts[discovery.ENGAGEMENT_SEED]).rows if r[0] == "default"]
    assert eng == [{**eng[0], "rule_id": "eng_y", "points": "5", "max_points": "15", "decay_days": "14"}]
    life = texts[discovery.LIFECYCLE_SEED]
    assert "default,30,mql,,,42.5," in life and "A1|A2|B1" not in life.split("b2c_education")[0]


# --------------------------------------------------------------------------------------------------
# The ceiling against an independent fit
# --------------------------------------------------------------------------------------------------
def test_ceiling_aucs_agree_with_an_independent_sklearn_fit():
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(3)
    n = 1200
    x = np.column_stack([rng.integers(0, 2, n), rng.random(n) * 3, rng.integers(0, 2, n)]).astype(float)
    y = rng.random(n) < 1 / (1 + np.exp(-(-2 + 1.5 * x[:, 0] + 0.8 * x[:, 1])))
    train = np.arange(n) < 800
    hold = ~train
    inner_train, inner_valid = train & (np.arange(n) < 530), train & (np.arange(n) >= 530)
    ceiling = discovery.fit_ceiling(x, y, train, hold, inner_train, inner_valid)
    scaler = StandardScaler().fit(x[train])
    lr = LogisticRegression(C=ceiling.logistic_c, max_iter=5000).fit(scaler.transform(x[train]), y[train])
    assert ranking.roc_auc(ceiling.logistic_holdout, y[hold]) == pytest.approx(
        roc_auc_score(y[hold], lr.decision_function(scaler.transform(x[hold]))), abs=1e-9)
    hgb = HistGradientBoostingClassifier(random_state=0).fit(x[train], y[train])
    assert ranking.roc_auc(ceiling.boosted_holdout, y[hold]) == pytest.approx(
        roc_auc_score(y[hold], hgb.predict_proba(x[hold])[:, 1]), abs=1e-9)


# --------------------------------------------------------------------------------------------------
# End to end on planted data
# --------------------------------------------------------------------------------------------------
PLANTED_LEADS = 8000


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """8,000 leads with the planted truth, one dbt build, then discovery with --verify (a dbt replay at T)."""
    from lead_scoring import datagen

    root = tmp_path_factory.mktemp("discovery")
    db = root / "wh.duckdb"
    datagen.generate(database=str(db), leads=PLANTED_LEADS, events_per_lead=20, days=180, seed=42, as_of=AS_OF,
                     planted_truth=True)
    assert_dbt_ok(run_dbt(PROJECT_ROOT, db, "build", "--exclude-resource-type", "unit_test", "test",
                          vars={"as_of": AS_OF}, target_path=root / "target", log_path=root / "logs"))
    before = seeds_digest()
    report = discovery.suggest_rules(db, root / "out", verify=True, replay_current=False, scratch_dir=root / "scratch")
    return {"db": db, "out": root / "out", "report": report, "seeds_before": before, "scratch": root / "scratch"}


def _rule_rows(out, name):
    seed = weights.read_seed(out / name)
    return [dict(zip(seed.header, r)) for r in seed.rows if r[0] == "default"]


def test_discovery_recovers_the_planted_drivers_and_drops_the_noise(planted):
    from lead_scoring.datagen import PLANTED_DRIVERS, PLANTED_NOISE

    fit = _rule_rows(planted["out"], discovery.FIT_SEED)
    eng = _rule_rows(planted["out"], discovery.ENGAGEMENT_SEED)
    drivers = {d.name: d for d in PLANTED_DRIVERS}
    # strong categorical driver, both directions
    ent = drivers["plan_interest_enterprise"]
    assert any(r["attribute"] == ent.column and r["value"] in ent.values and int(r["points"]) > 0 for r in fit)
    starter = drivers["plan_interest_starter"]
    assert any(r["attribute"] == starter.column and r["value"] in starter.values and int(r["points"]) < 0
               for r in fit)
    # numeric range: a between rule on seats_requested overlapping the planted range, with positive points
    seats = drivers["seats_requested_50_500"]
    assert any(r["attribute"] == seats.column and r["operator"] == "between" and int(r["points"]) > 0
               and float(r["min_value"] or 0) < seats.high and float(r["max_value"] or math.inf) > seats.low
               for r in fit)
    # event property: long page views
    prop = drivers["page_view_long_duration"]
    assert any(r["event_type"] == prop.event_type and r["property_name"] == prop.property_name
               and float(r["property_min"] or 0) >= 60 for r in eng)
    # noise: no rule on a noise column or event type
    for noise in PLANTED_NOISE:
        if noise.column:
            assert not [r for r in fit if r["attribute"] == noise.column], noise.name
        if noise.event_type:
            assert not [r for r in eng if r["event_type"] == noise.event_type], noise.name
    assert seeds_digest() == planted["seeds_before"]


def test_points_reach_the_logistic_regression_and_bands_are_monotone(planted):
    d = planted["report"]
    assert d.auc["suggested_points"] >= d.auc["logistic"] - 0.01
    assert d.bands_holdout["grades_monotone"] and d.bands_holdout["levels_monotone"]
    # dbt, replaying the suggested seeds at T, ranks the hold-out as the Python computation does: the engagement
    # score of every hold-out lead is the same (events at T, decay, caps); a fit score differs only for a lead
    # with several raw versions (Python reads the current attributes, dbt the version known at T)
    assert d.auc["suggested_points_dbt"] == pytest.approx(d.auc["suggested_points"], abs=0.02)
    ev = d.evaluations["suggested_points_dbt"]
    assert ev["leads_with_another_engagement_score"] == 0
    multi = query(planted["db"], "select count(*) as n from (select lead_id from staging.stg_crm__lead_versions "
                                 "group by lead_id having count(*) > 1)")[0]["n"]
    assert ev["leads_with_another_fit_score"] <= multi
    lo, hi = d.mql_share_range
    assert lo - 0.05 <= d.bands_holdout["mql"]["share_of_leads"] <= hi + 0.05


def test_report_figures_agree_with_an_independent_computation(planted):
    """The hold-out population and labels, recomputed here in SQL, and the suggested points' AUC recomputed
    with sklearn from the seeds as written (fit rules only need int_lead_attributes)."""
    from sklearn.metrics import roc_auc_score

    d = planted["report"]
    cutoff = d.cutoff
    rows = query(planted["db"], """
        select l.lead_id, l.created_at,
               exists (select 1 from staging.stg_crm__opportunities o where o.lead_id = l.lead_id
                       and o.created_at > cast(? as timestamp) and o.created_at <= cast(? as timestamp)) as label,
               exists (select 1 from staging.stg_crm__opportunities o where o.lead_id = l.lead_id
                       and o.created_at <= cast(? as timestamp)) as converted_before
        from staging.stg_crm__leads l
        where l.created_at <= cast(? as timestamp)
          and exists (select 1 from staging.stg_crm__lead_versions v where v.lead_id = l.lead_id
                      and v.created_at <= cast(? as timestamp)
                      and coalesce(v.updated_at, v.created_at) <= cast(? as timestamp))
        order by l.lead_id""", [cutoff, d.as_of, cutoff, cutoff, cutoff, cutoff])
    rows = [r for r in rows if not r["converted_before"]]
    assert d.population["leads"] == len(rows)
    assert d.population["converted"] == sum(r["label"] for r in rows)
    hold = weights.holdout_mask([r["lead_id"] for r in rows], [r["created_at"] for r in rows], 0.3)
    assert d.holdout["converted"] == sum(r["label"] for r, h in zip(rows, hold) if h)
    md = (planted["out"] / discovery.REPORT_MD).read_text()
    assert f"{d.auc['suggested_points']:.3f}" in md and f"{d.auc['boosted']:.3f}" in md
    # the dbt replay's AUC, recomputed with sklearn from the replayed warehouse's lead_scores
    replayed = {r["lead_id"]: r["lead_score"] for r in query(
        planted["scratch"] / "suggested" / "warehouse" / "wh.duckdb",
        "select lead_id, lead_score from marts.lead_scores where model_id = 'default'")}
    held = [r for r, h in zip(rows, hold) if h and r["lead_id"] in replayed]
    assert len(held) == d.holdout["leads"]
    assert d.auc["suggested_points_dbt"] == pytest.approx(
        roc_auc_score([r["label"] for r in held], [replayed[r["lead_id"]] for r in held]), abs=1e-9)


def test_cli_refuses_the_seeds_folder(tmp_path, capsys):
    assert discovery.main(["--database", str(tmp_path / "wh.duckdb"), "--out", str(SEEDS_DIR)]) == 1
    assert "refusing" in capsys.readouterr().err


def test_rule_suggestions_asset_is_on_demand_and_materialises(planted, tmp_path, monkeypatch):
    import dagster as dg

    from orchestration.defs.dbt import jobs
    from orchestration.defs.suggestions import rule_assets
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    key = dg.AssetKey("rule_suggestions")
    assert graph.get(key).parent_keys == {dg.AssetKey("lead_scores")}
    assert rule_assets.rule_suggestions.pool == "duckdb_warehouse"
    assert not graph.get(key).is_executable  # an external spec: never in "Materialize all"
    assert key not in jobs.full_selection.resolve(graph)
    assert key not in jobs.engagement_selection.resolve(graph)

    out = tmp_path / "rules"
    monkeypatch.setenv("LEAD_SCORING_DUCKDB_PATH", str(planted["db"]))
    monkeypatch.setenv(rule_assets.RULE_SUGGESTIONS_DIR_ENV, str(out))
    before = seeds_digest()
    result = defs.resolve_job_def("rule_suggestions_job").execute_in_process(
        run_config=dg.RunConfig(ops={"rule_suggestions": rule_assets.RuleSuggestionsConfig(
            verify=False, replay_current=False)}),
    )
    assert result.success
    assert seeds_digest() == before
    [event] = result.get_asset_materialization_events()
    assert event.asset_key == key
    metadata = event.materialization.metadata
    assert {p.name for p in out.iterdir()} == {*discovery.CHANGED_SEEDS, discovery.REPORT_MD, discovery.REPORT_JSON}
    # the same data and settings as the module's run: the same figures (the fit is deterministic)
    assert metadata["AUC suggested_points"].value == pytest.approx(planted["report"].auc["suggested_points"])
    assert metadata["AUC logistic"].value == pytest.approx(planted["report"].auc["logistic"])
