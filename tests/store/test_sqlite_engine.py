"""The embedded SQLite engine: statements run on the event loop's thread, yet a write lock held
by another process is waited for off the loop, and the WAL does not grow without bound."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from tradepit.store import db
from tradepit.store.db import create_engine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    async with made.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    yield made
    await made.dispose()


def other_process(tmp_path: Path) -> sqlite3.Connection:
    """Return a connection of its own to the file, as another process would have."""
    connection = sqlite3.connect(tmp_path / "test.db", isolation_level=None)
    connection.execute("PRAGMA busy_timeout=5000")
    return connection


async def insert(engine: AsyncEngine, body: str) -> None:
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
    writing = asyncio.create_task(insert(engine, "ours"))
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
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    holder = other_process(tmp_path)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(OperationalError, match="locked"):
        await asyncio.wait_for(insert(engine, "ours"), timeout=5)
    holder.execute("ROLLBACK")
    await insert(engine, "ours")  # the connection is usable again, its timeout back to 0
    assert await count(engine) == 1
    holder.close()


async def test_the_wal_is_checkpointed_so_it_stops_growing(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    wal = tmp_path / "test.db-wal"
    body = "x" * 2000
    for _ in range(db.CHECKPOINT_EVERY):
        await insert(engine, body)
    first = wal.stat().st_size
    for _ in range(4 * db.CHECKPOINT_EVERY):
        await insert(engine, body)
    await asyncio.sleep(0.2)  # the last checkpoint runs on the worker thread
    # Without checkpoints the WAL would hold all five rounds of commits.
    assert wal.stat().st_size < 2 * first
    assert await count(engine) == 5 * db.CHECKPOINT_EVERY
