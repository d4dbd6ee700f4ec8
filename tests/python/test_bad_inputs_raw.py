"""Bad raw inputs through a real `dbt build` (issue 6, docs/reliability.md): opportunities (unknown lead, no
lead, no id, an older version, a negative amount, won without a close date), schema drift in the raw tables
(the raw-contract check of macros/raw_contract.sql) and empty raw tables.

One module-scoped data set: 200 generated leads plus hand-made rows, built once with `dbt build`. Every other
case copies that built warehouse to one fixed path (so dbt's partial parse is reused), changes the raw tables
and runs dbt again. Expected values are worked out by hand from the planted rows, or computed in Python from
the raw rows (`stage_opportunities` below, and the oracle's staging of leads and events).
"""
from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

import oracle
from conftest import AS_OF, PROJECT_ROOT, SEEDS_DIR, assert_dbt_ok, query, run_dbt

T0 = dt.datetime(2026, 11, 1)
FUNNEL_LEAD = "X_FUNNEL"
FUNNEL_SOURCE = "drift_fixture"
TOUCH_AT = T0 - dt.timedelta(days=20)  # meeting_held: sales accepted the lead
OPP_CREATED_AT = T0 - dt.timedelta(days=10)  # the won opportunity without a close date
# dbt unit tests do not read the data; the session build and `make test`'s build run them
UNIT_EXCLUDE = ("--exclude", "test_type:unit")


# --------------------------------------------------------------------------------------------------
# The independent Python staging of opportunities (docs/reliability.md, "Opportunities")
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OpportunityStatus:
    row: int  # position in the raw rows
    opportunity_id: str | None
    status: str  # staged, superseded, quarantined
    reason: str | None


def _desc_nulls_last(value) -> tuple:
    return (value is None, -value.timestamp() if value is not None else 0.0)


def stage_opportunities(raw_rows: list[dict], staged_lead_ids: set[str]) -> list[OpportunityStatus]:
    """Per raw row: rows without an id are quarantined; of one id the latest (loaded, closed, created; desc,
    nulls last) is checked - no lead: missing_lead_id, a lead that is not staged: unknown_lead - and the others
    are superseded."""
    by_id: dict[str, list[int]] = {}
    out: dict[int, OpportunityStatus] = {}
    for i, row in enumerate(raw_rows):
        opp_id = oracle.clean_text(row["opportunity_id"])
        if opp_id is None:
            out[i] = OpportunityStatus(i, None, "quarantined", "missing_opportunity_id")
        else:
            by_id.setdefault(opp_id, []).append(i)
    for opp_id, rows in by_id.items():
        ordered = sorted(rows, key=lambda i: (_desc_nulls_last(raw_rows[i]["_loaded_at"]),
                                              _desc_nulls_last(raw_rows[i]["closed_at"]),
                                              _desc_nulls_last(raw_rows[i]["created_at"])))
        latest, older = ordered[0], ordered[1:]
        lead_id = oracle.clean_text(raw_rows[latest]["lead_id"])
        reason = "missing_lead_id" if lead_id is None else None if lead_id in staged_lead_ids else "unknown_lead"
        out[latest] = OpportunityStatus(latest, opp_id, "quarantined" if reason else "staged", reason)
        out.update({i: OpportunityStatus(i, opp_id, "superseded", None) for i in older})
    return [out[i] for i in range(len(raw_rows))]


def _counts(statuses) -> dict:
    return dict(raw_rows=len(statuses), staged_rows=sum(s.status == "staged" for s in statuses),
                quarantined_rows=sum(s.status == "quarantined" for s in statuses),
                superseded_rows=sum(s.status == "superseded" for s in statuses))


