"""The Dagster code location: Definitions, lineage, checks, schedules, the seed sensor, an in-process build."""
from __future__ import annotations

import functools
import json
import shutil
import warnings
from datetime import UTC, datetime

import pytest
from conftest import AS_OF, PROJECT_ROOT, query

from dagster import (
    AssetCheckSeverity,
    AssetKey,
    AssetSelection,
    DagsterInstance,
    Definitions,
    build_schedule_context,
    build_sensor_context,
    validate_run_config,
)

# Deprecation warnings attributed to our own modules (orchestration.*) are errors, at import and in every test;
# those raised inside dagster, dagster-dbt or sqlglot themselves are not ours to fix.
OUR_DEPRECATIONS_ARE_ERRORS = r"error::DeprecationWarning:orchestration(\.|$)"
pytestmark = pytest.mark.filterwarnings(OUR_DEPRECATIONS_ARE_ERRORS)
warnings.filterwarnings("error", category=DeprecationWarning, module=r"orchestration(\.|$)")

from orchestration.defs import resources as dres  # noqa: E402
from orchestration.defs.dbt import assets as dbt_assets  # noqa: E402
from orchestration.defs.dbt import schedules, sensors, translator  # noqa: E402
from orchestration.defs.dbt.project import dbt_project  # noqa: E402
from orchestration.definitions import defs  # noqa: E402

MANIFEST = json.loads(dbt_project.manifest_path.read_text())


def manifest_nodes(resource_type):
    table = MANIFEST["sources"] if resource_type == "source" else MANIFEST["nodes"]
    return [n for n in table.values() if n["resource_type"] == resource_type and n["package_name"] == "lead_scoring"]


@pytest.fixture(scope="module")
def asset_graph():
    return defs.resolve_asset_graph()


def test_definitions_load_and_validate():
    Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    assert {s.name for s in repo.schedule_defs} >= {"engagement_refresh_hourly", "full_scoring_daily"}
    assert {s.name for s in repo.sensor_defs} >= {"rule_seed_change_sensor"}
    assert "dbt" in repo.get_top_level_resources()


def test_the_code_location_inventory_outside_dbt(asset_graph):
    """What orchestration/defs/ adds to the dbt assets, by name: the contract of the schedules, the UI and alerts."""
    dbt_keys = set(dbt_assets.lead_scoring_dbt_assets.keys)
    assert {k.to_user_string() for k in asset_graph.get_all_asset_keys() if k not in dbt_keys} == {
        "raw/leads", "raw/events", "raw/opportunities", "score_distribution_history", "crm_sync/crm_sync_state",
        "crm_sync/crm_sync_batches", "crm_lead_sync_export", "scoring_report", "weight_suggestions",
        "rule_suggestions"}
    dbt_checks = set(dbt_assets.lead_scoring_dbt_assets.check_keys)
    assert {(k.asset_key.to_user_string(), k.name) for k in asset_graph.asset_check_keys if k not in dbt_checks} == {
        ("raw/leads", "raw_leads_freshness"), ("raw/events", "raw_events_freshness"),
        ("score_distribution_history", "score_distribution_drift"),
        ("routing_sla_breach_rate", "sla_breach_rate_within_limit")}
    repo = defs.get_repository_def()
    assert {j.name for j in repo.get_all_jobs() if not j.name.startswith("__")} == {
        "engagement_refresh_job", "full_scoring_job", "crm_export_job", "weight_suggestions_job",
        "rule_suggestions_job", "raw_landing_job"}
    assert {s.name for s in repo.schedule_defs} == {"engagement_refresh_hourly", "full_scoring_daily"}
    assert {s.name for s in repo.sensor_defs} == {"rule_seed_change_sensor"}
    assert set(repo.get_top_level_resources()) == {"dbt", "warehouse"}


