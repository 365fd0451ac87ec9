"""PostgreSQL behind the catalog's SQLite dialect (psycopg 3), so every mixin runs unchanged.

The catalog's mixins speak SQLite; :class:`Connection` takes the same calls as a
``sqlite3.Connection`` and has each statement translated once (cached) by the rules of
:mod:`faceatlas.catalog._dialect`. It also carries what a statement cannot say:

- ``lastrowid``: an ``INSERT`` into a table with a one-column integer key gets
  ``RETURNING`` that key; an explicit key value moves the identity past it (``undo``
  re-inserts persons with their old ids);
- ``BEGIN IMMEDIATE`` -> ``BEGIN`` plus a transaction-scoped advisory lock: writers are
  serialised exactly as SQLite's single writer, readers never wait (MVCC); a transaction
  that names its files (``Catalog.transaction(files=...)``, a scan's write of one file)
  shares that lock and takes only its files' own, so scans on several machines write side
  by side without loss;
- ``PRAGMA integrity_check`` answers ``ok``, ``PRAGMA table_info`` reads
  ``information_schema``, other PRAGMAs do nothing; ``sqlite_master`` is a view;
- errors become the ``sqlite3`` exception of the same kind, so ``except sqlite3.X`` works;
- file names that are not UTF-8, which PostgreSQL's text cannot hold (see
  :func:`escape_name`).
"""

from __future__ import annotations

import functools
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from faceatlas.catalog._dialect import translate

URL_SCHEMES = ("postgresql://", "postgres://")

# One arbitrary 64-bit key: the catalog's single-writer lock (pg_advisory_xact_lock).
WRITER_LOCK_KEY = 0x66616365_61746C61  # "faceatla"
# Another, held only while migrations run, so two processes opening a new catalog at once
# do not both create its tables.
MIGRATION_LOCK_KEY = WRITER_LOCK_KEY + 1
# With a run's id, the key of the session lock its process holds while it runs (the
# two-integer keys never meet the one-bigint keys above): see Connection.run_alive.
RUN_LOCK_CLASS = 0x66616365  # "face"


def is_postgres_url(path: str) -> bool:
    """Whether a ``--db`` value names a PostgreSQL catalog rather than a SQLite file."""
    return str(path).startswith(URL_SCHEMES)


def redact(url: str) -> str:
    """The URL without its password, for messages and ``Catalog.path``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


# -- rows ------------------------------------------------------------------------------------
class Row(tuple):
    """A tuple that also answers ``row["name"]`` and ``keys()``, as ``sqlite3.Row`` does."""

    _keys: tuple[str, ...] = ()
    _index: dict[str, int] = {}  # noqa: RUF012 - replaced per subclass

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._index[key.lower()])
            except KeyError:
                raise IndexError(f"no column named {key!r}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._keys)


@functools.lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    index: dict[str, int] = {}
    for i, n in enumerate(names):
        index.setdefault(n.lower(), i)  # like sqlite3.Row: the first of equal names wins
    return type("Row", (Row,), {"_keys": names, "_index": index})


def _row_factory(cursor: Any) -> Any:
    desc = cursor.description
    if desc is None:
        return tuple
    names = tuple(d.name for d in desc)
    cls = _row_class(names)
    # only columns that may hold a file name are looked at (every row passes here)
    named = [i for i, n in enumerate(names) if "path" in n or n == "error"]
    if not named:
        return lambda values: tuple.__new__(cls, values)

    def row(values: Sequence[Any]) -> Row:
        if any(isinstance(values[i], str) and _ESCAPED.search(values[i]) for i in named):
            values = [unescape_name(v) if isinstance(v, str) else v for v in values]
        return tuple.__new__(cls, values)

    return row


# PostgreSQL's text must be valid UTF-8. A file name's bytes that are not (Python's
# surrogate escapes U+DC80-U+DCFF, one per byte) are stored as the characters U+10FC80-
# U+10FCFF of plane 16's private use area, which no naming scheme uses, and turned back
# when read: the name comes back as the same ``str``, and so as the same bytes.
_SURROGATE = re.compile("[\udc80-\udcff]")
_ESCAPED = re.compile("[\U0010fc80-\U0010fcff]")
_SHIFT = 0x10FC80 - 0xDC80


class NameBytes(bytes):
    """A file name that is not valid UTF-8, as its bytes: text, not a blob.

    ``_base.stored_text`` makes them; SQLite stores the bytes as text, this connection
    binds them escaped.
    """


def escape_name(text: str) -> str:
    """``text`` with surrogate escapes as characters PostgreSQL's text can hold."""
    return _SURROGATE.sub(lambda m: chr(ord(m.group()) + _SHIFT), text)


