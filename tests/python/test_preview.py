"""The rule-change preview reports exactly the leads that move, and changes nothing in production.

On the session warehouse (2,500 generated leads, one build at AS_OF), a candidate folder doubles one fit rule's
points. The expected movers come from the independent oracle (tests/python/oracle.py) run with the original and
the modified seeds; the warehouse file is compared byte for byte before and after; the backtest before and after
agrees with the oracle replayed at the cut-off and scikit-learn's AUC.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sklearn.metrics import roc_auc_score

import oracle
from conftest import query
from lead_scoring import cli
from lead_scoring import preview as pv
from lead_scoring.scratch import ScratchError, read_overlay
from lead_scoring.weights import read_seed, render_seed, seed_rule_rows, with_points

MODEL = "default"
RULE = "fit_industry_software"
FIT = "scoring_fit_rules.csv"
DIMENSIONS = ("fit_grade", "engagement_level", "matrix_cell", "lifecycle_stage")
HORIZON_DAYS = 30


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _files_digest(db_path):
    return {p: _digest(p) for p in (db_path, db_path.with_name(db_path.name + ".wal"))}


@pytest.fixture(scope="module")
def candidate(warehouse, tmp_path_factory):
    """A candidate folder with only scoring_fit_rules.csv, RULE's points doubled; and its current points."""
    folder = tmp_path_factory.mktemp("candidate")
    seed = read_seed(warehouse.seeds_dir / FIT)
    (row,) = [r for r in seed_rule_rows(seed, MODEL) if r["rule_id"] == RULE]
    points = float(row["points"])
    (folder / FIT).write_text(render_seed(with_points(seed, MODEL, {RULE: 2 * points})), encoding="utf-8", newline="")
    return folder, points


@pytest.fixture(scope="module")
def previewed(warehouse, candidate, tmp_path_factory):
    """The preview (CLI) of the candidate, with the warehouse's and the seeds' digests before and after."""
    folder, _ = candidate
    out = tmp_path_factory.mktemp("preview_out")
    seeds_before = {p.name: _digest(p) for p in warehouse.project_snapshot.glob("seeds/*.csv")}
    before = _files_digest(warehouse.db_path)
    code = cli.main(["preview", "--database", str(warehouse.db_path), "--seeds", str(folder), "--out", str(out),
                     "--project-dir", str(warehouse.project_snapshot), "--horizon-days", str(HORIZON_DAYS)])
    after = _files_digest(warehouse.db_path)
    seeds_after = {p.name: _digest(p) for p in warehouse.project_snapshot.glob("seeds/*.csv")}
    assert code == 0
    return json.loads((out / pv.REPORT_JSON).read_text()), (out / pv.REPORT_MD).read_text(), \
        (before, after, seeds_before, seeds_after)


@pytest.fixture(scope="module")
def modified_oracle(warehouse, candidate, tmp_path_factory):
    """The oracle with the project's seeds and the candidate file in place of its namesake."""
    folder, _ = candidate
    seeds = tmp_path_factory.mktemp("oracle_seeds")
    for path in warehouse.seeds_dir.glob("*.csv"):
        shutil.copy(path, seeds / path.name)
    shutil.copy(folder / FIT, seeds / FIT)
    return seeds, oracle.run_oracle(warehouse.db_path, seeds, warehouse.as_of)


def _oracle_view(result):
    return {lead: {d: str(s[d]) for d in DIMENSIONS} | {"mql": s["lifecycle_stage"] == "mql"}
            for (model, lead), s in result.scores.items() if model == MODEL}


def test_preview_reports_exactly_the_leads_the_oracle_moves(previewed, oracle_result, modified_oracle):
    data, _, _ = previewed
    old, new = _oracle_view(oracle_result), _oracle_view(modified_oracle[1])
    assert set(old) == set(new)
    expected = {lead for lead in old if any(old[lead][d] != new[lead][d] for d in DIMENSIONS)}
    assert len(expected) >= 20, "the doubled rule should move some leads"
    movers = {m["lead_id"]: m for m in data["scores"]["movers"]}
    assert set(movers) == expected
    for d in DIMENSIONS:
        assert data["scores"]["moved_by_dimension"][d] == sum(old[k][d] != new[k][d] for k in old), d
        assert {m: movers[m]["new"][d] for m in movers if d in movers[m]["changed"]} == \
            {k: new[k][d] for k in expected if old[k][d] != new[k][d]}, d
    grade = Counter((old[k]["fit_grade"], new[k]["fit_grade"]) for k in old)
    assert {(t["from"], t["to"]): t["leads"] for t in data["scores"]["transitions"]["fit_grade"]} == dict(grade)
    assert data["scores"]["mql_before"] == sum(v["mql"] for v in old.values())
    assert data["scores"]["mql_after"] == sum(v["mql"] for v in new.values())
    assert data["scores"]["only_current"] == [] and data["scores"]["only_candidate"] == []