def test_stage_opportunities_on_hand_made_rows():
    at = dt.datetime(2026, 9, 1)
    rows = [
        dict(opportunity_id="o1", lead_id=" L1 ", _loaded_at=at, closed_at=None, created_at=at),
        dict(opportunity_id="o1", lead_id="nobody", _loaded_at=at + dt.timedelta(hours=1), closed_at=None,
             created_at=at),  # the latest version names an unknown lead
        dict(opportunity_id="o2", lead_id="L1", _loaded_at=None, closed_at=None, created_at=at),
        dict(opportunity_id="o2", lead_id="  ", _loaded_at=at, closed_at=None, created_at=at),  # no lead
        dict(opportunity_id=" ", lead_id="L1", _loaded_at=at, closed_at=None, created_at=at),
        dict(opportunity_id="o3", lead_id="L1", _loaded_at=at, closed_at=None, created_at=at),
    ]
    got = [(s.status, s.reason) for s in stage_opportunities(rows, {"L1"})]
    assert got == [("superseded", None), ("quarantined", "unknown_lead"), ("superseded", None),
                   ("quarantined", "missing_lead_id"), ("quarantined", "missing_opportunity_id"), ("staged", None)]
    assert _counts(stage_opportunities(rows, {"L1"})) == dict(raw_rows=6, staged_rows=1, quarantined_rows=3,
                                                              superseded_rows=2)


# --------------------------------------------------------------------------------------------------
# The data set
# --------------------------------------------------------------------------------------------------
def _funnel_lead_rows() -> tuple[dict, list[dict]]:
    """A lead made to be an MQL (grade A, engaged), accepted by sales 20 days before as_of."""
    created = T0 - dt.timedelta(days=60)
    lead = dict(lead_id=FUNNEL_LEAD, email="jane.doe@funnel-fixture.com", first_name="Jane", last_name="Doe",
                job_title="VP Marketing", company_name="Funnel Fixture", company_domain="funnel-fixture.com",
                industry="Software", employee_count="500", annual_revenue=500_000_000.0, country="United States",
                city="Boston", lead_source=FUNNEL_SOURCE, budget="yes", authority="yes", need="yes",
                timeline="0-3 months", created_at=created, updated_at=created, is_deleted=False,
                _loaded_at=created)
    events = []
    for k in range(12):
        at = T0 - dt.timedelta(days=1 + k)
        for j, (event_type, url) in enumerate((("demo_request", "https://www.vendor.com/demo"),
                                               ("page_view", "https://www.vendor.com/pricing"),
                                               ("content_download", "https://www.vendor.com/resources/x.pdf"),
                                               ("webinar_attend", None), ("email_click", None))):
            events.append(dict(event_id=f"X_EV_{k}_{j}", lead_id=FUNNEL_LEAD, event_type=event_type,
                               channel="website", occurred_at=at + dt.timedelta(minutes=j), page_url=url,
                               search_term=None, properties=None, _loaded_at=at + dt.timedelta(hours=1)))
    events.append(dict(event_id="X_EV_meeting", lead_id=FUNNEL_LEAD, event_type="meeting_held", channel="crm",
                       occurred_at=TOUCH_AT, page_url=None, search_term=None, properties='{"owner": "rep_1"}',
                       _loaded_at=TOUCH_AT))
    return lead, events


def _opp(opp_id, lead_id, stage, is_won, created_at, closed_at, amount, loaded_at):
    return dict(opportunity_id=opp_id, lead_id=lead_id, created_at=created_at, stage=stage, is_won=is_won,
                closed_at=closed_at, amount=amount, _loaded_at=loaded_at)


def _insert(con, table: str, rows: list[dict]) -> None:
    names = [r[0] for r in con.execute(f"describe raw.{table}").fetchall()]
    con.executemany(f"insert into raw.{table} ({', '.join(names)}) values ({', '.join('?' for _ in names)})",
                    [[row.get(n) for n in names] for row in rows])