def unescape_name(text: str) -> str:
    """The inverse of :func:`escape_name`."""
    return _ESCAPED.sub(lambda m: chr(ord(m.group()) - _SHIFT), text)


_BEGIN = re.compile(
    r"^\s*BEGIN(\s+(DEFERRED|IMMEDIATE|EXCLUSIVE))?(\s+TRANSACTION)?\s*;?\s*$", re.I
)
_BEGIN_IN_SCRIPT = re.compile(
    r"(^|;)\s*BEGIN(\s+(DEFERRED|IMMEDIATE|EXCLUSIVE))?(\s+TRANSACTION)?\s*;", re.I
)
_PRAGMA = re.compile(
    r"^\s*PRAGMA\s+(\w+)\s*(?:\(\s*['\"]?(\w+)['\"]?\s*\)|=\s*(\S+))?\s*;?\s*$", re.I
)
# PRAGMAs read for an answer: what SQLite's file would say, or the server's equivalent.
_PRAGMA_ANSWERS: dict[str, tuple[Any, ...] | str] = {
    "wal_checkpoint": (0, 0, 0),  # (busy, log pages, checkpointed): nothing to checkpoint
    "page_size": (8192,),
    "page_count": "SELECT pg_database_size(current_database()) / 8192",
    "foreign_keys": (1,),
    "user_version": (0,),
    "journal_mode": ("wal",),
}
_INSERT = re.compile(
    r"^\s*(?:INSERT\s+OR\s+(?P<how>REPLACE|IGNORE|ABORT|FAIL|ROLLBACK)\s+|(?P<replace>REPLACE)\s+"
    r"|INSERT\s+)INTO\s+(?P<table>\"?\w+\"?)\s*(?:\((?P<cols>[^)]*)\))?",
    re.I,
)
_DDL = re.compile(r"^\s*(CREATE|ALTER|DROP)\b", re.I)


def _to_param(value: Any) -> Any:
    """What SQLite accepts and PostgreSQL types differently: bools, numpy scalars, names."""
    if isinstance(value, NameBytes):
        return escape_name(value.decode("utf-8", "surrogateescape"))
    if isinstance(value, str):
        return escape_name(value) if _SURROGATE.search(value) else value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if type(value).__module__ == "numpy":
        item = value.item() if hasattr(value, "item") else value
        return int(item) if isinstance(item, bool) else item
    return value


def _params(params: Sequence[Any] | Mapping[str, Any] | None) -> Any:
    if params is None:
        return None
    if isinstance(params, Mapping):
        return {k: _to_param(v) for k, v in params.items()}
    return [_to_param(v) for v in params]


@functools.cache
def _sqlite_error(exc_type: type) -> type[Exception]:
    import psycopg

    errors = psycopg.errors
    if issubclass(exc_type, errors.LockNotAvailable | errors.QueryCanceled):
        return sqlite3.OperationalError
    if issubclass(exc_type, psycopg.IntegrityError):
        return sqlite3.IntegrityError
    if issubclass(exc_type, psycopg.OperationalError | psycopg.ProgrammingError):
        return sqlite3.OperationalError
    if issubclass(exc_type, psycopg.DataError):
        return sqlite3.DataError
    if issubclass(exc_type, psycopg.InterfaceError):
        return sqlite3.InterfaceError
    return sqlite3.DatabaseError


# -- the connection ---------------------------------------------------------------------------
class Cursor:
    """The answer of one statement: rows (if any), ``rowcount`` and ``lastrowid``."""

    def __init__(self, rows: list[Any], rowcount: int, lastrowid: int | None) -> None:
        self._rows = rows
        self._pos = 0
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    def fetchone(self) -> Any:
        if self._pos >= len(self._rows):
            return None
        self._pos += 1
        return self._rows[self._pos - 1]

    def fetchall(self) -> list[Any]:
        rows, self._pos = self._rows[self._pos :], len(self._rows)
        return rows

    def fetchmany(self, size: int = 1) -> list[Any]:
        rows = self._rows[self._pos : self._pos + size]
        self._pos += len(rows)
        return rows

    def __iter__(self) -> Iterator[Any]:
        while (row := self.fetchone()) is not None:
            yield row


