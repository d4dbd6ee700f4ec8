"""Security and privacy: PII tags in the dbt project, secrets kept out of files, logs and run metadata, and
hostile text in raw rows carried through a real build as inert data.

The end-to-end part builds ONE small warehouse (300 generated leads with injection text planted in every
text column of raw leads, events and opportunities) through the Dagster code location's dbt asset, with a
recognisable fake webhook URL and a fake warehouse password in the environment and failing freshness checks
that post to that webhook. The manifest tests read the manifest.json of that build; the rest reads
plain files and hand-made fixtures.
"""
from __future__ import annotations

import http.server
import json
import subprocess
import threading
import uuid
from pathlib import Path

import duckdb
import pytest
import yaml
from conftest import AS_OF, PROJECT_ROOT, query

from lead_scoring import privacy

DOCS = PROJECT_ROOT / "docs" / "privacy.md"


# --------------------------------------------------------------------------------------------------
# pure functions on hand-made fixtures
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, expected", [
    ("email", True), ("valid_email", True), ("EMAIL", True), ("e_mail", True), ("contact_email_address", True),
    ("first_name", True), ("last_name", True), ("full_name", True), ("surname", True),
    ("phone", True), ("mobile_number", True), ("date_of_birth", True), ("ip_address", True),
    ("email_domain", False), ("email_type", False), ("company_name", False), ("model_name", False),
    ("lead_id", False), ("search_term", False), ("owner_name", False), ("emails_sent", False),
    ("matrix_cell", False), ("cell_phone", True),
])
def test_pii_column_names(name, expected):
    assert privacy.is_pii_column_name(name) is expected


def _manifest():
    """A tiny manifest: a tagged staging model, an untagged mart leaking an email, a source, an exposure."""
    tagged = {"config": {"meta": {"contains_pii": True}}}
    return {
        "metadata": {"project_name": "p"},
        "nodes": {
            "model.p.stg": {"resource_type": "model", "package_name": "p", "name": "stg", **tagged,
                            "columns": {"email": dict(tagged), "lead_id": {}}},
            "model.p.mart": {"resource_type": "model", "package_name": "p", "name": "mart", "config": {},
                             "columns": {"email": {}, "phone": {"meta": {"contains_pii": True}}, "score": {}}},
            "model.p.ok_mart": {"resource_type": "model", "package_name": "p", "name": "ok_mart",
                                "columns": {"owner_name": dict(tagged), "score": {}}},
            "model.other.x": {"resource_type": "model", "package_name": "other", "name": "x",
                              "columns": {"email": {}}},
            "test.p.t": {"resource_type": "test", "package_name": "p", "name": "t", "columns": {"email": {}}},
        },
        "sources": {
            "source.p.crm.leads": {"resource_type": "source", "package_name": "p", "source_name": "crm",
                                   "name": "leads", "columns": {"first_name": dict(tagged), "last_name": {}}},
        },
        "exposures": {
            "exposure.p.dash": {"type": "dashboard", "depends_on": {"nodes": ["model.p.mart", "model.p.ok_mart"]}},
            "exposure.p.app": {"type": "application", "depends_on": {"nodes": ["model.p.stg"]}},
        },
    }


def test_manifest_audit_functions_on_a_tiny_manifest():
    resources = list(privacy.project_resources(_manifest()))
    assert {r.name for r in resources} == {"stg", "mart", "ok_mart", "source:crm.leads"}  # no tests, no other package
    assert privacy.untagged_pii_columns(resources) == ["mart.email", "source:crm.leads.last_name"]
    assert privacy.resources_missing_model_tag(resources) == ["mart", "ok_mart", "source:crm.leads"]
    assert privacy.tagged_resource_names(resources) == {"stg", "mart", "ok_mart", "source:crm.leads"}
    assert privacy.bi_marts(_manifest()) == {"mart", "ok_mart"}
    allow = {("ok_mart", "owner_name"): "why"}
    assert privacy.bi_pii_violations(resources, {"mart", "ok_mart"}, allow) == ["mart.email", "mart.phone"]
    assert privacy.bi_pii_violations(resources, {"mart", "ok_mart"}, {}) == [
        "mart.email", "mart.phone", "ok_mart.owner_name"]