def _plant(db: Path) -> dict:
    con = duckdb.connect(str(db))
    try:
        # a generated lead with one live version and no opportunity, for the negative amount
        (neg_lead,) = con.execute(
            "select lead_id from raw.leads where lead_id is not null and created_at < ? and updated_at < ? "
            "group by lead_id having count(*) = 1 and not bool_or(coalesce(is_deleted, false)) "
            "and lead_id not in (select lead_id from raw.opportunities where lead_id is not null) "
            "order by lead_id limit 1", [T0, T0]).fetchone()
        lead, events = _funnel_lead_rows()
        _insert(con, "leads", [lead])
        _insert(con, "events", events)
        day = dt.timedelta(days=1)
        _insert(con, "opportunities", [
            _opp("X_WON_NO_DATE", FUNNEL_LEAD, "won", True, OPP_CREATED_AT, None, 12000.0, OPP_CREATED_AT + day),
            _opp("X_UNKNOWN_LEAD", "NO_SUCH_LEAD", "open", False, T0 - 5 * day, None, 100.0, T0 - 5 * day),
            _opp("X_NO_LEAD", "   ", "open", False, T0 - 5 * day, None, 100.0, T0 - 5 * day),
            _opp(None, neg_lead, "won", True, T0 - 5 * day, T0 - 4 * day, 50.0, T0 - 4 * day),
            _opp("X_NEGATIVE", neg_lead, "won", True, T0 - 9 * day, T0 - 3 * day, -2500.0, T0 - 3 * day),
            # two versions: the older names a live lead, the latest an unknown one
            _opp("X_VERSIONS", neg_lead, "open", False, T0 - 9 * day, None, 10.0, T0 - 8 * day),
            _opp("X_VERSIONS", "GONE_LEAD", "lost", False, T0 - 9 * day, T0 - 2 * day, 10.0, T0 - 2 * day),
        ])
        return dict(neg_lead=neg_lead)
    finally:
        con.close()


@dataclass
class Built:
    root: Path
    base_db: Path  # the built warehouse; never changed after the base build
    work_db: Path  # every further case runs here, on a fresh copy of base_db
    target: Path
    logs: Path
    stdout: str
    planted: dict
    expected: dict  # source_table -> reconciliation counts, computed in Python
    opportunity_statuses: list[OpportunityStatus]
    staged_lead_ids: set[str]


def _expected_staging(db: Path):
    raw = oracle.fetch_raw(db)
    dictionaries = oracle.Dictionaries.from_seeds(oracle.load_seeds(SEEDS_DIR))
    as_of = oracle.parse_as_of(AS_OF)
    leads, lead_counts, _ = oracle.stage_leads(raw["leads"], dictionaries, as_of)
    _, event_counts, _ = oracle.stage_events(raw["events"], set(leads), dictionaries.event_types, as_of)
    statuses = stage_opportunities(raw["opportunities"], set(leads))
    expected = {t: dict(raw_rows=c.raw_rows, staged_rows=c.staged_rows, quarantined_rows=c.quarantined_rows,
                        superseded_rows=c.superseded_rows)
                for t, c in (("leads", lead_counts), ("events", event_counts))}
    expected["opportunities"] = _counts(statuses)
    return expected, statuses, set(leads)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    from lead_scoring import datagen

    root = tmp_path_factory.mktemp("bad_inputs_raw")
    # built at the work path, so that every later dbt run sees the same profile and reuses the partial parse
    work_db = root / "work.duckdb"
    datagen.generate(database=str(work_db), leads=200, events_per_lead=10, days=180, seed=11, as_of=AS_OF)
    planted = _plant(work_db)
    expected, statuses, staged = _expected_staging(work_db)
    proc = run_dbt(PROJECT_ROOT, work_db, "build", *UNIT_EXCLUDE, vars={"as_of": AS_OF},
                   target_path=root / "target", log_path=root / "logs")
    assert_dbt_ok(proc, "dbt build of the bad-input data set")
    base_db = root / "base.duckdb"
    shutil.copyfile(work_db, base_db)
    return Built(root, base_db, work_db, root / "target", root / "logs", proc.stdout, planted,
                 expected, statuses, staged)


def _fresh_copy(b: Built, *statements: str) -> Path:
    """A copy of the built warehouse at the one work path, with `statements` run on it."""
    for suffix in ("", ".wal"):
        Path(str(b.work_db) + suffix).unlink(missing_ok=True)
    shutil.copyfile(b.base_db, b.work_db)
    con = duckdb.connect(str(b.work_db))
    try:
        for sql in statements:
            con.execute(sql)
    finally:
        con.close()
    return b.work_db


def _dbt(b: Built, db: Path, *args):
    return run_dbt(PROJECT_ROOT, db, *args, vars={"as_of": AS_OF}, target_path=b.target, log_path=b.logs)