class Connection:
    """A psycopg 3 connection that takes ``sqlite3.Connection`` calls in SQLite's dialect.

    Autocommit outside explicit transactions, as the catalog's ``isolation_level=None``
    SQLite connection. Safe to share between threads (calls are serialised).
    """

    def __init__(self, url: str, *, timeout_s: float = 30.0) -> None:
        import psycopg
        from psycopg.types.numeric import FloatLoader

        try:
            self._conn = psycopg.connect(
                url,
                autocommit=True,
                row_factory=_row_factory,
                connect_timeout=max(1, int(timeout_s)),
            )
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise sqlite3.OperationalError(reason) from None
        # SUM and AVG of integers are NUMERIC in PostgreSQL; SQLite gives numbers.
        self._conn.adapters.register_loader("numeric", FloatLoader)
        self._lock = threading.RLock()
        self._tables: dict[str, dict[str, Any]] = {}
        self._translated: dict[tuple[str, bool, bool], tuple[str, str | None, str | None]] = {}
        # The writer lock waits as long as SQLite's busy timeout, then says busy.
        self._run(f"SET lock_timeout = '{int(timeout_s * 1000)}ms'", None)
        # As SQLite's WAL with synchronous=NORMAL: a crash never corrupts and at most loses
        # the last commits (a scan redoes those files), but a commit waits for no fsync.
        self._run("SET synchronous_commit = off", None)
        self.in_transaction = False

    # -- sqlite3.Connection's calls ---------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Cursor:
        special = self._special(sql)
        if special is not None:
            return special
        has = bool(params)
        with self._lock:
            pg_sql, key, returning = self._translate(sql, has, many=False)
            rows, rowcount = self._run(pg_sql, _params(params) if has else None)
            lastrowid = None
            if returning is not None:
                lastrowid = rows[0][0] if rows else None
                rows = []
            if key is not None:
                self._advance_identity(key)
            if _DDL.match(sql):
                self._tables.clear()
        return Cursor(rows, rowcount, lastrowid)

    def executemany(self, sql: str, seq: Iterable[Sequence[Any] | Mapping[str, Any]]) -> Cursor:
        batch = [_params(p) for p in seq]
        if not batch:
            return Cursor([], 0, None)
        with self._lock:
            pg_sql, key, _ = self._translate(sql, True, many=True)
            try:
                with self._conn.cursor() as cur:
                    cur.executemany(pg_sql, batch)
                    rowcount = cur.rowcount
            except Exception as exc:
                raise self._error(exc, pg_sql) from exc
            if key is not None:
                self._advance_identity(key)
        return Cursor([], rowcount, None)

    def executescript(self, script: str) -> Cursor:
        """Run several statements (no parameters); ``BEGIN IMMEDIATE;`` takes the lock."""
        text = translate(script, with_params=False)
        text = _BEGIN_IN_SCRIPT.sub(
            lambda m: f"{m.group(1)} BEGIN; SELECT pg_advisory_xact_lock({WRITER_LOCK_KEY});",
            text,
        )
        with self._lock:
            self._run(text, None)
            self._tables.clear()
        return Cursor([], -1, None)

    def begin_files(self, paths: Sequence[str]) -> None:
        """``BEGIN`` for a transaction that changes only these files' rows.

        It shares the writer lock (whole-catalog writers, such as a clustering or a
        correction, still run alone) and takes each file's own lock, in one order so that
        two writers never wait for each other in a circle.
        """
        with self._lock:
            self._run("BEGIN", None)
            self.in_transaction = True
            try:
                self._run(f"SELECT pg_advisory_xact_lock_shared({WRITER_LOCK_KEY})", None)
                for path in sorted(set(paths)):
                    self._run(
                        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", _params([path])
                    )
            except BaseException:
                self._run("ROLLBACK", None)
                self.in_transaction = False
                raise

    def commit(self) -> None:
        if self.in_transaction:
            self.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            self.execute("ROLLBACK")

    def close(self) -> None:
        self._conn.close()

    # -- what the catalog's base class needs --------------------------------------------------
    def migrate(self, migrations: Sequence[tuple[str, str]], stamp: str) -> None:
        """Apply missing named migrations, each with its record, under a lock.

        ``rowid`` is a real column here, so ``ORDER BY rowid`` lists them in applied order.
        """
        with self._lock:
            self._run("BEGIN", None)
            try:
                self._run(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})", None)
                self._run(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, "
                    "applied_at TEXT NOT NULL, rowid BIGINT GENERATED ALWAYS AS IDENTITY)",
                    None,
                )
                self._run(
                    "CREATE OR REPLACE VIEW sqlite_master AS "
                    "SELECT 'table'::text AS type, table_name::text AS name, "
                    "table_name::text AS tbl_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
                    "UNION ALL SELECT 'index', indexname::text, tablename::text "
                    "FROM pg_indexes WHERE schemaname = current_schema()",
                    None,
                )
                done = {r[0] for r in self._run("SELECT name FROM schema_migrations", None)[0]}
                for name, script in migrations:
                    if name in done:
                        continue
                    self._run(translate(script, with_params=False), None)
                    self._tables.clear()
                    self._run(
                        "INSERT INTO schema_migrations (name, applied_at) VALUES (%s, %s)",
                        [name, stamp],
                    )
            except BaseException:
                self._run("ROLLBACK", None)
                raise
            self._run("COMMIT", None)

    def hold_run_lock(self, run_id: int) -> None:
        """Mark this session as running the run ``run_id`` (a session lock).

        The server drops it when the connection goes (a killed scan, a lost machine), so
        :meth:`run_alive` tells a run marked ``running`` that was killed from a live one,
        while scans on other machines go on.
        """
        with self._lock:
            self._run("SELECT pg_advisory_lock(%s, %s)", [RUN_LOCK_CLASS, run_id])

    def release_run_lock(self, run_id: int) -> None:
        with self._lock:
            self._run("SELECT pg_advisory_unlock(%s, %s)", [RUN_LOCK_CLASS, run_id])

    def run_alive(self, run_id: int) -> bool:
        """Whether a session anywhere still runs ``run_id`` (holds its lock)."""
        with self._lock:
            got = self._run("SELECT pg_try_advisory_lock(%s, %s)", [RUN_LOCK_CLASS, run_id])
            if got[0][0][0]:
                self._run("SELECT pg_advisory_unlock(%s, %s)", [RUN_LOCK_CLASS, run_id])
            return not got[0][0][0]

    # -- internals ----------------------------------------------------------------------------
    def _run(self, sql: str, params: Any) -> tuple[list[Any], int]:
        try:
            with self._conn.cursor() as cur:
                cur.execute(sql, params, prepare=False if params is None else None)
                rows = cur.fetchall() if cur.description is not None else []
                return rows, cur.rowcount
        except Exception as exc:
            raise self._error(exc, sql) from exc

    def _error(self, exc: Exception, sql: str) -> Exception:
        import psycopg

        if not isinstance(exc, psycopg.Error):
            return exc
        kind = _sqlite_error(type(exc))  # type: ignore[arg-type]
        message = " ".join(str(exc).split())
        if isinstance(exc, psycopg.errors.LockNotAvailable):
            message = f"database is locked (busy: another writer holds the lock): {message}"
        return kind(message)

    def _special(self, sql: str) -> Cursor | None:
        """BEGIN/COMMIT/ROLLBACK and PRAGMAs, which have no translation but an answer."""
        head = sql.lstrip()[:8].upper()
        if head.startswith("BEGIN") and _BEGIN.match(sql):
            with self._lock:
                self._run("BEGIN", None)
                self.in_transaction = True
                try:
                    self._run(f"SELECT pg_advisory_xact_lock({WRITER_LOCK_KEY})", None)
                except BaseException:
                    self._run("ROLLBACK", None)
                    self.in_transaction = False
                    raise
            return Cursor([], -1, None)
        if head.startswith(("COMMIT", "END", "ROLLBACK")) and len(sql.split()) <= 2:
            with self._lock:
                self.in_transaction = False
                self._run("ROLLBACK" if head.startswith("ROLLBACK") else "COMMIT", None)
            return Cursor([], -1, None)
        if head.startswith("PRAGMA"):
            m = _PRAGMA.match(sql)
            name = m.group(1).lower() if m else ""
            if name in ("integrity_check", "quick_check"):
                self._run("SELECT 1", None)  # the server answers: the catalog is reachable
                return Cursor([_row_class((name,))(("ok",))], -1, None)
            if name == "table_info" and m and m.group(2):
                return Cursor(self._table_info_rows(m.group(2)), -1, None)
            if m and m.group(3) is None and name in _PRAGMA_ANSWERS:  # a read, not a setting
                answer = _PRAGMA_ANSWERS[name]
                if isinstance(answer, str):
                    answer = tuple(self._run(answer, None)[0][0])
                return Cursor([_row_class((name,) * len(answer))(answer)], -1, None)
            return Cursor([], -1, None)  # settings of SQLite's file: nothing to do here
        return None

    def _translate(
        self, sql: str, with_params: bool, *, many: bool
    ) -> tuple[str, str | None, str | None]:
        """The statement for psycopg, the table whose identity to advance, the RETURNING key."""
        cache_key = (sql, with_params, many)
        hit = self._translated.get(cache_key)
        if hit is not None:
            return hit
        text = translate(sql, with_params=with_params)
        advance = returning = None
        m = _INSERT.match(text)
        if m is not None:
            text, advance, returning = self._insert_rules(text, m, many=many)
        out = (text, advance, returning)
        if not _DDL.match(sql):  # a table's shape may change with DDL: do not keep those
            self._translated[cache_key] = out
        return out

    def _insert_rules(
        self, text: str, m: re.Match[str], *, many: bool
    ) -> tuple[str, str | None, str | None]:
        table = m.group("table").strip('"')
        info = self._table(table)
        how = "REPLACE" if m.group("replace") else (m.group("how") or "").upper()
        cols = (
            [c.strip().strip('"').lower() for c in m.group("cols").split(",")]
            if m.group("cols")
            else list(info["columns"])
        )
        body = f"INSERT INTO {m.group('table')}" + (
            f" ({m.group('cols')})" if m.group("cols") else ""
        )
        text = body + text[m.end() :]
        tail_at = re.search(r"\bRETURNING\b", text, re.I)
        head, tail = (text[: tail_at.start()], text[tail_at.start() :]) if tail_at else (text, "")
        head = head.rstrip().rstrip(";")
        if how == "IGNORE":
            head += " ON CONFLICT DO NOTHING"
        elif how == "REPLACE":
            target = next(
                (key for key in info["keys"] if set(key) <= set(cols)),
                None,
            )
            if target is not None:
                # as SQLite's REPLACE, the row becomes what was inserted: the columns it
                # names take the new values, the others their defaults (its key stays)
                rest = [c for c in info["columns"] if c not in target and c != info["identity"]]
                action = (
                    "DO UPDATE SET "
                    + ", ".join(
                        f"{c} = EXCLUDED.{c}" if c in cols else f"{c} = DEFAULT" for c in rest
                    )
                    if rest
                    else "DO NOTHING"
                )
                head += f" ON CONFLICT ({', '.join(target)}) {action}"
        pk = info["identity"]
        advance = table if pk is not None and pk in cols else None
        returning = None
        if not many and not tail and pk is not None:
            returning = pk
            tail = f" RETURNING {pk}"
        return head + (" " + tail.strip() if tail else ""), advance, returning

    def _table(self, table: str) -> dict[str, Any]:
        """Columns, keys (primary first, then unique) and the integer identity column."""
        key = table.lower()
        if key in self._tables:
            return self._tables[key]
        cols = self._run(
            "SELECT column_name, is_identity, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
            [key],
        )[0]
        keys = self._run(
            "SELECT i.indisprimary, array_agg(a.attname::text ORDER BY k.n) "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
            "JOIN pg_namespace s ON s.oid = c.relnamespace AND s.nspname = current_schema() "
            "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum "
            "WHERE c.relname = %s AND i.indisunique AND i.indpred IS NULL "
            "GROUP BY i.indexrelid, i.indisprimary ORDER BY i.indisprimary DESC, i.indexrelid",
            [key],
        )[0]
        identity = next((c[0] for c in cols if c[1] == "YES"), None)
        info = {
            "columns": [c[0] for c in cols],
            "keys": [list(k[1]) for k in keys],
            "identity": identity,
        }
        self._tables[key] = info
        return info

    def _advance_identity(self, table: str) -> None:
        """After rows with explicit ids, the next generated id must come after them."""
        col = self._table(table)["identity"]
        self._run(
            f"SELECT setval(seq, GREATEST((SELECT MAX({col}) FROM {table}), "
            f"pg_sequence_last_value(seq), 1)) "
            f"FROM (SELECT pg_get_serial_sequence('{table}', '{col}')::regclass AS seq) s",
            None,
        )

    def _table_info_rows(self, table: str) -> list[Any]:
        rows = self._run(
            "SELECT c.ordinal_position - 1, c.column_name::text, upper(c.data_type), "
            "CASE WHEN c.is_nullable = 'NO' THEN 1 ELSE 0 END, c.column_default, "
            "COALESCE((SELECT k.n FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) "
            "WITH ORDINALITY AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = k.attnum WHERE i.indrelid = (current_schema() || '.' || %s)"
            "::regclass AND i.indisprimary AND a.attname = c.column_name), 0) "
            "FROM information_schema.columns c WHERE c.table_schema = current_schema() "
            "AND c.table_name = %s ORDER BY c.ordinal_position",
            [table.lower(), table.lower()],
        )[0]
        cls = _row_class(("cid", "name", "type", "notnull", "dflt_value", "pk"))
        return [tuple.__new__(cls, tuple(r)) for r in rows]
