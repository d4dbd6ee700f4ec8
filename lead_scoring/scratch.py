"""Scratch builds: score a copy of the warehouse with other seeds or at another `as_of`, never the warehouse itself.

    with scratch_build(project_dir, database, as_of, overlay=candidate_seeds) as build:
        ...  # read build.database (a DuckDB file in the scratch folder)

How (each step a small function below):
1. :func:`read_overlay` reads the candidate seed folder: only the CSV files present, each must be a seed of the
   project (an unknown file name is refused, naming it and the known ones) with the same header as the project's
   seed (a file with another header is refused, naming it and the columns that differ).
2. :func:`copy_project` (lead_scoring.project_copy) copies the dbt project to ``<scratch>/project``, and the
   overlay's files replace the copy's seeds (only those; the others stay as in the project).
3. The DuckDB warehouse file (and its ``.wal``) is copied, under the same file name, to ``<scratch>/warehouse``:
   the production file is only ever read (a byte copy), never opened for writing.
4. ``dbt build`` of the selection (default :data:`REPLAY_SELECTION`: ``+lead_scores +lead_score_reasons``, i.e.
   everything they are built from: seeds, staging, intermediate) at `as_of`, against the copy, with dbt's
   target and logs in the scratch folder. Data tests run only when all their parents are selected (cautious
   indirect selection: a test of a model left out would compare it with the replay). Staging depends on `as_of` (events after it and lead versions created
   after it are dropped), so a replay at an earlier instant rebuilds the whole upstream, not only the seed path;
   the incremental event models rebuild themselves in full when `as_of` moves earlier (docs/incremental.md).
   The history models are not selected: a scratch build adds nothing to the score history of the copy.
5. The scratch folder is removed on exit, unless ``keep`` (then its path is printed by the CLI callers).

A dbt failure raises :class:`ScratchError` with the tail of dbt's output and, when seeds were overlaid, the
candidate files named, so a bad candidate seed is reported by file.

`lead_scoring.weights.rescore` is a thin wrapper over :func:`build_copy` (its seed-path selection).
"""
from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lead_scoring.clock import dbt_vars, format_as_of
from lead_scoring.dbt_cli import PRODUCTION_BUILD_EXCLUDES, dbt_executable
from lead_scoring.project_copy import copy_project

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# Everything the scores and their reasons are built from (seeds, staging, intermediate): a replay at another
# as_of must rebuild all of it, since staging filters on as_of.
REPLAY_SELECTION = ("+lead_scores", "+lead_score_reasons")


class ScratchError(RuntimeError):
    """A candidate seed folder or a scratch build that cannot be used (unknown file, bad seed, dbt failure)."""


@dataclass
class ScratchBuild:
    root: Path  # the scratch folder
    project: Path  # the copied dbt project (seeds overlaid)
    database: Path  # the copied and rebuilt DuckDB file
    as_of: str
    selection: tuple[str, ...]
    overlaid: list[str] = field(default_factory=list)  # seed file names replaced by the overlay


# --------------------------------------------------------------------------------------------------
# Candidate seed folders
# --------------------------------------------------------------------------------------------------
def project_seed_names(project_dir: Path | str) -> list[str]:
    """The seed CSV file names of the dbt project (its ``seeds/`` folder)."""
    return sorted(p.name for p in (Path(project_dir) / "seeds").glob("*.csv"))


def _header(text: str) -> list[str]:
    first = next(csv.reader(io.StringIO(text, newline="")), None)
    return [c.strip() for c in first] if first else []


def read_overlay(seeds_dir: Path | str, project_dir: Path | str = PROJECT_ROOT) -> dict[str, str]:
    """The CSV files of a candidate seed folder (file name -> text), checked against the project's seeds.

    Only ``*.csv`` files count (a report beside them, e.g. ``*.md`` or ``*.json``, is ignored). Refused, with the
    file named: a CSV that is not a seed of the project, an empty file, a header that differs from the project's
    seed. A folder without any seed CSV is refused too."""
    folder = Path(seeds_dir)
    if not folder.is_dir():
        raise ScratchError(f"candidate seed folder {folder} does not exist")
    known = project_seed_names(project_dir)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
    unknown = [p.name for p in files if p.name not in known]
    if unknown:
        raise ScratchError(f"{folder}: {', '.join(unknown)} {'is not a seed' if len(unknown) == 1 else 'are not seeds'}"
                           f" of the project (known seed files: {', '.join(known)})")
    if not files:
        raise ScratchError(f"{folder} holds no seed CSV file (expected some of: {', '.join(known)})")
    overlay = {}
    for path in files:
        text = path.read_text(encoding="utf-8")
        header = _header(text)
        if not header:
            raise ScratchError(f"{path}: empty seed file (a seed needs at least its header line)")
        expected = _header((Path(project_dir) / "seeds" / path.name).read_text(encoding="utf-8"))
        if header != expected:
            missing = [c for c in expected if c not in header]
            extra = [c for c in header if c not in expected]
            detail = "; ".join(s for s in (f"missing {missing}" if missing else "",
                                           f"unexpected {extra}" if extra else "",
                                           "columns in another order" if not missing and not extra else "") if s)
            raise ScratchError(f"{path}: header differs from seeds/{path.name} ({detail})")
        overlay[path.name] = text
    return overlay


