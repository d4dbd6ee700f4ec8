"""The lead funnel (marts.lead_funnel) agrees with an independent Python computation from the raw tables.

Sales touches are read here from raw.events (not from the staging models): the first delivery of each event id,
known sales-touch types only, with an occurred_at no later than as_of, for a scored lead; properties parsed with
Python's json module. Opportunities come from raw.opportunities (latest version of each opportunity id). Cells,
channels, creation times and the MQL flag come from marts.lead_scores. The session warehouse has one score-history
run, so a lead that is an MQL now became one at or before that run (an unobserved moment, docs/sales_touches.md).
Counts must match exactly; rates and hours within 1e-9."""
from __future__ import annotations

import csv
import datetime as dt
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pytest

from conftest import query

TOLERANCE = 1e-9
SALES_TOUCH_TYPES = ("sales_call", "sales_email", "meeting_held", "status_change")


# --------------------------------------------------------------------------------------------------------------
# Independent computation: small pure functions


@dataclass(frozen=True)
class Touch:
    lead_id: str
    occurred_at: dt.datetime
    outcome: str  # accepted, returned or touch


@dataclass(frozen=True)
class Opportunity:
    lead_id: str
    created_at: dt.datetime | None
    closed_at: dt.datetime | None
    is_won: bool


@dataclass(frozen=True)
class Stages:
    mql_at: dt.datetime | None
    accepted_at: dt.datetime | None
    returned_at: dt.datetime | None
    opportunity_at: dt.datetime | None
    won_at: dt.datetime | None


