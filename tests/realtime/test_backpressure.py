"""Backpressure: a slow reader gets the latest price per symbol; private events are never lost."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from tests.realtime.conftest import live_app, receive, receive_until, user_token, ws_url
from tradepit.services.realtime import Client, Counters, Limits, Outgoing


def tick(symbol: str, n: int) -> Outgoing:
    return Outgoing({"type": "tick", "symbol": symbol, "ltp": n})


async def no_replay(user_id: int, after: int, through: int) -> list[dict[str, object]]:
    return []


class TestClientQueue:
    async def test_ticks_are_conflated_to_the_latest_per_symbol(self) -> None:
        counters = Counters()
        client = Client("ws", None, Limits(), counters, no_replay)
        for n in range(100):
            client.offer_tick("ITC", tick("ITC", n))
            client.offer_tick("SBIN", tick("SBIN", n))
        sent = await client.take()
        assert [(m.message["symbol"], m.message["ltp"]) for m in sent] == [
            ("ITC", 99), ("SBIN", 99)
        ]  # fmt: skip
        assert counters.dropped == 198

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


async def test_a_slow_reader_gets_conflated_ticks_and_its_private_events(
    tmp_path: Path, db: str
) -> None:
    async with (
        live_app(tmp_path / "data", db, clock_speed=60) as address,
        httpx.AsyncClient(base_url=f"http://{address}", timeout=10) as http,
    ):
        _, token = await user_token(http)
        symbols = ["ITC", "SBIN", "INFY", "RELIANCE", "TCS", "LT", "NIFTY", "BANKNIFTY"]
        async with connect(
            ws_url(address, token=token), sock=small_socket(address), max_queue=1
        ) as ws:
            await receive(ws)
            await ws.send(json.dumps({"type": "subscribe", "symbols": symbols}))
            await asyncio.sleep(3)  # not reading
            headers = {"Authorization": f"Bearer {token}"}
            body = {"symbol": "ITC", "order_type": "MARKET", "order_side": "BUY",
                    "quantity": "1", "product": "CNC"}  # fmt: skip
            placed = await http.post("/api/paper-trading/orders", json=body, headers=headers)
            assert placed.status_code == 201
            await asyncio.sleep(1)
            stats = (await http.get("/api/websocket/stats")).json()["data"]["worker"]
            balance, before = await receive_until(ws, "balance", within=20)
        private = [m["seq"] for m in [*before, balance] if "seq" in m]
    assert stats["messages_dropped"] > 0
    assert private == [1, 2, 3, 4]
