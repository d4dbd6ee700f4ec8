"""`lead-scoring`: the project's command-line tool, one subcommand per task.

    lead-scoring --help
    lead-scoring <command> --help

Every subcommand calls the same functions the Dagster code location (orchestration/) calls; nothing here imports
Dagster. The warehouse is a DuckDB file: ``--database`` where a command takes it, else env
``LEAD_SCORING_DUCKDB_PATH``, else ``warehouse/lead_scoring.duckdb``. ``export``, ``report``, ``backfill`` and
``drift`` also run on PostgreSQL or Spark: ``--target`` or env ``LEAD_SCORING_TARGET``, as dbt's target.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from lead_scoring.clock import ClockError


@dataclass(frozen=True)
class Command:
    name: str
    module: str  # lead_scoring.<module> with add_arguments(parser) and run(args) -> int
    summary: str  # one line, for `lead-scoring --help`
    description: str  # what it does
    io: str  # its inputs and outputs


COMMANDS: tuple[Command, ...] = (
    Command(
        "datagen", "datagen",
        "generate realistic raw CRM data (leads, events, opportunities) into a DuckDB file",
        "Generate deterministic, realistic raw CRM and marketing tables, as an EL tool would land them, full of the "
        "faults the raw contract (docs/raw_contract.md) warns about: lead versions, soft deletes, re-delivered, "
        "anonymous, late and future events, bot bursts, mixed labels. The same arguments give the same tables. "
        "With --append-events it lands one more batch of events instead (for incremental builds).",
        "inputs:  --leads, --events-per-lead, --days, --seed, --as-of (all times are relative to it)\n"
        "outputs: <schema>.leads, <schema>.events, <schema>.opportunities in --database (replaced; created if "
        "missing)",
    ),
    Command(
        "load", "load",
        "land CSV, Parquet or JSON Lines exports in the raw tables, typed by the raw contract",
        "Land export files (paths, globs or folders) in the raw tables leads, events and opportunities of the DuckDB "
        "warehouse, typed by the raw contract (models/staging/crm/_crm__sources.yml): text as written (timestamps "
        "too: staging parses them), numbers and booleans where they parse (else null, counted per column), extra "
        "lead columns as custom columns, _loaded_at stamped. A file already landed adds nothing, of a changed file "
        "only its new rows land; one call is one transaction: a missing required column or a file that does not "
        "parse changes nothing. See docs/loading.md.",
        "inputs:  PATH... (without --table a file goes to the table its name starts with: leads*, events*, "
        "opportunities*; a folder loads every such file), --database (env LEAD_SCORING_DUCKDB_PATH), --schema "
        "(env LEAD_SCORING_RAW_SCHEMA)\n"
        "outputs: rows appended to <schema>.leads / events / opportunities (created if missing) and recorded in "
        "<schema>._lead_scoring_loads; one summary per file on stdout",
    ),
    Command(
        "build", "dbt_cli",
        "build and test the warehouse with dbt at an as_of (guarded against a busy DuckDB file)",
        "Run the production `dbt build` (seeds, models, snapshots and data tests; unit tests only with "
        "--unit-tests, as CI does) scored at --as-of. If another process holds the DuckDB file, it says who and "
        "exits 75 instead of dbt's lock error. At an explicit --as-of, a build with nothing new since the last one "
        "that succeeded (same raw tables, rules, code and warehouse) is skipped in seconds; --force builds anyway. "
        "Extra dbt flags go after `--`.",
        "inputs:  raw tables and seeds/ in --database (env LEAD_SCORING_DUCKDB_PATH), --as-of (UTC; empty = now)\n"
        "outputs: the staging, intermediate and mart relations in the same DuckDB file; dbt's target/ and logs/",
    ),
    Command(
        "backfill", "backfill",
        "replay weekly scoring runs before an instant to seed the score history",
        "Replay scoring runs at past as_of instants, oldest first (every --every-days over --weeks before --end), "
        "each recorded in the monitoring history, so MQL moments, SLA clocks and the drift check have earlier "
        "runs to work from. Runs the history already has are skipped, so it can be re-run or resumed. With "
        "--build-end it finishes with the full build at --end.",
        "inputs:  a warehouse with raw tables (env LEAD_SCORING_DUCKDB_PATH), --end, --weeks, --every-days\n"
        "outputs: the score history models and monitoring.score_distribution_history / score_quantiles in it",
    ),
    Command(
        "summary", "summary",
        "print a plain-text summary of a scored warehouse",
        "Print how many leads were scored, the 4x4 fit/engagement matrix, lifecycle stages, the top 10 leads with "
        "their reasons, quarantine counts by reason and the reconciliation of every raw table. Read-only.",
        "inputs:  marts.lead_scores, marts.quarantined_*, marts.pipeline_reconciliation in --database; --model\n"
        "outputs: text on stdout (exit 1 with one line on stderr when a table is missing)",
    ),
    Command(
        "report", "report",
        "write the scoring report: one self-contained HTML page",
        "Write one self-contained HTML page (plotly inline, works offline): score distributions, the 4x4 matrix, "
        "conversion and lift by band and decile, AUC, the MQL threshold, score drift over runs, channel quality, "
        "the lead funnel, owners and SLA. Read-only on the warehouse.",
        "inputs:  marts.lead_scores (required), other marts and the monitoring history (optional) in --database\n"
        "outputs: the HTML file --out (parent folders created)",
    ),
    Command(
        "export", "crm_sync",
        "export the leads whose CRM fields changed (reverse ETL) as one batch of files",
        "Export what marts.crm_lead_sync lists (leads whose CRM fields changed since the last sync, or never "
        "synced) as one batch of CSV, JSON Lines and Parquet files, written atomically, then record the batch in "
        "the sync state. A retry of a failed export rewrites the same batch; nothing to sync writes nothing.",
        "inputs:  marts.crm_lead_sync and crm_sync.* in --database (built by `lead-scoring build`)\n"
        "outputs: crm_lead_sync__<batch>.{csv,jsonl,parquet} in --out; crm_sync.crm_sync_state/_batches updated; "
        "the batch as JSON on stdout",
    ),
    Command(
        "suggest-weights", "weights",
        "suggest rule points from historical conversions (for review; never changes seeds/)",
        "Fit the fit and engagement rules against historical conversions (logistic regression, time-based "
        "hold-out) and suggest new points, with the hold-out AUC and top-decile lift of the current and the "
        "suggested rules. --verify re-scores a scratch copy of the project and warehouse with dbt.",
        "inputs:  a scored warehouse (--database), seeds/ (read only), --model, --holdout-share, --min-support, --c\n"
        "outputs: scoring_fit_rules.csv, scoring_engagement_rules.csv, weight_suggestions.{md,json} in --out",
    ),
    Command(
        "suggest-rules", "discovery",
        "discover a whole rule set (rules, points, bands, MQL threshold) from outcomes (never changes seeds/)",
        "Build a point-in-time data set (features at T = as_of - horizon, conversions in (T, as_of]), generate "
        "candidate fit and engagement rules in the project's rule language, fit a sparse logistic regression on a "
        "time-based split, turn it into integer points, re-cut grades, levels and the MQL threshold, and report "
        "the hold-out AUC beside a logistic and a boosted ceiling. --verify replays the suggestion through dbt.",
        "inputs:  a scored warehouse (--database), seeds/ (read only), --model, --horizon-days, --max-rules, "
        "--mql-share\n"
        "outputs: the changed scoring_*.csv seeds and rule_suggestions.{md,json} in --out",
    ),
    Command(
        "backtest", "backtest",
        "point-in-time backtest: how the scores ranked leads before their outcome (never the current score)",
        "Score every lead with a known outcome as it was before it: from the score history at --horizon-days before "
        "each outcome or at a --cutoff, or replayed in a scratch build (--replay; --seeds adds candidate seeds). "
        "ROC AUC, lift by decile, conversion by grade, level, cell, stage and score band, top segments. "
        "See docs/backtest_and_preview.md.",
        "inputs:  marts.lead_score_history, staging.stg_crm__opportunities of --database (only read), --model, "
        "--horizon-days or --cutoff, --replay, --seeds\n"
        "outputs: backtest.md and backtest.json in --out",
    ),
    Command(
        "preview", "preview",
        "preview a rule change: score candidate seeds in a scratch copy beside the current scores",
        "Score a candidate seed folder in a scratch copy of the project and warehouse at the warehouse's as_of and "
        "report what would change: leads moving grade, level, cell or stage (with old and new top reasons), MQL "
        "volume, the backtest before and after, and the rules added, removed, re-weighted or re-configured. "
        "Nothing in production changes. See docs/backtest_and_preview.md.",
        "inputs:  --database (only read), --seeds (a folder of seed CSVs, e.g. from suggest-rules), --model\n"
        "outputs: preview.md and preview.json in --out (`lead-scoring report --preview` adds it to the report)",
    ),
    Command(
        "drift", "drift",
        "drift check status per run, and the recorded acceptance that lifts a drift block",
        "A scoring run whose score distribution drifts at ERROR is blocked: it never becomes a baseline, and the CRM "
        "export stays blocked on every later run until the rules are changed back or the run is accepted. `status` "
        "lists the checked runs; `accept` records who accepts a blocked run and why (docs/monitoring.md).",
        "inputs:  monitoring.drift_run_status of --database (written by the Dagster check score_distribution_drift)\n"
        "outputs: accept: the run's status becomes accepted, with --by, --why and the time",
    ),
    Command(
        "raw-copy", "raw_copy",
        "copy the raw tables of a DuckDB file to PostgreSQL or the local Spark warehouse",
        "Land the raw tables of a DuckDB file (as datagen writes them) in another engine, column for column and "
        "value for value, so a build on PostgreSQL or Spark scores the same data.",
        "inputs:  raw.leads, raw.events, raw.opportunities of --database; --dsn (postgres) or --spark-dir (spark)\n"
        "outputs: the same tables in the target's --schema (replaced)",
    ),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lead-scoring",
        description="The lead-scoring warehouse's tools: generate or load data, build and score with dbt, replay history, "
                    "summarise, report, export to the CRM, suggest weights and rules, backtest and preview rule changes.",
        epilog="`lead-scoring <command> --help` explains each command, its inputs and outputs. The Dagster code "
               "location (`make dev`) runs the same functions.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>", title="commands")
    sub.required = True
    for command in COMMANDS:
        module = importlib.import_module(f"lead_scoring.{command.module}")
        child = sub.add_parser(command.name, help=command.summary,
                               description=textwrap.fill(command.description, 100), epilog=command.io,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(child)
        child.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ClockError as exc:  # a bad --as-of / --end / --loaded-at: one line, not a traceback
        parser.exit(2, f"lead-scoring {args.command}: error: {exc}\n")


if __name__ == "__main__":
    sys.exit(main())
