"""Property-based tests (hypothesis) of the scoring pipeline, issue 6 (docs/reliability.md, "Properties").

Hypothesis generates a whole small raw data set per example (leads with attributes drawn from the live
dictionary seeds, event streams of the seeded event types within 180 days before as_of, plus garbage rows),
and every variant of it is scored by a real dbt run of the whole project. A dbt run costs tens of seconds, so
one example is one data set, never one lead, and builds are shared:

- the *base* build of a data set (models, then the data tests of the scoring marts and their staging) is
  cached by the content of its raw rows, and every property test draws the same examples (same strategy, same
  fixed seed), so they all reuse it;
- the base data set holds two *universes* of leads: A, and B = a copy of A (ids prefixed, account domains
  renamed, so no account spans both) plus, for a random subset of accounts or account-less leads, one extra
  positive-points event per chosen lead, and for another subset one extra negative-points event. Leads only
  interact through accounts, so A and B are scored side by side in one build (monotonicity);
- the order variant inserts the same rows shuffled, with `_loaded_at` ties, into a fresh warehouse;
- the second run re-runs the project on a copy of the base warehouse;
- the incremental variant scores a fresh warehouse at T1 and then at T2 (the history models append), and is
  compared with the base build (a `--full-refresh` build at T2).

Properties (each states its exceptions; see docs/scoring_rules.md for why they are the only ones):
(a) every score of lead_scores and account_scores is within 0-100, grades and levels come from the bands seed;
(b) an extra event matching only positive-points rules never lowers the lead's engagement score (unless it
    completes a burst: the extra events are placed in a minute where the lead has fewer than threshold - 1
    events), an extra event matching only negative-points rules never raises it; colleagues of a lead that got
    a positive event can only gain (the account rule), colleagues in accounts that only got negative events
    and untouched leads keep their scores exactly; account engagement follows the same directions;
(c) the order in which raw rows arrive (and how `_loaded_at` ties fall) changes no mart;
(d) running twice gives identical marts;
(e) the current history rows after runs at T1 then T2 equal those of a full-refresh build at T2.

CI settings (hypothesis profile "quick", registered in conftest.py): few examples (the env var
LEAD_SCORING_PROPERTY_EXAMPLES raises them), a fixed seed, no example database, no shrinking (one shrink step is
a dbt run); set LEAD_SCORING_PROPERTY_SHRINK=1 to shrink locally. Profile "deep" (`make test-deep`,
LEAD_SCORING_HYPOTHESIS_PROFILE=deep): LEAD_SCORING_PROPERTY_DEEP_EXAMPLES examples for every property, the
slow ones too, with shrinking on.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import random
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from conftest import HYPOTHESIS_PROFILE, PROJECT_ROOT, SLOW_EXAMPLES_QUICK, assert_dbt_ok, query, run_dbt
from lead_scoring import datagen

pytestmark = pytest.mark.filterwarnings(r"error::DeprecationWarning:orchestration(\.|$)")

SEEDS = PROJECT_ROOT / "seeds"
AS_OF = "2026-11-01 00:00:00"  # T2: the base build
T1 = "2026-10-18 00:00:00"  # the earlier run of the incremental variant
AS_OF_DT = dt.datetime(2026, 11, 1)
WINDOW_SECONDS = 180 * 86400
# The active hypothesis profile (conftest.py) sets the examples: "quick" few, the slow properties fewer still;
# "deep" the same number for every property.
EXAMPLES = settings.default.max_examples
SLOW_EXAMPLES = SLOW_EXAMPLES_QUICK if HYPOTHESIS_PROFILE == "quick" else EXAMPLES
SEED = 20261101
HISTORY = ("lead_score_snapshots", "lead_rule_points_snapshots", "scoring_rule_config_snapshots")
# Marts compared whole. Columns that are run metadata and may differ between two runs of the same data: none
# (scored_at and valid_from are the as_of clock, not the wall clock).
RUN_METADATA_COLUMNS: frozenset[str] = frozenset()


def _settings(examples: int):
    """The active profile's settings with `examples` examples."""
    return settings(settings.default, max_examples=examples)


