"""Ranking metrics for lead scores: how well a score orders leads by their chance to convert.

Pure functions over arrays (a score per lead, a converted flag per lead, optionally a band per lead); no
warehouse, no dbt. Shared by `suggest-weights`, `suggest-rules` (discovery), `backtest` and `preview`, so every
report computes a figure the same way.

- :func:`roc_auc`: the chance that a converted lead outscores a non-converted one (ties count half).
- :func:`top_share_lift`: conversion rate of the top share of leads over the overall rate (ties pro rata).
- :func:`lift_by_decile`: leads, conversions, rate, lift and cumulative capture per score decile (decile 1 =
  highest scores; leads tied across a decile edge are split pro rata, so the figures do not depend on order).
- :func:`conversion_by_group`: leads, conversions, rate and shares per band, grade, level, cell or stage.
- :func:`segment`: share of leads, capture of conversions, rate and rate ratio of a segment (for example MQLs or
  grade A) against the rest or a bottom segment.
- :func:`is_monotone`: whether rates fall (or rise) along an ordered list, ignoring empty groups.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


class RankingError(ValueError):
    """A metric that cannot be computed on the data given (no converted lead, one class only, ...)."""


def _arrays(scores: Sequence[float], labels: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    s, y = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    if s.shape != y.shape:
        raise RankingError(f"scores and labels differ in length ({len(s)} and {len(y)})")
    if np.isnan(s).any():
        raise RankingError("scores hold NaN: score every lead (a missing score is not a low score)")
    return s, y


def average_ranks(values: Sequence[float]) -> np.ndarray:
    """1-based ranks, ties sharing their average rank."""
    v = np.asarray(values, dtype=float)
    order = np.argsort(v, kind="mergesort")
    sorted_values = v[order]
    # first index of each run of equal values, and the run's average rank
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(v)] - 1
    ranks = np.empty(len(v), dtype=float)
    run_ranks = (starts + ends) / 2.0 + 1.0
    ranks[order] = np.repeat(run_ranks, ends - starts + 1)
    return ranks


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """ROC AUC by the Mann-Whitney statistic: the chance that a converted lead outscores a non-converted one
    (ties count half)."""
    s, y = _arrays(scores, labels)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise RankingError("AUC needs converted and non-converted leads")
    ranks = average_ranks(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _top_weights(s: np.ndarray, m: float) -> np.ndarray:
    """Weight in [0, 1] of each lead in the top `m` leads by score: 1 above the cut-off, the tied leads at the
    cut-off share what is left pro rata."""
    n = len(s)
    w = np.zeros(n, dtype=float)
    if m <= 0:
        return w
    if m >= n:
        return np.ones(n, dtype=float)
    cutoff = np.sort(s)[::-1][max(0, math.ceil(m) - 1)]
    above, tied = s > cutoff, s == cutoff
    w[above] = 1.0
    w[tied] = (m - above.sum()) / tied.sum()
    return w


def top_share_lift(scores: Sequence[float], labels: Sequence[bool], share: float = 0.1) -> float:
    """Conversion rate of the top `share` of leads by score divided by the overall rate. Leads tied at the
    cut-off count pro rata (the expected rate of a random tie-break), so the figure does not depend on order."""
    s, y = _arrays(scores, labels)
    n = len(s)
    if n == 0 or not y.any():
        raise RankingError("lift needs at least one converted lead")
    m = share * n
    converted_top = float((_top_weights(s, m) * y).sum())
    return float((converted_top / m) / y.mean())


@dataclass(frozen=True)
class Decile:
    decile: int  # 1 = the highest scores
    leads: float  # pro rata: leads tied across a decile edge count in both, in proportion
    conversions: float
    conversion_rate: float
    lift: float  # rate / overall rate
    cumulative_capture: float  # share of all conversions in deciles 1..decile


def lift_by_decile(scores: Sequence[float], labels: Sequence[bool], bins: int = 10) -> list[Decile]:
    """Leads, conversions, rate, lift and cumulative capture per score decile (1 = top)."""
    s, y = _arrays(scores, labels)
    n = len(s)
    if n == 0 or not y.any():
        raise RankingError("lift by decile needs at least one converted lead")
    overall, total = y.mean(), y.sum()
    out, previous = [], np.zeros(n)
    for k in range(1, bins + 1):
        cumulative = _top_weights(s, n * k / bins)
        w = cumulative - previous
        previous = cumulative
        leads, conv = float(w.sum()), float((w * y).sum())
        rate = conv / leads if leads else 0.0
        out.append(Decile(k, leads, conv, rate, rate / overall, float((cumulative * y).sum() / total)))
    return out


@dataclass(frozen=True)
class GroupRate:
    group: str
    leads: int
    conversions: int
    conversion_rate: float | None  # None for an empty group
    share_of_leads: float
    share_of_conversions: float


def conversion_by_group(groups: Sequence[str | None], labels: Sequence[bool],
                        order: Sequence[str] | None = None) -> list[GroupRate]:
    """Leads, conversions, rate and shares per group (a band, grade, level, cell or stage). With `order`,
    every listed group appears in that order (empty ones with rate None), then any other group by name; a
    missing group is reported as '(none)'."""
    y = np.asarray(labels, dtype=bool)
    names = ["(none)" if g is None else str(g) for g in groups]
    if len(names) != len(y):
        raise RankingError(f"groups and labels differ in length ({len(names)} and {len(y)})")
    counts: dict[str, list[int]] = {}
    for name, label in zip(names, y):
        c = counts.setdefault(name, [0, 0])
        c[0] += 1
        c[1] += int(label)
    listed = list(order or [])
    keys = listed + sorted(k for k in counts if k not in set(listed))
    n, total = len(y), int(y.sum())
    out = []
    for key in keys:
        leads, conv = counts.get(key, [0, 0])
        out.append(GroupRate(key, leads, conv, conv / leads if leads else None,
                             leads / n if n else 0.0, conv / total if total else 0.0))
    return out


def is_monotone(rates: Sequence[float | None], decreasing: bool = True) -> bool:
    """True when the rates (None = empty group, skipped) never rise (decreasing) or never fall (increasing)."""
    seen = [r for r in rates if r is not None]
    pairs = zip(seen, seen[1:])
    return all(b <= a for a, b in pairs) if decreasing else all(b >= a for a, b in pairs)


@dataclass(frozen=True)
class Segment:
    leads: int
    share_of_leads: float
    conversions: int
    capture: float  # share of all conversions inside the segment
    conversion_rate: float | None
    rate_ratio: float | None  # segment rate / comparison rate (None when the comparison converts nobody)


def segment(in_segment: Sequence[bool], labels: Sequence[bool],
            compare_to: Sequence[bool] | None = None) -> Segment:
    """How a segment (for example the MQLs or grade A) converts: its share of leads, its capture of all
    conversions, its rate, and its rate over the rate of `compare_to` (default: every lead outside it)."""
    m, y = np.asarray(in_segment, dtype=bool), np.asarray(labels, dtype=bool)
    if m.shape != y.shape:
        raise RankingError("segment mask and labels differ in length")
    other = ~m if compare_to is None else np.asarray(compare_to, dtype=bool)
    n, total = len(y), int(y.sum())
    leads, conv = int(m.sum()), int(y[m].sum())
    rate = conv / leads if leads else None
    other_rate = y[other].mean() if other.any() else None
    ratio = rate / other_rate if rate is not None and other_rate else None
    return Segment(leads, leads / n if n else 0.0, conv, conv / total if total else 0.0, rate, ratio)
