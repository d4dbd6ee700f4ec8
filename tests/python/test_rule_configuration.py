"""Bad rule seeds fail the build with a message naming the seed file, the row and the fix; hostile seed text is
inert; a fit rule on a custom raw column needs only a seed row."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from conftest import AS_OF, PROJECT_ROOT, assert_dbt_ok, copy_project, dbt_vars, query, run_dbt

INJECTION = "x'); drop table leads; --"
INJECTED_RULE_ID = "eng_x'); drop table raw.events; --"


def edit_seed(project: Path, seed: str, edit) -> None:
    """Rewrite seeds/<seed>.csv through `edit(rows) -> rows` (rows as dicts, header kept)."""
    path = project / "seeds" / f"{seed}.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames
        rows = list(reader)
    rows = edit(rows)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def set_field(rows, key_field, key, field, value):
    matched = [row for row in rows if row[key_field] == key]
    assert matched, f"{key} not in seed"
    for row in matched:
        row[field] = value
    return rows


@pytest.fixture(scope="module")
def small_raw_db(tmp_path_factory):
    from lead_scoring import datagen

    path = tmp_path_factory.mktemp("raw_small") / "small.duckdb"
    datagen.generate(database=str(path), leads=300, events_per_lead=10, days=120, seed=11, as_of=AS_OF)
    return path


@pytest.fixture
def project(tmp_path, small_raw_db):
    proj = tmp_path / "project"
    copy_project(PROJECT_ROOT, proj)
    shutil.copy2(small_raw_db, tmp_path / "wh.duckdb")
    return proj


def build(project: Path, *select: str):
    args = ["build", "--vars", dbt_vars(AS_OF)]
    if select:
        args += ["--select", *select]
    return run_dbt(project, project.parent / "wh.duckdb", *args,
                   target_path=project / "target", log_path=project / "logs")


BAD_SEEDS = [
    pytest.param(
        "scoring_fit_rules", "stg_rules__fit_rules",
        lambda rows: rows + [dict(rows[0])],
        [f"seeds/scoring_fit_rules.csv", "fit_industry_software", "more than once", "Fix:"],
        id="duplicate-rule-id",
    ),
    pytest.param(
        "scoring_engagement_rules", "stg_rules__engagement_rules",
        lambda rows: set_field(rows, "rule_id", "eng_email_open", "points", "ten"),
        ["seeds/scoring_engagement_rules.csv", "rule_id = eng_email_open", "points is 'ten'", "Fix: put a number"],
        id="non-numeric-points",
    ),
    pytest.param(
        "scoring_fit_rules", "stg_rules__fit_rules",
        lambda rows: set_field(rows, "rule_id", "fit_region_apac", "attribute", "favourite_colour"),
        ["seeds/scoring_fit_rules.csv", "rule_id = fit_region_apac", "attribute is 'favourite_colour'", "Fix: use one of"],
        id="unknown-attribute",
    ),
    pytest.param(
        "scoring_fit_rules", "stg_rules__fit_rules",
        lambda rows: set_field(rows, "rule_id", "fit_region_apac", "operator", "contains"),
        ["seeds/scoring_fit_rules.csv", "rule_id = fit_region_apac", "operator is 'contains'", "one_of"],
        id="unknown-operator",
    ),
    pytest.param(
        "scoring_score_bands", "stg_rules__score_bands",
        lambda rows: [dict(r, min_score="80") if (r["axis"], r["band"]) == ("fit", "B") else r for r in rows],
        ["seeds/scoring_score_bands.csv", "band = A", "out of order", "Fix:"],
        id="bands-out-of-order",
    ),
    pytest.param(
        "scoring_engagement_rules", "stg_rules__engagement_rules",
        lambda rows: set_field(rows, "rule_id", "eng_email_click", "decay_days", "-5"),
        ["seeds/scoring_engagement_rules.csv", "rule_id = eng_email_click", "decay_days", "greater than 0"],
        id="negative-half-life",
    ),
    pytest.param(
        "scoring_engagement_rules", "stg_rules__engagement_rules",
        lambda rows: set_field(rows, "rule_id", "eng_sms_click", "event_type", "fax_received"),
        ["seeds/scoring_engagement_rules.csv", "rule_id = eng_sms_click", "fax_received", "ref_event_types.csv"],
        id="unknown-event-type",
    ),
    pytest.param(
        "scoring_lifecycle_rules", "stg_rules__lifecycle_rules",
        lambda rows: [r for r in rows if r["stage"] != "nurture"],
        ["seeds/scoring_lifecycle_rules.csv", "model_id = default", "catch-all"],
        id="no-catch-all-stage",
    ),
    pytest.param(
        "scoring_models", "stg_rules__scoring_models",
        lambda rows: set_field(rows, "model_id", "default", "fit_weight", "0.7"),
        ["seeds/scoring_models.csv", "model_id = default", "add up to 1"],
        id="weights-not-summing-to-one",
    ),
]


@pytest.mark.parametrize("seed, model, edit, expected", BAD_SEEDS)
def test_bad_seed_fails_build_with_a_message_naming_seed_row_and_fix(project, seed, model, edit, expected):
    db = project.parent / "wh.duckdb"
    raw_before = _raw_fingerprint(db)
    edit_seed(project, seed, edit)
    proc = build(project, f"+{model}")
    assert proc.returncode != 0, "the build should fail on a bad seed"
    output = proc.stdout + proc.stderr
    for fragment in expected:
        assert fragment in output, f"{fragment!r} not in the build output:\n{output[-3000:]}"
    # ... and it did nothing else: the validating model was not created, and the raw tables are as they were
    assert not query(db, "select 1 from information_schema.tables where table_name = ?", [model])
    assert _raw_fingerprint(db) == raw_before


def test_more_bad_seed_variants_fail_one_build_each_with_its_message(project):
    """Four more variants, fed together to save three builds: each validating model lists every bad row of its
    seed in one message. A zero half-life and injection text as rule_id and points (the message echoes the text
    verbatim); equal fit cut-offs and engagement levels out of order."""
    db = project.parent / "wh.duckdb"
    raw_before = _raw_fingerprint(db)
    edit_seed(project, "scoring_engagement_rules", lambda rows: [
        dict(r, decay_days="0") if r["rule_id"] == "eng_email_click"
        else dict(r, rule_id=INJECTION, points=INJECTION) if r["rule_id"] == "eng_email_open"
        else r for r in rows])
    edit_seed(project, "scoring_score_bands", lambda rows: [
        dict(r, min_score="75") if (r["model_id"], r["axis"], r["band"]) == ("default", "fit", "B")
        else dict(r, min_score="70") if (r["model_id"], r["axis"], r["band"]) == ("default", "engagement", "2")
        else r for r in rows])
    proc = build(project, "+stg_rules__engagement_rules", "+stg_rules__score_bands")
    assert proc.returncode != 0, "the build should fail on bad seeds"
    output = proc.stdout + proc.stderr
    expected = [
        "Invalid scoring configuration in seeds/scoring_engagement_rules.csv (2 problem(s))",
        # zero half-life
        "seeds/scoring_engagement_rules.csv, row model_id = default, rule_id = eng_email_click: decay_method "
        "exponential needs decay_days above 0, and it is '0'.",
        # injection text, echoed verbatim (row reference and value)
        f"seeds/scoring_engagement_rules.csv, row model_id = default, rule_id = {INJECTION}: points is '{INJECTION}', "
        "which is blank or not a number.",
        "Invalid scoring configuration in seeds/scoring_score_bands.csv (2 problem(s))",
        # equal cut-offs: A's 75 is not above B's 75
        "row model_id = default, axis = fit, band = A: min_score 75",
        # engagement levels out of order: level 1's 60 is not above level 2's 70
        "row model_id = default, axis = engagement, band = 1: min_score 60",
    ]
    for fragment in expected:
        assert fragment in output, f"{fragment!r} not in the build output:\n{output[-4000:]}"
    lines = [line for line in output.splitlines() if "is not above the next band's" in line]
    assert len([line for line in lines if "band = A:" in line and "overlap" in line]) >= 1, lines
    assert len([line for line in lines if "band = 1:" in line]) >= 1, lines
    # ... and the build did nothing else: neither model was created, the raw tables are as they were
    for model in ("stg_rules__engagement_rules", "stg_rules__score_bands"):
        assert not query(db, "select 1 from information_schema.tables where table_name = ?", [model])
    assert _raw_fingerprint(db) == raw_before


def _raw_fingerprint(db: Path):
    """Row count and an order-independent content hash of each raw table."""
    return {table: query(db, f"select count(*) as n, sum(hash(t)) as h from raw.{table} as t")[0]
            for table in ("leads", "events", "opportunities")}


def _plant_injected_lead(db: Path) -> str:
    """Give one lead with a single, live version the injection text as industry and inside its job title, and a
    page view whose URL holds it; returns its lead_id."""
    import duckdb

    con = duckdb.connect(str(db))
    try:
        lead_id = con.execute(f"""
            select lead_id from raw.leads
            group by lead_id
            having count(*) = 1 and not bool_or(coalesce(is_deleted, false))
                and max(greatest(created_at, updated_at)) < timestamp '{AS_OF}'
            order by lead_id limit 1""").fetchone()[0]
        con.execute("update raw.leads set industry = ?, job_title = ? where lead_id = ?",
                    [INJECTION, f"Head of {INJECTION}", lead_id])
        con.execute("insert into raw.events (event_id, lead_id, event_type, channel, occurred_at, page_url, _loaded_at) "
                    f"values ('injected_1', ?, 'page_view', 'website', timestamp '{AS_OF}' - interval 1 day, ?, "
                    f"timestamp '{AS_OF}' - interval 1 day)", [lead_id, f"/blog/{INJECTION}"])
    finally:
        con.close()
    return lead_id


def test_injection_text_in_seeds_is_inert_and_custom_columns_are_scorable(project):
    def add_rules(rows):
        template = dict(rows[0])
        injected = dict(template, rule_id="fit_injection", attribute="industry", operator="equals",
                        value=INJECTION, points="7", description=INJECTION)
        custom = dict(template, rule_id="fit_custom_segment", rule_group="custom", attribute="crm_segment",
                      operator="equals", value="strategic", points="3", description="Strategic CRM segment")
        return rows + [injected, custom]

    edit_seed(project, "scoring_fit_rules", add_rules)
    edit_seed(project, "scoring_overrides", lambda rows: rows + [dict(
        override_id=INJECTION, model_id="", lead_id=INJECTION, company_domain="", action="exclude", value="",
        reason=INJECTION, valid_until="")])
    # injection text as a rule_id, inside LIKE patterns (an engagement rule, a job title) and as a dictionary label
    edit_seed(project, "scoring_engagement_rules", lambda rows: rows + [dict(
        rows[0], rule_id=INJECTED_RULE_ID, rule_group="web", event_type="page_view", match_field="page_url",
        pattern=f"%{INJECTION}%", points="4", decay_method="none", decay_days="", max_points="",
        description=INJECTION)])
    edit_seed(project, "map_job_titles", lambda rows: rows + [dict(
        pattern=f"%{INJECTION}%", dimension="seniority", value="vp", priority="0")])
    edit_seed(project, "map_industries", lambda rows: rows + [dict(raw_label=INJECTION, industry="software")])
    db = project.parent / "wh.duckdb"
    target = _plant_injected_lead(db)
    assert_dbt_ok(build(project))

    # The raw table the injection text names is untouched.
    raw_before = query(db, "select count(*) as n from raw.leads")[0]["n"]
    assert raw_before > 0
    # The injected rule exists as data and never fires (no industry equals that text).
    rules = query(db, "select rule_id, rule_value from staging.stg_rules__fit_rules where rule_id = 'fit_injection'")
    assert rules == [{"rule_id": "fit_injection", "rule_value": INJECTION}]
    fired = query(db, "select count(*) as n from marts.lead_score_reasons where rule_id = 'fit_injection'")[0]["n"]
    assert fired == 0

    # The injected patterns and label are data: they map and match exactly the raw text that holds them.
    assert query(db, "select rule_id, match_pattern from staging.stg_rules__engagement_rules "
                     "where rule_description = ?", [INJECTION]) == [
        {"rule_id": INJECTED_RULE_ID, "match_pattern": f"%{INJECTION}%"}]
    staged = query(db, "select industry, seniority from staging.stg_crm__leads where lead_id = ?", [target])
    assert staged == [{"industry": "software", "seniority": "vp"}]
    fired_injected = query(db, "select lead_id, points from marts.lead_score_reasons where rule_id = ?",
                           [INJECTED_RULE_ID])
    assert fired_injected == [{"lead_id": target, "points": 4.0}]
    assert query(db, "select count(*) as n from raw.events")[0]["n"] > 0
    recon = query(db, "select source_table, is_reconciled from marts.pipeline_reconciliation")
    assert len(recon) == 3 and all(r["is_reconciled"] for r in recon), recon

    # The custom CRM column is scored through a seed row alone: exactly the strategic leads get the rule.
    strategic = {r["lead_id"] for r in query(
        db, "select lead_id from staging.stg_crm__leads where lower(crm_segment) = 'strategic'")}
    scored = {r["lead_id"] for r in query(
        db, "select lead_id from marts.lead_score_reasons where rule_id = 'fit_custom_segment'")}
    assert strategic, "the generated data should have strategic leads"
    assert scored == strategic


def test_a_second_scoring_model_scores_every_lead_side_by_side(project):
    """Every rule belongs to a model: a copy of the default rules as model `product_b`, with one weight changed,
    gives a second row per lead, equal to the default where that rule did not fire."""
    def copy_rows(rows, change=None):
        extra = []
        for row in rows:
            if row.get("model_id") == "default":
                new = dict(row, model_id="product_b")
                if change:
                    new = change(new)
                extra.append(new)
        return rows + extra

    edit_seed(project, "scoring_models", lambda rows: copy_rows(rows, lambda r: dict(r, model_name="Product B")))
    for seed in ("scoring_engagement_rules", "scoring_signal_rules", "scoring_group_caps",
                 "scoring_score_bands", "scoring_lifecycle_rules", "routing_rules"):
        edit_seed(project, seed, copy_rows)
    edit_seed(project, "scoring_fit_rules", lambda rows: copy_rows(
        rows, lambda r: dict(r, points="-7") if r["rule_id"] == "fit_region_core" else r))
    assert_dbt_ok(build(project))
    db = project.parent / "wh.duckdb"

    counts = query(db, """
        select count(*) as n_rows, count(distinct lead_id) as n_leads, count(distinct model_id) as n_models
        from marts.lead_scores""")[0]
    assert counts["n_models"] == 2 and counts["n_rows"] == 2 * counts["n_leads"]
    # Each model's MQLs are routed by that model's routing rules: one assignment per MQL.
    routed = query(db, """
        select s.model_id, count(*) as mqls, count(a.lead_id) as assigned
        from marts.lead_scores as s
        left join marts.lead_assignments as a on s.model_id = a.model_id and s.lead_id = a.lead_id
        where s.is_mql
        group by s.model_id""")
    assert {r["model_id"] for r in routed} == {"default", "product_b"}
    assert all(r["mqls"] == r["assigned"] > 0 for r in routed), routed

    pairs = query(db, """
        select
            a.lead_id,
            a.fit_score as default_fit, b.fit_score as product_b_fit,
            a.engagement_score as default_engagement, b.engagement_score as product_b_engagement,
            exists (
                select 1 from marts.lead_score_reasons as r
                where r.model_id = 'default' and r.lead_id = a.lead_id and r.rule_id = 'fit_region_core'
            ) as region_rule_fired
        from marts.lead_scores as a
        inner join marts.lead_scores as b
            on a.lead_id = b.lead_id and a.model_id = 'default' and b.model_id = 'product_b'""")
    assert pairs
    for pair in pairs:
        assert pair["default_engagement"] == pytest.approx(pair["product_b_engagement"], abs=1e-9)
        if not pair["region_rule_fired"]:
            assert pair["default_fit"] == pytest.approx(pair["product_b_fit"], abs=1e-9), pair
    fired = [p for p in pairs if p["region_rule_fired"]]
    assert fired, "the generated data should have leads in core regions"
    # +8 became -7: fit drops by 15 points unless the 0-100 bounds or caps absorb part of it.
    assert all(p["product_b_fit"] <= p["default_fit"] for p in fired)
    assert sum(p["product_b_fit"] < p["default_fit"] for p in fired) > len(fired) / 2
