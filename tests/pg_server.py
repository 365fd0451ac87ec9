"""A throwaway PostgreSQL server for tests and benchmarks (Debian's ``postgresql`` package).

``initdb`` and ``pg_ctl`` run as the ``postgres`` user when we are root (PostgreSQL refuses
to run as root), as ourselves otherwise; the server listens on 127.0.0.1 and a free port,
with its data and socket in a temporary folder that is removed when it stops.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path


def find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding ``initdb``, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """``start()`` a private server, ``new_database()`` per test, ``stop()`` at the end."""

    def __init__(self, *, durable: bool = False) -> None:
        bindir = find_bindir()
        if bindir is None:
            raise FileNotFoundError(
                "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); "
                "apt-get install postgresql"
            )
        self.bindir = bindir
        self.durable = durable  # False: fsync off, for tests; True: as shipped, for benchmarks
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="faceatlas-pg-"))
        self.user = "postgres"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self.url = f"postgresql://{self.user}@127.0.0.1:{self.port}"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> PostgresServer:
        data = self.root / "data"
        self._run("initdb", "-D", str(data), "-U", self.user, "--auth=trust", "-E", "UTF8", "-N")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        options += " -c max_connections=50"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            "pg_ctl",
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        return self

    def new_database(self) -> str:
        """A fresh empty database; returns its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url + "/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"{self.url}/{name}"

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url + "/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
