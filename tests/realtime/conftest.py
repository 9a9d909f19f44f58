"""A real server for the real-time tests: the app under uvicorn on a free loopback port."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from bench.server import free_port
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection

from tests.conftest import make_settings
from tests.factories import login, register
from tradepit.app import create_app
from tradepit.domain.clock import Clock, SimulatedClock

#: Mid-session on an NSE trading day (Wednesday 2026-11-25, 10:00 IST). Live tests run their
#: market from here, so NSE symbols tick whatever the hour the tests run at (the simulated
#: feed sends ticks only while a venue trades).
MID_SESSION = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)


def market_clock(speed: float = 1.0) -> SimulatedClock:
    """Return a market clock that starts at ``MID_SESSION`` and runs ``speed`` times the wall."""
    return SimulatedClock(speed, start=MID_SESSION)


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """Run ``app`` (lifespan included) on a free port, with the websocket settings of
    ``tradepit serve``; yield its ``host:port``."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def live_app(
    data_dir: Path, db: str, clock: Clock | None = None, **overrides: object
) -> AsyncIterator[str]:
    """Run an app on ``db`` (market always open unless overridden, its clock from
    ``MID_SESSION`` unless given); yield its address."""
    values: dict[str, object] = {"market_hours": "always", **overrides}
    settings = make_settings(data_dir, db, **values)
    app = create_app(settings, clock=clock or market_clock(settings.clock_speed))
    try:
        async with serving(app) as address:
            yield address
    finally:
        await app.state.wiring.engine.dispose()


@pytest.fixture
async def live(tmp_path: Path, db: str) -> AsyncIterator[str]:
    """Yield the address of a running app with the default limits."""
    async with live_app(tmp_path / "data", db) as address:
        yield address


@pytest.fixture
async def http(live: str) -> AsyncIterator[httpx.AsyncClient]:
    """Yield an HTTP client of the running app."""
    async with httpx.AsyncClient(base_url=f"http://{live}", timeout=10) as client:
        yield client


async def user_token(http: httpx.AsyncClient) -> tuple[dict[str, Any], str]:
    """Register a user on the running app; return the body and a bearer token."""
    body = await register(http)
    return body, await login(http, body["username"])


async def receive(ws: ClientConnection, within: float = 5.0) -> dict[str, Any]:
    """Return the next message as JSON."""
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), within))
    return message


async def receive_until(
    ws: ClientConnection, kind: str, within: float = 5.0
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return the first message of type ``kind`` and every message before it."""
    before: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        message = await receive(ws, max(0.01, deadline - loop.time()))
        if message["type"] == kind:
            return message, before
        before.append(message)


def ws_url(live: str, **query: str) -> str:
    """Return the /ws URL of the running app with ``query``."""
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return f"ws://{live}/ws" + (f"?{params}" if params else "")