def test_preview_changes_nothing_in_production(previewed):
    _, _, (before, after, seeds_before, seeds_after) = previewed
    assert before == after
    assert seeds_before == seeds_after


def test_preview_lists_the_reweighted_rule_only(previewed, candidate):
    data, text, _ = previewed
    _, points = candidate
    assert data["rule_changes"] == [{"seed": FIT, "key": {"model_id": MODEL, "rule_id": RULE}, "change": "re-weighted",
                                     "columns": {"points": [f"{points:g}", f"{2 * points:g}"]}}]
    assert f"| {FIT} | model_id={MODEL}, rule_id={RULE} | re-weighted | points: {points:g} -> {2 * points:g} |" in text


def test_preview_sample_shows_old_and_new_reasons(previewed, warehouse, candidate):
    data, text, _ = previewed
    _, points = candidate
    sample = data["sample"]
    assert 0 < len(sample) <= pv.DEFAULT_SAMPLE
    changes = [abs(m["new"]["lead_score"] - m["old"]["lead_score"]) for m in sample]
    assert changes == sorted(changes, reverse=True)
    # the current top reasons are those of the warehouse, by absolute points
    first = sample[0]
    rows = query(warehouse.db_path, "select coalesce(rule_id, reason_type) as reason, points from "
                                    "marts.lead_score_reasons where model_id = ? and lead_id = ? "
                                    "order by abs(points) desc, reason limit 3", [MODEL, first["lead_id"]])
    assert [r.split(" (")[0] for r in first["old_reasons"]] == [r["reason"] for r in rows]
    assert any(f"{RULE} (fit, {2 * points:+.2f})" in r for m in sample for r in m["new_reasons"])
    assert "## Sample of movers" in text and first["lead_id"] in text


def _oracle_auc(result, warehouse, cutoff):
    """AUC of the oracle's lead scores at `cutoff` for leads without an opportunity by then, converted = first
    opportunity after it (opportunities as staged in the warehouse)."""
    first = {r["lead_id"]: r["first"] for r in query(
        warehouse.db_path, "select lead_id, min(created_at) as first from staging.stg_crm__opportunities "
                           "where lead_id is not null group by lead_id")}
    rows = [(s["lead_score"], lead in first) for (model, lead), s in result.scores.items()
            if model == MODEL and not (lead in first and first[lead] <= cutoff)]
    return len(rows), roc_auc_score([r[1] for r in rows], [r[0] for r in rows])


def test_backtest_before_and_after_agrees_with_the_oracle_at_the_cutoff(previewed, warehouse, modified_oracle):
    data, text, _ = previewed
    cutoff = datetime.fromisoformat(warehouse.as_of) - timedelta(days=HORIZON_DAYS)
    b = data["backtest"]
    assert b["cutoff"] == cutoff.strftime("%Y-%m-%d %H:%M:%S")
    current, cand = b["rule_sets"]
    assert current["name"] == "current seeds" and cand["name"].startswith("candidate seeds")
    for seeds_dir, rs in ((warehouse.seeds_dir, current), (modified_oracle[0], cand)):
        n, auc = _oracle_auc(oracle.run_oracle(warehouse.db_path, seeds_dir, cutoff), warehouse, cutoff)
        assert rs["metrics"]["leads"] == n
        assert rs["metrics"]["roc_auc"] == pytest.approx(auc, abs=1e-9)
    assert "## Backtest before and after" in text


def test_unknown_file_and_bad_header_are_refused_naming_the_file(warehouse, tmp_path):
    unknown = tmp_path / "unknown"
    unknown.mkdir()
    shutil.copy(warehouse.seeds_dir / FIT, unknown / FIT)
    (unknown / "scoring_fit_rule.csv").write_text("model_id,rule_id\n")
    with pytest.raises(ScratchError, match=r"scoring_fit_rule\.csv is not a seed"):
        read_overlay(unknown, warehouse.project_snapshot)
    header = tmp_path / "header"
    header.mkdir()
    text = (warehouse.seeds_dir / FIT).read_text().replace("points,", "pts,", 1)
    (header / FIT).write_text(text)
    with pytest.raises(ScratchError, match=r"scoring_fit_rules\.csv: header differs .*missing \['points'\]"):
        read_overlay(header, warehouse.project_snapshot)


