"""Rule discovery: propose a whole rule set (rules, points, axis weights, bands, MQL threshold) from outcomes.

    lead-scoring suggest-rules --database warehouse/lead_scoring.duckdb --out warehouse/rule_suggestions \\
        [--model default] [--horizon-days 60] [--max-rules 25] [--mql-share 0.10-0.25] [--holdout-share 0.3]
        [--verify]

What it does, in order (each step is a small function below):
1. **Point-in-time data set.** The warehouse's scoring instant ``as_of`` is ``marts.lead_scores.scored_at`` (or
   ``--as-of``). The cut-off is ``T = as_of - horizon``. Population: the staged leads created at or before ``T``
   without an opportunity created at or before ``T``; label: an opportunity created in ``(T, as_of]``
   (``staging.stg_crm__opportunities``). Engagement features use only the events with ``occurred_at <= T``
   (``staging.stg_crm__events``; sales touches of ``ref_event_types`` are left out), aged against the date of
   ``T`` as dbt ages them. Fit features read ``intermediate.int_lead_attributes``, the lead's *current*
   attributes (at ``as_of``, not at ``T``: a form answer filled in after ``T`` leaks; docs/rule_discovery.md).
   Split by time: the newest ``holdout_share`` of leads by ``created_at`` are the hold-out
   (``weights.holdout_mask``); everything is chosen on the older training leads.
2. **Candidates**, each a row the project's rule language can express, with the feature value dbt computes:
   fit: every value of every attribute with ``min_support`` training leads (``equals``), ``is_missing``, and
   numeric attributes cut at quantiles into ``between`` ranges, adjacent ranges merged while their training
   conversion rates differ by less than one standard error (two-proportion z below 1); engagement: per event
   type, event type and channel,
   URL path (``%/segment%`` on ``page_url``), search term (``%term%`` on ``search_term``) and numeric event
   property range (``property_min``/``property_max``). An engagement candidate's feature is its *units*: the sum
   over the lead's events of the decay factor of their age, capped at ``cap`` units; dbt computes
   ``min(points * units, max_points)`` with ``max_points = points * cap``. The decay (exponential half-lives,
   windows, none) and the cap are chosen per candidate by the AUC of the feature on the newest third of the
   training leads. Candidates firing on 95% or more or 0.5% or less of the training leads are left out (with a
   warning in the report), and so are those whose training conversion does not differ from the other leads'
   (two-proportion z below 2).
3. **Sparse logistic regression**: L1 (``liblinear``), ``C`` chosen on that inner validation among the values
   giving at most ``max_rules`` rules; then the selected rules are refitted (light L2) on the whole training set.
   Engagement rules must have positive coefficients (an engagement score cannot go below 0: a negative rule is
   dropped and the rest refitted). Fit rules may be negative: the fit axis gets a constant *baseline*, two rules
   ``is_missing`` and ``is_present`` on one attribute with the same points (exactly one fires on every lead),
   equal to the most negative fit total possible (rules on one attribute are exclusive, so it is exact). Points:
   fit ``round(s_f * beta)``, ``s_f = 100 / (max - min fit logit)``; engagement ``round(s_e * beta)`` per unit,
   ``s_e = 100 / (largest training engagement logit)``; axis weights ``R_f / (R_f + R_e)`` and ``R_e / (...)``
   (``R`` the axis's logit range) so ``lead_score`` is an affine function of the fitted logit.
4. **Bands and MQL**: grade cut-offs on the training fit scores and level cut-offs on the engagement scores at
   target shares (A/1 top 20%, B/2 next 30%, C/3 next 30%, D/4 the rest), adjacent bands merged (the upper one
   keeps the leads, the lower one becomes an empty band just below it: the seed needs four bands) until
   conversion falls from A to D and from 1 to 4 on the training leads; the MQL threshold (lifecycle rule
   ``min_lead_score``) is the training lead score, within the MQL share range, that maximises capture minus
   share of leads.
5. **Ceiling**: on the same candidate features and split, an L2 logistic regression on every candidate (``C``
   chosen on the inner validation) and ``HistGradientBoostingClassifier`` (``random_state`` 0). Hold-out ROC AUC
   of: the current rules (dbt replays the current seeds at ``as_of = T`` in a scratch copy, ``+lead_scores``),
   the suggested points (Python, exactly as dbt would score them, and with ``--verify`` replayed by dbt), the
   logistic regression and the boosted model; lift by decile, conversion by grade and level, MQL segment.
6. **Writes** the seeds it changes (the model's rows replaced; every other row untouched, same format:
   ``weights.parse_seed``/``render_seed``), ``rule_suggestions.md`` and ``rule_suggestions.json``; never
   ``seeds/``. The folder overlays ``seeds/`` as is (``make preview SEEDS=<out>``).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from lead_scoring import ranking
from lead_scoring import scratch as scratch_mod
from lead_scoring.clock import format_as_of, parse_instant
from lead_scoring.weights import (
    PROJECT_ROOT, SEEDS_DIR, SeedFile, WeightsError, holdout_mask, read_seed, render_seed,
    round_half_away,
)

REPORT_MD = "rule_suggestions.md"
REPORT_JSON = "rule_suggestions.json"
FIT_SEED = "scoring_fit_rules.csv"
ENGAGEMENT_SEED = "scoring_engagement_rules.csv"
MODELS_SEED = "scoring_models.csv"
CAPS_SEED = "scoring_group_caps.csv"
BANDS_SEED = "scoring_score_bands.csv"
LIFECYCLE_SEED = "scoring_lifecycle_rules.csv"
SIGNALS_SEED = "scoring_signal_rules.csv"
CHANGED_SEEDS = (FIT_SEED, ENGAGEMENT_SEED, MODELS_SEED, CAPS_SEED, BANDS_SEED, LIFECYCLE_SEED, SIGNALS_SEED)

DEFAULT_MODEL = "default"
# 60 days: on the demo data (180 days of leads, conversions ramping up over the last months) a cut-off 60 days
# before as_of keeps ~60% of the leads as the population and leaves ~250 conversions in the window; 90 days
# halves the conversions, 30 days leaves too little time to convert.
DEFAULT_HORIZON_DAYS = 60
DEFAULT_MAX_RULES = 25
DEFAULT_MQL_SHARE = (0.10, 0.25)
DEFAULT_HOLDOUT_SHARE = 0.3
DEFAULT_MIN_SUPPORT = 30
RANDOM_STATE = 0
INNER_VALID_SHARE = 1 / 3  # newest third of the training leads chooses decays, caps and C
# The replays build seeds and models only: a bad seed row still stops the build (seed validation runs in the
# rule staging models); the data tests judge the production warehouse, not a scratch replay at T.
REPLAY_EXCLUDES = ("--exclude-resource-type", "test")  # unit tests are always left out (scratch.build_copy)

# Decays tried per engagement candidate: (decay_method, decay_days); and the caps in units.
DECAYS = (("exponential", 7), ("exponential", 14), ("exponential", 30), ("exponential", 60), ("exponential", 90),
          ("window", 14), ("window", 30), ("window", 90), ("none", None))
CAPS = (1, 3, 10)
NUMERIC_BINS = 5
MAX_VALUES_PER_ATTRIBUTE = 40
MAX_PATTERNS = 25  # URL path segments and search terms per kind (the most supported)
PROPERTY_BINS = 3
MERGE_Z = 1.0  # adjacent ranges closer than 1 standard error are merged (few conversions: a strict test merges all)
SCREEN_Z = 2.0  # a candidate whose training conversion differs from the other leads' by less is not fitted
REFIT_C_GRID = (0.03, 0.1, 0.3, 1.0)
C_GRID = tuple(float(c) for c in np.logspace(-3, 1, 13))
CEILING_C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
FIRE_WARN_HIGH, FIRE_WARN_LOW = 0.95, 0.005
BAND_SHARES = (0.20, 0.30, 0.30)  # top, second, third band; the fourth takes the rest
FIT_BANDS, LEVEL_BANDS = ("A", "B", "C", "D"), ("1", "2", "3", "4")
NUMBER_RE = re.compile(r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,2})?$")
PROPERTY_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class DiscoveryError(WeightsError):
    """A problem the analyst must fix (no as_of, no conversions in the window, unknown model, ...)."""


# --------------------------------------------------------------------------------------------------
# The project's semantics, in Python (docs/scoring_rules.md)
# --------------------------------------------------------------------------------------------------
def decay_factor(method: str, days: float | None, age: np.ndarray) -> np.ndarray:
    """The decay of a bucket of age `age` days, as int_engagement_rule_points computes it."""
    age = np.asarray(age, dtype=float)
    if method == "exponential":
        return np.power(0.5, age / days)
    if method == "linear":
        return np.maximum(0.0, 1.0 - age / days)
    if method == "window":
        return (age < days).astype(float)
    return np.ones_like(age)


def like_regex(pattern: str) -> re.Pattern:
    """SQL LIKE (no escape character) as a regex: `%` any run, `_` one character, whole text."""
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    return re.compile("^" + "".join(parts) + "$", re.DOTALL)


def to_number(text: str | None) -> float | None:
    """The fit rules' `to_number`: a plain decimal number, else None."""
    if text is None:
        return None
    t = str(text).strip()
    if not NUMBER_RE.match(t):
        return None
    return float(t)


