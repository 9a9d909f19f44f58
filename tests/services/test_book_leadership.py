"""Several processes on one PostgreSQL and Redis: the leader holds the order book, the others
pass the orders they accept on to it, and a new leader loads them all when the old one goes."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import REDIS_URL, make_settings, postgres_database, skip_or_fail
from tests.factories import login, register
from tests.realtime.conftest import serving
from tests.standins import until
from tradepit.app import create_app
from tradepit.store.db import create_engine
from tradepit.store.migrate import upgrade


def server(tmp_path: Path, db: str, name: str, prefix: str) -> FastAPI:
    settings = make_settings(
        tmp_path / name, db, market_hours="always", redis_url=REDIS_URL, redis_prefix=prefix
    )
    return create_app(settings)


@pytest.fixture
async def db() -> AsyncIterator[str]:
    """A migrated PostgreSQL database of this test alone (one SQLite file has one process,
    which always holds its book)."""
    async with postgres_database("tradepit_book") as url:
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        yield url


async def test_the_leader_holds_the_book_and_a_new_leader_takes_it_over(
    tmp_path: Path, db: str
) -> None:
    if not REDIS_URL:
        skip_or_fail("this test needs TRADEPIT_TEST_REDIS_URL (CI sets it)")
    prefix = f"tradepit-test-{uuid.uuid4().hex[:12]}"
    first, second = (server(tmp_path, db, n, prefix) for n in ("first", "second"))
    leader, follower = first.state.wiring.matcher, second.state.wiring.matcher
    try:
        async with contextlib.AsyncExitStack() as second_running:
            async with serving(first):
                await until(lambda: leader.leading)
                address = await second_running.enter_async_context(serving(second))
                async with httpx.AsyncClient(base_url=f"http://{address}") as http:
                    user = await register(http)
                    token = await login(http, user["username"])
                    ask = second.state.wiring.market.tick("INFY").ask
                    limit = (ask * Decimal("0.8")).quantize(Decimal("0.1"))
                    body = {"symbol": "INFY", "order_type": "LIMIT", "order_side": "BUY",
                            "quantity": "1", "price": str(limit), "product": "CNC"}  # fmt: skip
                    placed = await http.post(
                        "/api/paper-trading/orders",
                        json=body,
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    assert placed.status_code == 201, placed.text
                    order_id = placed.json()["id"]
                    # Accepted by the follower, watched by the leader alone.
                    await until(lambda: order_id in leader.book)
                    assert not follower.leading and order_id not in follower.book
            # The leader has stopped: the follower takes over, with the order.
            await until(lambda: follower.leading, within=15)
            assert order_id in follower.book
    finally:
        await first.state.wiring.engine.dispose()
        await second.state.wiring.engine.dispose()
