"""Connection handling, transactions, locks and named migrations of the catalog."""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import json
import os
import sqlite3
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from faceatlas.catalog import _postgres
from faceatlas.exceptions import CatalogBusyError, CatalogError

Migration = tuple[str, str]  # (name, SQL script)


def now() -> str:
    """UTC timestamp as ISO 8601 text, the catalog's time format."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


# Text is read back with surrogate escapes, so that a file name that is not UTF-8 (stored as
# its bytes by :func:`stored_text`) comes back as the same ``str`` the walk found.
_decode_text = functools.partial(str, encoding="utf-8", errors="surrogateescape")


def stored_text(value: str | None) -> str | bytes | None:
    """``value`` as the catalog stores text: bind it as ``CAST(? AS TEXT)``.

    A file name that is not valid UTF-8 arrives as a ``str`` with surrogate escapes, which
    SQLite's driver refuses; it is stored as its original bytes instead (SQLite keeps text
    bytes as given), and read back as the same ``str``. Valid text is passed unchanged.
    PostgreSQL's text cannot hold such bytes: its connection stores them escaped
    (``_postgres.escape_name``), told apart from blobs by their type, ``NameBytes``.
    """
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _postgres.NameBytes(value.encode("utf-8", "surrogateescape"))
    return value


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("faceatlas")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree only
        return "unknown"


def _version_number(text: str) -> int:
    """``"1.2.3"`` -> 1002003, stored as SQLite's ``user_version`` (an int in the header)."""
    parts = [int("".join(c for c in p if c.isdigit()) or 0) for p in text.split(".")[:3]]
    parts += [0] * (3 - len(parts))
    return parts[0] * 1_000_000 + parts[1] * 1_000 + parts[2]


def _version_text(number: int) -> str:
    return f"{number // 1_000_000}.{number // 1_000 % 1_000}.{number % 1_000}"


# What a job keeps in reserve beside the catalog (``<catalog>.reserve``) while it holds the
# lock: when the disk fills up, freeing it lets the job still record how it ended ("failed",
# with the reason) instead of leaving its run "running", later shown "interrupted" as if
# its process had died. A few WAL frames of 4 KB are what that last write needs.
RESERVE_BYTES = 128 * 1024
# On a full disk the run is recorded with at most this many of its per-file errors.
ERRORS_KEPT_ON_FULL_DISK = 10


class DiskFullError(CatalogError):
    """The catalog's disk is full (SQLite's ``database or disk is full``, ENOSPC)."""


def _trimmed(summary: dict[str, Any]) -> dict[str, Any]:
    """``summary`` with its error list cut short, to be written in the space of the reserve."""
    errors = summary.get("errors")
    if not isinstance(errors, list) or len(errors) <= ERRORS_KEPT_ON_FULL_DISK:
        return summary
    return {
        **summary,
        "errors": errors[:ERRORS_KEPT_ON_FULL_DISK],
        "errors_not_recorded": len(errors) - ERRORS_KEPT_ON_FULL_DISK,
    }


def _lock_holder(text: str) -> str:
    """The lock file's ``"<pid> <command> <run id>"`` as words for the busy message."""
    words = text.split()
    if len(words) >= 3:
        return f"a {words[1]} (run {words[2]}, pid {words[0]}) is using it"
    if words:
        return f"another faceatlas process (pid {words[0]}) is using it"
    return "another faceatlas process is using it"


