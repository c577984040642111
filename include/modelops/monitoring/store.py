"""The monitoring store: a small time-series database on SQLite or PostgreSQL.

DDL lives in ``sql/<dialect>/NNNN_*.sql`` (the repository's top-level ``sql/`` links here so a wheel
carries it). :meth:`MonitoringStore.migrate` applies the files in order, once each, recording them in
``modelops_schema_migrations``. Queries go through SQLAlchemy Core ``text()`` with bound parameters
so the same statement runs on both dialects.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from modelops.settings import ENV_STORE_URL, SettingsError

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
_DIALECT_DIRS = {"sqlite": "sqlite", "postgresql": "postgresql"}
# How long MonitoringStore.locked waits for a holder; SQLite's busy timeout on the engine is the same.
LOCK_WAIT_S = 30


class StoreUnavailableError(RuntimeError):
    """The monitoring store cannot be reached or written. The message is one line naming the URL."""


def normalize_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs (psycopg2 is not installed)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and status output."""
    try:
        return make_url(normalize_url(url)).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_datetime(value: Any) -> datetime:
    """Timestamps come back as ``datetime`` from PostgreSQL and as ISO text from SQLite."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class MonitoringStore:
    """Access to the monitoring store at ``url`` (any SQLAlchemy URL; SQLite and PostgreSQL have DDL)."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        try:
            self.dialect = make_url(self.url).get_backend_name()
        except ArgumentError as exc:
            raise SettingsError(f"{ENV_STORE_URL}={url!r} is not a database URL: {exc}") from exc
        if self.dialect not in _DIALECT_DIRS:
            raise SettingsError(f"{ENV_STORE_URL}: dialect {self.dialect!r} is not supported (use sqlite or postgresql)")

    @cached_property
    def engine(self) -> Engine:
        try:
            if self.dialect == "sqlite":
                engine = sa.create_engine(self.url, connect_args={"timeout": 30})
                sa.event.listen(engine, "connect", _sqlite_pragmas)
                return engine
            return sa.create_engine(self.url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
        except (ArgumentError, NoSuchModuleError) as exc:
            raise SettingsError(f"{ENV_STORE_URL}={safe_url(self.url)}: {exc}") from exc

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction; connection failures become :class:`StoreUnavailableError` with one line."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise StoreUnavailableError(f"{ENV_STORE_URL}={safe_url(self.url)}: cannot use the store: {first}") from exc

    @contextmanager
    def locked(self, name: str) -> Iterator[Connection]:
        """A transaction holding the exclusive lock ``name`` until the block exits.

        Commits on normal exit and rolls back on an exception, like :meth:`begin`. Holders of the same
        name are serialized across threads and processes sharing the store. On PostgreSQL the lock is a
        row lock on ``modelops_locks`` (other names do not wait); on SQLite it is the database write lock
        (``BEGIN IMMEDIATE``), so every writer of the file waits, whatever the name. Waiting is bounded
        by :data:`LOCK_WAIT_S`; a timeout raises :class:`StoreUnavailableError` naming the lock.
        Inside the block, take further locks with :meth:`lock_within` on the yielded connection (a second
        :meth:`locked` in the same thread would wait for itself on SQLite).

        :param name: the lock's name, e.g. ``registry:churn_classifier``.
        """
        with self.begin() as conn:
            if self.dialect == "sqlite":
                # pysqlite opens transactions lazily and deferred; a deferred transaction that has read
                # can get SQLITE_BUSY instead of waiting, so take the write lock before anything else.
                self._lock_statement(conn, name, "BEGIN IMMEDIATE", {})
            self.lock_within(conn, name)
            yield conn

    def lock_within(self, conn: Connection, name: str) -> None:
        """Take the lock ``name`` inside the caller's transaction ``conn``; released when it ends.

        The lock statement is an ``UPDATE`` of the lock's row: PostgreSQL holds the row lock to the end
        of the transaction and makes other takers wait; on SQLite the write itself takes the database lock.

        :param conn: a connection inside a transaction, usually the one :meth:`locked` yielded.
        :param name: the lock's name.
        """
        if self.dialect == "postgresql":
            # Without a bound, a holder stuck on a dead client would block takers forever.
            self._lock_statement(conn, name, f"SET LOCAL lock_timeout = '{int(LOCK_WAIT_S * 1000)}ms'", {})
        # The row may not exist yet; concurrent first takers both succeed (one inserts, one waits then skips).
        row = {"n": name}
        self._lock_statement(
            conn, name, "INSERT INTO modelops_locks (name, token) VALUES (:n, 0) ON CONFLICT (name) DO NOTHING", row
        )
        self._lock_statement(conn, name, "UPDATE modelops_locks SET token = token + 1 WHERE name = :n", row)

    def _lock_statement(self, conn: Connection, name: str, sql: str, params: Mapping[str, Any]) -> None:
        try:
            conn.execute(sa.text(sql), params)
        except OperationalError as exc:
            first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise StoreUnavailableError(f"{ENV_STORE_URL}={safe_url(self.url)}: cannot take lock {name!r}: {first}") from exc

    def migrate(self) -> list[str]:
        """Apply pending DDL files in order. Returns the names applied now (idempotent)."""
        directory = SQL_DIR / _DIALECT_DIRS[self.dialect]
        with self.begin() as conn:
            conn.execute(
                sa.text(
                    "CREATE TABLE IF NOT EXISTS modelops_schema_migrations "
                    "(name VARCHAR(200) PRIMARY KEY, applied_at VARCHAR(40) NOT NULL)"
                )
            )
            if self.dialect == "postgresql":
                # Concurrent first starts (several tasks at once) must not race on the DDL.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(724011)"))
            done = {row[0] for row in conn.execute(sa.text("SELECT name FROM modelops_schema_migrations"))}
            applied = []
            for path in sorted(directory.glob("*.sql")):
                if path.name in done:
                    continue
                for statement in split_statements(path.read_text()):
                    conn.exec_driver_sql(statement)
                conn.execute(
                    sa.text("INSERT INTO modelops_schema_migrations (name, applied_at) VALUES (:n, :t)"),
                    {"n": path.name, "t": utcnow().isoformat()},
                )
                applied.append(path.name)
        if applied:
            log.info("monitoring store %s: applied %s", safe_url(self.url), ", ".join(applied))
        return applied

    def execute(self, sql: str, params: Mapping[str, Any] | list[Mapping[str, Any]] | None = None) -> None:
        with self.begin() as conn:
            conn.execute(sa.text(sql), params or {})

    def fetch_all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        with self.begin() as conn:
            return [dict(row._mapping) for row in conn.execute(sa.text(sql), params or {})]

    def server_version(self) -> str:
        with self.begin() as conn:
            if self.dialect == "sqlite":
                return "SQLite " + str(conn.execute(sa.text("SELECT sqlite_version()")).scalar())
            return str(conn.execute(sa.text("SHOW server_version")).scalar()).join(("PostgreSQL ", ""))

    def record_check(self, component: str, ok: bool, detail: str) -> int:
        """Write one health probe row and read it back; returns its id (proves read and write)."""
        with self.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO platform_checks (checked_at, component, ok, detail) VALUES (:t, :c, :ok, :d)"),
                {"t": utcnow(), "c": component, "ok": ok, "d": detail},
            )
            row = conn.execute(
                sa.text("SELECT id, component FROM platform_checks WHERE component = :c ORDER BY id DESC LIMIT 1"),
                {"c": component},
            ).one()
        return int(row[0])

    def dispose(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()


def split_statements(script: str) -> list[str]:
    """Split a DDL file on ``;`` at line ends, dropping comments-only chunks."""
    chunks, current = [], []
    for line in script.splitlines():
        current.append(line)
        if line.rstrip().endswith(";"):
            chunks.append("\n".join(current))
            current = []
    if "".join(current).strip():
        chunks.append("\n".join(current))
    statements = []
    for chunk in chunks:
        body = "\n".join(ln for ln in chunk.splitlines() if not ln.strip().startswith("--")).strip()
        if body:
            statements.append(body.rstrip(";"))
    return statements


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets the API server read while a task writes; NORMAL sync is safe with WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_store(url: str, *, migrate: bool = True) -> MonitoringStore:
    """Open (and by default migrate) the store; errors are :class:`SettingsError`/:class:`StoreUnavailableError`."""
    store = MonitoringStore(url)
    if migrate:
        try:
            store.migrate()
        except SQLAlchemyError as exc:
            raise StoreUnavailableError(f"{ENV_STORE_URL}={safe_url(url)}: migration failed: {exc}") from exc
    return store
