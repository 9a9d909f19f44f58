"""aiosqlite's internals are used in one adapter: on the pinned version its probe passes (an
upgrade that changes them fails here, loudly), and without them the public path serves the
same database correctly."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from tradepit.libraries import Internals
from tradepit.store import aiosqlite_adapter
from tradepit.store.db import create_engine


def test_the_pinned_version_takes_the_fast_path() -> None:
    found = aiosqlite_adapter.internals()
    assert found.usable, found.problem


async def run_a_transaction(path: Path) -> list[int]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1), (2)"))
        async with engine.connect() as conn:
            timeout = (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one()
            rows = [n for (n,) in await conn.execute(text("SELECT n FROM t ORDER BY n"))]
        return [*rows, timeout]
    finally:
        await engine.dispose()


async def test_the_fast_path_keeps_the_busy_timeout_off_on_the_loop(tmp_path: Path) -> None:
    assert await run_a_transaction(tmp_path / "fast.db") == [1, 2, 0]


async def test_without_the_internals_the_public_path_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = Internals("aiosqlite", aiosqlite_adapter.PINS, "forced by the test")
    monkeypatch.setattr(aiosqlite_adapter, "internals", lambda: refused)
    rows = await run_a_transaction(tmp_path / "public.db")
    assert rows == [1, 2, aiosqlite_adapter.SQLITE_BUSY_TIMEOUT_MS]
