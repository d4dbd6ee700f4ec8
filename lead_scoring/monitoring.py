"""Monitoring of the lead-scoring warehouse, plain Python (no Dagster): the score-distribution history, the drift
statistics, the raw-freshness measurement, the thresholds and the alert notifier (see docs/monitoring.md).

The Dagster assets and checks built on it live in ``orchestration/defs/monitoring`` (``score_distribution_history``,
``score_distribution_drift``) and ``orchestration/defs/raw`` (``raw_leads_freshness``, ``raw_events_freshness``);
the backfill (``lead-scoring backfill``) records its runs with :func:`record_distribution` and the report reads the
history tables.

The statistics (``psi``, ``ks_statistic``, ``compare_runs``) and the settings can be unit-tested on hand-computed
values.

Every engine of the dbt target (DuckDB, PostgreSQL, Spark; ``lead_scoring.warehouse``): the freshness query and
the history tables use portable SQL through :class:`lead_scoring.warehouse.Db`; the bins and percentiles of a run
are computed by DuckDB, on the warehouse file itself or, on another engine, on an in-memory copy of the score
columns of ``marts.lead_scores`` (so ``quantile_disc`` and the bins are the same on every engine).
"""

import json
import logging
import math
import os
import urllib.request
from bisect import bisect_right
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Mapping, Sequence

from lead_scoring.clock import format_minute, format_timestamp, parse_instant, utc_now
from lead_scoring.warehouse import Db, DuckDb, Warehouse, as_db, as_warehouse, copy_into_duckdb
from lead_scoring.warehouse import rows as _rows

LOGGER = logging.getLogger("lead_scoring.monitoring")


NOW_ENV = "LEAD_SCORING_NOW"
WEBHOOK_ENV = "LEAD_SCORING_ALERT_WEBHOOK_URL"

SCORES_TABLE = "marts.lead_scores"
HISTORY_TABLE = "monitoring.score_distribution_history"
QUANTILES_TABLE = "monitoring.score_quantiles"
# One row per drift-checked run: its severity and whether it may serve as a baseline (passed, accepted) or not
# (blocked: an ERROR nobody has accepted). Runs without a row (backfills, runs recorded before the check existed)
# count as passed.
STATUS_TABLE = "monitoring.drift_run_status"
PASSED, BLOCKED, ACCEPTED = "passed", "blocked", "accepted"

PASS, WARN, ERROR = "PASS", "WARN", "ERROR"
_RANK = {PASS: 0, WARN: 1, ERROR: 2}

SCORE_METRICS = ("fit_score", "engagement_score", "lead_score")
SCORE_BINS = tuple(f"[{lo},{lo + 10})" if lo < 90 else "[90,100]" for lo in range(0, 100, 10))
CATEGORY_METRICS = {"fit_grade": ("A", "B", "C", "D"), "engagement_level": ("1", "2", "3", "4")}
PSI_METRICS = SCORE_METRICS + tuple(CATEGORY_METRICS)
LEAD_COUNT, MQL_RATE = "lead_count", "mql_rate"
QUANTILE_POINTS = tuple(range(101))  # percentiles 0..100 kept per run and score metric, for KS


def worst(*severities: str) -> str:
    return max(severities, key=_RANK.__getitem__, default=PASS)