def _reconciliation(db: Path) -> dict:
    return {r.pop("source_table"): r for r in query(db, "select * from marts.pipeline_reconciliation")}


# --------------------------------------------------------------------------------------------------
# Opportunities
# --------------------------------------------------------------------------------------------------
def test_bad_opportunities_are_quarantined_with_reason_codes(built):
    rows = query(built.base_db, "select opportunity_id, lead_id, reason_code from marts.quarantined_opportunities")
    got = sorted((r["opportunity_id"] or "", r["reason_code"]) for r in rows)
    expected = sorted((s.opportunity_id or "", s.reason) for s in built.opportunity_statuses
                      if s.status == "quarantined")
    assert got == expected
    planted = {r["opportunity_id"]: r for r in rows}
    assert planted["X_UNKNOWN_LEAD"]["reason_code"] == "unknown_lead"
    assert planted["X_NO_LEAD"]["reason_code"] == "missing_lead_id"
    assert planted["X_VERSIONS"]["reason_code"] == "unknown_lead" and planted["X_VERSIONS"]["lead_id"] == "GONE_LEAD"
    assert planted[None]["reason_code"] == "missing_opportunity_id"
    staged = {r["opportunity_id"]
              for r in query(built.base_db, "select opportunity_id from staging.stg_crm__opportunities")}
    assert not staged & {"X_UNKNOWN_LEAD", "X_NO_LEAD", "X_VERSIONS"}


def test_negative_amount_is_kept_as_a_deal_without_an_amount(built):
    [opp] = query(built.base_db, "select * from staging.stg_crm__opportunities where opportunity_id = 'X_NEGATIVE'")
    assert (opp["amount"], opp["amount_raw"], opp["has_invalid_amount"], opp["is_won"]) == (None, -2500.0, True, True)
    [outcome] = query(built.base_db, "select * from intermediate.int_lead_outcomes where lead_id = ?",
                      [built.planted["neg_lead"]])
    # the only staged opportunity of the lead is the negative one: converted and won, won amount 0
    assert (outcome["opportunity_count"], outcome["is_converted"], outcome["is_won"], outcome["won_amount"]) == (
        1, True, True, 0.0)
    assert outcome["first_won_at"] == T0 - dt.timedelta(days=3)


def test_won_without_close_date_is_won_at_creation_in_evidence_and_funnel(built):
    db = built.base_db
    [score] = query(db, "select is_mql, matrix_cell from marts.lead_scores where lead_id = ?", [FUNNEL_LEAD])
    assert score["is_mql"], f"fixture: the funnel lead must be an MQL ({score})"
    [opp] = query(db, "select * from staging.stg_crm__opportunities where opportunity_id = 'X_WON_NO_DATE'")
    assert (opp["closed_at"], opp["won_at"], opp["is_won_at_imputed"]) == (None, OPP_CREATED_AT, True)
    [outcome] = query(db, "select * from intermediate.int_lead_outcomes where lead_id = ?", [FUNNEL_LEAD])
    assert (outcome["is_won"], outcome["first_won_at"], outcome["won_amount"]) == (True, OPP_CREATED_AT, 12000.0)
    [stages] = query(db, "select * from marts.lead_funnel_stages where lead_id = ?", [FUNNEL_LEAD])
    # one run, so the MQL moment is bounded by the first accepting touch; accepted then, opportunity and won
    # at the opportunity's creation
    assert (stages["mql_at"], stages["accepted_at"], stages["opportunity_at"], stages["won_at"], stages["is_won"]) == (
        TOUCH_AT, TOUCH_AT, OPP_CREATED_AT, OPP_CREATED_AT, True)
    [funnel] = query(db, "select * from marts.lead_funnel where lead_source = ?", [FUNNEL_SOURCE])
    assert (funnel["leads"], funnel["accepted_leads"], funnel["opportunity_leads"], funnel["won_leads"],
            funnel["median_hours_opportunity_to_won"]) == (1, 1, 1, 1, 0)
    # everywhere: a lead the funnel counts as won is won in the evidence marts, and not before it
    disagree = query(db, """
        select f.lead_id from marts.lead_funnel_stages as f
        left join intermediate.int_lead_outcomes as o on f.lead_id = o.lead_id
        where f.is_won and not (coalesce(o.is_won, false) and f.won_at >= o.first_won_at)""")
    assert disagree == []


