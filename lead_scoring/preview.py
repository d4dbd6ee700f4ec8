"""Rule-change preview: what a candidate seed folder would change, before it ships. Nothing in production changes.

    lead-scoring preview --database warehouse/lead_scoring.duckdb --seeds DIR --out warehouse/preview \\
        [--model default] [--cutoff T | --horizon-days 30] [--no-backtest] [--sample 20] [--keep]
    make preview SEEDS=DIR

`DIR` is a folder of seed CSVs in the project's format (only the files present replace the project's; e.g. the
folder `lead-scoring suggest-rules` or `suggest-weights` writes). Steps (each a small function below):
1. :func:`lead_scoring.scratch.read_overlay` checks the folder: unknown file names and headers that differ from
   the project's seeds are refused, naming the file.
2. The current scores, read-only, from the warehouse: ``marts.lead_scores`` at its as_of (``scored_at``, the
   instant of the last build).
3. A scratch build (lead_scoring.scratch: copies of the project and of the warehouse file) with the candidate
   seeds, at that same as_of, of ``+lead_scores +lead_score_reasons``; its scores beside the current ones.
4. :func:`diff_scores`: per lead, old and new grade, level, cell and stage; the movers (any of the four
   changed), transition tables per dimension, MQL volume before and after, leads whose score changed, leads
   scored on one side only. A sample of movers (largest score change first) with their top reasons
   (``marts.lead_score_reasons``, by absolute points) before and after.
5. The backtest before and after (lead_scoring.backtest): both rule sets replayed at a cut-off (default
   as_of - 30 days) in scratch builds; skipped with ``--no-backtest``.
6. :func:`diff_seeds`: rules added, removed, re-weighted (only ``points`` changed) or re-configured (any other
   column) in every candidate seed, compared by key (``model_id`` + ``rule_id`` for rule seeds; model, axis,
   band for score bands; model and priority for lifecycle rules; ...).
Writes ``preview.md`` (for a pull request) and ``preview.json`` (every mover listed), which
`lead-scoring report --preview preview.json` adds to the HTML report.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from lead_scoring import backtest as bt
from lead_scoring.clock import ClockError, format_as_of, parse_instant
from lead_scoring.scratch import PROJECT_ROOT, ScratchError, read_overlay, scratch_build

DEFAULT_MODEL = "default"
DEFAULT_HORIZON_DAYS = 30.0
DEFAULT_SAMPLE = 20
TOP_REASONS = 3
REPORT_MD = "preview.md"
REPORT_JSON = "preview.json"
DIMENSIONS = ("fit_grade", "engagement_level", "matrix_cell", "lifecycle_stage")
DIMENSION_TITLES = {"fit_grade": "grade", "engagement_level": "level", "matrix_cell": "cell",
                    "lifecycle_stage": "stage"}

# How rows of each seed are matched between the current and the candidate file; other seeds: the whole row.
SEED_KEYS = {
    "scoring_fit_rules.csv": ("model_id", "rule_id"),
    "scoring_engagement_rules.csv": ("model_id", "rule_id"),
    "scoring_signal_rules.csv": ("model_id", "rule_id"),
    "scoring_group_caps.csv": ("model_id", "axis", "rule_group"),
    "scoring_lifecycle_rules.csv": ("model_id", "priority"),
    "scoring_score_bands.csv": ("model_id", "axis", "band"),
    "scoring_models.csv": ("model_id",),
    "scoring_calibration_settings.csv": ("model_id",),
    "scoring_overrides.csv": ("override_id",),
}
IGNORED_COLUMNS = ("description",)  # a changed description alone is reported as "re-described", not re-configured


class PreviewError(RuntimeError):
    """A preview that cannot run (no scores for the model, ...)."""


# --------------------------------------------------------------------------------------------------
# Seeds: what changed, rule by rule
# --------------------------------------------------------------------------------------------------
@dataclass
class SeedChange:
    seed: str
    key: dict[str, str]
    change: str  # added | removed | re-weighted | re-configured | re-described
    columns: dict[str, list[str | None]] = field(default_factory=dict)  # column -> [old, new]


def _records(text: str) -> tuple[list[str], list[dict[str, str]]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = [c.strip() for c in rows[0]] if rows else []
    return header, [dict(zip(header, (c.strip() for c in r))) for r in rows[1:] if any(c.strip() for c in r)]


def _same(a: str | None, b: str | None) -> bool:
    if (a or "") == (b or ""):
        return True
    try:
        return float(a) == float(b)  # "15" and "15.0" are the same points
    except (TypeError, ValueError):
        return (a or "").lower() == (b or "").lower() and (a or "").lower() in ("true", "false")


def diff_seed(name: str, current_text: str, candidate_text: str) -> list[SeedChange]:
    """Rows added, removed or changed between two versions of one seed, matched by :data:`SEED_KEYS`."""
    header, old = _records(current_text)
    _, new = _records(candidate_text)
    key_cols = SEED_KEYS.get(name, tuple(header))

    def index(rows: list[dict[str, str]]) -> dict[tuple, dict[str, str]]:
        return {tuple(r.get(c, "") for c in key_cols): r for r in rows}

    old_i, new_i = index(old), index(new)
    changes = []
    for key in list(old_i) + [k for k in new_i if k not in old_i]:
        keyd = dict(zip(key_cols, key))
        if key not in new_i:
            changes.append(SeedChange(name, keyd, "removed"))
        elif key not in old_i:
            changes.append(SeedChange(name, keyd, "added"))
        else:
            cols = {c: [old_i[key].get(c), new_i[key].get(c)] for c in header
                    if not _same(old_i[key].get(c), new_i[key].get(c))}
            if not cols:
                continue
            if set(cols) <= set(IGNORED_COLUMNS):
                kind = "re-described"
            elif set(cols) - set(IGNORED_COLUMNS) == {"points"}:
                kind = "re-weighted"
            else:
                kind = "re-configured"
            changes.append(SeedChange(name, keyd, kind, cols))
    return changes


def diff_seeds(overlay: Mapping[str, str], project_dir: Path | str = PROJECT_ROOT) -> list[SeedChange]:
    """Every change of every candidate seed against the project's seed of the same name."""
    out = []
    for name in sorted(overlay):
        current = (Path(project_dir) / "seeds" / name).read_text(encoding="utf-8")
        out += diff_seed(name, current, overlay[name])
    return out


