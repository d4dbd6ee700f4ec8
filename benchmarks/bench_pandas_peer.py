"""The benchmark's pandas peer: the scoring of docs/scoring_rules.md for the ``default`` model, written the way a
data scientist would write it with pandas frames (read the tables into DataFrames, clean, de-duplicate, match
rules with boolean masks, group and sum).

    python -m benchmarks.bench_pandas_peer --database PATH --as-of "2026-11-01 00:00:00" [--table bench.pandas_peer_scores]

It reads ``raw.leads``, ``raw.events`` and the rule seeds in the ``rules`` schema (as dbt seeds them: text),
scores every staged lead and writes one row per lead (lead_id, fit_score, fit_grade, engagement_score,
engagement_level, matrix_cell, lead_score, lifecycle_stage) to ``--table`` in the same DuckDB file. Used by
benchmarks/benchmark.py as a peer (time and memory), and compared with marts.lead_scores lead for lead.
pandas is an optional dependency (``pip install -e '.[bench]'``); the project itself never imports this module.

Lead attributes that fit rules can target: the normalised columns of :data:`ATTRIBUTES` (custom CRM columns are
not scored here).
"""
from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time

import duckdb
import numpy as np
import pandas as pd

from lead_scoring.clock import parse_instant

MODEL_ID = "default"
EMAIL_RE = r"[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}"
ATTRIBUTES = (
    "industry", "company_size_band", "employee_count", "revenue_band", "annual_revenue", "seniority",
    "job_function", "job_title", "country_code", "region", "city", "email_type", "email_domain",
    "company_domain", "lead_source", "budget", "authority", "need", "timeline",
)
LEAD_HASH_FIELDS = ("email", "first_name", "last_name", "job_title", "company_name", "company_domain", "industry",
                    "employee_count", "country", "city", "lead_source", "budget", "authority", "need", "timeline")
# the event tie-break hashes the cleaned fields: (field, cleaning function name)
EVENT_HASH_FIELDS = (("lead_id", "clean"), ("event_type", "clean_lower"), ("channel", "clean_lower"),
                     ("page_url", "clean_lower"), ("search_term", "clean_lower"), ("properties", "clean"))


# ------------------------------------------------------------------------------------------------ helpers
def clean(s: pd.Series) -> pd.Series:
    """Trimmed text, empty text as missing."""
    s = s.astype("object").where(s.notna(), None)
    s = s.map(lambda v: v.strip(" ") if isinstance(v, str) else v)
    return s.where(s != "", None)


def clean_lower(s: pd.Series) -> pd.Series:
    s = clean(s)
    return s.map(lambda v: v.lower() if isinstance(v, str) else v)


def num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(clean(s), errors="coerce")


def like_regex(pattern: str) -> str:
    """SQL LIKE -> a regular expression for str.fullmatch (% any run, _ one character)."""
    return "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)


def like(s: pd.Series, pattern: str) -> pd.Series:
    return s.str.fullmatch("(?s)" + like_regex(pattern), na=False).astype(bool)


def md5_joined(frame: pd.DataFrame, columns) -> pd.Series:
    """md5 hex of the fields joined by '|', missing as empty (the tie-breaks of docs/scoring_rules.md)."""
    parts = [frame[c].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
             for c in columns]
    joined = parts[0]
    for p in parts[1:]:
        joined = joined + "|" + p
    return joined.map(lambda t: hashlib.md5(t.encode("utf-8")).hexdigest())


def as_text(s: pd.Series) -> pd.Series:
    """A lead attribute as the text a rule compares (numbers as DuckDB prints them)."""
    if pd.api.types.is_float_dtype(s):
        return s.map(lambda v: None if pd.isna(v) else repr(float(v)))
    if pd.api.types.is_integer_dtype(s):
        return s.map(lambda v: None if pd.isna(v) else str(int(v)))
    return s


def band_of(scores: pd.Series, bands: pd.DataFrame, min_column: str) -> pd.Series:
    """The band with the greatest minimum not above the value."""
    out = pd.Series([None] * len(scores), index=scores.index, dtype="object")
    for _, b in bands.sort_values(min_column).iterrows():
        out[scores >= b[min_column]] = b["band"]
    return out


def read(con, sql: str) -> pd.DataFrame:
    return con.execute(sql).df()


