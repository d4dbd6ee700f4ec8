"""The incremental event path (docs/incremental.md) equals a full refresh, run after run.

A small generated warehouse is built at T0, then raw batches are appended in SQL - new events, re-deliveries of
old event ids with a later _loaded_at (same or other content), a re-delivery loaded *before* the original
(out of order, inside the look-back window), late events dated days back, events for a lead that only arrives
in a later batch, a soft-deleted lead - and incremental runs follow at later as_of values (events that were in
the future at T0 become past). Before each run the warehouse is copied, and the copy is built with
`--full-refresh` at the same as_of: after each run every table of the staging, intermediate and marts schemas
(the bucket table included) must equal the copy's exactly, except the bookkeeping columns of the incremental
state. Then: a raw row loaded before the look-back window, a seed change and an earlier as_of each trigger a
full rebuild with its log line, and the results still equal a full refresh.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest
from conftest import PROJECT_ROOT, assert_dbt_ok, copy_project, query, run_dbt

from lead_scoring import datagen

T0 = "2026-10-20 00:00:00"  # the base build; the generated events run to 2026-11-01, so some are future
T1 = "2026-10-25 00:00:00"
T2 = "2026-11-01 00:00:00"
T3 = "2026-11-03 00:00:00"
EARLIER = "2026-10-28 00:00:00"
DATAGEN_ARGS = dict(leads=800, events_per_lead=20, days=120, seed=11, as_of=T2)
LATE_LEAD = "LATE_LEAD_1"
# Bookkeeping of the incremental state: which run wrote a row, which full build started the stored generation.
STATE_COLUMNS = {"delivery_batch", "deliveries_build_id", "delivery_batch_through", "built_as_of", "scope_id",
                 "consumed_scope_id"}
# The lead scope says which leads a run rescored, so it differs from a full refresh's by design.
STATE_TABLES = {"int_engagement_daily_points_state", "int_engagement_burst_minutes_state",
                "int_engagement_rule_points_state", "int_lead_scoring_scope", "int_lead_scoring_scope_state"}
# Hourly runs on T2's scoring day: int_engagement_rule_points recomputes only the leads touched since its build.
T2_HOURLY = "2026-11-01 03:00:00"
T2_LATER = "2026-11-01 07:00:00"
PER_LEAD = "int_engagement_rule_points"  # stored per lead, incremental within a scoring day
# Stored per lead and incremental within a scoring day on the leads the lead scope rescores (macros/lead_scope.sql).
SCOPE = "int_lead_scoring_scope"
SCOPE_CONSUMERS = ("int_lead_signal_points", "int_lead_rule_points", "int_lead_group_points", "int_lead_axis_scores",
                   "int_lead_scores", "int_lead_lifecycle", "int_scored_leads", "int_scored_lead_reasons")
SCHEMAS = ("staging", "intermediate", "marts")


def _copy_db(src: Path, dst: Path) -> None:
    for suffix in ("", ".wal"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
        if Path(f"{src}{suffix}").exists():
            shutil.copy(f"{src}{suffix}", f"{dst}{suffix}")


def _execute(db: Path, *statements: str) -> None:
    con = duckdb.connect(str(db))
    try:
        for sql in statements:
            con.execute(sql)
    finally:
        con.close()


def table_differences(a: Path, b: Path) -> dict[str, tuple[int, int]]:
    """Per table of SCHEMAS in `a` (bar the state table): rows only in a, rows only in b (multiset, exact)."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{a}' as a (read_only)")
        con.execute(f"attach '{b}' as b (read_only)")
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'a'"
            f" and schema_name in {SCHEMAS} order by 1, 2"
        ).fetchall()
        diffs = {}
        for schema, table in tables:
            if table in STATE_TABLES:
                continue
            columns = [r[0] for r in con.execute(
                "select column_name from duckdb_columns() where database_name = 'a' and schema_name = ?"
                " and table_name = ? order by column_index", [schema, table]).fetchall()
                if r[0] not in STATE_COLUMNS]
            cols = ", ".join(f'"{c}"' for c in columns)
            only_a = con.execute(f"select count(*) from (select {cols} from a.{schema}.{table}"
                                 f" except all select {cols} from b.{schema}.{table})").fetchone()[0]
            only_b = con.execute(f"select count(*) from (select {cols} from b.{schema}.{table}"
                                 f" except all select {cols} from a.{schema}.{table})").fetchone()[0]
            diffs[f"{schema}.{table}"] = (only_a, only_b)
        return diffs
    finally:
        con.close()


