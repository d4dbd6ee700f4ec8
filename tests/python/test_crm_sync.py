"""lead_scoring.crm_sync (the export), orchestration/defs/crm_sync (its asset) and marts.crm_lead_sync: first sync,
no-change rebuild, a seed change, failures and retries, blocking by the drift check, the enforced contract, the CLI.

Mutation tests work on copies of the session `warehouse` DuckDB file; one module fixture rebuilds a copy twice
(unchanged, then with one fit rule's points raised) instead of building new warehouses.
"""
import csv
import io
import json
import shutil
from contextlib import redirect_stdout
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from conftest import assert_dbt_ok, copy_project, query, run_dbt
from lead_scoring import crm_sync
from orchestration.defs.crm_sync import assets as dcrm
from lead_scoring import monitoring as mon
from orchestration.defs import resources as dres
from orchestration.defs.monitoring import assets as mon_assets
from orchestration.defs.monitoring import checks as mon_checks

pytestmark = pytest.mark.filterwarnings(r"error::DeprecationWarning:orchestration(\.|$)")

SYNCED_AT = datetime(2026, 11, 1, 6, 0, 0)
CHANGED_RULE, OLD_POINTS, NEW_POINTS = "fit_industry_software", "15", "25"
# The CRM-facing fields of lead_scores, in the order of the sync hash (numbers compared with a tolerance).
NUMERIC_FIELDS = ("lead_score", "fit_score", "engagement_score")
SCORE_TEXT_FIELDS = ("fit_grade", "engagement_level", "matrix_cell", "lifecycle_stage", "is_mql", "top_reasons")
# Routing: the rule from marts.lead_assignments, the current queue and owner and the SLA state from
# marts.lead_routing_status (docs/sla.md); null for non-MQLs; a lead returned to nurture goes without owner.
ROUTING_FIELDS = ("queue_id", "owner_id", "routing_rule_id", "routing_status", "sla_due_at", "routing_status_reason")
TEXT_FIELDS = SCORE_TEXT_FIELDS + ROUTING_FIELDS
BUILD = ("build", "--select", "+crm_lead_sync", "--resource-type", "seed", "--resource-type", "model")


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------
def _export(db, out, **kwargs):
    con = duckdb.connect(str(db))
    try:
        return crm_sync.export_crm_sync(con, Path(out), synced_at=SYNCED_AT, **kwargs)
    finally:
        con.close()


def _crm_fields(db):
    """(model_id, lead_id) -> CRM-facing fields straight from marts.lead_scores, marts.lead_assignments and
    marts.lead_routing_status (reasons cut as the CRM gets them; a lead returned to nurture is sent as a nurture
    lead without owner, queue or rule, with its return reason, docs/sla.md)."""
    score_fields = ", ".join(f"s.{f}" for f in ("model_id", "lead_id") + NUMERIC_FIELDS + SCORE_TEXT_FIELDS)
    rows = query(db, f"select {score_fields}, a.routing_rule_id, r.queue_id, r.owner_id, r.routing_status, "
                     "r.sla_due_at, r.returned_status, r.return_reason from marts.lead_scores as s "
                     "left join marts.lead_assignments as a on s.model_id = a.model_id and s.lead_id = a.lead_id "
                     "left join marts.lead_routing_status as r on s.model_id = r.model_id and s.lead_id = r.lead_id")
    out = {}
    for r in rows:
        reasons = r["top_reasons"]
        if reasons is not None and len(reasons) > 255:
            reasons = reasons[:252] + "..."
        fields = {**r, "top_reasons": reasons, "routing_status_reason": None}
        if r["routing_status"] == "returned_to_nurture":
            fields.update(lifecycle_stage="nurture", is_mql=False, queue_id=None, owner_id=None, routing_rule_id=None,
                          routing_status_reason=r["return_reason"] or f"returned as {r['returned_status']}")
        out[(r["model_id"], r["lead_id"])] = fields
    return out


