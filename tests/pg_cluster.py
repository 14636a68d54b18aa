"""A throwaway PostgreSQL cluster in a temp dir on a free loopback port, for tests and benchmarks.

initdb refuses to run as root, so when we are root the cluster is owned and run by the
`postgres` system user (runuser); otherwise it runs as the current user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def _find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return None


def available() -> bool:
    """True when initdb and pg_ctl can be found on this machine."""
    return bool(_find_binary("initdb") and _find_binary("pg_ctl"))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    datadir: Path
    port: int
    user: str
    as_postgres: bool

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(_find_binary("pg_ctl") or "pg_ctl", "-D", str(self.datadir), "-m", "immediate", "stop")
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def start() -> Cluster:
    """initdb + pg_ctl start a new cluster; returns it with a superuser URL (trust auth, loopback only)."""
    initdb, pg_ctl = _find_binary("initdb"), _find_binary("pg_ctl")
    if not (initdb and pg_ctl):
        raise RuntimeError("PostgreSQL binaries initdb/pg_ctl not found")
    as_postgres = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="sis-pg-"))
    datadir = base / "data"
    user = "postgres" if as_postgres else os.environ.get("USER", "postgres")
    if as_postgres:
        shutil.chown(base, user="postgres")
        base.chmod(0o700)
    cluster = Cluster(datadir=datadir, port=_free_port(), user=user, as_postgres=as_postgres)
    cluster._run(initdb, "-D", str(datadir), "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync")
    opts = (
        f"-c listen_addresses=127.0.0.1 -c port={cluster.port} -c unix_socket_directories={base} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
    )
    cluster._run(pg_ctl, "-D", str(datadir), "-o", opts, "-l", str(base / "log"), "-w", "start")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", cluster.port), timeout=1):
                return cluster
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("PostgreSQL did not start listening in time")


if __name__ == "__main__":
    # Development aid: start a cluster and print its URL; stop it with pg_ctl or by deleting the dir.
    c = start()
    print(c.url)
    print(c.datadir)
