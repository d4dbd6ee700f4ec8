# Two entry points: `make demo` (set up, generate data, build and score, print a summary) and `make test`
# (set up, lint, dbt build with data and unit tests, pytest). Both create .venv when it is missing.
# Every tool target goes through the `lead-scoring` command (lead_scoring/cli.py; `lead-scoring --help`).

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CLI := $(BIN)/lead-scoring

# Demo data: scale knobs and the scoring clock (empty AS_OF = now).
LEADS ?= 5000
EVENTS_PER_LEAD ?= 20
DAYS ?= 180
SEED ?= 42
DATA_AS_OF ?= 2026-11-01 00:00:00
AS_OF ?= $(DATA_AS_OF)
DB ?= warehouse/lead_scoring.duckdb

# The test build scores a fixed data set at a fixed instant, so it is reproducible.
TEST_DB := warehouse/ci.duckdb
TEST_AS_OF := 2026-11-01 00:00:00

export DBT_PROFILES_DIR := $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1

.PHONY: setup demo data build summary report browser engines test lint dbt-test defs-check pytest clean dev benchmark

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# PLANTED=1: plant the known conversion drivers and noise of docs/planted_truth.md (to check rule discovery).
PLANTED ?=
data: setup
	@mkdir -p $(dir $(DB))
	$(CLI) datagen --database $(DB) --leads $(LEADS) \
		--events-per-lead $(EVENTS_PER_LEAD) --days $(DAYS) --seed $(SEED) --as-of "$(DATA_AS_OF)" \
		$(if $(PLANTED),--planted-truth)

# Land CSV, Parquet or JSON Lines exports in the raw tables of $(DB), typed by the raw contract (docs/loading.md).
# FILES: files, globs (quote them) or folders (leads*, events*, opportunities* go to their table by name);
# TABLE: one raw table for all FILES; REPLACE=1 drops the table(s) first (e.g. the demo data).
FILES ?=
TABLE ?=

.PHONY: load
load: setup
	@test -n "$(FILES)" || { echo 'usage: make load FILES="exports/" (files, globs or folders) [TABLE=leads] [REPLACE=1]' >&2; exit 2; }
	$(CLI) load --database $(DB) $(if $(TABLE),--table $(TABLE)) $(if $(REPLACE),--replace) $(FILES)

# Guarded: if another process holds $(DB), it says who and exits 75 instead of dbt's bare DuckDB lock error.
# Unit tests (fixtures, not data) run in `make dbt-test`/CI; a production build, like Dagster's, leaves them out.
build: setup
	$(CLI) build --database $(DB) --as-of "$(AS_OF)"

summary: setup
	$(CLI) summary --database $(DB)

# The scoring report: one self-contained HTML page (plotly, works offline) of the marts and the drift history.
REPORT ?= warehouse/scoring_report.html

report: setup
	$(CLI) report --database $(DB) --out $(REPORT)

# Score history before the last build: weekly scoring runs over the BACKFILL_WEEKS before AS_OF (oldest first;
# runs the history already has are skipped), each recorded in the drift history, then the full build at AS_OF.
# MQL moments, SLA clocks and the drift check then have earlier runs to work from.
BACKFILL_WEEKS ?= 4

.PHONY: backfill
backfill: setup
	$(CLI) backfill --database $(DB) --end "$(AS_OF)" --weeks $(BACKFILL_WEEKS) --build-end

# The demo: the weekly history (dbt outside Dagster: it is history), then the daily job at AS_OF through Dagster, in
# process, into the instance `make dev` shows (.dagster_home): the job's assets materialised, every check evaluated,
# the report written (docs/dagster.md "After make demo").
.PHONY: demo-scoring
demo-scoring: data $(CURDIR)/.dagster_home/dagster.yaml
	$(CLI) backfill --database $(DB) --end "$(AS_OF)" --weeks $(BACKFILL_WEEKS)
	$(DG_ENV) LEAD_SCORING_DUCKDB_PATH=$(DB) LEAD_SCORING_REPORT_PATH=$(REPORT) \
		$(BIN)/python -m orchestration.run_job full_scoring_job --as-of "$(AS_OF)"

demo: demo-scoring summary

# Suggested rule points from historical conversions (review them, then copy them to seeds/ by hand).
SUGGESTIONS_DIR ?= warehouse/suggestions
MODEL ?= default
HOLDOUT_SHARE ?= 0.3

.PHONY: suggest-weights
suggest-weights: setup
	$(CLI) suggest-weights --database $(DB) --out $(SUGGESTIONS_DIR) --model $(MODEL) \
		--holdout-share $(HOLDOUT_SHARE) --verify

