"""Print a short, human-readable summary of a scored warehouse (the marts the dbt build creates).

    lead-scoring summary --database PATH [--model default]

It reads, read-only: ``marts.lead_scores``, ``marts.quarantined_leads``, ``marts.quarantined_events``,
``marts.quarantined_opportunities`` and ``marts.pipeline_reconciliation``, and prints: how many leads were
scored, the 4x4 fit/engagement matrix (grades A-D by levels 1-4), lifecycle stage counts, the top 10 leads
with their matrix cell and top reasons, quarantine counts by reason, and the reconciliation of every source table.

A missing table or column, or a model without scores, is reported in one clear line on stderr with exit
code 1. :func:`render_summary` returns the text, for tests and for other tools.
"""
from __future__ import annotations

import argparse
import os
import sys

import duckdb

GRADES = ("A", "B", "C", "D")
LEVELS = ("1", "2", "3", "4")
TOP_N = 10
REASONS_WIDTH = 96

REQUIRED = {
    "lead_scores": ("model_id", "lead_id", "fit_score", "fit_grade", "engagement_score", "engagement_level",
                    "matrix_cell", "lead_score", "lifecycle_stage", "top_reasons", "ruleset_version", "scored_at"),
    "quarantined_leads": ("reason_code",),
    "quarantined_events": ("reason_code",),
    "quarantined_opportunities": ("reason_code",),
    "pipeline_reconciliation": ("source_table", "raw_rows", "staged_rows", "quarantined_rows", "superseded_rows",
                                "is_reconciled"),
}
SCHEMA = "marts"


class SummaryError(Exception):
    """The warehouse cannot be summarised (missing table or column, no scores for the model)."""


# --------------------------------------------------------------------------------------------------
# Plain-text formatting
# --------------------------------------------------------------------------------------------------
def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return " ".join(str(value).split())  # one line: collapse newlines and runs of blanks


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def format_table(headers, rows, align=None, indent="  ") -> str:
    """A fixed-width text table. `align` is a string of 'l'/'r' per column (default: numbers right)."""
    cells = [[_cell(v) for v in row] for row in rows]
    if align is None:
        sample = rows[0] if rows else [None] * len(headers)
        align = "".join("r" if isinstance(v, (int, float)) and not isinstance(v, bool) else "l" for v in sample)
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]

    def line(values):
        parts = [v.rjust(w) if a == "r" else v.ljust(w) for v, w, a in zip(values, widths, align)]
        return (indent + "  ".join(parts)).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------------------------------
def _relation(con, table: str) -> str:
    """`"<catalog>".marts.<table>`: qualified with the catalog, because a file named marts.duckdb makes a plain
    `marts.<table>` ambiguous (catalog marts or schema marts)."""
    catalog = con.execute("SELECT current_database()").fetchone()[0]
    return '"' + catalog.replace('"', '""') + f'".{SCHEMA}.{table}'


def _check_tables(con) -> None:
    found = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_schema = ?", [SCHEMA]
    ).fetchall():
        found.setdefault(table, set()).add(column.lower())
    missing_tables = [t for t in REQUIRED if t not in found]
    if missing_tables:
        names = ", ".join(f"{SCHEMA}.{t}" for t in missing_tables)
        raise SummaryError(f"missing table(s): {names}. Run the dbt build first (dbt build), then retry.")
    for table, columns in REQUIRED.items():
        absent = [c for c in columns if c not in found[table]]
        if absent:
            raise SummaryError(f"{SCHEMA}.{table} lacks column(s): {', '.join(absent)}")


def _reason_counts(con, table: str):
    return con.execute(
        f"SELECT coalesce(CAST(reason_code AS VARCHAR), '(none)') AS reason, count(*) AS n "
        f"FROM {_relation(con, table)} GROUP BY 1 ORDER BY n DESC, reason"
    ).fetchall()


