"""Tokens never reach the logs, even in uvicorn's line for an accepted WebSocket."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from bench.server import TRADEPIT, serving
from websockets.asyncio.client import connect

from tests.realtime.conftest import receive, user_token, ws_url


@pytest.mark.skipif(not TRADEPIT.exists(), reason=f"{TRADEPIT} is not installed")
async def test_a_websocket_token_is_not_logged(tmp_path: Path) -> None:
    async with (
        serving(tmp_path / "data", "server", {"TRADEPIT_LOG_LEVEL": "INFO"}) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=10) as http,
    ):
        _, token = await user_token(http)
        async with connect(ws_url(server.base_url.removeprefix("http://"), token=token)) as ws:
            await receive(ws)
        logged = server.output()
    assert '"WebSocket /ws"' in logged or "WebSocket /ws" in logged
    assert token not in logged
    assert token.split(".")[2] not in logged