# Discover a whole rule set from outcomes (docs/rule_discovery.md): seeds and rule_suggestions.md in RULES_DIR.
RULES_DIR ?= warehouse/rule_suggestions
# RULES_HORIZON_DAYS: cut-off T = as_of - horizon; conversions in (T, as_of] are what the rules learn to predict.
RULES_HORIZON_DAYS ?= 60
.PHONY: suggest-rules
suggest-rules: setup
	$(CLI) suggest-rules --database $(DB) --out $(RULES_DIR) --model $(MODEL) --horizon-days $(RULES_HORIZON_DAYS) \
		--holdout-share $(HOLDOUT_SHARE) --verify

# Point-in-time backtest (scores as they were before each outcome, from the score history) and the preview of a
# candidate seed folder (e.g. from suggest-rules) scored in a scratch copy; neither changes the warehouse or seeds/.
# docs/backtest_and_preview.md. BACKTEST_HORIZON_DAYS: days before each outcome (14: the demo's history starts 4
# weeks back); HORIZON_DAYS: the preview's backtest cut-off, as_of - N days (replayed); CUTOFF: one instant for both.
HORIZON_DAYS ?= 30
BACKTEST_HORIZON_DAYS ?= 14
CUTOFF ?=
BACKTEST_DIR ?= warehouse/backtest
PREVIEW_DIR ?= warehouse/preview
SEEDS ?=

.PHONY: backtest preview
backtest: setup
	$(CLI) backtest --database $(DB) --model $(MODEL) \
		$(if $(CUTOFF),--cutoff "$(CUTOFF)",--horizon-days $(BACKTEST_HORIZON_DAYS)) --out $(BACKTEST_DIR)

preview: setup
	@test -n "$(SEEDS)" || { echo 'usage: make preview SEEDS=<folder of candidate seed CSVs>' >&2; exit 2; }
	$(CLI) preview --database $(DB) --seeds "$(SEEDS)" --model $(MODEL) --out $(PREVIEW_DIR) \
		$(if $(CUTOFF),--cutoff "$(CUTOFF)",--horizon-days $(HORIZON_DAYS))

# Reverse-ETL: export the leads whose CRM fields changed as one batch of CSV, JSON Lines and Parquet files
# (EXPORT_DIR, default env LEAD_SCORING_CRM_EXPORT_DIR or crm_export/ beside $(DB)) and record it as synced.
.PHONY: export
export: setup
	$(CLI) export --database $(DB) $(if $(EXPORT_DIR),--out "$(EXPORT_DIR)")

# On every core (--processes 0): 53 s instead of 97 s on 2 cores. The dbt templater reads the test warehouse that
# `make dbt-test` builds (incremental branches, seeded formats): `make test` runs dbt-test first, and a lint on its
# own builds that warehouse when it is missing (a lint without it would skip every incremental branch).
lint: setup
	@test -f $(TEST_DB) || $(MAKE) dbt-test
	LEAD_SCORING_DUCKDB_PATH=$(TEST_DB) $(BIN)/sqlfluff lint --processes 0 models macros tests/generic

dbt-test: setup
	@mkdir -p $(dir $(TEST_DB))
	$(CLI) datagen --database $(TEST_DB) --leads 3000 --events-per-lead 20 \
		--days 180 --seed 7 --as-of "$(TEST_AS_OF)"
	$(CLI) build --database $(TEST_DB) --as-of "$(TEST_AS_OF)" --unit-tests --force

# Headless Chromium (Debian package) for the report's browser test; installed only when missing.
CHROMIUM := /usr/bin/chromium

