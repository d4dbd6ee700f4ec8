"""Point-in-time backtest: how well the scores ranked leads *before* their outcome, never their current score.

    lead-scoring backtest --database warehouse/lead_scoring.duckdb [--model default] \\
        (--horizon-days 30 | --cutoff 2026-10-01) [--replay] [--seeds DIR] [--out warehouse/backtest]

The outcome of a lead is its first opportunity (``staging.stg_crm__opportunities``, ``created_at``) known at the
warehouse's ``as_of`` (``marts.lead_scores.scored_at``, the instant of its last build). The score of a lead "at
instant s" is the version of ``marts.lead_score_history`` valid at s (``valid_from <= s`` and ``valid_to`` null
or ``> s``: the latest scoring run at or before s, which saw no event after its own ``as_of``).

Two ways to choose the scoring instant (docs/backtest_and_preview.md, "Population rules"):

- ``--horizon-days N`` (from the history): a converted lead is scored at ``its opportunity's created_at - N
  days``, a lead without any opportunity at ``as_of - N days``. A lead enters the population only if it had a
  score at that instant (it existed and a run had scored it); a converted lead's instant is before its outcome
  by construction (N > 0). Converted leads whose instant precedes the history's first run are left out and
  counted.
- ``--cutoff T``: every lead is scored at T. Population: leads with a score valid at T and no opportunity at
  or before T. Label: an opportunity created in (T, as_of].

``--replay`` computes the scores at T by a scratch build at ``as_of = T`` (lead_scoring.scratch: a copy of the
project and the warehouse, the production file only read) instead of reading the history; with ``--seeds DIR``
the candidate seeds are replayed too (they have no history), beside the current seeds, at the same T. With
``--horizon-days`` and ``--replay``, T = as_of - N days. The population and label rules are those of
``--cutoff``, the population being the leads the replay scored (staging drops leads created after T).

Per rule set the report gives (lead_scoring.ranking): ROC AUC of ``lead_score``, lift by decile, conversion by
fit grade, engagement level, matrix cell, lifecycle stage and by 10-point ``lead_score`` band (calibration),
whether conversion falls from grade A to D and from level 1 to 4, and the top segments (MQL, grade A): share of
leads, capture of conversions, rate, rate ratio against the other leads and against the bottom (grade D).
Written as ``backtest.md`` (for a pull request) and ``backtest.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from lead_scoring import ranking
from lead_scoring.clock import ClockError, format_as_of, parse_instant
from lead_scoring.scratch import PROJECT_ROOT, ScratchError, read_overlay, scratch_build

DEFAULT_MODEL = "default"
REPORT_MD = "backtest.md"
REPORT_JSON = "backtest.json"
GRADES = ("A", "B", "C", "D")
LEVELS = ("1", "2", "3", "4")
CELLS = tuple(g + lv for g in GRADES for lv in LEVELS)
BAND_WIDTH = 10
BANDS = tuple(f"{lo}-{lo + BAND_WIDTH - 1}" if lo < 90 else "90-100" for lo in range(0, 100, BAND_WIDTH))


class BacktestError(RuntimeError):
    """A backtest that cannot run (no history at the instant, no conversions, a bad option, ...)."""


# --------------------------------------------------------------------------------------------------
# Rows: one per lead of the population, with its score at its scoring instant and its label
# --------------------------------------------------------------------------------------------------
@dataclass
class ScoredLeads:
    lead_ids: list[str]
    scored_at: list[datetime]  # the scoring instant of each lead
    lead_score: np.ndarray
    fit_grade: list[str | None]
    engagement_level: list[str | None]
    matrix_cell: list[str | None]
    lifecycle_stage: list[str | None]
    converted: np.ndarray  # bool
    left_out: dict[str, int] = field(default_factory=dict)  # reason -> leads


def _connect(database: Path | str):
    import duckdb

    path = Path(database)
    if not path.exists():
        raise BacktestError(f"warehouse {path} does not exist: build it first (make build)")
    con = duckdb.connect(str(path), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    return con


def warehouse_as_of(con, model_id: str) -> datetime:
    """The as_of of the warehouse's last build: marts.lead_scores.scored_at (one instant per build)."""
    values = con.execute("select distinct scored_at from marts.lead_scores where model_id = ?", [model_id]).fetchall()
    if not values:
        raise BacktestError(f"marts.lead_scores has no rows for model {model_id!r}")
    if len(values) != 1:
        raise BacktestError(f"marts.lead_scores mixes scoring instants {sorted(str(v[0]) for v in values)}")
    return values[0][0]