def _independent_diff(before, after):
    """Keys of `after` that are new or whose CRM fields differ from `before` (numbers beyond 0.005)."""
    changed = set()
    for key, new in after.items():
        old = before.get(key)
        if old is None or any(abs(old[f] - new[f]) > 0.005 for f in NUMERIC_FIELDS) \
                or any(old[f] != new[f] for f in TEXT_FIELDS):
            changed.add(key)
    return changed


def _view_keys(db):
    return {(r["scoring_model_id"], r["crm_external_id"]): r["change_type"]
            for r in query(db, "select scoring_model_id, crm_external_id, change_type from marts.crm_lead_sync")}


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _state(db):
    return sorted(tuple(r.values()) for r in query(db, "select * from crm_sync.crm_sync_state"))


def _batches(db):
    return query(db, "select * from crm_sync.crm_sync_batches order by batch_number")


def _files_of_recorded_batches(db):
    """Every row of every recorded batch, read back from its CSV file."""
    rows = []
    for b in _batches(db):
        rows += _read_csv(Path(b["export_dir"]) / b["csv_file"])
    return rows


# --------------------------------------------------------------------------------------------------
# pure helpers
# --------------------------------------------------------------------------------------------------
def test_batch_id_is_deterministic_order_free_and_chained():
    rows = [("default", "L2", "h2"), ("default", "L1", "h1")]
    first = crm_sync.batch_id_for(None, rows)
    assert first == crm_sync.batch_id_for(None, list(reversed(rows)))
    assert len(first) == 20 and int(first, 16) >= 0
    assert crm_sync.batch_id_for("b0", rows) != first  # the same content after another batch is another batch
    assert crm_sync.batch_id_for(None, rows[:1]) != first
    assert crm_sync.batch_id_for(None, [("default", "L1", "hX"), rows[0]]) != first


def test_file_names_and_export_dir(tmp_path):
    names = crm_sync.batch_file_names("abc")
    assert names == {"csv": "crm_lead_sync__abc.csv", "jsonl": "crm_lead_sync__abc.jsonl",
                     "parquet": "crm_lead_sync__abc.parquet"}
    assert crm_sync.temp_file_name("x.csv") == ".x.csv.tmp"
    db = tmp_path / "warehouse" / "wh.duckdb"
    assert crm_sync.resolve_export_dir(None, db, env={}) == tmp_path / "warehouse" / "crm_export"
    assert crm_sync.resolve_export_dir(None, db, env={crm_sync.EXPORT_DIR_ENV: "/data/out"}) == Path("/data/out")
    assert crm_sync.resolve_export_dir(tmp_path / "o", db, env={crm_sync.EXPORT_DIR_ENV: "/x"}) == tmp_path / "o"


# --------------------------------------------------------------------------------------------------
# first sync on a copy of the session warehouse
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def first_sync(warehouse, tmp_path_factory):
    root = tmp_path_factory.mktemp("crm_first")
    db = root / "wh.duckdb"
    shutil.copy(warehouse.db_path, db)
    expected = _crm_fields(db)
    view_before = _view_keys(db)
    result = _export(db, root / "out")
    return dict(root=root, db=db, expected=expected, view_before=view_before, result=result)