def test_reconciliation_is_exact_for_every_raw_table(built):
    got = _reconciliation(built.base_db)
    assert set(got) == {"leads", "events", "opportunities"}
    for table, expected in built.expected.items():
        assert {k: got[table][k] for k in expected} == expected, table
        assert got[table]["is_reconciled"] is True, table
    assert built.expected["opportunities"]["quarantined_rows"] >= 4  # the planted ones at least


# --------------------------------------------------------------------------------------------------
# Schema drift: the raw-contract check
# --------------------------------------------------------------------------------------------------
def test_schema_drift_fails_the_build_naming_table_column_and_fix(built):
    """Three drifts at once (one dbt run; each is reported on its own line): a column dropped from raw.events,
    raw.leads.annual_revenue landed as text holding 'lots', raw.events.occurred_at landed as a boolean (text is
    accepted there: staging parses it, test_raw_timestamps_and_placeholders.py)."""
    db = _fresh_copy(
        built,
        "alter table raw.events drop column channel",
        "alter table raw.leads alter annual_revenue type varchar",
        "update raw.leads set annual_revenue = 'lots' where lead_id in (select lead_id from raw.leads limit 5)",
        "alter table raw.events drop column occurred_at",
        "alter table raw.events add column occurred_at boolean",
    )
    proc = _dbt(built, db, "build", "--select", "stg_crm__events", "stg_crm__leads", *UNIT_EXCLUDE)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    problems = [line.strip() for line in output.splitlines() if line.strip().startswith("- Raw table ")]
    assert problems == [
        "- Raw table raw.leads does not match the raw contract: column annual_revenue is VARCHAR, expected a number "
        "(DOUBLE, DECIMAL, INTEGER, ...). Fix: land annual_revenue as a number (DOUBLE, DECIMAL, INTEGER, ...) in "
        "the loader, or set LEAD_SCORING_RAW_LEADS_TABLE to a view over the table that casts it (try_cast, so bad "
        "values become null).",
        "- Raw table raw.events does not match the raw contract: column channel is missing; the contract expects "
        "text (any type; staging casts it to text). Fix: land channel in the loader as docs/raw_contract.md says, or set "
        "LEAD_SCORING_RAW_EVENTS_TABLE to a view over the table that adds it (null where unknown).",
        "- Raw table raw.events does not match the raw contract: column occurred_at is BOOLEAN, expected a timestamp "
        "(TIMESTAMP, TIMESTAMP WITH TIME ZONE or DATE) or text (ISO 8601, epoch seconds or a format of "
        "seeds/raw_timestamp_formats.csv). Fix: land occurred_at as a timestamp (TIMESTAMP, TIMESTAMP WITH TIME ZONE "
        "or DATE) or text (ISO 8601, epoch seconds or a format of seeds/raw_timestamp_formats.csv) in the loader, or "
        "set LEAD_SCORING_RAW_EVENTS_TABLE to a view over the table that casts it (try_cast, so bad values become "
        "null).",
    ], output[-3000:]
    assert "The raw tables do not match the raw contract (3 problem(s))" in output
    # the check stops the run before any model is built
    assert " OK created " not in output and "START sql" not in output