def first_outcomes(con) -> dict[str, datetime]:
    """lead_id -> created_at of its first opportunity (as staged at the warehouse's as_of)."""
    return {r[0]: r[1] for r in con.execute(
        "select lead_id, min(created_at) from staging.stg_crm__opportunities "
        "where lead_id is not null and created_at is not null group by lead_id").fetchall()}


def _grade_level(row: dict[str, Any]) -> tuple:
    return (row["fit_grade"], None if row["engagement_level"] is None else str(row["engagement_level"]),
            row["matrix_cell"], row["lifecycle_stage"])


def _scored_leads(rows: list[dict[str, Any]], outcomes: dict[str, datetime], as_of: datetime,
                  left_out: dict[str, int]) -> ScoredLeads:
    rows = sorted(rows, key=lambda r: r["lead_id"])
    gl = [_grade_level(r) for r in rows]
    return ScoredLeads(
        lead_ids=[r["lead_id"] for r in rows], scored_at=[r["instant"] for r in rows],
        lead_score=np.array([float(r["lead_score"]) for r in rows]),
        fit_grade=[g[0] for g in gl], engagement_level=[g[1] for g in gl], matrix_cell=[g[2] for g in gl],
        lifecycle_stage=[g[3] for g in gl],
        converted=np.array([r["lead_id"] in outcomes and outcomes[r["lead_id"]] <= as_of for r in rows], dtype=bool),
        left_out=left_out)


SCORE_COLUMNS = "lead_id, lead_score, fit_grade, engagement_level, matrix_cell, lifecycle_stage"


def history_at_horizon(con, model_id: str, horizon_days: float, as_of: datetime) -> ScoredLeads:
    """Scores from marts.lead_score_history at `horizon_days` before each outcome (non-converted: before as_of)."""
    if horizon_days <= 0:
        raise BacktestError(f"--horizon-days must be positive, not {horizon_days:g}")
    horizon = timedelta(days=horizon_days)
    outcomes = {k: v for k, v in first_outcomes(con).items() if v <= as_of}
    con.execute("create or replace temp table backtest_instants (lead_id varchar, instant timestamp)")
    leads = [r[0] for r in con.execute("select distinct lead_id from marts.lead_score_history where model_id = ?",
                                       [model_id]).fetchall()]
    instants = [(lead, (outcomes[lead] if lead in outcomes else as_of) - horizon) for lead in leads]
    con.executemany("insert into backtest_instants values (?, ?)", instants)
    rows = _dicts(con, f"""
        select i.instant, {', '.join('h.' + c.strip() for c in SCORE_COLUMNS.split(','))}
        from backtest_instants i
        join marts.lead_score_history h
          on h.lead_id = i.lead_id and h.model_id = ?
         and h.valid_from <= i.instant and (h.valid_to is null or h.valid_to > i.instant)""", [model_id])
    scored = {r["lead_id"] for r in rows}
    left_out = {
        "converted, no score valid at the instant (before the history's first run, or not created yet)":
            sum(1 for lead in leads if lead in outcomes and lead not in scored),
        "not converted, no score valid at the instant": sum(1 for lead in leads if lead not in outcomes
                                                            and lead not in scored),
    }
    return _scored_leads(rows, outcomes, as_of, left_out)


def history_at_cutoff(con, model_id: str, cutoff: datetime, as_of: datetime) -> ScoredLeads:
    """Scores valid at `cutoff` from marts.lead_score_history; label: first opportunity in (cutoff, as_of]."""
    _check_cutoff(cutoff, as_of)
    rows = _dicts(con, f"""
        select cast(? as timestamp) as instant, {SCORE_COLUMNS}
        from marts.lead_score_history
        where model_id = ? and valid_from <= ? and (valid_to is null or valid_to > ?)""",
                  [cutoff, model_id, cutoff, cutoff])
    return _at_cutoff(rows, first_outcomes(con), cutoff, as_of)


def _check_cutoff(cutoff: datetime, as_of: datetime) -> None:
    if cutoff >= as_of:
        raise BacktestError(f"the cut-off {format_as_of(cutoff)} must be before the warehouse's as_of "
                            f"{format_as_of(as_of)} (outcomes after it are not known yet)")


def _at_cutoff(rows: list[dict[str, Any]], outcomes: dict[str, datetime], cutoff: datetime,
               as_of: datetime) -> ScoredLeads:
    before = [r for r in rows if r["lead_id"] in outcomes and outcomes[r["lead_id"]] <= cutoff]
    kept = [r for r in rows if not (r["lead_id"] in outcomes and outcomes[r["lead_id"]] <= cutoff)]
    return _scored_leads(kept, outcomes, as_of, {"opportunity at or before the cut-off": len(before)})


