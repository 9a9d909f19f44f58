"""smd-options' own frontend's Socket.IO client, replayed with python-socketio's AsyncClient.

``LUCKYAI1199/Frontend``'s ``src/services/SocketService.tsx`` connects without a token
(``transports: ['websocket', 'polling']``), emits ``subscribe_symbol {symbol}`` and
``unsubscribe_symbol {symbol}`` without waiting for an ack, and logs ``connection_status``
(``status``, ``message``), ``subscription_status`` (``symbol``, ``status``) and
``subscription_error`` (``error``), the events its backend (``LUCKYAI1199/Backend``,
``services/websocket_service.py``) emits for them. Its ``SmdLiqHlcZ2hBtstPage`` connects over
long-polling only, without upgrading.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import socketio

EVENTS = ["connection_status", "subscription_status", "subscription_error", "symbol_update",
          "error"]  # fmt: skip


class Received:
    """Every event a client received, by name, and the order of their names."""

    def __init__(self, client: socketio.AsyncClient) -> None:
        self.queues: dict[str, asyncio.Queue[Any]] = {e: asyncio.Queue() for e in EVENTS}
        self.order: list[str] = []
        for event in EVENTS:
            client.on(event, self._keeper(event))

    def _keeper(self, event: str) -> Any:
        async def keep(data: Any) -> None:
            self.order.append(event)
            await self.queues[event].put(data)

        return keep

    async def next(self, event: str, within: float = 5.0) -> Any:
        """Return the next payload of ``event``."""
        return await asyncio.wait_for(self.queues[event].get(), within)


@asynccontextmanager
async def frontend(
    address: str, transports: list[str]
) -> AsyncIterator[tuple[socketio.AsyncClient, Received]]:
    """Connect as the frontend does (no token); yield the client and what it receives."""
    client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
    received = Received(client)
    await client.connect(f"http://{address}", transports=transports, wait_timeout=5)
    try:
        yield client, received
    finally:
        if client.transport() == "polling":
            # A clean disconnect waits ~30 s for the long poll the server leaves open after
            # the close (python-engineio answers it at its ping timeout); a browser aborts it.
            await client.eio.disconnect(abort=True)
        else:
            await client.disconnect()


def recent(text: str) -> bool:
    """Tell whether an ISO 8601 instant is within a minute of now."""
    instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return abs(instant - datetime.now(instant.tzinfo)) < timedelta(minutes=1)


class TestSocketService:
    async def test_connect_announces_the_connection(self, live: str) -> None:
        async with frontend(live, ["websocket"]) as (_, received):
            status = await received.next("connection_status")
        assert status["status"] == "connected" and status["message"]
        assert status["client_id"] == status["sid"]
        assert status["authenticated"] is False

    async def test_subscribe_then_unsubscribe(self, live: str) -> None:
        async with frontend(live, ["websocket"]) as (client, received):
            await received.next("connection_status")
            await client.emit("subscribe_symbol", {"symbol": "NIFTY"})
            subscribed = await received.next("subscription_status")
            first = await received.next("symbol_update")
            await client.emit("unsubscribe_symbol", {"symbol": "NIFTY"})
            unsubscribed = await received.next("subscription_status")
        assert {k: subscribed[k] for k in ("symbol", "status")} == {
            "symbol": "NIFTY",
            "status": "subscribed",
        }
        assert (unsubscribed["symbol"], unsubscribed["status"]) == ("NIFTY", "unsubscribed")
        assert recent(subscribed["timestamp"]) and recent(unsubscribed["timestamp"])
        assert first["symbol"] == "NIFTY"
        # The status comes before the symbol's first price.
        assert received.order.index("subscription_status") < received.order.index("symbol_update")

    async def test_resubscribing_after_a_reconnect(self, live: str) -> None:
        # On 'connect' the frontend subscribes again to every symbol it had.
        for _ in range(2):
            async with frontend(live, ["websocket"]) as (client, received):
                await received.next("connection_status")
                for symbol in ("NIFTY", "BANKNIFTY"):
                    await client.emit("subscribe_symbol", {"symbol": symbol})
                statuses = [await received.next("subscription_status") for _ in range(2)]
            assert [s["symbol"] for s in statuses] == ["NIFTY", "BANKNIFTY"]

    async def test_an_unknown_symbol_is_a_subscription_error(self, live: str) -> None:
        async with frontend(live, ["websocket"]) as (client, received):
            await client.emit("subscribe_symbol", {"symbol": "NOPE"})
            refused = await received.next("subscription_error")
            error = await received.next("error")
            await client.emit("subscribe_symbol", {})
            missing = await received.next("subscription_error")
        assert refused["code"] == error["code"] == "NOT_FOUND"
        assert "NOPE" in refused["error"]  # the frontend logs data.error
        assert missing["code"] == "VALIDATION_ERROR"
        assert "subscription_status" not in received.order

    async def test_unknown_fields_are_ignored(self, live: str) -> None:
        async with frontend(live, ["websocket"]) as (client, received):
            await client.emit("subscribe_symbol", {"symbol": "SBIN", "expiry": "", "x": 1})
            subscribed = await received.next("subscription_status")
        assert subscribed["symbol"] == "SBIN"

    async def test_long_polling_without_upgrade(self, live: str) -> None:
        async with frontend(live, ["polling"]) as (client, received):
            status = await received.next("connection_status")
            await client.emit("subscribe_symbol", {"symbol": "NIFTY"})
            subscribed = await received.next("subscription_status")
            transport = client.transport()
        assert status["status"] == "connected"
        assert subscribed["status"] == "subscribed"
        assert transport == "polling"