def render_summary(con, model_id: str = "default") -> str:
    """The summary text for `model_id`, from an open DuckDB connection to the warehouse."""
    _check_tables(con)
    scores = _relation(con, "lead_scores")
    n_scored, n_versions, first_scored, last_scored = con.execute(
        f"SELECT count(*), count(DISTINCT ruleset_version), min(scored_at), max(scored_at) FROM {scores} "
        f"WHERE model_id = ?", [model_id]
    ).fetchone()
    if n_scored == 0:
        models = [r[0] for r in con.execute(f"SELECT DISTINCT model_id FROM {scores} ORDER BY 1").fetchall()]
        present = ", ".join(map(str, models)) if models else "none (the table is empty)"
        raise SummaryError(f"no scores for model '{model_id}' in {SCHEMA}.lead_scores; models present: {present}")
    versions = [r[0] for r in con.execute(
        f"SELECT DISTINCT CAST(ruleset_version AS VARCHAR) FROM {scores} WHERE model_id = ? ORDER BY 1",
        [model_id]).fetchall()]

    out = []
    out.append(f"Lead scoring summary: model '{model_id}'")
    out.append(f"  ruleset version: {', '.join(_cell(v) for v in versions)}")
    scored = _cell(last_scored) if first_scored == last_scored else f"{_cell(first_scored)} .. {_cell(last_scored)}"
    out.append(f"  scored at:       {scored}")
    out.append(f"  leads scored:    {n_scored:,}")

    # -- matrix -------------------------------------------------------------------------------------
    counts = {}
    for grade, level, n in con.execute(
        f"SELECT upper(trim(CAST(fit_grade AS VARCHAR))), trim(CAST(engagement_level AS VARCHAR)), count(*) "
        f"FROM {scores} WHERE model_id = ? GROUP BY ALL", [model_id]
    ).fetchall():
        counts[(grade, level)] = n
    rows = []
    for grade in GRADES:
        row = [counts.get((grade, level), 0) for level in LEVELS]
        rows.append([grade, *row, sum(row)])
    col_totals = [sum(counts.get((g, lv), 0) for g in GRADES) for lv in LEVELS]
    rows.append(["total", *col_totals, sum(col_totals)])
    out.append("")
    out.append("Fit grade (rows) x engagement level (columns), lead counts")
    out.append(format_table(["grade", *[f"level {lv}" for lv in LEVELS], "total"], rows, align="lrrrrr"))
    outside = n_scored - sum(col_totals)
    if outside:
        out.append(f"  ({outside:,} lead(s) outside the A-D x 1-4 grid: missing or unexpected grade/level)")

    # -- lifecycle ----------------------------------------------------------------------------------
    stages = con.execute(
        f"SELECT coalesce(CAST(lifecycle_stage AS VARCHAR), '(none)') AS stage, count(*) AS n FROM {scores} "
        f"WHERE model_id = ? GROUP BY 1 ORDER BY n DESC, stage", [model_id]).fetchall()
    out.append("")
    out.append("Lifecycle stages")
    out.append(format_table(["stage", "leads", "share"],
                            [[s, n, f"{100.0 * n / n_scored:.1f}%"] for s, n in stages], align="lrr"))

    # -- top leads ----------------------------------------------------------------------------------
    top = con.execute(
        f"SELECT lead_id, lead_score, matrix_cell, fit_score, engagement_score, lifecycle_stage, top_reasons "
        f"FROM {scores} WHERE model_id = ? ORDER BY lead_score DESC NULLS LAST, lead_id LIMIT {TOP_N}",
        [model_id]).fetchall()
    out.append("")
    out.append(f"Top {min(TOP_N, len(top))} leads by lead_score")
    out.append(format_table(
        ["#", "lead_id", "score", "cell", "fit", "eng", "stage", "top reasons"],
        [[rank, lid, score, cell, fit, eng, stage, _shorten(_cell(reasons), REASONS_WIDTH)]
         for rank, (lid, score, cell, fit, eng, stage, reasons) in enumerate(top, start=1)],
        align="rlrlrrll"))

    # -- quarantine ---------------------------------------------------------------------------------
    for table, label in (("quarantined_leads", "leads"), ("quarantined_events", "events"),
                         ("quarantined_opportunities", "opportunities")):
        reasons = _reason_counts(con, table)
        total = sum(n for _, n in reasons)
        out.append("")
        out.append(f"Quarantined {label}: {total:,}")
        if reasons:
            out.append(format_table(["reason_code", "rows"], reasons, align="lr"))

    # -- reconciliation -----------------------------------------------------------------------------
    recon = con.execute(
        f"SELECT source_table, raw_rows, staged_rows, quarantined_rows, superseded_rows, is_reconciled "
        f"FROM {_relation(con, 'pipeline_reconciliation')} ORDER BY source_table").fetchall()
    out.append("")
    out.append("Reconciliation (raw = staged + quarantined + superseded)")
    if not recon:
        out.append("  (no rows in marts.pipeline_reconciliation)")
    for source, raw, staged, quarantined, superseded, ok in recon:
        status = "OK" if ok else "NOT RECONCILED"
        out.append(f"  {_cell(source)}: raw {_cell(raw)} = staged {_cell(staged)} + quarantined "
                   f"{_cell(quarantined)} + superseded {_cell(superseded)}  {status}")
    return "\n".join(out) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `lead-scoring summary` (and `python -m lead_scoring.summary`)."""
    parser.add_argument("--database", required=True, help="the DuckDB warehouse file")
    parser.add_argument("--model", default="default", help="model_id to summarise (default: default)")


def run(args: argparse.Namespace) -> int:
    if not os.path.exists(args.database):
        print(f"summary: database file not found: {args.database}", file=sys.stderr)
        return 1
    try:
        con = duckdb.connect(args.database, read_only=True)
    except duckdb.Error as exc:
        print(f"summary: cannot open {args.database} read-only: {exc}", file=sys.stderr)
        return 1
    try:
        text = render_summary(con, args.model)
    except SummaryError as exc:
        print(f"summary: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()
    sys.stdout.write(text)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lead_scoring.summary", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