# ------------------------------------------------------------------------------------------------
# Settings
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MonitoringSettings:
    """Every threshold of the monitoring checks. `from_env()` overrides each default by its env var."""

    leads_freshness_warn_hours: float = 24.0
    leads_freshness_error_hours: float = 72.0
    events_freshness_warn_hours: float = 24.0
    events_freshness_error_hours: float = 72.0
    psi_warn: float = 0.10
    psi_error: float = 0.25
    psi_epsilon: float = 1e-4
    ks_warn: float = 0.10
    ks_error: float = 0.20
    lead_count_change_warn: float = 0.20  # relative change, 0.20 = 20 %
    lead_count_change_error: float = 0.50
    mql_rate_change_warn_pp: float = 5.0  # absolute change in percentage points
    mql_rate_change_error_pp: float = 10.0
    baseline_mode: str = "previous"  # "previous" or "trailing"
    baseline_window: int = 5  # runs averaged in "trailing" mode

    ENV_VARS = {  # setting -> environment variable (class attribute, not a field)
        "leads_freshness_warn_hours": "LEAD_SCORING_FRESHNESS_LEADS_WARN_HOURS",
        "leads_freshness_error_hours": "LEAD_SCORING_FRESHNESS_LEADS_ERROR_HOURS",
        "events_freshness_warn_hours": "LEAD_SCORING_FRESHNESS_EVENTS_WARN_HOURS",
        "events_freshness_error_hours": "LEAD_SCORING_FRESHNESS_EVENTS_ERROR_HOURS",
        "psi_warn": "LEAD_SCORING_DRIFT_PSI_WARN",
        "psi_error": "LEAD_SCORING_DRIFT_PSI_ERROR",
        "psi_epsilon": "LEAD_SCORING_DRIFT_PSI_EPSILON",
        "ks_warn": "LEAD_SCORING_DRIFT_KS_WARN",
        "ks_error": "LEAD_SCORING_DRIFT_KS_ERROR",
        "lead_count_change_warn": "LEAD_SCORING_DRIFT_LEAD_COUNT_WARN",
        "lead_count_change_error": "LEAD_SCORING_DRIFT_LEAD_COUNT_ERROR",
        "mql_rate_change_warn_pp": "LEAD_SCORING_DRIFT_MQL_RATE_WARN_PP",
        "mql_rate_change_error_pp": "LEAD_SCORING_DRIFT_MQL_RATE_ERROR_PP",
        "baseline_mode": "LEAD_SCORING_DRIFT_BASELINE",
        "baseline_window": "LEAD_SCORING_DRIFT_BASELINE_WINDOW",
    }

    def __post_init__(self):
        problems = []
        for name in ("leads_freshness", "events_freshness", "psi", "ks", "lead_count_change"):
            warn_v, err_v = (getattr(self, f"{name}_{s}" if "freshness" not in name else f"{name}_{s}_hours")
                             for s in ("warn", "error"))
            if not 0 <= warn_v <= err_v:
                problems.append(f"{name}: warn {warn_v} must be >= 0 and <= error {err_v}")
        if not 0 <= self.mql_rate_change_warn_pp <= self.mql_rate_change_error_pp:
            problems.append("mql_rate_change: warn must be >= 0 and <= error")
        if not 0 < self.psi_epsilon < 0.01:
            problems.append(f"psi_epsilon {self.psi_epsilon} must be > 0 and < 0.01")
        if self.baseline_mode not in ("previous", "trailing"):
            problems.append(f"baseline_mode {self.baseline_mode!r} must be 'previous' or 'trailing'")
        if self.baseline_window < 1:
            problems.append(f"baseline_window {self.baseline_window} must be >= 1")
        if problems:
            raise ValueError("Invalid monitoring settings: " + "; ".join(problems))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "MonitoringSettings":
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(cls.ENV_VARS[f.name], "").strip()
            if not raw:
                continue
            kind = type(f.default)
            try:
                values[f.name] = raw.lower() if kind is str else kind(raw)
            except ValueError:
                raise ValueError(f"{cls.ENV_VARS[f.name]}={raw!r} is not a valid {kind.__name__}") from None
        return cls(**values)

    @property
    def baseline_runs(self) -> int:
        return 1 if self.baseline_mode == "previous" else self.baseline_window


def grade(value: float, warn_at: float, error_at: float) -> str:
    """ERROR when value >= error_at, WARN when value >= warn_at, else PASS (NaN/inf count as ERROR)."""
    if value is None or math.isnan(value) or value >= error_at:
        return ERROR
    return WARN if value >= warn_at else PASS


# ------------------------------------------------------------------------------------------------
# Pure statistics
# ------------------------------------------------------------------------------------------------
def psi_contributions(expected_shares: Sequence[float], actual_shares: Sequence[float],
                      eps: float = 1e-4) -> list[float]:
    """Per-bin PSI terms (a - e) * ln(a / e), each share floored at `eps` so an empty bin stays finite."""
    if len(expected_shares) != len(actual_shares):
        raise ValueError("expected and actual shares need the same bins")
    out = []
    for e, a in zip(expected_shares, actual_shares):
        e, a = max(float(e), eps), max(float(a), eps)
        out.append((a - e) * math.log(a / e))
    return out


