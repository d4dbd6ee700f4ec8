"""A throw-away PostgreSQL server for the engine tests: Debian's server binaries, a fresh cluster in a temporary
directory, on a free loopback port, trust authentication (nothing leaves the machine), stopped at the end.

When the binaries are missing, `ensure_binaries()` installs Debian's `postgresql` package (as root, with
apt-get) instead of skipping: the engine tests must run. PostgreSQL refuses to run as root, so as root the
server runs as the `postgres` system user the package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SERVER_USER = "postgres"


def find_bindir() -> Path | None:
    """The newest Debian PostgreSQL server bin directory (/usr/lib/postgresql/<major>/bin), or None."""
    candidates = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if (Path(p) / "postgres").is_file()]
    if not candidates:
        return None
    return max(candidates, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


def ensure_binaries() -> Path:
    """The server bin directory, installing Debian's postgresql package first when it is missing."""
    bindir = find_bindir()
    if bindir is not None:
        return bindir
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin and they cannot be installed "
            "here (needs root and apt-get). Install Debian's 'postgresql' package."
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"], check=True, env=env,
                   capture_output=True)
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("apt-get installed postgresql, but no server binaries appeared under /usr/lib/postgresql")
    return bindir


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int
    superuser: str = "postgres"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def dsn(self, dbname: str = "postgres", user: str | None = None) -> str:
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={user or self.superuser}"

    def _as_server_user(self, args: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", SERVER_USER, "--", *args]
        return args

    def start(self) -> "PostgresServer":
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            account = pwd.getpwnam(SERVER_USER)
            os.chown(self.root, account.pw_uid, account.pw_gid)
        subprocess.run(
            self._as_server_user([str(self.bindir / "initdb"), "-D", str(self.data_dir), "-A", "trust",
                                  "-U", self.superuser, "-E", "UTF8", "--locale=C.UTF-8"]),
            check=True, capture_output=True, text=True,
        )
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c TimeZone=UTC")
        subprocess.run(
            self._as_server_user([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-o", options,
                                  "-l", str(self.root / "server.log"), "-w", "-t", "60", "start"]),
            check=True, capture_output=True, text=True,
        )
        return self

    def stop(self) -> None:
        subprocess.run(
            self._as_server_user([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w",
                                  "stop"]),
            capture_output=True, text=True,
        )

    def execute(self, sql: str, dbname: str = "postgres", autocommit: bool = True) -> None:
        import psycopg2

        con = psycopg2.connect(self.dsn(dbname))
        con.autocommit = autocommit
        try:
            with con.cursor() as cur:
                cur.execute(sql)
        finally:
            con.close()

    def wait_ready(self, timeout: float = 30.0) -> None:
        import psycopg2

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg2.connect(self.dsn()).close()
                return
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def start_server() -> PostgresServer:
    """A new cluster in its own directory under the system temp dir (pytest's own temp dirs are private to the
    test user, and the server may run as another); `stop_server` removes it."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="lead-scoring-pg-"))
    server = PostgresServer(bindir=ensure_binaries(), root=root, port=free_port()).start()
    server.wait_ready()
    return server


def stop_server(server: PostgresServer) -> None:
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)