# --------------------------------------------------------------------------------------------------
# The live seeds: strategies draw from them, so the tests follow rule and dictionary edits
# --------------------------------------------------------------------------------------------------
def read_seed(name: str) -> list[dict[str, str]]:
    with (SEEDS / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def like_example(pattern: str) -> str:
    """A text that the SQL LIKE `pattern` matches: each % becomes nothing and each _ an 'x'."""
    return pattern.replace("%", "").replace("_", "x")


def rule_points_for(event_type: str, channel: str, rules: Sequence[Mapping[str, str]]) -> list[float]:
    """Points of every engagement rule an event of `event_type` and `channel` with no page URL and no search
    term matches (a rule with a match_field needs that field to be present)."""
    return [float(r["points"]) for r in rules
            if r["event_type"].strip().lower() == event_type
            and (not r["channel"].strip() or r["channel"].strip().lower() == channel)
            and not r["match_field"].strip()]


@dataclass(frozen=True)
class Vocab:
    industries: tuple[str, ...]
    titles: tuple[str, ...]
    countries: tuple[str, ...]
    personal_domains: tuple[str, ...]
    competitor_domains: tuple[str, ...]
    employee_counts: tuple[str, ...]
    revenues: tuple[float, ...]
    bant: tuple[str, ...]
    event_types: tuple[str, ...]
    page_urls: tuple[str, ...]
    search_terms: tuple[str, ...]
    positive_types: tuple[str, ...]  # match only positive rules when URL and search term are null
    negative_types: tuple[str, ...]  # match only negative rules likewise
    burst_threshold: int | None
    fit_bands: frozenset[str]
    engagement_levels: frozenset[str]


EXTRA_CHANNEL = "website"


def load_vocab() -> Vocab:
    rules = [r for r in read_seed("scoring_engagement_rules") if r["model_id"] == "default"]
    event_types = tuple(r["event_type"].strip().lower() for r in read_seed("ref_event_types"))
    signed = {t: rule_points_for(t, EXTRA_CHANNEL, rules) for t in event_types}
    domains = read_seed("map_email_domains")
    bands = read_seed("scoring_score_bands")
    burst = [r for r in read_seed("scoring_signal_rules") if r["signal"] == "burst" and r["model_id"] == "default"]
    bant = sorted({item.strip() for r in read_seed("scoring_fit_rules")
                   if r["attribute"] in ("budget", "authority", "need", "timeline")
                   for item in (r["value"] or "").split("|") if item.strip()})
    sizes = read_seed("map_company_size_bands")
    return Vocab(
        industries=tuple(r["raw_label"] for r in read_seed("map_industries")),
        titles=tuple(like_example(r["pattern"]) for r in read_seed("map_job_titles")),
        countries=tuple(r["raw_value"] for r in read_seed("map_countries")),
        personal_domains=tuple(r["domain"] for r in domains if r["domain_type"] == "personal"),
        competitor_domains=tuple(r["domain"] for r in domains if r["domain_type"] == "competitor"),
        employee_counts=tuple(r["min_employees"] for r in sizes)
        + tuple(f"{r['min_employees']}-{int(r['min_employees']) * 3}" for r in sizes) + ("1,000+", " 250 "),
        revenues=tuple(float(r["min_revenue_usd"]) * 1.5 + 1.0 for r in read_seed("map_revenue_bands")),
        bant=tuple(bant),
        event_types=event_types,
        page_urls=tuple(f"https://www.example.test{like_example(r['pattern'])}" for r in rules
                        if r["match_field"] == "page_url"),
        search_terms=tuple(like_example(r["pattern"]) for r in rules if r["match_field"] == "search_term"),
        positive_types=tuple(t for t, pts in signed.items() if pts and all(p > 0 for p in pts)),
        negative_types=tuple(t for t, pts in signed.items() if pts and all(p < 0 for p in pts)),
        burst_threshold=int(burst[0]["threshold"]) if burst else None,
        fit_bands=frozenset(r["band"] for r in bands if r["axis"] == "fit"),
        engagement_levels=frozenset(r["band"] for r in bands if r["axis"] == "engagement"),
    )


VOCAB = load_vocab()
GARBAGE_TEXT = ("", "   ", "n/a", "lots", "-5", "Ünïcödé 市场 🚀", "x" * 300, "'; drop table raw.leads; --")
CHANNELS = ("website", "email", "wechat", "mini_program", "sms", "event", "ads")
SOURCES = ("organic_search", "paid_search", "webinar", "event", "referral", "content_syndication", "social")


# --------------------------------------------------------------------------------------------------
# Strategies. Each lead's choices are offset by its index, so even hypothesis's first, all-zero example
# is a varied data set rather than n copies of one lead.
# --------------------------------------------------------------------------------------------------
def pick(values: Sequence, drawn: int, index: int):
    return values[(drawn + 7 * index) % len(values)]


def ts(offset_seconds: int) -> dt.datetime:
    return AS_OF_DT - dt.timedelta(seconds=offset_seconds)


@st.composite
def lead_rows(draw, index: int, accounts: Sequence[str]) -> list[dict]:
    """One lead (index `index`, universe a): one to three versions, attributes from the dictionaries or
    garbage; returns its raw rows (version order as generated)."""
    i = index
    lead_id = f"a-L{i:03d}"
    account = pick(accounts, draw(st.integers(0, 50)), i) if accounts else None
    email_kind = pick(("business", "business", "personal", "competitor", "invalid", "missing"),
                      draw(st.integers(0, 5)), i)
    mailbox = f"p{i}"
    email = {
        "business": f"{mailbox}@{account}" if account else f"{mailbox}@solo{i}.a.test",
        "personal": f"{mailbox}@{pick(VOCAB.personal_domains, draw(st.integers(0, 30)), i)}",
        "competitor": f"{mailbox}@{pick(VOCAB.competitor_domains, draw(st.integers(0, 30)), i)}",
        "invalid": "not-an-email",
        "missing": None,
    }[email_kind]
    if email and draw(st.booleans()):
        email = f"  {email.upper()} "
    # A competitor (or any) email domain is shared by both universes: such leads always carry their own
    # (universe-specific) company domain, so that no account spans universes.
    domain_form = draw(st.integers(0, 3))
    company_domain = None
    if account and (email_kind == "competitor" or domain_form > 0):
        company_domain = (account, f"https://www.{account}/about", f" WWW.{account.upper()} ")[domain_form % 3]

    def attr(values: Sequence, garbage_rate: int = 6):
        roll = draw(st.integers(0, garbage_rate * 10))
        if roll == 0:
            return None
        if roll % garbage_rate == 1:
            return pick(GARBAGE_TEXT, roll, i)
        return pick(values, roll, i)

    created_offset = draw(st.integers(0, 200 * 86400)) + i * 3_600
    created_offset = min(created_offset, 200 * 86400)
    base = {
        "lead_id": lead_id, "email": email, "first_name": f"F{i}", "last_name": f"L{i}",
        "job_title": attr(VOCAB.titles), "company_name": f"Company {account or i}",
        "company_domain": company_domain, "industry": attr(VOCAB.industries),
        "employee_count": attr(VOCAB.employee_counts),
        "annual_revenue": pick((*VOCAB.revenues, None, -1e6, 5e12), draw(st.integers(0, 20)), i),
        "country": attr(VOCAB.countries), "city": pick(("Berlin", "上海", None, "Austin"), i, 0),
        "lead_source": pick(SOURCES, draw(st.integers(0, 10)), i),
        "budget": attr(VOCAB.bant, 3), "authority": attr(VOCAB.bant, 3), "need": attr(VOCAB.bant, 3),
        "timeline": attr(VOCAB.bant, 3),
        "created_at": ts(created_offset), "updated_at": ts(max(created_offset - draw(st.integers(0, 86400)), 0)),
        "is_deleted": draw(st.integers(0, 24)) == 12, "_loaded_at": None,
    }
    rows = [base]
    for version in range((draw(st.integers(0, 2)) + index) % 3):
        older = dict(base)
        older["updated_at"] = base["updated_at"] - dt.timedelta(days=version + 1)
        older["industry"] = attr(VOCAB.industries)
        older["is_deleted"] = draw(st.integers(0, 4)) == 2
        rows.append(older)
    for row in rows:
        # Coarse loader clock (whole hours): _loaded_at ties are common, as with a batch loader.
        row["_loaded_at"] = row["updated_at"].replace(minute=0, second=0) + dt.timedelta(hours=1)
    return rows


@st.composite
def event_rows(draw, lead_id: str, index: int, is_bursty: bool) -> list[dict]:
    """A lead's event stream: seeded event types, URLs and search terms from the rules' patterns, times within
    180 days before as_of; a few re-deliveries; optionally a bot-like burst in one minute."""
    count = (draw(st.integers(0, 14)) + 5 * index) % 15
    rows = []
    for j in range(count):
        event_type = pick(VOCAB.event_types, draw(st.integers(0, 40)), index + j)
        offset = (draw(st.integers(0, WINDOW_SECONDS)) + (index * 7_919 + j * 104_729)) % WINDOW_SECONDS
        page_url = pick(VOCAB.page_urls, draw(st.integers(0, 40)), j) if event_type == "page_view" else None
        search_term = pick(VOCAB.search_terms, draw(st.integers(0, 40)), j) if event_type == "site_search" else None
        occurred_at = ts(offset)
        rows.append({
            "event_id": f"{lead_id}-E{j:02d}", "lead_id": lead_id, "event_type": event_type,
            "channel": pick(CHANNELS, draw(st.integers(0, 10)), j), "occurred_at": occurred_at,
            "page_url": page_url, "search_term": search_term,
            "properties": pick(('{"utm": "x"}', None, "{not json", '{"duration_seconds": 30}'), j, index),
            "_loaded_at": occurred_at.replace(minute=0, second=0) + dt.timedelta(hours=draw(st.integers(1, 48))),
        })
    if rows and draw(st.integers(0, 3)) == 0:  # an at-least-once re-delivery, same or later loader time
        again = dict(rows[0])
        again["_loaded_at"] = again["_loaded_at"] + dt.timedelta(hours=draw(st.integers(0, 2)))
        rows.append(again)
    if is_bursty and VOCAB.burst_threshold:
        start = ts(draw(st.integers(3600, WINDOW_SECONDS))).replace(second=0)
        for k in range(VOCAB.burst_threshold + draw(st.integers(0, 5))):
            rows.append({
                "event_id": f"{lead_id}-B{k:03d}", "lead_id": lead_id, "event_type": "page_view",
                "channel": "website", "occurred_at": start + dt.timedelta(seconds=k % 60),
                "page_url": "https://www.example.test/pricing", "search_term": None, "properties": None,
                "_loaded_at": start + dt.timedelta(hours=1),
            })
    return rows


def garbage_events(lead_ids: Sequence[str]) -> list[dict]:
    """One event of each bad kind the staging quarantines."""
    t = ts(86400)
    base = {"channel": "website", "page_url": None, "search_term": None, "properties": None,
            "_loaded_at": t + dt.timedelta(hours=1)}
    return [
        {**base, "event_id": None, "lead_id": lead_ids[0], "event_type": "page_view", "occurred_at": t},
        {**base, "event_id": "g-unknown-type", "lead_id": lead_ids[0], "event_type": "mystery", "occurred_at": t},
        {**base, "event_id": "g-anonymous", "lead_id": None, "event_type": "page_view", "occurred_at": t},
        {**base, "event_id": "g-orphan", "lead_id": "nobody", "event_type": "page_view", "occurred_at": t},
        {**base, "event_id": "g-future", "lead_id": lead_ids[0], "event_type": "demo_request",
         "occurred_at": AS_OF_DT + dt.timedelta(seconds=1)},
        {**base, "event_id": "g-no-time", "lead_id": lead_ids[0], "event_type": "page_view", "occurred_at": None},
    ]


def garbage_leads() -> list[dict]:
    row = {c: None for c, _ in datagen.LEADS_COLUMNS if c != "crm_segment"}
    return [
        {**row, "lead_id": None, "email": "x@nowhere.test", "created_at": ts(86400), "updated_at": ts(86400),
         "is_deleted": False, "_loaded_at": ts(3600)},
        {**row, "lead_id": "a-future", "email": "f@future.test", "created_at": AS_OF_DT + dt.timedelta(days=1),
         "updated_at": AS_OF_DT + dt.timedelta(days=1), "is_deleted": False, "_loaded_at": ts(0)},
    ]


@dataclass(frozen=True)
class Extra:
    lead_id: str  # in universe b
    sign: int  # +1 or -1
    event: dict


@dataclass(frozen=True)
class Scenario:
    leads: tuple[dict, ...]
    events: tuple[dict, ...]
    opportunities: tuple[dict, ...]
    extras: tuple[Extra, ...]
    account_sign: Mapping[str, int]  # universe-b account domain -> +1, -1 or 0 (the additions in it)
    shuffle_seed: int

    def __repr__(self) -> str:  # the rows are in the warehouse named by key() under the pytest tmp dir
        return (f"Scenario(key={self.key()}, leads={len(self.leads)}, events={len(self.events)}, "
                f"extras={[(x.lead_id, x.sign, x.event['event_type']) for x in self.extras]})")

    def key(self) -> str:
        return hashlib.sha256(repr((self.leads, self.events, self.opportunities)).encode()).hexdigest()[:16]


def to_universe_b(value, accounts: Sequence[str]):
    """Universe b's copy of a universe-a value: ids prefixed, account domains renamed (any case)."""
    if not isinstance(value, str):
        return value
    out = "b-" + value[2:] if value.startswith("a-") else value
    return re.sub(r"\.a\.test", lambda m: m.group(0).replace("a", "b").replace("A", "B"), out, flags=re.I)


def extra_event(lead_id: str, sign: int, offset: int, existing: Iterable[dict], n: int) -> dict:
    """One extra event for `lead_id`, of a positive-only or negative-only type, at a minute where the lead has
    fewer than burst threshold - 1 events (so it cannot complete a burst)."""
    types = VOCAB.positive_types if sign > 0 else VOCAB.negative_types
    occurred_at = ts(offset)
    minutes = [e["occurred_at"].replace(second=0, microsecond=0) for e in existing
               if e["lead_id"] == lead_id and e["occurred_at"] is not None]
    limit = (VOCAB.burst_threshold or 10**9) - 1
    while minutes.count(occurred_at.replace(second=0, microsecond=0)) >= limit:
        occurred_at -= dt.timedelta(minutes=1)
    return {"event_id": f"{lead_id}-X{n}", "lead_id": lead_id, "event_type": types[offset % len(types)],
            "channel": EXTRA_CHANNEL, "occurred_at": occurred_at, "page_url": None, "search_term": None,
            "properties": None, "_loaded_at": occurred_at + dt.timedelta(hours=1)}


@st.composite
def scenarios(draw) -> Scenario:
    # Offsets make the all-zero (first) example a mid-sized one: 18 leads, 3 accounts.
    n_leads = 8 + (draw(st.integers(0, 22)) + 10) % 23
    accounts = [f"acct{k}.a.test" for k in range(1 + (draw(st.integers(0, 3)) + 2) % 4)]
    leads_a: list[dict] = []
    events_a: list[dict] = []
    lead_accounts: dict[str, str | None] = {}
    for i in range(n_leads):
        rows = draw(lead_rows(i, accounts))
        leads_a += rows
        lead_id = rows[0]["lead_id"]
        lead_accounts[lead_id] = next((a for a in accounts if a in (rows[0]["company_domain"] or "").lower()
                                       or a in (rows[0]["email"] or "").lower()), None)
        events_a += draw(event_rows(lead_id, i, is_bursty=(i % 11 == 3)))
    leads_a += garbage_leads()
    events_a += garbage_events([r["lead_id"] for r in leads_a if r["lead_id"]])
    opportunities = [
        {"opportunity_id": f"a-O{k}", "lead_id": f"a-L{k:03d}", "created_at": ts(5 * 86400),
         "stage": ("won", "lost", "open", "sql")[k % 4], "is_won": k % 4 == 0,
         "closed_at": ts(86400) if k % 4 < 2 else None, "amount": 1000.0 * (k + 1), "_loaded_at": ts(3600)}
        for k in range(0, n_leads, 3)
    ]
    leads_b = [{c: to_universe_b(v, accounts) for c, v in r.items()} for r in leads_a
               if (r["lead_id"] or "").startswith("a-")]
    events_b = [{c: to_universe_b(v, accounts) for c, v in r.items()} for r in events_a
                if (r["event_id"] or "").startswith("a-")]
    opportunities_b = [{c: to_universe_b(v, accounts) for c, v in r.items()} for r in opportunities]

    # The additions of universe b: each account (and each account-less lead) gets a sign; in an account with
    # sign +1 some leads get a positive-only event, with -1 some get a negative-only event.
    signs = (1, -1, 0)
    account_sign = {a.replace(".a.test", ".b.test"): signs[(draw(st.integers(0, 2)) + k) % 3]
                    for k, a in enumerate(accounts)}
    extras = []
    for i, (lead_a, account) in enumerate(sorted(lead_accounts.items())):
        lead_b = to_universe_b(lead_a, accounts)
        sign = account_sign[to_universe_b(account, accounts)] if account else signs[(draw(st.integers(0, 2)) + i) % 3]
        if sign == 0 or draw(st.booleans()):  # most leads of a signed account get an extra event
            continue
        offset = (draw(st.integers(0, WINDOW_SECONDS - 1)) + i * 86_413) % WINDOW_SECONDS
        extras.append(Extra(lead_b, sign, extra_event(lead_b, sign, offset, events_b, len(extras))))
    return Scenario(
        leads=tuple(leads_a + leads_b), events=tuple(events_a + events_b + [x.event for x in extras]),
        opportunities=tuple(opportunities + opportunities_b), extras=tuple(extras),
        account_sign=account_sign, shuffle_seed=draw(st.integers(0, 2**31)),
    )


# --------------------------------------------------------------------------------------------------
# Warehouses: raw tables in, dbt run, marts out
# --------------------------------------------------------------------------------------------------
COLUMNS = {
    "leads": [c for c, _ in datagen.LEADS_COLUMNS if c != "crm_segment"],
    "events": [c for c, _ in datagen.EVENTS_COLUMNS],
    "opportunities": [c for c, _ in datagen.OPPORTUNITIES_COLUMNS],
}
TYPES = {table: dict(cols) for table, cols in datagen.TABLES.items()}


def write_raw(db: Path, scenario: Scenario, shuffle: bool = False) -> None:
    """Create the raw tables of `scenario` in `db`; with `shuffle`, rows are inserted in a shuffled order."""
    rng = random.Random(scenario.shuffle_seed)
    con = duckdb.connect(str(db))
    try:
        con.execute("create schema if not exists raw")
        for table, rows in (("leads", scenario.leads), ("events", scenario.events),
                            ("opportunities", scenario.opportunities)):
            cols = COLUMNS[table]
            con.execute(f"create or replace table raw.{table} ("
                        + ", ".join(f"{c} {TYPES[table][c]}" for c in cols) + ")")
            ordered = list(rows)
            if shuffle:
                rng.shuffle(ordered)
            if ordered:
                con.executemany(f"insert into raw.{table} values ({', '.join('?' for _ in cols)})",
                                [[r[c] for c in cols] for r in ordered])
    finally:
        con.close()


CORE_TESTED = ("lead_scores", "account_scores", "lead_score_reasons", "pipeline_reconciliation",
               "quarantined_leads", "quarantined_events", "stg_crm__leads", "stg_crm__events",
               "assert_reconciliation_counts_match_raw", "assert_every_staged_lead_is_scored",
               "assert_reason_points_sum_to_scores")


def dbt_run(db: Path, as_of: str, *extra: str) -> None:
    """Seeds and models of the whole project (no tests) at `as_of`; target and logs beside the file."""
    proc = run_dbt(PROJECT_ROOT, db, "build", "--exclude-resource-type", "test", "--exclude-resource-type",
                   "unit_test", *extra, vars={"as_of": as_of}, target_path=db.parent / "target",
                   log_path=db.parent / "logs")
    assert_dbt_ok(proc, f"dbt build (models) at {as_of} on {db}")


def dbt_test_core(db: Path, as_of: str) -> str:
    """The data tests of the scoring marts, the quarantine, reconciliation and lead and event staging."""
    proc = run_dbt(PROJECT_ROOT, db, "test", "--select", *CORE_TESTED, vars={"as_of": as_of},
                   target_path=db.parent / "target", log_path=db.parent / "logs")
    assert_dbt_ok(proc, f"dbt test at {as_of} on {db}")
    return proc.stdout


def mart_rows(db: Path) -> dict[str, list[tuple]]:
    """Every relation of schema marts: its rows, sorted (order-free), run metadata columns left out."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        names = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()]
        out = {}
        for name in names:
            cur = con.execute(f"select * from marts.{name}")
            keep = [k for k, d in enumerate(cur.description) if d[0] not in RUN_METADATA_COLUMNS]
            out[name] = sorted((tuple(row[k] for k in keep) for row in cur.fetchall()), key=repr)
        return out
    finally:
        con.close()


def mart_differences(expected: Mapping[str, list[tuple]], actual: Mapping[str, list[tuple]]) -> list[str]:
    """Exact, order-free comparison of two sets of marts; a few differences per relation."""
    problems = [f"relations differ: {sorted(set(expected) ^ set(actual))}"] if set(expected) != set(actual) else []
    for name in sorted(set(expected) & set(actual)):
        exp, act = expected[name], actual[name]
        if exp != act:
            only_e = [r for r in exp if r not in set(act)][:2]
            only_a = [r for r in act if r not in set(exp)][:2]
            problems.append(f"{name}: {len(exp)} vs {len(act)} rows; only first: {only_e}; only second: {only_a}")
    return problems


def fresh_dir(path: Path) -> None:
    """An empty directory at `path` (a replayed hypothesis example reuses its name)."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)


@dataclass
class Built:
    scenario: Scenario
    db: Path
    marts: dict[str, list[tuple]]


_BASE: dict[str, Built] = {}


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("properties")


def base_build(lab: Path, scenario: Scenario) -> Built:
    """The scenario's raw rows, built once per module with `--full-refresh` at T2 and its core data tests."""
    key = scenario.key()
    if key not in _BASE:
        db = lab / f"base_{key}" / "wh.duckdb"
        fresh_dir(db.parent)
        write_raw(db, scenario)
        dbt_run(db, AS_OF, "--full-refresh")
        dbt_test_core(db, AS_OF)
        check_ranges(db)
        _BASE[key] = Built(scenario, db, mart_rows(db))
    return _BASE[key]


# --------------------------------------------------------------------------------------------------
# (a) ranges, checked on every build
# --------------------------------------------------------------------------------------------------
def range_problems(lead_rows: Iterable[Mapping], account_rows: Iterable[Mapping]) -> list[str]:
    problems = []
    for row in lead_rows:
        for col in ("fit_score", "engagement_score", "lead_score"):
            if row[col] is None or not 0 <= row[col] <= 100:
                problems.append(f"lead {row['lead_id']}: {col} = {row[col]}")
        if row["fit_grade"] not in VOCAB.fit_bands or row["computed_fit_grade"] not in VOCAB.fit_bands:
            problems.append(f"lead {row['lead_id']}: grade {row['fit_grade']}/{row['computed_fit_grade']}")
        if row["engagement_level"] not in VOCAB.engagement_levels:
            problems.append(f"lead {row['lead_id']}: level {row['engagement_level']}")
        if row["matrix_cell"] != f"{row['fit_grade']}{row['engagement_level']}":
            problems.append(f"lead {row['lead_id']}: cell {row['matrix_cell']}")
    for row in account_rows:
        for col in ("account_fit_score", "account_engagement_score", "account_score"):
            if row[col] is None or not 0 <= row[col] <= 100:
                problems.append(f"account {row['company_domain']}: {col} = {row[col]}")
    return problems


def check_ranges(db: Path) -> None:
    leads = query(db, "select * from marts.lead_scores")
    accounts = query(db, "select * from marts.account_scores")
    assert leads, "no lead was scored"
    assert not range_problems(leads, accounts), range_problems(leads, accounts)[:10]


@seed(SEED)
@_settings(EXAMPLES)
@given(scenario=scenarios())
def test_scores_stay_within_their_ranges(lab, scenario):
    built = base_build(lab, scenario)
    leads = query(built.db, "select * from marts.lead_scores")
    accounts = query(built.db, "select * from marts.account_scores")
    expected_leads = {r["lead_id"] for r in scenario.leads if r["lead_id"]}
    # Every scored lead is a generated one (garbage rows are quarantined), and the checks ran on real rows.
    assert {r["lead_id"] for r in leads} <= expected_leads
    assert not range_problems(leads, accounts)


def test_range_checker_catches_out_of_range_rows():
    grade = sorted(VOCAB.fit_bands)[0]
    level = sorted(VOCAB.engagement_levels)[0]
    good = {"lead_id": "x", "fit_score": 0.0, "engagement_score": 100.0, "lead_score": 50.0, "fit_grade": grade,
            "computed_fit_grade": grade, "engagement_level": level, "matrix_cell": f"{grade}{level}"}
    assert range_problems([good], [{"company_domain": "d", "account_fit_score": 100.0,
                                    "account_engagement_score": 0.0, "account_score": 1.0}]) == []
    bad = [dict(good, engagement_score=100.000001), dict(good, fit_grade="Z"), dict(good, engagement_level="0"),
           dict(good, matrix_cell="Z9")]
    assert len(range_problems(bad, [{"company_domain": "d", "account_fit_score": -1e-9,
                                     "account_engagement_score": 0.0, "account_score": None}])) == 8
    # 1 + 2 (grade and cell) + 2 (level and cell) + 1 for the leads, 2 for the account


# --------------------------------------------------------------------------------------------------
# (b) monotonicity: universe b = universe a + extra events, scored in the same build
# --------------------------------------------------------------------------------------------------
def expected_direction(scenario: Scenario, lead_b: str, account_b: str | None) -> int:
    """+1: may only rise (>=); -1: may only fall (<=); 0: unchanged. The direction of the lead's own extra
    event, else its account's (colleagues gain from the account rule after a positive event only)."""
    own = [x.sign for x in scenario.extras if x.lead_id == lead_b]
    if own:
        return own[0]
    if account_b and scenario.account_sign.get(account_b, 0) > 0:
        return 1
    return 0


def monotonicity_problems(scenario: Scenario, a_rows: Mapping[str, Mapping], b_rows: Mapping[str, Mapping]
                          ) -> list[str]:
    problems = []
    for lead_b, row_b in b_rows.items():
        row_a = a_rows["a-" + lead_b[2:]]
        direction = expected_direction(scenario, lead_b, row_b["company_domain"])
        a, b = row_a["engagement_score"], row_b["engagement_score"]
        ok = b >= a if direction > 0 else b <= a if direction < 0 else b == a
        if not ok:
            problems.append(f"{lead_b} (direction {direction}): engagement {a} in a, {b} in b")
    return problems


@seed(SEED)
@_settings(EXAMPLES)
@given(scenario=scenarios())
def test_positive_events_never_lower_and_negative_events_never_raise_engagement(lab, scenario):
    assert VOCAB.positive_types and VOCAB.negative_types, "the seeds have no positive-only or negative-only type"
    built = base_build(lab, scenario)
    rows = query(built.db, "select lead_id, company_domain, engagement_score from marts.lead_scores "
                           "where model_id = 'default'")
    a_rows = {r["lead_id"]: r for r in rows if r["lead_id"].startswith("a-")}
    b_rows = {r["lead_id"]: r for r in rows if r["lead_id"].startswith("b-")}
    assert set(a_rows) == {"a-" + k[2:] for k in b_rows}, "universes a and b must score the same leads"
    assert not monotonicity_problems(scenario, a_rows, b_rows)

    accounts = {r["company_domain"]: r["account_engagement_score"] for r in query(
        built.db, "select company_domain, account_engagement_score from marts.account_scores "
                  "where model_id = 'default'")}
    for domain_b, sign in scenario.account_sign.items():
        if domain_b not in accounts:
            continue
        a, b = accounts[domain_b.replace(".b.test", ".a.test")], accounts[domain_b]
        assert (b >= a if sign > 0 else b <= a if sign < 0 else b == a), (domain_b, sign, a, b)


def test_monotonicity_checker_on_hand_made_rows():
    scenario = Scenario(leads=(), events=(), opportunities=(), shuffle_seed=0,
                        extras=(Extra("b-1", 1, {}), Extra("b-2", -1, {})), account_sign={"acct0.b.test": 1})
    a = {"a-1": {"engagement_score": 10.0}, "a-2": {"engagement_score": 10.0}, "a-3": {"engagement_score": 5.0},
         "a-4": {"engagement_score": 5.0}}
    b = {"b-1": {"engagement_score": 10.0, "company_domain": None},
         "b-2": {"engagement_score": 9.0, "company_domain": None},
         "b-3": {"engagement_score": 15.0, "company_domain": "acct0.b.test"},  # colleague: may gain
         "b-4": {"engagement_score": 5.0, "company_domain": None}}
    assert monotonicity_problems(scenario, a, b) == []
    b_bad = dict(b, **{"b-1": {"engagement_score": 9.9, "company_domain": None},
                       "b-2": {"engagement_score": 10.1, "company_domain": None},
                       "b-4": {"engagement_score": 5.000001, "company_domain": None}})
    assert len(monotonicity_problems(scenario, a, b_bad)) == 3


# --------------------------------------------------------------------------------------------------
# (c) order, (d) running twice, (e) incremental = full refresh
# --------------------------------------------------------------------------------------------------
@seed(SEED)
@_settings(SLOW_EXAMPLES)
@given(scenario=scenarios())
def test_the_order_in_which_rows_arrive_changes_no_mart(lab, scenario):
    built = base_build(lab, scenario)
    db = lab / f"shuffled_{scenario.key()}" / "wh.duckdb"
    fresh_dir(db.parent)
    write_raw(db, scenario, shuffle=True)
    dbt_run(db, AS_OF, "--full-refresh")
    check_ranges(db)
    assert not mart_differences(built.marts, mart_rows(db))


@seed(SEED)
@_settings(SLOW_EXAMPLES)
@given(scenario=scenarios())
def test_running_twice_gives_identical_marts(lab, scenario):
    built = base_build(lab, scenario)
    db = lab / f"twice_{scenario.key()}" / "wh.duckdb"
    fresh_dir(db.parent)
    shutil.copy(built.db, db)
    dbt_run(db, AS_OF)
    check_ranges(db)
    assert not mart_differences(built.marts, mart_rows(db))


def test_mart_differences_finds_a_changed_lost_or_extra_row():
    marts = {"m": [("a", 1.0), ("b", 2.0)], "n": []}
    assert mart_differences(marts, {"m": [("a", 1.0), ("b", 2.0)], "n": []}) == []
    assert len(mart_differences(marts, {"m": [("a", 1.0), ("b", 2.0000000000000004)], "n": []})) == 1
    assert len(mart_differences(marts, {"m": [("a", 1.0)], "n": [("c", 0.0)]})) == 2
    assert mart_differences(marts, {"m": marts["m"]})  # a relation missing


def current_history(db: Path) -> dict[str, list[tuple]]:
    """The current rows of the history: the latest stored version per model and lead (not removed), with its
    scoring fields and the as_of it was taken at; and the latest rule points and rule config per key."""
    return {
        "lead_score_history": sorted(map(tuple, (r.values() for r in query(db, """
            select model_id, lead_id, fit_score, fit_grade, engagement_score, engagement_level, matrix_cell,
                   lead_score, lifecycle_stage, ruleset_version
            from marts.lead_score_history where valid_to is null""")))),
        "lead_scores": sorted(map(tuple, (r.values() for r in query(db, """
            select model_id, lead_id, fit_score, fit_grade, engagement_score, engagement_level, matrix_cell,
                   lead_score, lifecycle_stage, ruleset_version from marts.lead_scores""")))),
    }


@seed(SEED)
@_settings(SLOW_EXAMPLES)
@given(scenario=scenarios())
def test_incremental_history_at_t2_equals_a_full_refresh_at_t2(lab, scenario):
    built = base_build(lab, scenario)
    db = lab / f"incremental_{scenario.key()}" / "wh.duckdb"
    fresh_dir(db.parent)
    write_raw(db, scenario)
    only = ("--select", "+lead_score_history", "+account_scores")  # what the comparison and the range check read
    dbt_run(db, T1, *only)
    first = current_history(db)
    dbt_run(db, AS_OF, *only)
    check_ranges(db)
    incremental, full = current_history(db), current_history(built.db)
    # The T1 run scored something else (less decay, fewer events), so the T2 run really appended.
    assert first["lead_score_history"] != incremental["lead_score_history"]
    assert incremental["lead_score_history"] == full["lead_score_history"]
    # ... and the current history is what lead_scores says (a lead scored at both instants keeps the T1 row
    # only when nothing changed; then it still equals the T2 scores).
    assert incremental["lead_score_history"] == incremental["lead_scores"]
