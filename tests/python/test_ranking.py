"""Ranking metrics (lead_scoring/ranking.py) against independent computations: scikit-learn's ROC AUC, and
deciles, groups and segments counted by hand on small data whose answer is known by construction."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from lead_scoring import ranking


def test_roc_auc_agrees_with_scikit_learn_with_and_without_ties():
    rng = np.random.default_rng(7)
    labels = rng.random(500) < 0.2
    for scores in (rng.normal(size=500) + labels, np.round(rng.normal(size=500) + labels, 0)):
        assert ranking.roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert ranking.roc_auc([1, 2, 3, 4], [False, False, True, True]) == 1.0
    assert ranking.roc_auc([1, 1, 1, 1], [False, True, False, True]) == 0.5


def test_roc_auc_refuses_one_class_and_nan():
    with pytest.raises(ranking.RankingError):
        ranking.roc_auc([1, 2], [True, True])
    with pytest.raises(ranking.RankingError):
        ranking.roc_auc([1, float("nan")], [True, False])


def test_average_ranks_share_ties():
    assert ranking.average_ranks([10, 20, 10, 30]).tolist() == [1.5, 3.0, 1.5, 4.0]


def test_lift_by_decile_counts_each_decile_and_splits_ties_pro_rata():
    # 100 leads, scores 100..1; the 10 best all convert, nobody else: decile 1 captures everything
    scores = list(range(100, 0, -1))
    labels = [True] * 10 + [False] * 90
    deciles = ranking.lift_by_decile(scores, labels)
    assert [d.decile for d in deciles] == list(range(1, 11))
    assert all(d.leads == pytest.approx(10) for d in deciles)
    assert deciles[0].conversions == 10 and deciles[0].lift == pytest.approx(10.0)
    assert all(d.conversions == 0 for d in deciles[1:])
    assert [d.cumulative_capture for d in deciles] == pytest.approx([1.0] * 10)
    # every score tied: each decile gets a tenth of every lead, so every decile has the overall rate
    tied = ranking.lift_by_decile([5] * 20, [True] * 4 + [False] * 16)
    assert all(d.conversion_rate == pytest.approx(0.2) for d in tied)
    assert tied[4].cumulative_capture == pytest.approx(0.5)


def test_top_share_lift_ties_pro_rata():
    assert ranking.top_share_lift(list(range(20, 0, -1)), [True, True] + [False] * 18, 0.1) == pytest.approx(10.0)
    assert ranking.top_share_lift([1] * 10, [True] + [False] * 9, 0.5) == pytest.approx(1.0)


def test_conversion_by_group_keeps_the_order_and_empty_groups():
    rows = ranking.conversion_by_group(["A", "B", "A", None, "B", "B"], [True, False, True, False, True, False],
                                       order=["A", "B", "C", "D"])
    assert [r.group for r in rows] == ["A", "B", "C", "D", "(none)"]
    a, b, c = rows[0], rows[1], rows[2]
    assert (a.leads, a.conversions, a.conversion_rate) == (2, 2, 1.0)
    assert (b.leads, b.conversions) == (3, 1) and b.conversion_rate == pytest.approx(1 / 3)
    assert c.leads == 0 and c.conversion_rate is None
    assert a.share_of_conversions == pytest.approx(2 / 3) and b.share_of_leads == pytest.approx(0.5)


def test_is_monotone_skips_empty_groups():
    assert ranking.is_monotone([0.3, None, 0.2, 0.2, 0.1])
    assert not ranking.is_monotone([0.3, 0.1, 0.2])
    assert ranking.is_monotone([0.1, 0.2, None, 0.4], decreasing=False)


def test_segment_capture_and_rate_ratio():
    mask = [True, True, False, False, False, False]
    labels = [True, True, True, False, False, False]
    seg = ranking.segment(mask, labels)
    assert (seg.leads, seg.conversions) == (2, 2)
    assert seg.share_of_leads == pytest.approx(1 / 3) and seg.capture == pytest.approx(2 / 3)
    assert seg.rate_ratio == pytest.approx(1.0 / 0.25)
    bottom = [False, False, False, False, True, True]
    assert ranking.segment(mask, labels, compare_to=bottom).rate_ratio is None  # the bottom converts nobody
