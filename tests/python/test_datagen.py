"""lead_scoring.datagen: deterministic, contract-shaped, realistically faulty raw data (no dbt needed)."""
from __future__ import annotations

import csv
import subprocess
import sys

import duckdb
import pytest

from conftest import PROJECT_ROOT, SEEDS_DIR
from lead_scoring import datagen

AS_OF = "2026-11-01 00:00:00"
AS_OF_SQL = f"TIMESTAMP '{AS_OF}'"
SMALL = dict(leads=1200, events_per_lead=8, days=180, as_of=AS_OF)
FAULT_ARGS = dict(leads=3000, events_per_lead=20, days=180, seed=11, as_of=AS_OF)
EXPECTED_TYPES = {
    "leads": {
        **{c: "VARCHAR" for c in (
            "lead_id", "email", "first_name", "last_name", "job_title", "company_name", "company_domain",
            "industry", "employee_count", "country", "city", "lead_source", "budget", "authority", "need",
            "timeline", "crm_segment")},
        "annual_revenue": "DOUBLE", "created_at": "TIMESTAMP", "updated_at": "TIMESTAMP",
        "is_deleted": "BOOLEAN", "_loaded_at": "TIMESTAMP",
    },
    "events": {
        **{c: "VARCHAR" for c in (
            "event_id", "lead_id", "event_type", "channel", "page_url", "search_term", "properties")},
        "occurred_at": "TIMESTAMP", "_loaded_at": "TIMESTAMP",
    },
    "opportunities": {
        "opportunity_id": "VARCHAR", "lead_id": "VARCHAR", "created_at": "TIMESTAMP", "stage": "VARCHAR",
        "is_won": "BOOLEAN", "closed_at": "TIMESTAMP", "amount": "DOUBLE", "_loaded_at": "TIMESTAMP",
    },
}