def test_documented_pii_resources_reads_only_its_table():
    text = "\n".join([
        "# Privacy", "| `not_me` | x |", "## Where PII lives", "| model | why |", "|---|---|",
        "| `stg_a` | email |", "| `source:crm.leads` | names |", "text `ignored` here", "## Allow-list",
        "| `lead_assignments.owner_name` | why |"])
    assert privacy.documented_pii_resources(text) == {"stg_a", "source:crm.leads"}


# Fixtures are assembled from parts so that this file itself never looks like a secret to the scanner.
_USER_PASS_URL = "postgres://analyst:" + "hunter2hunter2" + "@db.example.com:5432/wh"
_KEY_HEADER = "-----BEGIN RSA " + "PRIVATE KEY-----"


@pytest.mark.parametrize("text, kind", [
    (f"url: {_USER_PASS_URL}", "url with credentials"),
    ("pass" + "word: 'Sup3rS3cret!'", "password literal"),
    ("DB_PASS" + "WORD=Sup3rS3cret", "password literal"),
    (_KEY_HEADER, "private key"),
    ("AKIA" + "ABCDEFGHIJKLMNOP", "aws access key id"),
    ("https://hooks.slack.com/services/" + "T0123ABC/B0123ABC/abcdefghijklmnop", "slack webhook"),
])
def test_secret_scanner_flags_each_kind(text, kind):
    assert [f.kind for f in privacy.find_secrets(f"first line\n{text}\n", "f.yml")] == [kind]
    assert privacy.find_secrets(f"x\n{text}", "f.yml")[0].line == 2


@pytest.mark.parametrize("text", [
    "pass" + "word: \"{{ env_var('LEAD_SCORING_WAREHOUSE_PASSWORD') }}\"",
    "pass" + "word = os.environ['X']",
    "pass" + "word: ",
    "https://example.com/docs?page=1",
    "http://127.0.0.1:8080/hooks/s3cr3t-token",
    "the password is read from the environment",
])
def test_secret_scanner_leaves_env_references_and_prose_alone(text):
    assert privacy.find_secrets(text) == []


def test_literal_credentials_in_a_profile():
    profile = {"p": {"outputs": {
        "pg": {"type": "postgres", "user": "me", "pass" + "word": "literal-pw",
               "port": 5432, "threads": 2},
        "sf": {"type": "snowflake", "pass" + "word": "{{ env_var('SF_PW') }}",
               "private_key": "{{ env_var('SF_KEY', 'fallback-key') }}"},  # a default is a committed secret
        "dk": {"type": "duckdb", "path": "{{ env_var('DB', 'x.duckdb') }}", "settings": {"s3_secret_access_key": "abc"}},
    }}}
    assert privacy.literal_credentials(profile) == [
        "p.outputs.pg.password", "p.outputs.sf.private_key", "p.outputs.dk.settings.s3_secret_access_key"]


# --------------------------------------------------------------------------------------------------
# the project: manifest tags, BI marts, docs, committed files
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def manifest(hostile_build):
    """The manifest dbt wrote for the one build of this module (below), rather than a second `dbt parse`."""
    [path] = hostile_build["dbt_target"].rglob("manifest.json")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def resources(manifest):
    found = list(privacy.project_resources(manifest))
    assert len(found) > 50  # models, seeds and sources of the project
    return found


def test_every_pii_named_column_is_tagged(resources):
    assert privacy.untagged_pii_columns(resources) == []
    # the raw contract's personal columns are all covered, in the source and in staging
    tagged = {f"{r.name}.{c}" for r in resources for c, t in r.columns.items() if t}
    assert {"source:crm.leads.email", "source:crm.leads.first_name", "source:crm.leads.last_name",
            "stg_crm__leads.email", "stg_crm__leads.first_name", "stg_crm__leads.last_name",
            "stg_crm__lead_versions.valid_email", "stg_crm__events.search_term", "stg_crm__events.properties",
            "source:crm.events.page_url"} <= tagged


def test_every_resource_with_a_tagged_column_is_tagged_itself(resources):
    assert privacy.resources_missing_model_tag(resources) == []


