"""Group commit: units of work that arrive together share a transaction, yet each one's
result, error and writes are its own, and nothing is handed back before it is committed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tradepit.domain.errors import Conflict
from tradepit.services.desk import Desk
from tradepit.store.db import create_engine, create_sessionmaker
from tradepit.store.users import User


class Refused(Conflict):
    code = "REFUSED"


@pytest.fixture
async def sessions(db: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(db)
    yield create_sessionmaker(engine)
    await engine.dispose()


def sign_up(
    name: str, seen: list[AsyncSession], fail: bool = False
) -> Callable[[AsyncSession], Any]:
    """Return a unit of work that adds a user (and then fails, if ``fail``)."""

    async def work(session: AsyncSession) -> str:
        seen.append(session)  # kept, so no two sessions share an id()
        session.add(
            User(username=name, username_key=name, password_hash="x", created_at=datetime.now(UTC))
        )
        await session.flush()
        if fail:
            raise Refused(f"{name} refused")
        return name

    return work


async def names(sessions: async_sessionmaker[AsyncSession]) -> set[str]:
    async with sessions() as session:
        return set(await session.scalars(select(User.username)))


async def settle(calls: list[Awaitable[str]]) -> list[str | BaseException]:
    return list(await asyncio.gather(*calls, return_exceptions=True))


async def test_units_arriving_together_share_one_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    desk, seen = Desk(sessions, together=True), list[AsyncSession]()
    done = await settle([desk.submit(sign_up(f"u{i}", seen)) for i in range(5)])
    assert done == [f"u{i}" for i in range(5)]
    assert len({id(s) for s in seen}) == 1  # one session, one commit
    assert await names(sessions) == {f"u{i}" for i in range(5)}


async def test_a_failing_unit_costs_the_others_nothing_and_writes_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    desk, seen = Desk(sessions, together=True), list[AsyncSession]()
    units = [sign_up(f"v{i}", seen, fail=i == 2) for i in range(5)]
    done = await settle([desk.submit(unit) for unit in units])
    assert [d for i, d in enumerate(done) if i != 2] == ["v0", "v1", "v3", "v4"]
    assert isinstance(done[2], Refused)
    assert str(done[2]) == "v2 refused"
    # The shared transaction rolled back; each unit then ran alone, in a session of its own.
    assert len({id(s) for s in seen[-5:]}) == 5
    assert await names(sessions) == {"v0", "v1", "v3", "v4"}


async def test_apart_each_unit_has_its_own_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    desk, seen = Desk(sessions, together=False), list[AsyncSession]()
    units = [sign_up(f"w{i}", seen, fail=i == 1) for i in range(3)]
    done = await settle([desk.submit(unit) for unit in units])
    assert done[0] == "w0" and done[2] == "w2" and isinstance(done[1], Refused)
    assert len({id(s) for s in seen}) == 3
    assert await names(sessions) == {"w0", "w2"}


async def test_a_caller_that_stops_waiting_does_not_lose_its_unit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    desk, seen = Desk(sessions, together=True), list[AsyncSession]()
    waiting = asyncio.create_task(desk.submit(sign_up("gone", seen)))
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    await settle([desk.submit(sign_up("next", seen))])  # queued behind it
    assert await names(sessions) == {"gone", "next"}