def _rows(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _one(db, sql):
    return _rows(db, sql)[0][0]


def _table_dump(db, table):
    return _rows(db, f"SELECT * FROM raw.{table} ORDER BY ALL")


def _seed(name):
    with open(SEEDS_DIR / f"{name}.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def faulty_db(tmp_path_factory):
    """One 3,000-lead generation, with the latent traits kept in schema dg_latent."""
    db = tmp_path_factory.mktemp("datagen") / "faults.duckdb"
    counts = datagen.generate(database=str(db), latent_schema="dg_latent", **FAULT_ARGS)
    return db, counts


# --------------------------------------------------------------------------------------------------
# (a) determinism
# --------------------------------------------------------------------------------------------------
def test_same_arguments_give_identical_tables_and_other_seed_differs(tmp_path):
    a, b, c = tmp_path / "a.duckdb", tmp_path / "b.duckdb", tmp_path / "c.duckdb"
    counts_a = datagen.generate(database=str(a), seed=42, **SMALL)
    counts_b = datagen.generate(database=str(b), seed=42, **SMALL)
    counts_c = datagen.generate(database=str(c), seed=43, **SMALL)
    assert counts_a == counts_b
    for table in datagen.TABLES:
        assert counts_a[table] > 0
        assert _table_dump(a, table) == _table_dump(b, table), f"raw.{table} differs between identical runs"
    assert _table_dump(a, "leads") != _table_dump(c, "leads")
    assert _table_dump(a, "events") != _table_dump(c, "events")
    assert counts_c != counts_a  # row counts depend on the seed too


def test_rerun_replaces_tables_and_as_of_drives_the_clock(tmp_path):
    db = tmp_path / "wh.duckdb"
    first = datagen.generate(database=str(db), seed=5, **SMALL)
    again = datagen.generate(database=str(db), seed=5, **SMALL)
    assert first == again
    assert _one(db, "SELECT count(*) FROM raw.leads") == first["leads"]  # replaced, not appended
    # a different as_of shifts every timestamp, wall clock never used
    other = dict(SMALL, as_of="2024-01-15T12:00:00")
    datagen.generate(database=str(db), seed=5, **other)
    max_loaded = _one(db, "SELECT max(_loaded_at) FROM raw.leads")
    assert str(max_loaded) <= "2024-01-15 12:00:00"
    assert str(_one(db, "SELECT min(created_at) FROM raw.leads")) >= "2023-07-19"  # within `days` (180)


def test_cli_prints_one_summary_line(tmp_path):
    db = tmp_path / "cli.duckdb"
    proc = subprocess.run(
        [sys.executable, "-m", "lead_scoring.datagen", "--database", str(db), "--leads", "300",
         "--events-per-lead", "5", "--seed", "3", "--as-of", AS_OF],
        cwd=str(PROJECT_ROOT), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and "raw.leads=" in lines[0] and "raw.events=" in lines[0]
    assert proc.stderr == ""
    assert _one(db, "SELECT count(DISTINCT lead_id) FROM raw.leads") == 300


# --------------------------------------------------------------------------------------------------
# (b) the contract
# --------------------------------------------------------------------------------------------------
def test_contract_columns_and_types(faulty_db):
    db, counts = faulty_db
    for table, expected in EXPECTED_TYPES.items():
        rows = _rows(db, "SELECT column_name, data_type FROM information_schema.columns "
                         f"WHERE table_schema = 'raw' AND table_name = '{table}' ORDER BY ordinal_position")
        assert dict(rows) == expected, table
        assert [c for c, _ in rows] == [c for c, _ in datagen.TABLES[table]]
    assert set(counts) == {"leads", "events", "opportunities"}
    # the raw schema holds only the three tables; the latent traits live elsewhere
    tables = {r[0] for r in _rows(db, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'")}
    assert tables == {"leads", "events", "opportunities"}


def test_properties_are_json_text_with_a_few_malformed(faulty_db):
    db, _ = faulty_db
    total, bad, with_ua = _rows(db, """
        SELECT count(properties), count(*) FILTER (WHERE properties IS NOT NULL AND try(json(properties)) IS NULL),
               count(*) FILTER (WHERE try(json_extract_string(properties, '$.user_agent')) IS NOT NULL)
        FROM raw.events""")[0]
    assert 0.001 < bad / total < 0.02
    assert with_ua > total * 0.3
    statuses = _rows(db, """
        SELECT DISTINCT json_extract_string(properties, '$.status') IS NOT NULL
                        AND json_extract_string(properties, '$.owner') IS NOT NULL
        FROM raw.events WHERE event_type = 'status_change' AND try(json(properties)) IS NOT NULL""")
    assert statuses == [(True,)]


# --------------------------------------------------------------------------------------------------
# (c) the fault classes
# --------------------------------------------------------------------------------------------------
FAULT_CHECKS = {
    # name: (SQL giving a count, minimum)
    "re-delivered events (same id, identical content, later _loaded_at)": ("""
        SELECT count(*) FROM (
            SELECT event_id FROM raw.events WHERE event_id IS NOT NULL GROUP BY event_id
            HAVING count(*) > 1
               AND count(DISTINCT (lead_id, event_type, channel, occurred_at, page_url, search_term, properties)) = 1
               AND count(DISTINCT _loaded_at) = count(*))""", 300),
    "anonymous events": ("SELECT count(*) FROM raw.events WHERE lead_id IS NULL", 200),
    "orphan events": ("""SELECT count(*) FROM raw.events e WHERE lead_id IS NOT NULL
                         AND NOT EXISTS (SELECT 1 FROM raw.leads l WHERE l.lead_id = e.lead_id)""", 100),
    "unknown event types": ("""SELECT count(*) FROM raw.events WHERE event_type NOT IN (
                               SELECT event_type FROM read_csv('{seeds}/ref_event_types.csv', header = true))""", 100),
    "future events": (f"SELECT count(*) FROM raw.events WHERE occurred_at > {AS_OF_SQL}", 30),
    "null occurred_at": ("SELECT count(*) FROM raw.events WHERE occurred_at IS NULL", 30),
    "late arrivals": ("SELECT count(*) FROM raw.events WHERE _loaded_at > occurred_at + INTERVAL 1 DAY", 300),
    "events before the lead existed": ("""
        SELECT count(*) FROM raw.events e JOIN (SELECT lead_id, min(created_at) AS c FROM raw.leads GROUP BY 1) l
        USING (lead_id) WHERE e.occurred_at < l.c""", 100),
    "bot bursts (40+ page views in one calendar minute)": ("""
        SELECT count(DISTINCT lead_id) FROM (
            SELECT lead_id FROM raw.events WHERE event_type = 'page_view' AND lead_id IS NOT NULL
            GROUP BY lead_id, date_trunc('minute', occurred_at) HAVING count(*) >= 40)""", 5),
    "multi-version leads": ("""SELECT count(*) FROM (SELECT lead_id FROM raw.leads WHERE lead_id IS NOT NULL
                               GROUP BY 1 HAVING count(*) > 1)""", 150),
    "leads with 3 versions": ("""SELECT count(*) FROM (SELECT lead_id FROM raw.leads WHERE lead_id IS NOT NULL
                                 GROUP BY 1 HAVING count(*) = 3)""", 30),
    "changed title between versions": ("""SELECT count(*) FROM (SELECT lead_id FROM raw.leads WHERE lead_id IS NOT NULL
                                          GROUP BY 1 HAVING count(DISTINCT job_title) > 1)""", 30),
    "exact ties on updated_at and _loaded_at": ("""
        SELECT count(*) FROM (SELECT lead_id FROM raw.leads WHERE lead_id IS NOT NULL
                              GROUP BY lead_id, updated_at, _loaded_at HAVING count(*) > 1)""", 3),
    "soft-deleted latest version": ("""
        SELECT count(*) FROM (
            SELECT lead_id, bool_or(is_deleted) FILTER (WHERE updated_at = max_upd) AS deleted
            FROM (SELECT *, max(updated_at) OVER (PARTITION BY lead_id) AS max_upd FROM raw.leads
                  WHERE lead_id IS NOT NULL)
            GROUP BY lead_id) WHERE deleted""", 30),
    "null lead_id rows": ("SELECT count(*) FROM raw.leads WHERE lead_id IS NULL", 5),
    "created_at in the future": (f"SELECT count(*) FROM raw.leads WHERE created_at > {AS_OF_SQL}", 1),
    "updated_at before created_at": ("SELECT count(*) FROM raw.leads WHERE updated_at < created_at", 1),
    "10,000-character company name": ("SELECT count(*) FROM raw.leads WHERE length(company_name) = 10000", 1),
    "emoji": ("SELECT count(*) FROM raw.leads WHERE company_name LIKE '%🚀%'", 1),
    "SQL injection first name": ("SELECT count(*) FROM raw.leads WHERE first_name = 'x''); drop table leads; --'", 1),
    "padded upper-case valid emails": ("""SELECT count(*) FROM raw.leads WHERE email <> trim(email)
                                          AND regexp_matches(lower(trim(email)), '^[a-z0-9._%+-]+@[a-z0-9-]+(\\.[a-z0-9-]+)*\\.[a-z]{{2,}}$')
                                          AND lower(email) <> email""", 20),
    "invalid emails": ("""SELECT count(*) FROM raw.leads WHERE email IS NOT NULL AND NOT regexp_matches(lower(trim(email)),
                          '^[a-z0-9._%+-]+@[a-z0-9-]+(\\.[a-z0-9-]+)*\\.[a-z]{{2,}}$')""", 20),
    "competitor emails": ("""SELECT count(*) FROM raw.leads WHERE split_part(email, '@', 2) IN (
                             SELECT domain FROM read_csv('{seeds}/map_email_domains.csv', header = true)
                             WHERE domain_type = 'competitor')""", 5),
    "example.com test leads": ("SELECT count(*) FROM raw.leads WHERE email LIKE '%@example.com'", 1),
    "acme-partner.com leads": ("SELECT count(DISTINCT lead_id) FROM raw.leads WHERE email LIKE '%@acme-partner.com'", 2),
    "company_domain as a URL": ("SELECT count(*) FROM raw.leads WHERE company_domain LIKE 'http%/%'", 20),
    "garbage employee counts": ("SELECT count(*) FROM raw.leads WHERE employee_count IN ('lots', '-5', 'n/a', 'unknown')", 5),
    "absurd or negative revenue": ("SELECT count(*) FROM raw.leads WHERE annual_revenue < 0 OR annual_revenue > 1e12", 10),
    "opportunities": ("SELECT count(*) FROM raw.opportunities", 50),
}


@pytest.mark.parametrize("name", list(FAULT_CHECKS))
def test_fault_class_present(faulty_db, name):
    db, _ = faulty_db
    sql, minimum = FAULT_CHECKS[name]
    n = _one(db, sql.format(seeds=SEEDS_DIR.as_posix()))
    assert n >= minimum, f"{name}: {n} < {minimum}"


def test_fault_rates_stay_small(faulty_db):
    """Faults are the exception: the bulk of the data is usable."""
    db, counts = faulty_db
    events = counts["events"]
    assert _one(db, "SELECT count(*) FROM raw.events WHERE lead_id IS NULL") < 0.03 * events
    assert _one(db, f"SELECT count(*) FROM raw.events WHERE occurred_at > {AS_OF_SQL}") < 0.01 * events
    assert _one(db, "SELECT count(*) - count(DISTINCT event_id) FROM raw.events") < 0.04 * events
    bad_opps = _one(db, """SELECT count(*) FROM raw.opportunities o WHERE amount <= 0
                           OR NOT EXISTS (SELECT 1 FROM raw.leads l WHERE l.lead_id = o.lead_id)""")
    assert bad_opps <= max(2, 0.01 * counts["opportunities"])
    # events per lead: mean close to --events-per-lead, heavy-tailed
    mean, median, p99 = _rows(db, """SELECT avg(n), median(n), quantile_cont(n, 0.99) FROM (
        SELECT lead_id, count(*) AS n FROM raw.events WHERE event_id NOT LIKE 'evb_%' AND lead_id LIKE 'L%'
        GROUP BY 1)""")[0]
    assert 15 <= mean <= 25
    assert median < mean and p99 > 4 * mean
    # opportunities: is_won consistent with stage, closed_at null while open
    assert _rows(db, """SELECT DISTINCT stage, is_won, closed_at IS NULL FROM raw.opportunities ORDER BY 1""") == [
        ("lost", False, False), ("open", False, True), ("sql", False, True), ("won", True, False)]


# --------------------------------------------------------------------------------------------------
# Realism: the dictionaries in seeds/ map most values, a few stay unmapped
# --------------------------------------------------------------------------------------------------
def test_vocabularies_match_the_seed_dictionaries():
    industries = {r["raw_label"]: r["industry"] for r in _seed("map_industries")}
    for key, _w, _fit, *labels in datagen.INDUSTRIES:
        for label in (x for group in labels for x in group):
            assert industries.get(label.lower()) == key, f"industry label {label!r} does not map to {key}"
    for label in datagen.UNMAPPED_INDUSTRIES:
        assert label.lower() not in industries
    countries = {r["raw_value"]: r["country_code"] for r in _seed("map_countries")}
    for code, _w, labels, _cities, _lang in datagen.COUNTRIES:
        for label in labels:
            if code == "PL":
                assert label.lower() not in countries  # a real country the dictionary lacks, on purpose
            else:
                assert countries.get(label.lower()) == code, f"country label {label!r}"
    personal = {r["domain"] for r in _seed("map_email_domains") if r["domain_type"] == "personal"}
    competitors = {r["domain"] for r in _seed("map_email_domains") if r["domain_type"] == "competitor"}
    assert {d for group in datagen.PERSONAL_DOMAINS.values() for d in group} <= personal
    assert {d for d, _ in datagen.COMPETITORS} <= competitors
    sources = {s for s, _w, _q in datagen.LEAD_SOURCES}
    assert sources == {"organic_search", "paid_search", "webinar", "event", "referral", "content_syndication",
                       "social", "email", "partner"}


def test_most_labels_map_and_a_few_do_not(faulty_db):
    db, _ = faulty_db
    seeds = SEEDS_DIR.as_posix()

    def shares(column, seed, key):
        mapped, unmapped, missing = _rows(db, f"""
            SELECT count(*) FILTER (WHERE m.{key} IS NOT NULL),
                   count(*) FILTER (WHERE m.{key} IS NULL AND nullif(trim(l.{column}), '') IS NOT NULL),
                   count(*) FILTER (WHERE nullif(trim(l.{column}), '') IS NULL)
            FROM raw.leads l LEFT JOIN read_csv('{seeds}/{seed}.csv', header = true, all_varchar = true) m
              ON lower(trim(l.{column})) = m.{key}""")[0]
        total = mapped + unmapped + missing
        return mapped / total, unmapped / total, missing / total

    mapped, unmapped, missing = shares("industry", "map_industries", "raw_label")
    assert mapped > 0.8 and 0.01 < unmapped < 0.06 and 0.02 < missing < 0.15
    mapped, unmapped, missing = shares("country", "map_countries", "raw_value")
    assert mapped > 0.85 and 0.01 < unmapped < 0.06 and 0.01 < missing < 0.08
    # job titles: most match a seniority pattern (SQL LIKE, lower-cased), a few match none
    matched, unmatched = _rows(db, f"""
        WITH t AS (SELECT lower(trim(job_title)) AS title FROM raw.leads WHERE nullif(trim(job_title), '') IS NOT NULL),
             p AS (SELECT pattern FROM read_csv('{seeds}/map_job_titles.csv', header = true, all_varchar = true)
                   WHERE dimension = 'seniority')
        SELECT count(*) FILTER (WHERE EXISTS (SELECT 1 FROM p WHERE t.title LIKE p.pattern)),
               count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM p WHERE t.title LIKE p.pattern))
        FROM t""")[0]
    assert matched / (matched + unmatched) > 0.85 and unmatched > 10
    languages = _one(db, """SELECT count(*) FROM raw.leads WHERE job_title IN ('市场总监', '销售经理', '首席执行官')
                            OR job_title LIKE '%Leiter%' OR job_title LIKE '%Geschäftsführer%'""")
    assert languages > 20
    # accounts: several leads share a company domain; some accounts have 3+ leads
    big_accounts = _one(db, """SELECT count(*) FROM (SELECT lower(trim(company_domain)) FROM raw.leads
                               WHERE nullif(trim(company_domain), '') IS NOT NULL GROUP BY 1
                               HAVING count(DISTINCT lead_id) >= 3)""")
    assert big_accounts >= 50
    segments = {r[0] for r in _rows(db, "SELECT DISTINCT crm_segment FROM raw.leads")}
    assert segments == {"strategic", "growth", "standard", None}


def test_event_vocabulary(faulty_db):
    db, _ = faulty_db
    by_type = dict(_rows(db, "SELECT event_type, count(*) FROM raw.events GROUP BY 1"))
    assert max(by_type, key=by_type.get) == "page_view"
    assert by_type["email_open"] > 10 * by_type.get("demo_request", 0) > 0
    for t in ("trial_signup", "webinar_attend", "site_search", "wechat_menu_click", "mini_program_open",
              "sms_click", "sales_call", "sales_email", "meeting_held", "status_change", "unsubscribe"):
        assert by_type.get(t, 0) > 0, t
    # channel consistent with type
    pairs = set(_rows(db, "SELECT DISTINCT event_type, channel FROM raw.events"))
    assert ("email_open", "email") in pairs and ("wechat_menu_click", "wechat") in pairs
    assert not {p for p in pairs if p[0].startswith("email_") and p[1] != "email"}
    urls = _one(db, """SELECT count(DISTINCT regexp_extract(page_url, '/(pricing|careers|jobs|product|resources|blog|cn/jiage)'))
                       FROM raw.events WHERE event_type = 'page_view'""")
    assert urls >= 7
    terms = {r[0] for r in _rows(db, "SELECT DISTINCT search_term FROM raw.events WHERE event_type = 'site_search'")}
    assert {"price", "pricing", "address", "报价", "价格", "地址"} <= terms


# --------------------------------------------------------------------------------------------------
# (d) outcomes follow the latent quality
# --------------------------------------------------------------------------------------------------
def test_better_leads_convert_more(faulty_db):
    db, _ = faulty_db
    rows = _rows(db, """
        WITH l AS (SELECT lead_id, ntile(3) OVER (ORDER BY quality, lead_id) AS third FROM dg_latent.lead_latent),
             o AS (SELECT DISTINCT lead_id FROM raw.opportunities)
        SELECT third, count(*) AS leads, count(o.lead_id) AS converted
        FROM l LEFT JOIN o USING (lead_id) GROUP BY third ORDER BY third""")
    rate = {third: converted / leads for third, leads, converted in rows}
    assert rate[3] > 3 * rate[1]
    assert rate[3] > rate[2] > rate[1]
    # the signal is observable in the raw data too: intent events and business emails go with conversion
    intent_rate = dict(_rows(db, """
        WITH i AS (SELECT DISTINCT lead_id FROM raw.events WHERE event_type IN ('demo_request', 'trial_signup')),
             o AS (SELECT DISTINCT lead_id FROM raw.opportunities)
        SELECT i.lead_id IS NOT NULL, avg(CASE WHEN o.lead_id IS NOT NULL THEN 1.0 ELSE 0.0 END)
        FROM (SELECT DISTINCT lead_id FROM raw.leads WHERE lead_id IS NOT NULL) l
        LEFT JOIN i USING (lead_id) LEFT JOIN o USING (lead_id) GROUP BY 1"""))
    assert intent_rate[True] > 2 * intent_rate[False]