def test_bi_marts_carry_no_pii_beyond_the_allow_list(manifest, resources):
    marts = privacy.bi_marts(manifest)
    assert {"lead_scores", "lead_score_reasons", "account_scores", "score_calibration"} <= marts
    assert privacy.bi_pii_violations(resources, marts) == []
    # every allow-list entry names a real column of a BI mart, and is explained in the docs
    columns = {(r.name, c) for r in resources if r.name in marts for c in r.columns}
    docs = DOCS.read_text(encoding="utf-8")
    for mart, column in privacy.BI_PII_ALLOW_LIST:
        assert (mart, column) in columns
        assert f"`{mart}.{column}`" in docs


def test_crm_sync_view_carries_no_pii(resources):
    [sync] = [r for r in resources if r.name == "crm_lead_sync"]
    assert not sync.is_tagged and not any(sync.columns.values())
    assert [c for c in sync.columns if privacy.is_pii_column_name(c)] == []


def test_docs_list_exactly_the_tagged_models(resources):
    listed = privacy.documented_pii_resources(DOCS.read_text(encoding="utf-8"))
    assert listed == privacy.tagged_resource_names(resources)


def _committed_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                           check=True).stdout.split("\0")
    return [PROJECT_ROOT / n for n in names if n and (PROJECT_ROOT / n).is_file()]


def test_committed_files_hold_no_secret_looking_values():
    files = _committed_text_files()
    assert len(files) > 100
    findings = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        findings += privacy.find_secrets(text, str(path.relative_to(PROJECT_ROOT)))
    assert findings == []


def test_profiles_read_every_credential_from_the_environment():
    profile = yaml.safe_load((PROJECT_ROOT / "profiles.yml").read_text(encoding="utf-8"))
    assert privacy.literal_credentials(profile) == []
    # the settings that point at the warehouse are env_var() calls too
    output = profile["lead_scoring"]["outputs"]["duckdb"]
    assert "env_var('LEAD_SCORING_DUCKDB_PATH'" in output["path"]


# --------------------------------------------------------------------------------------------------
# one build: injection text in raw rows + secrets in the environment, through the Dagster dbt asset
# --------------------------------------------------------------------------------------------------
# No leading or trailing spaces (staging trims), no '@' (so an email stays invalid) and no '/' (so a domain is
# kept whole); each is lower-cased the same way by Python and DuckDB.
PAYLOADS = (
    "x'); drop table raw.leads; --",
    "'; delete from raw.events where ''='",
    "{{ log('jinja ran', info=true) }}{% if true %}x{% endif %}",
    "$$; drop schema marts cascade; $$",
    "back\\slash \\' \\\" \\n \\\\",
    "\"double\" `tick` [br] %_ like; select 1",
    "Ünïcödé 市场总监 报价 🚀 \u202erlo\u200bzw",
    "multi\nline\ttab",
)
LEAD_TEXT = ("email", "first_name", "last_name", "job_title", "company_name", "company_domain", "industry",
             "employee_count", "country", "city", "lead_source", "budget", "authority", "need", "timeline",
             "crm_segment")
EVENT_TEXT = ("channel", "page_url", "search_term", "properties")


def _snapshot(con) -> dict[str, list]:
    """Every row of every raw table, sorted, plus the list of tables of the file."""
    out = {"__tables__": sorted(con.execute(
        "select table_schema || '.' || table_name from information_schema.tables").fetchall())}
    for table in ("leads", "events", "opportunities"):
        rows = con.execute(f"select * from raw.{table}").fetchall()
        out[table] = sorted(rows, key=repr)
    return out


