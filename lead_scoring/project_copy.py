"""Copy the dbt project (what `dbt build` reads, nothing else) to a scratch folder.

Used to re-score a warehouse with other rule seeds without touching the working tree: copy the project,
swap seed CSVs in the copy, build the copy against a copy of the warehouse.
"""
from __future__ import annotations

import shutil
from pathlib import Path

PROJECT_DIRS = ("models", "macros", "seeds", "tests/generic", "tests/singular", "analyses", "snapshots")
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "dependencies.yml", "selectors.yml")


def copy_project(src: Path | str, dst: Path | str) -> Path:
    """Copy the dbt project at `src` to `dst` (created): its model, macro, seed and test folders and its
    project files; not .venv, target, logs, the warehouse or the Python package. Returns `dst`."""
    src, dst = Path(src), Path(dst)
    if not (src / "dbt_project.yml").is_file():
        raise FileNotFoundError(f"{src} is not a dbt project (no dbt_project.yml)")
    dst.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_DIRS:
        if (src / name).is_dir():
            shutil.copytree(src / name, dst / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                            dirs_exist_ok=True)
    for name in PROJECT_FILES:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
    return dst
