"""The evidence marts (score_calibration, score_auc, mql_threshold_calibration, channel_quality) agree with an
independent Python computation from lead_scores and the raw opportunities; a bad calibration setting fails the
build with a message naming the file, the row and the fix.

The outcomes are recomputed here from raw.opportunities (not from int_lead_outcomes): converted = the lead has an
opportunity with an opportunity_id, won = the latest version of one of them is won. The population is every row
of lead_scores that is not excluded."""
from __future__ import annotations

import csv
import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Mapping, Sequence

import pytest
from sklearn.metrics import roc_auc_score

from conftest import AS_OF, PROJECT_ROOT, copy_project, query, run_dbt

TOLERANCE = 1e-9
BAND_LABELS = [f"{10 * i}-{10 * (i + 1)}" for i in range(10)]
GRADES_WORST_FIRST = ["D", "C", "B", "A"]
LEVELS_WORST_FIRST = ["4", "3", "2", "1"]
CELLS_WORST_FIRST = [grade + level for grade in GRADES_WORST_FIRST for level in LEVELS_WORST_FIRST]


# --------------------------------------------------------------------------------------------------------------
# Independent computation: small pure functions


@dataclass(frozen=True)
class Outcome:
    is_converted: bool
    is_won: bool
    won_amount: float


def clean(value: object) -> str | None:
    """Trimmed text, empty as None (the staging rule for text)."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def outcomes_from_raw(rows: Iterable[Mapping[str, object]]) -> dict[str, Outcome]:
    """Per lead: converted, won and the won amount (negative or missing amounts as 0) from raw opportunity rows.
    Rows without an opportunity_id are ignored; of several versions of one opportunity the latest loaded wins."""
    latest: dict[str, Mapping[str, object]] = {}

    def version_key(row: Mapping[str, object]) -> tuple:
        return tuple((value is not None, value or dt.datetime.min)
                     for value in (row["_loaded_at"], row["closed_at"], row["created_at"]))

    for row in rows:
        opportunity_id = clean(row["opportunity_id"])
        if opportunity_id is None:
            continue
        if opportunity_id not in latest or version_key(row) > version_key(latest[opportunity_id]):
            latest[opportunity_id] = row
    converted: dict[str, list[tuple[bool, float]]] = defaultdict(list)
    for row in latest.values():
        lead_id = clean(row["lead_id"])
        if lead_id is None:
            continue
        stage = (clean(row["stage"]) or "").lower()
        is_won = bool(row["is_won"]) if row["is_won"] is not None else stage == "won"
        amount = float(row["amount"]) if row["amount"] is not None else 0.0
        converted[lead_id].append((is_won, amount))
    return {
        lead_id: Outcome(True, any(won for won, _ in opps), sum(a for won, a in opps if won and a > 0))
        for lead_id, opps in converted.items()
    }


def score_band(score: float) -> str:
    """10-point band of a 0-100 score; 100 belongs to the top band."""
    return BAND_LABELS[min(int(math.floor(score / 10)), 9)]


def decile_labels(scored: Sequence[tuple[float, str]]) -> dict[str, str]:
    """'D01'..'D10' per lead id: leads ordered by (score, lead_id); position p (0-based) of n in decile p*10//n + 1."""
    ordered = sorted(scored)
    n = len(ordered)
    return {lead_id: f"D{position * 10 // n + 1:02d}" for position, (_, lead_id) in enumerate(ordered)}


def suggested_threshold(converted_scores: Sequence[float], share: Fraction) -> float | None:
    """The highest t with at least `share` of the converted scores >= t: the k-th highest, k = ceil(share * n)."""
    if not converted_scores:
        return None
    k = math.ceil(share * len(converted_scores))
    return sorted(converted_scores, reverse=True)[k - 1]


def rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def close(actual: float | None, expected: float | None) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    return abs(actual - expected) <= TOLERANCE


# The helpers themselves, on hand-made values.