def _plant(db: Path) -> dict:
    """Write the payloads into every text column of some raw leads (and their events and opportunities)."""
    con = duckdb.connect(str(db))
    try:
        leads = [r[0] for r in con.execute(
            "select lead_id from raw.leads where lead_id is not null group by lead_id "
            "having count(*) = 1 and not bool_or(coalesce(is_deleted, false)) "
            "and lead_id in (select lead_id from raw.events where event_type = 'page_view' and occurred_at <= ?) "
            "order by lead_id limit ?", [AS_OF, len(PAYLOADS)]).fetchall()]
        assert len(leads) == len(PAYLOADS)
        planted = {"leads": {}, "events": {}, "opportunity": None, "touch": None}
        for k, (old_id, payload) in enumerate(zip(leads, PAYLOADS)):
            new_id = f"{payload} #{k}"
            sets = ", ".join(f"{c} = ?" for c in LEAD_TEXT)
            con.execute(f"update raw.leads set lead_id = ?, {sets} where lead_id = ?",
                        [new_id, *[payload] * len(LEAD_TEXT), old_id])
            con.execute("update raw.events set lead_id = ? where lead_id = ?", [new_id, old_id])
            con.execute("update raw.opportunities set lead_id = ? where lead_id = ?", [new_id, old_id])
            planted["leads"][new_id] = payload
            # one page view keeps its type (staged and scored) with hostile text everywhere else
            (event_id,) = con.execute("select min(event_id) from raw.events where lead_id = ? and "
                                      "event_type = 'page_view' and occurred_at <= ?", [new_id, AS_OF]).fetchone()
            sets = ", ".join(f"{c} = ?" for c in EVENT_TEXT)
            con.execute(f"update raw.events set event_id = ?, {sets} where event_id = ?",
                        [f"{payload} #e{k}", *[payload] * len(EVENT_TEXT), event_id])
            # and one event of hostile type: quarantined as unknown_event_type
            con.execute("insert into raw.events select ?, lead_id, ?, ?, occurred_at, ?, ?, ?, _loaded_at "
                        "from raw.events where event_id = ?",
                        [f"{payload} #q{k}", payload, payload, payload, payload, payload, f"{payload} #e{k}"])
            planted["events"][f"{payload} #e{k}"] = payload
            planted["events"][f"{payload} #q{k}"] = payload
        # a soft-deleted hostile lead: quarantined, its id and domain shown to the engineers
        deleted_id, payload = f"{PAYLOADS[0]} #deleted", PAYLOADS[0]
        con.execute("insert into raw.leads select * replace (? as lead_id, ? as company_domain, true as is_deleted) "
                    "from raw.leads where lead_id = ?", [deleted_id, payload, f"{PAYLOADS[0]} #0"])
        planted["deleted"] = deleted_id
        # an opportunity and a status change (valid JSON around the payload) on the first hostile lead
        first = f"{PAYLOADS[0]} #0"
        con.execute("insert into raw.opportunities select ?, ?, created_at, ?, is_won, closed_at, amount, _loaded_at "
                    "from raw.opportunities limit 1", [PAYLOADS[1], first, PAYLOADS[1]])
        planted["opportunity"] = PAYLOADS[1]
        touch = json.dumps({"owner": PAYLOADS[2], "status": "nurturing", "reason": PAYLOADS[4]}, ensure_ascii=False)
        con.execute("insert into raw.events select ?, ?, 'status_change', 'crm', occurred_at, null, null, ?, "
                    "_loaded_at from raw.events where event_id = ?", [f"{PAYLOADS[3]} #touch", first, touch,
                                                                      f"{PAYLOADS[0]} #e0"])
        planted["touch"] = f"{PAYLOADS[3]} #touch"
        return planted
    finally:
        con.close()


class _Webhook:
    """A local HTTP endpoint standing in for the alert webhook; records the paths it was posted to."""

    def __init__(self):
        self.paths: list[str] = []
        paths = self.paths

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                paths.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _files_containing(root: Path, needle: str) -> list[str]:
    raw = needle.encode("utf-8")
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and raw in p.read_bytes())


