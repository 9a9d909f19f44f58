"""Every order state change reaches its owner's bus topic, and only theirs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import app_at
from tests.factories import user_with_token
from tradepit.bus import MemoryBus, Subscription, user_topic
from tradepit.domain.clock import ManualClock
from tradepit.domain.market import Tick

OPEN = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)
ORDERS = "/api/paper-trading/orders"


@pytest.fixture
async def app(tmp_path: Path, db: str) -> AsyncIterator[FastAPI]:
    async with app_at(tmp_path / "data", db, ManualClock(OPEN)) as application:
        yield application


def drain(subscription: Subscription) -> list[tuple[str, str]]:
    """Return the (event, status) pairs of the order messages queued so far."""
    return [
        (m["event"], m["order"]["status"]) for m in messages(subscription) if m["type"] == "order"
    ]


def messages(subscription: Subscription) -> list[dict[str, Any]]:
    """Return every message queued so far."""
    found = []
    while not subscription.queue.empty():
        found.append(subscription.queue.get_nowait())
    return found


async def subscribed(app: FastAPI, body: dict[str, object]) -> Subscription:
    bus: MemoryBus = app.state.wiring.bus
    return bus.subscribe(user_topic(int(str(body["id"]))))


class TestOrderEvents:
    async def test_a_market_order_announces_new_then_fill(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user, headers = await user_with_token(client)
        events = await subscribed(app, user)
        body = {"symbol": "ITC", "order_type": "MARKET", "order_side": "BUY", "quantity": "2",
                "product": "CNC"}  # fmt: skip
        placed = await client.post(ORDERS, json=body, headers=headers)
        assert placed.status_code == 201
        assert drain(events) == [("new", "open"), ("fill", "filled")]

    async def test_resting_order_events_new_fill_and_cancel(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user, headers = await user_with_token(client)
        events = await subscribed(app, user)
        ask = app.state.wiring.market.tick("INFY").ask
        limit = ask - 20
        body = {"symbol": "INFY", "order_type": "LIMIT", "order_side": "BUY", "quantity": "2",
                "product": "CNC", "price": str(limit)}  # fmt: skip
        resting = (await client.post(ORDERS, json=body, headers=headers)).json()
        other = (await client.post(ORDERS, json=body, headers=headers)).json()
        await client.put(f"{ORDERS}/{other['id']}", json={"price": str(limit - 1)}, headers=headers)
        await client.delete(f"{ORDERS}/{other['id']}", headers=headers)
        tick = Tick("INFY", OPEN + timedelta(seconds=1), limit, limit - Decimal("0.1"), limit,
                    Decimal(5000), Decimal(5000), Decimal(0))  # fmt: skip
        await app.state.wiring.matcher.on_ticks([tick])
        assert drain(events) == [
            ("new", "open"), ("new", "open"), ("replaced", "open"), ("canceled", "cancelled"),
            ("fill", "filled"),
        ]  # fmt: skip
        assert resting["status"] == "open"

    async def test_nobody_else_hears_my_orders(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        someone, _ = await user_with_token(client)
        theirs = await subscribed(app, someone)
        body = {"symbol": "ITC", "order_type": "MARKET", "order_side": "BUY", "quantity": "1",
                "product": "CNC"}  # fmt: skip
        await client.post(ORDERS, json=body, headers=headers)
        await asyncio.sleep(0)
        assert drain(theirs) == []

    async def test_a_refused_order_announces_nothing(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user, headers = await user_with_token(client)
        events = await subscribed(app, user)
        body = {"symbol": "LT", "order_type": "MARKET", "order_side": "BUY", "quantity": "100",
                "product": "CNC"}  # fmt: skip
        assert (await client.post(ORDERS, json=body, headers=headers)).status_code == 409
        assert drain(events) == []  # the transaction rolled back: nothing happened


class TestPositionAndBalance:
    async def test_a_fill_is_followed_by_the_position_and_the_balance(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user, headers = await user_with_token(client)
        events = await subscribed(app, user)
        body = {"symbol": "ITC", "order_type": "MARKET", "order_side": "BUY", "quantity": "3",
                "product": "CNC"}  # fmt: skip
        placed = (await client.post(ORDERS, json=body, headers=headers)).json()
        sent = messages(events)
        assert [m["type"] for m in sent] == ["order", "order", "position", "balance"]
        assert sent[2]["position"]["quantity"] == "3"
        wallet = (await client.get("/api/paper-trading/wallet", headers=headers)).json()[0]
        assert sent[3]["balance"] == wallet
        assert Decimal(wallet["cash"]) == 100000 - Decimal(placed["average_price"]) * 3 - Decimal(
            placed["charges"]
        )
        assert all("timestamp" in m for m in sent)
