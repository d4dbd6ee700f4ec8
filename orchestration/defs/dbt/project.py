"""The dbt project, built once for the whole code location (``dbt_project``), and the warehouse it writes.

``dg dev`` / ``dagster dev`` re-parse the project (``dbt parse``) so the manifest matches the working tree; a fresh
clone imported outside them prepares it once.
"""
import os
import shutil
from pathlib import Path

from dagster_dbt import DbtProject

from lead_scoring.dbt_cli import VENV_BIN
from lead_scoring.warehouse import PROJECT_ROOT, resolve_path

SEEDS_DIR = PROJECT_ROOT / "seeds"

if shutil.which("dbt") is None and (VENV_BIN / "dbt").exists():
    # `.venv/bin/dg dev` without an activated venv: the project preparer runs plain `dbt parse`.
    os.environ["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"

dbt_project = DbtProject(project_dir=PROJECT_ROOT, profiles_dir=PROJECT_ROOT)
dbt_project.prepare_if_dev()
if not dbt_project.manifest_path.exists():  # e.g. a fresh clone imported outside `dg dev`
    dbt_project.preparer.prepare(dbt_project)


def duckdb_path() -> Path:
    """The warehouse file: env LEAD_SCORING_DUCKDB_PATH, relative paths resolved against the repo root."""
    return resolve_path()