def test_table_differences_sees_a_changed_value(tmp_path):
    """The comparison is exact: one changed float bit in one row of a copy is a difference."""
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    _execute(a, "create schema marts", "create table marts.t as select range as k, range / 3 as v from range(5)",
             "create schema intermediate",
             "create table intermediate.int_engagement_daily_points_state as select 1 as delivery_batch_through")
    _copy_db(a, b)
    assert table_differences(a, b) == {"marts.t": (0, 0)}
    _execute(b, "update marts.t set v = nextafter(v, 1.0) where k = 2")
    assert table_differences(a, b) == {"marts.t": (1, 1)}


class Lab:
    def __init__(self, root: Path):
        self.root = root
        self.project = copy_project(PROJECT_ROOT, root / "project")
        self.db = root / "incremental.duckdb"
        self.logs: dict[str, str] = {}
        self.scopes: dict[str, dict[str, bool]] = {}

    def dbt(self, db: Path, name: str, *args: str, as_of: str) -> str:
        proc = run_dbt(self.project, db, *args, vars={"as_of": as_of},
                       target_path=self.root / f"target_{db.stem}", log_path=self.root / "logs" / name)
        assert_dbt_ok(proc, f"dbt {' '.join(args)} ({name})")
        self.logs[name] = proc.stdout
        return proc.stdout

    def step(self, name: str, as_of: str, *raw_sql: str, seed: bool = False) -> tuple[str, dict]:
        """Append a raw batch, run incrementally, build a copy in full; return the run's log and the diffs."""
        if raw_sql:
            _execute(self.db, *raw_sql)
        reference = self.root / f"full_{name}.duckdb"
        _copy_db(self.db, reference)
        if seed:
            self.dbt(self.db, f"{name}_seed", "seed", as_of=as_of)
            self.dbt(reference, f"{name}_full_seed", "seed", as_of=as_of)
        log = self.dbt(self.db, name, "run", as_of=as_of)
        self.scopes[name] = {r["lead_id"]: r["is_rescored"] for r in query(
            self.db, f"select lead_id, is_rescored from intermediate.{SCOPE}")}
        self.dbt(reference, f"{name}_full", "run", "--full-refresh", as_of=as_of)
        return log, table_differences(self.db, reference)


def log_lines(log: str) -> list[str]:
    """dbt's log lines without their timestamp."""
    return [line.split("  ", 1)[-1].strip() for line in log.splitlines()]


def rebuild_lines(log: str) -> list[str]:
    return [line for line in log_lines(log) if ": full rebuild: " in line]


def differing(diffs: dict) -> dict:
    return {k: v for k, v in diffs.items() if v != (0, 0)}


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Lab:
    lab = Lab(tmp_path_factory.mktemp("incremental"))
    datagen.generate(database=str(lab.db), **DATAGEN_ARGS)
    lab.dbt(lab.db, "base", "build", as_of=T0)
    return lab


@pytest.fixture(scope="module")
def picks(lab) -> dict:
    """Event ids and a lead chosen from the generated raw data (deterministic: ordered by id)."""
    lead = query(lab.db, "select lead_id from staging.stg_crm__leads order by lead_id limit 1")[0]["lead_id"]
    staged = query(lab.db, "select event_id from staging.stg_crm__events"
                   f" where occurred_at < '{T0}' and lead_id <> '{lead}' order by event_id limit 40")
    future = query(lab.db, f"select count(*) as n from raw.events where occurred_at > '{T0}'")[0]["n"]
    return {"old_ids": [r["event_id"] for r in staged], "future_at_t0": future, "deleted_lead": lead}


