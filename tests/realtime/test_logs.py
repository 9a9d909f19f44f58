"""Tokens never reach the logs, even in uvicorn's line for an accepted WebSocket; a real server
writes one access line per logged request, as ``TRADEPIT_ACCESS_LOG`` says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


def json_lines(output: str) -> list[dict[str, Any]]:
    """Return the server's JSON log lines (the banner is plain text)."""
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def access_lines(output: str) -> list[dict[str, Any]]:
    """Return the access lines: the app's, and any of uvicorn's (there should be none)."""
    return [
        line
        for line in json_lines(output)
        if line["logger"] in {"tradepit.access", "uvicorn.access"} or "WebSocket" in line["message"]
    ]


@pytest.mark.skipif(not TRADEPIT.exists(), reason=f"{TRADEPIT} is not installed")
async def test_a_served_request_gets_one_access_line_and_health_checks_none(
    tmp_path: Path,
) -> None:
    async with (
        serving(tmp_path / "data", "server", {"TRADEPIT_LOG_LEVEL": "INFO"}) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=10) as http,
    ):
        _, token = await user_token(http)  # sign-up and login: two access lines
        http.cookies.clear()  # the login's session cookie would authenticate /api/auth/me
        for path in ("/health", "/api/health", "/metrics"):
            assert (await http.get(path)).status_code == 200
        answer = await http.get("/api/auth/me", headers={"X-Request-ID": "one-line"})
        assert answer.status_code == 401
        async with connect(ws_url(server.base_url.removeprefix("http://"), token=token)) as ws:
            await receive(ws)
        logged = server.output()
    lines = access_lines(logged)
    assert [line.get("path") for line in lines if line["logger"] == "tradepit.access"] == [
        "/api/register",
        "/api/login",
        "/api/auth/me",
    ]
    me = [line for line in lines if line.get("request_id") == "one-line"]
    assert len(me) == 1 and me[0]["status"] == 401
    assert sum("WebSocket /ws" in line["message"] for line in lines) == 1


@pytest.mark.skipif(not TRADEPIT.exists(), reason=f"{TRADEPIT} is not installed")
@pytest.mark.parametrize("mode", ["off", "errors"])
async def test_no_access_line_for_a_successful_request_when_off_or_errors_only(
    tmp_path: Path, mode: str
) -> None:
    env = {"TRADEPIT_LOG_LEVEL": "INFO", "TRADEPIT_ACCESS_LOG": mode}
    async with (
        serving(tmp_path / "data", "server", env) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=10) as http,
    ):
        _, token = await user_token(http)
        http.cookies.clear()
        assert (await http.get("/api/auth/me")).status_code == 401
        async with connect(ws_url(server.base_url.removeprefix("http://"), token=token)) as ws:
            await receive(ws)
        logged = server.output()
    expected = [] if mode == "off" else [("/api/auth/me", 401)]
    assert [(line.get("path"), line.get("status")) for line in access_lines(logged)] == expected
