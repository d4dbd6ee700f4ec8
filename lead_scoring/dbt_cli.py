"""Where the dbt CLI is, and how a production build calls it: one answer for the Dagster resource, the weight
suggestions, the backfill and the benchmark.

Kept free of Dagster imports, so the command-line tools can use it without loading the code location.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def dbt_executable() -> str:
    """The dbt of this interpreter's venv (works without activating it), else `dbt` on PATH, else `dbt`."""
    candidate = VENV_BIN / "dbt"
    return str(candidate) if candidate.exists() else (shutil.which("dbt") or "dbt")


# Unit tests check the SQL's branching on fixed fixtures, not the data, so they run in CI (`make dbt-test`) and not
# in every scheduled or benchmarked build (dbt's advice for production runs). Data tests still run in every build.
PRODUCTION_BUILD_EXCLUDES = ("--exclude-resource-type", "unit_test")