def test_first_sync_emits_every_scored_lead_once(first_sync):
    expected, result, db = first_sync["expected"], first_sync["result"], first_sync["db"]
    assert len(expected) > 2000
    # before the export the view listed every scored lead as new
    assert first_sync["view_before"] == {key: "new" for key in expected}
    assert result.status == "synced" and result.row_count == len(expected) == result.new_count
    assert result.changed_count == 0 and result.batch_number == 1
    csv_rows = _read_csv(result.files["csv"])
    keys = [(r["scoring_model_id"], r["crm_external_id"]) for r in csv_rows]
    assert len(keys) == len(set(keys)) and set(keys) == set(expected)
    # the three files hold the same rows
    jsonl = [json.loads(line) for line in Path(result.files["jsonl"]).read_text().splitlines()]
    parquet = query(db, f"select * from read_parquet('{result.files['parquet']}')")
    for rows in (jsonl, parquet):
        assert sorted((r["scoring_model_id"], r["crm_external_id"], r["sync_hash"]) for r in rows) == \
            sorted((r["scoring_model_id"], r["crm_external_id"], r["sync_hash"]) for r in csv_rows)
    # values match lead_scores (rounded to 2 decimals), every row carries the batch id
    for r in csv_rows:
        src = expected[(r["scoring_model_id"], r["crm_external_id"])]
        for f in NUMERIC_FIELDS:
            assert abs(float(r[f]) - src[f]) <= 0.005 + 1e-9, (r["crm_external_id"], f)
        assert (r["fit_grade"], r["matrix_cell"], r["lifecycle_stage"]) == \
            (src["fit_grade"], src["matrix_cell"], src["lifecycle_stage"])
        assert r["is_mql"] == str(src["is_mql"]).lower() and r["top_reasons"] == (src["top_reasons"] or "")
        assert r["crm_sync_key"] == f"{r['scoring_model_id']}:{r['crm_external_id']}"
        assert r["batch_id"] == result.batch_id and r["change_type"] == "new"
    # state: one row per lead with the exported hash; one batch row with the counts and files
    state = {(r["scoring_model_id"], r["crm_external_id"]): r for r in query(db, "select * from crm_sync.crm_sync_state")}
    assert {k: v["sync_hash"] for k, v in state.items()} == \
        {(r["scoring_model_id"], r["crm_external_id"]): r["sync_hash"] for r in csv_rows}
    assert {v["batch_id"] for v in state.values()} == {result.batch_id}
    [batch] = _batches(db)
    assert (batch["batch_id"], batch["row_count"], batch["new_count"], batch["status"]) == \
        (result.batch_id, len(expected), len(expected), "synced")
    assert batch["csv_file"] == Path(result.files["csv"]).name and batch["synced_at"] == SYNCED_AT
    # no temporary files left behind
    assert sorted(p.name for p in Path(result.export_dir).iterdir()) == sorted(Path(p).name for p in result.files.values())


def test_after_a_sync_the_view_is_empty_and_a_second_export_does_nothing(first_sync):
    db = first_sync["db"]
    assert _view_keys(db) == {}
    again = _export(db, first_sync["root"] / "out")
    assert again.status == "nothing_to_sync" and again.row_count == 0 and again.batch_id is None
    assert len(_batches(db)) == 1


# --------------------------------------------------------------------------------------------------
# rebuilds: unchanged, then one rule's points raised
# --------------------------------------------------------------------------------------------------
def _raise_rule_points(seeds_dir):
    path = seeds_dir / "scoring_fit_rules.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header, rows = reader.fieldnames, list(reader)
    [row] = [r for r in rows if r["rule_id"] == CHANGED_RULE]
    assert row["points"] == OLD_POINTS
    row["points"] = NEW_POINTS
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def rebuilds(warehouse, first_sync, tmp_path_factory):
    root = tmp_path_factory.mktemp("crm_rebuild")
    db = root / "wh.duckdb"
    shutil.copy(first_sync["db"], db)  # synced once: batch 1 holds every lead
    shutil.copytree(first_sync["result"].export_dir, root / "out")
    with duckdb.connect(str(db)) as con:  # the copied batch points at the copied folder
        con.execute("update crm_sync.crm_sync_batches set export_dir = ?", [str(root / "out")])
    dbt_dirs = dict(vars={"as_of": warehouse.as_of}, target_path=root / "target", log_path=root / "logs")
    project = root / "project"
    copy_project(warehouse.project_snapshot, project)
    assert_dbt_ok(run_dbt(project, db, *BUILD, **dbt_dirs), "unchanged rebuild")
    unchanged_view = _view_keys(db)
    before = _crm_fields(db)
    ruleset_before = query(db, "select distinct ruleset_version as v from marts.lead_scores")
    _raise_rule_points(project / "seeds")
    assert_dbt_ok(run_dbt(project, db, *BUILD, **dbt_dirs), "rebuild with a changed seed")
    after = _crm_fields(db)
    assert query(db, "select distinct ruleset_version as v from marts.lead_scores") != ruleset_before
    base = root / "changed_base.duckdb"  # the state after the seed change, before any export of it
    shutil.copy(db, base)
    return dict(root=root, db=db, base=base, unchanged_view=unchanged_view, before=before, after=after,
                changed=_independent_diff(before, after), project=project)


