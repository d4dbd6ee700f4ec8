"""An independent oracle for docs/scoring_rules.md, in plain Python.

It is written from the spec only (never from the dbt SQL): the raw tables are fetched with
``select * from raw.<table>`` and every rule of the spec is applied here, in Python. The seed CSVs are read
with the csv module (blank cell = None, numbers parsed with float()).

Entry point: :func:`run_oracle` (database path, seeds directory, ``as_of``) -> :class:`OracleResult`.
The small functions below are pure and unit-tested in ``test_oracle.py``.
"""
from __future__ import annotations

import csv
import datetime as dt
import decimal
import functools
import hashlib
import json
import math
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

# --------------------------------------------------------------------------------------------------
# The raw contract (docs/raw_contract.md)
# --------------------------------------------------------------------------------------------------
LEAD_CONTRACT_COLUMNS = (
    "lead_id", "email", "first_name", "last_name", "job_title", "company_name", "company_domain",
    "industry", "employee_count", "annual_revenue", "country", "city", "lead_source", "budget",
    "authority", "need", "timeline", "created_at", "updated_at", "is_deleted", "_loaded_at",
)
# spec, staging leads, step 2: the md5 tie-breaker fields, in this order
LEAD_MD5_FIELDS = (
    "email", "first_name", "last_name", "job_title", "company_name", "company_domain", "industry",
    "employee_count", "country", "city", "lead_source", "budget", "authority", "need", "timeline",
)
EVENT_CONTRACT_COLUMNS = (
    "event_id", "lead_id", "event_type", "channel", "occurred_at", "page_url", "search_term",
    "properties", "_loaded_at",
)
# spec, staging events, step 2: the md5 tie-breaker fields, in this order, each cleaned (the second item: lower-cased)
EVENT_MD5_FIELDS = (("lead_id", False), ("event_type", True), ("channel", True), ("page_url", True),
                    ("search_term", True), ("properties", False))

EMAIL_RE = re.compile(r"^[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$")
MAX_EMPLOYEES = 10_000_000
MAX_REVENUE = 1e12

# Which characters "trimmed" removes. SQL trim() removes spaces only; Python's strip() removes every
# Unicode whitespace character. The spec just says "trimmed": we follow SQL's trim (spaces), see the report.
TRIM_CHARS = " "


# --------------------------------------------------------------------------------------------------
# Small pure helpers
# --------------------------------------------------------------------------------------------------
def clean_text(value):
    """Trim text; empty text is null. Non-text values are returned unchanged."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip(TRIM_CHARS)
        return value if value != "" else None
    return value


def lower_or_none(value):
    value = clean_text(value)
    if value is None:
        return None
    return as_text(value).lower()


def as_text(value):
    """The text of a value as SQL would cast it (used when a text operator meets a number)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return repr(value)  # 100000000.0, as a DOUBLE cast to VARCHAR
    return str(value)


_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def as_number(value):
    """A number for `between`: numeric values as they are, text only when it is a plain decimal number."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float, decimal.Decimal)):
        return float(value)
    if isinstance(value, str):
        text = value.strip(TRIM_CHARS)
        if _NUMBER_RE.fullmatch(text):
            return float(text)
    return None


def md5_hex(values):
    """md5 hex of the values joined by '|', nulls as empty text."""
    joined = "|".join("" if v is None else (v if isinstance(v, str) else as_text(v)) for v in values)
    return hashlib.md5(joined.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=4096)
def like_regex(pattern):
    """Compile a SQL LIKE pattern: `%` any run (also empty), `_` exactly one character."""
    parts = []
    for ch in pattern:
        if ch == "%":
            parts.append(".*")
        elif ch == "_":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.DOTALL)


def like_match(value, pattern, case_insensitive=True):
    """SQL `value LIKE pattern` (whole string). A null on either side never matches."""
    if value is None or pattern is None:
        return False
    if case_insensitive:
        value, pattern = value.lower(), pattern.lower()
    return like_regex(pattern).fullmatch(value) is not None


def normalise_email(raw):
    """-> (email lower-cased or None, is_valid, email_domain or None)."""
    email = lower_or_none(raw)
    if email is None:
        return None, False, None
    valid = EMAIL_RE.fullmatch(email) is not None
    domain = email.split("@", 1)[1] if valid else None
    return email, valid, domain


def normalise_domain(raw):
    """Lower-case; strip a leading http:// or https://, then a leading www., then everything from the first /."""
    d = lower_or_none(raw)
    if d is None:
        return None
    if d.startswith("http://"):
        d = d[len("http://"):]
    elif d.startswith("https://"):
        d = d[len("https://"):]
    if d.startswith("www."):
        d = d[len("www."):]
    slash = d.find("/")
    if slash >= 0:
        d = d[:slash]
    return d if d != "" else None