class CatalogBase:
    """Opens the SQLite file, applies migrations, and hands out transactions."""

    #: Subclasses (mixins) append their named migrations, in order, to this list.
    migrations: Sequence[Migration] = ()

    def __init__(self, path: str | Path = "faceatlas.db", *, timeout_s: float = 30.0) -> None:
        # "~/photos.db" from Python means the home folder, as it does in a shell
        self.path = str(path) if str(path) == ":memory:" else os.path.expanduser(str(path))
        self._lock_fd: int | None = None
        self._own_runs: set[int] = set()  # runs of this process, in a server catalog
        #: True when the file (or its folder) cannot be written: reading works, writing
        #: raises a one-line CatalogError.
        self.read_only = False
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
            self.read_only = os.path.exists(self.path) and not (
                os.access(self.path, os.W_OK) and os.access(parent, os.W_OK)
            )
        try:
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE below), so a
            # writer takes the lock up front instead of failing half-way on upgrade.
            target = self.path
            if self.read_only:
                target = "file:" + urllib.parse.quote(os.path.abspath(self.path)) + "?mode=ro"
                wal = self.path + "-wal"
                if not os.path.exists(wal) or os.path.getsize(wal) == 0:
                    # Closed cleanly (nothing waiting in the WAL): SQLite may read it without
                    # the shared-memory file it could not create on a read-only disk.
                    target += "&immutable=1"
            self.db = sqlite3.connect(
                target,
                timeout=timeout_s,
                isolation_level=None,
                check_same_thread=False,
                uri=self.read_only,
            )
            self.db.text_factory = _decode_text
            self.db.row_factory = sqlite3.Row
            if not in_memory:
                # Before anything is written: another program's file is left untouched.
                self._check_is_ours()
            if not in_memory and not self.read_only:
                # WAL lets readers (the web gallery) work while a scan writes; NORMAL sync is
                # crash-safe in WAL mode (a kill never corrupts, at most loses the last commit).
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            # deleted rows (forgotten faces) are overwritten, not left in free pages
            self.db.execute("PRAGMA secure_delete=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            known = self._environment_error(exc)
            if known is not None:
                raise known from None
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

    def _check_is_ours(self) -> None:
        """Refuse another program's SQLite file, or a catalog of a newer faceatlas.

        Only reads: the refused file is not changed by a byte.
        """
        tables = {
            r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if not tables or not self.migrations:
            return  # a new, empty file
        applied: set[str] = set()
        if "schema_migrations" in tables:
            with contextlib.suppress(sqlite3.DatabaseError):
                applied = {r[0] for r in self.db.execute("SELECT name FROM schema_migrations")}
        if self.migrations[0][0] not in applied:
            shown = ", ".join(sorted(tables)[:4]) + (", ..." if len(tables) > 4 else "")
            raise CatalogError(
                f"{self.path} is not a faceatlas catalog (an SQLite file with the tables "
                f"{shown}); it was left unchanged: give another --db"
            )
        unknown = sorted(applied - {name for name, _ in self.migrations})
        if unknown:
            written = int(self.db.execute("PRAGMA user_version").fetchone()[0])
            writer = f"faceatlas {_version_text(written)}" if written else "a newer faceatlas"
            raise CatalogError(
                f"catalog {self.path} was written by {writer}, and this is faceatlas "
                f"{_package_version()}: its schema has {len(unknown)} change(s) this version "
                f"does not know ({', '.join(unknown[:3])}); upgrade faceatlas to use it "
                "(the catalog was left unchanged)"
            )

    def _environment_error(self, exc: sqlite3.Error) -> CatalogError | None:
        """A one-line CatalogError for a cause outside faceatlas (full disk, read-only
        file, another writer), or ``None`` for anything else."""
        msg = str(exc).lower()
        if "disk is full" in msg or "no space" in msg:
            return DiskFullError(
                f"catalog {self.path}: the disk is full; the change in progress was rolled "
                "back and nothing written before it is lost: free some space and run again"
            )
        if "readonly" in msg or "read-only" in msg:
            return CatalogError(
                f"catalog {self.path} is read-only (the file, its folder or the disk): "
                "reading works, changing it does not; make it writable or copy it"
            )
        if "locked" in msg or "busy" in msg:
            return CatalogBusyError(self._busy_message())
        if "disk i/o error" in msg or "unable to open database" in msg:
            return CatalogError(
                f"catalog {self.path}: {exc} (is the disk full, gone, or the folder not writable?)"
            )
        return None

    def _busy_message(self) -> str:
        holder = ""
        with (
            contextlib.suppress(OSError),
            open(self.path + ".lock", encoding="utf-8", errors="replace") as fh,
        ):
            holder = fh.read(200)
        return (
            f"catalog {self.path} is busy: {_lock_holder(holder)}; wait for it to finish "
            "or stop it, then run again"
        )

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
            raise (self._environment_error(exc) or exc) from None
        try:
            yield self.db
            self.db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._rollback()
            known = self._environment_error(exc)
            if known is None:
                raise
            raise known from None
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        # SQLite rolls back by itself on some errors (a full disk): then there is nothing to do.
        if self.db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        return self.db.execute(sql, params).fetchall()

    # -- the scan lock -----------------------------------------------------------------
    def acquire_scan_lock(self) -> None:
        """Take the catalog's writer lock for a long job, or raise CatalogBusyError.

        An ``flock`` on ``<catalog>.lock``: the kernel drops it when the process dies, even
        on SIGKILL, so a killed scan never leaves a stale lock behind.
        """
        if self.path == ":memory:" or self.is_server or self._lock_fd is not None:
            # A server catalog serialises each file's transaction itself (an advisory lock),
            # so scans from several machines may run at once; each run says it is alive by a
            # lock of its own (start_run).
            return
        import fcntl

        if self.read_only:
            raise CatalogError(
                f"catalog {self.path} is read-only (the file, its folder or the disk): "
                "reading works, changing it does not; make it writable or copy it"
            )
        try:
            fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise CatalogError(
                f"catalog {self.path}: cannot create its lock file ({exc.strerror}); "
                "is the folder read-only?"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CatalogBusyError(self._busy_message()) from None
        try:
            self._lock_fd = fd
            self._write_lock(str(os.getpid()))
            self._make_reserve()
            # Holding the lock, no other process can be running a job here: a run still
            # marked running was killed (or its machine stopped) and is recorded as such.
            self._close_dead_runs()
        except BaseException:
            self.release_scan_lock()
            raise

    def _write_lock(self, text: str) -> None:
        """Say in the lock file who holds it (the busy message of others reads it)."""
        if self._lock_fd is None:
            return
        with contextlib.suppress(OSError):  # a full disk must not stop the job for this
            os.ftruncate(self._lock_fd, 0)
            os.pwrite(self._lock_fd, text.encode(), 0)

    def _dead_runs(self, running: list[int]) -> list[int]:
        """Of the runs marked ``running``, those whose process is gone."""
        if not running:
            return []
        if self.is_server:  # a session may take its own lock again: ours are alive
            alive = self.db.run_alive  # type: ignore[attr-defined]
            return [i for i in running if i not in self._own_runs and not alive(i)]
        return running if self._lock_is_free() else []

    def _lock_is_free(self) -> bool:
        """Whether no process holds the catalog's job lock (probed without waiting)."""
        if self.path == ":memory:" or self._lock_fd is not None:
            return False  # its runs live in this process, or this catalog holds the lock
        import fcntl

        try:
            fd = os.open(self.path + ".lock", os.O_RDONLY)
        except OSError:
            return True  # no lock file: no job ever ran, or it is gone with its process
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        finally:
            os.close(fd)  # closing drops the probe's shared lock
        return True

    def _close_dead_runs(self, ids: list[int] | None = None) -> int:
        """Record runs still marked ``running`` (all, or these) as ``interrupted``."""
        which = "" if ids is None else f" AND id IN ({', '.join(str(int(i)) for i in ids)})"
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = COALESCE(finished_at, ?) "
                "WHERE status = 'running'" + which,
                (now(),),
            )
            return cur.rowcount

    def _make_reserve(self) -> None:
        """Set :data:`RESERVE_BYTES` aside in ``<catalog>.reserve`` (see there); best effort."""
        where = self.path + ".reserve"
        try:
            fd = os.open(where, os.O_WRONLY | os.O_CREAT, 0o644)
        except OSError:
            return
        try:
            os.posix_fallocate(fd, 0, RESERVE_BYTES)
        except OSError:  # the disk is full already: no reserve, the job goes on
            with contextlib.suppress(OSError):
                os.unlink(where)
        finally:
            os.close(fd)

    def _free_reserve(self) -> bool:
        """Give the reserve back to the disk; whether there was one."""
        if self._lock_fd is None:
            return False
        try:
            os.unlink(self.path + ".reserve")
        except OSError:
            return False
        return True

    def release_scan_lock(self) -> None:
        if self._lock_fd is not None:
            import fcntl

            self._free_reserve()
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- migrations --------------------------------------------------------------------
    def _migrate(self) -> None:
        if not self.read_only:
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
        try:
            done = {r[0] for r in self.db.execute("SELECT name FROM schema_migrations")}
        except sqlite3.OperationalError:  # a read-only empty file
            done = set()
        pending = [(n, s) for n, s in self.migrations if n not in done]
        if pending and self.read_only:
            raise CatalogError(
                f"catalog {self.path} is read-only and needs an upgrade by this version of "
                "faceatlas first: make it writable and run any command once"
            )
        if pending:
            # Who wrote the schema last: a version that does not know it names this one.
            mine = _version_number(_package_version())
            if int(self.db.execute("PRAGMA user_version").fetchone()[0]) < mine:
                self.db.execute(f"PRAGMA user_version = {mine}")
        for name, script in pending:
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
        """Record a run as ``running``; with the job lock held, name it in the lock file."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO runs (command, settings, started_at, status) VALUES (?, ?, ?, ?)",
                (command, json.dumps(settings, sort_keys=True), now(), "running"),
            )
            run_id = int(cur.lastrowid or 0)
        if self.is_server:
            self.db.hold_run_lock(run_id)  # type: ignore[attr-defined]
            self._own_runs.add(run_id)
        self._write_lock(f"{os.getpid()} {command} {run_id}")
        return run_id

    def finish_run(self, run_id: int, summary: dict[str, Any], status: str = "done") -> None:
        """Record how a run ended; on a full disk, in the space of the job's reserve.

        Raises
        ------
        CatalogError
            If the write fails and there is no reserve to free (or it was not enough).
        """
        try:
            self._record_end(run_id, summary, status)
        except CatalogError:
            # a full disk, or SQLite's "disk I/O error" when it is the WAL index that cannot
            # grow: either way, the reserve's space is what the record needs
            if not self._free_reserve():
                raise
            self._record_end(run_id, _trimmed(summary), status)

    def _record_end(self, run_id: int, summary: dict[str, Any], status: str) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE id = ?",
                (now(), status, json.dumps(summary, sort_keys=True), run_id),
            )
        if run_id in self._own_runs:
            self.db.release_run_lock(run_id)  # type: ignore[attr-defined]
            self._own_runs.discard(run_id)

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest runs, newest first.

        A run still marked ``running`` whose process is gone (nobody holds the catalog's
        lock; in PostgreSQL, nobody holds the run's own) was killed: it is recorded (or, in a
        read-only catalog, shown) as ``interrupted``.
        """
        sql = "SELECT * FROM runs ORDER BY id DESC LIMIT ?"
        rows = [dict(r) for r in self.query(sql, (limit,))]
        dead = self._dead_runs([r["id"] for r in rows if r["status"] == "running"])
        if dead:
            if not self.read_only:
                with contextlib.suppress(CatalogError):
                    self._close_dead_runs(dead)
                    rows = [dict(r) for r in self.query(sql, (limit,))]
            for r in rows:
                if r["id"] in dead:
                    r["status"] = "interrupted"
        return [
            {
                **r,
                "settings": json.loads(r["settings"] or "{}"),
                "summary": json.loads(r["summary"] or "{}"),
            }
            for r in rows
        ]