def clean(value: object) -> str | None:
    """Trimmed text, empty as None."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_properties(text: str | None) -> dict[str, object]:
    """The JSON object in `text`, or {} when it is not one. DuckDB's JSON reader also accepts a trailing comma
    before the closing brace ('{"owner":"x",}'), so that one leniency is allowed here too."""
    if text is None:
        return {}
    for candidate in (text, re.sub(r",\s*}$", "}", text)):
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        return value if isinstance(value, dict) else {}
    return {}


def touch_outcome(event_type: str, status: str | None, outcomes: Mapping[tuple[str, str | None], str]) -> str:
    """The seed row for the exact status, else the row for any status, else a plain touch."""
    if status is not None and (event_type, status) in outcomes:
        return outcomes[(event_type, status)]
    return outcomes.get((event_type, None), "touch")


def first_deliveries(rows: Iterable[Mapping[str, object]]) -> list[Mapping[str, object]]:
    """Per event id the delivery loaded first (nulls last), then with the earliest occurred_at (nulls last)."""
    best: dict[str, tuple[tuple, Mapping[str, object]]] = {}
    for row in rows:
        event_id = clean(row["event_id"])
        if event_id is None:
            continue
        key = (row["_loaded_at"] is None, row["_loaded_at"] or dt.datetime.min,
               row["occurred_at"] is None, row["occurred_at"] or dt.datetime.min)
        if event_id not in best or key < best[event_id][0]:
            best[event_id] = (key, row)
    return [row for _, row in best.values()]


def sales_touches(rows: Iterable[Mapping[str, object]], lead_ids: set[str], as_of: dt.datetime,
                  outcomes: Mapping[tuple[str, str | None], str]) -> list[Touch]:
    touches = []
    for row in first_deliveries(rows):
        event_type = (clean(row["event_type"]) or "").lower()
        lead_id = clean(row["lead_id"])
        occurred_at = row["occurred_at"]
        if event_type not in SALES_TOUCH_TYPES or lead_id not in lead_ids or occurred_at is None or occurred_at > as_of:
            continue
        status = None
        if event_type == "status_change":
            raw_status = parse_properties(clean(row["properties"])).get("status")
            status = clean(raw_status).lower() if clean(raw_status) is not None else None
        touches.append(Touch(lead_id, occurred_at, touch_outcome(event_type, status, outcomes)))
    return touches


def latest_opportunities(rows: Iterable[Mapping[str, object]]) -> list[Opportunity]:
    """Of several versions of one opportunity id the latest loaded (then closed, then created) wins."""
    latest: dict[str, tuple[tuple, Mapping[str, object]]] = {}
    for row in rows:
        opportunity_id = clean(row["opportunity_id"])
        if opportunity_id is None:
            continue
        key = tuple((value is not None, value or dt.datetime.min)
                    for value in (row["_loaded_at"], row["closed_at"], row["created_at"]))
        if opportunity_id not in latest or key > latest[opportunity_id][0]:
            latest[opportunity_id] = (key, row)
    opportunities = []
    for _, row in latest.values():
        lead_id = clean(row["lead_id"])
        if lead_id is None:
            continue
        stage = (clean(row["stage"]) or "").lower()
        is_won = row["is_won"] if row["is_won"] is not None else stage == "won"
        opportunities.append(Opportunity(lead_id, row["created_at"], row["closed_at"], bool(is_won)))
    return opportunities


def earliest(values: Iterable[dt.datetime | None]) -> dt.datetime | None:
    present = [value for value in values if value is not None]
    return min(present) if present else None


def lead_stages(created_at: dt.datetime, mql_bound_at: dt.datetime | None, touches: Sequence[Touch],
                opportunities: Sequence[Opportunity]) -> Stages:
    """Stages of one lead whose MQL moment is not observed (at or before `mql_bound_at`, None: never an MQL)."""
    if mql_bound_at is None:
        return Stages(None, None, None, None, None)
    first_acceptance = earliest(t.occurred_at for t in touches if t.outcome == "accepted" and t.occurred_at >= created_at)
    mql_at = min(mql_bound_at, first_acceptance) if first_acceptance is not None else mql_bound_at
    mql_at = max(mql_at, created_at)
    accepted_at = earliest(t.occurred_at for t in touches if t.outcome == "accepted" and t.occurred_at >= mql_at)
    returned_at = earliest(t.occurred_at for t in touches if t.outcome == "returned" and t.occurred_at >= mql_at)
    if accepted_at is None:
        return Stages(mql_at, None, returned_at, None, None)
    after = [o for o in opportunities if o.created_at is not None and o.created_at >= accepted_at]
    opportunity_at = earliest(o.created_at for o in after)
    # a won deal counts as won at its close, or at its creation when the close date is missing or earlier
    won_at = earliest(o.closed_at if o.closed_at is not None and o.closed_at >= o.created_at else o.created_at
                      for o in after if o.is_won)
    return Stages(mql_at, accepted_at, returned_at, opportunity_at, won_at)


def percentile_cont(values: Sequence[float], fraction: float) -> float | None:
    """Continuous percentile with linear interpolation between the closest ranks (SQL percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def hours(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds() / 3600.0


def ratio(numerator: int, denominator: int) -> float | None:
    return float(Fraction(numerator, denominator)) if denominator else None


def funnel_row(members: Sequence[tuple[dt.datetime, Stages]]) -> dict[str, object]:
    """The figures of one funnel cell from its leads' (created_at, stages). No MQL moment is observed here, so the
    two MQL durations are null."""
    leads = len(members)
    mql = sum(1 for _, s in members if s.mql_at is not None)
    accepted = sum(1 for _, s in members if s.accepted_at is not None)
    returned = sum(1 for _, s in members if s.returned_at is not None)
    opportunity = sum(1 for _, s in members if s.opportunity_at is not None)
    won = sum(1 for _, s in members if s.won_at is not None)
    to_opportunity = [h for _, s in members if (h := hours(s.accepted_at, s.opportunity_at)) is not None]
    to_won = [h for _, s in members if (h := hours(s.opportunity_at, s.won_at)) is not None]
    return {
        "leads": leads, "mql_leads": mql, "accepted_leads": accepted, "returned_leads": returned,
        "opportunity_leads": opportunity, "won_leads": won,
        "lead_to_mql_rate": ratio(mql, leads), "mql_to_accepted_rate": ratio(accepted, mql),
        "accepted_to_opportunity_rate": ratio(opportunity, accepted), "opportunity_to_won_rate": ratio(won, opportunity),
        "lead_to_won_rate": ratio(won, leads),
        "median_hours_lead_to_mql": None, "p90_hours_lead_to_mql": None,
        "median_hours_mql_to_accepted": None, "p90_hours_mql_to_accepted": None,
        "median_hours_accepted_to_opportunity": percentile_cont(to_opportunity, 0.5),
        "p90_hours_accepted_to_opportunity": percentile_cont(to_opportunity, 0.9),
        "median_hours_opportunity_to_won": percentile_cont(to_won, 0.5),
        "p90_hours_opportunity_to_won": percentile_cont(to_won, 0.9),
    }


def read_outcomes(seeds_dir: Path) -> dict[tuple[str, str | None], str]:
    with open(seeds_dir / "ref_sales_touch_outcomes.csv", newline="", encoding="utf-8") as handle:
        return {((clean(r["event_type"]) or "").lower(), (clean(r["status"]) or "").lower() or None):
                (clean(r["funnel_outcome"]) or "").lower() for r in csv.DictReader(handle)}


# --------------------------------------------------------------------------------------------------------------
# The pure functions, on hand-worked values


def test_percentile_cont_interpolates_like_sql():
    assert percentile_cont([4.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile_cont([1.0, 2.0, 4.0], 0.9) == pytest.approx(3.6)  # position 1.8: 2 + 0.8 x (4 - 2)
    assert percentile_cont([7.0], 0.9) == 7.0
    assert percentile_cont([], 0.5) is None


def test_parse_properties_and_outcomes():
    outcomes = {("status_change", "working"): "accepted", ("meeting_held", None): "accepted"}
    assert parse_properties('{"status":"working","owner":"a"}') == {"status": "working", "owner": "a"}
    assert parse_properties('{"owner":"dan.lee",}') == {"owner": "dan.lee"}
    assert parse_properties("utm_source=google&utm_medium=cpc") == {}
    assert parse_properties('{"utm_source":"google","duration_seconds":') == {}
    assert touch_outcome("status_change", "working", outcomes) == "accepted"
    assert touch_outcome("status_change", None, outcomes) == "touch"
    assert touch_outcome("meeting_held", None, outcomes) == "accepted"


def test_lead_stages_keep_order():
    created = dt.datetime(2026, 8, 1)
    touches = [Touch("L", dt.datetime(2026, 7, 1), "accepted"), Touch("L", dt.datetime(2026, 9, 1), "accepted"),
               Touch("L", dt.datetime(2026, 9, 5), "returned")]
    opportunities = [Opportunity("L", dt.datetime(2026, 8, 15), None, False),
                     Opportunity("L", dt.datetime(2026, 9, 10), dt.datetime(2026, 10, 1), True)]
    stages = lead_stages(created, dt.datetime(2026, 11, 1), touches, opportunities)
    assert stages == Stages(dt.datetime(2026, 9, 1), dt.datetime(2026, 9, 1), dt.datetime(2026, 9, 5),
                            dt.datetime(2026, 9, 10), dt.datetime(2026, 10, 1))
    assert lead_stages(created, None, touches, opportunities) == Stages(None, None, None, None, None)
    # won without a close date (or closed before it was created): won at its creation, as int_lead_outcomes says
    undated = [Opportunity("L", dt.datetime(2026, 9, 20), None, True),
               Opportunity("L", dt.datetime(2026, 9, 25), dt.datetime(2026, 9, 1), True)]
    assert lead_stages(created, dt.datetime(2026, 11, 1), touches, undated).won_at == dt.datetime(2026, 9, 20)


# --------------------------------------------------------------------------------------------------------------
# The mart against the independent computation


def expected_funnel(db_path: Path, seeds_dir: Path, as_of: dt.datetime) -> dict[tuple, dict[str, object]]:
    scores = query(db_path, """
        select model_id, lead_id, lead_source, matrix_cell, lead_created_at, is_mql, scored_at
        from marts.lead_scores where not is_excluded""")
    events = query(db_path, "select event_id, lead_id, event_type, occurred_at, properties, _loaded_at from raw.events")
    opportunity_rows = query(db_path, "select * from raw.opportunities")
    touches_by_lead: dict[str, list[Touch]] = defaultdict(list)
    for touch in sales_touches(events, {row["lead_id"] for row in scores}, as_of, read_outcomes(seeds_dir)):
        touches_by_lead[touch.lead_id].append(touch)
    opportunities_by_lead: dict[str, list[Opportunity]] = defaultdict(list)
    for opportunity in latest_opportunities(opportunity_rows):
        opportunities_by_lead[opportunity.lead_id].append(opportunity)
    cells: dict[tuple, list[tuple[dt.datetime, Stages]]] = defaultdict(list)
    for row in scores:
        created = row["lead_created_at"]
        stages = lead_stages(created, row["scored_at"] if row["is_mql"] else None,
                             touches_by_lead[row["lead_id"]], opportunities_by_lead[row["lead_id"]])
        key = (row["model_id"], dt.date(created.year, created.month, 1), row["lead_source"] or "unknown",
               row["matrix_cell"])
        cells[key].append((created, stages))
    return {key: funnel_row(members) for key, members in cells.items()}


@pytest.fixture(scope="module")
def funnel(warehouse):
    actual = {(r["model_id"], r["created_month"], r["lead_source"], r["matrix_cell"]): r
              for r in query(warehouse.db_path, "select * from marts.lead_funnel")}
    expected = expected_funnel(warehouse.db_path, warehouse.seeds_dir, dt.datetime.fromisoformat(warehouse.as_of))
    return actual, expected


def test_the_session_warehouse_has_one_history_run(warehouse):
    # The expectation below treats every current MQL as "MQL at or before the first run": true with one run.
    runs = query(warehouse.db_path, "select count(distinct valid_from) as runs from marts.lead_score_snapshots")
    assert runs[0]["runs"] == 1


def test_funnel_cells_and_counts_match(funnel):
    actual, expected = funnel
    assert set(actual) == set(expected)
    counts = ("leads", "mql_leads", "accepted_leads", "returned_leads", "opportunity_leads", "won_leads")
    mismatches = [(key, c, actual[key][c], expected[key][c]) for key in expected for c in counts
                  if actual[key][c] != expected[key][c]]
    assert mismatches == []
    totals = {c: sum(row[c] for row in expected.values()) for c in counts}
    # the data reach every stage, so the comparison covers each of them
    assert totals["accepted_leads"] > 0 and totals["opportunity_leads"] > 0 and totals["won_leads"] > 0, totals


def test_funnel_rates_and_durations_match(funnel):
    actual, expected = funnel
    figures = [name for name in next(iter(expected.values())) if name.endswith("_rate") or "_hours_" in name]
    mismatches = []
    for key, row in expected.items():
        for name in figures:
            want, got = row[name], actual[key][name]
            if (want is None) != (got is None) or (want is not None and abs(float(got) - want) > TOLERANCE):
                mismatches.append((key, name, got, want))
    assert mismatches == []
    assert any(row["median_hours_accepted_to_opportunity"] is not None for row in expected.values())