def test_a_bad_seed_value_fails_naming_the_file_and_changes_nothing(warehouse, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    seed = read_seed(warehouse.seeds_dir / FIT)
    cols = seed.header.index("rule_id"), seed.header.index("points")
    rows = tuple((*r[:cols[1]], "lots", *r[cols[1] + 1:]) if r[cols[0]] == RULE else r for r in seed.rows)
    (bad / FIT).write_text(render_seed(type(seed)(seed.header, rows, seed.line_terminator, seed.trailing_newline)))
    before = _files_digest(warehouse.db_path)
    code = cli.main(["preview", "--database", str(warehouse.db_path), "--seeds", str(bad), "--out",
                     str(tmp_path / "out"), "--project-dir", str(warehouse.project_snapshot), "--no-backtest"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"candidate seed {FIT}" in err and "'lots'" in err
    assert _files_digest(warehouse.db_path) == before
    assert not (tmp_path / "out").exists()


def test_report_has_the_preview_section(previewed, warehouse, tmp_path):
    import duckdb

    from lead_scoring import report

    data, _, _ = previewed
    con = duckdb.connect(str(warehouse.db_path), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        path, page, loaded = report.write_report(con, tmp_path / "report.html", MODEL, preview=data)
    finally:
        con.close()
    html = path.read_text()
    assert "chart-preview-grade-transitions" in page.charts
    assert "<h2>Rule-change preview</h2>" in html
    s = data["scores"]
    assert f"{len(s['movers']):,} of {s['leads_compared']:,}" in html
    assert f"{s['mql_before']:,} / {s['mql_after']:,}" in html

    hostile = "<script>alert(1)</script>"
    bad = json.loads(json.dumps(data))
    bad["seeds_dir"], bad["sample"][0]["lead_id"] = hostile, hostile
    bad["rule_changes"][0]["key"]["rule_id"] = hostile
    bad["sample"][0]["new_reasons"] = [hostile]
    loaded.preview = bad
    escaped = report.render_report(loaded).html
    assert hostile not in escaped and escaped.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4


def test_seed_diff_by_key_covers_rules_bands_and_thresholds():
    rules_old = "model_id,rule_id,points,operator,description\nm,a,10,equals,x\nm,b,5,equals,y\nm,c,3,equals,z\n"
    rules_new = "model_id,rule_id,points,operator,description\nm,a,20.0,equals,x\nm,b,5,one_of,y\nm,d,4,equals,w\n" \
                "m,c,3,equals,new words\n"
    changes = [(c.key["rule_id"], c.change, c.columns) for c in pv.diff_seed(FIT, rules_old, rules_new)]
    assert changes == [("a", "re-weighted", {"points": ["10", "20.0"]}),
                       ("b", "re-configured", {"operator": ["equals", "one_of"]}),
                       ("c", "re-described", {"description": ["z", "new words"]}),
                       ("d", "added", {})]
    bands_old = "model_id,axis,band,min_score\nm,fit,A,75\nm,fit,B,50\n"
    bands_new = "model_id,axis,band,min_score\nm,fit,A,70\n"
    assert [(c.key, c.change, c.columns) for c in pv.diff_seed("scoring_score_bands.csv", bands_old, bands_new)] == [
        ({"model_id": "m", "axis": "fit", "band": "A"}, "re-configured", {"min_score": ["75", "70"]}),
        ({"model_id": "m", "axis": "fit", "band": "B"}, "removed", {})]
    stages_old = "model_id,priority,stage,min_lead_score\nm,20,mql,60\n"
    stages_new = "model_id,priority,stage,min_lead_score\nm,20,mql,65\n"
    assert [c.change for c in pv.diff_seed("scoring_lifecycle_rules.csv", stages_old, stages_new)] == ["re-configured"]


def test_a_warehouse_held_by_a_writer_is_not_copied(tmp_path):
    import subprocess
    import sys

    import duckdb

    from lead_scoring.scratch import copy_database

    db = tmp_path / "held.duckdb"
    duckdb.connect(str(db)).close()
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(db)!r}); "
                               "print('held', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ScratchError, match=f"another run is writing the warehouse .*pid {holder.pid}"):
            copy_database(db, tmp_path / "copy")
    finally:
        holder.kill()
        holder.wait()
    assert not (tmp_path / "copy" / db.name).exists()
