"""The `lead-scoring` command (lead_scoring/cli.py), the Dagster-free package behind it and the one clock
(lead_scoring/clock.py): help texts, the import boundary, as_of parsing and formatting, dbt's --vars."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import PROJECT_ROOT
from lead_scoring import clock
from lead_scoring.cli import COMMANDS

SUBCOMMANDS = ("datagen", "build", "backfill", "summary", "report", "export", "suggest-weights")
CLI = Path(sys.executable).parent / "lead-scoring"


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """The installed console script (the entry point of [project.scripts]), else `python -m lead_scoring`."""
    command = [str(CLI)] if CLI.exists() else [sys.executable, "-m", "lead_scoring"]
    proc = subprocess.run([*command, *args], capture_output=True, text=True, cwd=PROJECT_ROOT)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


# --------------------------------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------------------------------
def test_the_console_script_is_installed():
    assert CLI.exists() or shutil.which("lead-scoring"), "pip install -e . creates the lead-scoring command"


def test_help_lists_every_tool_with_its_purpose():
    text = _run("--help").stdout
    for command in COMMANDS:
        assert command.name in text
        assert command.summary.split()[0] in text
    assert set(SUBCOMMANDS) <= {c.name for c in COMMANDS}


@pytest.mark.parametrize("name, specific", [
    ("datagen", "--events-per-lead"),
    ("build", "--unit-tests"),
    ("backfill", "--every-days"),
    ("summary", "4x4"),
    ("report", "HTML"),
    ("export", "crm_lead_sync"),
    ("suggest-weights", "--holdout-share"),
    ("raw-copy", "--dsn"),
])
def test_each_subcommand_explains_itself(name, specific):
    text = _run(name, "--help").stdout
    assert f"usage: lead-scoring {name}" in text
    assert specific in text
    assert "inputs:" in text and "outputs:" in text


def test_a_bad_as_of_is_one_clear_line_not_a_traceback(tmp_path):
    proc = _run("build", "--database", str(tmp_path / "wh.duckdb"), "--as-of", "yesterday", check=False)
    assert proc.returncode == 2
    assert "not an ISO date or timestamp" in proc.stderr and "Traceback" not in proc.stderr


def test_no_tool_is_left_behind_as_a_module_of_the_code_location():
    """orchestration/ is the Dagster code location only: definitions.py, the defs/ tree and run_job.py (which runs
    one of its jobs in process, for `make demo`)."""
    top = {p.name for p in (PROJECT_ROOT / "orchestration").iterdir() if not p.name.startswith("__")}
    assert top == {"definitions.py", "defs", "dagster.yaml", "run_job.py"}


# --------------------------------------------------------------------------------------------------
# the import boundary: lead_scoring imports nothing from Dagster
# --------------------------------------------------------------------------------------------------
IMPORT_ALL = """
import importlib, pkgutil, sys
import {package}
if hasattr({package}, "__path__"):
    for info in pkgutil.walk_packages({package}.__path__, "{package}."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
print(sorted(name for name in sys.modules if name.split(".")[0].startswith("dagster")))
"""


def _dagster_modules_after_importing(package: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", IMPORT_ALL.format(package=package)], capture_output=True,
                          text=True, cwd=PROJECT_ROOT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().replace("'", '"'))


def test_the_lead_scoring_package_imports_no_dagster():
    assert _dagster_modules_after_importing("lead_scoring") == []


def test_the_boundary_check_would_see_dagster():
    """The same check on the code location finds dagster, so an empty list above means something."""
    found = _dagster_modules_after_importing("orchestration.definitions")
    assert "dagster" in found and "dagster_dbt" in found


# --------------------------------------------------------------------------------------------------
# the clock
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("2026-11-01", datetime(2026, 11, 1)),
    ("2026-11-01 05:00", datetime(2026, 11, 1, 5)),
    ("2026-11-01 05:00:00", datetime(2026, 11, 1, 5)),
    ("2026-11-01T05:00:00", datetime(2026, 11, 1, 5)),
    ("  2026-11-01T05:00:00Z ", datetime(2026, 11, 1, 5)),
    ("2026-11-01T05:00:00z", datetime(2026, 11, 1, 5)),
    ("2026-11-01T06:30:00+01:00", datetime(2026, 11, 1, 5, 30)),
    ("2026-11-01 00:30:00-05:00", datetime(2026, 11, 1, 5, 30)),
])
def test_instants_are_read_as_naive_utc(text, expected):
    parsed = clock.parse_instant(text)
    assert parsed == expected and parsed.tzinfo is None


@pytest.mark.parametrize("value", [
    datetime(2026, 11, 1, 5, 0, 0),
    datetime(2026, 11, 1, 5, 0, 0, tzinfo=UTC),
    datetime(2026, 11, 1, 13, 0, 0, tzinfo=timezone(timedelta(hours=8))),
])
def test_format_and_parse_round_trip_with_and_without_zone(value):
    text = clock.format_as_of(value)
    assert text == "2026-11-01 05:00:00"
    assert clock.format_as_of(clock.parse_instant(text)) == text
    assert clock.parse_instant(text) == value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def test_normalise_keeps_empty_as_none_and_drops_fractions():
    assert clock.normalise_as_of(None) is None
    assert clock.normalise_as_of("  ") is None
    assert clock.normalise_as_of("2026-11-01 05:00:00.999") == "2026-11-01 05:00:00"
    assert clock.format_minute("2026-11-01T05:06:07Z") == "2026-11-01 05:06"
    assert clock.format_compact("2026-11-01 05:06:07") == "20261101050607"


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01", "01/11/2026", "2026-11-01 25:00", ""])
def test_bad_input_raises_a_clear_error(bad):
    with pytest.raises(clock.ClockError, match=r"is not an ISO date or timestamp \(expected e.g. '2026-11-01"):
        clock.parse_instant(bad)
    assert issubclass(clock.ClockError, ValueError)


def test_the_clock_is_the_only_python_that_parses_or_formats_instants():
    """No other module of the project parses an instant, formats one with strftime/isoformat or writes --vars."""
    pattern = re.compile(r'strftime\(|isoformat\(|fromisoformat|strptime|json\.dumps\(\{"as_of"')
    offenders = [str(path.relative_to(PROJECT_ROOT))
                 for folder in ("lead_scoring", "orchestration", "benchmarks")
                 for path in sorted((PROJECT_ROOT / folder).rglob("*.py"))
                 if path.name != "clock.py" and pattern.search(path.read_text())]
    assert offenders == []
    assert "--vars" not in (PROJECT_ROOT / "Makefile").read_text()


def test_dbt_vars_is_the_json_dbt_reads():
    assert clock.dbt_vars("2026-11-01") == '{"as_of": "2026-11-01 00:00:00"}'
    assert json.loads(clock.dbt_vars("2026-11-01T06:30:00+01:00")) == {"as_of": "2026-11-01 05:30:00"}
    assert json.loads(clock.dbt_vars(datetime(2026, 11, 1, 5))) == {"as_of": "2026-11-01 05:00:00"}
    assert clock.dbt_vars_args("2026-11-01") == ["--vars", '{"as_of": "2026-11-01 00:00:00"}']
    assert clock.dbt_vars_args(None) == [] and clock.dbt_vars_args("") == []
    with pytest.raises(clock.ClockError):
        clock.dbt_vars("")
    # the project's other vars ride along; as_of always comes from the clock
    assert json.loads(clock.dbt_vars("2026-11-01 00:00", {"test_all_rows": True})) == {
        "as_of": "2026-11-01 00:00:00", "test_all_rows": True}
    with pytest.raises(clock.ClockError):
        clock.dbt_vars("2026-11-01", {"as_of": "2020-01-01"})


def test_the_build_command_leaves_the_clock_to_the_environment_and_unit_tests_to_ci():
    from lead_scoring.dbt_cli import build_command

    production = build_command(extra=["--select", "lead_scores"])
    assert production[1:] == ["build", "--exclude-resource-type", "unit_test", "--select", "lead_scores"]
    assert "--exclude-resource-type" not in build_command(unit_tests=True)


def test_the_dbt_environment_gives_the_absolute_warehouse_path_and_the_clock(monkeypatch, tmp_path):
    """`lead-scoring build` and the Dagster assets hand dbt the same profile (dbt reuses its saved parse only under
    the same profile, and the warehouse path is part of it): the absolute path, whatever spelling came in."""
    from lead_scoring.dbt_cli import dbt_environment
    from lead_scoring.warehouse import DUCKDB_PATH_ENV

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(DUCKDB_PATH_ENV, "warehouse/lead_scoring.duckdb")
    monkeypatch.delenv(clock.AS_OF_ENV, raising=False)
    with dbt_environment("wh/../wh.duckdb", "2026-11-01T05:00:00Z"):
        assert os.environ[DUCKDB_PATH_ENV] == str(tmp_path / "wh.duckdb")
        assert os.environ[clock.AS_OF_ENV] == "2026-11-01 05:00:00"
    assert os.environ[DUCKDB_PATH_ENV] == "warehouse/lead_scoring.duckdb" and clock.AS_OF_ENV not in os.environ


def test_the_scoring_clock_is_handed_to_dbt_in_the_environment_and_restored_after(monkeypatch):
    assert clock.as_of_environ("2026-11-01T06:30:00+01:00") == {clock.AS_OF_ENV: "2026-11-01 05:30:00"}
    # empty: dbt's run start time, whatever the caller's environment held
    assert clock.as_of_environ(None) == {clock.AS_OF_ENV: ""} and clock.as_of_environ("") == {clock.AS_OF_ENV: ""}
    with pytest.raises(clock.ClockError):
        clock.as_of_environ("yesterday")

    monkeypatch.setenv(clock.AS_OF_ENV, "2020-01-01 00:00:00")
    with clock.scoring_clock("2026-11-01") as as_of:
        assert as_of == "2026-11-01 00:00:00" and os.environ[clock.AS_OF_ENV] == as_of
    assert os.environ[clock.AS_OF_ENV] == "2020-01-01 00:00:00"
    monkeypatch.delenv(clock.AS_OF_ENV)
    with pytest.raises(RuntimeError):
        with clock.scoring_clock("2026-11-01"):
            raise RuntimeError("a failed build")
    assert clock.AS_OF_ENV not in os.environ
