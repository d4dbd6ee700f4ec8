"""A clear message when another process holds the DuckDB warehouse file.

DuckDB lets one process write a database file; a second process that opens it gets
``IO Error: Could not set lock on file "<file>": Conflicting lock is held in <program> (PID <n>)``.
``dbt build`` prints that line deep in its output and exits 2. This module turns it into a message that says
what to do, and ``lead-scoring build`` (``make build``) and the backfill use it as a guard:

    python -m lead_scoring.warehouse_lock --database DB [-- command ...]

checks that nobody holds DB (exit 75, EX_TEMPFAIL, with the message if someone does), then runs the command,
streaming its output; if the command fails on the DuckDB lock anyway (a run started in between), the message
is printed again and the exit code is 75. Nothing is written to the warehouse by the check.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

EXIT_LOCKED = 75  # EX_TEMPFAIL: try again later
LOCK_ERROR_MARKER = "Could not set lock on file"
_LOCK_RE = re.compile(
    r'Could not set lock on file "(?P<path>[^"]+)": Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)'
)


@dataclass(frozen=True)
class LockHolder:
    """Who holds the lock on a DuckDB file, as DuckDB reports it."""

    path: str
    program: str
    pid: int


def parse_lock_error(text: str) -> LockHolder | None:
    """The lock holder named in DuckDB's lock error inside `text` (any output), or None if there is none."""
    match = _LOCK_RE.search(text)
    if match is None:
        return None
    return LockHolder(path=match["path"], program=match["program"], pid=int(match["pid"]))


def lock_message(database: str, holder: LockHolder | None) -> str:
    """The actionable message for a warehouse that another process holds."""
    who = f"pid {holder.pid}, {holder.program}" if holder else "another process"
    return (
        f"error: another run is writing the warehouse {database} ({who}); DuckDB allows one writer per file. "
        "Wait for it to finish and run again (nothing was changed by this attempt). If that process is a "
        "BI tool or notebook with the file open, close its connection. If the pid no longer exists, the lock "
        "is already released: simply run again. In Dagster, runs share the pool `duckdb_warehouse` and queue "
        "instead of failing."
    )


def find_lock_holder(database: Path) -> LockHolder | None:
    """Try to open `database` for writing (and close it at once); the holder if DuckDB refuses on its lock.

    A file that does not exist yet is free (it is not created). Other errors propagate."""
    import duckdb

    if not database.exists():
        return None
    try:
        duckdb.connect(str(database)).close()
    except duckdb.IOException as exc:
        holder = parse_lock_error(str(exc))
        if holder is None and LOCK_ERROR_MARKER not in str(exc):
            raise
        return holder or LockHolder(path=str(database), program="unknown", pid=0)
    return None


def run_guarded(database: Path, command: Sequence[str], cwd: Path | None = None) -> int:
    """Refuse with the message if `database` is held, else run `command` (output streamed) and translate a lock
    failure in its output into the message. Returns the exit code (EXIT_LOCKED when refused). `cwd`: the
    command's working directory (default: this process's)."""
    holder = find_lock_holder(database)
    if holder is not None:
        print(lock_message(str(database), holder), file=sys.stderr)
        return EXIT_LOCKED
    if not command:
        return 0
    seen: LockHolder | None = None
    saw_marker = False
    with subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          cwd=None if cwd is None else str(cwd)) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            if LOCK_ERROR_MARKER in line:
                saw_marker = True
                seen = seen or parse_lock_error(line)
        code = proc.wait()
    if code != 0 and saw_marker:
        print(lock_message(str(database), seen), file=sys.stderr)
        return EXIT_LOCKED
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lead_scoring.warehouse_lock",
        description="Refuse clearly when another process holds the DuckDB warehouse; optionally run a command "
                    "(after --) when it is free.")
    parser.add_argument("--database", required=True, help="the DuckDB file")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- command and arguments to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    return run_guarded(Path(args.database), command)


if __name__ == "__main__":
    raise SystemExit(main())