# ------------------------------------------------------------------------------------------------ scoring
def score(con, as_of: str) -> pd.DataFrame:
    as_of_ts = pd.Timestamp(parse_instant(as_of))
    as_of_date = as_of_ts.normalize()

    # ---- seeds
    seed = {name: read(con, f"select * from rules.{name}") for name in (
        "scoring_models", "scoring_fit_rules", "scoring_engagement_rules", "scoring_signal_rules",
        "scoring_group_caps", "scoring_score_bands", "scoring_lifecycle_rules", "scoring_overrides",
        "map_email_domains", "map_industries", "map_countries", "map_job_titles", "map_company_size_bands",
        "map_revenue_bands", "ref_event_types")}
    for name in seed:
        if "model_id" in seed[name].columns and name != "scoring_overrides":
            seed[name] = seed[name][clean(seed[name]["model_id"]) == MODEL_ID].reset_index(drop=True)
    model = seed["scoring_models"].iloc[0]
    fit_rules = seed["scoring_fit_rules"].assign(
        attribute=lambda d: clean_lower(d.attribute), operator=lambda d: clean_lower(d.operator),
        value=lambda d: clean_lower(d.value), points=lambda d: num(d.points),
        min_value=lambda d: num(d.min_value), max_value=lambda d: num(d.max_value),
        rule_group=lambda d: clean_lower(d.rule_group),
        disqualifies=lambda d: clean_lower(d.disqualifies) == "true")
    eng_rules = seed["scoring_engagement_rules"].assign(
        event_type=lambda d: clean_lower(d.event_type), channel=lambda d: clean_lower(d.channel),
        match_field=lambda d: clean_lower(d.match_field), pattern=lambda d: clean_lower(d.pattern),
        points=lambda d: num(d.points), decay_method=lambda d: clean_lower(d.decay_method),
        decay_days=lambda d: num(d.decay_days), max_points=lambda d: num(d.max_points),
        rule_group=lambda d: clean_lower(d.rule_group), rule_id=lambda d: clean(d.rule_id))
    signals = seed["scoring_signal_rules"].assign(
        signal=lambda d: clean_lower(d.signal), threshold=lambda d: num(d.threshold),
        window_days=lambda d: num(d.window_days), points=lambda d: num(d.points),
        rule_group=lambda d: clean_lower(d.rule_group))
    caps = seed["scoring_group_caps"].assign(
        axis=lambda d: clean_lower(d.axis), rule_group=lambda d: clean_lower(d.rule_group),
        max_pos=lambda d: num(d.max_positive_points), max_neg=lambda d: num(d.max_negative_points))
    bands = seed["scoring_score_bands"].assign(
        axis=lambda d: clean_lower(d.axis), band=lambda d: clean(d.band).str.upper(),
        min_score=lambda d: num(d.min_score))
    domains = seed["map_email_domains"].assign(domain=lambda d: clean_lower(d.domain),
                                                domain_type=lambda d: clean_lower(d.domain_type))
    personal = set(domains.loc[domains.domain_type == "personal", "domain"])
    competitor = set(domains.loc[domains.domain_type == "competitor", "domain"])
    industries = dict(zip(clean_lower(seed["map_industries"].raw_label), clean_lower(seed["map_industries"].industry)))
    countries = seed["map_countries"].assign(raw_value=lambda d: clean_lower(d.raw_value),
                                             country_code=lambda d: clean(d.country_code).str.upper(),
                                             region=lambda d: clean_lower(d.region)).set_index("raw_value")
    titles = seed["map_job_titles"].assign(pattern=lambda d: clean_lower(d.pattern),
                                           dimension=lambda d: clean_lower(d.dimension),
                                           value=lambda d: clean_lower(d.value), priority=lambda d: num(d.priority))
    size_bands = seed["map_company_size_bands"].assign(band=lambda d: clean_lower(d.band),
                                                       min_employees=lambda d: num(d.min_employees))
    revenue_bands = seed["map_revenue_bands"].assign(band=lambda d: clean_lower(d.band),
                                                     min_revenue=lambda d: num(d.min_revenue_usd))
    event_types = set(clean_lower(seed["ref_event_types"].event_type))

    # ---- leads: the latest version of each lead id, unless deleted or not yet known at as_of
    raw = read(con, "select * from raw.leads")
    leads = pd.DataFrame({
        "lead_id": clean(raw.lead_id), "email": clean_lower(raw.email), "job_title": clean(raw.job_title),
        "company_domain_raw": clean_lower(raw.company_domain), "industry_raw": clean_lower(raw.industry),
        "employee_count_text": clean_lower(raw.employee_count.astype("object").map(
            lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))),
        "annual_revenue_raw": pd.to_numeric(raw.annual_revenue, errors="coerce"),
        "country_raw": clean_lower(raw.country), "city": clean_lower(raw.city),
        "lead_source": clean_lower(raw.lead_source), "budget": clean_lower(raw.budget),
        "authority": clean_lower(raw.authority), "need": clean_lower(raw.need), "timeline": clean_lower(raw.timeline),
        "created_at": pd.to_datetime(raw.created_at), "updated_at": pd.to_datetime(raw.updated_at),
        "loaded_at": pd.to_datetime(raw._loaded_at),
        "is_deleted": raw.is_deleted.astype("object").map(lambda v: None if v is None or pd.isna(v) else bool(v)),
        "content_hash": md5_joined(raw, LEAD_HASH_FIELDS),
    })
    leads = leads[leads.lead_id.notna()]
    leads = leads[~((leads.created_at > as_of_ts) | (leads.updated_at > as_of_ts))]
    leads = leads.assign(deleted_key=leads.is_deleted.map({True: 1.0, False: 0.0}))
    leads = leads.sort_values(["lead_id", "updated_at", "loaded_at", "deleted_key", "annual_revenue_raw", "content_hash"],
                              ascending=[True, False, False, False, False, True], na_position="last")
    leads = leads.drop_duplicates("lead_id", keep="first")
    leads = leads[leads.is_deleted.map(lambda v: v is not True)].reset_index(drop=True)

    # ---- normalised attributes
    valid = leads.email.str.fullmatch(EMAIL_RE, na=False).astype(bool)
    leads["email_domain"] = leads.email.where(valid).str.split("@").str[1]
    dom = leads.company_domain_raw.str.replace(r"^https?://", "", regex=True).str.replace(r"^www[.]", "", regex=True)
    dom = dom.str.replace(r"/.*$", "", regex=True)
    dom = dom.where(dom != "", None)
    derived = leads.email_domain.where(~leads.email_domain.isin(personal))
    leads["company_domain"] = dom.where(dom.notna(), derived)
    leads["email_type"] = np.select(
        [leads.email_domain.isin(competitor) | leads.company_domain.isin(competitor), leads.email_domain.isna(),
         leads.email_domain.isin(personal)], ["competitor", "invalid", "personal"], "business")
    text = leads.employee_count_text.str.replace(",", "").str.replace(" ", "")
    first_number = text.str.extract(r"^([0-9]+)(?:\+|-[0-9]+)?\Z", expand=False)
    employees = pd.to_numeric(first_number, errors="coerce")
    leads["employee_count"] = employees.where((employees >= 1) & (employees <= 10_000_000)).astype("Int64")
    rev = leads.annual_revenue_raw
    leads["annual_revenue"] = rev.where((rev >= 0) & (rev <= 1e12))
    leads["company_size_band"] = band_of(leads.employee_count, size_bands, "min_employees")
    leads["revenue_band"] = band_of(leads.annual_revenue, revenue_bands, "min_revenue")
    leads["industry"] = leads.industry_raw.map(lambda v: None if v is None else industries.get(v, "unmapped"))
    leads["country_code"] = leads.country_raw.map(countries.country_code)
    leads["region"] = leads.country_raw.map(countries.region)
    lowered_titles = leads.job_title.str.lower()
    for dimension in ("seniority", "job_function"):
        rows = titles[titles.dimension == dimension].sort_values(["priority", "value"])
        mapping = {}
        for title in lowered_titles.dropna().unique():
            hit = next((r.value for r in rows.itertuples() if re.fullmatch("(?s)" + like_regex(r.pattern), title)), None)
            mapping[title] = hit if hit is not None else "unmapped"
        leads[dimension] = lowered_titles.map(mapping)
    leads = leads.set_index("lead_id", drop=False)

    # ---- fit rules
    fit_rows = []
    for r in fit_rules.itertuples():
        v = as_text(leads[r.attribute]) if r.attribute in leads.columns and r.attribute in ATTRIBUTES else None
        if v is None:
            continue
        lower = v.str.lower() if v.notna().any() else v
        if r.operator == "equals":
            fired = lower == r.value
        elif r.operator == "one_of":
            fired = lower.isin([item.strip(" ") for item in r.value.split("|")])
        elif r.operator == "pattern":
            fired = like(lower, r.value)
        elif r.operator == "between":
            n = pd.to_numeric(v.str.strip(" ") if v.notna().any() else v, errors="coerce")
            fired = n.notna()
            if not pd.isna(r.min_value):
                fired &= n >= r.min_value
            if not pd.isna(r.max_value):
                fired &= n < r.max_value
        elif r.operator == "is_missing":
            fired = v.isna()
        elif r.operator == "is_present":
            fired = v.notna()
        else:
            continue
        fired = fired.fillna(False).astype(bool)
        hits = leads.index[fired]
        fit_rows.append(pd.DataFrame({"lead_id": hits, "axis": "fit", "rule_group": r.rule_group,
                                      "points": r.points, "disqualifies": r.disqualifies}))

    # ---- events: first delivery of each id, then the quarantine checks
    ev = read(con, "select event_id, lead_id, event_type, channel, occurred_at, page_url, search_term, _loaded_at "
                   "from raw.events")
    ev["event_id"] = clean(ev.event_id)
    ev = ev[ev.event_id.notna()]
    # deliveries of one id: the first by _loaded_at, occurred_at, then the md5 of the cleaned content; the content
    # (with properties, not loaded above) is fetched for the few ids delivered more than once
    repeated = ev.event_id.duplicated(keep=False)
    if repeated.any():
        con.register("peer_repeated_ids", pd.DataFrame({"event_id": ev.loc[repeated, "event_id"].unique()}))
        again = read(con, "select * from raw.events where trim(event_id) in (select event_id from peer_repeated_ids)")
        con.unregister("peer_repeated_ids")
        cleaners = {"clean": clean, "clean_lower": clean_lower}
        content = pd.DataFrame({field: cleaners[how](again[field]) for field, how in EVENT_HASH_FIELDS})
        again["content_hash"] = md5_joined(content, [field for field, _ in EVENT_HASH_FIELDS])
        again["event_id"] = clean(again.event_id)
        again = again.sort_values(["event_id", "_loaded_at", "occurred_at", "content_hash"], na_position="last")
        ev = pd.concat([ev[~repeated], again.drop_duplicates("event_id", keep="first")[ev.columns]], ignore_index=True)
    ev = pd.DataFrame({
        "lead_id": clean(ev.lead_id), "event_type": clean_lower(ev.event_type), "channel": clean_lower(ev.channel),
        "occurred_at": pd.to_datetime(ev.occurred_at), "page_url": clean_lower(ev.page_url),
        "search_term": clean_lower(ev.search_term),
    })
    ev = ev[ev.occurred_at.notna() & ev.event_type.isin(event_types) & ev.lead_id.isin(leads.index)
            & (ev.occurred_at <= as_of_ts)]
    ev["activity_date"] = ev.occurred_at.dt.normalize()
    ev["minute"] = ev.occurred_at.dt.floor("min")
    ev["age_days"] = (as_of_date - ev.activity_date).dt.days.astype(float)

    # ---- bursts: a lead's events in one calendar minute holding `threshold` or more of them
    burst_rule = signals[signals.signal == "burst"]
    per_minute = ev.groupby(["lead_id", "minute"])["event_type"].transform("size")
    if len(burst_rule):
        ev["is_burst"] = per_minute >= burst_rule.threshold.iloc[0]
    else:
        ev["is_burst"] = False

    # ---- engagement rules: daily buckets, decay, per-rule caps
    bucket_frames = []
    for r in eng_rules.itertuples():
        sub = ev[ev.event_type == r.event_type]
        if r.channel is not None:
            sub = sub[sub.channel == r.channel]
        if r.match_field in ("page_url", "search_term"):
            sub = sub[like(sub[r.match_field], r.pattern)]
        if r.points > 0:
            sub = sub[~sub.is_burst]
        if sub.empty:
            continue
        b = sub.groupby(["lead_id", "activity_date"]).agg(events=("age_days", "size"), age_days=("age_days", "first"))
        b = b.reset_index()
        b["rule_id"] = r.rule_id
        if r.decay_method == "exponential":
            factor = 0.5 ** (b.age_days / r.decay_days)
        elif r.decay_method == "linear":
            factor = (1.0 - b.age_days / r.decay_days).clip(lower=0.0)
        elif r.decay_method == "window":
            factor = (b.age_days < r.decay_days).astype(float)
        else:
            factor = 1.0
        b["points"] = r.points * b.events * factor
        bucket_frames.append(b)
    buckets = pd.concat(bucket_frames, ignore_index=True) if bucket_frames else pd.DataFrame(
        columns=["lead_id", "activity_date", "events", "age_days", "rule_id", "points"])
    per_rule = buckets.groupby(["lead_id", "rule_id"], as_index=False)["points"].sum()
    per_rule = per_rule.merge(eng_rules[["rule_id", "rule_group", "points", "max_points"]].rename(
        columns={"points": "rule_points"}), on="rule_id")
    capped = np.where(per_rule.rule_points > 0, np.minimum(per_rule.points, per_rule.max_points),
                      np.maximum(per_rule.points, -per_rule.max_points))
    per_rule["points"] = np.where(per_rule.max_points.isna(), per_rule.points, capped)
    per_rule = per_rule[per_rule.points != 0]
    eng_rows = per_rule.assign(axis="engagement", disqualifies=False)[["lead_id", "axis", "rule_group", "points",
                                                                        "disqualifies"]]

    # ---- signals
    positive_rules = set(eng_rules.loc[eng_rules.points > 0, "rule_id"])
    positive = buckets[buckets.rule_id.isin(positive_rules)]
    signal_rows = []
    for s in signals.itertuples():
        if s.signal == "inactivity":
            last = positive.groupby("lead_id").activity_date.max()
            day = leads.lead_id.map(last)
            day = day.where(day.notna(), leads.created_at.dt.normalize())
            day = day.where(day.notna(), leads.updated_at.dt.normalize())
            idle = (as_of_date - day).dt.days
            hits = leads.index[(idle >= s.threshold).fillna(False).astype(bool)]
        elif s.signal == "burst":
            recent = ev[ev.is_burst]
            if not pd.isna(s.window_days):
                recent = recent[recent.age_days < s.window_days]
            hits = pd.Index(recent.lead_id.unique())
        elif s.signal == "engaged_colleagues":
            recent = positive if pd.isna(s.window_days) else positive[positive.age_days < s.window_days]
            engaged = set(recent.lead_id)
            accounts = leads[leads.company_domain.notna() & ~leads.company_domain.isin(personal)]
            counts = accounts.lead_id.isin(engaged).groupby(accounts.company_domain).sum()
            researching = set(counts[counts >= s.threshold].index)
            hits = leads.index[leads.company_domain.isin(researching)]
        else:
            continue
        signal_rows.append(pd.DataFrame({"lead_id": hits, "axis": "engagement", "rule_group": s.rule_group,
                                         "points": s.points, "disqualifies": False}))

    # ---- group caps, axis caps, 0-100
    points = pd.concat(fit_rows + [eng_rows] + signal_rows, ignore_index=True)
    points["pos"] = points.points.clip(lower=0)
    points["neg"] = points.points.clip(upper=0)
    groups = points.groupby(["lead_id", "axis", "rule_group"], as_index=False)[["pos", "neg"]].sum()
    groups = groups.merge(caps[["axis", "rule_group", "max_pos", "max_neg"]], on=["axis", "rule_group"], how="left")
    groups["pos"] = np.where(groups.max_pos.isna(), groups.pos, np.minimum(groups.pos, groups.max_pos))
    groups["neg"] = np.where(groups.max_neg.isna(), groups.neg, np.maximum(groups.neg, -groups.max_neg))
    axes = groups.groupby(["lead_id", "axis"])[["pos", "neg"]].sum().unstack("axis")
    out = pd.DataFrame(index=leads.index)
    for axis, prefix in (("fit", "fit"), ("engagement", "engagement")):
        pos = axes[("pos", axis)].reindex(out.index).fillna(0.0) if ("pos", axis) in axes.columns else 0.0 * out.index.isna()
        neg = axes[("neg", axis)].reindex(out.index).fillna(0.0) if ("neg", axis) in axes.columns else 0.0 * out.index.isna()
        max_pos = num(pd.Series([model[f"{prefix}_max_positive_points"]])).iloc[0]
        max_neg = num(pd.Series([model[f"{prefix}_max_negative_points"]])).iloc[0]
        if not pd.isna(max_pos):
            pos = np.minimum(pos, max_pos)
        if not pd.isna(max_neg):
            neg = np.maximum(neg, -max_neg)
        out[f"{axis}_score"] = np.round(np.clip(pos + neg, 0.0, 100.0), 6)
    out["lead_id"] = out.index
    disqualified = set(points.loc[points.disqualifies.astype(bool), "lead_id"])
    out["has_disqualifier"] = out.lead_id.isin(disqualified)
    out["computed_grade"] = band_of(out.fit_score, bands[bands.axis == "fit"], "min_score")
    out["engagement_level"] = band_of(out.engagement_score, bands[bands.axis == "engagement"], "min_score")
    fit_weight = float(num(pd.Series([model.fit_weight])).iloc[0])
    engagement_weight = float(num(pd.Series([model.engagement_weight])).iloc[0])
    out["lead_score"] = fit_weight * out.fit_score + engagement_weight * out.engagement_score

    # ---- overrides: per lead and action, a lead-level one beats a domain-level one, then the smallest id
    ov = seed["scoring_overrides"].assign(
        override_id=lambda d: clean(d.override_id), model_id=lambda d: clean(d.model_id),
        lead_id=lambda d: clean(d.lead_id), company_domain=lambda d: clean_lower(d.company_domain),
        action=lambda d: clean_lower(d.action), value=lambda d: clean(d.value),
        valid_until=lambda d: pd.to_datetime(clean(d.valid_until), errors="coerce"))
    ov = ov[(ov.model_id.isna() | (ov.model_id == MODEL_ID)) & (ov.valid_until.isna() | (ov.valid_until >= as_of_date))]
    chosen = {}
    for action in ov.action.dropna().unique():
        best = pd.Series([None] * len(out), index=out.index, dtype="object")
        rank = pd.Series([None] * len(out), index=out.index, dtype="object")
        for o in ov[ov.action == action].itertuples():
            target = (leads.lead_id == o.lead_id) if o.lead_id is not None else (leads.company_domain == o.company_domain)
            key = f"{1 if o.lead_id is not None else 2}|{o.override_id}"
            better = target & rank.map(lambda k: k is None or key < k)
            value = o.value.upper() if action == "pin_grade" and o.value else (o.value.lower() if o.value else None)
            best[better] = value
            rank[better] = key
        chosen[action] = (best, rank.notna())
    out["fit_grade"] = out.computed_grade
    if "pin_grade" in chosen:
        out["fit_grade"] = chosen["pin_grade"][0].where(chosen["pin_grade"][1], out.computed_grade)
    out["matrix_cell"] = out.fit_grade.str.cat(out.engagement_level)

    # ---- lifecycle: the first rule (by priority) whose conditions all hold
    rules = seed["scoring_lifecycle_rules"].assign(priority=lambda d: num(d.priority)).sort_values("priority")
    stage = pd.Series([None] * len(out), index=out.index, dtype="object")
    for r in rules.itertuples():
        ok = stage.isna()
        req = clean_lower(pd.Series([r.requires_disqualifier])).iloc[0]
        if req in ("true", "false"):
            ok &= out.has_disqualifier == (req == "true")
        cells = clean(pd.Series([r.matrix_cells])).iloc[0]
        if cells is not None:
            ok &= out.matrix_cell.isin(cells.replace(" ", "").replace(",", "|").upper().split("|"))
        for column, score_column in (("min_lead_score", "lead_score"), ("min_fit_score", "fit_score"),
                                     ("min_engagement_score", "engagement_score")):
            threshold = num(pd.Series([getattr(r, column)])).iloc[0]
            if not pd.isna(threshold):
                ok &= out[score_column] >= threshold
        stage[ok] = clean_lower(pd.Series([r.stage])).iloc[0]
    if "pin_stage" in chosen:
        stage = chosen["pin_stage"][0].where(chosen["pin_stage"][1], stage)
    if "exclude" in chosen:
        stage = stage.where(~chosen["exclude"][1], "excluded")
    out["lifecycle_stage"] = stage
    return out[["lead_id", "fit_score", "fit_grade", "engagement_score", "engagement_level", "matrix_cell",
                "lead_score", "lifecycle_stage"]].reset_index(drop=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_pandas_peer", description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--table", default="bench.pandas_peer_scores")
    args = parser.parse_args(argv)
    schema, table = args.table.split(".")
    if not (re.fullmatch(r"[a-z_][a-z0-9_]*", schema) and re.fullmatch(r"[a-z_][a-z0-9_]*", table)):
        raise SystemExit(f"--table must be schema.table in plain lower-case identifiers, got {args.table!r}")
    started = time.perf_counter()
    con = duckdb.connect(args.database)
    try:
        con.execute("set TimeZone = 'UTC'")
        scores = score(con, args.as_of)
        con.register("peer_scores_df", scores)
        con.execute(f"create schema if not exists {schema}")
        con.execute(f"create or replace table {schema}.{table} as select * from peer_scores_df")
    finally:
        con.close()
    print(f"pandas peer: {len(scores)} leads scored in {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
