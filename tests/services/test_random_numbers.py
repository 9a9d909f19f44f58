"""The random-number ticker: stores and broadcasts a number, keeps a day of them, and sweeps
expired row locks (publishing ``lock_status``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.conftest import client_for, make_settings
from tests.factories import user_with_token
from tradepit.app import create_app
from tradepit.bus import Event, Subscription
from tradepit.domain.clock import ManualClock
from tradepit.services import row_locks
from tradepit.services.accounts_table import RandomNumbers
from tradepit.services.callers import Caller
from tradepit.services.identities import Identity
from tradepit.store import broker_accounts as account_store
from tradepit.store import users as user_store
from tradepit.store.db import commit
from tradepit.store.row_locks import RandomNumber


@pytest.fixture
async def desk(tmp_path: Path, db: str) -> AsyncIterator[tuple[FastAPI, ManualClock]]:
    """Yield an app on a manual wall clock."""
    wall = ManualClock(datetime.now(UTC))
    app = create_app(make_settings(tmp_path / "data", db), wall=wall)
    yield app, wall
    await app.state.wiring.engine.dispose()


async def stored(app: FastAPI) -> int:
    """Return how many random numbers are stored."""
    async with app.state.wiring.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(RandomNumber)) or 0)


async def test_numbers_are_stored_published_and_pruned(
    desk: tuple[FastAPI, ManualClock],
) -> None:
    app, wall = desk
    w = app.state.wiring
    events = w.bus.subscribe(row_locks.TOPIC)
    ticker = RandomNumbers(w.sessionmaker, wall, w.bus)
    await ticker.tick()
    event = events.queue.get_nowait()
    assert event["type"] == "random_number"
    assert 0 <= event["value"] < 100
    assert event["timestamp"] == wall.now().isoformat()
    await ticker.tick()
    assert await stored(app) == 2
    wall.advance(timedelta(days=1, seconds=1))
    await ticker.tick()
    assert await stored(app) == 1


async def test_an_expired_lock_is_swept_and_announced(
    desk: tuple[FastAPI, ManualClock],
) -> None:
    app, wall = desk
    w = app.state.wiring
    async with client_for(app) as client:
        user, headers = await user_with_token(client)
        body = {"account_name": "p", "broker": "paper"}
        account_id = (await client.post("/api/accounts", json=body, headers=headers)).json()["id"]
    async with w.sessionmaker() as session:
        owner = await user_store.get_user(session, user["id"])
        account = await account_store.get(session, account_id)
        assert owner is not None and account is not None
        await row_locks.lock(
            session, wall, w.bus, Caller(user=Identity.of(owner), ip="test"), account
        )
        await commit(session)
    events = w.bus.subscribe(row_locks.TOPIC)
    ticker = RandomNumbers(w.sessionmaker, wall, w.bus)
    await ticker.tick()
    assert [e["type"] for e in drain(events)] == ["random_number"]
    wall.advance(row_locks.LOCK_TTL)
    await ticker.tick()
    swept = drain(events)
    assert [e["type"] for e in swept] == ["lock_status", "random_number"]
    assert swept[0]["locks"] == []


def drain(subscription: Subscription) -> list[Event]:
    """Return every queued event."""
    found = []
    while not subscription.queue.empty():
        found.append(subscription.queue.get_nowait())
    return found