# --------------------------------------------------------------------------------------------------
# Scores: who moves
# --------------------------------------------------------------------------------------------------
SCORE_SQL = ("select lead_id, lead_score, fit_grade, cast(engagement_level as varchar) as engagement_level, "
             "matrix_cell, lifecycle_stage, is_mql from marts.lead_scores where model_id = ?")


def read_scores(con, model_id: str) -> dict[str, dict[str, Any]]:
    return {r["lead_id"]: r for r in bt._dicts(con, SCORE_SQL, [model_id])}


def top_reasons(con, model_id: str, lead_ids: Sequence[str], limit: int = TOP_REASONS) -> dict[str, list[str]]:
    """The `limit` reasons with the largest absolute points per lead (marts.lead_score_reasons), as text."""
    if not lead_ids:
        return {}
    rows = bt._dicts(con, """
        select lead_id, axis, coalesce(rule_id, reason_type) as reason, points
        from marts.lead_score_reasons
        where model_id = ? and lead_id in (select unnest(?))
        order by lead_id, abs(points) desc, reason""", [model_id, list(lead_ids)])
    out: dict[str, list[str]] = {lead: [] for lead in lead_ids}
    for r in rows:
        if len(out[r["lead_id"]]) < limit and r["points"] is not None:
            out[r["lead_id"]].append(f"{r['reason']} ({r['axis']}, {float(r['points']):+.2f})")
    return out


@dataclass
class Mover:
    lead_id: str
    old: dict[str, Any]
    new: dict[str, Any]
    changed: list[str]  # the dimensions that changed
    old_reasons: list[str] = field(default_factory=list)
    new_reasons: list[str] = field(default_factory=list)


def _public(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"lead_score": float(row["lead_score"]), **{d: row[d] for d in DIMENSIONS}, "is_mql": bool(row["is_mql"])}