def _copy_base(rebuilds, tmp_path):
    db = tmp_path / "wh.duckdb"
    shutil.copy(rebuilds["base"], db)
    return db


def test_rebuild_without_change_emits_nothing(rebuilds):
    assert rebuilds["unchanged_view"] == {}


def test_rule_points_change_emits_exactly_the_leads_whose_crm_fields_changed(rebuilds, tmp_path):
    changed, after = rebuilds["changed"], rebuilds["after"]
    rule_hits = {(r["model_id"], r["lead_id"]) for r in query(
        rebuilds["base"], "select distinct model_id, lead_id from marts.lead_score_reasons where rule_id = ?",
        [CHANGED_RULE])}
    # the independent diff is a real subset: only leads the rule fired for, not all of them
    assert changed and changed <= rule_hits and len(changed) < len(after)
    db = _copy_base(rebuilds, tmp_path)
    assert _view_keys(db) == {key: "changed" for key in changed}
    result = _export(db, rebuilds["root"] / "out")
    assert result.row_count == len(changed) == result.changed_count and result.new_count == 0
    assert result.batch_number == 2
    assert {(r["scoring_model_id"], r["crm_external_id"]) for r in _read_csv(result.files["csv"])} == changed


@pytest.mark.parametrize("failure", ["after_csv", "after_all_files"])
def test_failed_export_leaves_state_untouched_and_retry_sends_each_change_once(rebuilds, tmp_path, monkeypatch,
                                                                                failure):
    db = _copy_base(rebuilds, tmp_path)
    out = tmp_path / "out"
    state_before, batches_before = _state(db), _batches(db)
    if failure == "after_csv":
        real_writer = crm_sync.write_batch_file

        def writer(con, ext, path):
            real_writer(con, ext, path)
            if ext == "csv":
                raise OSError("disk full (injected)")

        monkeypatch.setattr(crm_sync, "write_batch_file", writer)
    else:
        def record(con, batch):
            raise RuntimeError("connection lost before recording (injected)")

        monkeypatch.setattr(crm_sync, "record_batch", record)
    with pytest.raises((OSError, RuntimeError), match="injected"):
        _export(db, out)
    monkeypatch.undo()

    assert _state(db) == state_before and _batches(db) == batches_before
    assert _view_keys(db) == {key: "changed" for key in rebuilds["changed"]}
    left = sorted(p.name for p in out.iterdir())
    assert not [n for n in left if n.endswith(".tmp")]  # temporary files are cleaned up
    if failure == "after_csv":
        assert left == []  # nothing was renamed into place
    else:
        assert len(left) == 3  # complete files of a batch that is not recorded: the retry rewrites them

    retry = _export(db, out)
    assert retry.status == "synced" and retry.row_count == len(rebuilds["changed"])
    if failure == "after_all_files":
        assert sorted(Path(p).name for p in retry.files.values()) == left  # same batch id, same files
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(p).name for p in retry.files.values())
    assert _view_keys(db) == {}
    # across all recorded batches (the first full sync and the retry) each (lead, change) appears exactly once
    rows = _files_of_recorded_batches(db)
    events = [(r["scoring_model_id"], r["crm_external_id"], r["change_type"]) for r in rows]
    assert len(events) == len(set(events))
    assert {(m, lead) for m, lead, change in events if change == "new"} == set(rebuilds["before"])
    assert {(m, lead) for m, lead, change in events if change == "changed"} == rebuilds["changed"]
    assert [b["batch_number"] for b in _batches(db)] == [1, 2]
    # the state holds, per lead, the hash of the last row sent
    last_sent = {}
    for r in rows:  # batches in order: later rows win
        last_sent[(r["scoring_model_id"], r["crm_external_id"])] = r["sync_hash"]
    assert {(s[0], s[1]): s[2] for s in _state(db)} == last_sent


