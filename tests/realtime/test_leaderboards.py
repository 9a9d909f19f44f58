"""Live tournament leaderboards over ``/ws``: subscribe to a tournament, get its boards."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import connect

from tests.conftest import make_settings
from tests.factories import admin_headers
from tests.realtime.conftest import receive, receive_until, serving, user_token, ws_url
from tradepit.app import create_app


@pytest.fixture
async def app(tmp_path: Path, db: str) -> AsyncIterator[FastAPI]:
    application = create_app(make_settings(tmp_path / "data", db, market_hours="always"))
    yield application
    await application.state.wiring.engine.dispose()


async def running_tournament(app: FastAPI, http: httpx.AsyncClient) -> int:
    """Create and start a tournament now; return its id."""
    _, admin = await admin_headers(app, http)
    now = datetime.now(UTC)
    terms = {
        "name": "Live board",
        "description": "",
        "start_time": (now + timedelta(minutes=5)).isoformat(),
        "end_time": (now + timedelta(hours=1)).isoformat(),
        "starting_capital": "100000",
        "entry_fee": "0",
        "prize_pool": "0",
        "prize_split": [],
        "max_participants": 10,
        "rules": {"allow_late_entry": True},
    }
    created = await http.post("/api/admin/tournaments", json=terms, headers=admin)
    assert created.status_code == 201, created.text
    tournament_id: int = created.json()["id"]
    started = await http.post(f"/api/admin/tournaments/{tournament_id}/start", headers=admin)
    assert started.status_code == 200, started.text
    return tournament_id


async def test_a_subscriber_receives_the_live_leaderboard(app: FastAPI) -> None:
    async with serving(app) as address, httpx.AsyncClient(base_url=f"http://{address}") as http:
        tournament_id = await running_tournament(app, http)
        user, token = await user_token(http)
        joined = await http.post(
            f"/api/tournaments/{tournament_id}/join",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert joined.status_code in (200, 201), joined.text
        async with connect(ws_url(address, token=token)) as ws:
            await receive(ws)  # connected
            await ws.send(json.dumps({"type": "subscribe", "tournament": tournament_id}))
            reply, _ = await receive_until(ws, "subscribed")
            assert reply["tournaments"] == [tournament_id]
            board, _ = await receive_until(ws, "leaderboard", within=10)
        assert board["tournament_id"] == tournament_id
        assert [e["user_id"] for e in board["entries"]] == [user["id"]]
        assert board["entries"][0]["rank"] == 1


async def test_an_unknown_tournament_or_a_bad_id_is_an_error_and_the_connection_stays(
    app: FastAPI,
) -> None:
    async with serving(app) as address, httpx.AsyncClient(base_url=f"http://{address}") as http:
        _, token = await user_token(http)
        async with connect(ws_url(address, token=token)) as ws:
            await receive(ws)
            replies: list[dict[str, Any]] = []
            for message in (
                {"type": "subscribe", "tournament": 999_999},
                {"type": "subscribe", "tournaments": ["1"]},
                {"type": "subscribe", "tournaments": []},
            ):
                await ws.send(json.dumps(message))
                replies.append((await receive_until(ws, "error"))[0])
            await ws.send(json.dumps({"type": "ping"}))
            assert (await receive_until(ws, "pong"))[0]["type"] == "pong"
        assert replies[0]["code"] == "TOURNAMENT_NOT_FOUND"
        assert {r["code"] for r in replies[1:]} == {"BAD_MESSAGE"}