def diff_scores(current: Mapping[str, Mapping[str, Any]], candidate: Mapping[str, Mapping[str, Any]]
                ) -> dict[str, Any]:
    """Movers, transition tables, MQL volume and score changes between two score sets (lead_id -> row)."""
    both = sorted(set(current) & set(candidate))
    movers, score_changed = [], 0
    transitions: dict[str, Counter] = {d: Counter() for d in DIMENSIONS}
    for lead in both:
        old, new = current[lead], candidate[lead]
        if abs(float(old["lead_score"]) - float(new["lead_score"])) > 1e-9:
            score_changed += 1
        changed = [d for d in DIMENSIONS if old[d] != new[d]]
        for d in DIMENSIONS:
            transitions[d][(str(old[d]), str(new[d]))] += 1
        if changed:
            movers.append(Mover(lead, _public(old), _public(new), changed))
    return {
        "leads_compared": len(both),
        "only_current": sorted(set(current) - set(candidate)),
        "only_candidate": sorted(set(candidate) - set(current)),
        "score_changed": score_changed,
        "movers": movers,
        "moved_by_dimension": {d: sum(d in m.changed for m in movers) for d in DIMENSIONS},
        "transitions": {d: [{"from": a, "to": b, "leads": n} for (a, b), n in sorted(c.items())]
                        for d, c in transitions.items()},
        "mql_before": sum(bool(r["is_mql"]) for r in current.values()),
        "mql_after": sum(bool(r["is_mql"]) for r in candidate.values()),
    }


def _sample(movers: list[Mover], n: int) -> list[Mover]:
    ordered = sorted(movers, key=lambda m: (-abs(m.new["lead_score"] - m.old["lead_score"]), m.lead_id))
    return ordered[:n]


# --------------------------------------------------------------------------------------------------
# The preview
# --------------------------------------------------------------------------------------------------
@dataclass
class Preview:
    model_id: str
    database: str
    seeds_dir: str
    as_of: str
    seed_files: list[str]
    rule_changes: list[SeedChange]
    scores: dict[str, Any]  # diff_scores' result (movers as dicts in JSON)
    sample: list[Mover]
    backtest: dict[str, Any] | None  # the Backtest as JSON (current and candidate, replayed at the cut-off)
    seconds: dict[str, float]
    files: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run_preview(database: Path | str, seeds_dir: Path | str, model_id: str = DEFAULT_MODEL,
                project_dir: Path | str = PROJECT_ROOT, cutoff: str | None = None,
                horizon_days: float = DEFAULT_HORIZON_DAYS, with_backtest: bool = True, sample: int = DEFAULT_SAMPLE,
                scratch_dir: Path | str | None = None, keep: bool = False) -> Preview:
    started = time.monotonic()
    overlay = read_overlay(seeds_dir, project_dir)
    rule_changes = diff_seeds(overlay, project_dir)
    database = Path(database).resolve()
    con = bt._connect(database)
    try:
        as_of = bt.warehouse_as_of(con, model_id)
        current = read_scores(con, model_id)
    finally:
        con.close()
    seconds: dict[str, float] = {}
    t0 = time.monotonic()
    with scratch_build(project_dir, database, format_as_of(as_of), seeds_dir=seeds_dir,
                       scratch_dir=Path(scratch_dir) / "candidate_now" if scratch_dir else None, keep=keep) as build:
        seconds["candidate_build"] = round(time.monotonic() - t0, 1)
        scon = bt._connect(build.database)
        try:
            candidate = read_scores(scon, model_id)
            diff = diff_scores(current, candidate)
            chosen = _sample(diff["movers"], sample)
            new_reasons = top_reasons(scon, model_id, [m.lead_id for m in chosen])
        finally:
            scon.close()
    con = bt._connect(database)
    try:
        old_reasons = top_reasons(con, model_id, [m.lead_id for m in chosen])
    finally:
        con.close()
    for m in chosen:
        m.old_reasons, m.new_reasons = old_reasons.get(m.lead_id, []), new_reasons.get(m.lead_id, [])

    backtest = None
    if with_backtest:
        t0 = time.monotonic()
        cut = parse_instant(cutoff, "cutoff") if cutoff else as_of - timedelta(days=horizon_days)
        b = bt.run_backtest(database, model_id, cutoff=cut, replay=True, seeds_dir=seeds_dir, project_dir=project_dir,
                            scratch_dir=Path(scratch_dir) / "backtest" if scratch_dir else None, keep=keep)
        backtest = b.to_json()
        seconds["backtest_replays"] = round(time.monotonic() - t0, 1)
    seconds["total"] = round(time.monotonic() - started, 1)
    return Preview(model_id=model_id, database=str(database), seeds_dir=str(seeds_dir), as_of=format_as_of(as_of),
                   seed_files=sorted(overlay), rule_changes=rule_changes, scores=diff, sample=chosen,
                   backtest=backtest, seconds=seconds)


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    return "" if value is None else str(value).replace("|", "\\|")