# --------------------------------------------------------------------------------------------------
# Dagster: lineage, pool, blocking by the drift check
# --------------------------------------------------------------------------------------------------
def test_asset_sits_downstream_of_the_score_history_and_lead_scores():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey("crm_lead_sync_export"))
    assert {dg.AssetKey("score_distribution_history"), dg.AssetKey("lead_scores"),
            dg.AssetKey("crm_lead_sync")} <= set(node.parent_keys)
    assert dg.AssetKey(["crm_sync", "crm_sync_state"]) in graph.get(dg.AssetKey("crm_lead_sync")).parent_keys
    assert dcrm.crm_lead_sync_export.pool == dcrm.crm_drift_gate.pool == "duckdb_warehouse"
    # on demand: its own job, never in the scoring jobs (nor in the UI's "Materialize all": an external spec)
    assert not node.is_executable
    for job in ("full_scoring_job", "engagement_refresh_job"):
        assert dg.AssetKey("crm_lead_sync_export") not in defs.resolve_job_def(job).asset_layer.selected_asset_keys
    assert defs.resolve_job_def("crm_export_job") is not None


def _materialize(db, out):
    """A scoring run's history and drift check (as the scoring jobs run them), then the on-demand export job."""
    resources = {"warehouse": dres.WarehouseResource(database_path=str(db))}
    scored = dg.materialize([mon_assets.score_distribution_history, mon_checks.score_distribution_drift],
                            resources=resources, raise_on_error=False)
    (evaluation,) = scored.get_asset_check_evaluations()
    job = dg.Definitions(jobs=[dcrm.crm_export_job], resources=resources).resolve_job_def("crm_export_job")
    result = job.execute_in_process(
        run_config=dg.RunConfig(ops={"crm_lead_sync_export": dcrm.CrmExportConfig(export_dir=str(out))}),
        raise_on_error=False)
    mats = [e.materialization for e in result.get_asset_materialization_events()]
    assert {m.asset_key for m in mats} == ({dcrm.EXPORT_KEY, dcrm.STATE_KEY, dcrm.BATCHES_KEY} if result.success
                                          else set())
    return result, evaluation, [m for m in mats if m.asset_key == dcrm.EXPORT_KEY]


def test_export_runs_after_a_passing_drift_check_and_is_blocked_by_an_error(warehouse, tmp_path, monkeypatch):
    monkeypatch.delenv(mon.WEBHOOK_ENV, raising=False)
    db = tmp_path / "wh.duckdb"
    shutil.copy(warehouse.db_path, db)
    n_leads = query(db, "select count(*) as n from marts.lead_scores")[0]["n"]
    result, evaluation, mats = _materialize(db, tmp_path / "out")
    assert result.success and evaluation.passed
    [mat] = mats
    assert mat.metadata["rows"].value == n_leads and mat.metadata["status"].value == "synced"
    batch_id = mat.metadata["batch_id"].value
    assert mat.metadata["csv file"].value == str(tmp_path / "out" / f"crm_lead_sync__{batch_id}.csv")
    assert len(_batches(db)) == 1
    # the recorded run now looks as if it had 10x the leads: the next scoring run (an hour later, so it is not a
    # repeat of the recorded one) drops by 90 % -> ERROR; the sync state is cleared, so an unblocked export would
    # send every lead again
    with duckdb.connect(str(db)) as con:
        con.execute(f"update {mon.HISTORY_TABLE} set count = count * 10 where metric = 'lead_count'")
        # lead_scores is a view that stamps every row with the build's as_of: a table with the later instant
        con.execute("create table marts.lead_scores_later as"
                    " select * replace (scored_at + interval 1 hour as scored_at) from marts.lead_scores")
        con.execute("drop view marts.lead_scores")
        con.execute("alter table marts.lead_scores_later rename to lead_scores")
        con.execute("delete from crm_sync.crm_sync_state")
    # scored outside Dagster (no scoring job recorded the new scores): the export job records and judges them itself
    runs_before = query(db, f"select count(distinct run_id) as n from {mon.HISTORY_TABLE}")[0]["n"]
    job = dg.Definitions(jobs=[dcrm.crm_export_job], resources={
        "warehouse": dres.WarehouseResource(database_path=str(db))}).resolve_job_def("crm_export_job")
    unrecorded = job.execute_in_process(run_config=dg.RunConfig(ops={"crm_lead_sync_export": dcrm.CrmExportConfig(
        export_dir=str(tmp_path / "out"))}), raise_on_error=False)
    assert not unrecorded.success and unrecorded.get_asset_materialization_events() == []
    assert query(db, f"select count(distinct run_id) as n from {mon.HISTORY_TABLE}")[0]["n"] == runs_before + 1
    assert _state(db) == [] and len(_batches(db)) == 1
    # a scoring run's history and check now repeat that run and judge it the same way
    result, evaluation, mats = _materialize(db, tmp_path / "out")
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert mats == [] and not result.success
    assert "blocked by score_distribution_drift" in str(result.failure_data_for_node("crm_drift_gate").error)
    assert _state(db) == [] and len(_batches(db)) == 1
    # launched again on its own, the export job is still blocked: the gate re-evaluates the latest scoring run
    again = dg.Definitions(jobs=[dcrm.crm_export_job], resources={
        "warehouse": dres.WarehouseResource(database_path=str(db))}).resolve_job_def("crm_export_job")
    rerun = again.execute_in_process(run_config=dg.RunConfig(ops={"crm_lead_sync_export": dcrm.CrmExportConfig(
        export_dir=str(tmp_path / "out"))}), raise_on_error=False)
    assert not rerun.success and rerun.get_asset_materialization_events() == []
    assert _state(db) == [] and len(_batches(db)) == 1