@pytest.fixture(scope="module")
def hostile_build(tmp_path_factory):
    from dagster import AssetSelection, DagsterInstance, RunConfig, materialize
    from dagster import serialize_value

    from lead_scoring import datagen
    from lead_scoring import monitoring
    from orchestration.defs import resources as dres
    from orchestration.defs.dbt import assets as dbt_assets
    from orchestration.defs.dbt.resources import dbt_resource
    from orchestration.defs.raw import checks as raw_checks
    from orchestration.defs.raw.assets import raw_asset_specs

    root = tmp_path_factory.mktemp("privacy_build")
    db = root / "wh.duckdb"
    datagen.generate(database=str(db), leads=300, events_per_lead=10, days=120, seed=11, as_of=AS_OF)
    planted = _plant(db)
    with duckdb.connect(str(db), read_only=True) as con:
        before = _snapshot(con)

    token = f"fake-secret-{uuid.uuid4().hex}"
    fake_pw = f"fake-password-{uuid.uuid4().hex}"
    dagster_home, dbt_target = root / "dagster_home", root / "dbt_target"
    dagster_home.mkdir()
    with _Webhook() as hook, pytest.MonkeyPatch.context() as mp:
        url = f"http://127.0.0.1:{hook.server.server_port}/hooks/{token}"
        mp.setenv(monitoring.WEBHOOK_ENV, url)
        mp.setenv("LEAD_SCORING_WAREHOUSE_PASSWORD", fake_pw)  # a future credential, present in dbt's env
        mp.setenv("LEAD_SCORING_DUCKDB_PATH", str(db))
        mp.setenv("DBT_TARGET_PATH", str(dbt_target))  # dagster-dbt puts this run's target/ and logs under it
        mp.setenv(monitoring.NOW_ENV, "2026-12-15 00:00:00")  # six weeks after the data: freshness ERROR
        with DagsterInstance.local_temp(tempdir=str(dagster_home)) as instance:
            result = materialize(
                [*raw_asset_specs, dbt_assets.lead_scoring_dbt_assets, raw_checks.raw_leads_freshness,
                 raw_checks.raw_events_freshness],
                resources={"dbt": dbt_resource, "warehouse": dres.WarehouseResource()},
                run_config=RunConfig(ops={"lead_scoring_dbt_assets": dbt_assets.DbtBuildConfig(as_of=AS_OF)}),
                selection=AssetSelection.all() | AssetSelection.all_asset_checks(),
                instance=instance, raise_on_error=False,
            )
            run = instance.get_run_by_id(result.run_id)
            records = instance.all_logs(result.run_id)
            event_log_text = "\n".join(serialize_value(r) for r in records)
            run_text = serialize_value(run)
    with duckdb.connect(str(db), read_only=True) as con:
        after = _snapshot(con)
    return dict(db=db, planted=planted, before=before, after=after, result=result, token=token,
                fake_pw=fake_pw, webhook_paths=list(hook.paths), dbt_target=dbt_target,
                dagster_home=dagster_home, event_log_text=event_log_text, run_text=run_text, root=root)


def test_hostile_raw_text_builds_and_leaves_raw_tables_intact(hostile_build):
    result = hostile_build["result"]
    assert result.success
    checks = result.get_asset_check_evaluations()
    dbt_failures = [(c.check_name, c.severity) for c in checks if not c.passed
                    and c.check_name not in ("raw_leads_freshness", "raw_events_freshness")
                    and str(c.severity).endswith("ERROR")]
    assert len(checks) > 100 and dbt_failures == []
    # the raw tables hold exactly what was planted (no table dropped, no row deleted or changed)
    before, after = hostile_build["before"], hostile_build["after"]
    assert set(before["__tables__"]) <= set(after["__tables__"])
    for table in ("leads", "events", "opportunities"):
        assert after[table] == before[table], table
    assert ("raw.leads",) in after["__tables__"] and ("raw.events",) in after["__tables__"]
    recon = query(hostile_build["db"], "select source_table, is_reconciled from marts.pipeline_reconciliation")
    assert len(recon) == 3 and all(r["is_reconciled"] for r in recon)


def test_hostile_text_survives_byte_for_byte_where_it_is_carried(hostile_build):
    db, planted = hostile_build["db"], hostile_build["planted"]
    ids = list(planted["leads"])
    marks = ", ".join("?" * len(ids))
    scores = {r["lead_id"]: r for r in query(db, f"select * from marts.lead_scores where lead_id in ({marks})", ids)}
    assert set(scores) == set(ids)  # ids carried verbatim (they contain quotes, Jinja, $$, NUL-free unicode)
    for lead_id, payload in planted["leads"].items():
        row = scores[lead_id]
        assert row["lead_source"] == payload.lower()  # staging trims and lower-cases the channel, nothing else
        assert row["company_domain"] == payload.lower()
        assert row["email_type"] == "invalid" and row["industry"] == "unmapped" and row["country_code"] is None
    staged = {r["lead_id"]: r for r in query(db, f"select * from staging.stg_crm__leads where lead_id in ({marks})", ids)}
    for lead_id, payload in planted["leads"].items():
        assert (staged[lead_id]["first_name"], staged[lead_id]["last_name"], staged[lead_id]["job_title"],
                staged[lead_id]["email"]) == (payload, payload, payload, payload.lower())
    sync_ids = {r["crm_external_id"] for r in query(db, "select crm_external_id from marts.crm_lead_sync")}
    assert set(ids) <= sync_ids
    accounts = {r["company_domain"] for r in query(db, "select company_domain from marts.account_scores")}
    assert {p.lower() for p in planted["leads"].values()} <= accounts
    reasons = query(db, f"select distinct lead_id from marts.lead_score_reasons where lead_id in ({marks})", ids)
    assert {r["lead_id"] for r in reasons} == set(ids)


