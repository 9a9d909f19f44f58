"""``GET /api/websocket/stats``: connections, subscriptions and messages, per worker and total."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from tests.conftest import make_settings
from tests.realtime.conftest import receive, receive_until, serving, user_token, ws_url
from tradepit.app import create_app


async def test_stats_count_connections_subscriptions_and_messages(
    live: str, http: httpx.AsyncClient
) -> None:
    _, token = await user_token(http)
    async with connect(ws_url(live, token=token)) as one, connect(ws_url(live, token=token)) as two:
        await receive(one)
        await receive(two)
        await one.send(json.dumps({"type": "subscribe", "symbols": ["ITC", "SBIN"]}))
        await two.send(json.dumps({"type": "subscribe", "symbol": "ITC"}))
        await receive_until(one, "tick")
        await receive_until(two, "tick")
        response = await http.get("/api/websocket/stats")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    stats = body["data"]
    worker = stats["worker"]
    assert worker["connections"] == {"ws": 2, "socketio": 0}
    assert worker["subscriptions"] == {"ITC": 2, "SBIN": 1}
    assert worker["messages_sent"] >= 2  # at least a tick each
    assert stats["totals"]["connections"] == {"ws": 2, "socketio": 0}
    assert stats["workers"] == [worker]


async def test_a_started_server_leaves_what_startup_built_out_of_full_collections(
    tmp_path: Path, db: str
) -> None:
    app = create_app(make_settings(tmp_path / "data", db, gc_freeze=True))
    try:
        async with serving(app) as address, httpx.AsyncClient() as http:
            assert (await http.get(f"http://{address}/health")).status_code == 200
            frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()  # this test process starts many apps: keep them collectable
        await app.state.wiring.engine.dispose()
    assert frozen > 10_000
