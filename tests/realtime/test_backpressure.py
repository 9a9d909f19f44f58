"""Backpressure: a slow reader gets the latest price per symbol, a fast one every tick; private
events are never lost."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import make_settings
from tests.realtime.conftest import (
    market_clock,
    receive,
    receive_until,
    serving,
    user_token,
    ws_url,
)
from tradepit.app import create_app
from tradepit.bus import Bus, tick_topic
from tradepit.services.realtime import Client, Counters, Limits, Outgoing


def tick(symbol: str, n: int) -> Outgoing:
    return Outgoing({"type": "tick", "symbol": symbol, "ltp": n})


async def no_replay(user_id: int, after: int, through: int) -> list[dict[str, object]]:
    return []


def sent_ticks(sent: list[Outgoing]) -> list[tuple[str, int]]:
    return [(m.message["symbol"], m.message["ltp"]) for m in sent]


class TestClientQueue:
    async def test_a_brief_pause_loses_no_tick(self) -> None:
        counters = Counters()
        client = Client("ws", None, Limits(tick_backlog=64), counters, no_replay)
        for n in range(32):
            client.offer_tick("ITC", tick("ITC", n))
            client.offer_tick("SBIN", tick("SBIN", n))
        sent = await client.take()
        assert sent_ticks(sent) == [(s, n) for n in range(32) for s in ("ITC", "SBIN")]
        assert counters.dropped == 0

    async def test_past_the_backlog_ticks_are_conflated_to_the_latest_per_symbol(self) -> None:
        counters = Counters()
        client = Client("ws", None, Limits(tick_backlog=10), counters, no_replay)
        for n in range(100):
            client.offer_tick("ITC", tick("ITC", n))
            client.offer_tick("SBIN", tick("SBIN", n))
        sent = sent_ticks(await client.take())
        assert len(sent) <= 2 + 10
        assert [t for t in sent if t[0] == "ITC"][-1] == ("ITC", 99)
        assert [t for t in sent if t[0] == "SBIN"][-1] == ("SBIN", 99)
        for symbol in ("ITC", "SBIN"):  # what is left of each symbol is in order
            prices = [n for s, n in sent if s == symbol]
            assert prices == sorted(prices)
        assert counters.dropped == 200 - len(sent)
        client.offer_tick("ITC", tick("ITC", 100))  # the backlog starts afresh after a read
        assert sent_ticks(await client.take()) == [("ITC", 100)]

    async def test_unsubscribing_drops_the_symbols_queued_ticks(self) -> None:
        client = Client("ws", None, Limits(), Counters(), no_replay)
        client.offer_tick("ITC", tick("ITC", 1))
        client.offer_tick("SBIN", tick("SBIN", 1))
        client.forget("ITC")
        assert sent_ticks(await client.take()) == [("SBIN", 1)]

    async def test_private_events_are_never_dropped_a_slow_client_is_closed(self) -> None:
        client = Client("ws", None, Limits(queue_size=3), Counters(), no_replay)
        for seq in range(1, 4):
            client.offer(Outgoing({"type": "order", "seq": seq}))
        assert client.closing is None
        client.offer(Outgoing({"type": "order", "seq": 4}))
        assert client.closing is not None
        assert "too slow" in client.closing
        assert await client.take() == []


def small_socket(address: str) -> socket.socket:
    """Return a socket connected to ``address`` with a tiny receive buffer (a slow reader)."""
    host, port = address.split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.setblocking(False)
    return sock


Seen = dict[str, list[tuple[datetime, float]]]


async def record_ticks(bus: Bus, symbols: list[str], seen: Seen) -> None:
    """Record every tick the feed publishes, in order: what a client could receive."""
    subscriptions = {s: bus.subscribe(tick_topic(s)) for s in symbols}

    async def one(symbol: str) -> None:
        async for event in subscriptions[symbol]:
            seen[symbol].append((datetime.fromisoformat(event["timestamp"]), event["ltp"]))

    await asyncio.gather(*(one(s) for s in symbols))


def note(message: dict[str, Any], ticks: Seen) -> None:
    """Keep a tick message's time and price under its symbol."""
    if message["type"] == "tick":
        stamp = datetime.fromisoformat(message["timestamp"])
        ticks.setdefault(message["symbol"], []).append((stamp, message["ltp"]))


async def read_until_quiet(ws: ClientConnection, ticks: Seen, quiet: float = 1.5) -> None:
    """Read every message until none came for ``quiet`` seconds."""
    with contextlib.suppress(TimeoutError):
        while True:
            note(await receive(ws, quiet), ticks)


async def test_a_slow_reader_gets_the_latest_prices_a_fast_one_every_tick(
    tmp_path: Path, db: str
) -> None:
    symbols = ["ITC", "SBIN", "INFY", "RELIANCE", "TCS", "LT", "NIFTY", "BANKNIFTY"]
    settings = make_settings(tmp_path / "data", db, market_hours="always")
    app = create_app(settings, clock=market_clock(20))
    wired = app.state.wiring
    published: Seen = {s: [] for s in symbols}
    fast: Seen = {}
    slow: Seen = {}
    try:
        async with (
            serving(app) as address,
            httpx.AsyncClient(base_url=f"http://{address}", timeout=10) as http,
        ):
            recorder = asyncio.create_task(record_ticks(wired.bus, symbols, published))
            _, token = await user_token(http)
            async with (
                connect(ws_url(address, token=token)) as fast_ws,
                connect(
                    ws_url(address, token=token), sock=small_socket(address), max_queue=1
                ) as slow_ws,
            ):
                subscribe = json.dumps({"type": "subscribe", "symbols": symbols})
                for ws in (fast_ws, slow_ws):
                    await receive(ws)  # connected
                    await ws.send(subscribe)
                reader = asyncio.create_task(read_until_quiet(fast_ws, fast, quiet=30))
                await asyncio.sleep(0.5)
                since = {s: len(published[s]) for s in symbols}  # both clients are live
                await asyncio.sleep(3)  # the slow client reads nothing meanwhile
                headers = {"Authorization": f"Bearer {token}"}
                body = {"symbol": "ITC", "order_type": "MARKET", "order_side": "BUY",
                        "quantity": "1", "product": "CNC"}  # fmt: skip
                placed = await http.post("/api/paper-trading/orders", json=body, headers=headers)
                assert placed.status_code == 201
                await asyncio.sleep(1)
                await wired.feeds.stop()  # no more ticks: the latest prices are final
                await asyncio.sleep(0.5)
                stats = (await http.get("/api/websocket/stats")).json()["data"]["worker"]
                balance, before = await receive_until(slow_ws, "balance", within=20)
                for message in before:
                    note(message, slow)
                await read_until_quiet(slow_ws, slow)
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
            recorder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recorder
    finally:
        await wired.engine.dispose()
    private = [m["seq"] for m in [*before, balance] if "seq" in m]
    assert private == [1, 2, 3, 4]  # private events are never dropped
    assert stats["messages_dropped"] > 0
    for symbol in symbols:
        live = published[symbol][since[symbol] :]
        assert len(live) > 50, symbol  # the feed ran: dozens of ticks while the slow one slept
        # The fast client got every tick of the symbol, in order, none missing, to the last.
        assert fast[symbol][-len(live) :] == live, symbol
        # The slow client did not get that backlog: a few ticks, never going back in time,
        # and the last one is the symbol's latest price.
        got = slow[symbol]
        assert len(got) < len(live) / 2, symbol
        assert [stamp for stamp, _ in got] == sorted({stamp for stamp, _ in got}), symbol
        assert got[-1] == published[symbol][-1], symbol
