"""Engines and sessions for the embedded SQLite file and PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction

SQLITE_BUSY_TIMEOUT_MS = 5000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN instead of the driver.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
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
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        # Take SQLite's write lock at BEGIN so two writers queue instead of deadlocking.
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def _begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory; objects stay readable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


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


@event.listens_for(Session, "after_transaction_end")
def _forget_caches(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction, not a savepoint
        session.info.pop(_CACHES, None)


async def commit(session: AsyncSession) -> None:
    """Commit the session's transaction, then run what waited for it."""
    for prepare in session.info.pop("before_commit", []):
        await prepare()
    await session.commit()
    for action in session.info.pop("after_commit", []):
        action()
