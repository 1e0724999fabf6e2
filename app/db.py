"""Engine creation and the one place that owns transactions.

SQLite is the single-machine default: WAL, a busy timeout and ``BEGIN IMMEDIATE`` so that
every transaction takes the write lock up front (no deadlock on a read-then-write upgrade).
PostgreSQL is the scale-out path: claims use ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, String, Table, TypeDecorator, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

from connectors.crm import Crm

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            # One connection per checkout keeps SQLite's locking simple across threads.
            poolclass=NullPool if parsed.database in (None, "", ":memory:") else None,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


class Database:
    """Holds the engine and hands out transactions; services never commit."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer. Threads of this process queue on this lock instead of on
        # SQLite's busy handler, whose back-off sleeps (up to 100 ms) would wreck latency.
        # Other processes (a separate `relais worker`) still wait on the busy timeout.
        self._write_lock: threading.Lock | None = (
            threading.Lock() if self.engine.dialect.name == "sqlite" else None
        )
        self._local = threading.local()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any error."""
        if self._write_lock is None:
            with self._sessions() as session, session.begin():
                yield session
            return
        if getattr(self._local, "active", False):
            # The second BEGIN IMMEDIATE would wait forever on the first: fail loudly instead.
            raise RuntimeError("nested transaction on SQLite: finish the outer one first")
        with self._write_lock:
            self._local.active = True
            try:
                with self._sessions() as session, session.begin():
                    yield session
            finally:
                self._local.active = False

    def dispose(self) -> None:
        self.engine.dispose()


def insert_ignoring_conflicts(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict_cols: Sequence[str],
    returning: str | None = None,
) -> list[Any]:
    """INSERT .. ON CONFLICT DO NOTHING; returns, for the rows really inserted, their primary
    key (or the ``returning`` column)."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    ins = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    stmt = ins.on_conflict_do_nothing(index_elements=list(conflict_cols))
    pk = table.c[returning] if returning else next(iter(table.primary_key.columns))
    # executemany with RETURNING: one cached statement, batched by SQLAlchemy's
    # insertmanyvalues, instead of compiling a new multi-row VALUES for every batch size.
    result = session.execute(stmt.returning(pk, sort_by_parameter_order=True), list(rows))
    return [row[0] for row in result.all()]


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which drops the zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class CrmType(TypeDecorator[Crm]):
    """A ``Crm`` stored as its value (``hubspot``, ``salesforce``) and read back as a ``Crm``."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: Crm | str | None, dialect: Any) -> str | None:
        return None if value is None else Crm(value).value

    def process_result_value(self, value: str | None, dialect: Any) -> Crm | None:
        return None if value is None else Crm(value)


def utcnow() -> datetime:
    return datetime.now(UTC)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind a SQLModel class (for dialect-specific inserts)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def rowcount(result: Any) -> int:
    """Rows matched by an UPDATE or DELETE."""
    return int(getattr(result, "rowcount", 0))