# --------------------------------------------------------------------------------------------------
# the contract and the CLI
# --------------------------------------------------------------------------------------------------
def test_contract_is_enforced_with_a_type_on_every_column(warehouse):
    manifest = json.loads((warehouse.root / "target" / "manifest.json").read_text())
    node = manifest["nodes"]["model.lead_scoring.crm_lead_sync"]
    assert node["config"]["contract"]["enforced"] is True and node["config"]["materialized"] == "view"
    declared = {name: col["data_type"] for name, col in node["columns"].items()}
    assert all(declared.values())
    actual = query(warehouse.db_path, "select column_name, data_type from information_schema.columns "
                                      "where table_schema = 'marts' and table_name = 'crm_lead_sync' "
                                      "order by ordinal_position")
    assert [r["column_name"] for r in actual] == list(declared)
    assert {r["column_name"]: r["data_type"].lower() for r in actual} == declared


def test_a_contract_violation_fails_the_build(warehouse, tmp_path):
    project = tmp_path / "project"
    copy_project(warehouse.project_snapshot, project)
    model = project / "models" / "marts" / "crm" / "crm_lead_sync.sql"
    sql = model.read_text()
    rounded = "{{ round_double('lead_score', 2) }} as lead_score,"
    assert rounded in sql
    model.write_text(sql.replace(rounded, "cast({{ round_double('lead_score', 2) }} as varchar) as lead_score,"))
    db = tmp_path / "wh.duckdb"
    shutil.copy(warehouse.db_path, db)
    proc = run_dbt(project, db, "run", "--select", "crm_lead_sync", vars={"as_of": warehouse.as_of},
                   target_path=tmp_path / "target", log_path=tmp_path / "logs")
    assert proc.returncode != 0
    assert "contract" in proc.stdout.lower() and "lead_score" in proc.stdout


def test_cli_exports_and_reports(warehouse, tmp_path, capsys):
    db = tmp_path / "wh.duckdb"
    shutil.copy(warehouse.db_path, db)
    n_leads = query(db, "select count(*) as n from marts.lead_scores")[0]["n"]
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        assert crm_sync.main(["--database", str(db), "--out", str(tmp_path / "out")]) == 0
    report = json.loads(buffer.getvalue())
    assert report["status"] == "synced" and report["row_count"] == n_leads
    assert len(_read_csv(report["files"]["csv"])) == n_leads
    assert crm_sync.main(["--database", str(tmp_path / "missing.duckdb")]) == 2
    assert "does not exist" in capsys.readouterr().err