# --------------------------------------------------------------------------------------------------
# The build
# --------------------------------------------------------------------------------------------------
def copy_database(database: Path, folder: Path) -> Path:
    """A byte copy of the DuckDB file (and its .wal) in `folder`, under the same name (the DuckDB catalog, and
    the views dbt created in it, are named after the file). The original is only read: a read-only connection
    is held during the copy, so no writer (a build, Dagster) can change the file half-way; if one holds it, the
    copy is refused with the project's lock message."""
    import duckdb

    from lead_scoring.warehouse_lock import LOCK_ERROR_MARKER, lock_message, parse_lock_error

    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / database.name
    try:
        con = duckdb.connect(str(database), read_only=True)
    except duckdb.IOException as exc:
        if LOCK_ERROR_MARKER in str(exc):
            raise ScratchError(lock_message(str(database), parse_lock_error(str(exc)))) from exc
        raise
    try:
        shutil.copyfile(database, copy)
        wal = database.with_name(database.name + ".wal")
        if wal.exists():
            shutil.copyfile(wal, copy.with_name(copy.name + ".wal"))
    finally:
        con.close()
    return copy


def _seed_nodes(file_name: str) -> set[str]:
    """dbt node names that stand for a seed file: the seed itself and its staging model (stg_rules__<name>)."""
    stem = Path(file_name).stem
    short = {stem, stem.removeprefix("scoring_"), stem.removeprefix("ref_")}
    return {stem} | {f"stg_rules__{s}" for s in short}


def _dbt_failure(proc: subprocess.CompletedProcess, overlay: Mapping[str, str], seeds_dir: str | None) -> str:
    """The error message of a failed scratch build: dbt's error summary, and the candidate file(s) it names."""
    lines = [line.rstrip() for line in proc.stdout.splitlines()]
    starts = [i for i, line in enumerate(lines) if "Completed with" in line]
    summary = lines[starts[-1]:] if starts else lines[-40:]
    summary_text = "\n".join(summary[:60])
    what = "dbt build in the scratch copy"
    if overlay:
        where = f" from {seeds_dir}" if seeds_dir else ""
        culprits = [name for name in sorted(overlay) if any(node in summary_text for node in _seed_nodes(name))]
        if culprits:
            what = f"candidate seed {', '.join(culprits)}{where} is refused by the build"
        else:
            what += f" with the candidate seeds{where} ({', '.join(sorted(overlay))})"
    return f"{what} (dbt exit {proc.returncode}):\n{summary_text}\n{proc.stderr[-1500:]}".rstrip()


def build_copy(project_dir: Path | str, database: Path | str, scratch: Path | str, as_of: str,
               overlay: Mapping[str, str] | None = None, selection: Sequence[str] = REPLAY_SELECTION,
               extra_args: Sequence[str] = (), seeds_dir: str | None = None) -> ScratchBuild:
    """Copy the project and the warehouse to `scratch`, overlay the seeds, `dbt build` the selection at
    `as_of` against the copy. Returns the :class:`ScratchBuild` (the folder is left in place)."""
    database, scratch = Path(database).resolve(), Path(scratch)
    if not database.exists():
        raise ScratchError(f"warehouse {database} does not exist: build it first (make build)")
    overlay = dict(overlay or {})
    project = copy_project(project_dir, scratch / "project")
    for name, text in overlay.items():
        (project / "seeds" / name).write_text(text, encoding="utf-8", newline="")
    db_copy = copy_database(database, scratch / "warehouse")
    as_of = format_as_of(as_of)
    cmd = [dbt_executable(), "build", "--select", *selection, "--indirect-selection", "cautious", *extra_args,
           *PRODUCTION_BUILD_EXCLUDES,
           "--vars", dbt_vars(as_of), "--target-path", str(scratch / "target"), "--log-path", str(scratch / "logs")]
    env = {**os.environ, "LEAD_SCORING_DUCKDB_PATH": str(db_copy), "DBT_PROFILES_DIR": str(project),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_USE_COLORS": "false"}
    proc = subprocess.run(cmd, cwd=str(project), env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ScratchError(_dbt_failure(proc, overlay, seeds_dir))
    return ScratchBuild(root=scratch, project=project, database=db_copy, as_of=as_of, selection=tuple(selection),
                        overlaid=sorted(overlay))


@contextmanager
def scratch_build(project_dir: Path | str, database: Path | str, as_of: str, seeds_dir: Path | str | None = None,
                  overlay: Mapping[str, str] | None = None, selection: Sequence[str] = REPLAY_SELECTION,
                  scratch_dir: Path | str | None = None, keep: bool = False) -> Iterator[ScratchBuild]:
    """:func:`build_copy` in a scratch folder (`scratch_dir`, else a new temporary folder), removed on exit
    unless `keep`. `seeds_dir`: a candidate seed folder (read by :func:`read_overlay`); `overlay`: file name ->
    CSV text (both may be given; `overlay` wins)."""
    files = dict(read_overlay(seeds_dir, project_dir)) if seeds_dir else {}
    files.update(overlay or {})
    root = Path(scratch_dir) if scratch_dir else Path(tempfile.mkdtemp(prefix="lead_scoring_scratch_"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        yield build_copy(project_dir, database, root, as_of, files, selection,
                         seeds_dir=str(seeds_dir) if seeds_dir else None)
    finally:
        if keep:
            print(f"scratch build kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