def psi(expected_shares: Sequence[float], actual_shares: Sequence[float], eps: float = 1e-4) -> float:
    """Population Stability Index: sum over bins of (actual - expected) * ln(actual / expected)."""
    return sum(psi_contributions(expected_shares, actual_shares, eps))


def ks_statistic(sample_a: Sequence[float], sample_b: Sequence[float]) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: max |F_a(x) - F_b(x)| over all observed x."""
    a, b = sorted(sample_a), sorted(sample_b)
    if not a or not b:
        raise ValueError("KS needs two non-empty samples")
    return max(abs(bisect_right(a, x) / len(a) - bisect_right(b, x) / len(b)) for x in set(a) | set(b))


@dataclass
class Statistic:
    name: str  # "PSI", "KS", "lead count change", "MQL rate change"
    metric: str
    value: float
    warn: float
    error: float
    severity: str
    unit: str = ""  # "", "%" or "pp" for display


@dataclass
class DriftResult:
    severity: str  # PASS, WARN or ERROR: the worst statistic
    statistics: list[Statistic] = field(default_factory=list)
    bins: dict[str, list[tuple[str, float, float, float]]] = field(default_factory=dict)  # metric -> rows
    baseline_runs: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.severity == PASS

    def summary(self) -> str:
        if self.note and not self.statistics:
            return self.note
        bad = [s for s in self.statistics if s.severity != PASS]
        if not bad:
            return f"no drift against {len(self.baseline_runs)} baseline run(s)"
        return "; ".join(f"{s.name} {s.metric} {format_statistic(s.value, s.unit)} {s.severity} "
                         f"(warn {format_statistic(s.warn, s.unit)}, error {format_statistic(s.error, s.unit)})" for s in bad)


def format_statistic(value: float, unit: str = "") -> str:
    if unit == "%":
        return f"{value * 100:.1f}%"
    if unit == "pp":
        return f"{value:.2f} pp"
    return f"{value:.4f}"


def _bins_for(metric: str, *row_sets: Sequence[Mapping[str, Any]]) -> list[str]:
    fixed = list(SCORE_BINS if metric in SCORE_METRICS else CATEGORY_METRICS.get(metric, ()))
    extra = sorted({str(r["bin"]) for rows in row_sets for r in rows if r["metric"] == metric} - set(fixed))
    return fixed + extra


def _shares(rows: Sequence[Mapping[str, Any]], metric: str, bins: list[str]) -> list[float]:
    """Bin shares of `metric`, averaged over the runs in `rows` (one run: its own shares)."""
    runs = sorted({r["run_id"] for r in rows})
    totals = dict.fromkeys(bins, 0.0)
    for r in rows:
        if r["metric"] == metric:
            totals[str(r["bin"])] += float(r["share"])
    return [totals[b] / max(len(runs), 1) for b in bins]


def _summary(rows: Sequence[Mapping[str, Any]], metric: str) -> float | None:
    values = [float(r["count"] if metric == LEAD_COUNT else r["share"]) for r in rows if r["metric"] == metric]
    return sum(values) / len(values) if values else None


def compare_runs(baseline_rows: Sequence[Mapping[str, Any]], current_rows: Sequence[Mapping[str, Any]],
                 settings: MonitoringSettings, baseline_samples: Mapping[str, Sequence[float]] | None = None,
                 current_samples: Mapping[str, Sequence[float]] | None = None) -> DriftResult:
    """Compare one scoring run with its baseline (history rows of one or more earlier runs, one model).

    Rows are dicts with run_id, metric, bin, count, share (as in monitoring.score_distribution_history).
    Samples map a score metric to values (the run's stored percentiles); KS is skipped without them.
    """
    if not baseline_rows:
        return DriftResult(PASS, note="first recorded run: no baseline to compare with yet, nothing to flag")
    result = DriftResult(PASS, baseline_runs=sorted({r["run_id"] for r in baseline_rows}))
    s = settings
    for metric in PSI_METRICS:
        bins = _bins_for(metric, baseline_rows, current_rows)
        base, cur = _shares(baseline_rows, metric, bins), _shares(current_rows, metric, bins)
        if sum(base) == 0 or sum(cur) == 0:  # no leads on one side: the lead count statistic says so
            continue
        contributions = psi_contributions(base, cur, s.psi_epsilon)
        value = sum(contributions)
        result.bins[metric] = list(zip(bins, base, cur, contributions))
        result.statistics.append(Statistic("PSI", metric, value, s.psi_warn, s.psi_error,
                                           grade(value, s.psi_warn, s.psi_error)))
    for metric in SCORE_METRICS:
        a = (baseline_samples or {}).get(metric)
        b = (current_samples or {}).get(metric)
        if a and b:
            value = ks_statistic(a, b)
            result.statistics.append(Statistic("KS", metric, value, s.ks_warn, s.ks_error,
                                               grade(value, s.ks_warn, s.ks_error)))
    base_n, cur_n = _summary(baseline_rows, LEAD_COUNT), _summary(current_rows, LEAD_COUNT)
    if base_n is not None and cur_n is not None:
        change = abs(cur_n - base_n) / base_n if base_n else (0.0 if cur_n == 0 else math.inf)
        result.statistics.append(Statistic("lead count change", LEAD_COUNT, change, s.lead_count_change_warn,
                                           s.lead_count_change_error,
                                           grade(change, s.lead_count_change_warn, s.lead_count_change_error), "%"))
    base_r, cur_r = _summary(baseline_rows, MQL_RATE), _summary(current_rows, MQL_RATE)
    if base_r is not None and cur_r is not None:
        change_pp = abs(cur_r - base_r) * 100
        result.statistics.append(Statistic("MQL rate change", MQL_RATE, change_pp, s.mql_rate_change_warn_pp,
                                           s.mql_rate_change_error_pp,
                                           grade(change_pp, s.mql_rate_change_warn_pp, s.mql_rate_change_error_pp),
                                           "pp"))
    result.severity = worst(*(st.severity for st in result.statistics))
    return result


# ------------------------------------------------------------------------------------------------
# Clock, notifier, warehouse
# ------------------------------------------------------------------------------------------------
def resolve_now(override: str | None = None) -> datetime:
    """The monitoring clock (naive UTC): `override`, else env LEAD_SCORING_NOW, else the wall clock."""
    text = override or os.environ.get(NOW_ENV, "").strip()
    if text:
        return parse_instant(text, what="now")
    return utc_now()


class Notifier:
    """Reports checks that did not pass: always to the log, and to a webhook when one is configured.

    The webhook URL (env LEAD_SCORING_ALERT_WEBHOOK_URL) is a secret: it is never logged nor put in metadata.
    """

    def __init__(self, webhook_url: str | None = None, timeout: float = 5.0):
        self._webhook_url = webhook_url
        self.timeout = timeout

    @property
    def webhook_url(self) -> str | None:
        return self._webhook_url or os.environ.get(WEBHOOK_ENV, "").strip() or None

    def notify(self, check_name: str, asset: str, severity: str, summary: str, **extra: Any) -> bool:
        """Log the failure and post it; True when a webhook accepted it. Never raises."""
        LOGGER.warning("check %s on %s: %s - %s", check_name, asset, severity, summary)
        url = self.webhook_url
        if not url:
            return False
        payload = {"check_name": check_name, "asset": asset, "severity": severity, "summary": summary, **extra}
        request = urllib.request.Request(url, data=json.dumps(payload, default=str).encode("utf-8"),
                                         headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
            return True
        except Exception as exc:  # noqa: BLE001 - a broken webhook must never break a check
            # the exception text may contain the URL: log its type and status only
            LOGGER.error("could not post the alert for check %s to the webhook: %s%s", check_name,
                         type(exc).__name__, f" (HTTP {exc.code})" if hasattr(exc, "code") else "")
            return False


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# Raw freshness checks
# ------------------------------------------------------------------------------------------------
def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def raw_table(table: str) -> tuple[str, str]:
    """(schema, name) of a raw table, honouring LEAD_SCORING_RAW_SCHEMA and LEAD_SCORING_RAW_<TABLE>_TABLE like dbt."""
    schema = os.environ.get("LEAD_SCORING_RAW_SCHEMA", "").strip() or "raw"
    name = os.environ.get(f"LEAD_SCORING_RAW_{table.upper()}_TABLE", "").strip() or table
    return schema, name


def raw_relation(table: str) -> str:
    """The raw table quoted for DuckDB and PostgreSQL (Db.relation quotes it for the engine at hand)."""
    schema, name = raw_table(table)
    return f"{_quote(schema)}.{_quote(name)}"


FRESHNESS_COLUMNS: Mapping[str, tuple[str, ...]] = {"leads": ("_loaded_at",), "events": ("_loaded_at", "occurred_at")}
# A row counts towards a column's freshness only when the column is at or before `now` and meets this condition:
# an event whose time is after its own load time was future-dated when it landed (staging quarantines it), so it
# says nothing about whether the stream is alive (identifiers only: it is pasted into the SQL).
FRESHNESS_CONDITIONS: Mapping[str, str] = {"occurred_at": "occurred_at <= _loaded_at"}


@dataclass
class Freshness:
    """The freshness of one raw table at `now`: the worst severity, what is wrong, and check metadata."""

    table: str
    severity: str
    problems: list[str]
    metadata: dict[str, Any]

    @property
    def summary(self) -> str:
        return f"raw.{self.table}: " + "; ".join(self.problems)


def measure_freshness(warehouse: Warehouse, table: str, now: datetime,
                      settings: MonitoringSettings | None = None) -> Freshness:
    """How old the newest rows of raw.`table` (leads or events) are at `now`, graded against the settings."""
    settings = settings or MonitoringSettings.from_env()
    columns = FRESHNESS_COLUMNS[table]
    warn_h = getattr(settings, f"{table}_freshness_warn_hours")
    error_h = getattr(settings, f"{table}_freshness_error_hours")
    metadata: dict[str, Any] = {"now (UTC)": format_timestamp(now), "warn after (hours)": warn_h,
                                "error after (hours)": error_h}
    severity, problems = PASS, []
    # Only identifiers from this module go into the SQL; the clock is a bound parameter.
    select = ", ".join(
        f"max({c}) filter (where {c} <= ?{' and ' + FRESHNESS_CONDITIONS[c] if c in FRESHNESS_CONDITIONS else ''})"
        f" as {c}" for c in columns)
    metadata["table"] = raw_relation(table)
    try:
        with as_warehouse(warehouse).open(read_only=True) as db:
            relation = db.relation(*raw_table(table))
            metadata["table"] = relation
            newest = db.rows(f"select {select} from {relation}", [now] * len(columns))[0]
    except Exception as exc:  # noqa: BLE001 - a missing file or table is itself an error result
        newest, severity = {}, ERROR
        problems.append(f"cannot read raw.{table}: {type(exc).__name__}: {exc}")
    for column in columns if newest else ():
        value = newest[column]
        if value is None:
            severity = ERROR
            problems.append(f"raw.{table} has no {column} at or before {format_minute(now)}")
            metadata[f"newest {column}"] = "none"
            continue
        age = (now - value).total_seconds() / 3600
        col_severity = grade(age, warn_h, error_h)
        severity = worst(severity, col_severity)
        metadata[f"newest {column}"] = format_timestamp(value)
        metadata[f"{column} age (hours)"] = round(age, 2)
        if col_severity != PASS:
            problems.append(f"newest {column} is {age:.1f} h old ({col_severity}: warn {warn_h} h, "
                            f"error {error_h} h)")
    return Freshness(table, severity, problems, metadata)


# ------------------------------------------------------------------------------------------------
# Score-distribution history
# ------------------------------------------------------------------------------------------------
# The history tables: name, (column, portable type, required), primary key (lead_scoring.warehouse.COLUMN_TYPES).
_HISTORY_TABLES = (
    (HISTORY_TABLE, (("run_id", "text", True), ("recorded_at", "timestamp", True), ("as_of", "timestamp", False),
                     ("ruleset_version", "text", False), ("model_id", "text", True), ("metric", "text", True),
                     ("bin", "text", True), ("count", "bigint", True), ("share", "double", True)), ()),
    (QUANTILES_TABLE, (("run_id", "text", True), ("recorded_at", "timestamp", True), ("as_of", "timestamp", False),
                       ("ruleset_version", "text", False), ("model_id", "text", True), ("metric", "text", True),
                       ("percentile", "integer", True), ("value", "double", False)), ()),
    (STATUS_TABLE, (("run_id", "text", True), ("severity", "text", True), ("status", "text", True),
                    ("checked_at", "timestamp", True), ("accepted_by", "text", False),
                    ("accepted_reason", "text", False), ("accepted_at", "timestamp", False)), ("run_id",)),
)
HISTORY_COLUMNS = tuple(c for c, _, _ in _HISTORY_TABLES[0][1])
QUANTILE_COLUMNS = tuple(c for c, _, _ in _HISTORY_TABLES[1][1])
STATUS_COLUMNS = tuple(c for c, _, _ in _HISTORY_TABLES[2][1])
# The columns of marts.lead_scores the distribution reads (copied to DuckDB on other engines).
SCORE_COLUMNS = ("model_id", *SCORE_METRICS, *CATEGORY_METRICS, "is_mql", "scored_at", "ruleset_version")


def create_history_tables(db: Db) -> None:
    """The monitoring schema and its three tables, when missing (portable DDL, on every engine)."""
    db.create_schema("monitoring")
    for dotted, columns, key in _HISTORY_TABLES:
        db.create_table(*dotted.split("."), columns, key)


@contextmanager
def _scores_in_duckdb(db: Db) -> Iterator[Any]:
    """A DuckDB connection on which marts.lead_scores holds the scores: the file itself, or a copy of the score
    columns from another engine."""
    if isinstance(db, DuckDb):
        yield db.con
        return
    import duckdb

    local = duckdb.connect(":memory:")
    try:
        local.execute("set TimeZone = 'UTC'")
        local.execute("create schema marts")
        names, data = db.query(f"select {', '.join(SCORE_COLUMNS)} from {SCORES_TABLE}")
        copy_into_duckdb(local, SCORES_TABLE, names, data, {n: t for n, t in zip(names, db.last_types) if t})
        yield local
    finally:
        local.close()


def distribution_rows(con, run_id: str, recorded_at: datetime) -> tuple[list[tuple], list[tuple]]:
    """History and quantile rows of the current contents of marts.lead_scores (read from `con`)."""
    runs = {r["model_id"]: r for r in _rows(con, f"""
        select model_id, count(*) as n, count(*) filter (where is_mql) as mql, max(scored_at) as as_of,
               string_agg(distinct ruleset_version, ',' order by ruleset_version) as ruleset_version
        from {SCORES_TABLE} group by model_id""")}
    history, quantiles = [], []

    def add(model_id, metric, bin_, count):
        run = runs[model_id]
        share = count / run["n"] if run["n"] else 0.0
        history.append((run_id, recorded_at, run["as_of"], run["ruleset_version"], model_id, metric, bin_,
                        int(count), share))

    counts: dict[tuple[str, str], dict[str, int]] = {}
    for metric in SCORE_METRICS:
        for r in _rows(con, f"""select model_id, least(greatest(floor({metric} / 10), 0), 9)::integer as b,
                                       count(*) as n
                                from {SCORES_TABLE} group by all"""):
            counts.setdefault((r["model_id"], metric), {})[SCORE_BINS[r["b"]]] = r["n"]
    for metric in CATEGORY_METRICS:
        for r in _rows(con, f"select model_id, coalesce({metric}::varchar, 'null') as b, count(*) as n "
                            f"from {SCORES_TABLE} group by all"):
            counts.setdefault((r["model_id"], metric), {})[r["b"]] = r["n"]
    for model_id in sorted(runs):
        for metric in PSI_METRICS:
            got = counts.get((model_id, metric), {})
            for bin_ in _bins_for(metric) + sorted(set(got) - set(_bins_for(metric))):
                add(model_id, metric, bin_, got.get(bin_, 0))
        add(model_id, LEAD_COUNT, "all", runs[model_id]["n"])
        add(model_id, MQL_RATE, "mql", runs[model_id]["mql"])
    points = [p / 100 for p in QUANTILE_POINTS]
    for metric in SCORE_METRICS:
        for r in _rows(con, f"select model_id, quantile_disc({metric}, ?) as q from {SCORES_TABLE} "
                            f"group by model_id", [points]):
            run = runs[r["model_id"]]
            for p, value in zip(QUANTILE_POINTS, r["q"]):
                quantiles.append((run_id, recorded_at, run["as_of"], run["ruleset_version"], r["model_id"], metric,
                                  p, value))
    return history, quantiles


def _same_scoring(db: Db, run_id: str, history: Sequence[tuple]) -> str | None:
    """The latest other recorded run when it scored the same instant with the same rule sets as `history` (the
    rows about to be recorded for `run_id`): re-materialising without rescoring records nothing new."""
    latest = db.query(f"""select run_id, max(recorded_at) as last_at from {HISTORY_TABLE} where run_id <> ?
                          group by run_id order by last_at desc, run_id desc limit 1""", [run_id])[1]
    if not latest:
        return None
    latest = latest[0]
    stored = {(r[0], r[1], r[2]) for r in db.query(
        f"select distinct model_id, as_of, ruleset_version from {HISTORY_TABLE} where run_id = ?",
        [latest[0]])[1]}
    new = {(r[4], r[2], r[3]) for r in history}
    return latest[0] if stored == new else None


def record_distribution(warehouse: Warehouse, run_id: str,
                        recorded_at: datetime | None = None, skip_repeated: bool = True) -> dict[str, Any]:
    """Replace the rows of `run_id` in the history tables by the current distribution of the scores. With
    `skip_repeated`, nothing is recorded when the latest other run scored the same `as_of` with the same rule-set
    version for every model (the result names that run in `repeats`): the history gains no duplicate points."""
    recorded_at = recorded_at or utc_now()
    with as_warehouse(warehouse).open(read_only=False) as db:
        create_history_tables(db)
        with db.transaction():
            with _scores_in_duckdb(db) as scores:
                history, quantiles = distribution_rows(scores, run_id, recorded_at)
            repeats = _same_scoring(db, run_id, history) if skip_repeated else None
            if repeats is not None:
                runs = db.scalar(f"select count(distinct run_id) from {HISTORY_TABLE}")
                return {"history_rows": 0, "quantile_rows": 0, "runs_recorded": runs, "repeats": repeats,
                        "models": sorted({r[4] for r in history}), "lead_count": {}, "mql_rate": {}}
            for table in (HISTORY_TABLE, QUANTILES_TABLE):
                db.delete_where(table, "run_id = ?", [run_id])
            db.insert_rows(HISTORY_TABLE, HISTORY_COLUMNS, history)
            db.insert_rows(QUANTILES_TABLE, QUANTILE_COLUMNS, quantiles)
            runs = db.scalar(f"select count(distinct run_id) from {HISTORY_TABLE}")
    summary = {(r[4], r[5]): r for r in history if r[5] in (LEAD_COUNT, MQL_RATE)}
    return {"history_rows": len(history), "quantile_rows": len(quantiles), "runs_recorded": runs, "repeats": None,
            "models": sorted({r[4] for r in history}),
            "lead_count": {m: row[7] for (m, metric), row in summary.items() if metric == LEAD_COUNT},
            "mql_rate": {m: round(row[8], 4) for (m, metric), row in summary.items() if metric == MQL_RATE}}


# ------------------------------------------------------------------------------------------------
# Drift: the latest run and its baseline
# ------------------------------------------------------------------------------------------------
def load_comparison(con, settings: MonitoringSettings, run_id: str | None = None) -> dict[str, Any]:
    """The latest recorded run (or `run_id`) and its baseline runs, per model, from the history tables."""
    con = as_db(con)
    runs = _rows(con, f"""select run_id, max(recorded_at) as last_at from {HISTORY_TABLE}
                          group by run_id order by last_at desc, run_id desc""")
    if not runs:
        return {"current": None, "models": {}}
    order = [r["run_id"] for r in runs]
    current = run_id if run_id in order else order[0]
    status = run_statuses(con)
    earlier = order[order.index(current) + 1:]
    eligible = []
    for rid in earlier:  # newest first: blocked runs are left out; an accepted run is the oldest baseline
        state = status.get(rid, {}).get("status", PASSED)
        if state == BLOCKED:
            continue
        eligible.append(rid)
        if state == ACCEPTED:
            break
    baseline = eligible[: settings.baseline_runs]
    wanted = [current, *baseline]
    marks = ", ".join("?" * len(wanted))
    hist = _rows(con, f"select * from {HISTORY_TABLE} where run_id in ({marks})", wanted)
    quants = _rows(con, f"select run_id, model_id, metric, value from {QUANTILES_TABLE} "
                        f"where run_id in ({marks}) and value is not null order by percentile", wanted)
    models: dict[str, dict[str, Any]] = {}
    for r in hist:
        m = models.setdefault(r["model_id"], {"current": [], "baseline": [], "cur_q": {}, "base_q": {}})
        m["current" if r["run_id"] == current else "baseline"].append(r)
    for r in quants:
        m = models.get(r["model_id"])
        if m is not None:
            m["cur_q" if r["run_id"] == current else "base_q"].setdefault(r["metric"], []).append(r["value"])
    return {"current": current, "baseline": baseline, "models": models, "status": status.get(current),
            "left_out": [rid for rid in earlier if status.get(rid, {}).get("status") == BLOCKED]}


def _has_table(con, qualified: str) -> bool:
    return as_db(con).table_exists(*qualified.split("."))


def run_statuses(con) -> dict[str, dict[str, Any]]:
    """run_id -> its drift status row (empty when no run was checked yet)."""
    if not _has_table(con, STATUS_TABLE):
        return {}
    return {r["run_id"]: r for r in _rows(con, f"select * from {STATUS_TABLE}")}


def record_check_result(warehouse: Warehouse, run_id: str, severity: str, checked_at: datetime | None = None
                        ) -> str:
    """Store the drift check's result for `run_id`: blocked on ERROR, else passed. An accepted run stays
    accepted (the acceptance is a recorded decision, not a check result). Returns the run's status."""
    checked_at = checked_at or utc_now()
    with as_warehouse(warehouse).open(read_only=False) as db:
        create_history_tables(db)
        with db.transaction():
            row = db.query(f"select status from {STATUS_TABLE} where run_id = ?", [run_id])[1]
            if row and row[0][0] == ACCEPTED:
                return ACCEPTED
            status = BLOCKED if severity == ERROR else PASSED
            db.delete_where(STATUS_TABLE, "run_id = ?", [run_id])
            db.insert_rows(STATUS_TABLE, ("run_id", "severity", "status", "checked_at"),
                           [(run_id, severity, status, checked_at)])
        return status


class DriftAcceptanceError(ValueError):
    """An acceptance that cannot be recorded (no such run, run not blocked, no reason given)."""


def accept_run(warehouse: Warehouse, accepted_by: str, reason: str, run_id: str | None = None,
               accepted_at: datetime | None = None) -> dict[str, Any]:
    """Accept a blocked run's distribution as the new normal (the latest blocked run when `run_id` is None):
    it becomes the oldest baseline run of later checks, so the drift block is lifted; who, why and when are
    recorded in the status table."""
    if not accepted_by.strip() or not reason.strip():
        raise DriftAcceptanceError("say who accepts the run (--by) and why (--why): the acceptance is recorded")
    accepted_at = accepted_at or utc_now()
    with as_warehouse(warehouse).open(read_only=False) as db:
        create_history_tables(db)
        with db.transaction():
            if run_id is None:
                row = db.query(f"select run_id from {STATUS_TABLE} where status = ? order by checked_at desc, "
                               "run_id desc limit 1", [BLOCKED])[1]
                if not row:
                    raise DriftAcceptanceError("no blocked run to accept: every checked run passed or is accepted")
                run_id = row[0][0]
            found = db.rows(f"select * from {STATUS_TABLE} where run_id = ?", [run_id])
            if not found:
                raise DriftAcceptanceError(f"run {run_id!r} has no drift check result: only a checked run can be "
                                           "accepted")
            if found[0]["status"] != BLOCKED:
                raise DriftAcceptanceError(f"run {run_id!r} is {found[0]['status']}, not blocked: nothing to accept")
            # delete and insert (no UPDATE on Spark's Parquet tables)
            accepted = {**found[0], "status": ACCEPTED, "accepted_by": accepted_by.strip(),
                        "accepted_reason": reason.strip(), "accepted_at": accepted_at}
            db.delete_where(STATUS_TABLE, "run_id = ?", [run_id])
            db.insert_rows(STATUS_TABLE, STATUS_COLUMNS, [[accepted[c] for c in STATUS_COLUMNS]])
    return {"run_id": run_id, "accepted_by": accepted_by.strip(), "reason": reason.strip(),
            "accepted_at": accepted_at}