def test_helpers_on_hand_worked_values():
    assert score_band(0) == "0-10" and score_band(9.999) == "0-10" and score_band(10) == "10-20"
    assert score_band(90) == "90-100" and score_band(100) == "90-100"
    # 3 leads: positions 0, 1, 2 -> deciles 1, 4, 7; the tie at 5 is split by lead id
    assert decile_labels([(5, "b"), (5, "a"), (1, "z")]) == {"z": "D01", "a": "D04", "b": "D07"}
    assert suggested_threshold([85, 65, 35, 35, 5], Fraction("0.75")) == 35  # keep 4 of 5
    assert suggested_threshold([85, 65, 35, 35, 5], Fraction("0.4")) == 65  # keep 2 of 5
    assert suggested_threshold([85, 65, 35, 35, 5], Fraction("1")) == 5
    # 0.28 x 25 = 7 exactly: the 7th highest, although 0.28 * 25 is 7.000000000000001 in floating point
    assert suggested_threshold(list(range(25, 0, -1)), Fraction("0.28")) == 19
    rows = [
        dict(opportunity_id="O1", lead_id=" L1 ", stage="won", is_won=True, amount=100.0,
             created_at=dt.datetime(2026, 1, 1), closed_at=None, _loaded_at=dt.datetime(2026, 1, 2)),
        dict(opportunity_id="O2", lead_id="L1", stage="won", is_won=None, amount=-5.0,
             created_at=dt.datetime(2026, 1, 1), closed_at=None, _loaded_at=dt.datetime(2026, 1, 2)),
        dict(opportunity_id=None, lead_id="L2", stage="won", is_won=True, amount=1.0,
             created_at=None, closed_at=None, _loaded_at=None),
        # O3 first lost, then (a later load) won
        dict(opportunity_id="O3", lead_id="L3", stage="lost", is_won=False, amount=7.0,
             created_at=None, closed_at=None, _loaded_at=dt.datetime(2026, 1, 1)),
        dict(opportunity_id="O3", lead_id="L3", stage="won", is_won=True, amount=7.0,
             created_at=None, closed_at=None, _loaded_at=dt.datetime(2026, 1, 3)),
    ]
    assert outcomes_from_raw(rows) == {"L1": Outcome(True, True, 100.0), "L3": Outcome(True, True, 7.0)}


# --------------------------------------------------------------------------------------------------------------
# Data from the session warehouse


@dataclass(frozen=True)
class Lead:
    model_id: str
    lead_id: str
    fit_score: float
    engagement_score: float
    lead_score: float
    fit_grade: str
    engagement_level: str
    matrix_cell: str
    is_mql: bool
    lead_source: str | None
    lead_created_at: dt.datetime | None
    outcome: Outcome


NO_OUTCOME = Outcome(False, False, 0.0)


@pytest.fixture(scope="module")
def population(warehouse) -> dict[str, list[Lead]]:
    """Scored, non-excluded leads per model with their outcome recomputed from raw.opportunities."""
    outcomes = outcomes_from_raw(query(warehouse.db_path, "select * from raw.opportunities"))
    rows = query(warehouse.db_path, """
        select model_id, lead_id, fit_score, engagement_score, lead_score, fit_grade, engagement_level,
               matrix_cell, is_mql, lead_source, lead_created_at
        from marts.lead_scores
        where not is_excluded""")
    by_model: dict[str, list[Lead]] = defaultdict(list)
    for row in rows:
        by_model[row["model_id"]].append(Lead(**row, outcome=outcomes.get(row["lead_id"], NO_OUTCOME)))
    assert by_model, "lead_scores is empty"
    converted = sum(lead.outcome.is_converted for leads in by_model.values() for lead in leads)
    won = sum(lead.outcome.is_won for leads in by_model.values() for lead in leads)
    assert 0 < won < converted < len(rows), "the generated data should have converted and won leads"
    return dict(by_model)


def mart(warehouse, name: str) -> list[dict]:
    return query(warehouse.db_path, f"select * from marts.{name}")


# --------------------------------------------------------------------------------------------------------------
# score_auc


def test_auc_equals_sklearn_for_each_score(warehouse, population):
    rows = {(r["model_id"], r["score_name"]): r for r in mart(warehouse, "score_auc")}
    assert set(rows) == {(m, s) for m in population for s in ("fit_score", "engagement_score", "lead_score")}
    for model_id, leads in population.items():
        converted = [lead.outcome.is_converted for lead in leads]
        won = [lead.outcome.is_won for lead in leads]
        for score_name in ("fit_score", "engagement_score", "lead_score"):
            scores = [getattr(lead, score_name) for lead in leads]
            row = rows[(model_id, score_name)]
            assert (row["leads"], row["converted_leads"], row["won_leads"]) == (len(leads), sum(converted), sum(won))
            assert abs(row["roc_auc"] - roc_auc_score(converted, scores)) <= TOLERANCE, score_name
            assert abs(row["roc_auc_won"] - roc_auc_score(won, scores)) <= TOLERANCE, score_name
    # the data has ties (many leads share a fit score), so the tie rule matters here
    fit_scores = [lead.fit_score for lead in population["default"]]
    assert len(set(fit_scores)) < len(fit_scores) / 2