def replay_at_cutoff(database: Path, model_id: str, cutoff: datetime, as_of: datetime, outcomes: dict[str, datetime],
                     project_dir: Path | str = PROJECT_ROOT, seeds_dir: Path | str | None = None,
                     scratch_dir: Path | str | None = None, keep: bool = False) -> ScoredLeads:
    """Scores at `cutoff` recomputed by a scratch build at as_of = cutoff (candidate seeds overlaid if given)."""
    _check_cutoff(cutoff, as_of)
    with scratch_build(project_dir, database, format_as_of(cutoff), seeds_dir=seeds_dir, scratch_dir=scratch_dir,
                       keep=keep) as build:
        con = _connect(build.database)
        try:
            rows = _dicts(con, f"select scored_at as instant, {SCORE_COLUMNS} from marts.lead_scores "
                               "where model_id = ?", [model_id])
        finally:
            con.close()
    if not rows:
        raise BacktestError(f"the replay at {format_as_of(cutoff)} scored no lead of model {model_id!r}")
    return _at_cutoff(rows, outcomes, cutoff, as_of)


def _dicts(con, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


# --------------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------------
def score_band(score: float) -> str:
    """10-point band of a 0-100 lead score: '0-9', ..., '80-89', '90-100'."""
    lo = min(90, max(0, int(np.floor(score / BAND_WIDTH)) * BAND_WIDTH))
    return "90-100" if lo == 90 else f"{lo}-{lo + BAND_WIDTH - 1}"


def _segment(mask: Sequence[bool], y: np.ndarray, bottom: Sequence[bool]) -> dict[str, Any]:
    vs_rest = ranking.segment(mask, y)
    vs_bottom = ranking.segment(mask, y, compare_to=bottom)
    return {**asdict(vs_rest), "rate_ratio_vs_rest": vs_rest.rate_ratio, "rate_ratio_vs_bottom": vs_bottom.rate_ratio}


def metrics(leads: ScoredLeads) -> dict[str, Any]:
    """Every figure of the report for one rule set (see the module docstring)."""
    y = leads.converted
    n, conv = len(y), int(y.sum())
    if n == 0 or conv == 0 or conv == n:
        raise BacktestError(f"the population has {n} leads and {conv} conversions: the backtest needs converted "
                            "and non-converted leads (choose another horizon or cut-off)")
    s = leads.lead_score
    by = {
        "grade": ranking.conversion_by_group(leads.fit_grade, y, GRADES),
        "level": ranking.conversion_by_group(leads.engagement_level, y, LEVELS),
        "cell": ranking.conversion_by_group(leads.matrix_cell, y, CELLS),
        "stage": ranking.conversion_by_group(leads.lifecycle_stage, y),
        "score_band": ranking.conversion_by_group([score_band(v) for v in s], y, BANDS),
    }
    bottom = [g == "D" for g in leads.fit_grade]
    return {
        "leads": n, "conversions": conv, "conversion_rate": conv / n,
        "roc_auc": ranking.roc_auc(s, y),
        "top_decile_lift": ranking.top_share_lift(s, y, 0.1),
        "lift_by_decile": [asdict(d) for d in ranking.lift_by_decile(s, y)],
        "conversion_by": {k: [asdict(g) for g in v] for k, v in by.items()},
        "grades_monotone": ranking.is_monotone([g.conversion_rate for g in by["grade"]]),
        "levels_monotone": ranking.is_monotone([g.conversion_rate for g in by["level"]]),
        "top_segments": {
            "MQL": _segment([st == "mql" for st in leads.lifecycle_stage], y, bottom),
            "grade A": _segment([g == "A" for g in leads.fit_grade], y, bottom),
        },
    }


# --------------------------------------------------------------------------------------------------
# The backtest
# --------------------------------------------------------------------------------------------------
@dataclass
class RuleSetResult:
    name: str  # "current seeds" or "candidate seeds (<dir>)"
    source: str  # "history" or "replay"
    left_out: dict[str, int]
    metrics: dict[str, Any]
    scored_leads: ScoredLeads | None = None  # not serialised


@dataclass
class Backtest:
    model_id: str
    database: str
    as_of: str
    mode: str  # "horizon" or "cutoff"
    horizon_days: float | None
    cutoff: str | None
    rule_sets: list[RuleSetResult]
    files: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for rs in out["rule_sets"]:
            rs.pop("scored_leads", None)
        return out


def run_backtest(database: Path | str, model_id: str = DEFAULT_MODEL, horizon_days: float | None = None,
                 cutoff: str | datetime | None = None, replay: bool = False, seeds_dir: Path | str | None = None,
                 project_dir: Path | str = PROJECT_ROOT, scratch_dir: Path | str | None = None,
                 keep: bool = False) -> Backtest:
    """The backtest of the current rules (history or replay) and, with `seeds_dir`, of the candidate seeds."""
    if (horizon_days is None) == (cutoff is None):
        raise BacktestError("give exactly one of --horizon-days and --cutoff")
    if seeds_dir is not None:
        read_overlay(seeds_dir, project_dir)  # refuse a bad folder before any build
        replay = True  # candidate seeds have no history
    database = Path(database).resolve()
    con = _connect(database)
    try:
        as_of = warehouse_as_of(con, model_id)
        outcomes = first_outcomes(con)
        first_run = con.execute("select min(valid_from) from marts.lead_score_history where model_id = ?",
                                [model_id]).fetchone()[0]
        cut = None if cutoff is None else parse_instant(cutoff, "cutoff")
        if replay and cut is None:
            cut = as_of - timedelta(days=horizon_days)
        sets: list[tuple[str, str, ScoredLeads]] = []
        if not replay and cut is None:
            sets.append(("current seeds", "history", history_at_horizon(con, model_id, horizon_days, as_of)))
        elif not replay:
            sets.append(("current seeds", "history", history_at_cutoff(con, model_id, cut, as_of)))
    finally:
        con.close()
    if replay:
        def scratch(name: str) -> Path | None:
            return Path(scratch_dir) / name if scratch_dir else None

        sets.append(("current seeds", "replay", replay_at_cutoff(
            database, model_id, cut, as_of, outcomes, project_dir, None, scratch("current"), keep)))
        if seeds_dir is not None:
            sets.append((f"candidate seeds ({seeds_dir})", "replay", replay_at_cutoff(
                database, model_id, cut, as_of, outcomes, project_dir, seeds_dir, scratch("candidate"), keep)))
    results = []
    for name, source, leads in sets:
        try:
            results.append(RuleSetResult(name, source, leads.left_out, metrics(leads), leads))
        except BacktestError as exc:
            if source != "history":
                raise
            raise BacktestError(
                f"{exc}. The score history of model {model_id!r} starts at "
                f"{format_as_of(first_run) if first_run else 'no run'} (as_of {format_as_of(as_of)}): a scoring "
                "instant before it has no score. Use a shorter --horizon-days, a --cutoff after it, --replay "
                "(a scratch build at the cut-off), or record earlier runs (make backfill BACKFILL_WEEKS=...)") from exc
    return Backtest(model_id=model_id, database=str(database), as_of=format_as_of(as_of),
                    mode="cutoff" if cut is not None else "horizon",
                    horizon_days=horizon_days if cut is None else None,
                    cutoff=None if cut is None else format_as_of(cut), rule_sets=results)


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------
def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def population_text(b: Backtest) -> str:
    if b.mode == "horizon":
        return (f"Each converted lead scored {b.horizon_days:g} days before its first opportunity, every other lead "
                f"{b.horizon_days:g} days before the warehouse's as_of ({b.as_of}), as the score history recorded it.")
    return (f"Every lead scored at the cut-off {b.cutoff} (leads with a score then and no opportunity at or before "
            f"it); converted = first opportunity created after the cut-off and by {b.as_of}.")


def summary_rows(b: Backtest) -> list[str]:
    lines = ["| rule set | scores from | leads | conversions | ROC AUC | top-decile lift | grades A>D | levels 1>4 | "
             "MQL share | MQL capture | MQL rate ratio vs grade D | grade A share | grade A capture |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for rs in b.rule_sets:
        m = rs.metrics
        mql, a = m["top_segments"]["MQL"], m["top_segments"]["grade A"]
        lines.append(f"| {rs.name} | {rs.source} | {m['leads']} | {m['conversions']} | {_num(m['roc_auc'])} | "
                     f"{_num(m['top_decile_lift'], 2)} | {'yes' if m['grades_monotone'] else 'no'} | "
                     f"{'yes' if m['levels_monotone'] else 'no'} | {_pct(mql['share_of_leads'])} | "
                     f"{_pct(mql['capture'])} | {_num(mql['rate_ratio_vs_bottom'], 1)} | "
                     f"{_pct(a['share_of_leads'])} | {_pct(a['capture'])} |")
    return lines


def _group_table(title: str, names: list[str], tables: list[list[dict[str, Any]]]) -> list[str]:
    groups = list(dict.fromkeys(g["group"] for t in tables for g in t))
    index = [{g["group"]: g for g in t} for t in tables]
    lines = [f"### {title}", "", "| " + title.split(" by ")[-1] + " | " +
             " | ".join(f"{n}: leads | {n}: rate" for n in names) + " |",
             "|---|" + "---|---|" * len(names)]
    for group in groups:
        cells = []
        for idx in index:
            g = idx.get(group)
            cells += [str(g["leads"]) if g else "0", _pct(g["conversion_rate"]) if g else ""]
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    return lines + [""]


def render_markdown(b: Backtest) -> str:
    names = [rs.name for rs in b.rule_sets]
    lines = [f"# Point-in-time backtest of model `{b.model_id}`", "",
             f"Warehouse `{b.database}`, last built at {b.as_of} (UTC). {population_text(b)} Scores are never the "
             "current ones: a lead's score is the one it had at its scoring instant.", "",
             "## Summary", "", *summary_rows(b), ""]
    for rs in b.rule_sets:
        if any(rs.left_out.values()):
            lines.append(f"Left out ({rs.name}): " + "; ".join(f"{k}: {v}" for k, v in rs.left_out.items()) + ".")
    lines += ["", "MQL rate ratio: the MQLs' conversion rate over grade D's. Top-decile lift: the rate of the 10% "
              "best-scored leads over the overall rate (ties pro rata).", "", "## Lift by decile", "",
              "| decile | " + " | ".join(f"{n}: lift | {n}: cumulative capture" for n in names) + " |",
              "|---|" + "---|---|" * len(names)]
    for k in range(10):
        cells = []
        for rs in b.rule_sets:
            d = rs.metrics["lift_by_decile"][k]
            cells += [_num(d["lift"], 2), _pct(d["cumulative_capture"])]
        lines.append(f"| {k + 1} | " + " | ".join(cells) + " |")
    lines.append("")
    titles = {"grade": "Conversion by fit grade", "level": "Conversion by engagement level",
              "cell": "Conversion by matrix cell", "stage": "Conversion by lifecycle stage",
              "score_band": "Calibration by lead_score band"}
    lines += ["## Conversion by group", ""]
    for key, title in titles.items():
        lines += _group_table(title, names, [rs.metrics["conversion_by"][key] for rs in b.rule_sets])
    return "\n".join(lines)


def write_reports(b: Backtest, out_dir: Path | str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    b.files = {REPORT_MD: str(out / REPORT_MD), REPORT_JSON: str(out / REPORT_JSON)}
    (out / REPORT_JSON).write_text(json.dumps(b.to_json(), indent=2, default=str) + "\n", encoding="utf-8")
    (out / REPORT_MD).write_text(render_markdown(b), encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `lead-scoring backtest`."""
    parser.add_argument("--database", required=True, help="the DuckDB warehouse (only read)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="scoring model id (default: %(default)s)")
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--horizon-days", type=float, help="score each lead this many days before its outcome")
    when.add_argument("--cutoff", help="score every lead at this instant (UTC); outcomes after it are the labels")
    parser.add_argument("--replay", action="store_true",
                        help="recompute the scores at the cut-off in a scratch build instead of reading the history")
    parser.add_argument("--seeds", default=None, help="a candidate seed folder, replayed beside the current seeds")
    parser.add_argument("--project-dir", default=str(PROJECT_ROOT), help="the dbt project (read only)")
    parser.add_argument("--out", default="warehouse/backtest", help="folder for backtest.md and backtest.json")
    parser.add_argument("--scratch", default=None, help="scratch folder for replays (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder of a replay")


def run(args: argparse.Namespace) -> int:
    try:
        b = run_backtest(args.database, args.model, horizon_days=args.horizon_days, cutoff=args.cutoff,
                         replay=args.replay, seeds_dir=args.seeds, project_dir=args.project_dir,
                         scratch_dir=args.scratch, keep=args.keep)
        write_reports(b, args.out)
    except (BacktestError, ScratchError, ClockError) as exc:
        print(f"backtest: {exc}", file=sys.stderr)
        return 1
    for rs in b.rule_sets:
        m = rs.metrics
        print(f"{rs.name} ({rs.source}): {m['leads']} leads, {m['conversions']} converted, AUC {m['roc_auc']:.3f}, "
              f"top-decile lift {m['top_decile_lift']:.2f}")
    print(f"wrote {', '.join(sorted(b.files.values()))}")
    return 0
