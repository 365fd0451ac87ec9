"""Connection handling, transactions, locks and named migrations of the catalog."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from faceatlas.catalog import _postgres
from faceatlas.exceptions import CatalogBusyError, CatalogError

Migration = tuple[str, str]  # (name, SQL script)


def now() -> str:
    """UTC timestamp as ISO 8601 text, the catalog's time format."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class CatalogBase:
    """Opens the SQLite file, applies migrations, and hands out transactions."""

    #: Subclasses (mixins) append their named migrations, in order, to this list.
    migrations: Sequence[Migration] = ()

    def __init__(self, path: str | Path = "faceatlas.db", *, timeout_s: float = 30.0) -> None:
        self.path = str(path)
        self._lock_fd: int | None = None
        self._server_scan_lock = False
        #: True for a ``postgresql://`` catalog (see ``_postgres``): several writers at once.
        self.is_server = _postgres.is_postgres_url(self.path)
        if self.is_server:
            self._open_server(timeout_s)
            return
        in_memory = self.path == ":memory:"
        if not in_memory:
            parent = Path(self.path).resolve().parent
            if not parent.is_dir():
                raise CatalogError(
                    f"cannot create catalog {self.path}: folder {parent} does not exist"
                )
        try:
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE below), so a
            # writer takes the lock up front instead of failing half-way on upgrade.
            self.db = sqlite3.connect(
                self.path, timeout=timeout_s, isolation_level=None, check_same_thread=False
            )
            self.db.row_factory = sqlite3.Row
            if not in_memory:
                # WAL lets readers (the web gallery) work while a scan writes; NORMAL sync is
                # crash-safe in WAL mode (a kill never corrupts, at most loses the last commit).
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"cannot open catalog {self.path}: {exc}") from None

    def _open_server(self, timeout_s: float) -> None:
        url, self.path = self.path, _postgres.redact(self.path)
        try:
            server = _postgres.Connection(url, timeout_s=timeout_s)
            server.migrate(self.migrations, now())
            # it takes sqlite3.Connection's calls, which is all the mixins use
            self.db = server  # type: ignore[assignment]
        except ImportError:
            raise CatalogError(
                f"cannot open catalog {self.path}: PostgreSQL needs psycopg 3 "
                "(pip install 'faceatlas[postgres]')"
            ) from None
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"cannot open catalog {self.path}: {exc}") from None

    # -- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        self.release_scan_lock()
        self.db.close()

    def __enter__(self) -> CatalogBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self, *, files: Sequence[str] = ()) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception.

        ``files``: the transaction changes only these files' rows; a server catalog then
        locks just them, so scans on several machines write side by side (SQLite has one
        writer at a time whatever is said).
        """
        try:
            if files and self.is_server:
                self.db.begin_files(files)  # type: ignore[attr-defined]
            else:
                self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise CatalogBusyError(
                    f"catalog {self.path} is busy: another faceatlas process is writing to it"
                ) from None
            raise
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        return self.db.execute(sql, params).fetchall()

    # -- the scan lock -----------------------------------------------------------------
    def acquire_scan_lock(self) -> None:
        """Take the catalog's writer lock for a long job, or raise CatalogBusyError.

        An ``flock`` on ``<catalog>.lock``: the kernel drops it when the process dies, even
        on SIGKILL, so a killed scan never leaves a stale lock behind.
        """
        if self.is_server and not self._server_scan_lock:
            # A server catalog serialises each file's transaction itself (an advisory lock),
            # so scans from several machines may run at once: they only say they run.
            self.db.hold_scan_lock()  # type: ignore[attr-defined]
            self._server_scan_lock = True
        if self.path == ":memory:" or self.is_server or self._lock_fd is not None:
            return
        import fcntl

        fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise CatalogBusyError(
                f"catalog {self.path} is busy: a scan is already running (pid {holder}); "
                "wait for it to finish or stop it, then run again"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def release_scan_lock(self) -> None:
        if self._server_scan_lock:
            self.db.release_scan_lock()  # type: ignore[attr-defined]
            self._server_scan_lock = False
        if self._lock_fd is not None:
            import fcntl

            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- migrations --------------------------------------------------------------------
    def _migrate(self) -> None:
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        done = {r[0] for r in self.db.execute("SELECT name FROM schema_migrations")}
        for name, script in self.migrations:
            if name in done:
                continue
            # executescript commits implicitly, so the migration and its record are run as
            # one script inside an explicit transaction.
            self.db.executescript(
                "BEGIN IMMEDIATE;\n" + script + "\n"
                f"INSERT INTO schema_migrations (name, applied_at) VALUES ('{name}', '{now()}');\n"
                "COMMIT;"
            )

    def applied_migrations(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM schema_migrations ORDER BY rowid")]

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``"ok"`` for a healthy file."""
        return str(self.db.execute("PRAGMA integrity_check").fetchone()[0])

    # -- runs --------------------------------------------------------------------------
    def start_run(self, command: str, settings: dict[str, Any]) -> int:
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO runs (command, settings, started_at, status) VALUES (?, ?, ?, ?)",
                (command, json.dumps(settings, sort_keys=True), now(), "running"),
            )
            return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, summary: dict[str, Any], status: str = "done") -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE id = ?",
                (now(), status, json.dumps(summary, sort_keys=True), run_id),
            )

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.query("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))
        return [
            {
                **dict(r),
                "settings": json.loads(r["settings"] or "{}"),
                "summary": json.loads(r["summary"] or "{}"),
            }
            for r in rows
        ]