def derive_company_domain(raw_domain, email_domain, personal_domains):
    domain = normalise_domain(raw_domain)
    if domain is None and email_domain is not None and email_domain not in personal_domains:
        domain = email_domain
    return domain


def classify_email(email, email_valid, email_domain, company_domain, personal_domains, competitor_domains):
    if (email_domain is not None and email_domain in competitor_domains) or (
        company_domain is not None and company_domain in competitor_domains
    ):
        return "competitor"
    if email is None or not email_valid:
        return "invalid"
    if email_domain in personal_domains:
        return "personal"
    return "business"


_EMP_PLAIN = re.compile(r"[0-9]+")
_EMP_PLUS = re.compile(r"([0-9]+)\+")
_EMP_RANGE = re.compile(r"([0-9]+)-[0-9]+")


def parse_employee_count(raw):
    """'1,000+' -> 1000, '51-200' -> 51, '250' -> 250; garbage, < 1 or > 10,000,000 -> None."""
    if raw is None:
        return None
    text = as_text(raw) if not isinstance(raw, str) else raw
    text = text.lower().replace(",", "").replace(" ", "")
    m = _EMP_PLAIN.fullmatch(text)
    if m:
        n = int(text)
    else:
        m = _EMP_PLUS.fullmatch(text) or _EMP_RANGE.fullmatch(text)
        if not m:
            return None
        n = int(m.group(1))
    if n < 1 or n > MAX_EMPLOYEES:
        return None
    return n


def normalise_revenue(raw):
    value = as_number(clean_text(raw))
    if value is None or value < 0 or value > MAX_REVENUE:
        return None
    return value


def band_for(value, bands):
    """bands: list of (label, min). The label with the greatest min not above value; None if none."""
    if value is None:
        return None
    best = None
    for label, minimum in bands:
        if minimum is not None and minimum <= value and (best is None or minimum > best[1]):
            best = (label, minimum)
    return best[0] if best else None


def map_job_title(title, title_rows, dimension):
    """title_rows: dicts with pattern, dimension, value, priority. Smallest priority wins, then smallest value."""
    if title is None:
        return None
    lowered = title.lower()
    hits = [
        (float(r["priority"]), r["value"])
        for r in title_rows
        if (r["dimension"] or "").strip().lower() == dimension and like_match(lowered, r["pattern"])
    ]
    if not hits:
        return "unmapped"
    return min(hits)[1]


def decay_factor(method, age_days, decay_days):
    method = (method or "none").strip().lower()
    a, h = age_days, decay_days
    if method == "exponential":
        return 0.5 ** (a / h)
    if method == "linear":
        return max(0.0, 1.0 - a / h)
    if method == "window":
        return 1.0 if a < h else 0.0
    if method == "none":
        return 1.0
    raise ValueError(f"unknown decay_method {method!r}")


def cap_rule_points(total, points, max_points):
    """Per-rule cap: min(x, max) for a positive rule, max(x, -max) for a negative one."""
    if max_points is None:
        return total
    if points > 0:
        return min(total, max_points)
    if points < 0:
        return max(total, -max_points)
    return total


def apply_caps(points_by_group, group_caps, axis_max_positive, axis_max_negative):
    """points_by_group: {group: [points, ...]}; group_caps: {group: (max_positive, max_negative)}.

    Returns (score, positive, negative): per-group caps, then the axis caps, then clamp 0..100.
    """
    positive = 0.0
    negative = 0.0
    for group, points in points_by_group.items():
        pos = sum(p for p in points if p > 0)
        neg = sum(p for p in points if p < 0)
        if group in group_caps:
            max_pos, max_neg = group_caps[group]
            if max_pos is not None:
                pos = min(pos, max_pos)
            if max_neg is not None:
                neg = max(neg, -max_neg)
        positive += pos
        negative += neg
    if axis_max_positive is not None:
        positive = min(positive, axis_max_positive)
    if axis_max_negative is not None:
        negative = max(negative, -axis_max_negative)
    return clamp_score(positive + negative), positive, negative


def clamp_score(x):
    """Clamp to 0..100, then round to 6 decimals (the spec: stable across runs whatever the summation order)."""
    return round(min(100.0, max(0.0, x)), 6)


def fit_rule_fires(operator, value, min_value, max_value, v):
    op = (operator or "").strip().lower()
    if op == "is_missing":
        return v is None
    if op == "is_present":
        return v is not None
    if op == "between":
        n = as_number(v)
        if n is None:
            return False
        if min_value is not None and not (min_value <= n):
            return False
        if max_value is not None and not (n < max_value):
            return False
        return True
    if v is None:
        return False
    text = as_text(v).strip(TRIM_CHARS).lower()
    if op == "equals":
        return value is not None and text == value.strip(TRIM_CHARS).lower()
    if op == "one_of":
        if value is None:
            return False
        return text in [item.strip(TRIM_CHARS).lower() for item in value.split("|")]
    if op == "pattern":
        return value is not None and like_match(text, value.lower())
    raise ValueError(f"unknown fit operator {operator!r}")


