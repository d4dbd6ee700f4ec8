"""Score history, score-change ledger and MQL crossings (models/marts/history) over several scoring runs.

One small generated data set is scored at three increasing as_of values (events after as_of are not visible
yet, so new events arrive and decay progresses between runs), with a rule weight change and a soft-deleted
lead before the third run, then an old as_of is replayed with --full-refresh. Every expectation is computed
here from what each run's `lead_scores` said at the time, from the raw events, or from the seed edit - never
from the history models themselves.
"""
from __future__ import annotations

import csv
import io
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from conftest import PROJECT_ROOT, assert_dbt_ok, copy_project, query, run_dbt

AS_OFS = ("2026-10-01 00:00:00", "2026-10-15 00:00:00", "2026-11-01 00:00:00")
POINT_IN_TIME = "2026-10-20 00:00:00"  # between the second and the third run
DATAGEN_ARGS = dict(leads=600, events_per_lead=20, days=180, seed=7, as_of="2026-11-01 00:00:00")
CHANGED_RULE = "eng_product_page"  # its points go from 2 to 3 before the third run
HISTORY_MODELS = ("path:models/marts/history", "path:models/intermediate/history")
STATE_FIELDS = ("fit_score", "engagement_score", "lead_score", "fit_grade", "engagement_level", "matrix_cell",
                "lifecycle_stage", "ruleset_version")
BURST_THRESHOLD = 30  # seeds/scoring_signal_rules.csv, sig_bot_burst
SIGNAL_RULE_IDS = frozenset(
    row["rule_id"] for row in csv.DictReader((PROJECT_ROOT / "seeds" / "scoring_signal_rules.csv").open())
)

Key = tuple[str, str]  # (model_id, lead_id)


# --------------------------------------------------------------------------------------------------
# Small pure helpers (the independent side of the comparisons)
# --------------------------------------------------------------------------------------------------
def by_key(rows: Iterable[Mapping]) -> dict[Key, dict]:
    return {(r["model_id"], r["lead_id"]): dict(r) for r in rows}


def state(row: Mapping) -> tuple:
    """The fields whose change makes a new history version."""
    return tuple(row[f] for f in STATE_FIELDS)


def changed_keys(before: Mapping[Key, Mapping], after: Mapping[Key, Mapping]) -> set[Key]:
    """Leads scored in both runs whose state differs."""
    return {k for k in before.keys() & after.keys() if state(before[k]) != state(after[k])}


def mql_flips(before: Mapping[Key, Mapping], after: Mapping[Key, Mapping]) -> dict[Key, str]:
    """Leads whose is_mql flipped between two runs (a lead missing from a run counts as not an MQL)."""
    flips = {}
    for key in before.keys() | after.keys():
        was = bool(before.get(key, {}).get("is_mql", False))
        now = bool(after.get(key, {}).get("is_mql", False))
        if was != now:
            flips[key] = "became_mql" if now else "dropped_below_mql"
    return flips


def replace_points(csv_text: str, rule_id: str, points: str) -> str:
    """The engagement-rules seed with `points` set on the row of `rule_id`."""
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert any(r["rule_id"] == rule_id for r in rows), rule_id
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0].keys()), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "points": points} if row["rule_id"] == rule_id else row)
    return out.getvalue()


def test_replace_points_edits_one_row():
    text = "model_id,rule_id,points\nm,a,1\nm,b,2\n"
    assert replace_points(text, "b", "5") == "model_id,rule_id,points\nm,a,1\nm,b,5\n"


def test_mql_flips_counts_missing_as_not_mql():
    before = {("m", "1"): {"is_mql": True}, ("m", "2"): {"is_mql": False}, ("m", "3"): {"is_mql": True}}
    after = {("m", "1"): {"is_mql": True}, ("m", "2"): {"is_mql": True}, ("m", "4"): {"is_mql": True}}
    assert mql_flips(before, after) == {("m", "2"): "became_mql", ("m", "3"): "dropped_below_mql",
                                        ("m", "4"): "became_mql"}


