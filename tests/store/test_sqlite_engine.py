"""The embedded SQLite engine: statements run on the event loop's thread, yet a write lock held
by another process is waited for off the loop, and the WAL does not grow without bound."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, Table, insert, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from tradepit.libraries import Internals
from tradepit.store import aiosqlite_adapter, db
from tradepit.store.db import create_engine, create_sessionmaker
from tradepit.store.types import ExactDecimal, UTCDateTime


async def notes_engine(tmp_path: Path) -> AsyncEngine:
    """Return an engine on ``test.db`` with an empty ``notes`` table."""
    made = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    async with made.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    return made


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = await notes_engine(tmp_path)
    yield made
    await made.dispose()


def other_process(tmp_path: Path) -> sqlite3.Connection:
    """Return a connection of its own to the file, as another process would have."""
    connection = sqlite3.connect(tmp_path / "test.db", isolation_level=None)
    connection.execute("PRAGMA busy_timeout=5000")
    return connection


async def add_note(engine: AsyncEngine, body: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO notes (body) VALUES (:body)"), {"body": body})


async def count(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        found = await connection.scalar(text("SELECT count(*) FROM notes"))
    return int(found or 0)


async def test_a_write_lock_held_elsewhere_is_waited_for_without_blocking_the_loop(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    holder = other_process(tmp_path)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO notes (body) VALUES ('theirs')")
    writing = asyncio.create_task(add_note(engine, "ours"))
    turns = 0
    for _ in range(20):  # the loop keeps turning while our BEGIN waits for the lock
        await asyncio.sleep(0.01)
        turns += 1
    assert turns == 20
    assert not writing.done()
    holder.execute("COMMIT")
    await asyncio.wait_for(writing, timeout=5)
    assert await count(engine) == 2
    holder.close()


async def test_a_lock_held_past_the_busy_timeout_is_an_error_not_a_hang(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aiosqlite_adapter, "SQLITE_BUSY_TIMEOUT_MS", 200)
    holder = other_process(tmp_path)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(OperationalError, match="locked"):
        await asyncio.wait_for(add_note(engine, "ours"), timeout=5)
    holder.execute("ROLLBACK")
    await add_note(engine, "ours")  # the connection is usable again, its timeout back to 0
    assert await count(engine) == 1
    holder.close()


@pytest.mark.parametrize("path", ["fast", "public"])
async def test_the_wal_is_checkpointed_so_it_stops_growing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    if path == "public":
        refused = Internals("aiosqlite", aiosqlite_adapter.PINS, "forced by the test")
        monkeypatch.setattr(aiosqlite_adapter, "internals", lambda: refused)
    made = await notes_engine(tmp_path)  # after the patch: its connections take the path
    wal = tmp_path / "test.db-wal"
    body = "x" * 2000
    rounds = aiosqlite_adapter.CHECKPOINT_EVERY
    for _ in range(rounds):
        await add_note(made, body)
    first = wal.stat().st_size
    for _ in range(4 * rounds):
        await add_note(made, body)
    await asyncio.sleep(0.2)  # the last checkpoint runs on the worker thread
    # Without checkpoints the WAL would hold all five rounds of commits (~8 MB). SQLite's own
    # (the public path) run once the WAL holds 1,000 pages (4 KiB each).
    assert wal.stat().st_size < (2 * first if path == "fast" else 1_100 * 4096)
    assert await count(made) == 5 * rounds
    await made.dispose()


async def test_statements_run_directly_store_what_sqlalchemy_stores(tmp_path: Path) -> None:
    """``db.run`` binds and loads through the column types as SQLAlchemy does: the same
    stored text and integers, the same values read back (exact amounts, aware UTC times)."""
    made = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'types.db'}")
    table = Table(
        "typed",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("amount", ExactDecimal()),
        Column("at", UTCDateTime()),
        Column("payload", JSON),
    )
    async with made.begin() as connection:
        await connection.run_sync(table.metadata.create_all)
    values = {
        "amount": Decimal("1234.50000001"),
        "at": datetime(2026, 3, 2, 9, 15, tzinfo=UTC),  # no microseconds: the tricky case
        "payload": {"price": "1.5", "n": [1, 2]},
    }
    sessions = create_sessionmaker(made)
    async with sessions() as session:
        await session.execute(insert(table), values)
        returned = await db.run(session, insert(table).returning(*table.c), values)
        await db.commit(session)
    async with made.connect() as connection:
        stored = (await connection.exec_driver_sql("SELECT amount, at, payload FROM typed")).all()
        read = (await connection.execute(select(table.c.amount, table.c.at, table.c.payload))).all()
    await made.dispose()
    assert stored[0] == stored[1]
    assert read[0] == read[1] == tuple(values.values())
    assert returned == [(2, *values.values())]


async def test_a_long_read_runs_apart_from_the_pools_connection(engine: AsyncEngine) -> None:
    await add_note(engine, "committed")
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session:
        await session.execute(text("INSERT INTO notes (body) VALUES ('not yet committed')"))
        # The session holds the pool's only connection and the write lock: the read goes on
        # beside it, sees the last committed state, and the loop keeps turning meanwhile.
        turns = 0

        async def turning() -> None:
            nonlocal turns
            while True:
                await asyncio.sleep(0)
                turns += 1

        spinner = asyncio.create_task(turning())
        rows = await db.read_apart(
            session, select(text("body")).select_from(text("notes")).order_by(text("id"))
        )
        spinner.cancel()
        await session.commit()
    assert rows == [("committed",)]
    assert turns > 0