def test_hostile_events_and_deleted_lead_are_quarantined_verbatim(hostile_build):
    db, planted = hostile_build["db"], hostile_build["planted"]
    quarantined = {r["event_id"]: r for r in query(db, "select * from marts.quarantined_events")}
    staged = {r["event_id"]: r for r in query(db, "select * from staging.stg_crm__events")}
    for event_id, payload in planted["events"].items():
        if "#q" in event_id:
            row = quarantined[event_id]
            assert (row["reason_code"], row["event_type"], row["channel"]) == (
                "unknown_event_type", payload.lower(), payload.lower())
        else:
            row = staged[event_id]
            assert (row["channel"], row["page_url"], row["search_term"], row["properties"]) == (
                payload.lower(), payload.lower(), payload.lower(), payload)
        assert row["lead_id"] in planted["leads"]
    [deleted] = query(db, "select * from marts.quarantined_leads where lead_id = ?", [planted["deleted"]])
    assert deleted["reason_code"] == "soft_deleted" and deleted["company_domain"] == PAYLOADS[0].lower()
    [opp] = query(db, "select * from staging.stg_crm__opportunities where opportunity_id = ?", [planted["opportunity"]])
    assert opp["opportunity_stage"] == PAYLOADS[1].lower() and opp["lead_id"] == f"{PAYLOADS[0]} #0"
    [touch] = query(db, "select * from intermediate.int_lead_sales_touches where event_id = ?", [planted["touch"]])
    assert (touch["owner_id"], touch["status_reason"], touch["funnel_outcome"]) == (PAYLOADS[2], PAYLOADS[4], "returned")


def test_no_relation_of_the_build_has_an_undocumented_pii_column(hostile_build, resources):
    documented = {(r.name, c) for r in resources for c in r.columns}
    rows = query(hostile_build["db"], "select table_name, column_name from information_schema.columns "
                                      "where table_schema in ('staging', 'intermediate', 'marts')")
    pii = {(r["table_name"], r["column_name"]) for r in rows if privacy.is_pii_column_name(r["column_name"])}
    assert pii and pii <= documented  # documented, hence checked for the tag above


def test_secrets_reach_the_webhook_but_no_log_artifact_or_run_metadata(hostile_build):
    token, fake_pw = hostile_build["token"], hostile_build["fake_pw"]
    # the failing freshness checks did use the secret URL: both posted to it
    assert len(hostile_build["webhook_paths"]) == 2
    assert all(p == f"/hooks/{token}" for p in hostile_build["webhook_paths"])
    failed = {c.check_name for c in hostile_build["result"].get_asset_check_evaluations() if not c.passed}
    assert {"raw_leads_freshness", "raw_events_freshness"} <= failed
    # dbt's artifacts and logs of this run: target/<run>/{manifest.json, run_results.json, dbt.log, ...}
    target = hostile_build["dbt_target"]
    artifacts = {p.name for p in target.rglob("*") if p.is_file()}
    assert {"manifest.json", "run_results.json", "dbt.log"} <= artifacts
    for needle in (token, fake_pw):
        assert _files_containing(target, needle) == []
        # the Dagster instance (event log database, compute logs, run storage) and the run's events and tags
        assert _files_containing(hostile_build["dagster_home"], needle) == []
        assert needle not in hostile_build["event_log_text"]
        assert needle not in hostile_build["run_text"]
    # the event log does hold the run's dbt output and check metadata, so the search above was not vacuous
    assert "raw_leads_freshness" in hostile_build["event_log_text"]
    assert "lead_scores" in hostile_build["event_log_text"]