def test_every_dbt_node_is_an_asset_with_the_agreed_keys_and_groups(asset_graph):
    keys = set(asset_graph.get_all_asset_keys())
    models, seeds = manifest_nodes("model"), manifest_nodes("seed")
    sources = [s for s in manifest_nodes("source") if s["source_name"] == "crm"]  # crm_sync: defs/crm_sync
    assert models and seeds and {s["name"] for s in sources} == {"leads", "events", "opportunities"}
    for node in models + seeds:
        assert AssetKey(node["name"]) in keys, node["unique_id"]
    for node in sources:
        assert AssetKey(["raw", node["name"]]) in keys, node["unique_id"]

    def group(key):
        return asset_graph.get(key).group_name

    assert group(AssetKey(["raw", "leads"])) == "raw"
    assert group(AssetKey("scoring_fit_rules")) == "rules"
    assert group(AssetKey("stg_crm__lead_versions")) == "staging"
    assert group(AssetKey("stg_rules__fit_rules")) == "staging"
    assert group(AssetKey("int_lead_scores")) == "intermediate"
    assert group(AssetKey("lead_scores")) == "marts"
    # the raw tables are external specs upstream of staging, recorded on demand by raw_landing_job (lead-scoring load)
    assert not asset_graph.get(AssetKey(["raw", "leads"])).is_materializable
    assert AssetKey(["raw", "leads"]) in asset_graph.get(AssetKey("stg_crm__lead_versions")).parent_keys
    assert AssetKey(["raw", "events"]) in asset_graph.get(AssetKey("stg_crm__event_deliveries_ranked")).parent_keys
    # the event readers read the stored, ranked deliveries, never the raw rows again
    assert AssetKey("stg_crm__event_deliveries_ranked") in asset_graph.get(
        AssetKey("stg_crm__event_deliveries")).parent_keys
    assert AssetKey(["raw", "events"]) not in asset_graph.get(AssetKey("stg_crm__event_deliveries")).parent_keys
    assert AssetKey(["raw", "opportunities"]) in asset_graph.get(AssetKey("stg_crm__opportunity_versions")).parent_keys
    downstream_of_events = AssetSelection.assets(AssetKey(["raw", "events"])).downstream().resolve(asset_graph)
    assert AssetKey("lead_scores") in downstream_of_events


def test_marts_have_a_time_window_freshness_policy(asset_graph):
    policy = asset_graph.get(AssetKey("lead_scores")).freshness_policy
    assert policy is not None
    assert policy.fail_window.to_timedelta().total_seconds() == translator.MART_FRESHNESS_FAIL_HOURS * 3600
    assert policy.warn_window.to_timedelta().total_seconds() == translator.MART_FRESHNESS_WARN_HOURS * 3600
    assert asset_graph.get(AssetKey("int_lead_scores")).freshness_policy is None


def test_dbt_tests_are_asset_checks(asset_graph):
    check_keys = set(asset_graph.asset_check_keys)
    dbt_tests = [n for n in manifest_nodes("test") if n.get("attached_node")]
    assert len(dbt_tests) > 50
    by_asset = {}
    for key in check_keys:
        by_asset.setdefault(key.asset_key, set()).add(key.name)
    for test in dbt_tests:
        model = MANIFEST["nodes"][test["attached_node"]]
        assert test["name"] in by_asset.get(AssetKey(model["name"]), set()), test["unique_id"]
    assert by_asset[AssetKey("lead_scores")]


