"""The loader (lead_scoring/load.py): hand-written exports in tests/fixtures/load/ landed in a scratch DuckDB file.

Fixtures: leads_b2c.csv (a B2C-style export: placeholders such as Select and N/A, a trailing comma on every line,
DD-MM-YYYY HH:MM timestamps, custom columns, a second version of one lead), events_web.csv (JSON `properties` with
a numeric duration_seconds, an extra `browser` column), events_app.jsonl (nested properties, epoch seconds, an
extra `device` key), leads_missing_id.csv, leads_broken.csv, leads_header_only.csv; the Parquet file is made here.
"""
import argparse
import json
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
import yaml

from lead_scoring.load import (
    CONTRACT_PATH,
    LoadError,
    add_arguments,
    load,
    load_files,
    load_folder,
    read_contract,
    run,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "load"
NOW = datetime(2026, 10, 10, 6, 0, 0)
CUSTOM = ["lead_origin", "what_is_your_current_occupation", "total_time_spent_on_website"]


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "warehouse.duckdb"


def query(db: Path, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def column_types(db: Path, table: str) -> dict[str, str]:
    return {name: dtype for name, dtype, *_ in query(db, f"describe raw.{table}")}


def table_exists(db: Path, table: str) -> bool:
    return bool(query(db, "select 1 from information_schema.tables where table_schema = 'raw' and table_name = ?",
                      [table]))


def test_contract_is_read_from_the_dbt_sources():
    contract = read_contract()
    sources = yaml.safe_load(CONTRACT_PATH.read_text())["sources"][0]["tables"]
    assert {t["name"] for t in sources} == set(contract)
    for table in sources:
        assert contract[table["name"]].columns == {c["name"]: c["data_type"] for c in table["columns"]}
    assert contract["leads"].extra_columns == "custom"
    assert contract["events"].extra_columns == "ignored"
    assert "_loaded_at" not in contract["leads"].required and "lead_id" in contract["leads"].required


def test_leads_land_typed_by_the_contract_with_custom_columns(db):
    [result] = load_files(db, "leads", [FIXTURES / "leads_b2c.csv"], now=NOW)
    assert (result.status, result.rows_in_file, result.rows_landed, result.rows_skipped) == ("loaded", 6, 6, 0)
    # N/A and lots in annual_revenue, maybe in is_deleted: landed null and counted.
    assert result.nulled == {"annual_revenue": 2, "is_deleted": 1}
    assert any("empty header" in note and "position(s) 24" in note for note in result.notes)
    types = column_types(db, "leads")
    contract = read_contract()["leads"].columns
    assert list(types) == [*contract, *CUSTOM]  # the unnamed trailing column is not there
    assert types["annual_revenue"] == "DOUBLE"
    assert types["is_deleted"] == "BOOLEAN"
    assert types["created_at"] == types["updated_at"] == "VARCHAR"  # timestamps as written; staging parses them
    assert types["_loaded_at"] == "TIMESTAMP"
    assert all(types[c] == "VARCHAR" for c in CUSTOM)
    rows = {r[0]: r[1:] for r in query(db, "select lead_id, annual_revenue, created_at, is_deleted, city, "
                                           "lead_origin, _loaded_at from raw.leads where lead_id <> 'L002'")}
    assert rows["L003"][:5] == (12000.0, "03-10-2026 08:05", False, "未知", "Landing Page Submission")
    assert rows["L004"][0] is None and rows["L004"][2] is None  # 'lots' and 'maybe'
    assert rows["L005"][1:3] == ("31-13-2026 25:00", True)  # a bad timestamp is landed for staging to quarantine
    assert rows["L001"][3] == "Mumbai"
    assert {r[5] for r in rows.values()} == {NOW}
    assert query(db, "select is_deleted from raw.leads where lead_id = 'L002' order by updated_at") == [
        (False,), (True,)]


def test_event_extra_columns_dropped_properties_kept_as_json_text(db):
    results = load_files(db, "events", [FIXTURES / "events_*"], now=NOW)  # a glob: the CSV and the JSON Lines
    assert [Path(r.path).name for r in results] == ["events_app.jsonl", "events_web.csv"]
    assert [r.rows_landed for r in results] == [3, 5]
    assert any("device" in n for n in results[0].notes) and any("browser" in n for n in results[1].notes)
    assert list(column_types(db, "events")) == list(read_contract()["events"].columns)
    props = dict(query(db, "select event_id, properties from raw.events where properties like '{%'"))
    assert json.loads(props["E101"])["duration_seconds"] == 340
    assert json.loads(props["E001"])["duration_seconds"] == 95
    occurred = dict(query(db, "select event_id, occurred_at from raw.events"))
    assert occurred["E102"] == "1791014400"  # epoch seconds as written
    assert occurred["E103"] == "2026-10-04 18:00:00+08:00"
    assert occurred["E005"] == "not a date"
    assert query(db, "select properties from raw.events where event_id = 'E004'") == [("not json",)]


def test_parquet_with_native_types(db, tmp_path):
    path = tmp_path / "opportunities_q4.parquet"
    with duckdb.connect() as con:
        con.execute(f"""copy (select * from (values
            ('O1', 'L001', timestamp '2026-10-05 10:00:00', 'won', true, timestamp '2026-10-09 12:30:00', 1800.5,
             'ignored extra'),
            ('O2', 'L003', timestamp '2026-10-06 09:00:00', 'open', false, null, null, null)
        ) as t(Opportunity_ID, lead_id, created_at, stage, is_won, closed_at, amount, "Sales Note"))
        to '{path}' (format parquet)""")
    [result] = load_files(db, "opportunities", [path], now=NOW)
    assert (result.rows_landed, result.nulled) == (2, {})
    types = column_types(db, "opportunities")
    assert list(types) == list(read_contract()["opportunities"].columns)  # "Sales Note" dropped
    assert (types["amount"], types["is_won"], types["created_at"]) == ("DOUBLE", "BOOLEAN", "VARCHAR")
    assert query(db, "select opportunity_id, created_at, is_won, closed_at, amount from raw.opportunities "
                     "order by 1") == [("O1", "2026-10-05 10:00:00", True, "2026-10-09 12:30:00", 1800.5),
                                       ("O2", "2026-10-06 09:00:00", False, None, None)]


def test_reloading_the_same_file_adds_nothing(db, tmp_path):
    load_files(db, "leads", [FIXTURES / "leads_b2c.csv"], now=NOW)
    copy = tmp_path / "leads_again.csv"  # the same content under another name
    shutil.copy(FIXTURES / "leads_b2c.csv", copy)
    again = load_files(db, "leads", [FIXTURES / "leads_b2c.csv", copy], now=datetime(2026, 10, 11))
    assert [(r.status, r.rows_landed, r.rows_skipped) for r in again] == [("already loaded", 0, 6)] * 2
    assert "same content as" in again[1].notes[0]
    assert query(db, "select count(*), max(_loaded_at) from raw.leads") == [(6, NOW)]
    assert query(db, "select count(*), sum(rows_landed) from raw._lead_scoring_loads") == [(1, 6)]


def test_a_changed_file_lands_only_its_new_rows(db, tmp_path):
    path = tmp_path / "leads.csv"
    shutil.copy(FIXTURES / "leads_b2c.csv", path)
    load_files(db, "leads", [path], now=NOW)
    with path.open("a", encoding="utf-8") as f:
        f.write("L006,li.na@163.com,Na,Li,Student,,,Select,,,China,Beijing,Google,,,,,"
                "08-10-2026 10:00,08-10-2026 10:00,no,API,Student,15,\n")
    [result] = load_files(db, "leads", [path], now=datetime(2026, 10, 11))
    assert (result.status, result.rows_in_file, result.rows_landed, result.rows_skipped) == ("loaded", 7, 1, 6)
    assert query(db, "select lead_id, _loaded_at from raw.leads where _loaded_at > ?", [NOW]) == [
        ("L006", datetime(2026, 10, 11))]
    assert query(db, "select count(*) from raw.leads") == [(7,)]
    assert query(db, "select count(*) from raw._lead_scoring_loads") == [(2,)]


def test_a_file_that_does_not_parse_names_the_file_and_changes_nothing(db, tmp_path):
    with pytest.raises(LoadError, match=r"leads_broken\.csv: does not parse as CSV"):
        load_files(db, "leads", [FIXTURES / "leads_b2c.csv", FIXTURES / "leads_broken.csv"])
    assert not table_exists(db, "leads")
    fake = tmp_path / "events_export.parquet"
    fake.write_text("event_id,lead_id\nE1,L1\n")
    with pytest.raises(LoadError, match=r"events_export\.parquet: does not parse as Parquet"):
        load_files(db, "events", [fake])
    bad_json = tmp_path / "events_bad.jsonl"
    bad_json.write_text('{"event_id": "E1"}\n{"event_id": \n')
    with pytest.raises(LoadError, match=r"events_bad\.jsonl: does not parse as JSON Lines"):
        load_files(db, "events", [bad_json])
    assert not table_exists(db, "events")


def test_empty_files_load_nothing_and_say_so(db, tmp_path):
    zero = tmp_path / "leads_zero.csv"
    zero.write_bytes(b"")
    results = load_files(db, "leads", [zero, FIXTURES / "leads_header_only.csv"])
    assert [(r.status, r.rows_landed) for r in results] == [("empty", 0), ("empty", 0)]
    assert all("empty file, nothing loaded" in r.summary() for r in results)
    assert not table_exists(db, "leads")
    assert query(db, "select count(*) from raw._lead_scoring_loads") == [(0,)]


def test_a_missing_required_column_names_file_and_column_and_lands_nothing(db):
    load_files(db, "events", [FIXTURES / "events_web.csv"], now=NOW)
    with pytest.raises(LoadError) as error:
        load(db, [FIXTURES / "events_app.jsonl", FIXTURES / "leads_b2c.csv", FIXTURES / "leads_missing_id.csv"])
    message = str(error.value)
    assert "leads_missing_id.csv" in message and "lead_id" in message and "Fix: add a column named lead_id" in message
    assert not table_exists(db, "leads")  # the good leads file of the same call is not landed either
    assert query(db, "select count(*) from raw.events") == [(5,)]  # nor the new events


def test_a_header_collision_is_an_error(db, tmp_path):
    path = tmp_path / "leads_dup.csv"
    header = (FIXTURES / "leads_b2c.csv").read_text(encoding="utf-8").splitlines()[0]
    path.write_text(header + "EMAIL \nL1" + "," * 24 + "x@y.z\n", encoding="utf-8")
    with pytest.raises(LoadError, match=r"columns 'Email' and 'EMAIL ' both become 'email'"):
        load_files(db, "leads", [path])


def test_the_contract_yaml_drives_the_columns(db, tmp_path):
    """Nothing is hard-coded: a column added to the YAML lands typed; meta.required narrows what a file needs."""
    document = yaml.safe_load(CONTRACT_PATH.read_text())
    leads = document["sources"][0]["tables"][0]
    leads["columns"].insert(1, {"name": "score_hint", "data_type": "double"})
    for column in leads["columns"]:
        if column["name"] in ("lead_id", "updated_at"):
            column["config"] = {"meta": {"required": True}}
    contract = tmp_path / "sources.yml"
    contract.write_text(yaml.safe_dump(document))
    path = tmp_path / "leads_min.csv"
    path.write_text("lead_id,updated_at,score_hint\nL1,2026-10-01 10:00:00,2.5\nL2,2026-10-01,n/a\n")
    [result] = load_files(db, "leads", [path], contract_path=contract)
    assert result.nulled == {"score_hint": 1}
    assert column_types(db, "leads")["score_hint"] == "DOUBLE"
    assert query(db, "select lead_id, score_hint, email from raw.leads order by 1") == [
        ("L1", 2.5, None), ("L2", None, None)]


def test_a_table_made_by_another_tool_is_cast_into_and_replace_recreates_it(db):
    with duckdb.connect(str(db)) as con:  # as the demo generator makes it: typed timestamps
        con.execute("create schema raw; create table raw.events (event_id varchar, lead_id varchar, "
                    "event_type varchar, channel varchar, occurred_at timestamp, page_url varchar, "
                    "search_term varchar, properties varchar, _loaded_at timestamp)")
        con.execute("insert into raw.events (event_id, occurred_at) values ('DEMO1', '2026-09-01 10:00:00')")
    [result] = load_files(db, "events", [FIXTURES / "events_app.jsonl"], now=NOW)
    # ISO text casts to TIMESTAMP; epoch seconds do not: null, counted, and the note says why
    assert result.rows_landed == 3 and result.nulled == {"occurred_at": 1}
    assert any("occurred_at is TIMESTAMP" in note and "--replace" in note for note in result.notes)
    [result] = load_files(db, "events", [FIXTURES / "events_app.jsonl"], replace=True, now=NOW)
    assert (result.status, result.rows_landed, result.nulled) == ("loaded", 3, {})
    assert column_types(db, "events")["occurred_at"] == "VARCHAR"
    assert query(db, "select count(*) from raw.events where event_id = 'DEMO1'") == [(0,)]


def test_folder_by_naming_convention_and_schema_from_env(db, tmp_path, monkeypatch):
    monkeypatch.setenv("LEAD_SCORING_RAW_SCHEMA", "crm_export")
    folder = tmp_path / "exports"
    folder.mkdir()
    for name in ("leads_b2c.csv", "events_web.csv", "events_app.jsonl"):
        shutil.copy(FIXTURES / name, folder / name)
    (folder / "notes.txt").write_text("not an export\n")
    results = load_folder(db, folder, now=NOW)
    assert [(Path(r.path).name, r.table, r.rows_landed) for r in results] == [
        ("leads_b2c.csv", "crm_export.leads", 6), ("events_app.jsonl", "crm_export.events", 3),
        ("events_web.csv", "crm_export.events", 5)]
    assert query(db, "select count(*) from crm_export.events") == [(8,)]


def test_command_prints_a_summary_and_fails_with_one_line(db, capsys):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert run(parser.parse_args(["--database", str(db), str(FIXTURES / "leads_b2c.csv")])) == 0
    out = capsys.readouterr().out
    assert "leads_b2c.csv -> raw.leads: 6 row(s) landed, 0 skipped" in out
    assert "annual_revenue 2, is_deleted 1" in out
    assert run(parser.parse_args(["--database", str(db), str(FIXTURES / "leads_missing_id.csv")])) == 1
    err = capsys.readouterr().err
    assert err.startswith("lead-scoring load: error: ") and "leads_missing_id.csv" in err
    assert run(parser.parse_args(["--database", str(db), str(FIXTURES / "leads_b2c.csv")])) == 0
    assert "0 row(s) landed, 6 skipped as already loaded" in capsys.readouterr().out