def test_extra_columns_are_ignored_in_events_and_opportunities_and_carried_in_leads(built):
    db = _fresh_copy(
        built,
        "alter table raw.events add column utm_campaign varchar default 'spring'",
        "alter table raw.opportunities add column win_probability double default 0.5",
        # a column name that is no plain identifier: never quoted into SQL, skipped with a log line
        """alter table raw.leads add column "Segment'); drop table raw.leads; --" varchar default 'x'""",
    )
    models = ["stg_crm__lead_versions", "stg_crm__leads", "stg_crm__event_deliveries_ranked",
              "stg_crm__event_deliveries", "stg_crm__events",
              "stg_crm__opportunity_versions", "stg_crm__opportunities", "pipeline_reconciliation"]
    proc = _dbt(built, db, "build", "--select", *models, *UNIT_EXCLUDE)
    assert_dbt_ok(proc, "dbt build with extra raw columns")
    out = proc.stdout
    assert "raw table raw.events has column(s) outside the raw contract: utm_campaign; staging ignores them." in out
    assert ("raw table raw.opportunities has column(s) outside the raw contract: win_probability; "
            "staging ignores them.") in out
    # leads: the generated custom field crm_segment, logged and carried (base build)
    assert ("raw table raw.leads has column(s) outside the raw contract: crm_segment; staging carries them "
            "through as custom CRM fields.") in built.stdout
    columns = {(r["table_name"], r["column_name"]) for r in query(
        db, "select table_name, column_name from information_schema.columns where table_schema = 'staging'")}
    assert ("stg_crm__events", "utm_campaign") not in columns
    assert ("stg_crm__event_deliveries_ranked", "utm_campaign") not in columns
    assert ("stg_crm__opportunities", "win_probability") not in columns
    assert ("stg_crm__leads", "crm_segment") in columns
    assert ("lead_scoring: raw leads column 'Segment'); drop table raw.leads; --' is not a plain identifier and is "
            "not carried through") in out
    assert not any("segment')" in name.lower() for _, name in columns)
    assert query(db, "select count(*) as n from raw.leads") == [{"n": built.expected["leads"]["raw_rows"]}]
    got = _reconciliation(db)
    for table, expected in built.expected.items():
        assert {k: got[table][k] for k in expected} == expected, table


def test_a_missing_raw_table_is_left_to_staging_which_names_it(built):
    db = _fresh_copy(built, "drop table raw.opportunities")
    proc = _dbt(built, db, "build", "--select", "stg_crm__opportunity_versions", *UNIT_EXCLUDE)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "raw contract not checked for raw.opportunities: the table does not exist." in output
    assert "opportunities does not exist" in output, output[-3000:]
    assert "does not match the raw contract" not in output


# --------------------------------------------------------------------------------------------------
# Empty raw tables
# --------------------------------------------------------------------------------------------------
def test_empty_events_table_builds_scores_every_lead_at_engagement_zero_and_reconciles(built):
    db = _fresh_copy(built, "delete from raw.events")
    proc = _dbt(built, db, "build", *UNIT_EXCLUDE)
    assert_dbt_ok(proc, "dbt build on an empty raw.events")
    assert "ERROR=0" in proc.stdout and "SKIP=0" in proc.stdout
    scores = query(db, "select lead_id, engagement_score, engagement_level from marts.lead_scores")
    assert {r["lead_id"] for r in scores} == built.staged_lead_ids
    assert {(r["engagement_score"], r["engagement_level"]) for r in scores} == {(0.0, "4")}
    got = _reconciliation(db)
    assert got["events"] == dict(raw_rows=0, staged_rows=0, quarantined_rows=0, superseded_rows=0, is_reconciled=True)
    for table in ("leads", "opportunities"):
        assert {k: got[table][k] for k in built.expected[table]} == built.expected[table], table
        assert got[table]["is_reconciled"] is True


def test_all_raw_tables_empty_build_and_reconcile_to_zero(built):
    db = _fresh_copy(built, "delete from raw.events", "delete from raw.opportunities", "delete from raw.leads")
    # the models upstream of the reconciliation and the scores, with every data test whose parents all ran
    proc = _dbt(built, db, "build", "--select", "+pipeline_reconciliation", "+lead_scores",
                "+quarantined_opportunities", "--indirect-selection", "cautious", *UNIT_EXCLUDE)
    assert_dbt_ok(proc, "dbt build on empty raw tables")
    assert "ERROR=0" in proc.stdout and "SKIP=0" in proc.stdout
    zero = dict(raw_rows=0, staged_rows=0, quarantined_rows=0, superseded_rows=0, is_reconciled=True)
    assert _reconciliation(db) == {"leads": zero, "events": zero, "opportunities": zero}
    for relation in ("marts.lead_scores", "marts.quarantined_opportunities", "staging.stg_crm__opportunities"):
        assert query(db, f"select count(*) as n from {relation}") == [{"n": 0}], relation
