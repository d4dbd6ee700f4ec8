"""Ranking benchmark: how well each rule set ranks leads out of time, on generated data with a planted truth.

    python -m benchmarks.ranking_bench [--leads 10000 100000] [--events-per-lead 20] [--seed 42]
                                       [--mql-share 0.15-0.35] [--mql-capture C]
                                       [--work-dir warehouse/ranking_bench] [--json PATH]

(``make ranking-bench``.) Not part of the test run. For each scale (number of leads) it:
1. generates the raw tables with the planted truth (``lead-scoring datagen --planted-truth``, docs/planted_truth.md);
2. builds and scores them (``lead-scoring build``) at the data's ``as_of``;
3. runs ``lead-scoring suggest-weights`` (re-weights the default rules) into ``<scale>/weights``;
4. runs ``lead-scoring suggest-rules --verify --compare weights=<scale>/weights`` into ``<scale>/rules``: one
   point-in-time data set (cut-off T = as_of - horizon, label = an opportunity created in (T, as_of]), one time-based
   hold-out, and on it the ROC AUC of the default rules, the suggested weights and the suggested rules (all three as
   dbt scores them when replayed at T), the sparse points computed in Python, and the ceiling (logistic regression
   and HistGradientBoosting on the same candidate features); plus the top segment (MQL) share, capture and rate
   ratio, grade/level monotonicity on the hold-out, and discovery's run time.
It prints one table and the aims of issue "Rules that rank", and writes the figures as JSON. Work files go under
``--work-dir`` and are deleted after each scale unless ``--keep``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

AS_OF = "2026-11-01 00:00:00"
CLI = Path(sys.executable).with_name("lead-scoring")


def _run(args: list[str], env: dict[str, str]) -> float:
    started = time.monotonic()
    proc = subprocess.run([str(CLI), *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"lead-scoring {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                         f"{proc.stderr[-3000:]}")
    return time.monotonic() - started


def bench_scale(leads: int, events_per_lead: float, seed: int, mql_share: str, mql_capture: str | None,
                work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    db = work / "warehouse.duckdb"
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    timings = {
        "datagen_s": _run(["datagen", "--database", str(db), "--leads", str(leads), "--events-per-lead",
                           str(events_per_lead), "--seed", str(seed), "--as-of", AS_OF, "--planted-truth"], env),
        "build_s": _run(["build", "--database", str(db), "--as-of", AS_OF], env),
        "suggest_weights_s": _run(["suggest-weights", "--database", str(db), "--out", str(work / "weights")], env),
        "suggest_rules_s": _run(["suggest-rules", "--database", str(db), "--out", str(work / "rules"), "--verify",
                                 "--mql-share", mql_share, *(["--mql-capture", mql_capture] if mql_capture else []),
                                 "--compare", f"weights={work / 'weights'}"], env),
    }
    d = json.loads((work / "rules" / "rule_suggestions.json").read_text(encoding="utf-8"))
    mql = d["bands_holdout"]["mql"]
    return {
        "leads": leads, "events_per_lead": events_per_lead, "seed": seed, "cutoff": d["cutoff"],
        "holdout_leads": d["holdout"]["leads"], "holdout_converted": d["holdout"]["converted"],
        "auc": d["auc"], "rules": len(d["rules"]),
        "mql": mql, "grades_monotone": d["bands_holdout"]["grades_monotone"],
        "levels_monotone": d["bands_holdout"]["levels_monotone"],
        "grade_a_vs_d": d["bands_holdout"]["grade_a_vs_d"], "discovery_run_s": d["run_seconds"],
        **{k: round(v, 1) for k, v in timings.items()},
    }


def _f(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render(results: list[dict]) -> str:
    header = ("| leads | hold-out (conv.) | default rules | suggested weights | suggested rules (dbt) | "
              "points (Python) | logistic | boosted | MQL share / capture / rate ratio | grades, levels monotone | "
              "discovery s |")
    lines = [header, "|---" * 11 + "|"]
    for r in results:
        a, m = r["auc"], r["mql"]
        ratio = m.get("rate_ratio")
        lines.append(
            f"| {r['leads']:,} | {r['holdout_leads']:,} ({r['holdout_converted']:,}) | "
            f"{_f(a.get('current_rules_dbt'))} | {_f(a.get('weights_dbt'))} | {_f(a.get('suggested_points_dbt'))} | "
            f"{_f(a.get('suggested_points'))} | {_f(a.get('logistic'))} | {_f(a.get('boosted'))} | "
            f"{m['share_of_leads']:.1%} / {m['capture']:.1%} / {_f(ratio, 1)}x | "
            f"{r['grades_monotone']}, {r['levels_monotone']} | {r['discovery_run_s']:.0f} |")
    return "\n".join(lines)


def aims(r: dict) -> list[str]:
    a, m, g = r["auc"], r["mql"], r["grade_a_vs_d"]
    gap = a["logistic"] - a["suggested_points_dbt"] if a.get("suggested_points_dbt") is not None else None
    out = [f"suggested points (dbt) within 0.01 AUC of the logistic regression: gap {_f(gap)} "
           f"-> {'met' if gap is not None and gap <= 0.01 else 'NOT met'}",
           f"grades and levels monotone on the hold-out: {r['grades_monotone']}, {r['levels_monotone']}",
           f"top segment (MQL) 15-35% of leads: {m['share_of_leads']:.1%}; captures >= 60%: {m['capture']:.1%}; "
           f">= 10x the rest's rate: {_f(m.get('rate_ratio'), 1)}x",
           f"grade A: {g['share_of_leads']:.1%} of leads, captures {g['capture']:.1%}, "
           f"{_f(g.get('rate_ratio'), 1)}x grade D's rate"]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--leads", type=int, nargs="+", default=[10000, 100000])
    p.add_argument("--events-per-lead", type=float, default=20.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--mql-share", default="0.15-0.35", help="target MQL share passed to suggest-rules")
    p.add_argument("--mql-capture", default=None,
                   help="target MQL capture passed to suggest-rules (default: its own, capture minus share)")
    p.add_argument("--work-dir", default="warehouse/ranking_bench")
    p.add_argument("--json", default=None, help="write the figures here (default: <work-dir>/ranking_bench.json)")
    p.add_argument("--keep", action="store_true", help="keep each scale's warehouse and outputs")
    args = p.parse_args(argv)
    work = Path(args.work_dir)
    results = []
    for leads in args.leads:
        scale_dir = work / f"leads_{leads}"
        shutil.rmtree(scale_dir, ignore_errors=True)
        r = bench_scale(leads, args.events_per_lead, args.seed, args.mql_share, args.mql_capture, scale_dir)
        results.append(r)
        print(f"{leads:,} leads done: discovery {r['discovery_run_s']:.0f} s", flush=True)
        if not args.keep:
            shutil.rmtree(scale_dir, ignore_errors=True)
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    print(f"\nRanking benchmark ({machine}); planted-truth data, seed {args.seed}, as_of {AS_OF}\n")
    print(render(results))
    for r in results:
        print(f"\n{r['leads']:,} leads (cut-off {r['cutoff']}):")
        for line in aims(r):
            print(f"  {line}")
    out = Path(args.json) if args.json else work / "ranking_bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine, "results": results}, indent=2, default=str) + "\n",
                   encoding="utf-8")
    print(f"\nfigures: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
