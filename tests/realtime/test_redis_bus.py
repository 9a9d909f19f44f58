"""The Redis bus: events cross processes, and a worker listens only to the topics it needs."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from bench.server import TRADEPIT, serving
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from tests.conftest import REDIS_URL, skip_or_fail
from tests.factories import login, register
from tests.realtime.conftest import receive, receive_until, user_token, ws_url
from tests.realtime.test_socketio import sio_client
from tradepit.bus.redis import RedisBus
from tradepit.services.realtime import REPORT_EVERY

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_url() -> str:
    """Return the test Redis URL, or skip (fail in CI) without one."""
    if not REDIS_URL:
        skip_or_fail("Redis tests need TRADEPIT_TEST_REDIS_URL (CI sets it)")
    assert REDIS_URL is not None
    return REDIS_URL


@pytest.fixture
def prefix() -> str:
    """Return a key prefix of this test alone."""
    return f"tradepit-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def buses(redis_url: str, prefix: str) -> AsyncIterator[tuple[RedisBus, RedisBus]]:
    """Yield two started buses on one Redis, as two workers would have."""
    first, second = RedisBus(redis_url, prefix), RedisBus(redis_url, prefix)
    await first.start()
    await second.start()
    yield first, second
    await first.close()
    await second.close()


async def channels(redis_url: str, prefix: str) -> set[str]:
    """Return the bus channels somebody listens to."""
    async with Redis.from_url(redis_url) as redis:
        found = await redis.pubsub_channels(f"{prefix}:bus:*")
    names = [c.decode() if isinstance(c, bytes) else c for c in found]
    return {n.removeprefix(f"{prefix}:bus:") for n in names if "_worker." not in n}


class TestRedisBus:
    async def test_an_event_published_by_one_worker_reaches_another(
        self, buses: tuple[RedisBus, RedisBus]
    ) -> None:
        publisher, listener = buses
        subscription = listener.subscribe("user.7.seq")
        await asyncio.wait_for(subscription.ready.wait(), 5)
        publisher.publish("user.7.seq", {"type": "balance", "seq": 1})
        publisher.publish("user.8.seq", {"type": "balance", "seq": 1})
        assert await asyncio.wait_for(subscription.get(), 5) == {"type": "balance", "seq": 1}
        await asyncio.sleep(0.1)
        assert subscription.queue.empty()

    async def test_a_worker_listens_only_while_a_subscriber_wants_the_topic(
        self, buses: tuple[RedisBus, RedisBus], redis_url: str, prefix: str
    ) -> None:
        _, listener = buses
        assert await channels(redis_url, prefix) == set()
        subscription = listener.subscribe("tick.ITC")
        await asyncio.wait_for(subscription.ready.wait(), 5)
        assert await channels(redis_url, prefix) == {"tick.ITC"}
        subscription.close()
        await asyncio.sleep(0.1)
        assert await channels(redis_url, prefix) == set()


@pytest.mark.skipif(not TRADEPIT.exists(), reason=f"{TRADEPIT} is not installed")
async def test_a_fill_on_one_server_reaches_a_client_of_another(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    env = {"TRADEPIT_REDIS_URL": redis_url, "TRADEPIT_REDIS_PREFIX": prefix}
    data = tmp_path / "data"
    async with (
        serving(data, "first", env) as first,
        serving(data, "second", env) as second,
        httpx.AsyncClient(base_url=first.base_url, timeout=10) as http,
    ):
        user = await register(http)
        token = await login(http, user["username"])
        address = second.base_url.removeprefix("http://")
        async with connect(ws_url(address, token=token)) as ws:
            assert (await receive(ws))["user_id"] == user["id"]
            await ws.send(json.dumps({"type": "subscribe", "symbol": "ITC"}))
            await receive_until(ws, "tick")
            body = {"symbol": "ITC", "order_type": "MARKET", "order_side": "BUY",
                    "quantity": "1", "product": "CNC"}  # fmt: skip
            headers = {"Authorization": f"Bearer {token}"}
            placed = await http.post("/api/paper-trading/orders", json=body, headers=headers)
            assert placed.status_code == 201
            balance, before = await receive_until(ws, "balance", within=10)
    private = [m for m in [*before, balance] if m["type"] != "tick"]
    assert [(m["type"], m["seq"]) for m in private] == [
        ("order", 1), ("order", 2), ("position", 3), ("balance", 4)
    ]  # fmt: skip


@pytest.mark.skipif(not TRADEPIT.exists(), reason=f"{TRADEPIT} is not installed")
async def test_stats_add_up_every_worker(tmp_path: Path, redis_url: str, prefix: str) -> None:
    env = {"TRADEPIT_REDIS_URL": redis_url, "TRADEPIT_REDIS_PREFIX": prefix}
    data = tmp_path / "data"
    async with (
        serving(data, "first", env) as first,
        serving(data, "second", env) as second,
        httpx.AsyncClient(base_url=first.base_url, timeout=10) as http,
    ):
        _, token = await user_token(http)
        addresses = [s.base_url.removeprefix("http://") for s in (first, second)]
        async with (
            connect(ws_url(addresses[0], token=token)) as one,
            connect(ws_url(addresses[1], token=token)) as two,
        ):
            await receive(one)
            await receive(two)
            await asyncio.sleep(REPORT_EVERY + 0.5)
            stats = (await http.get("/api/websocket/stats")).json()["data"]
    assert stats["worker"]["connections"]["ws"] == 1
    assert len(stats["workers"]) == 2
    assert stats["totals"]["connections"]["ws"] == 2


@pytest.mark.skipif(not TRADEPIT.exists(), reason=f"{TRADEPIT} is not installed")
async def test_socketio_websocket_transport_across_two_servers(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    env = {"TRADEPIT_REDIS_URL": redis_url, "TRADEPIT_REDIS_PREFIX": prefix,
           "TRADEPIT_STARTING_BALANCE_USDT": "100000"}  # fmt: skip
    data = tmp_path / "data"
    async with (
        serving(data, "first", env) as first,
        serving(data, "second", env) as second,
        httpx.AsyncClient(base_url=first.base_url, timeout=10) as http,
    ):
        me, token = await user_token(http)
        async with sio_client(second.base_url.removeprefix("http://"), token) as (_, received):
            await received.next("connection_status")
            body = {"symbol": "BTC-USDT", "order_type": "MARKET", "order_side": "BUY",
                    "quantity": "0.01", "product": "CNC"}  # fmt: skip
            headers = {"Authorization": f"Bearer {token}"}
            placed = await http.post("/api/paper-trading/orders", json=body, headers=headers)
            assert placed.status_code == 201, placed.text
            pushed = await received.next("balance_update", within=10)
    assert pushed["telegram_username"] == me["username"]
    assert pushed["balance"] < 100000