# --------------------------------------------------------------------------------------------------
# The runs
# --------------------------------------------------------------------------------------------------
@dataclass
class HistoryRuns:
    db_path: Path
    scores: list[dict[Key, dict]]  # lead_scores after each of the three runs
    deleted_lead: str  # soft-deleted in the CRM before the third run
    tables_before_replay: dict[str, list[tuple]]
    tables_after_replay: dict[str, list[tuple]]
    test_stdout: str


def _snapshot_tables(db_path: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return {
            table: con.execute(f"select * from marts.{table} order by all").fetchall()
            for table in ("lead_score_snapshots", "lead_rule_points_snapshots")
        }
    finally:
        con.close()


def _lead_scores(db_path: Path) -> dict[Key, dict]:
    return by_key(query(db_path, "select * from marts.lead_scores"))


@pytest.fixture(scope="module")
def history_runs(tmp_path_factory) -> HistoryRuns:
    from lead_scoring import datagen

    root = tmp_path_factory.mktemp("history")
    project = root / "project"
    copy_project(PROJECT_ROOT, project)  # the seed edit below must not touch the working tree
    db_path = root / "wh.duckdb"
    datagen.generate(database=str(db_path), **DATAGEN_ARGS)
    paths = dict(target_path=root / "target", log_path=root / "logs")

    def dbt(*args, as_of):
        proc = run_dbt(project, db_path, *args, vars={"as_of": as_of}, **paths)
        assert_dbt_ok(proc, f"dbt {' '.join(args)} at {as_of}")
        return proc

    scores = []
    dbt("seed", as_of=AS_OFS[0])
    for as_of in AS_OFS[:2]:
        dbt("run", "--select", *(f"+{m}" for m in HISTORY_MODELS), as_of=as_of)
        scores.append(_lead_scores(db_path))

    # Before the third run: a rule weight change, and a lead soft-deleted in the CRM (a newer version).
    seed = project / "seeds" / "scoring_engagement_rules.csv"
    seed.write_text(replace_points(seed.read_text(), CHANGED_RULE, "3"))
    deleted_lead = sorted(lead for (_, lead) in scores[1])[0]
    con = duckdb.connect(str(db_path))
    try:
        con.execute(
            # at the third run's as_of: a row from after it would not be known to that run yet
            "insert into raw.leads select * replace (true as is_deleted, cast(? as timestamp) as updated_at, "
            "cast(? as timestamp) as _loaded_at) from raw.leads where lead_id = ? limit 1",
            [AS_OFS[2], AS_OFS[2], deleted_lead])
    finally:
        con.close()
    dbt("seed", as_of=AS_OFS[2])
    dbt("run", "--select", *(f"+{m}" for m in HISTORY_MODELS), as_of=AS_OFS[2])
    scores.append(_lead_scores(db_path))

    # Replay the second as_of, with --full-refresh: history must not change.
    before = _snapshot_tables(db_path)
    dbt("run", "--full-refresh", "--select", *(f"+{m}" for m in HISTORY_MODELS), as_of=AS_OFS[1])
    after = _snapshot_tables(db_path)
    # The history models' data tests, unit tests and the reconciliation test, on the replayed warehouse.
    proc = dbt("test", "--select", *HISTORY_MODELS, "assert_score_change_reasons_reconcile", as_of=AS_OFS[1])
    return HistoryRuns(db_path=db_path, scores=scores, deleted_lead=deleted_lead,
                       tables_before_replay=before, tables_after_replay=after, test_stdout=proc.stdout)


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------
def test_dbt_tests_pass_on_the_history(history_runs):
    assert "ERROR=0" in history_runs.test_stdout and "FAIL" not in history_runs.test_stdout
    # the unit tests and the reconciliation test ran, not just the column tests
    assert "test_lead_score_change_reasons_causes" in history_runs.test_stdout
    assert "assert_score_change_reasons_reconcile" in history_runs.test_stdout


def test_point_in_time_returns_the_second_runs_scores(history_runs):
    rows = query(history_runs.db_path,
                 "select * from marts.lead_score_history where valid_from <= ? and (valid_to is null or valid_to > ?)",
                 [_ts(POINT_IN_TIME), _ts(POINT_IN_TIME)])
    got = by_key(rows)
    assert len(got) == len(rows), "one version per lead at a point in time"
    expected = history_runs.scores[1]
    assert got.keys() == expected.keys()
    mismatches = [k for k in expected if state(got[k]) != state(expected[k])]
    assert not mismatches, mismatches[:5]


def test_current_versions_are_the_third_runs_scores_and_the_deleted_lead_is_closed(history_runs):
    rows = query(history_runs.db_path, "select * from marts.lead_score_history where is_current")
    got = by_key(rows)
    expected = history_runs.scores[2]
    assert got.keys() == expected.keys()
    assert all(state(got[k]) == state(expected[k]) for k in expected)
    deleted = [k for k in history_runs.scores[1] if k[1] == history_runs.deleted_lead]
    assert deleted and all(k not in expected for k in deleted)
    closed = query(history_runs.db_path,
                   "select valid_to from marts.lead_score_history where lead_id = ? order by valid_from desc limit 1",
                   [history_runs.deleted_lead])
    assert closed[0]["valid_to"] == _ts(AS_OFS[2])
    removals = query(history_runs.db_path,
                     "select lead_id, changed_at from marts.lead_score_changes where change_type = 'removed'")
    assert [(r["lead_id"], r["changed_at"]) for r in removals] == [(history_runs.deleted_lead, _ts(AS_OFS[2]))]


def test_rows_are_appended_only_for_changed_leads(history_runs):
    s1, s2, s3 = history_runs.scores
    rows = query(history_runs.db_path, "select model_id, lead_id, valid_from, is_removed from marts.lead_score_snapshots")
    per_run = defaultdict(set)
    for r in rows:
        per_run[r["valid_from"]].add((r["model_id"], r["lead_id"]))
    assert per_run.keys() == {_ts(a) for a in AS_OFS}
    assert per_run[_ts(AS_OFS[0])] == set(s1)  # first run: every lead is new
    # changed leads, leads created since the first run (not known to it) and leads no longer scored
    expected_second = changed_keys(s1, s2) | (s2.keys() ^ s1.keys())
    assert per_run[_ts(AS_OFS[1])] == expected_second
    assert s2.keys() - s1.keys(), "leads created between the runs appear in the second run"
    assert 0 < len(expected_second) < len(s2), "some leads changed and some did not"
    # the third run changed the rule set (ruleset_version is part of the state): every live lead, plus the removal
    assert {s3[k]["ruleset_version"] for k in s3} != {s2[k]["ruleset_version"] for k in s2}
    assert per_run[_ts(AS_OFS[2])] == changed_keys(s2, s3) | (s2.keys() ^ s3.keys())
    assert per_run[_ts(AS_OFS[2])] == set(s3) | {k for k in s2 if k[1] == history_runs.deleted_lead}


def test_ledger_deltas_equal_new_minus_old(history_runs):
    s1, s2, s3 = history_runs.scores
    rows = query(history_runs.db_path,
                 "select * from marts.lead_score_changes where change_type = 'rescored'")
    assert rows
    pairs = {_ts(AS_OFS[1]): (s1, s2), _ts(AS_OFS[2]): (s2, s3)}
    for r in rows:
        old, new = (run[(r["model_id"], r["lead_id"])] for run in pairs[r["changed_at"]])
        for axis in ("fit_score", "engagement_score", "lead_score"):
            assert math.isclose(r[f"old_{axis}"], old[axis], abs_tol=1e-9)
            assert math.isclose(r[f"new_{axis}"], new[axis], abs_tol=1e-9)
            assert math.isclose(r[f"{axis}_delta"], new[axis] - old[axis], abs_tol=1e-9)
        assert (r["old_lifecycle_stage"], r["new_lifecycle_stage"]) == (old["lifecycle_stage"], new["lifecycle_stage"])


def test_reason_deltas_add_up_to_the_score_change(history_runs):
    """Per change and axis, the rule deltas sum to new - old axis score (as each run's lead_scores said)."""
    s1, s2, s3 = history_runs.scores
    pairs = {_ts(AS_OFS[1]): (s1, s2), _ts(AS_OFS[2]): (s2, s3)}
    sums = query(history_runs.db_path, """
        select model_id, lead_id, changed_at, axis, sum(points_delta) as delta
        from marts.lead_score_change_reasons where change_type = 'rescored' group by all""")
    assert sums
    totals = {(r["model_id"], r["lead_id"], r["changed_at"], r["axis"]): r["delta"] for r in sums}
    for (model_id, lead_id, changed_at, axis), delta in totals.items():
        old, new = (run[(model_id, lead_id)] for run in pairs[changed_at])
        # lead_scores rounds each axis score to 6 decimals
        assert abs(delta - (new[f"{axis}_score"] - old[f"{axis}_score"])) < 2e-6
    for changed_at, (before, after) in pairs.items():  # an axis whose score moved has reason rows
        for key in changed_keys(before, after) & after.keys():
            for axis in ("fit", "engagement"):
                if abs(after[key][f"{axis}_score"] - before[key][f"{axis}_score"]) > 1e-5:
                    assert (*key, changed_at, axis) in totals


def _raw_event_facts(db_path: Path) -> tuple[dict[str, list[tuple[datetime, str]]], set[str]]:
    """Per lead id: (occurred_at, event_type) of each event id (first delivery), and the leads with a burst."""
    rows = query(db_path, """
        select event_id, trim(lead_id) as lead_id, lower(trim(event_type)) as event_type, occurred_at, _loaded_at
        from raw.events where event_id is not null and lead_id is not null and occurred_at is not null""")
    first = {}
    for r in sorted(rows, key=lambda r: (r["_loaded_at"] is None, r["_loaded_at"] or datetime.min, r["occurred_at"])):
        first.setdefault(r["event_id"], r)
    events: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    minutes = Counter()
    for r in first.values():
        events[r["lead_id"]].append((r["occurred_at"], r["event_type"]))
        minutes[(r["lead_id"], r["occurred_at"].replace(second=0, microsecond=0))] += 1
    bursty = {lead for (lead, _), n in minutes.items() if n >= BURST_THRESHOLD}
    return events, bursty


def test_causes_new_events_and_decay_match_the_raw_events(history_runs):
    events, bursty = _raw_event_facts(history_runs.db_path)
    start, end = _ts(AS_OFS[0]), _ts(AS_OFS[1])
    rows = query(history_runs.db_path, """
        select lead_id, reason_key, change_cause from marts.lead_score_change_reasons
        where changed_at = ? and change_type = 'rescored' and reason_type = 'rule' and axis = 'engagement'
        """, [end])
    checked = Counter()
    for r in rows:
        if r["lead_id"] in bursty or r["reason_key"] in SIGNAL_RULE_IDS:
            continue
        window = [etype for (at, etype) in events.get(r["lead_id"], []) if start < at <= end]
        if not window:  # no event at all since the previous version: only ageing can move the points
            assert r["change_cause"] == "decay", r
            checked["decay"] += 1
        elif r["reason_key"] == "eng_page_view" and "page_view" in window:  # eng_page_view: any page view
            assert r["change_cause"] == "new_events", r
            checked["new_events"] += 1
    assert checked["decay"] >= 3 and checked["new_events"] >= 3, checked


def test_ruleset_change_is_attributed_to_the_changed_rule_only(history_runs):
    rows = query(history_runs.db_path, """
        select reason_key, change_cause, old_points, new_points from marts.lead_score_change_reasons
        where changed_at = ? and change_type = 'rescored'""", [_ts(AS_OFS[2])])
    causes = Counter(r["change_cause"] for r in rows)
    assert causes["ruleset_change"] > 0, causes
    assert {r["reason_key"] for r in rows if r["change_cause"] == "ruleset_change"} == {CHANGED_RULE}
    assert all(r["change_cause"] == "ruleset_change" for r in rows if r["reason_key"] == CHANGED_RULE)
    changes = query(history_runs.db_path, """
        select is_ruleset_change, count(*) as n from marts.lead_score_changes
        where changed_at = ? and change_type = 'rescored' group by all""", [_ts(AS_OFS[2])])
    rescored = history_runs.scores[1].keys() & history_runs.scores[2].keys()  # leads new to the third run are new_lead
    assert [(r["is_ruleset_change"], r["n"]) for r in changes] == [(True, len(rescored))]


def test_replaying_an_old_as_of_does_not_alter_history(history_runs):
    before, after = history_runs.tables_before_replay, history_runs.tables_after_replay
    assert before["lead_score_snapshots"] and before["lead_rule_points_snapshots"]
    assert after == before
    # the replay rebuilt lead_scores at the old as_of, but the history kept its three runs
    scored_at = query(history_runs.db_path, "select distinct scored_at from marts.lead_scores")
    assert [r["scored_at"] for r in scored_at] == [_ts(AS_OFS[1])]


def test_crossings_are_the_leads_whose_mql_flag_flipped(history_runs):
    s1, s2, s3 = history_runs.scores
    rows = query(history_runs.db_path, "select * from marts.mql_threshold_crossings")
    got = {(r["crossed_at"], r["model_id"], r["lead_id"]): r["crossing_direction"] for r in rows}
    expected = {}
    for as_of, (before, after) in ((AS_OFS[0], ({}, s1)), (AS_OFS[1], (s1, s2)), (AS_OFS[2], (s2, s3))):
        expected.update({(_ts(as_of), *k): d for k, d in mql_flips(before, after).items()})
    assert got == expected
    assert any(at == _ts(AS_OFS[1]) for (at, _, _) in expected), "some lead crossed between runs"
    for r in rows:
        assert r["crossing_direction"] == ("became_mql" if r["new_lifecycle_stage"] == "mql" else "dropped_below_mql")


def failed_tests(dbt_stdout: str) -> list[str]:
    """The names of the data tests a `dbt test` run reports as failed, sorted."""
    return sorted(line.split("Failure in test ")[1].split(" ")[0] for line in dbt_stdout.splitlines()
                  if "Failure in test" in line)


def failed_invariants(target_path: Path, db: Path) -> dict[str, list[str]]:
    """Per failed `invariants` test of the last dbt run (its run_results.json), the invariants it found violated:
    its compiled SQL run again on the warehouse (one row per violated invariant, tests/generic/invariants.sql)."""
    import json

    results = json.loads((Path(target_path) / "run_results.json").read_text())["results"]
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {r["unique_id"].split(".")[2]: sorted(row[0] for row in con.execute(r["compiled_code"]).fetchall())
                for r in results
                if r["unique_id"].split(".")[2].startswith("invariants_") and r["status"] == "fail"}
    finally:
        con.close()


@pytest.mark.parametrize("run, all_rows, fails", [
    ("latest", False, True), ("earliest", False, False), ("earliest", True, True),
])
def test_history_tests_check_the_latest_runs_rows(history_runs, tmp_path, run, all_rows, fails):
    """The data tests of the append-only history are scoped to the latest run (meta latest_run_column,
    macros/test_scope.sql): a duplicate key or a null written by the latest run fails them; rows of earlier runs,
    tested when they were written, are not rescanned by every build, unless the var test_all_rows asks for it."""
    import shutil

    db = tmp_path / "bad.duckdb"
    shutil.copy(history_runs.db_path, db)
    pick = "max" if run == "latest" else "min"
    con = duckdb.connect(str(db))
    try:
        run_rows = f"where valid_from = (select {pick}(valid_from) from marts.lead_rule_points_snapshots)"
        con.execute("insert into marts.lead_rule_points_snapshots select * from marts.lead_rule_points_snapshots"
                    f" {run_rows} limit 1")
        con.execute("update marts.lead_rule_points_snapshots set points = null"
                    f" {run_rows} and lead_rule_points_snapshot_id = (select min(lead_rule_points_snapshot_id)"
                    f" from marts.lead_rule_points_snapshots {run_rows})")
        con.execute("insert into marts.lead_score_snapshots select * from marts.lead_score_snapshots"
                    f" {run_rows.replace('lead_rule_points_snapshots', 'lead_score_snapshots')} limit 1")
    finally:
        con.close()
    variables = {"as_of": AS_OFS[2], **({"test_all_rows": True} if all_rows else {})}
    proc = run_dbt(PROJECT_ROOT, db, "test", "--select", "lead_rule_points_snapshots,test_name:invariants",
                   "lead_score_snapshots,test_name:invariants", "lead_rule_points_snapshots,test_name:not_null",
                   vars=variables, target_path=tmp_path / "target", log_path=tmp_path / "logs")
    out = proc.stdout
    ran = [line for line in out.splitlines() if " START test " in line]
    # the two models' invariants tests (the id's uniqueness, the key combination, the not-nulls) and the run
    # column's own not-null
    assert len(ran) == 3, out[-3000:]
    table = "lead_rule_points_snapshots"
    # the copied snapshot row repeats both the id and the key combination
    snapshots = ["unique(lead_score_snapshot_id)", "unique(model_id, lead_id, valid_from)"]
    expected = {f"invariants_{table}": ["not_null(points)", f"unique({table[:-1]}_id)"],
                "invariants_lead_score_snapshots": snapshots} if fails else {}
    assert (proc.returncode != 0) is fails and failed_tests(out) == sorted(expected), out[-3000:]
    assert failed_invariants(tmp_path / "target", db) == expected


@pytest.mark.parametrize("table, key, run_column, invariant", [
    # lead_score_reasons is a view: the repeated row goes to the table it shows
    ("intermediate.int_scored_lead_reasons", "lead_score_reason_id", None, "unique(lead_score_reason_id)"),
    ("marts.lead_rule_points_snapshots", "model_id, lead_id, valid_from, axis, reason_key", "valid_from",
     "unique(lead_rule_points_snapshot_id)"),
    ("marts.lead_score_change_reasons", "lead_score_change_id, axis, reason_key", "changed_at",
     "unique(lead_score_change_reason_id)"),
    ("staging.stg_crm__event_deliveries_ranked", "event_id, delivery_rank", "delivery_batch",
     "unique(event_id, delivery_rank)"),
    # scoped to the latest run's rows (built_as_of): a duplicate that run wrote still fails
    ("intermediate.int_lead_rule_points", "model_id, lead_id, axis, rule_id", "built_as_of",
     "unique(model_id, lead_id, axis, rule_id)"),
])
def test_a_repeated_grain_fails_the_unique_test_of_the_key(history_runs, tmp_path, table, key, run_column, invariant):
    """Each table's grain has one unique test: lead_score_reasons and the two per-reason history tables test
    their key alone (the key is built from exactly the grain columns, so a second unique test on them only
    repeated the work), the ranked deliveries test the pair event_id, delivery_rank (the key is built by the
    view over them). A row whose grain repeats, written by the latest run, fails that test."""
    import shutil

    db = tmp_path / "dup.duckdb"
    shutil.copy(history_runs.db_path, db)
    model = {"int_scored_lead_reasons": "lead_score_reasons"}.get(table.split(".")[1], table.split(".")[1])
    latest = f"where {run_column} = (select max({run_column}) from {table})" if run_column else ""
    con = duckdb.connect(str(db))
    try:
        con.execute(f"insert into {table} select * from {table} {latest} limit 1")
        repeated = con.execute(f"select count(*) from (select {key} from {table} group by all having count(*) > 1)"
                               ).fetchone()[0]
    finally:
        con.close()
    assert repeated == 1
    proc = run_dbt(PROJECT_ROOT, db, "test", "--select", model, vars={"as_of": AS_OFS[2]},
                   target_path=tmp_path / "target", log_path=tmp_path / "logs")
    out = proc.stdout
    test = f"invariants_{model}"
    assert proc.returncode != 0 and test in failed_tests(out), out[-3000:]
    assert invariant in failed_invariants(tmp_path / "target", db)[test]