def test_every_dbt_check_says_what_it_asserts():
    specs = {spec.name: spec for spec in dbt_assets.lead_scoring_dbt_assets.check_specs}
    assert len(specs) > 100  # 154: one invariants check per model, relationships, singular and configured tests
    missing = sorted(name for name, spec in specs.items() if not (spec.description or "").strip())
    assert not missing, missing[:5]
    # generic tests: the test, the column, the model and the arguments, read from the manifest by the translator
    assert specs["relationships_lead_scores_lead_id__lead_id__ref_stg_crm__leads_"].description == (
        "relationships: lead_id of lead_scores (field = lead_id; to = ref('stg_crm__leads'))")
    # a model's invariants test (tests/generic/invariants.sql): every invariant it asserts, none cut off
    assert specs["invariants_stg_crm__events"].description == (
        "invariants of stg_crm__events (one query, one failing row per violated invariant): not null: event_id;"
        " unique: event_id")
    lead_scores = specs["invariants_lead_scores"].description
    for part in ("not null: lead_score_id, model_id, lead_id,", "unique: (model_id, lead_id), lead_score_id;",
                 "fit_score [0, 100]", "fit_grade in {A, B, C, D}",
                 "true on every row: is_excluded = (lifecycle_stage = 'excluded')"):
        assert part in lead_scores, (part, lead_scores)
    invariants = [test for test in manifest_nodes("test")
                  if (test.get("test_metadata") or {}).get("name") == "invariants"]
    assert len(invariants) > 50
    for test in invariants:
        description, kwargs = specs[test["name"]].description, test["test_metadata"]["kwargs"]
        assert not description.endswith("..."), test["name"]
        for column in [*kwargs.get("not_null", []), *kwargs.get("accepted_range", {}),
                       *kwargs.get("accepted_values", {})]:
            assert column in description, (test["name"], column)
    # singular tests: the opening comment of their SQL file
    singular = (PROJECT_ROOT / "tests" / "singular" / "assert_reason_points_sum_to_scores.sql").read_text()
    assert specs["assert_reason_points_sum_to_scores"].description.startswith(
        " ".join(singular.split("-#}")[0].removeprefix("{#-").split())[:80])
    # a description given in the YAML wins over the generated one
    assert translator.check_description({"description": " Keys are unique ", "test_metadata": {"name": "unique"}}) \
        == "Keys are unique"


def test_dbt_op_is_in_the_warehouse_pool():
    assert dbt_assets.lead_scoring_dbt_assets.op.pool == "duckdb_warehouse"