def property_number(properties: str | None, name: str) -> float | None:
    """An event property as a number (JSON number or numeric text, within +-1e12), else None."""
    if not properties:
        return None
    try:
        obj = json.loads(properties)
    except ValueError:
        return None
    if not isinstance(obj, dict) or name not in obj:
        return None
    v = obj[name]
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        x = float(v)
    elif isinstance(v, str) and len(v) <= 40 and NUMBER_RE.match(v):
        x = float(v)
    else:
        return None
    return x if -1e12 <= x <= 1e12 and math.isfinite(x) else None


def nice_number(x: float) -> float:
    """A cut point rounded to 3 significant digits (readable in a seed)."""
    if x == 0 or not math.isfinite(x):
        return 0.0
    digits = 3 - int(math.floor(math.log10(abs(x)))) - 1
    return float(round(x, digits))


def format_number(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


# --------------------------------------------------------------------------------------------------
# Point-in-time data set
# --------------------------------------------------------------------------------------------------
@dataclass
class Events:
    lead_index: np.ndarray  # int, per event
    age_days: np.ndarray  # whole days from activity_date to the date of T
    event_type: list[str]
    channel: list[str | None]
    page_url: list[str | None]
    search_term: list[str | None]
    properties: list[str | None]


@dataclass
class PitData:
    model_id: str
    as_of: datetime
    cutoff: datetime
    lead_ids: list[str]
    created_at: list[datetime | None]
    converted: np.ndarray
    attributes: dict[str, list[str | None]]  # attribute -> value per lead (current values)
    events: Events
    excluded_event_types: list[str]


def _q(con, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def warehouse_as_of(con, model_id: str) -> datetime | None:
    """The instant the warehouse was scored at: marts.lead_scores.scored_at (one value), else None."""
    try:
        rows = _q(con, "select distinct scored_at from marts.lead_scores where model_id = ?", [model_id])
    except Exception:  # noqa: BLE001 - no marts yet
        return None
    if len(rows) != 1 or rows[0][0] is None:
        return None
    return parse_instant(rows[0][0])


def load_point_in_time(con, model_id: str, as_of: datetime, horizon_days: int) -> PitData:
    cutoff = as_of - timedelta(days=horizon_days)
    cutoff_s, as_of_s = format_as_of(cutoff), format_as_of(as_of)
    # known at T: a raw version created and updated by T (what a replay at T stages; docs/scoring_rules.md)
    leads = _q(con, "select lead_id, created_at from staging.stg_crm__leads as l "
                    "where created_at <= cast(? as timestamp) "
                    "and exists (select 1 from staging.stg_crm__lead_versions as v where v.lead_id = l.lead_id "
                    "and v.created_at <= cast(? as timestamp) and coalesce(v.updated_at, v.created_at) <= "
                    "cast(? as timestamp)) order by lead_id", [cutoff_s] * 3)
    first_opp = {r[0]: r[1] for r in _q(con, "select lead_id, min(created_at) from staging.stg_crm__opportunities "
                                             "where lead_id is not null and created_at is not null group by 1")}
    cutoff_naive = parse_instant(cutoff_s).replace(tzinfo=None)
    as_of_naive = parse_instant(as_of_s).replace(tzinfo=None)
    keep = [(lid, c) for lid, c in leads if not (lid in first_opp and first_opp[lid] <= cutoff_naive)]
    if len(keep) < 50:
        raise DiscoveryError(f"only {len(keep)} leads created by the cut-off {cutoff_s} without an opportunity: "
                             "use a shorter --horizon-days")
    lead_ids = [k[0] for k in keep]
    index = {lid: i for i, lid in enumerate(lead_ids)}
    converted = np.array([lid in first_opp and cutoff_naive < first_opp[lid] <= as_of_naive for lid in lead_ids])

    attributes: dict[str, list[str | None]] = {}
    for lead_id, attribute, value in _q(con, "select lead_id, attribute, attribute_value "
                                             "from intermediate.int_lead_attributes"):
        i = index.get(lead_id)
        if i is None:
            continue
        attributes.setdefault(attribute, [None] * len(lead_ids))[i] = value

    sales = sorted(r[0] for r in _q(con, "select event_type from staging.stg_rules__event_types "
                                         "where is_sales_touch"))
    rows = _q(con, "select lead_id, event_type, channel, page_url, search_term, properties, "
                   "date_diff('day', activity_date, cast(cast(? as timestamp) as date)) "
                   "from staging.stg_crm__events where occurred_at <= cast(? as timestamp) order by event_id",
              [cutoff_s, cutoff_s])
    rows = [r for r in rows if r[0] in index and r[1] not in set(sales)]
    events = Events(lead_index=np.array([index[r[0]] for r in rows], dtype=int),
                    age_days=np.array([r[6] for r in rows], dtype=float),
                    event_type=[r[1] for r in rows], channel=[r[2] for r in rows], page_url=[r[3] for r in rows],
                    search_term=[r[4] for r in rows], properties=[r[5] for r in rows])
    return PitData(model_id, as_of, cutoff, lead_ids, [k[1] for k in keep], converted, attributes, events, sales)


# --------------------------------------------------------------------------------------------------
# Candidates
# --------------------------------------------------------------------------------------------------
@dataclass
class Candidate:
    rule_id: str
    axis: str  # fit | engagement
    attribute: str  # fit: the attribute; engagement: the event type
    spec: dict[str, str]  # the seed columns that define the rule (operator/value/... or channel/pattern/...)
    description: str
    values: np.ndarray  # the feature per lead (0/1 fit; capped units engagement)
    decay_method: str | None = None
    decay_days: float | None = None
    cap_units: float | None = None
    rule_group: str = ""


def _slug(text: str, limit: int = 40) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")
    if not s:
        s = "x" + hashlib.md5(str(text).encode("utf-8")).hexdigest()[:8]  # stable across runs (no hash())
    return s[:limit]


def two_proportion_z(c1: int, n1: int, c2: int, n2: int) -> float:
    if n1 == 0 or n2 == 0:
        return 0.0
    p = (c1 + c2) / (n1 + n2)
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    return 0.0 if se == 0 else abs(c1 / n1 - c2 / n2) / se


def merge_ranges(edges: Sequence[float], numbers: np.ndarray, y: np.ndarray, z: float = MERGE_Z) -> list[float]:
    """Merge adjacent ranges [e_i, e_i+1) whose conversion rates do not differ (two-proportion z < `z`), the
    most alike pair first, until every adjacent pair differs. `edges` include -inf and +inf."""
    edges = list(edges)
    while len(edges) > 2:
        stats = []
        for lo, hi in zip(edges, edges[1:]):
            m = (numbers >= lo) & (numbers < hi)
            stats.append((int(y[m].sum()), int(m.sum())))
        zs = [two_proportion_z(*stats[i], *stats[i + 1]) for i in range(len(stats) - 1)]
        i = int(np.argmin(zs))
        if zs[i] >= z:
            break
        del edges[i + 1]
    return edges


def fit_candidates(data: PitData, train: np.ndarray, min_support: int) -> list[Candidate]:
    y = data.converted
    out: list[Candidate] = []
    n_train = int(train.sum())
    for attribute in sorted(data.attributes):
        raw = data.attributes[attribute]
        missing = np.array([v is None for v in raw])
        n_missing = int(missing[train].sum())
        if min_support <= n_missing <= n_train - min_support:
            out.append(Candidate(f"fit_{_slug(attribute)}_missing", "fit", attribute,
                                 {"operator": "is_missing"}, f"{attribute} is missing", missing.astype(float)))
        present = [v for v, t in zip(raw, train) if t and v is not None]
        if not present:
            continue
        numbers = np.array([to_number(v) if v is not None else None for v in raw], dtype=object)
        numeric_share = sum(to_number(v) is not None for v in present) / len(present)
        distinct_numbers = len({to_number(v) for v in present if to_number(v) is not None})
        if numeric_share >= 0.95 and distinct_numbers > NUMERIC_BINS * 2:
            x = np.array([np.nan if v is None else float(v) for v in numbers])
            xt = x[train & ~np.isnan(x)]
            qs = sorted({nice_number(q) for q in np.quantile(xt, np.linspace(0, 1, NUMERIC_BINS + 1)[1:-1])})
            edges = merge_ranges([-math.inf, *qs, math.inf], np.where(np.isnan(x), np.nan, x)[train],
                                 y[train]) if qs else [-math.inf, math.inf]
            if len(edges) <= 2:
                continue
            for lo, hi in zip(edges, edges[1:]):
                fired = (~np.isnan(x)) & (x >= lo) & (x < hi)
                if fired[train].sum() < min_support:
                    continue
                lo_s = "" if lo == -math.inf else format_number(lo)
                hi_s = "" if hi == math.inf else format_number(hi)
                out.append(Candidate(
                    f"fit_{_slug(attribute)}_{_slug(lo_s or 'min')}_{_slug(hi_s or 'max')}", "fit", attribute,
                    {"operator": "between", "min_value": lo_s, "max_value": hi_s},
                    f"{attribute} in [{lo_s or '-inf'}, {hi_s or 'inf'})", fired.astype(float)))
            continue
        lower = [None if v is None else v.strip().lower() for v in raw]
        counts: dict[str, int] = defaultdict(int)
        for v, t in zip(lower, train):
            if t and v is not None:
                counts[v] += 1
        supported = sorted((v for v, c in counts.items() if min_support <= c <= n_train - min_support
                            and "|" not in v and v.strip() == v and v),
                           key=lambda v: (-counts[v], v))[:MAX_VALUES_PER_ATTRIBUTE]
        if sum(counts[v] for v in supported) < 0.5 * len(present):
            continue  # mostly rare values (an identifier, a domain, free text): only missing vs present
        for v in supported:
            fired = np.array([w == v for w in lower], dtype=float)
            out.append(Candidate(f"fit_{_slug(attribute)}_{_slug(v, 30)}", "fit", attribute,
                                 {"operator": "equals", "value": v}, f"{attribute} = {v}", fired))
    return _unique_ids(out)


def _unique_ids(cands: list[Candidate]) -> list[Candidate]:
    seen: dict[str, int] = {}
    for c in cands:
        if c.rule_id in seen:
            seen[c.rule_id] += 1
            c.rule_id = f"{c.rule_id}_{seen[c.rule_id]}"
        else:
            seen[c.rule_id] = 1
    return cands


def url_segment(url: str | None) -> str | None:
    """The first path segment of a URL (`https://x.com/product/a` -> `product`)."""
    if not url:
        return None
    path = re.sub(r"^[a-z]+://[^/]*", "", url)
    parts = [p for p in path.split("/") if p]
    seg = parts[0] if parts else None
    if seg is None or not re.match(r"^[a-z0-9\-]+$", seg):
        return None
    return seg


def engagement_matches(data: PitData, train: np.ndarray, min_support: int
                       ) -> list[tuple[str, str, dict[str, str], str, np.ndarray, np.ndarray | None]]:
    """(rule_id, event_type, spec, description, event mask, None) per engagement candidate with support."""
    ev = data.events
    n_ev = len(ev.event_type)
    train_lead = train[ev.lead_index] if n_ev else np.zeros(0, dtype=bool)

    def support(mask: np.ndarray) -> int:
        return len(set(ev.lead_index[mask & train_lead].tolist()))

    out = []
    etype = np.array(ev.event_type, dtype=object)
    for et in sorted(set(ev.event_type)):
        m_et = etype == et
        if support(m_et) < min_support:
            continue
        out.append((f"eng_{_slug(et)}", et, {}, f"any {et}", m_et))
        channels = sorted({c for c, mm in zip(ev.channel, m_et) if mm and c})
        if len(channels) > 1:
            for ch in channels:
                m = m_et & np.array([c == ch for c in ev.channel])
                if support(m) >= min_support:
                    out.append((f"eng_{_slug(et)}_{_slug(ch)}", et, {"channel": ch}, f"{et} on {ch}", m))
        for field_name, values, kind in (("page_url", ev.page_url, "url"), ("search_term", ev.search_term, "search")):
            if not any(v for v, mm in zip(values, m_et) if mm):
                continue
            if kind == "url":
                keys = [url_segment(v) if mm else None for v, mm in zip(values, m_et)]
                make = lambda k: f"%/{k}%"  # noqa: E731
            else:
                keys = [v.strip() if (mm and v and "\\" not in v and "%" not in v and "_" not in v) else None
                        for v, mm in zip(values, m_et)]
                make = lambda k: f"%{k}%"  # noqa: E731
            counter: dict[str, set] = defaultdict(set)
            for k, li, t in zip(keys, ev.lead_index, train_lead):
                if k and t:
                    counter[k].add(int(li))
            top = sorted((k for k, s in counter.items() if len(s) >= min_support),
                         key=lambda k: (-len(counter[k]), k))[:MAX_PATTERNS]
            for k in top:
                pattern = make(k)
                rx = like_regex(pattern)
                m = m_et & np.array([v is not None and bool(rx.match(v)) for v in values])
                if support(m) >= min_support:
                    out.append((f"eng_{_slug(et)}_{kind}_{_slug(k, 24)}", et,
                                {"match_field": field_name, "pattern": pattern}, f"{et} with {field_name} like "
                                f"{pattern}", m))
        # numeric properties
        keys: dict[str, int] = defaultdict(int)
        for p, mm in zip(ev.properties, m_et):
            if mm and p and p.startswith("{"):
                try:
                    obj = json.loads(p)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    for k, v in obj.items():
                        if isinstance(v, (int, float)) and not isinstance(v, bool) and PROPERTY_NAME_RE.match(k):
                            keys[k] += 1
        for name in sorted(k for k, c in keys.items() if c >= min_support):
            vals = np.array([property_number(p, name) if mm else None for p, mm in zip(ev.properties, m_et)],
                            dtype=object)
            has = np.array([v is not None for v in vals])
            x = np.array([np.nan if v is None else v for v in vals], dtype=float)
            xt = x[has & train_lead]
            if len(xt) < min_support:
                continue
            qs = sorted({nice_number(q) for q in np.quantile(xt, np.linspace(0, 1, PROPERTY_BINS + 1)[1:-1])})
            edges = [-math.inf, *qs, math.inf]
            for lo, hi in zip(edges, edges[1:]):
                m = has & (x >= lo) & (x < hi)
                if support(m) < min_support:
                    continue
                lo_s = "" if lo == -math.inf else format_number(lo)
                hi_s = "" if hi == math.inf else format_number(hi)
                out.append((f"eng_{_slug(et)}_{_slug(name, 20)}_{_slug(lo_s or 'min')}_{_slug(hi_s or 'max')}", et,
                            {"property_name": name, "property_min": lo_s, "property_max": hi_s},
                            f"{et} with {name} in [{lo_s or '-inf'}, {hi_s or 'inf'})", m))
    return out


def units(events: Events, mask: np.ndarray, n_leads: int, method: str, days: float | None,
          cap: float | None) -> np.ndarray:
    """A rule's units per lead: the sum of the decay factors of its events' ages, capped at `cap`."""
    if not mask.any():
        return np.zeros(n_leads)
    f = decay_factor(method, days, events.age_days[mask])
    u = np.bincount(events.lead_index[mask], weights=f, minlength=n_leads)
    return np.minimum(u, cap) if cap is not None else u


def _auc_or_half(x: np.ndarray, y: np.ndarray) -> float:
    try:
        return ranking.roc_auc(x, y)
    except ranking.RankingError:
        return 0.5


def engagement_candidates(data: PitData, train: np.ndarray, inner_valid: np.ndarray,
                          min_support: int) -> list[Candidate]:
    """Engagement candidates, each with the decay and cap whose feature ranks the inner validation leads best
    (AUC, either direction)."""
    n = len(data.lead_ids)
    y = data.converted
    out = []
    for rule_id, et, spec, desc, mask in engagement_matches(data, train, min_support):
        best = None
        for method, days in DECAYS:
            for cap in CAPS:
                u = units(data.events, mask, n, method, days, cap)
                auc = _auc_or_half(u[inner_valid], y[inner_valid])
                score = abs(auc - 0.5)
                if best is None or score > best[0] + 1e-12:
                    best = (score, method, days, cap, u)
        _, method, days, cap, u = best
        out.append(Candidate(rule_id, "engagement", et, spec, desc, u, method, days, float(cap)))
    return _unique_ids(out)


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------
@dataclass
class Standardiser:
    means: np.ndarray
    sds: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray) -> Standardiser:
        sds = x.std(axis=0)
        return cls(x.mean(axis=0), np.where(sds > 0, sds, 1.0))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (x - self.means) / self.sds


def _logistic(c: float, penalty: str = "l2"):
    from sklearn.linear_model import LogisticRegression

    if penalty == "l1":
        return LogisticRegression(l1_ratio=1.0, C=c, solver="liblinear", max_iter=5000, random_state=RANDOM_STATE)
    return LogisticRegression(C=c, max_iter=5000, random_state=RANDOM_STATE)


@dataclass
class SparseFit:
    columns: list[int]
    coef: dict[int, float]  # per raw unit
    intercept: float
    c: float
    dropped_negative_engagement: list[int]


def choose_c_l1(x: np.ndarray, y: np.ndarray, inner_train: np.ndarray, inner_valid: np.ndarray,
                max_rules: int) -> float:
    std = Standardiser.of(x[inner_train])
    best = None
    for c in C_GRID:
        model = _logistic(c, "l1").fit(std(x[inner_train]), y[inner_train])
        nz = int((model.coef_[0] != 0).sum())
        if nz == 0 or nz > max_rules:
            continue
        auc = _auc_or_half(model.decision_function(std(x[inner_valid])), y[inner_valid])
        if best is None or auc > best[0] + 1e-9:
            best = (auc, c)
    return best[1] if best else C_GRID[0]


def choose_c_l2(x: np.ndarray, y: np.ndarray, inner_train: np.ndarray, inner_valid: np.ndarray,
                grid: Sequence[float]) -> float:
    std = Standardiser.of(x[inner_train])
    best = None
    for c in grid:
        m = _logistic(c).fit(std(x[inner_train]), y[inner_train])
        auc = _auc_or_half(m.decision_function(std(x[inner_valid])), y[inner_valid])
        if best is None or auc > best[0] + 1e-9:
            best = (auc, c)
    return best[1]


def screen(x: np.ndarray, y: np.ndarray, train: np.ndarray, z: float = SCREEN_Z) -> list[int]:
    """Columns whose training conversion when non-zero differs from the other leads' by `z` standard errors."""
    keep = []
    for j in range(x.shape[1]):
        fired = x[train, j] != 0
        yt = y[train]
        if two_proportion_z(int(yt[fired].sum()), int(fired.sum()), int(yt[~fired].sum()), int((~fired).sum())) >= z:
            keep.append(j)
    return keep


def fit_sparse(x: np.ndarray, y: np.ndarray, train: np.ndarray, inner_train: np.ndarray, inner_valid: np.ndarray,
               axes: Sequence[str], max_rules: int) -> SparseFit:
    """L1 selection (C by inner validation, at most `max_rules`), then an L2 refit of the selected columns on the
    training leads (C by inner validation); engagement columns with a negative coefficient are dropped and the
    rest refitted."""
    c = choose_c_l1(x, y, inner_train, inner_valid, max_rules)
    std = Standardiser.of(x[train])
    l1 = _logistic(c, "l1").fit(std(x[train]), y[train])
    coef = l1.coef_[0]
    cols = [j for j in np.argsort(-np.abs(coef)) if coef[j] != 0][:max_rules]
    cols = [int(j) for j in cols if not (axes[j] == "engagement" and coef[j] < 0)]
    dropped = []
    refit_c = choose_c_l2(x[:, cols], y, inner_train, inner_valid, REFIT_C_GRID) if cols else 1.0
    while True:
        if not cols:
            raise DiscoveryError("no candidate rule survived the sparse fit: too few conversions?")
        sub = x[train][:, cols]
        s = Standardiser.of(sub)
        model = _logistic(refit_c).fit(s(sub), y[train])
        raw = model.coef_[0] / s.sds
        negative = [(raw[i] * s.sds[i], j) for i, j in enumerate(cols) if axes[j] == "engagement" and raw[i] < 0]
        if not negative:
            intercept = float(model.intercept_[0] - np.sum(raw * s.means))
            return SparseFit(cols, {j: float(b) for j, b in zip(cols, raw)}, intercept, c, dropped)
        worst = min(negative)[1]
        cols.remove(worst)
        dropped.append(worst)


@dataclass
class Ceiling:
    logistic_c: float
    logistic_holdout: np.ndarray
    boosted_holdout: np.ndarray


def fit_ceiling(x: np.ndarray, y: np.ndarray, train: np.ndarray, hold: np.ndarray, inner_train: np.ndarray,
                inner_valid: np.ndarray) -> Ceiling:
    from sklearn.ensemble import HistGradientBoostingClassifier

    c = choose_c_l2(x, y, inner_train, inner_valid, CEILING_C_GRID)
    std = Standardiser.of(x[train])
    logistic = _logistic(c).fit(std(x[train]), y[train])
    boosted = HistGradientBoostingClassifier(random_state=RANDOM_STATE).fit(x[train], y[train])
    return Ceiling(c, logistic.decision_function(std(x[hold])), boosted.predict_proba(x[hold])[:, 1])


# --------------------------------------------------------------------------------------------------
# Points, weights, bands, MQL
# --------------------------------------------------------------------------------------------------
@dataclass
class PointsModel:
    fit_points: dict[int, int]  # candidate index -> points
    engagement_points: dict[int, int]  # candidate index -> points per unit
    baseline: int  # fit points every lead gets (the baseline rule pair)
    fit_weight: float
    engagement_weight: float
    fit_scale: float
    engagement_scale: float


def coefficients_to_points(cands: Sequence[Candidate], fit: SparseFit, x_train: np.ndarray) -> PointsModel:
    """Integer points per axis and axis weights so that the lead score is affine in the fitted logit (module
    docstring, step 3)."""
    fit_cols = [j for j in fit.columns if cands[j].axis == "fit"]
    eng_cols = [j for j in fit.columns if cands[j].axis == "engagement"]
    by_attr: dict[str, list[float]] = defaultdict(list)
    for j in fit_cols:
        by_attr[cands[j].attribute].append(fit.coef[j])
    lo = sum(min(0.0, min(v)) for v in by_attr.values())
    hi = sum(max(0.0, max(v)) for v in by_attr.values())
    r_f = hi - lo
    eng_logit = sum(fit.coef[j] * x_train[:, j] for j in eng_cols) if eng_cols else np.zeros(len(x_train))
    r_e = float(np.max(eng_logit)) if eng_cols else 0.0
    if r_f <= 0 and r_e <= 0:
        raise DiscoveryError("the fitted rules do not separate anything")
    s_f = 100.0 / r_f if r_f > 0 else 0.0
    s_e = 100.0 / r_e if r_e > 0 else 0.0
    fit_points = {j: round_half_away(s_f * fit.coef[j]) for j in fit_cols}
    eng_points = {j: round_half_away(s_e * fit.coef[j]) for j in eng_cols}
    fit_points = {j: p for j, p in fit_points.items() if p != 0}
    eng_points = {j: p for j, p in eng_points.items() if p > 0}
    baseline = round_half_away(-s_f * lo)
    fw = round(r_f / (r_f + r_e), 2)
    return PointsModel(fit_points, eng_points, baseline, fw, round(1.0 - fw, 2), s_f, s_e)


def python_scores(cands: Sequence[Candidate], pm: PointsModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """fit_score, engagement_score and lead_score as dbt computes them from the suggested seeds: points summed
    (engagement per unit, capped at points x cap), each axis bounded to 0-100 and rounded to 6 decimals."""
    n = len(cands[0].values) if cands else 0
    fit = np.full(n, float(pm.baseline))
    for j, p in pm.fit_points.items():
        fit = fit + p * cands[j].values
    eng = np.zeros(n)
    for j, p in pm.engagement_points.items():
        eng = eng + p * cands[j].values  # values are already capped units: min(p*u, p*cap) = p*min(u, cap)
    fit = np.round(np.clip(fit, 0, 100), 6)
    eng = np.round(np.clip(eng, 0, 100), 6)
    return fit, eng, pm.fit_weight * fit + pm.engagement_weight * eng


def band_of(scores: np.ndarray, cutoffs: Sequence[float], names: Sequence[str]) -> list[str]:
    """The band with the greatest min_score not above the score (cutoffs fall, the last is 0)."""
    out = []
    for s in scores:
        for name, c in zip(names, cutoffs):
            if s >= c - 1e-9:
                out.append(name)
                break
        else:
            out.append(names[-1])
    return out


def recut_bands(scores: np.ndarray, y: np.ndarray, names: Sequence[str], shares: Sequence[float] = BAND_SHARES,
                min_leads: int = 20, epsilon: float = 0.001) -> tuple[list[float], list[str]]:
    """Cut-offs (falling, the last 0) putting about `shares` of the leads in the top bands; adjacent bands whose
    conversion does not fall (or with fewer than `min_leads`) are merged: the upper band takes the leads, the
    lower one becomes empty just below it. Returns the cut-offs and notes on what was merged."""
    s = np.asarray(scores, dtype=float)
    cum = np.cumsum(shares)
    distinct = np.unique(s)
    # each cut-off is an observed score (the smallest at or above the quantile), so a band just below it can be empty
    raw = [float(distinct[np.searchsorted(distinct, np.quantile(s, 1 - c) - 1e-12)]) for c in cum]
    # boundaries are the distinct scores; a boundary at 0 or below means everything above it
    groups: list[float] = []  # lower bounds of the live bands, top first, ending with 0
    for c in raw:
        if c > 0 and (not groups or c < groups[-1]):
            groups.append(c)
    groups.append(0.0)
    notes = []

    def stats(bounds: list[float]) -> list[tuple[int, int]]:
        out, upper = [], math.inf
        for b in bounds:
            m = (s >= b - 1e-9) & (s < upper - 1e-9)
            out.append((int(m.sum()), int(y[m].sum())))
            upper = b
        return out

    while len(groups) > 1:
        st = stats(groups)
        bad = None
        for i in range(len(st) - 1):
            (n1, c1), (n2, c2) = st[i], st[i + 1]
            if n1 < min_leads or n2 < min_leads or c1 / max(n1, 1) <= c2 / max(n2, 1):
                bad = i
                break
        if bad is None:
            break
        notes.append(f"live bands {bad + 1} and {bad + 2} merged (training conversion did not fall, or one "
                     f"had fewer than {min_leads} leads)")
        del groups[bad]  # the lower band reaches up to the bound of the band above the pair: they are one
    # four cut-offs: an empty band goes just below a live band's bound (scores between b - epsilon and b: none
    # for integer fit scores; few if any for engagement scores)
    cutoffs = list(groups)
    while len(cutoffs) < len(names):
        for i in range(len(cutoffs) - 1):
            below = distinct[distinct < cutoffs[i] - 1e-9]
            gap = cutoffs[i] - (below.max() if len(below) else 0.0)
            step = min(epsilon, gap / 2)
            if step >= 1e-6 and cutoffs[i] - step > cutoffs[i + 1] + 1e-9:
                cutoffs.insert(i + 1, round(cutoffs[i] - step, 6))
                break
        else:  # no room below a live band (one live band left): empty bands at the very top of the scale
            top = 100.0 - epsilon * (len(names) - len(cutoffs) - 1)
            if top <= cutoffs[0]:
                raise DiscoveryError("the scores are too close to cut into bands")
            cutoffs.insert(0, top)
            notes.append(f"no separation left: empty band(s) placed at the top of the scale ({top:g})")
    return [round(c, 6) for c in cutoffs], notes


def choose_mql_threshold(lead_scores: np.ndarray, y: np.ndarray, share_range: tuple[float, float],
                         target_capture: float | None = None) -> float:
    """The training lead score whose MQL segment (score >= it) holds a share of leads within `share_range` and
    maximises capture of conversions minus share of leads; with `target_capture`, the highest such score (the
    smallest MQL share) whose segment captures at least that share of the conversions, else the lowest score in
    range (the most capture the range allows)."""
    s = np.asarray(lead_scores, dtype=float)
    total = max(int(y.sum()), 1)
    in_range = []  # (threshold, share, capture)
    for t in np.unique(np.round(s, 2)):
        m = s >= t - 1e-9
        share = m.mean()
        if share_range[0] <= share <= share_range[1]:
            in_range.append((float(t), float(share), y[m].sum() / total))
    if not in_range:  # no score gives a share in range (ties): the quantile of the upper bound
        return float(np.round(np.quantile(s, 1 - share_range[1]), 2))
    if target_capture is not None:
        reaching = [t for t, _, capture in in_range if capture >= target_capture - 1e-12]
        return max(reaching) if reaching else min(t for t, _, _ in in_range)
    return max(in_range, key=lambda r: (r[2] - r[1], -r[0]))[0]


def threshold_for_current_share(current_scores: np.ndarray, threshold: float, share_range: tuple[float, float]
                                ) -> float:
    """The MQL threshold closest to `threshold` at which the share of today's leads (`current_scores`, the
    suggested rules' lead scores at as_of) with a score at or above it lies in `share_range`; `threshold` itself
    when it already does (or when no observed score gets the share in range: ties)."""
    s = np.asarray(current_scores, dtype=float)
    if len(s) == 0:
        return threshold
    share = float((s >= threshold - 1e-9).mean())
    if share_range[0] <= share <= share_range[1]:
        return threshold
    in_range = [float(t) for t in np.unique(np.round(s, 2))
                if share_range[0] <= float((s >= t - 1e-9).mean()) <= share_range[1]]
    return min(in_range, key=lambda t: (abs(t - threshold), t)) if in_range else threshold


# --------------------------------------------------------------------------------------------------
# Seeds
# --------------------------------------------------------------------------------------------------
def _replace_model_rows(seed: SeedFile, model_id: str, new_rows: Sequence[Mapping[str, str]]) -> SeedFile:
    """`seed` with the model's rows replaced by `new_rows` (at the place of the first one, else at the end)."""
    col = seed.header.index("model_id")
    rendered = [tuple(str(r.get(h, "")) for h in seed.header) for r in new_rows]
    rows, placed = [], False
    for row in seed.rows:
        if row[col].strip() == model_id:
            if not placed:
                rows.extend(rendered)
                placed = True
            continue
        rows.append(tuple(row))
    if not placed:
        rows.extend(rendered)
    return SeedFile(seed.header, tuple(rows), seed.line_terminator, seed.trailing_newline)


def _group(cand: Candidate, event_categories: Mapping[str, str]) -> str:
    return _slug(cand.attribute, 30) if cand.axis == "fit" else event_categories.get(cand.attribute, "engagement")


def build_seed_texts(seeds: Mapping[str, SeedFile], model_id: str, cands: Sequence[Candidate], pm: PointsModel,
                     fit_cutoffs: Sequence[float], level_cutoffs: Sequence[float], mql_threshold: float,
                     baseline_attribute: str, event_categories: Mapping[str, str]) -> dict[str, str]:
    fit_rows = []
    if pm.baseline:
        for op in ("is_missing", "is_present"):
            fit_rows.append({"model_id": model_id, "rule_id": f"fit_baseline_{op.split('_')[1]}",
                             "rule_group": "baseline", "attribute": baseline_attribute, "operator": op,
                             "points": str(pm.baseline), "disqualifies": "false",
                             "description": "Baseline: every lead (exactly one of the pair fires) - offsets the "
                                            "negative rules so the fit score stays above 0"})
    for j, p in sorted(pm.fit_points.items(), key=lambda kv: -kv[1]):
        c = cands[j]
        fit_rows.append({"model_id": model_id, "rule_id": c.rule_id, "rule_group": _group(c, event_categories),
                         "attribute": c.attribute, "value": c.spec.get("value", ""),
                         "min_value": c.spec.get("min_value", ""), "max_value": c.spec.get("max_value", ""),
                         "operator": c.spec["operator"], "points": str(p), "disqualifies": "false",
                         "description": f"Discovered: {c.description}"})
    eng_rows = []
    for j, p in sorted(pm.engagement_points.items(), key=lambda kv: -kv[1]):
        c = cands[j]
        eng_rows.append({"model_id": model_id, "rule_id": c.rule_id, "rule_group": _group(c, event_categories),
                         "event_type": c.attribute, "channel": c.spec.get("channel", ""),
                         "match_field": c.spec.get("match_field", ""), "pattern": c.spec.get("pattern", ""),
                         "points": str(p), "decay_method": c.decay_method,
                         "decay_days": "" if c.decay_days is None else format_number(c.decay_days),
                         "max_points": format_number(p * c.cap_units),
                         "description": f"Discovered: {c.description}",
                         "property_name": c.spec.get("property_name", ""),
                         "property_min": c.spec.get("property_min", ""),
                         "property_max": c.spec.get("property_max", ""), "property_unit": ""})
    models = seeds[MODELS_SEED]
    model_rows = []
    for row in models.rows:
        d = dict(zip(models.header, row))
        if d["model_id"].strip() == model_id:
            d.update({"fit_weight": format_number(pm.fit_weight),
                      "engagement_weight": format_number(pm.engagement_weight),
                      "fit_max_positive_points": "", "fit_max_negative_points": "",
                      "engagement_max_positive_points": "", "engagement_max_negative_points": ""})
            model_rows.append(d)
    band_rows = ([{"model_id": model_id, "axis": "fit", "band": b, "min_score": format_number(c)}
                  for b, c in zip(FIT_BANDS, fit_cutoffs)]
                 + [{"model_id": model_id, "axis": "engagement", "band": b, "min_score": format_number(c)}
                    for b, c in zip(LEVEL_BANDS, level_cutoffs)])
    lifecycle = seeds[LIFECYCLE_SEED]
    life_rows = []
    for row in lifecycle.rows:
        d = dict(zip(lifecycle.header, row))
        if d["model_id"].strip() != model_id:
            continue
        conditions = [d.get(k, "").strip() for k in ("matrix_cells", "min_lead_score", "min_fit_score",
                                                      "min_engagement_score")]
        if d.get("stage", "").strip() == "mql":
            continue
        if d.get("requires_disqualifier", "").strip() or not any(conditions):
            life_rows.append(d)
    life_rows.append({"model_id": model_id, "priority": "30", "stage": "mql",
                      "min_lead_score": format_number(mql_threshold),
                      "description": f"Lead score of {format_number(mql_threshold)} or more is a marketing-qualified "
                                     "lead (suggest-rules)"})
    life_rows.sort(key=lambda d: float(d["priority"]))
    new = {
        FIT_SEED: _replace_model_rows(seeds[FIT_SEED], model_id, fit_rows),
        ENGAGEMENT_SEED: _replace_model_rows(seeds[ENGAGEMENT_SEED], model_id, eng_rows),
        MODELS_SEED: _replace_model_rows(models, model_id, model_rows),
        CAPS_SEED: _replace_model_rows(seeds[CAPS_SEED], model_id, []),
        BANDS_SEED: _replace_model_rows(seeds[BANDS_SEED], model_id, band_rows),
        LIFECYCLE_SEED: _replace_model_rows(lifecycle, model_id, life_rows),
        SIGNALS_SEED: _replace_model_rows(seeds[SIGNALS_SEED], model_id, []),
    }
    return {name: render_seed(seed) for name, seed in new.items()}


# --------------------------------------------------------------------------------------------------
# Replaying a rule set at T through dbt (scratch copy)
# --------------------------------------------------------------------------------------------------
def replay_scores(project_dir: Path, database: Path, seed_texts: Mapping[str, str], scratch: Path,
                  as_of: datetime, model_id: str) -> dict[str, tuple[float, float, float]]:
    """Build `+lead_scores` at `as_of` in a scratch copy of the project (with `seed_texts` overlaid on its seeds)
    and of the warehouse (lead_scoring.scratch); returns lead_id -> (fit_score, engagement_score, lead_score).
    Staging depends on as_of, so everything upstream of lead_scores is rebuilt (--full-refresh: incremental models
    too); data tests are left out (a replay only reads scores)."""
    import duckdb

    try:
        build = scratch_mod.build_copy(project_dir, database, scratch, format_as_of(as_of), overlay=seed_texts,
                                       selection=("+lead_scores",), extra_args=("--full-refresh", *REPLAY_EXCLUDES))
    except scratch_mod.ScratchError as exc:
        raise DiscoveryError(f"replay at {format_as_of(as_of)}: {exc}") from exc
    con = duckdb.connect(str(build.database), read_only=True)
    try:
        return {r[0]: (float(r[1]), float(r[2]), float(r[3])) for r in con.execute(
            "select lead_id, fit_score, engagement_score, lead_score from marts.lead_scores where model_id = ?",
            [model_id]).fetchall()}
    finally:
        con.close()


# --------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------
def evaluate(scores: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    deciles = ranking.lift_by_decile(scores, y)
    return {"auc": ranking.roc_auc(scores, y), "top_decile_lift": deciles[0].lift,
            "top_3_decile_capture": deciles[2].cumulative_capture,
            "lift_by_decile": [asdict(d) for d in deciles]}


def band_report(fit: np.ndarray, eng: np.ndarray, lead: np.ndarray, y: np.ndarray, fit_cutoffs: Sequence[float],
                level_cutoffs: Sequence[float], mql_threshold: float) -> dict[str, Any]:
    grades = band_of(fit, fit_cutoffs, FIT_BANDS)
    levels = band_of(eng, level_cutoffs, LEVEL_BANDS)
    by_grade = ranking.conversion_by_group(grades, y, FIT_BANDS)
    by_level = ranking.conversion_by_group(levels, y, LEVEL_BANDS)
    mql = lead >= mql_threshold - 1e-9
    seg = ranking.segment(mql, y)
    grade_a = ranking.segment(np.array([g == "A" for g in grades]), y,
                              compare_to=np.array([g == "D" for g in grades]))
    return {
        "by_grade": [asdict(g) for g in by_grade], "by_level": [asdict(g) for g in by_level],
        "grades_monotone": ranking.is_monotone([g.conversion_rate for g in by_grade]),
        "levels_monotone": ranking.is_monotone([g.conversion_rate for g in by_level]),
        "mql": asdict(seg), "grade_a_vs_d": asdict(grade_a),
    }


# --------------------------------------------------------------------------------------------------
# The whole discovery
# --------------------------------------------------------------------------------------------------
@dataclass
class RuleReport:
    rule_id: str
    axis: str
    definition: str
    points: int
    coefficient: float
    support: int  # training leads on which it fires
    fire_share: float
    conversion_when_fired: float | None
    decay: str


@dataclass
class Discovery:
    model_id: str
    database: str
    as_of: str
    cutoff: str
    horizon_days: int
    population: dict[str, Any]
    train: dict[str, Any]
    holdout: dict[str, Any]
    candidates: dict[str, int]
    l1_c: float
    ceiling_c: float
    fit_weight: float
    engagement_weight: float
    baseline_points: int
    fit_cutoffs: list[float]
    level_cutoffs: list[float]
    mql_threshold: float
    mql_share_range: list[float]
    rules: list[RuleReport]
    auc: dict[str, float | None]
    evaluations: dict[str, Any]
    bands_holdout: dict[str, Any]
    bands_train: dict[str, Any]
    band_notes: list[str]
    warnings: list[str]
    run_seconds: float = 0.0
    files: dict[str, str] = field(default_factory=dict)
    mql_today: dict[str, Any] = field(default_factory=dict)  # --verify: MQL share of today's leads (replay at as_of)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _resolve_out(out_dir: Path, seeds_dir: Path) -> Path:
    out = out_dir.resolve()
    for seeds in {seeds_dir.resolve(), SEEDS_DIR.resolve()}:
        if out == seeds or seeds in out.parents:
            raise DiscoveryError(f"refusing to write suggestions into {out}: the live rules under {seeds} are only "
                                 "changed by an analyst, by hand")
    return out


def parse_compare(text: str) -> tuple[str, Path]:
    """`LABEL=DIR` of --compare."""
    label, sep, folder = str(text).partition("=")
    if not sep or not re.fullmatch(r"[a-z][a-z0-9_]*", label) or not folder:
        raise argparse.ArgumentTypeError(f"give LABEL=DIR with a lower-case label, not {text!r}")
    if not Path(folder).is_dir():
        raise argparse.ArgumentTypeError(f"{folder} is not a folder")
    return label, Path(folder)


def parse_share_range(text: str) -> tuple[float, float]:
    parts = str(text).replace(" ", "").split("-")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"give a range like 0.10-0.25, not {text!r}")
    lo, hi = float(parts[0]), float(parts[1])
    if not 0 < lo < hi < 1:
        raise argparse.ArgumentTypeError(f"the MQL share range must satisfy 0 < low < high < 1, not {text!r}")
    return lo, hi


def inner_split(lead_ids: Sequence[str], created_at: Sequence[datetime | None], train: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """The training leads split by time again: the newest third validates decays, caps and C."""
    idx = np.flatnonzero(train)
    inner_hold = holdout_mask([lead_ids[i] for i in idx], [created_at[i] for i in idx], INNER_VALID_SHARE)
    inner_valid = np.zeros(len(lead_ids), dtype=bool)
    inner_valid[idx[inner_hold]] = True
    return train & ~inner_valid, inner_valid


def _replays(project_dir: Path, database: Path, seed_texts: Mapping[str, str], scratch_root: Path, data: PitData,
             model_id: str, hold_ids: list[str], y_hold: np.ndarray, lead_hold: np.ndarray, fit_hold: np.ndarray,
             eng_hold: np.ndarray, replay_current: bool, verify: bool, auc: dict, evaluations: dict,
             warnings: list[str], compare: Mapping[str, Mapping[str, str]] | None = None) -> None:
    """The dbt replays at T: the current seeds (their AUC), each rule set of `compare` (label -> seed texts
    overlaid on the live seeds; their AUC on the same hold-out) and, with `verify`, the suggested ones (their AUC
    and how many hold-out leads dbt scores differently from the Python computation, per axis)."""
    for label, texts in (compare or {}).items():
        other = replay_scores(project_dir, database, texts, scratch_root / f"compare_{_slug(label)}", data.cutoff,
                              model_id)
        kept = [i for i, lid in enumerate(hold_ids) if lid in other]
        scores = np.array([other[hold_ids[i]][2] for i in kept])
        auc[f"{label}_dbt"] = ranking.roc_auc(scores, y_hold[kept])
        evaluations[f"{label}_dbt"] = evaluate(scores, y_hold[kept])
    if replay_current:
        current = replay_scores(project_dir, database, {}, scratch_root / "current", data.cutoff, model_id)
        missing = [lid for lid in hold_ids if lid not in current]
        if missing:
            warnings.append(f"{len(missing)} hold-out leads have no current score at T: left out of its AUC")
        kept = [i for i, lid in enumerate(hold_ids) if lid in current]
        scores = np.array([current[hold_ids[i]][2] for i in kept])
        auc["current_rules_dbt"] = ranking.roc_auc(scores, y_hold[kept])
        evaluations["current_rules_dbt"] = evaluate(scores, y_hold[kept])
    if verify:
        replayed = replay_scores(project_dir, database, seed_texts, scratch_root / "suggested", data.cutoff,
                                 model_id)
        kept = [i for i, lid in enumerate(hold_ids) if lid in replayed]
        scores = np.array([replayed[hold_ids[i]][2] for i in kept])
        auc["suggested_points_dbt"] = ranking.roc_auc(scores, y_hold[kept])
        evaluations["suggested_points_dbt"] = evaluate(scores, y_hold[kept])
        python_hold = {lid: (f, e, ls) for lid, f, e, ls in zip(hold_ids, fit_hold, eng_hold, lead_hold)}
        differ = sum(abs(replayed[lid][2] - python_hold[lid][2]) > 1e-4 for lid in hold_ids if lid in replayed)
        evaluations["suggested_points_dbt"]["leads_scored_differently_from_python"] = int(differ)
        for axis, k in (("fit", 0), ("engagement", 1)):
            evaluations["suggested_points_dbt"][f"leads_with_another_{axis}_score"] = int(sum(
                abs(replayed[lid][k] - python_hold[lid][k]) > 1e-4 for lid in hold_ids if lid in replayed))
        if differ:
            warnings.append(f"dbt scores {differ} hold-out leads differently from the Python computation (lead "
                            "attributes as of T differ from the current ones used for fitting)")


def outcome_warnings(auc: Mapping[str, float | None], holdout_bands: Mapping[str, Any], training_conversions: int
                     ) -> list[str]:
    """What the hold-out says against adopting the suggestion: it ranks below the current rules, or its grades
    or levels do not fall in conversion."""
    out = []
    current = auc.get("current_rules_dbt")
    suggested = auc.get("suggested_points_dbt") if auc.get("suggested_points_dbt") is not None \
        else auc.get("suggested_points")
    if current is not None and suggested is not None and suggested < current - 0.005:
        out.append(f"the suggested rules rank below the current rules on the hold-out (AUC {suggested:.3f} against "
                   f"{current:.3f}): keep the current rules; {training_conversions} training conversions may be "
                   "too few to learn from (docs/rule_discovery.md, Figures)")
    for axis, key in (("grades", "grades_monotone"), ("levels", "levels_monotone")):
        if not holdout_bands.get(key, True):
            out.append(f"conversion does not fall monotonically across the suggested {axis} on the hold-out")
    return out


def _current_mql_share(project_dir: Path, database: Path, seed_texts: Mapping[str, str], scratch_root: Path,
                       data: PitData, model_id: str, threshold: float, share_range: tuple[float, float]
                       ) -> dict[str, Any]:
    """The suggested seeds replayed by dbt at as_of (today): the share of today's live leads that would be MQLs at
    `threshold` and, when it is outside `share_range`, the nearest threshold that brings it in range (the MQL
    share a user sets is a share of the leads scored in production, not of the training leads at T)."""
    today = replay_scores(project_dir, database, seed_texts, scratch_root / "suggested_today", data.as_of, model_id)
    scores = np.array([v[2] for v in today.values()])
    moved = threshold_for_current_share(scores, threshold, share_range)
    return {"leads": len(scores), "threshold": moved,
            "share_at_training_threshold": float((scores >= threshold - 1e-9).mean()) if len(scores) else None,
            "share": float((scores >= moved - 1e-9).mean()) if len(scores) else None}


def suggest_rules(database: Path | str, out_dir: Path | str, model_id: str = DEFAULT_MODEL,
                  horizon_days: int = DEFAULT_HORIZON_DAYS, max_rules: int = DEFAULT_MAX_RULES,
                  mql_share: tuple[float, float] = DEFAULT_MQL_SHARE, holdout_share: float = DEFAULT_HOLDOUT_SHARE,
                  min_support: int = DEFAULT_MIN_SUPPORT, as_of: str | None = None,
                  seeds_dir: Path | str = SEEDS_DIR, project_dir: Path | str = PROJECT_ROOT,
                  verify: bool = False, replay_current: bool = True,
                  scratch_dir: Path | str | None = None,
                  compare: Mapping[str, Path | str] | None = None,
                  mql_capture: float | None = None) -> Discovery:
    """Discover a rule set for `model_id` from the warehouse's outcomes and write it to `out_dir`. `compare`
    (label -> folder of seed CSVs, overlaid on the live seeds) adds other rule sets, replayed at T by dbt and
    measured on the same hold-out (for example the output of suggest-weights)."""
    import duckdb

    started = time.monotonic()
    database, seeds_dir, project_dir = Path(database).resolve(), Path(seeds_dir), Path(project_dir)
    out = _resolve_out(Path(out_dir), seeds_dir)
    if not database.exists():
        raise DiscoveryError(f"warehouse {database} does not exist: build it first (make build)")
    seeds = {name: read_seed(seeds_dir / name) for name in CHANGED_SEEDS}
    con = duckdb.connect(str(database), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        scored_at = warehouse_as_of(con, model_id)
        if as_of is None and scored_at is None:
            raise DiscoveryError("the warehouse has no single scoring instant in marts.lead_scores.scored_at for "
                                 f"model {model_id!r}: give --as-of")
        instant = parse_instant(as_of) if as_of else scored_at
        data = load_point_in_time(con, model_id, instant, horizon_days)
        categories = {r[0]: r[1] for r in _q(con, "select event_type, event_category "
                                                  "from staging.stg_rules__event_types")}
    finally:
        con.close()

    y = data.converted
    hold = holdout_mask(data.lead_ids, data.created_at, holdout_share)
    train = ~hold
    if y[train].sum() < 10 or y[hold].sum() < 5:
        raise DiscoveryError(f"too few conversions in the window ({int(y[train].sum())} training, "
                             f"{int(y[hold].sum())} hold-out): use a longer --horizon-days")
    inner_train, inner_valid = inner_split(data.lead_ids, data.created_at, train)

    cands = fit_candidates(data, train, min_support) + engagement_candidates(data, train, inner_valid, min_support)
    if not cands:
        raise DiscoveryError("no candidate rule has enough support: lower --min-support")
    warnings = []
    for c in cands:
        share = float((c.values[train] != 0).mean())
        if share >= FIRE_WARN_HIGH or share <= FIRE_WARN_LOW:
            warnings.append(f"candidate {c.rule_id} ({c.description}) fires on {share:.1%} of training leads: "
                            "left out")
    cands = [c for c in cands if FIRE_WARN_LOW < float((c.values[train] != 0).mean()) < FIRE_WARN_HIGH]
    n_generated = {"fit": sum(c.axis == "fit" for c in cands), "engagement": sum(c.axis == "engagement" for c in cands)}
    x_all = np.column_stack([c.values for c in cands])
    kept = screen(x_all, y, train)
    cands = [cands[j] for j in kept]
    if not cands:
        raise DiscoveryError("no candidate rule converts differently from the other leads")
    x = x_all[:, kept]
    axes = [c.axis for c in cands]

    sparse = fit_sparse(x, y, train, inner_train, inner_valid, axes, max_rules)
    pm = coefficients_to_points(cands, sparse, x[train])
    fit_s, eng_s, lead_s = python_scores(cands, pm)
    fit_cut, fit_notes = recut_bands(fit_s[train], y[train], FIT_BANDS, epsilon=0.5)  # integer fit scores
    level_cut, level_notes = recut_bands(eng_s[train], y[train], LEVEL_BANDS)
    mql_t = choose_mql_threshold(lead_s[train], y[train], mql_share, mql_capture)
    for j in sparse.dropped_negative_engagement:
        warnings.append(f"engagement candidate {cands[j].rule_id} had a negative coefficient: left out (an "
                        "engagement score cannot go below 0)")

    ceiling = fit_ceiling(x, y, train, hold, inner_train, inner_valid)
    sparse_logit = sparse.intercept + sum(sparse.coef[j] * x[:, j] for j in sparse.columns)
    y_hold = y[hold]
    auc: dict[str, float | None] = {
        "current_rules_dbt": None,
        "suggested_points": ranking.roc_auc(lead_s[hold], y_hold),
        "suggested_points_dbt": None,
        "sparse_logit": ranking.roc_auc(sparse_logit[hold], y_hold),
        "logistic": ranking.roc_auc(ceiling.logistic_holdout, y_hold),
        "boosted": ranking.roc_auc(ceiling.boosted_holdout, y_hold),
    }
    evaluations = {"suggested_points": evaluate(lead_s[hold], y_hold),
                   "logistic": evaluate(ceiling.logistic_holdout, y_hold),
                   "boosted": evaluate(ceiling.boosted_holdout, y_hold)}

    baseline_attribute = sorted(data.attributes)[0]
    seed_texts = build_seed_texts(seeds, model_id, cands, pm, fit_cut, level_cut, mql_t, baseline_attribute,
                                  categories)
    hold_ids = [lid for lid, h in zip(data.lead_ids, hold) if h]
    compare_texts = {}
    for label, folder in (compare or {}).items():
        try:
            compare_texts[label] = dict(scratch_mod.read_overlay(folder, project_dir))
        except scratch_mod.ScratchError as exc:
            raise DiscoveryError(f"--compare {label}={folder}: {exc}") from exc
        if not compare_texts[label]:
            raise DiscoveryError(f"--compare {label}={folder}: no seed CSV in that folder")
    mql_today: dict[str, Any] = {}
    if replay_current or verify or compare_texts:
        own_scratch = scratch_dir is None  # a temporary folder, removed afterwards; a given one is kept
        scratch_root = Path(scratch_dir) if scratch_dir else Path(tempfile.mkdtemp(prefix="rule_suggestions_"))
        try:
            _replays(project_dir, database, seed_texts, scratch_root, data, model_id, hold_ids, y_hold, lead_s[hold],
                     fit_s[hold], eng_s[hold], replay_current, verify, auc, evaluations, warnings,
                     compare_texts)
            if verify:
                mql_today = _current_mql_share(project_dir, database, seed_texts, scratch_root, data, model_id,
                                               mql_t, mql_share)
                if mql_today["threshold"] != mql_t:
                    warnings.append(
                        f"the MQL threshold {format_number(mql_t)} chosen on the training leads at T makes "
                        f"{mql_today['share_at_training_threshold']:.1%} of today's leads MQLs, outside "
                        f"{mql_share[0]:.0%}-{mql_share[1]:.0%}: moved to {format_number(mql_today['threshold'])} "
                        f"({mql_today['share']:.1%} of today's leads)")
                    mql_t = mql_today["threshold"]
                    seed_texts = build_seed_texts(seeds, model_id, cands, pm, fit_cut, level_cut, mql_t,
                                                  baseline_attribute, categories)
        finally:
            if own_scratch:
                shutil.rmtree(scratch_root, ignore_errors=True)

    warnings += outcome_warnings(auc, band_report(fit_s[hold], eng_s[hold], lead_s[hold], y_hold, fit_cut,
                                                  level_cut, mql_t), int(y[train].sum()))
    rules = []
    for j in sorted(pm.fit_points, key=lambda j: -pm.fit_points[j]) + sorted(
            pm.engagement_points, key=lambda j: -pm.engagement_points[j]):
        c = cands[j]
        fired = c.values[train] != 0
        definition = (" ".join([f"attribute={c.attribute}"] + [f"{k}={v}" for k, v in c.spec.items() if v])
                      if c.axis == "fit"
                      else " ".join([f"event_type={c.attribute}"] + [f"{k}={v}" for k, v in c.spec.items() if v]))
        rules.append(RuleReport(
            c.rule_id, c.axis, definition, pm.fit_points.get(j, pm.engagement_points.get(j, 0)),
            sparse.coef[j], int(fired.sum()), float(fired.mean()),
            float(y[train][fired].mean()) if fired.any() else None,
            "" if c.axis == "fit" else f"{c.decay_method} {format_number(c.decay_days) if c.decay_days else ''}"
                                        f"".strip() + f", cap {format_number(c.cap_units)} units"))

    report = Discovery(
        model_id=model_id, database=str(database), as_of=format_as_of(data.as_of), cutoff=format_as_of(data.cutoff),
        horizon_days=horizon_days,
        population={"leads": len(data.lead_ids), "converted": int(y.sum()),
                    "events": int(len(data.events.event_type)), "excluded_event_types": data.excluded_event_types},
        train={"leads": int(train.sum()), "converted": int(y[train].sum())},
        holdout={"leads": int(hold.sum()), "converted": int(y_hold.sum()),
                 "created_from": str(min((d for d, h in zip(data.created_at, hold) if h and d), default=None))},
        candidates={"fit": n_generated["fit"], "engagement": n_generated["engagement"],
                    "screened": len(cands), "selected": len(sparse.columns)},
        l1_c=sparse.c, ceiling_c=ceiling.logistic_c, fit_weight=pm.fit_weight,
        engagement_weight=pm.engagement_weight, baseline_points=pm.baseline, fit_cutoffs=fit_cut,
        level_cutoffs=level_cut, mql_threshold=mql_t, mql_share_range=list(mql_share), rules=rules, auc=auc,
        evaluations=evaluations,
        bands_holdout=band_report(fit_s[hold], eng_s[hold], lead_s[hold], y_hold, fit_cut, level_cut, mql_t),
        bands_train=band_report(fit_s[train], eng_s[train], lead_s[train], y[train], fit_cut, level_cut, mql_t),
        band_notes=[f"fit: {n}" for n in fit_notes] + [f"engagement: {n}" for n in level_notes],
        warnings=warnings, mql_today=mql_today,
    )
    out.mkdir(parents=True, exist_ok=True)
    for name, text in seed_texts.items():
        (out / name).write_text(text, encoding="utf-8", newline="")
        report.files[name] = str(out / name)
    report.run_seconds = round(time.monotonic() - started, 1)
    report.files[REPORT_JSON] = str(out / REPORT_JSON)
    report.files[REPORT_MD] = str(out / REPORT_MD)
    (out / REPORT_JSON).write_text(json.dumps(report.to_json(), indent=2, default=str) + "\n", encoding="utf-8")
    (out / REPORT_MD).write_text(render_markdown(report), encoding="utf-8")
    return report


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------
def _f(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def render_markdown(d: Discovery) -> str:
    a = d.auc
    lines = [
        f"# Rule suggestions for model `{d.model_id}`",
        "",
        f"Warehouse `{d.database}` scored at {d.as_of} (UTC). Cut-off T = {d.cutoff} (as_of - {d.horizon_days} "
        f"days). Population: {d.population['leads']} leads created by T and not converted by T; "
        f"{d.population['converted']} converted in (T, as_of]. Features at T only. Training: the "
        f"{d.train['leads']} older leads ({d.train['converted']} converted); hold-out: the newest "
        f"{d.holdout['leads']} ({d.holdout['converted']} converted, created from {d.holdout['created_from']}).",
        "",
        "The seed files beside this report replace the model's rows (other models untouched). Nothing was written "
        "to `seeds/`: preview them with `make preview SEEDS=<this folder>`, then copy them by hand.",
        "",
        "## Hold-out ranking, beside the ceiling",
        "",
        "| scores | ROC AUC | top-decile lift |",
        "|---|---|---|",
    ]
    ev = d.evaluations
    compared = [(key, f"`--compare {key[:-len('_dbt')]}` (dbt replay at T)") for key in a
                if key.endswith("_dbt") and key not in ("current_rules_dbt", "suggested_points_dbt")]
    for key, label in (("current_rules_dbt", "current rules (dbt replay of seeds/ at T)"), *compared,
                       ("suggested_points", "suggested points (Python, as dbt scores them)"),
                       ("suggested_points_dbt", "suggested points (dbt replay at T, `--verify`)"),
                       ("logistic", "ceiling: logistic regression, every candidate"),
                       ("boosted", "ceiling: HistGradientBoosting, every candidate")):
        lift = ev.get(key, {}).get("top_decile_lift")
        lines.append(f"| {label} | {_f(a.get(key))} | {_f(lift, 2)} |")
    lines += ["", f"Sparse logistic regression behind the points (before rounding): AUC {_f(a['sparse_logit'])}. "
                  f"L1 C = {d.l1_c:.4g}; ceiling C = {d.ceiling_c:g}. Candidates: {d.candidates['fit']} fit, "
                  f"{d.candidates['engagement']} engagement; {d.candidates['screened']} convert differently from "
                  "the other "
                  f"training leads (two-proportion z >= {SCREEN_Z:g}), {d.candidates['selected']} selected.", ""]
    hb = d.bands_holdout
    lines += [
        "## Axis weights, bands and MQL",
        "",
        f"fit_weight {d.fit_weight:g}, engagement_weight {d.engagement_weight:g} (so the lead score is proportional "
        f"to the fitted log-odds); baseline {d.baseline_points} fit points for every lead (offsets the negative "
        "rules). Axis caps blank, the model's group caps and signal rules removed (the points are the whole model).",
        "",
        f"Grade cut-offs (A, B, C, D): {', '.join(format_number(c) for c in d.fit_cutoffs)}; level cut-offs "
        f"(1-4): {', '.join(format_number(c) for c in d.level_cutoffs)}; MQL: lead score >= "
        f"{format_number(d.mql_threshold)} (share range {d.mql_share_range[0]:.0%}-{d.mql_share_range[1]:.0%}, "
        "chosen on the training leads)"
        + (f"; with these rules {d.mql_today['share']:.1%} of today's {d.mql_today['leads']:,} leads score at or above "
           "it (dbt replay at as_of)." if d.mql_today else "."),
        "",
    ]
    lines += [f"- {n}" for n in d.band_notes] + ([""] if d.band_notes else [])
    lines += ["| band | hold-out leads | conversion | share of conversions |", "|---|---|---|---|"]
    for g in hb["by_grade"] + hb["by_level"]:
        lines.append(f"| {g['group']} | {g['leads']} | {_pct(g['conversion_rate'])} | "
                     f"{_pct(g['share_of_conversions'])} |")
    m, ad = hb["mql"], hb["grade_a_vs_d"]
    lines += [
        "",
        f"Hold-out: grades monotone {hb['grades_monotone']}, levels monotone {hb['levels_monotone']}. MQL: "
        f"{_pct(m['share_of_leads'])} of leads, capturing {_pct(m['capture'])} of conversions, at "
        f"{_f(m['rate_ratio'], 1)}x the rate of the other leads. Grade A: {_pct(ad['share_of_leads'])} of leads, "
        f"{_pct(ad['capture'])} of conversions, {_f(ad['rate_ratio'], 1)}x grade D's rate.",
        "",
        "## Rules",
        "",
        "| axis | rule_id | definition | points | coefficient | support | fires on | conversion when fired | decay |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in d.rules:
        lines.append(f"| {r.axis} | {r.rule_id} | `{r.definition}` | {r.points} | {r.coefficient:.3f} | {r.support} | "
                     f"{_pct(r.fire_share)} | {_pct(r.conversion_when_fired)} | {r.decay} |")
    lines += ["", "Points: fit per fired rule; engagement per unit (one event today; older events count by the decay), "
                  "up to the cap. Support and conversion: training leads.", "", "## Warnings", ""]
    lines += [f"- {w}" for w in d.warnings] or ["- none"]
    lines += ["", f"Run time: {d.run_seconds:.0f} s.", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `lead-scoring suggest-rules` (and `python -m lead_scoring.discovery`)."""
    parser.add_argument("--database", required=True, help="the DuckDB warehouse a dbt build scored")
    parser.add_argument("--out", required=True, help="folder for the suggested seeds and the report")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="scoring model id (default: %(default)s)")
    parser.add_argument("--horizon-days", type=int, default=DEFAULT_HORIZON_DAYS,
                        help="cut-off T = as_of - horizon; conversions in (T, as_of] are the label "
                             "(default: %(default)s)")
    parser.add_argument("--max-rules", type=int, default=DEFAULT_MAX_RULES,
                        help="at most this many rules (default: %(default)s)")
    parser.add_argument("--mql-share", type=parse_share_range, default=DEFAULT_MQL_SHARE,
                        help="target share of MQL leads, low-high (default: 0.10-0.25)")
    parser.add_argument("--mql-capture", type=float, default=None,
                        help="MQL threshold: the smallest share in --mql-share whose training MQLs capture at least "
                             "this share of conversions (default: maximise capture minus share)")
    parser.add_argument("--holdout-share", type=float, default=DEFAULT_HOLDOUT_SHARE,
                        help="newest share of leads by creation time held out (default: %(default)s)")
    parser.add_argument("--min-support", type=int, default=DEFAULT_MIN_SUPPORT,
                        help="training leads a candidate must fire on (default: %(default)s)")
    parser.add_argument("--as-of", default=None, help="the warehouse's scoring instant, when it cannot be read")
    parser.add_argument("--seeds-dir", default=str(SEEDS_DIR), help="the live seeds (read only)")
    parser.add_argument("--project-dir", default=str(PROJECT_ROOT), help="the dbt project (for the replays)")
    parser.add_argument("--verify", action="store_true",
                        help="also replay the suggested seeds at T through dbt (a scratch copy)")
    parser.add_argument("--no-current", action="store_true",
                        help="skip the dbt replay of the current rules at T (faster; no current AUC)")
    parser.add_argument("--compare", action="append", default=[], metavar="LABEL=DIR", type=parse_compare,
                        help="another rule set to measure on the same hold-out: a folder of seed CSVs overlaid on "
                             "the live seeds, replayed at T (repeatable; e.g. weights=warehouse/suggestions)")
    parser.add_argument("--scratch", default=None,
                        help="scratch folder for the replays, kept (default: a temporary folder, removed afterwards)")


def run(args: argparse.Namespace) -> int:
    try:
        d = suggest_rules(args.database, args.out, model_id=args.model, horizon_days=args.horizon_days,
                          max_rules=args.max_rules, mql_share=args.mql_share, holdout_share=args.holdout_share,
                          min_support=args.min_support, as_of=args.as_of, seeds_dir=args.seeds_dir,
                          project_dir=args.project_dir, verify=args.verify, replay_current=not args.no_current,
                          scratch_dir=args.scratch, compare=dict(args.compare),
                          mql_capture=args.mql_capture)
    except WeightsError as exc:
        print(f"suggest-rules: {exc}", file=sys.stderr)
        return 1
    print(f"cut-off {d.cutoff}; hold-out: {d.holdout['leads']} leads, {d.holdout['converted']} converted")
    for key in ("current_rules_dbt", *(f"{label}_dbt" for label, _ in args.compare), "suggested_points",
                "suggested_points_dbt", "logistic", "boosted"):
        if d.auc.get(key) is not None:
            print(f"AUC {key:<22} {d.auc[key]:.3f}")
    m = d.bands_holdout["mql"]
    print(f"MQL {m['share_of_leads']:.1%} of leads, capture {m['capture']:.1%}; grades monotone "
          f"{d.bands_holdout['grades_monotone']}, levels monotone {d.bands_holdout['levels_monotone']}")
    print(f"{len(d.rules)} rules; wrote {', '.join(sorted(d.files.values()))} in {d.run_seconds:.0f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lead_scoring.discovery",
                                     description="Discover a rule set from outcomes.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