browser:
	@test -x $(CHROMIUM) || { echo "installing chromium (apt-get)"; \
		apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
	@test -x $(CHROMIUM) || { echo "chromium is still missing at $(CHROMIUM)" >&2; exit 1; }

# The engine tests need Java 17+ for Spark (pyspark) and a PostgreSQL server (tests/python/pg_server.py installs
# Debian's postgresql itself when missing): Debian's headless JRE is installed when there is no java.
engines:
	@command -v java >/dev/null || { echo "installing openjdk-17-jre-headless (apt-get)"; \
		apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null; }
	@command -v java >/dev/null || { echo "java is still missing" >&2; exit 1; }

# The Python tests on PYTEST_WORKERS processes (pytest-xdist), a whole file per worker (--dist loadfile: a file's
# module fixtures, its PostgreSQL server or Spark session, are built once). PYTEST_WORKERS=0 runs them in this process.
PYTEST_WORKERS ?= 2
pytest: setup browser engines
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile

test: dbt-test lint defs-check pytest

# The inner loop (docs/testing.md "The inner loop"): sqlfluff on the SQL files that differ from LINT_BASE (default
# main; uncommitted and new files included), then the Python tests not marked slow, on PYTEST_WORKERS processes.
LINT_BASE ?= main
.PHONY: test-fast
test-fast: setup
	@changed="$$( { git diff --name-only --diff-filter=d $(LINT_BASE) -- models macros tests/generic 2>/dev/null; \
		git ls-files --others --exclude-standard -- models macros tests/generic; } | grep '\.sql$$' | sort -u)"; \
	if [ -n "$$changed" ]; then echo "sqlfluff lint" $$changed; mkdir -p $(dir $(TEST_DB)); \
		test -f $(TEST_DB) || echo "sqlfluff: no $(TEST_DB), so the incremental branches are not linted (make dbt-test builds it)"; \
		LEAD_SCORING_DUCKDB_PATH=$(TEST_DB) $(BIN)/sqlfluff lint $$changed; \
	else echo "sqlfluff: no SQL file under models/, macros/ or tests/generic/ differs from $(LINT_BASE)"; fi
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile -m "not slow" -p no:cacheprovider

# The property tests with the "deep" hypothesis profile (tests/python/conftest.py): DEEP_EXAMPLES data sets per
# property, each scored by real dbt runs, shrinking on. Slow (hours at 200); not part of `make test`. docs/testing.md.
DEEP_EXAMPLES ?= 200
.PHONY: test-deep
test-deep: setup
	LEAD_SCORING_HYPOTHESIS_PROFILE=deep LEAD_SCORING_PROPERTY_DEEP_EXAMPLES=$(DEEP_EXAMPLES) \
		$(BIN)/python -m pytest tests/python/test_properties.py -q -p no:cacheprovider

# The Dagster UI (`dg dev`) on http://$(HOST):$(PORT): the code location orchestration/definitions.py ([tool.dg] in
# pyproject.toml) with the instance settings of orchestration/dagster.yaml (one run at a time, DuckDB pool limit 1,
# telemetry off). `exec` hands the recipe's shell over to dg, so Ctrl-C reaches dg itself and it stops cleanly.
DAGSTER_HOME_DIR := $(CURDIR)/.dagster_home
DG_ENV := DAGSTER_HOME=$(DAGSTER_HOME_DIR) VIRTUAL_ENV=$(CURDIR)/$(VENV)
PORT ?= 3000
HOST ?= 127.0.0.1

$(DAGSTER_HOME_DIR)/dagster.yaml: orchestration/dagster.yaml
	@mkdir -p $(DAGSTER_HOME_DIR)
	cp orchestration/dagster.yaml $@

dev: setup $(DAGSTER_HOME_DIR)/dagster.yaml
	@mkdir -p $(dir $(DB))
	$(DG_ENV) LEAD_SCORING_DUCKDB_PATH=$(DB) exec $(BIN)/dg dev --host $(HOST) --port $(PORT)

# The code location loads: every asset, check, job, schedule and sensor of orchestration/defs/ (part of `make test`).
defs-check: setup $(DAGSTER_HOME_DIR)/dagster.yaml
	$(DG_ENV) $(BIN)/dg check defs

# Benchmark (not part of `make test`): for each scale in BENCH_LEADS, generate data, time a full build (and count its
# nodes), the scoring run, then on the full build's warehouse the hourly run (+0.01% the same scoring day: the dbt
# build and the hourly Dagster job's selection), the daily run (+0.1% a day later) and +1% a day after that, the SQL
# and pandas peers and the single-query floor (benchmarks/bench_floor.sql); prints one table and issue 33's aims with
# pass/fail, and writes $(BENCH_DIR)/benchmark.json. See README "Performance". Installs the `bench` extra (pandas) on
# first use.
BENCH_LEADS ?= 10000 100000
BENCH_EVENTS_PER_LEAD ?= 100
BENCH_DIR ?= warehouse/bench
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

.PHONY: benchmark
benchmark: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.benchmark --leads $(BENCH_LEADS) --events-per-lead $(BENCH_EVENTS_PER_LEAD) \
		--work-dir $(BENCH_DIR)

# The same data built on DuckDB and on other engines (benchmarks/engine_bench.py; Spark needs Java 17+, PostgreSQL
# a server named by the LEAD_SCORING_PG_* variables). Not part of the test run.
ENGINE_BENCH_LEADS ?= 10000
ENGINE_BENCH_EVENTS_PER_LEAD ?= 100
ENGINE_BENCH_ENGINES ?= duckdb spark

.PHONY: engine-bench
engine-bench: setup
	$(BIN)/python -m benchmarks.engine_bench --leads $(ENGINE_BENCH_LEADS) \
		--events-per-lead $(ENGINE_BENCH_EVENTS_PER_LEAD) --engines $(ENGINE_BENCH_ENGINES)

# How well each rule set ranks out of time on planted-truth data (benchmarks/ranking_bench.py, docs/rule_discovery.md):
# default rules, suggested weights, suggested rules and the logistic and boosted ceiling, at each RANKING_BENCH_LEADS.
RANKING_BENCH_LEADS ?= 10000 100000

.PHONY: ranking-bench
ranking-bench: setup
	$(BIN)/python -m benchmarks.ranking_bench --leads $(RANKING_BENCH_LEADS)

clean:
	rm -rf target logs warehouse dbt_packages