# --------------------------------------------------------------------------------------------------------------
# score_calibration


def expected_calibration(leads: list[Lead]) -> dict[tuple[str, str], dict]:
    """(dimension, bucket) -> leads, converted, won, rates, lift, min and max score."""
    deciles = decile_labels([(lead.lead_score, lead.lead_id) for lead in leads])
    bucket_of = {
        "lead_score_band": lambda lead: score_band(lead.lead_score),
        "lead_score_decile": lambda lead: deciles[lead.lead_id],
        "fit_grade": lambda lead: lead.fit_grade,
        "engagement_level": lambda lead: lead.engagement_level,
        "matrix_cell": lambda lead: lead.matrix_cell,
    }
    base_rate = sum(lead.outcome.is_converted for lead in leads) / len(leads)
    groups: dict[tuple[str, str], list[Lead]] = defaultdict(list)
    for dimension, bucket in bucket_of.items():
        for lead in leads:
            groups[(dimension, bucket(lead))].append(lead)
    expected = {}
    for key, members in groups.items():
        n = len(members)
        converted = sum(m.outcome.is_converted for m in members)
        won = sum(m.outcome.is_won for m in members)
        expected[key] = dict(
            leads=n, converted_leads=converted, won_leads=won,
            conversion_rate=converted / n, win_rate=won / n, lift=(converted / n) / base_rate,
            min_lead_score=min(m.lead_score for m in members), max_lead_score=max(m.lead_score for m in members),
        )
    return expected


def test_calibration_buckets_equal_an_independent_computation(warehouse, population):
    rows = mart(warehouse, "score_calibration")
    for model_id, leads in population.items():
        actual = {(r["dimension"], r["bucket"]): r for r in rows if r["model_id"] == model_id}
        expected = expected_calibration(leads)
        non_empty = {key: row for key, row in actual.items() if row["leads"] > 0}
        assert set(non_empty) == set(expected)
        for key, want in expected.items():
            got = actual[key]
            for column in ("leads", "converted_leads", "won_leads"):
                assert got[column] == want[column], (key, column)
            for column in ("conversion_rate", "win_rate", "lift", "min_lead_score", "max_lead_score"):
                assert close(got[column], want[column]), (key, column, got[column], want[column])
        # empty bands, grades, levels and cells are listed with null rates; deciles only when they hold leads
        for key, got in actual.items():
            if got["leads"] == 0:
                assert key[0] != "lead_score_decile"
                assert got["conversion_rate"] is None and got["lift"] is None and got["min_lead_score"] is None
        # fixed axes and their order (1 = worst)
        fixed_axes = {
            "lead_score_band": BAND_LABELS,
            "fit_grade": GRADES_WORST_FIRST,
            "engagement_level": LEVELS_WORST_FIRST,
            "matrix_cell": CELLS_WORST_FIRST,
        }
        for dimension, labels in fixed_axes.items():
            got_order = sorted((r["bucket_order"], bucket) for (dim, bucket), r in actual.items() if dim == dimension)
            assert [bucket for _, bucket in got_order] == labels, dimension
            assert [order for order, _ in got_order] == list(range(1, len(labels) + 1)), dimension
        for (dimension, bucket), got in actual.items():
            if dimension == "lead_score_decile":
                assert got["bucket_order"] == int(bucket[1:])


# --------------------------------------------------------------------------------------------------------------
# mql_threshold_calibration