def _ids(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


@pytest.fixture(scope="module")
def runs(lab, picks) -> dict:
    max_loaded = query(lab.db, "select max(_loaded_at) as m from raw.events")[0]["m"]
    out = {"max_loaded": max_loaded}
    old = picks["old_ids"]
    # Batch 1, loaded a day after the latest stored row; scored at T1.
    out["t1"] = lab.step(
        "t1", T1,
        # new events: 150 copies of existing ones with new ids, moved 3 days later (some stay in the future)
        "insert into raw.events select 'b1_new_' || event_id, lead_id, event_type, channel,"
        f" occurred_at + interval 3 day, page_url, search_term, properties, timestamp '{max_loaded}' + interval 1 day"
        " from raw.events order by event_id limit 150",
        # late events: new ids dated 6 days before T0, loaded now
        "insert into raw.events select 'b1_late_' || event_id, lead_id, event_type, channel,"
        f" timestamp '{T0}' - interval 6 day + interval 1 hour, page_url, search_term, properties,"
        f" timestamp '{max_loaded}' + interval 1 day from raw.events order by event_id desc limit 60",
        # re-deliveries of old ids, same content, later _loaded_at: counted once
        f"insert into raw.events select * replace (timestamp '{max_loaded}' + interval 1 day as _loaded_at)"
        f" from raw.events where event_id in ({_ids(old[:20])})",
        # re-deliveries of old ids with other content (another page), later _loaded_at: still the first counts
        "insert into raw.events select * replace ('https://example.com/pricing' as page_url,"
        f" timestamp '{max_loaded}' + interval 1 day as _loaded_at) from raw.events"
        f" where event_id in ({_ids(old[20:30])})",
        # events for a lead that arrives only in batch 2
        f"insert into raw.events select 'b1_orphan_' || event_id, '{LATE_LEAD}', event_type, channel,"
        f" occurred_at, page_url, search_term, properties, timestamp '{max_loaded}' + interval 1 day"
        " from raw.events where occurred_at < timestamp '2026-10-15' order by event_id limit 25",
    )
    # Batch 2: the late lead arrives, a lead is soft-deleted, a re-delivery of a batch-1 event is loaded *before*
    # the original (out of order, inside the look-back window, so it wins), more new events; scored at T2.
    out["t2"] = lab.step(
        "t2", T2,
        f"insert into raw.leads select * replace ('{LATE_LEAD}' as lead_id, 'late.lead@example.com' as email,"
        f" timestamp '2026-10-26' as updated_at, timestamp '{max_loaded}' + interval 2 day as _loaded_at)"
        " from raw.leads where lead_id = (select min(lead_id) from raw.leads where not coalesce(is_deleted, false))"
        " limit 1",
        f"insert into raw.leads select * replace (true as is_deleted, timestamp '{T2}' as updated_at,"
        f" timestamp '{max_loaded}' + interval 2 day as _loaded_at) from raw.leads"
        f" where lead_id = '{picks['deleted_lead']}' order by updated_at desc limit 1",
        "insert into raw.events select * replace ('https://example.com/careers' as page_url,"
        f" timestamp '{max_loaded}' + interval 12 hour as _loaded_at) from raw.events"
        " where event_id = (select min(event_id) from raw.events where event_id like 'b1_late_%')",
        "insert into raw.events select 'b2_new_' || event_id, lead_id, event_type, channel,"
        " occurred_at + interval 5 day, page_url, search_term, properties,"
        f" timestamp '{max_loaded}' + interval 2 day from raw.events where event_id not like 'b%'"
        " order by event_id desc limit 120",
    )
    # Hourly batch on T2's day: new events of the hour, a late event days back, a re-delivery with other content,
    # an event dated after this run's as_of (future now, past at T2_LATER), and a soft-deleted lead.
    hourly_loaded = f"timestamp '{max_loaded}' + interval 2 day + interval 3 hour"
    out["hourly_lead"] = query(lab.db, "select min(lead_id) as l from marts.lead_scores"
                               " where engagement_score > 0")[0]["l"]
    out["hourly_deleted"] = query(lab.db, "select max(lead_id) as l from marts.lead_scores"
                                  f" where engagement_score > 0 and lead_id <> '{LATE_LEAD}'")[0]["l"]
    out["t2_hourly"] = lab.step(
        "t2_hourly", T2_HOURLY,
        "insert into raw.events select 'h1_new_' || event_id, lead_id, event_type, channel,"
        f" timestamp '{T2}' + interval 1 hour, page_url, search_term, properties, {hourly_loaded}"
        " from raw.events where event_id not like 'b%' order by event_id limit 15",
        "insert into raw.events select 'h1_late_' || event_id, lead_id, event_type, channel,"
        f" timestamp '{T2}' - interval 9 day, page_url, search_term, properties, {hourly_loaded}"
        " from raw.events where event_id not like 'b%' order by event_id desc limit 5",
        "insert into raw.events select * replace ('https://example.com/pricing' as page_url,"
        f" {hourly_loaded} as _loaded_at) from raw.events where event_id = (select min(event_id) from raw.events"
        " where event_id like 'b2_new_%')",
        f"insert into raw.events select 'h1_future_' || event_id, '{out['hourly_lead']}', event_type, channel,"
        f" timestamp '{T2}' + interval 5 hour, page_url, search_term, properties, {hourly_loaded}"
        " from raw.events where lower(trim(event_type)) = 'page_view' order by event_id limit 3",
        f"insert into raw.leads select * replace (true as is_deleted, timestamp '{T2}' as updated_at,"
        f" {hourly_loaded} as _loaded_at) from raw.leads"
        f" where lead_id = '{out['hourly_deleted']}' order by updated_at desc limit 1",
    )
    # Later the same day: no new event, but the future events of the hourly batch are past now; one lead's job
    # title changes (its fit), and a lead moves to another account (both accounts' lead counts change).
    out["retitled_lead"] = query(lab.db, "select min(lead_id) as l from marts.lead_scores where fit_grade <> 'A'"
                                 f" and lead_id not in ('{out['hourly_lead']}', '{out['hourly_deleted']}')")[0]["l"]
    accounts = query(lab.db, "select company_domain as d from intermediate.int_account_engagement"
                             " where lead_count >= 2 group by 1 order by 1")
    out["from_domain"], out["to_domain"] = accounts[0]["d"], accounts[-1]["d"]
    out["moved_lead"] = query(lab.db, "select min(lead_id) as l from staging.stg_crm__leads"
                                      f" where company_domain = '{out['from_domain']}'")[0]["l"]
    later_loaded = f"timestamp '{max_loaded}' + interval 2 day + interval 5 hour"
    out["t2_later"] = lab.step(
        "t2_later", T2_LATER,
        "insert into raw.leads select * replace ('Chief Executive Officer' as job_title,"
        f" timestamp '{T2}' + interval 4 hour as updated_at, {later_loaded} as _loaded_at) from raw.leads"
        f" where lead_id = '{out['retitled_lead']}' order by updated_at desc limit 1",
        f"insert into raw.leads select * replace ('{out['to_domain']}' as company_domain,"
        f" timestamp '{T2}' + interval 4 hour as updated_at, {later_loaded} as _loaded_at) from raw.leads"
        f" where lead_id = '{out['moved_lead']}' order by updated_at desc limit 1",
    )
    return out


def test_base_build_is_a_full_build_with_its_log_lines(lab):
    lines = rebuild_lines(lab.logs["base"])
    for model in ("stg_crm__event_deliveries_ranked", "int_engagement_daily_points", "int_engagement_burst_minutes"):
        assert f"{model}: full rebuild: the table does not exist yet" in lines


@pytest.mark.parametrize("step, previous_as_of", [("t1", T0), ("t2", T1), ("t2_hourly", None), ("t2_later", None)])
def test_an_incremental_run_equals_a_full_refresh(runs, step, previous_as_of):
    log, diffs = runs[step]
    # a new scoring day rebuilds the per-lead engagement points (every lead's decay moved) and rescores every lead;
    # nothing else rebuilds
    new_day = None if previous_as_of is None else (
        f"as_of {_as_of_of(step)} is on another scoring day than the build's as_of {previous_as_of}"
        " (decay counts whole days)")
    expected = [] if new_day is None else sorted(
        [f"{PER_LEAD}: full rebuild: {new_day}", f"{SCOPE}: full rebuild: {new_day}"]
        + [f"{model}: full rebuild: the lead scope rescores every lead ({new_day})" for model in SCOPE_CONSUMERS])
    assert sorted(rebuild_lines(log)) == expected, "the run was meant to be incremental"
    assert all(f"intermediate.{model}" in diffs for model in SCOPE_CONSUMERS)
    assert "intermediate.int_engagement_daily_points" in diffs
    assert "staging.stg_crm__event_deliveries_ranked" in diffs and "intermediate.int_engagement_burst_minutes" in diffs
    assert f"intermediate.{PER_LEAD}" in diffs
    assert differing(diffs) == {}


def _as_of_of(step):
    return {"t1": T1, "t2": T2}[step]


def test_the_hourly_runs_changed_the_per_lead_points_of_the_leads_they_touched(lab, runs):
    """Guards the set-up of the same-day runs: the hourly batch's events count, its future events count only
    at T2_LATER, the deleted lead's points are gone - so the equality with a full refresh above compared
    per-lead rows that the incremental runs had to rewrite."""
    def rule_points(step, lead):
        db = lab.root / f"full_{step}.duckdb"
        return query(db, f"select sum(event_count) as n, sum(decayed_points) as p from intermediate.{PER_LEAD}"
                         f" where lead_id = '{lead}'")[0]
    hourly, later = (rule_points(s, runs["hourly_lead"]) for s in ("t2_hourly", "t2_later"))
    future = query(lab.db, "select count(*) as n from staging.stg_crm__events"
                           " where event_id like 'h1_future_%'")[0]["n"]
    # page views (those of the three copies that are staged), each matching at least the any-page-view rule:
    # counted at T2_LATER, not at T2_HOURLY
    assert future > 0 and later["n"] >= hourly["n"] + future and later["p"] != hourly["p"]
    assert rule_points("t2", runs["hourly_deleted"])["n"] > 0
    assert rule_points("t2_hourly", runs["hourly_deleted"])["n"] is None


def test_same_day_runs_rescore_only_the_leads_they_touched(lab, runs):
    """A new scoring day rescores every lead; a run on the same day only the leads whose events, row or account
    changed (the equality with a full refresh above shows that no other lead needed it)."""
    def rescored(step):
        return {lead for lead, is_rescored in lab.scopes[step].items() if is_rescored}
    for step in ("t1", "t2"):
        assert rescored(step) == set(lab.scopes[step]) != set()
    hourly, later = rescored("t2_hourly"), rescored("t2_later")
    staged = len(lab.scopes["t2_hourly"])
    # the hourly lead's new events, and the soft-deleted lead (listed so that its rows are deleted)
    assert {runs["hourly_lead"], runs["hourly_deleted"]} <= hourly
    assert 0 < len(hourly) < staged / 4, (len(hourly), staged)
    # later: the hourly lead's events that were future, the retitled lead, the moved lead and every lead of the
    # two accounts whose lead counts changed
    colleagues = {r["lead_id"] for r in query(lab.db, "select lead_id from staging.stg_crm__leads"
                                                      f" where company_domain in ('{runs['from_domain']}',"
                                                      f" '{runs['to_domain']}')")}
    assert len(colleagues) >= 3
    assert {runs["hourly_lead"], runs["retitled_lead"], runs["moved_lead"]} | colleagues <= later
    assert runs["hourly_deleted"] not in later and len(later) < staged / 4, (len(later), staged)
    moved = query(lab.db, "select company_domain from staging.stg_crm__leads"
                          f" where lead_id = '{runs['moved_lead']}'")
    assert moved == [{"company_domain": runs["to_domain"]}]


def test_a_consumer_rebuilt_in_full_is_built_as_a_table(lab, runs):
    """On a new scoring day the scope is full, and dbt builds each consumer as a table and swaps it in
    (should_full_refresh, macros/full_refresh.sql), instead of running it incrementally with a 'reset' row (every
    row written to a temporary table, every stored row deleted, all inserted again); on the same day each runs
    incrementally, inserting the rows of the rescored leads."""
    new_day = (lab.root / "logs" / "t1" / "dbt.log").read_text()
    same_day = (lab.root / "logs" / "t2_hourly" / "dbt.log").read_text()
    for model in SCOPE_CONSUMERS:
        swapped = f'"{model}__dbt_tmp" rename to "{model}"'
        inserted = re.compile(rf'insert into "[^"]+"\."intermediate"\."{model}"')
        assert swapped in new_day and not inserted.search(new_day), model
        assert inserted.search(same_day) and swapped not in same_day, model


def test_a_model_that_missed_a_lead_scope_rebuilds_in_full(lab, runs):
    """The scope's consumers follow it build by build: a run of the scope alone, then of int_scored_leads alone
    (no scope built in its run), then a whole run - each consumer that missed a scope rebuilds in full, with its
    log line, and the result still equals a full refresh."""
    lab.dbt(lab.db, "scope_alone", "run", "--select", SCOPE, as_of=T2_LATER)
    alone = lab.dbt(lab.db, "consumer_alone", "run", "--select", "int_scored_leads", as_of=T2_LATER)
    assert rebuild_lines(alone) == [f"int_scored_leads: full rebuild: the lead scope {SCOPE} was not built in this run"]
    log, diffs = lab.step("t2_resumed", T2_LATER)
    missed = ("full rebuild: it was last built from another lead scope than the one this run continues from"
              " (a run that built the scope without it, or a failed build)")
    assert sorted(rebuild_lines(log)) == sorted(f"{model}: {missed}" for model in SCOPE_CONSUMERS)
    assert differing(diffs) == {}


def test_the_full_refresh_copies_logged_their_rebuild(lab, runs):
    lines = rebuild_lines(lab.logs["t1_full"])
    for model in ("stg_crm__event_deliveries_ranked", "int_engagement_daily_points", "int_engagement_burst_minutes"):
        assert f"{model}: full rebuild: --full-refresh" in lines


def test_the_batches_changed_what_they_were_meant_to(lab, picks, runs):
    """Guards the set-up: the late lead is scored at T2 with its earlier events, the deleted lead is gone,
    events that were future at T0 count now, and a re-delivered event is staged once and counted once."""
    scored = {r["lead_id"] for r in query(lab.db, "select lead_id from marts.lead_scores")}
    assert LATE_LEAD in scored and picks["deleted_lead"] not in scored
    late_events = query(lab.db, f"select count(*) as n from staging.stg_crm__events where lead_id = '{LATE_LEAD}'")
    expected = query(lab.db, "select count(distinct event_id) as n from raw.events"
                     f" where lead_id = '{LATE_LEAD}' and lower(trim(event_type)) in"
                     " (select lower(trim(event_type)) from rules.ref_event_types)")
    assert 0 < late_events[0]["n"] == expected[0]["n"]
    assert picks["future_at_t0"] > 0
    assert query(lab.db, f"select count(*) as n from staging.stg_crm__events where occurred_at > '{T0}'")[0]["n"] > 0
    old = picks["old_ids"][:30]
    per_id = query(lab.db, "select event_id, count(*) as n from staging.stg_crm__events"
                   f" where event_id in ({_ids(old)}) group by 1")
    assert len(per_id) == 30 and {r["n"] for r in per_id} == {1}
    deliveries = query(lab.db, "select count(*) as n from staging.stg_crm__event_deliveries"
                       f" where event_id in ({_ids(old)}) and delivery_status = 'duplicate'")
    raw_rows = query(lab.db, f"select count(*) as n from raw.events where event_id in ({_ids(old)})")
    assert deliveries[0]["n"] == raw_rows[0]["n"] - 30 >= 30
    # the re-delivery with other content came later: the original page is what is kept
    kept = query(lab.db, "select count(*) as n from staging.stg_crm__events"
                 f" where event_id in ({_ids(picks['old_ids'][20:30])}) and page_url = 'https://example.com/pricing'")
    assert kept[0]["n"] == 0
    # the out-of-order re-delivery (loaded before the original) is the kept one
    early = query(lab.db, "select page_url from staging.stg_crm__events"
                  " where event_id = (select min(event_id) from raw.events where event_id like 'b1_late_%')")
    assert early == [{"page_url": "https://example.com/careers"}]
    # the data set has bursts, so the burst minutes (and the daily points that drop them) are compared non-empty
    bursts = query(lab.db, "select count(*) as n from intermediate.int_engagement_burst_minutes")[0]["n"]
    assert bursts > 0
    reconciliation = query(lab.db, "select * from marts.pipeline_reconciliation where source_table = 'events'")[0]
    raw = query(lab.db, "select count(*) as n from raw.events")[0]["n"]
    assert reconciliation["is_reconciled"] and reconciliation["raw_rows"] == raw


def test_a_row_loaded_before_the_look_back_window_triggers_a_full_rebuild(lab, runs):
    log, diffs = lab.step(
        "t3_old_row", T3,
        "insert into raw.events select 'b3_old_' || event_id, lead_id, event_type, channel, occurred_at, page_url,"
        " search_term, properties, timestamp '2026-06-01' from raw.events order by event_id limit 3",
    )
    lines = rebuild_lines(log)
    assert any(line.startswith("stg_crm__event_deliveries_ranked: full rebuild: raw events loaded before")
               for line in lines), lines
    for model in ("int_engagement_daily_points", "int_engagement_burst_minutes"):
        assert f"{model}: full rebuild: the event deliveries were rebuilt since this table was built" in lines
    assert differing(diffs) == {}


def test_a_seed_change_triggers_a_full_rebuild(lab, runs):
    rules = lab.project / "seeds" / "scoring_engagement_rules.csv"
    text = rules.read_text()
    lines = text.splitlines()
    header = lines[0].split(",")
    points = header.index("points")
    row = lines[1].split(",")
    row[points] = str(float(row[points]) + 1)
    rules.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")
    log, diffs = lab.step("t3_seed", T3, seed=True)
    lines_ = rebuild_lines(log)
    for model in ("int_engagement_daily_points", "int_engagement_burst_minutes"):
        assert any(line.startswith(f"{model}: full rebuild: the rule-set version changed from")
                   for line in lines_), lines_
    assert not any(line.startswith("stg_crm__event_deliveries_ranked") for line in lines_)
    assert differing(diffs) == {}


def test_an_earlier_as_of_triggers_a_full_rebuild(lab, runs):
    log, diffs = lab.step("earlier", EARLIER)
    for model in ("int_engagement_daily_points", "int_engagement_burst_minutes"):
        assert f"{model}: full rebuild: as_of {EARLIER} is earlier than the build's as_of {T3}" in rebuild_lines(log)
    assert differing(diffs) == {}


def test_the_last_incremental_warehouse_passes_its_data_tests(lab, runs):
    """A `dbt build` (models and data tests) on the incrementally built warehouse, a little later."""
    log = lab.dbt(lab.db, "final_build", "build", as_of=T3)
    assert "int_engagement_daily_points: full rebuild" not in log


def test_buckets_of_the_older_layout_gain_built_as_of_and_are_rebuilt(lab, runs):
    """A warehouse built before layout 2 of the buckets has no column built_as_of. The models keep
    on_schema_change='ignore', so the pre-hook adds it; the layout bump rebuilds the table in place, filling it
    with the run's as_of, and the result equals a full refresh."""
    log, diffs = lab.step(
        "t4_old_layout", T3,
        "alter table intermediate.int_engagement_daily_points drop column built_as_of",
        "update intermediate.int_engagement_daily_points_state set state_layout = 1",
    )
    assert "int_engagement_daily_points: added column(s) built_as_of of the new layout to the stored table" \
        in log_lines(log)
    assert "int_engagement_daily_points: full rebuild: the stored table has an older layout (version 1, now 2)" \
        in rebuild_lines(log)
    stamped = query(lab.db, "select count(*) as n, count(built_as_of) as stamped, min(built_as_of) as first_at,"
                    " max(built_as_of) as last_at from intermediate.int_engagement_daily_points")[0]
    assert stamped["n"] == stamped["stamped"] > 0
    assert str(stamped["first_at"]) == str(stamped["last_at"]) == T3
    assert differing(diffs) == {}


@pytest.mark.parametrize("model", ["int_engagement_rule_points", "int_lead_rule_points"])
def test_rule_points_of_the_older_layout_gain_built_as_of_and_are_rebuilt(lab, runs, model):
    """Layout 2 of the per-lead rule points added built_as_of, which scopes their data tests to the latest run's
    rows. A table stored before it gains the column (pre-hook) and is rebuilt in place; the result equals a full
    refresh, and every row carries the run's as_of."""
    log, diffs = lab.step(
        f"t6_old_{model}", T3,
        f"alter table intermediate.{model} drop column built_as_of",
        f"update intermediate.{model}_state set state_layout = 1",
    )
    assert f"{model}: added column(s) built_as_of of the new layout to the stored table" in log_lines(log)
    assert f"{model}: full rebuild: the stored table has an older layout (version 1, now 2)" in rebuild_lines(log)
    stamped = query(lab.db, f"select count(*) as n, count(built_as_of) as stamped, min(built_as_of) as first_at,"
                    f" max(built_as_of) as last_at from intermediate.{model}")[0]
    assert stamped["n"] == stamped["stamped"] > 0 and str(stamped["first_at"]) == str(stamped["last_at"]) == T3
    assert differing(diffs) == {}


def test_deliveries_of_the_older_layout_lose_the_retired_columns_and_are_rebuilt(lab, runs):
    """Layout 2 of the ranked deliveries stored delivery_content_hash and event_delivery_key; layout 3 hashes the
    content when ranking and leaves the key to the view. The strategy inserts into the stored table's columns,
    so the pre-hook drops the retired ones; the layout bump rebuilds the table in place, and the result equals a
    full refresh."""
    log, diffs = lab.step(
        "t5_old_deliveries_layout", T3,
        "alter table staging.stg_crm__event_deliveries_ranked add column delivery_content_hash varchar",
        "alter table staging.stg_crm__event_deliveries_ranked add column event_delivery_key varchar",
        "update staging.stg_crm__event_deliveries_ranked set delivery_content_hash = 'h', event_delivery_key = 'k',"
        " deliveries_layout = 2",
    )
    assert "stg_crm__event_deliveries_ranked: dropped column(s) delivery_content_hash, event_delivery_key of an" \
        " older layout from the stored table" in log_lines(log)
    assert "stg_crm__event_deliveries_ranked: full rebuild: the stored table has an older layout (version 2, now 4)" \
        in rebuild_lines(log)
    columns = query(lab.db, "select column_name from information_schema.columns"
                    " where table_name = 'stg_crm__event_deliveries_ranked'")
    assert not {"delivery_content_hash", "event_delivery_key"} & {c["column_name"] for c in columns}
    layouts = query(lab.db, "select min(deliveries_layout) as low, max(deliveries_layout) as high, count(*) as n"
                    " from staging.stg_crm__event_deliveries_ranked")[0]
    assert layouts["low"] == layouts["high"] == 4 and layouts["n"] > 0  # 4: has_bad_timestamp (macros/incremental.sql)
    assert differing(diffs) == {}


def test_an_upgraded_warehouse_loses_the_retired_burst_tables_and_nothing_else(tmp_path):
    """int_engagement_daily_bursts (and its state table) were replaced by int_engagement_burst_minutes; dbt never
    drops a retired model's table, so the run-start hook does (macros/stale_relations.sql). Other relations in
    the schema, and a same-named table in another schema, stay."""
    db = tmp_path / "upgraded.duckdb"
    _execute(db,
             "create schema intermediate", "create schema analyst",
             "create table intermediate.int_engagement_daily_bursts as select 1 as lead_id",
             "create table intermediate.int_engagement_daily_bursts_state as select 1 as lead_id",
             "create table intermediate.analyst_notes as select 1 as note",
             "create table analyst.int_engagement_daily_bursts as select 1 as lead_id")
    proc = run_dbt(PROJECT_ROOT, db, "seed", vars={"as_of": T2}, target_path=tmp_path / "target",
                   log_path=tmp_path / "logs")
    assert_dbt_ok(proc, "dbt seed on an upgraded warehouse")
    tables = {(r["table_schema"], r["table_name"]) for r in query(
        db, "select table_schema, table_name from information_schema.tables"
            " where table_schema in ('intermediate', 'analyst')")}
    assert ("intermediate", "int_engagement_daily_bursts") not in tables
    assert ("intermediate", "int_engagement_daily_bursts_state") not in tables
    assert {("intermediate", "analyst_notes"), ("analyst", "int_engagement_daily_bursts")} <= tables
    assert proc.stdout.count("a retired model (") == 2, proc.stdout[-3000:]
