"""Engines and sessions for the embedded SQLite file and PostgreSQL."""

from __future__ import annotations

import asyncio
import fcntl
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import quote

from sqlalchemy import Dialect, Engine, Executable, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import ClauseElement

from tradepit.store.aiosqlite_adapter import SQLITE_BUSY_TIMEOUT_MS, connect, inline_statements

log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN instead of the driver.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Statements run on the event loop's thread must never sleep in SQLite's busy handler:
    # a BEGIN that meets a lock fails at once and waits on the worker thread instead. On the
    # public path every statement runs on aiosqlite's thread, which may wait.
    cursor.execute(f"PRAGMA busy_timeout={0 if inline_statements() else SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # The fast path checkpoints every ``CHECKPOINT_EVERY`` commits itself; on the public path
    # SQLite does, at a commit that leaves 1,000 pages in the WAL (else it grows for ever).
    if inline_statements():
        cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create an async engine; SQLite gets WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # One connection per process: sessions queue for it in asyncio instead of spinning in
        # SQLite's busy handler, which sleeps up to 100 ms per retry under contention.
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", 30)
        path = parsed.database or ":memory:"
        engine = create_async_engine(url, async_creator=lambda: connect(path), **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        # Take SQLite's write lock at BEGIN so two writers queue instead of deadlocking.
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def _begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def claim_embedded(url: str) -> IO[bytes] | None:
    """Make this process the only server of the SQLite file at ``url`` for as long as the
    returned file stays open (an exclusive lock on ``<file>.serve-lock``, which the operating
    system releases however the process ends); None when another process holds it. The
    embedded shape keeps users' trading state in memory, which holds only while nothing else
    writes the file."""
    path = Path(make_url(url).database or "tradepit.db").resolve()
    handle = path.with_name(path.name + ".serve-lock").open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory; objects stay readable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def on_users_changed(
    sessionmaker: async_sessionmaker[AsyncSession], listener: Callable[[set[int]], None]
) -> None:
    """Call ``listener`` with the users whose wallets, positions or orders a transaction of
    ``sessionmaker``'s sessions wrote (``touch``), as soon as it ends, committed or not."""
    listeners = sessionmaker.kw.get("info", {}).get(_LISTENERS, ())
    sessionmaker.configure(info={_LISTENERS: (*listeners, listener)})


def touch(session: AsyncSession | Session, user_id: int | None) -> None:
    """Note that the session's transaction writes ``user_id``'s wallets, positions or orders
    (``on_users_changed`` hears of it when the transaction ends)."""
    if user_id is not None:
        session.info.setdefault(_TOUCHED, set()).add(user_id)


def touches(session: AsyncSession, user_id: int) -> bool:
    """Tell whether the session's transaction writes ``user_id``'s trading state."""
    return user_id in session.info.get(_TOUCHED, ())


_TOUCHED = "touched_users"
_LISTENERS = "users_changed"


@event.listens_for(Session, "before_flush")
def _touch_flushed(session: Session, _context: Any, _instances: Any) -> None:
    """Rows the ORM writes touch their owners (rows written by ``store.rows`` or a prebuilt
    statement are touched where they are written)."""
    for row in (*session.new, *session.dirty, *session.deleted):
        owner = getattr(row, "user_id", None)
        if isinstance(owner, int):
            touch(session, owner)


def before_commit(session: AsyncSession, action: Callable[[], Awaitable[None]]) -> None:
    """Run ``action`` inside the transaction just before ``commit(session)`` commits it (the
    event outbox writes its rows there, so they commit with what they describe)."""
    session.info.setdefault("before_commit", []).append(action)


def after_commit(session: AsyncSession, action: Callable[[], None]) -> None:
    """Run ``action`` once ``commit(session)`` has made the transaction durable; never if it
    rolls back. (SQLAlchemy's own after_commit event also fires when a savepoint is released.)"""
    session.info.setdefault("after_commit", []).append(action)


def transaction_cache(session: AsyncSession, name: str) -> dict[Any, Any]:
    """Return a dict that lives as long as the session's transaction: rows already locked or
    loaded in it, looked up again without another round trip."""
    caches: dict[str, dict[Any, Any]] = session.info.setdefault(_CACHES, {})
    return caches.setdefault(name, {})


_CACHES = "transaction_caches"


@event.listens_for(Session, "before_commit")
def _nothing_left_behind(session: Session) -> None:
    """Refuse a commit that would leave what waited for it (``before_commit``) undone:
    such a transaction is committed with ``commit(session)``."""
    if session.info.get("before_commit") and not session.in_nested_transaction():
        raise RuntimeError("this transaction has work to do before it commits: use store.db.commit")


@event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:  # a savepoint: the transaction goes on
        return
    session.info.pop(_CACHES, None)
    touched: set[int] | None = session.info.pop(_TOUCHED, None)
    if touched:
        for listener in session.info.get(_LISTENERS, ()):
            listener(touched)


async def commit(session: AsyncSession) -> None:
    """Commit the session's transaction, then run what waited for it."""
    for prepare in session.info.pop("before_commit", []):
        await prepare()
    await session.commit()
    for action in session.info.pop("after_commit", []):
        action()


async def run(
    session: AsyncSession, statement: Executable, params: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """Run a prebuilt Core ``statement`` in the session's transaction, without an autoflush,
    and return its rows (a SELECT's or RETURNING's), typed as SQLAlchemy would type them.

    On SQLite the statement is compiled once and goes straight to the driver: SQLAlchemy's
    execution machinery costs ~0.1 ms a statement there, twenty times the statement itself.
    Elsewhere it is executed by SQLAlchemy."""
    sqlite = await _sqlite(session)
    if sqlite is None:
        result = await (await session.connection()).execute(statement, params)
        return [tuple(row) for row in result] if result.returns_rows else []
    driver, dialect = sqlite
    plan = _plan(statement, dialect, params)
    cursor = await driver.execute(plan.sql, plan.bind(params))
    return [plan.load(row) for row in await cursor.fetchall()] if plan.loads else []


async def run_many(
    session: AsyncSession, statement: Executable, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Run a prebuilt Core INSERT or UPDATE once per row of parameters (executemany)."""
    if not rows:
        return
    sqlite = await _sqlite(session)
    if sqlite is None:
        await (await session.connection()).execute(statement, list(rows))
        return
    driver, dialect = sqlite
    plan = _plan(statement, dialect, rows[0])
    await driver.executemany(plan.sql, [plan.bind(row) for row in rows])


async def _sqlite(session: AsyncSession) -> tuple[Any, Dialect] | None:
    """Return the SQLite driver connection under the session's transaction and its dialect
    (looked up once per transaction), or None on another database."""
    cache = transaction_cache(session, "driver")
    if "sqlite" not in cache:
        connection = await session.connection()
        dialect = connection.dialect
        cache["sqlite"] = None
        if dialect.name == "sqlite":
            raw = await connection.get_raw_connection()
            cache["sqlite"] = (raw.driver_connection, dialect)
    found: tuple[Any, Dialect] | None = cache["sqlite"]
    return found


@dataclass(frozen=True)
class _Plan:
    """A statement compiled for SQLite: its SQL, and how to bind parameters and load rows."""

    sql: str
    names: tuple[str, ...]
    fixed: dict[str, Any]
    binds: tuple[Callable[[Any], Any] | None, ...]
    loads: tuple[Callable[[Any], Any] | None, ...]

    def bind(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        values = []
        for name, process in zip(self.names, self.binds, strict=True):
            value = params[name] if name in params else self.fixed[name]
            values.append(value if process is None or value is None else process(value))
        return tuple(values)

    def load(self, row: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(
            value if process is None else process(value)
            for value, process in zip(row, self.loads, strict=True)
        )


_plans: dict[tuple[int, str, frozenset[str]], tuple[Executable, _Plan]] = {}


def _plan(statement: Executable, dialect: Dialect, params: Mapping[str, Any]) -> _Plan:
    """Compile ``statement`` for the names of ``params``, as SQLAlchemy does (an INSERT
    writes the columns it is given values for), once."""
    key = (id(statement), dialect.name, frozenset(params))
    found = _plans.get(key)
    if found is not None and found[0] is statement:
        return found[1]
    clause = cast(ClauseElement, statement)
    compiled: Any = clause.compile(dialect=dialect, column_keys=sorted(params))
    if "POSTCOMPILE" in compiled.string:
        raise ValueError("run() takes statements without expanding parameters")
    names = tuple(compiled.positiontup)
    binds = compiled.binds
    plan = _Plan(
        sql=compiled.string,
        names=names,
        fixed={name: binds[name].effective_value for name in names if not binds[name].required},
        binds=tuple(
            binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
        ),
        loads=tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            # A SELECT's columns or an INSERT/UPDATE's RETURNING ones (public since 1.4).
            for column in getattr(statement, "exported_columns", ())
        ),
    )
    _plans[key] = (statement, plan)  # the statement is kept, so its id is never reused
    return plan


async def read_apart(session: AsyncSession, statement: Executable) -> list[tuple[Any, ...]]:
    """Run a long read (a leaderboard of thousands of entries) so that it holds up neither
    the event loop nor the writers, and return its rows typed as SQLAlchemy would type them.

    On a SQLite file it runs in a worker thread on a read-only connection of its own: in WAL
    mode it reads the last committed state while writers go on, and the sqlite3 module lets
    the loop's thread run meanwhile. (Inline, on the pool's single connection, a 300 ms read
    stopped every request for 300 ms.) It does not see the session's uncommitted writes.
    Elsewhere (and on an in-memory SQLite, which only the pool's connection has) it runs in
    the session's transaction; PostgreSQL runs it concurrently."""
    bind = session.bind
    database = None
    if isinstance(bind, AsyncEngine) and bind.dialect.name == "sqlite":
        database = bind.url.database
    if not database or database == ":memory:":
        return [tuple(row) for row in await session.execute(statement)]
    return await asyncio.to_thread(_read_file, database, statement)


@functools.lru_cache(maxsize=16)
def _reader(path: str) -> Engine:
    """Return a synchronous engine reading the SQLite file at ``path`` (a connection per
    read: nothing stays open)."""
    return create_sync_engine(f"sqlite:///file:{quote(path)}?mode=ro&uri=true", poolclass=NullPool)


def _read_file(path: str, statement: Executable) -> list[tuple[Any, ...]]:
    with _reader(path).connect() as connection:
        return [tuple(row) for row in connection.execute(statement)]
