"""lead_scoring.summary against a tiny fake `marts` schema (no dbt needed)."""
from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from collections import Counter

import duckdb
import pytest

from conftest import PROJECT_ROOT
from lead_scoring import summary

SCORED_AT = dt.datetime(2026, 11, 1)
GRADES = "ABCD"


def _fake_scores():
    """25 leads of model 'default' spread over the matrix, plus 3 of another model that must not count."""
    rows = []
    for n in range(25):
        grade = GRADES[(n * 7) % 4]
        level = 1 + (n * 3 + n // 4) % 4 if n % 5 else 1
        lead_score = round(100 - n * 3.5 + (n % 3) * 0.25, 2)
        stage = "mql" if f"{grade}{level}" in ("A1", "A2", "B1") else ("disqualified" if n % 11 == 0 else "nurture")
        reasons = f"rule_{n:02d}_a +{n}.0; rule_{n:02d}_b -{n % 4}.0"
        rows.append(("default", f"L{n:04d}", 60.0, grade, 40.0, level, f"{grade}{level}", lead_score, stage, reasons,
                     "v-test-1", SCORED_AT))
    for n in range(3):
        rows.append(("aggressive", f"L{n:04d}", 90.0, "A", 90.0, 1, "A1", 999.0, "mql", "other model", "v-x", SCORED_AT))
    return rows


QUARANTINED_LEADS = ["missing_lead_id"] * 4 + ["soft_deleted"] * 7
QUARANTINED_EVENTS = ["anonymous"] * 9 + ["future_event"] * 2 + ["unknown_lead"] * 5 + ["missing_occurred_at"] * 1
QUARANTINED_OPPORTUNITIES = ["unknown_lead"] * 1
RECONCILIATION = [
    ("events", 1000, 950, 17, 33, True),
    ("leads", 120, 100, 11, 9, True),
    ("opportunities", 40, 38, 1, 0, False),
]


def _build(path, *, drop=None, scores=None):
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.execute("""CREATE TABLE marts.lead_scores (
        model_id VARCHAR, lead_id VARCHAR, fit_score DOUBLE, fit_grade VARCHAR, engagement_score DOUBLE,
        engagement_level INTEGER, matrix_cell VARCHAR, lead_score DOUBLE, lifecycle_stage VARCHAR,
        top_reasons VARCHAR, ruleset_version VARCHAR, scored_at TIMESTAMP)""")
    con.executemany("INSERT INTO marts.lead_scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    _fake_scores() if scores is None else scores)
    con.execute("CREATE TABLE marts.quarantined_leads (lead_id VARCHAR, reason_code VARCHAR)")
    con.executemany("INSERT INTO marts.quarantined_leads VALUES (?, ?)",
                    [(f"Q{i}", r) for i, r in enumerate(QUARANTINED_LEADS)])
    con.execute("CREATE TABLE marts.quarantined_events (event_id VARCHAR, reason_code VARCHAR)")
    con.executemany("INSERT INTO marts.quarantined_events VALUES (?, ?)",
                    [(f"E{i}", r) for i, r in enumerate(QUARANTINED_EVENTS)])
    con.execute("CREATE TABLE marts.quarantined_opportunities (opportunity_id VARCHAR, reason_code VARCHAR)")
    con.executemany("INSERT INTO marts.quarantined_opportunities VALUES (?, ?)",
                    [(f"O{i}", r) for i, r in enumerate(QUARANTINED_OPPORTUNITIES)])
    con.execute("""CREATE TABLE marts.pipeline_reconciliation (source_table VARCHAR, raw_rows BIGINT,
        staged_rows BIGINT, quarantined_rows BIGINT, superseded_rows BIGINT, is_reconciled BOOLEAN)""")
    con.executemany("INSERT INTO marts.pipeline_reconciliation VALUES (?, ?, ?, ?, ?, ?)", RECONCILIATION)
    if drop:
        con.execute(f"DROP TABLE marts.{drop}")
    con.close()
    return path


@pytest.fixture()
def fake_db(tmp_path):
    return _build(tmp_path / "warehouse.duckdb")


def _render(path, model="default"):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return summary.render_summary(con, model)
    finally:
        con.close()


def _section(text, title):
    """The lines of the section whose heading starts with `title`, up to the next blank line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    out = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        out.append(line)
    return out


def test_matrix_counts(fake_db):
    text = _render(fake_db)
    expected = Counter((r[3], str(r[5])) for r in _fake_scores() if r[0] == "default")
    assert sum(expected.values()) == 25
    assert re.search(r"leads scored:\s+25$", text, re.M)
    body = _section(text, "Fit grade (rows) x engagement level (columns)")
    table = {line.split()[0]: [int(x) for x in line.split()[1:]] for line in body[2:]}  # skip header + rule
    for grade in GRADES:
        row = [expected[(grade, str(level))] for level in range(1, 5)]
        assert table[grade] == row + [sum(row)], grade
    totals = [sum(expected[(g, str(level))] for g in GRADES) for level in range(1, 5)]
    assert table["total"] == totals + [25]


def test_top_leads_and_reason_lines(fake_db):
    text = _render(fake_db)
    default = [r for r in _fake_scores() if r[0] == "default"]
    top = sorted(default, key=lambda r: (-r[7], r[1]))[:10]
    body = _section(text, "Top 10 leads by lead_score")[2:]
    assert len(body) == 10
    for rank, (line, row) in enumerate(zip(body, top), start=1):
        fields = line.split()
        assert fields[0] == str(rank)
        assert fields[1] == row[1]  # lead_id, in score order
        assert fields[3] == row[6]  # matrix cell
        assert line.rstrip().endswith(row[9])  # the top reasons, verbatim (short enough not to be cut)
    assert "other model" not in text and "999" not in text


def test_lifecycle_quarantine_and_reconciliation(fake_db):
    text = _render(fake_db)
    stages = Counter(r[8] for r in _fake_scores() if r[0] == "default")
    body = _section(text, "Lifecycle stages")[2:]
    shown = {line.split()[0]: int(line.split()[1]) for line in body}
    assert shown == dict(stages)
    assert [line.split()[0] for line in body] == sorted(stages, key=lambda s: (-stages[s], s))

    for label, reasons in (("leads", QUARANTINED_LEADS), ("events", QUARANTINED_EVENTS),
                           ("opportunities", QUARANTINED_OPPORTUNITIES)):
        assert f"Quarantined {label}: {len(reasons)}" in text
        lines = _section(text, f"Quarantined {label}:")[2:]
        assert {line.split()[0]: int(line.split()[1]) for line in lines} == dict(Counter(reasons))

    recon = _section(text, "Reconciliation")
    assert len(recon) == len(RECONCILIATION)
    for source, raw, staged, quarantined, superseded, ok in RECONCILIATION:
        line = next(line for line in recon if line.strip().startswith(f"{source}:"))
        numbers = [int(x.replace(",", "")) for x in re.findall(r"[\d,]+", line)]
        assert numbers == [raw, staged, quarantined, superseded]
        assert line.rstrip().endswith("NOT RECONCILED" if not ok else "OK")


def test_file_named_like_the_schema(fake_db, tmp_path):
    """A warehouse file called marts.duckdb has a catalog named marts: `marts.<table>` alone is ambiguous."""
    import shutil

    copy = tmp_path / "copy" / "marts.duckdb"
    copy.parent.mkdir()
    shutil.copy(fake_db, copy)
    assert _render(copy) == _render(fake_db)


def test_long_reasons_are_shortened(tmp_path):
    long_reason = "; ".join(f"some_long_rule_name_{i} +1.0" for i in range(20))
    scores = [("default", "L1", 50.0, "B", 50.0, 2, "B2", 50.0, "nurture", long_reason, "v1", SCORED_AT)]
    text = _render(_build(tmp_path / "long.duckdb", scores=scores))
    line = _section(text, "Top 1 leads")[2]
    assert line.endswith("...") and len(line) < 200


def test_missing_table_is_a_clear_error(tmp_path):
    db = _build(tmp_path / "missing.duckdb", drop="quarantined_events")
    with pytest.raises(summary.SummaryError, match="marts.quarantined_events"):
        _render(db)
    proc = subprocess.run([sys.executable, "-m", "lead_scoring.summary", "--database", str(db)],
                          cwd=str(PROJECT_ROOT), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "missing table(s): marts.quarantined_events" in proc.stderr
    assert proc.stdout == ""


def test_unknown_model_and_missing_file(fake_db, tmp_path):
    with pytest.raises(summary.SummaryError, match="models present: aggressive, default"):
        _render(fake_db, model="nope")
    assert summary.main(["--database", str(tmp_path / "nowhere.duckdb")]) == 1


def test_cli_prints_the_summary(fake_db):
    proc = subprocess.run([sys.executable, "-m", "lead_scoring.summary", "--database", str(fake_db),
                           "--model", "default"], cwd=str(PROJECT_ROOT), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == _render(fake_db)