def test_instance_template_queues_runs_and_serialises_the_pool(tmp_path, monkeypatch):
    shutil.copy(PROJECT_ROOT / "orchestration" / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    instance = DagsterInstance.get()
    try:
        config = instance.get_concurrency_config()
        assert config.pool_config.default_pool_limit == 1
        assert config.run_queue_config.max_concurrent_runs == 1
        assert instance.telemetry_enabled is False
    finally:
        instance.dispose()


@pytest.mark.parametrize("schedule, job_name", [
    (schedules.full_scoring_daily, "full_scoring_job"),
    (schedules.engagement_refresh_hourly, "engagement_refresh_job"),
])
def test_schedules_pass_the_tick_time_as_as_of(schedule, job_name):
    tick = datetime(2026, 11, 1, 5, tzinfo=UTC)
    with build_schedule_context(scheduled_execution_time=tick) as context:
        data = schedule.evaluate_tick(context)
    [request] = data.run_requests
    assert schedule.job_name == job_name and schedule.execution_timezone == "UTC"
    assert request.run_config["ops"] == {
        "lead_scoring_dbt_assets": {"config": {"as_of": "2026-11-01 05:00:00", "full_refresh": False}}
    }
    assert request.tags["lead_scoring/as_of"] == "2026-11-01 05:00:00"
    validate_run_config(defs.resolve_job_def(job_name), request.run_config)  # the job accepts it as is
    # a backfilled tick in another zone still scores its own instant, in UTC
    with build_schedule_context(scheduled_execution_time=datetime.fromisoformat("2026-03-02T09:00:00+08:00")) as ctx:
        [old] = schedule.evaluate_tick(ctx).run_requests
    assert old.tags["lead_scoring/as_of"] == "2026-03-02 01:00:00"


def test_schedule_crons():
    assert schedules.engagement_refresh_hourly.cron_schedule == "0 * * * *"
    assert schedules.full_scoring_daily.cron_schedule == "0 5 * * *"


def test_engagement_job_is_what_depends_on_events_but_the_evidence():
    selected = defs.resolve_job_def("engagement_refresh_job").asset_layer.selected_asset_keys
    assert {AssetKey("stg_crm__events"), AssetKey("int_engagement_daily_points"), AssetKey("lead_scores"),
            AssetKey("lead_score_reasons"), AssetKey("account_scores"), AssetKey("lead_score_history"),
            AssetKey("crm_lead_sync"), AssetKey("quarantined_events"), AssetKey("lead_assignment_spells"),
            AssetKey("pipeline_reconciliation")} <= selected
    # every dbt asset of the job reads raw events, through its parents: a mart no event reaches (it reads only
    # leads, opportunities or seeds, which the daily job rebuilds) would be rewritten with what it holds
    dbt_keys = set(dbt_assets.lead_scoring_dbt_assets.keys)
    by_name = {n["name"]: n for n in manifest_nodes("model")}
    parents = {n["unique_id"]: n["depends_on"]["nodes"] for n in by_name.values()}

    @functools.cache
    def reads_events(unique_id):
        return unique_id == "source.lead_scoring.crm.events" or any(reads_events(p) for p in parents.get(unique_id, ()))

    job_models = {key.path[-1] for key in selected & dbt_keys}
    assert job_models and all(reads_events(by_name[name]["unique_id"]) for name in job_models)
    assert not selected & {AssetKey("quarantined_leads"), AssetKey("placeholder_values"),
                           AssetKey("scoring_rule_config_snapshots")}
    # the evidence (every model under an evidence/ folder) and the report that reads it are daily
    evidence = {AssetKey(n["name"]) for n in manifest_nodes("model") if "/evidence/" in n["original_file_path"]}
    assert {AssetKey("score_calibration"), AssetKey("scoring_rule_health"), AssetKey("int_lead_outcomes")} <= evidence
    assert not selected & (evidence | {AssetKey("scoring_report")})
    assert not selected & {AssetKey("stg_crm__leads"), AssetKey("int_fit_rule_matches"),
                           AssetKey("scoring_fit_rules"), AssetKey(["raw", "events"])}
    full = defs.resolve_job_def("full_scoring_job").asset_layer.selected_asset_keys
    assert AssetKey("scoring_fit_rules") in full and AssetKey(["raw", "leads"]) not in full
    assert {AssetKey("lead_scores"), AssetKey("stg_crm__leads")} <= full


AUDIT_TESTS = {"assert_reason_points_sum_to_scores", "invariants_lead_reason_states", "invariants_stg_crm__events"}


def _dbt_tests_the_job_runs(job_name):
    """The dbt tests a run of `job_name` passes to dbt, as dagster-dbt computes its selection for the job's subset
    of the dbt multi-asset (names of the --select list; `indirect` is the DBT_INDIRECT_SELECTION it sets)."""
    from types import SimpleNamespace

    from dagster._core.definitions.dependency import NodeHandle
    from dagster_dbt.asset_utils import get_subset_selection_for_context

    job = defs.resolve_job_def(job_name)
    subset = job.asset_layer.get_assets_def_for_node(NodeHandle(dbt_assets.DBT_ASSETS_NAME, None))
    context = SimpleNamespace(assets_def=subset, selected_asset_keys=subset.keys,
                              selected_asset_check_keys=subset.check_keys)
    args, indirect = get_subset_selection_for_context(context, MANIFEST, "fqn:*", None, None,
                                                      translator.dagster_dbt_translator, None)
    tests = {n["name"] for n in manifest_nodes("test")}
    selected = {fqn.rsplit(".", 1)[-1] for fqn in args[1].split()} if args[:1] == ["--select"] else set()
    return selected & tests, indirect, {key.name for key in subset.check_keys}


def test_the_hourly_job_runs_every_check_of_its_assets_but_the_whole_table_audits():
    from orchestration.defs.dbt import jobs

    tagged = {n["name"] for n in manifest_nodes("test") if "audit" in n["tags"]}
    assert tagged == AUDIT_TESTS and {key.name for key in jobs.AUDIT_CHECKS} == AUDIT_TESTS
    hourly_tests, indirect, hourly_checks = _dbt_tests_the_job_runs("engagement_refresh_job")
    # dbt is given the tests by name with indirect selection off: what it runs is exactly the job's checks
    assert indirect == "empty" and hourly_tests == hourly_checks - {"raw_events_freshness"}
    assert not hourly_tests & AUDIT_TESTS
    # ... and every other test of the job's dbt assets (each dbt test is an asset check of one asset, so none is
    # dropped for not being a check; e.g. assert_calibration_buckets_cover_scored_leads names its asset)
    job_assets = defs.resolve_job_def("engagement_refresh_job").asset_layer.selected_asset_keys
    full_checks = defs.resolve_job_def("full_scoring_job").asset_layer.asset_graph.asset_check_keys
    assert {n["name"] for n in manifest_nodes("test")} <= {key.name for key in full_checks}
    of_job_assets = {key.name for key in full_checks if key.asset_key in job_assets}
    assert "invariants_lead_scores" in hourly_tests
    assert hourly_tests == (of_job_assets & {n["name"] for n in manifest_nodes("test")}) - AUDIT_TESTS
    # the daily job runs the audits, and the checks of the evidence (e.g. the calibration singular test, which names
    # its asset score_calibration: with four parents it would otherwise be no check of any asset)
    assert AUDIT_TESTS | {"assert_calibration_buckets_cover_scored_leads"} <= {key.name for key in full_checks}
    assert "assert_calibration_buckets_cover_scored_leads" not in hourly_tests


ON_DEMAND_ASSETS = {"weight_suggestions", "rule_suggestions", "crm_lead_sync_export", "raw/leads", "raw/events",
                    "raw/opportunities"}
ON_DEMAND_JOBS = {"crm_export_job": {"crm_drift_gate", "crm_lead_sync_export"},
                  "weight_suggestions_job": {"weight_suggestions"}, "rule_suggestions_job": {"rule_suggestions"},
                  "raw_landing_job": {"raw_landing"}}


def _materialize_all(asset_graph):
    """What the UI's "Materialize all" launches on the whole asset graph: every asset that is executable and not
    observable (dagster-webserver 1.13, ui-core LaunchAssetExecutionButton.tsx, optionsForExecuteButton)."""
    return {k for k in asset_graph.get_all_asset_keys()
            if asset_graph.get(k).is_executable and not asset_graph.get(k).is_observable}


def test_on_demand_assets_are_outside_materialize_all_the_scoring_jobs_and_every_schedule_and_sensor(asset_graph):
    tagged = {k.to_user_string() for k in asset_graph.get_all_asset_keys()
              if asset_graph.get(k).tags.get(dres.ON_DEMAND_TAG) == "true"}
    assert tagged == ON_DEMAND_ASSETS
    on_demand = {AssetKey.from_user_string(k) for k in ON_DEMAND_ASSETS}
    assert not _materialize_all(asset_graph) & on_demand
    full = defs.resolve_job_def("full_scoring_job").asset_layer.selected_asset_keys
    # "Materialize all" is the daily job: nothing else is one click away
    assert _materialize_all(asset_graph) == full
    for job in ("full_scoring_job", "engagement_refresh_job"):
        assert not defs.resolve_job_def(job).asset_layer.selected_asset_keys & on_demand, job
    repo = defs.get_repository_def()
    automated = [*repo.schedule_defs, *repo.sensor_defs]
    assert automated and {t.job_name for t in automated} <= {"full_scoring_job", "engagement_refresh_job"}
    for target in automated:
        assert not repo.get_job(target.job_name).asset_layer.selected_asset_keys & on_demand, target.name
        assert target.job_name not in ON_DEMAND_JOBS


def test_each_on_demand_job_runs_exactly_its_own_ops():
    repo = defs.get_repository_def()
    for name, ops in ON_DEMAND_JOBS.items():
        job = repo.get_job(name)
        assert {node.name for node in job.graph.nodes} == ops, name
        assert not job.asset_layer.selected_asset_keys, f"{name} must not materialise executable assets"
        assert job.tags.get(dres.ON_DEMAND_TAG) == "true"
    # the export writes nothing unless the drift gate passed first
    crm = repo.get_job("crm_export_job")
    assert crm.graph.dependency_structure.input_to_upstream_outputs_for_node("crm_lead_sync_export")


def test_seed_change_sensor(tmp_path):
    seeds = tmp_path / "seeds"
    shutil.copytree(PROJECT_ROOT / "seeds", seeds)
    sensor = sensors.build_rule_seed_change_sensor(seeds)

    with build_sensor_context(cursor=None) as context:  # first evaluation: records the hash, runs once
        first = sensor.evaluate_tick(context)
    [request] = first.run_requests
    digest = sensors.seeds_hash(seeds)
    assert first.cursor == digest and request.run_key is None
    assert request.tags["lead_scoring/ruleset_hash"] == digest
    assert sensor.job_name == "full_scoring_job"
    validate_run_config(defs.resolve_job_def("full_scoring_job"), request.run_config)

    with build_sensor_context(cursor=digest) as context:  # nothing changed
        unchanged = sensor.evaluate_tick(context)
    assert not unchanged.run_requests and unchanged.skip_message

    rules = seeds / "scoring_fit_rules.csv"
    rules.write_text(rules.read_text().replace(",20,", ",21,", 1) + "\n")
    with build_sensor_context(cursor=digest) as context:  # a seed changed
        changed = sensor.evaluate_tick(context)
    [rerun] = changed.run_requests
    new_digest = sensors.seeds_hash(seeds)
    assert new_digest != digest and changed.cursor == new_digest and rerun.run_key is None
    assert rerun.tags["lead_scoring/ruleset_hash"] == new_digest

    shutil.copy2(PROJECT_ROOT / "seeds" / "scoring_fit_rules.csv", rules)  # the change is reverted
    with build_sensor_context(cursor=new_digest) as context:
        reverted = sensor.evaluate_tick(context)
    [rescore] = reverted.run_requests
    assert reverted.cursor == digest and rescore.tags["lead_scoring/ruleset_hash"] == digest


def test_as_of_is_normalised_to_utc():
    assert dbt_assets.normalise_as_of("2026-11-01") == "2026-11-01 00:00:00"
    assert dbt_assets.normalise_as_of("2026-11-01T05:00:00Z") == "2026-11-01 05:00:00"
    assert dbt_assets.normalise_as_of("2026-11-01T06:30:00+01:00") == "2026-11-01 05:30:00"
    assert dbt_assets.normalise_as_of(None) is None
    with pytest.raises(Exception, match="not an ISO"):
        dbt_assets.normalise_as_of("yesterday")


def test_the_scheduled_build_leaves_unit_tests_to_ci():
    """dbt's advice for production: unit tests check fixtures, not data; CI (`make dbt-test`) runs them."""
    args = dbt_assets.dbt_build_args(dbt_assets.DbtBuildConfig(as_of="2026-11-01T05:00:00Z", full_refresh=True))
    assert args[0] == "build"
    assert args[args.index("--exclude-resource-type") + 1] == "unit_test"
    assert "--vars" not in args  # the as_of goes in the environment (lead_scoring.clock.scoring_clock)
    assert "--full-refresh" in args
    assert "--full-refresh" not in dbt_assets.dbt_build_args(dbt_assets.DbtBuildConfig())


@pytest.mark.slow
def test_the_demo_job_run_in_process_materialises_every_asset_and_evaluates_every_check(tmp_path, monkeypatch):
    """`make demo`'s last step (orchestration/run_job.py): full_scoring_job in process, into the instance of
    DAGSTER_HOME (as `make dev` reads it), on generated data whose clock is in the past. Every asset of the job is
    materialised and every check evaluated, in the result and in the instance; freshness is judged at the run's
    as_of, so data landed up to it is fresh although the wall clock is later; on normal data every check passes."""
    from lead_scoring import datagen
    from lead_scoring.monitoring import NOW_ENV
    from orchestration import run_job
    from orchestration.defs.dbt import jobs

    db_path = tmp_path / "dagster.duckdb"
    datagen.generate(database=str(db_path), leads=300, events_per_lead=10, days=120, seed=11, as_of=AS_OF)
    monkeypatch.setenv("LEAD_SCORING_DUCKDB_PATH", str(db_path))
    monkeypatch.setenv("LEAD_SCORING_REPORT_PATH", str(tmp_path / "report.html"))
    monkeypatch.delenv(NOW_ENV, raising=False)  # the clock is the run's as_of, nothing else
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    as_of = "2026-11-01 05:00:00"

    with DagsterInstance.get() as instance:
        result = run_job.run_job("full_scoring_job", instance, as_of)
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        run_tags = run.tags
        graph = defs.resolve_asset_graph()
        expected_assets = jobs.full_selection.resolve(graph)
        expected_checks = jobs.full_selection.resolve_checks(graph)
        in_instance = {key for key in expected_assets if instance.get_latest_materialization_event(key)}
        checks_in_instance = {key for key in expected_checks
                              if instance.event_log_storage.get_asset_check_execution_history(key, limit=1)}

    assert run_tags["lead_scoring/as_of"] == as_of and run_tags["lead_scoring/trigger"] == "run_job"
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized == expected_assets == in_instance
    checks = result.get_asset_check_evaluations()
    assert {c.asset_check_key for c in checks} == expected_checks == checks_in_instance
    assert len(expected_checks) > 150  # 159: the dbt tests (one invariants check per model, ...) and the Python checks
    # every check passes, but a rule-health check may warn (a rule firing on nearly every lead or almost none is
    # a finding about the rules, not a failure: docs/rule_health.md)
    failed = [c.check_name for c in checks if not c.passed
              and not (c.check_name.startswith("no_health_issue_") and c.severity == AssetCheckSeverity.WARN)]
    assert failed == [], failed
    freshness = {c.check_name: c for c in checks if c.check_name.endswith("_freshness")}
    assert set(freshness) == {"raw_leads_freshness", "raw_events_freshness"}
    for check in freshness.values():
        assert check.metadata["clock"].value == f"the run's as_of (the data's clock): {as_of}"
    assert (tmp_path / "report.html").exists()

    [row] = query(db_path, "select count(*) as n, min(scored_at) as lo, max(scored_at) as hi, "
                           "min(ruleset_version) as rs, count(distinct ruleset_version) as n_rs "
                           "from marts.lead_scores")
    assert row["n"] > 0 and row["n_rs"] == 1
    assert str(row["lo"]) == str(row["hi"]) == as_of
    for mart in ("lead_score_reasons", "account_scores", "pipeline_reconciliation"):
        assert query(db_path, f"select count(*) as n from marts.{mart}")[0]["n"] > 0

    lead_scores_mat = next(e for e in result.get_asset_materialization_events()
                           if e.asset_key == AssetKey("lead_scores")).materialization
    assert lead_scores_mat.metadata["as_of"].value == as_of
    assert lead_scores_mat.metadata["ruleset_version"].value == row["rs"]
    assert run_tags["lead_scoring/ruleset_version"] == row["rs"]