def transition_table(rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[int]]]:
    """A from x to matrix of lead counts (labels sorted)."""
    labels = sorted({r["from"] for r in rows} | {r["to"] for r in rows})
    grid = [[0] * len(labels) for _ in labels]
    for r in rows:
        grid[labels.index(r["from"])][labels.index(r["to"])] += r["leads"]
    return labels, grid


def rule_change_lines(changes: Sequence[Mapping[str, Any]]) -> list[str]:
    if not changes:
        return ["No rule, band or threshold differs from the project's seeds.", ""]
    lines = ["| seed | key | change | columns (current -> candidate) |", "|---|---|---|---|"]
    for c in changes:
        key = ", ".join(f"{k}={v}" for k, v in c["key"].items())
        cols = "; ".join(f"{k}: {_cell(o)} -> {_cell(n)}" for k, (o, n) in c["columns"].items())
        lines.append(f"| {c['seed']} | {_cell(key)} | {c['change']} | {_cell(cols)} |")
    counts = Counter(c["change"] for c in changes)
    return lines + ["", "Totals: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ".", ""]


def render_markdown(p: Preview) -> str:
    j = p.to_json()
    s = j["scores"]
    lines = [f"# Rule-change preview for model `{p.model_id}`", "",
             f"Candidate seeds `{p.seeds_dir}` ({', '.join(p.seed_files)}), scored in a scratch copy of "
             f"`{p.database}` at its as_of {p.as_of} (UTC), beside the current scores. Nothing in production "
             "changed.", "",
             "## Summary", "",
             "| | current | candidate |", "|---|---|---|",
             f"| MQLs | {s['mql_before']} | {s['mql_after']} ({s['mql_after'] - s['mql_before']:+d}) |",
             f"| leads scored | {s['leads_compared'] + len(s['only_current'])} | "
             f"{s['leads_compared'] + len(s['only_candidate'])} |", "",
             f"{len(s['movers'])} of {s['leads_compared']} leads move grade, level, cell or stage "
             f"({', '.join(f'{DIMENSION_TITLES[d]} {n}' for d, n in s['moved_by_dimension'].items())}); "
             f"{s['score_changed']} change lead score.", ""]
    lines += ["## Rules added, removed, re-weighted or re-configured", "", *rule_change_lines(j["rule_changes"])]
    lines += ["## Transitions (rows: current, columns: candidate)", ""]
    for d in DIMENSIONS:
        labels, grid = transition_table(s["transitions"][d])
        lines += [f"### {DIMENSION_TITLES[d]}", "", "| from \\ to | " + " | ".join(labels) + " |",
                  "|---|" + "---|" * len(labels)]
        for label, row in zip(labels, grid):
            lines.append(f"| {label} | " + " | ".join(str(v) if v else "." for v in row) + " |")
        lines.append("")
    lines += [f"## Sample of movers (largest score change first, {len(p.sample)} of {len(s['movers'])})", "",
              "| lead | score | grade | level | cell | stage | top reasons now | top reasons with the candidate |",
              "|---|---|---|---|---|---|---|---|"]
    for m in j["sample"]:
        o, n = m["old"], m["new"]

        def arrow(key: str) -> str:
            return _cell(o[key]) if o[key] == n[key] else f"{_cell(o[key])} -> {_cell(n[key])}"
        lines.append(f"| {m['lead_id']} | {o['lead_score']:.2f} -> {n['lead_score']:.2f} | {arrow('fit_grade')} | "
                     f"{arrow('engagement_level')} | {arrow('matrix_cell')} | {arrow('lifecycle_stage')} | "
                     f"{_cell('; '.join(m['old_reasons']))} | {_cell('; '.join(m['new_reasons']))} |")
    lines.append("")
    if p.backtest:
        b = p.backtest
        lines += ["## Backtest before and after", "",
                  f"Both rule sets replayed at the cut-off {b['cutoff']}: every lead scored then, without an opportunity "
                  f"by then; converted = first opportunity after it and by {b['as_of']}.", ""]
        lines += bt.summary_rows(_backtest_view(b)) + [""]
    lines += [f"Timing (seconds): {', '.join(f'{k} {v:g}' for k, v in p.seconds.items())}.", ""]
    return "\n".join(lines)


def _backtest_view(b: Mapping[str, Any]) -> bt.Backtest:
    sets = [bt.RuleSetResult(r["name"], r["source"], r["left_out"], r["metrics"]) for r in b["rule_sets"]]
    return bt.Backtest(b["model_id"], b["database"], b["as_of"], b["mode"], b["horizon_days"], b["cutoff"], sets)


def write_reports(p: Preview, out_dir: Path | str) -> None:
    out = Path(out_dir).resolve()
    if out == (PROJECT_ROOT / "seeds").resolve() or (PROJECT_ROOT / "seeds").resolve() in out.parents:
        raise PreviewError(f"refusing to write the preview into {out}: seeds/ is changed only by hand")
    out.mkdir(parents=True, exist_ok=True)
    p.files = {REPORT_MD: str(out / REPORT_MD), REPORT_JSON: str(out / REPORT_JSON)}
    (out / REPORT_JSON).write_text(json.dumps(p.to_json(), indent=2, default=str) + "\n", encoding="utf-8")
    (out / REPORT_MD).write_text(render_markdown(p), encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `lead-scoring preview`."""
    parser.add_argument("--database", required=True, help="the DuckDB warehouse (only read)")
    parser.add_argument("--seeds", required=True, help="the candidate seed folder (CSV files named as in seeds/)")
    parser.add_argument("--out", default="warehouse/preview", help="folder for preview.md and preview.json")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="scoring model id (default: %(default)s)")
    parser.add_argument("--cutoff", default=None, help="the backtest's cut-off (default: as_of - --horizon-days)")
    parser.add_argument("--horizon-days", type=float, default=DEFAULT_HORIZON_DAYS,
                        help="the backtest's cut-off this many days before as_of (default: %(default)s)")
    parser.add_argument("--no-backtest", action="store_true", help="skip the backtest before and after")
    parser.add_argument("--sample", type=int, default=DEFAULT_SAMPLE, help="movers listed with their reasons")
    parser.add_argument("--project-dir", default=str(PROJECT_ROOT), help="the dbt project (read only)")
    parser.add_argument("--scratch", default=None, help="scratch folder (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")


def run(args: argparse.Namespace) -> int:
    try:
        p = run_preview(args.database, args.seeds, args.model, args.project_dir, cutoff=args.cutoff,
                        horizon_days=args.horizon_days, with_backtest=not args.no_backtest, sample=args.sample,
                        scratch_dir=args.scratch, keep=args.keep)
        write_reports(p, args.out)
    except (PreviewError, bt.BacktestError, ScratchError, ClockError) as exc:
        print(f"preview: {exc}", file=sys.stderr)
        return 1
    s = p.scores
    print(f"{len(s['movers'])} of {s['leads_compared']} leads move grade, level, cell or stage; "
          f"MQLs {s['mql_before']} -> {s['mql_after']}; {len(p.rule_changes)} rule changes")
    if p.backtest:
        for rs in p.backtest["rule_sets"]:
            print(f"backtest at {p.backtest['cutoff']}, {rs['name']}: AUC {rs['metrics']['roc_auc']:.3f}")
    print(f"wrote {', '.join(sorted(p.files.values()))} in {p.seconds['total']:g} s")
    return 0
