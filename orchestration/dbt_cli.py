"""Where the dbt CLI is: one answer for the Dagster resource, the weight suggestions and the backfill.

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
