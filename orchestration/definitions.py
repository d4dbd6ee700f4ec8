"""The Dagster code location of the lead-scoring warehouse: `dg dev` (or `make dev`), `dg check defs`.

Everything is defined in the ``orchestration/defs/`` tree, one folder per concern, and loaded from there
(``[tool.dg]`` in pyproject.toml names this module and the defs module).
"""
from pathlib import Path

import dagster as dg

defs = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