def read_seed(warehouse, name: str) -> list[dict[str, str]]:
    with (warehouse.seeds_dir / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_mql_thresholds_equal_an_independent_computation(warehouse, population):
    rows = {r["model_id"]: r for r in mart(warehouse, "mql_threshold_calibration")}
    shares = {r["model_id"].strip(): Fraction(r["target_converted_share"].strip())
              for r in read_seed(warehouse, "scoring_calibration_settings")}
    for model_id, leads in population.items():
        row = rows[model_id]
        configured = min(float(r["min_lead_score"]) for r in read_seed(warehouse, "scoring_lifecycle_rules")
                         if r["model_id"].strip() == model_id and r["stage"].strip().lower() == "mql"
                         and r["min_lead_score"].strip())
        converted_scores = [lead.lead_score for lead in leads if lead.outcome.is_converted]
        suggested = suggested_threshold(converted_scores, shares[model_id])
        assert row["configured_mql_threshold"] == configured
        assert close(row["target_converted_share"], float(shares[model_id]))
        assert row["suggested_mql_threshold"] == suggested
        assert row["lowest_converted_score"] == min(converted_scores)
        assert (row["scored_leads"], row["converted_leads"]) == (len(leads), len(converted_scores))
        assert row["current_mql_leads"] == sum(lead.is_mql for lead in leads)
        for label, threshold in (("configured", configured), ("suggested", suggested)):
            above = [lead for lead in leads if lead.lead_score >= threshold]
            converted_above = sum(lead.outcome.is_converted for lead in above)
            assert row[f"leads_at_{label}"] == len(above)
            assert close(row[f"converted_share_at_{label}"], converted_above / len(converted_scores))
            assert close(row[f"mql_rate_at_{label}"], len(above) / len(leads))
            assert close(row[f"conversion_rate_above_{label}"], rate(converted_above, len(above)))
        # the suggestion keeps the target share, and one step higher would not
        assert row["converted_share_at_suggested"] >= float(shares[model_id]) - TOLERANCE
        higher = [s for s in converted_scores if s > suggested]
        assert len(higher) < shares[model_id] * len(converted_scores)


# --------------------------------------------------------------------------------------------------------------
# channel_quality


def test_channel_quality_equals_an_independent_group_by(warehouse, population):
    rows = mart(warehouse, "channel_quality")
    actual = {(r["model_id"], r["lead_source"], r["created_month"]): r for r in rows}
    assert len(actual) == len(rows)
    groups: dict[tuple, list[Lead]] = defaultdict(list)
    for model_id, leads in population.items():
        for lead in leads:
            created = lead.lead_created_at
            month = dt.date(created.year, created.month, 1) if created is not None else None
            groups[(model_id, lead.lead_source or "unknown", month)].append(lead)
    assert set(actual) == set(groups)
    assert any(key[1] == "unknown" for key in groups), "the generated data has leads without a source"
    for key, members in groups.items():
        got, n = actual[key], len(members)
        mql = sum(m.is_mql for m in members)
        converted = sum(m.outcome.is_converted for m in members)
        won = sum(m.outcome.is_won for m in members)
        assert (got["leads"], got["mql_leads"], got["converted_leads"], got["won_leads"]) == (n, mql, converted, won)
        expected = dict(
            mean_fit_score=sum(m.fit_score for m in members) / n,
            mean_engagement_score=sum(m.engagement_score for m in members) / n,
            mean_lead_score=sum(m.lead_score for m in members) / n,
            mql_rate=mql / n, conversion_rate=converted / n, win_rate=won / n,
            won_amount=sum(m.outcome.won_amount for m in members),
        )
        for column, want in expected.items():
            # Means are rounded to 6 decimals in the mart, so a rebuild that sums in another order gives the
            # same figures; everything else is exact.
            tolerance = 5e-7 + TOLERANCE if column.startswith("mean_") else TOLERANCE * max(1.0, abs(want))
            assert abs(got[column] - want) <= tolerance, (key, column)


# --------------------------------------------------------------------------------------------------------------
# Bad configuration


@pytest.mark.slow
def test_bad_calibration_setting_fails_the_build_naming_file_row_and_fix(tmp_path):
    project = tmp_path / "project"
    copy_project(PROJECT_ROOT, project)
    seed = project / "seeds" / "scoring_calibration_settings.csv"
    with seed.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["model_id", "target_converted_share", "description"])
        writer.writerow(["default", "1.5", "a share above 1"])
        writer.writerow(["ghost", "0", "an unknown model and a share of 0"])
    proc = run_dbt(project, tmp_path / "wh.duckdb", "build", "--select", "+stg_rules__calibration_settings",
                   vars={"as_of": AS_OF}, target_path=project / "target", log_path=project / "logs")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, "the build should fail on a bad calibration setting"
    expected = [
        "Invalid scoring configuration in seeds/scoring_calibration_settings.csv (3 problem(s))",
        "seeds/scoring_calibration_settings.csv, row model_id = default: target_converted_share is '1.5', "
        "which is not in (0, 1]. Fix: put a share above 0 and at most 1",
        "seeds/scoring_calibration_settings.csv, row model_id = ghost: target_converted_share is '0', "
        "which is not in (0, 1]. Fix:",
        "seeds/scoring_calibration_settings.csv, row model_id = ghost: model_id is 'ghost', which is not a model "
        "in seeds/scoring_models.csv. Fix: use a model_id listed in seeds/scoring_models.csv",
    ]
    for fragment in expected:
        assert fragment in output, f"{fragment!r} not in the build output:\n{output[-3000:]}"