def parse_bool(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "t", "1", "yes", "y"):
        return True
    if text in ("false", "f", "0", "no", "n"):
        return False
    return None


def to_datetime(value):
    """A timestamp as a naive UTC datetime."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        return to_datetime(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    raise TypeError(f"not a timestamp: {value!r}")


def parse_as_of(value):
    """`YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` or ISO with a T -> naive UTC datetime."""
    return to_datetime(value)


def age_days(day, as_of_date):
    return (as_of_date - day).days


def compare_nulls_last(a, b, descending=False):
    if a is None and b is None:
        return 0
    if a is None:
        return 1
    if b is None:
        return -1
    if a == b:
        return 0
    less = a < b
    if descending:
        return 1 if less else -1
    return -1 if less else 1


def sort_nulls_last(rows, keys):
    """keys: list of (function(row) -> value, descending). Every key sorts nulls last."""

    def cmp(r1, r2):
        for fn, desc in keys:
            c = compare_nulls_last(fn(r1), fn(r2), desc)
            if c:
                return c
        return 0

    return sorted(rows, key=functools.cmp_to_key(cmp))


# --------------------------------------------------------------------------------------------------
# Seeds
# --------------------------------------------------------------------------------------------------
SEED_NAMES = (
    "map_company_size_bands", "map_countries", "map_email_domains", "map_industries", "map_job_titles",
    "map_revenue_bands", "ref_event_types", "scoring_engagement_rules", "scoring_fit_rules",
    "scoring_group_caps", "scoring_lifecycle_rules", "scoring_models", "scoring_overrides",
    "scoring_score_bands", "scoring_signal_rules", "map_missing_values",
)


def read_seed(path):
    with open(path, newline="", encoding="utf-8") as fh:
        rows = []
        for row in csv.DictReader(fh):
            rows.append({k.strip(): (None if v is None or v.strip() == "" else v) for k, v in row.items()})
        return rows


def load_seeds(seeds_dir):
    return {name: read_seed(os.path.join(seeds_dir, name + ".csv")) for name in SEED_NAMES}


def fnum(value):
    return None if value is None else float(value)


def key_text(value):
    """The trimmed lower-cased text used for every dictionary comparison."""
    return None if value is None else value.strip(TRIM_CHARS).lower()


@dataclass
class Dictionaries:
    personal_domains: set
    competitor_domains: set
    industries: dict
    countries: dict
    job_titles: list
    size_bands: list
    revenue_bands: list
    event_types: set
    # placeholders that mean "no value" (seeds/map_missing_values.csv), as key_text: trimmed, lower-cased
    missing_values: frozenset = frozenset()

    def without_placeholder(self, value):
        """The value, or None when its trimmed lower-cased text is a placeholder (spec: staging leads, step 1)."""
        text = clean_text(value if value is None or isinstance(value, str) else as_text(value))
        if text is None or as_text(text).lower() in self.missing_values:
            return None
        return value

    @classmethod
    def from_seeds(cls, seeds):
        domains = defaultdict(set)
        for r in seeds["map_email_domains"]:
            domains[key_text(r["domain_type"])].add(key_text(r["domain"]))
        return cls(
            personal_domains=domains["personal"],
            competitor_domains=domains["competitor"],
            industries={key_text(r["raw_label"]): r["industry"] for r in seeds["map_industries"]},
            countries={key_text(r["raw_value"]): (r["country_code"], r["region"]) for r in seeds["map_countries"]},
            job_titles=seeds["map_job_titles"],
            size_bands=[(r["band"], fnum(r["min_employees"])) for r in seeds["map_company_size_bands"]],
            revenue_bands=[(r["band"], fnum(r["min_revenue_usd"])) for r in seeds["map_revenue_bands"]],
            event_types={key_text(r["event_type"]) for r in seeds["ref_event_types"]},
            # the text "null" is always missing, like a blank (built in: spec, staging leads, step 1)
            missing_values=frozenset(key_text(r["missing_value"]) for r in seeds.get("map_missing_values", [])
                                     if r.get("missing_value") is not None) | {"null"},
        )


# --------------------------------------------------------------------------------------------------
# Staging
# --------------------------------------------------------------------------------------------------
@dataclass
class StagingCounts:
    raw_rows: int = 0
    staged_rows: int = 0
    quarantined_rows: int = 0
    superseded_rows: int = 0
    quarantine_reasons: Counter = field(default_factory=Counter)

    def reconciles(self):
        return self.raw_rows == self.staged_rows + self.quarantined_rows + self.superseded_rows

    def quarantine(self, quarantined, key, reason):
        """Count one quarantined row under `reason` and list it as (key, reason)."""
        self.quarantined_rows += 1
        self.quarantine_reasons[reason] += 1
        quarantined.append((key, reason))


def is_after(value, as_of):
    moment = to_datetime(value)
    return as_of is not None and moment is not None and moment > as_of


def stage_leads(raw_rows, dictionaries, as_of=None):
    """-> (staged leads {lead_id: attributes}, StagingCounts, quarantined [(lead_id, reason)]).
    With `as_of`, rows created or updated after it are quarantined as after_as_of (not known yet)."""
    counts = StagingCounts(raw_rows=len(raw_rows))
    quarantined = []
    by_id = defaultdict(list)
    for raw in raw_rows:
        lead_id = clean_text(raw.get("lead_id"))
        if lead_id is None:
            counts.quarantine(quarantined, None, "missing_lead_id")
            continue
        if is_after(raw.get("created_at"), as_of) or is_after(raw.get("updated_at"), as_of):
            counts.quarantine(quarantined, lead_id, "after_as_of")
            continue
        by_id[lead_id].append(raw)

    staged = {}
    for lead_id, versions in by_id.items():
        ordered = order_lead_versions(versions)
        latest = ordered[0]
        counts.superseded_rows += len(ordered) - 1
        if parse_bool(latest.get("is_deleted")) is True:
            counts.quarantine(quarantined, lead_id, "soft_deleted")
            continue
        counts.staged_rows += 1
        staged[lead_id] = normalise_lead(latest, dictionaries)
    return staged, counts, quarantined


def order_lead_versions(versions):
    return sort_nulls_last(
        versions,
        [
            (lambda r: to_datetime(r.get("updated_at")), True),
            (lambda r: to_datetime(r.get("_loaded_at")), True),
            (lambda r: parse_bool(r.get("is_deleted")), True),
            (lambda r: as_number(r.get("annual_revenue")), True),
            (lambda r: md5_hex([r.get(c) for c in LEAD_MD5_FIELDS]), False),
        ],
    )


def normalise_lead(raw, d: Dictionaries):
    """The normalised attributes of one staged lead (the latest version), including custom columns. Every text
    attribute (the contract's text columns but lead_id, and every custom column) equal to a placeholder of
    seeds/map_missing_values.csv is missing, like a blank."""
    raw = {
        column: d.without_placeholder(value)
        if column.lower() in LEAD_MD5_FIELDS or column.lower() not in LEAD_CONTRACT_COLUMNS else value
        for column, value in raw.items()
    }
    email, email_valid, email_domain = normalise_email(raw.get("email"))
    company_domain = derive_company_domain(raw.get("company_domain"), email_domain, d.personal_domains)
    industry_raw = lower_or_none(raw.get("industry"))
    if industry_raw is None:
        industry = None
    else:
        industry = d.industries.get(industry_raw, "unmapped")
    job_title = clean_text(raw.get("job_title"))
    employee_count = parse_employee_count(clean_text(raw.get("employee_count")))
    annual_revenue = normalise_revenue(raw.get("annual_revenue"))
    country_key = lower_or_none(raw.get("country"))
    country_code, region = d.countries.get(country_key, (None, None)) if country_key is not None else (None, None)
    lead = {
        "lead_id": clean_text(raw.get("lead_id")),
        "email": email,
        "email_valid": email_valid,
        "email_domain": email_domain,
        "email_type": classify_email(
            email, email_valid, email_domain, company_domain, d.personal_domains, d.competitor_domains
        ),
        "first_name": clean_text(raw.get("first_name")),
        "last_name": clean_text(raw.get("last_name")),
        "company_name": clean_text(raw.get("company_name")),
        "company_domain": company_domain,
        "industry": industry,
        "job_title": job_title,
        "seniority": map_job_title(job_title, d.job_titles, "seniority"),
        "job_function": map_job_title(job_title, d.job_titles, "job_function"),
        "employee_count": employee_count,
        "company_size_band": band_for(employee_count, d.size_bands),
        "annual_revenue": annual_revenue,
        "revenue_band": band_for(annual_revenue, d.revenue_bands),
        "country_code": country_code,
        "region": region,
        "city": lower_or_none(raw.get("city")),
        "lead_source": lower_or_none(raw.get("lead_source")),
        "budget": lower_or_none(raw.get("budget")),
        "authority": lower_or_none(raw.get("authority")),
        "need": lower_or_none(raw.get("need")),
        "timeline": lower_or_none(raw.get("timeline")),
        "created_at": to_datetime(clean_text(raw.get("created_at"))),
        "updated_at": to_datetime(clean_text(raw.get("updated_at"))),
    }
    for column, value in raw.items():
        name = column.lower()
        if name in LEAD_CONTRACT_COLUMNS:
            continue
        text = value if value is None or isinstance(value, str) else as_text(value)
        lead.setdefault(name, clean_text(text))
    return lead


def stage_events(raw_rows, staged_lead_ids, event_types, as_of):
    """-> (staged events [dict], StagingCounts, quarantined [(event_id, reason)])."""
    counts = StagingCounts(raw_rows=len(raw_rows))
    quarantined = []
    by_id = defaultdict(list)
    for raw in raw_rows:
        event_id = clean_text(raw.get("event_id"))
        if event_id is None:
            counts.quarantine(quarantined, None, "missing_event_id")
            continue
        by_id[event_id].append(raw)

    staged = []
    for event_id, deliveries in by_id.items():
        ordered = sort_nulls_last(
            deliveries,
            [
                (lambda r: to_datetime(r.get("_loaded_at")), False),
                (lambda r: to_datetime(r.get("occurred_at")), False),
                (lambda r: md5_hex([lower_or_none(r.get(c)) if lowered else clean_text(r.get(c))
                                    for c, lowered in EVENT_MD5_FIELDS]), False),
            ],
        )
        counts.superseded_rows += len(ordered) - 1
        kept = ordered[0]
        event = {
            "event_id": event_id,
            "lead_id": clean_text(kept.get("lead_id")),
            "event_type": lower_or_none(kept.get("event_type")),
            "channel": lower_or_none(kept.get("channel")),
            "occurred_at": to_datetime(clean_text(kept.get("occurred_at"))),
            "page_url": lower_or_none(kept.get("page_url")),
            "search_term": lower_or_none(kept.get("search_term")),
            "properties": clean_text(kept.get("properties")),
        }
        reason = event_quarantine_reason(event, staged_lead_ids, event_types, as_of)
        if reason:
            counts.quarantine(quarantined, event_id, reason)
            continue
        event["activity_date"] = event["occurred_at"].date()
        counts.staged_rows += 1
        staged.append(event)
    return staged, counts, quarantined


def event_quarantine_reason(event, staged_lead_ids, event_types, as_of):
    if event["occurred_at"] is None:
        return "missing_occurred_at"
    if event["event_type"] not in event_types:
        return "unknown_event_type"
    if event["lead_id"] is None:
        return "anonymous"
    if event["lead_id"] not in staged_lead_ids:
        return "unknown_lead"
    if event["occurred_at"] > as_of:
        return "future_event"
    return None


# --------------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------------
def engagement_rule_matches(rule, event):
    if key_text(rule["event_type"]) != event["event_type"]:
        return False
    if rule["channel"] is not None and key_text(rule["channel"]) != event["channel"]:
        return False
    if rule["match_field"] is not None:
        v = event.get(key_text(rule["match_field"]))
        if v is None or not like_match(v, rule["pattern"]):
            return False
    return True


MAX_PROPERTY = 1e12
# spec, engagement: numeric text of a property - at most 40 characters, an exponent of at most two digits
_PROPERTY_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,2})?")


def _first_key_wins(pairs):
    out = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


def property_number(properties, name):
    """The number held by the top-level key `name` of the JSON object `properties` (text), or None.

    spec, engagement: a JSON number, or text that is a plain decimal number (no spaces, at most 40 characters, an
    exponent of at most two digits), between -1e12 and 1e12.
    Text that is not a JSON object, a missing key, null, true/false, an object or a list: None. With a key
    written twice, the first counts."""
    if properties is None or name is None:
        return None
    try:
        doc = json.loads(properties, object_pairs_hook=_first_key_wins)
    except ValueError:
        return None
    if not isinstance(doc, dict) or name not in doc:
        return None
    value = doc[name]
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
        if number != 0 and abs(number) < 1e-99:  # written with a three-digit exponent: not a plain number
            return None
    elif isinstance(value, str) and len(value) <= 40 and _PROPERTY_NUMBER_RE.fullmatch(value):
        number = float(value)
    else:
        return None
    if math.isnan(number) or abs(number) > MAX_PROPERTY:
        return None
    return number


def engagement_event_points(rule, event):
    """The points one matching event earns from `rule` before decay, or None when the rule does not match it.

    spec, engagement: a rule with property_name matches only when the property holds a number v with
    property_min <= v < property_max (blank bounds open); with property_unit it earns points * v / property_unit
    and matches only v >= 0; otherwise it earns `points`."""
    if not engagement_rule_matches(rule, event):
        return None
    points = float(rule["points"])
    name = clean_text(rule.get("property_name"))
    if name is None:
        return points
    v = property_number(event.get("properties"), name)
    lo, hi, unit = fnum(rule.get("property_min")), fnum(rule.get("property_max")), fnum(rule.get("property_unit"))
    if v is None or (lo is not None and v < lo) or (hi is not None and v >= hi):
        return None
    if unit is None:
        return points
    if v < 0:
        return None
    return points * v / unit


def burst_event_ids(events, threshold):
    """The staged events of one lead that fall in a calendar minute holding `threshold` or more of them."""
    if threshold is None:
        return set()
    per_minute = defaultdict(list)
    for e in events:
        per_minute[e["occurred_at"].replace(second=0, microsecond=0)].append(e["event_id"])
    return {eid for ids in per_minute.values() if len(ids) >= threshold for eid in ids}


def stage_lifecycle(rules, has_disqualifier, cell, lead_score, fit_score, engagement_score):
    for rule in sorted(rules, key=lambda r: float(r["priority"])):
        req = parse_bool(rule["requires_disqualifier"])
        if req is not None and req != has_disqualifier:
            continue
        if rule["matrix_cells"] is not None:
            cells = [key_text(c) for c in rule["matrix_cells"].split("|")]
            if cell is None or cell.lower() not in cells:
                continue
        if rule["min_lead_score"] is not None and not lead_score >= float(rule["min_lead_score"]):
            continue
        if rule["min_fit_score"] is not None and not fit_score >= float(rule["min_fit_score"]):
            continue
        if rule["min_engagement_score"] is not None and not engagement_score >= float(rule["min_engagement_score"]):
            continue
        return rule["stage"]
    return None


def active_overrides(overrides, model_id, as_of_date):
    out = []
    for o in overrides:
        if o["valid_until"] is not None and to_datetime(o["valid_until"]).date() < as_of_date:
            continue
        if o["model_id"] is not None and o["model_id"].strip(TRIM_CHARS) != model_id:
            continue
        out.append(o)
    return out


def pick_overrides(overrides, lead_id, company_domain):
    """{action: override}: per action a lead-level override beats a domain-level one, then smallest override_id."""
    candidates = defaultdict(list)
    for o in overrides:
        if o["lead_id"] is not None:
            if o["lead_id"].strip(TRIM_CHARS) == lead_id:
                candidates[key_text(o["action"])].append((0, o["override_id"], o))
        elif o["company_domain"] is not None:
            if company_domain is not None and key_text(o["company_domain"]) == company_domain:
                candidates[key_text(o["action"])].append((1, o["override_id"], o))
    return {action: min(c, key=lambda t: (t[0], t[1]))[2] for action, c in candidates.items()}


@dataclass
class OracleResult:
    as_of: dt.datetime
    leads: dict  # lead_id -> normalised attributes
    events: list  # staged events
    staging: dict  # source table -> StagingCounts
    scores: dict  # (model_id, lead_id) -> score dict
    fired_fit_rules: dict  # (model_id, lead_id) -> {rule_id: points}
    engagement_rule_points: dict  # (model_id, lead_id) -> {rule_id: capped points}
    signals: dict  # (model_id, lead_id) -> {rule_id: points}
    accounts: dict  # (model_id, company_domain) -> account score dict


def score_model(model, seeds, leads, events_by_lead, as_of):
    model_id = model["model_id"]
    as_of_date = as_of.date()
    in_model = lambda rows: [r for r in rows if r["model_id"] == model_id]  # noqa: E731
    fit_rules = in_model(seeds["scoring_fit_rules"])
    eng_rules = in_model(seeds["scoring_engagement_rules"])
    signal_rules = in_model(seeds["scoring_signal_rules"])
    caps = {"fit": {}, "engagement": {}}
    for r in in_model(seeds["scoring_group_caps"]):
        caps[key_text(r["axis"])][r["rule_group"]] = (fnum(r["max_positive_points"]), fnum(r["max_negative_points"]))
    bands = {"fit": [], "engagement": []}
    for r in in_model(seeds["scoring_score_bands"]):
        bands[key_text(r["axis"])].append((r["band"], fnum(r["min_score"])))
    lifecycle_rules = in_model(seeds["scoring_lifecycle_rules"])
    overrides = active_overrides(seeds["scoring_overrides"], model_id, as_of_date)

    burst_rules = [s for s in signal_rules if key_text(s["signal"]) == "burst"]
    if len(burst_rules) > 1:
        raise NotImplementedError("more than one burst rule in a model: the spec defines one threshold")
    burst_threshold = fnum(burst_rules[0]["threshold"]) if burst_rules else None

    # ---- engagement rules per lead
    eng_points = {}
    last_engaged = {}
    engaged_ages = defaultdict(list)  # lead -> ages of non-burst events matching a positive rule
    burst_ages = defaultdict(list)
    for lead_id in leads:
        events = events_by_lead.get(lead_id, [])
        bursts = burst_event_ids(events, burst_threshold)
        buckets = defaultdict(float)  # (rule index, day) -> points before decay
        for e in events:
            is_burst = e["event_id"] in bursts
            if is_burst:
                burst_ages[lead_id].append(age_days(e["activity_date"], as_of_date))
            matched_positive = False
            for i, rule in enumerate(eng_rules):
                event_points = engagement_event_points(rule, e)
                if event_points is None:
                    continue
                if float(rule["points"]) > 0:
                    if is_burst:
                        continue
                    # spec: an engaged day has points from a positive rule (a per-unit rule at 0 earns none)
                    matched_positive = matched_positive or event_points > 0
                buckets[(i, e["activity_date"])] += event_points
            if matched_positive:
                day = e["activity_date"]
                if lead_id not in last_engaged or day > last_engaged[lead_id]:
                    last_engaged[lead_id] = day
                engaged_ages[lead_id].append(age_days(day, as_of_date))
        per_rule = defaultdict(float)
        for (i, day), base in sorted(buckets.items(), key=lambda kv: (kv[0][0], kv[0][1])):
            rule = eng_rules[i]
            per_rule[i] += base * decay_factor(
                rule["decay_method"], age_days(day, as_of_date), fnum(rule["decay_days"])
            )
        eng_points[lead_id] = {
            eng_rules[i]["rule_id"]: (
                eng_rules[i]["rule_group"],
                cap_rule_points(x, float(eng_rules[i]["points"]), fnum(eng_rules[i]["max_points"])),
            )
            for i, x in per_rule.items()
        }

    # ---- signals
    accounts = defaultdict(list)
    personal = Dictionaries.from_seeds(seeds).personal_domains
    for lead_id, lead in leads.items():
        dom = lead["company_domain"]
        if dom is not None and dom not in personal:
            accounts[dom].append(lead_id)
    signals = defaultdict(dict)
    for s in signal_rules:
        kind = key_text(s["signal"])
        threshold = fnum(s["threshold"])
        window = fnum(s["window_days"])
        points = float(s["points"])
        in_window = lambda ages: any(window is None or a < window for a in ages)  # noqa: E731
        if kind == "inactivity":
            for lead_id, lead in leads.items():
                day = last_engaged.get(lead_id)
                if day is None:
                    ts = lead["created_at"] if lead["created_at"] is not None else lead["updated_at"]
                    day = ts.date() if ts is not None else None
                if day is not None and age_days(day, as_of_date) >= threshold:
                    signals[lead_id][s["rule_id"]] = (s["rule_group"], points)
        elif kind == "burst":
            for lead_id in leads:
                if in_window(burst_ages.get(lead_id, [])):
                    signals[lead_id][s["rule_id"]] = (s["rule_group"], points)
        elif kind == "engaged_colleagues":
            for dom, members in accounts.items():
                engaged = [m for m in members if in_window(engaged_ages.get(m, []))]
                if len(engaged) >= threshold:
                    for m in members:
                        signals[m][s["rule_id"]] = (s["rule_group"], points)
        else:
            raise ValueError(f"unknown signal {kind!r}")

    # ---- fit, caps, bands, lifecycle
    results = {}
    fired_fit = {}
    fit_max_pos, fit_max_neg = fnum(model["fit_max_positive_points"]), fnum(model["fit_max_negative_points"])
    eng_max_pos = fnum(model["engagement_max_positive_points"])
    eng_max_neg = fnum(model["engagement_max_negative_points"])
    fit_weight, eng_weight = float(model["fit_weight"]), float(model["engagement_weight"])
    for lead_id, lead in leads.items():
        fired = {}
        fit_groups = defaultdict(list)
        has_disqualifier = False
        for rule in fit_rules:
            v = lead.get(key_text(rule["attribute"]))
            if fit_rule_fires(rule["operator"], rule["value"], fnum(rule["min_value"]), fnum(rule["max_value"]), v):
                points = float(rule["points"])
                fired[rule["rule_id"]] = points
                fit_groups[rule["rule_group"]].append(points)
                if parse_bool(rule["disqualifies"]):
                    has_disqualifier = True
        fired_fit[(model_id, lead_id)] = fired
        fit_score, _, _ = apply_caps(fit_groups, caps["fit"], fit_max_pos, fit_max_neg)

        eng_groups = defaultdict(list)
        for group, pts in eng_points[lead_id].values():
            eng_groups[group].append(pts)
        for group, pts in signals.get(lead_id, {}).values():
            eng_groups[group].append(pts)
        engagement_score, _, _ = apply_caps(eng_groups, caps["engagement"], eng_max_pos, eng_max_neg)

        fit_grade = band_for(fit_score, bands["fit"])
        engagement_level = band_for(engagement_score, bands["engagement"])
        lead_score = fit_weight * fit_score + eng_weight * engagement_score
        chosen = pick_overrides(overrides, lead_id, lead["company_domain"])
        computed_fit_grade = fit_grade
        if "pin_grade" in chosen:
            fit_grade = chosen["pin_grade"]["value"]
        matrix_cell = None if fit_grade is None or engagement_level is None else f"{fit_grade}{engagement_level}"
        stage = stage_lifecycle(lifecycle_rules, has_disqualifier, matrix_cell, lead_score, fit_score, engagement_score)
        if "pin_stage" in chosen:
            stage = chosen["pin_stage"]["value"]
        if "exclude" in chosen:
            stage = "excluded"
        results[(model_id, lead_id)] = {
            "model_id": model_id,
            "lead_id": lead_id,
            "fit_score": fit_score,
            "engagement_score": engagement_score,
            "fit_grade": fit_grade,
            "computed_fit_grade": computed_fit_grade,
            "engagement_level": engagement_level,
            "matrix_cell": matrix_cell,
            "lead_score": lead_score,
            "lifecycle_stage": stage,
            "has_disqualifier": has_disqualifier,
            "is_excluded": "exclude" in chosen,
            "has_override": bool(chosen),
            "applied_overrides": sorted(o["override_id"] for o in chosen.values()),
        }
    # ---- accounts
    colleague_rules = [s for s in signal_rules if key_text(s["signal"]) == "engaged_colleagues"]
    account_scores = {}
    for dom, members in accounts.items():
        # spec, accounts: without an engaged_colleagues rule, engaged leads count at any age and nothing fires
        engaged_count, researching = sum(1 for m in members if engaged_ages.get(m)), False
        for s in colleague_rules[:1]:
            window = fnum(s["window_days"])
            engaged_count = sum(
                1 for m in members if any(window is None or a < window for a in engaged_ages.get(m, []))
            )
            researching = engaged_count >= fnum(s["threshold"])
        fit = max(results[(model_id, m)]["fit_score"] for m in members)
        eng = min(100.0, sum(results[(model_id, m)]["engagement_score"] for m in members))
        grade, level = band_for(fit, bands["fit"]), band_for(eng, bands["engagement"])
        account_scores[(model_id, dom)] = {
            "model_id": model_id,
            "company_domain": dom,
            "lead_count": len(members),
            "engaged_lead_count": engaged_count,
            "is_researching": researching,
            "account_fit_score": fit,
            "account_engagement_score": eng,
            "account_score": fit_weight * fit + eng_weight * eng,
            "account_grade": grade,
            "account_level": level,
            "account_cell": None if grade is None or level is None else f"{grade}{level}",
        }

    eng_rule_points = {(model_id, l): {k: v[1] for k, v in d.items()} for l, d in eng_points.items()}
    sig = {(model_id, l): {k: v[1] for k, v in d.items()} for l, d in signals.items()}
    return results, fired_fit, eng_rule_points, sig, account_scores


def enabled_models(seeds):
    """spec, scoring models: a model with is_enabled false scores nothing (blank or true: it scores)."""
    return [m for m in seeds["scoring_models"] if parse_bool(m.get("is_enabled")) is not False]


def fetch_rows(con, table):
    cur = con.execute(f"select * from {table}")
    names = [d[0].lower() for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def fetch_raw(db_path):
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        return {t: fetch_rows(con, f"raw.{t}") for t in ("leads", "events", "opportunities")}
    finally:
        con.close()


def run_oracle(db_path, seeds_dir, as_of, raw=None):
    """Score every staged lead of every model of the seeds, from the raw tables of `db_path`."""
    as_of = parse_as_of(as_of)
    seeds = load_seeds(seeds_dir)
    if raw is None:
        raw = fetch_raw(db_path)
    dictionaries = Dictionaries.from_seeds(seeds)
    leads, lead_counts, _ = stage_leads(raw["leads"], dictionaries, as_of)
    events, event_counts, _ = stage_events(raw["events"], set(leads), dictionaries.event_types, as_of)
    events_by_lead = defaultdict(list)
    for e in events:
        events_by_lead[e["lead_id"]].append(e)
    staging = {
        "leads": lead_counts,
        "events": event_counts,
        # the spec does not define the staging of opportunities: only the raw row count is known here
        "opportunities": StagingCounts(raw_rows=len(raw["opportunities"])),
    }
    scores, fired, eng, sig, accounts = {}, {}, {}, {}, {}
    for model in enabled_models(seeds):
        s, f, e, g, a = score_model(model, seeds, leads, events_by_lead, as_of)
        scores.update(s)
        fired.update(f)
        eng.update(e)
        sig.update(g)
        accounts.update(a)
    return OracleResult(as_of, leads, events, staging, scores, fired, eng, sig, accounts)


if __name__ == "__main__":  # pragma: no cover - a manual check
    import sys

    result = run_oracle(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "seeds",
                        sys.argv[3] if len(sys.argv) > 3 else "2026-11-01 00:00:00")
    for table, c in result.staging.items():
        print(table, c)
    cells = Counter(s["matrix_cell"] for s in result.scores.values())
    stages = Counter(s["lifecycle_stage"] for s in result.scores.values())
    print(len(result.scores), "scored;", dict(cells.most_common()), dict(stages))
