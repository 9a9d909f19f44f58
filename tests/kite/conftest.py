"""A running Tradepit for the official ``kiteconnect`` client: a user, an app, a session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from kiteconnect import KiteConnect

from tests.factories import PASSWORD, register
from tests.realtime.conftest import live_app

T = TypeVar("T")
REDIRECT = "http://bot.example/callback?state=abc"


@pytest.fixture
async def live(tmp_path: Path, db: str) -> AsyncIterator[str]:
    """Yield the address of a running app (market always open, mid-session clock)."""
    async with live_app(tmp_path / "data", db) as address:
        yield address


@pytest.fixture
async def http(live: str) -> AsyncIterator[httpx.AsyncClient]:
    """Yield an HTTP client of the running app."""
    async with httpx.AsyncClient(base_url=f"http://{live}", timeout=10) as client:
        yield client


@dataclass
class Bot:
    """A user with a Kite app and a logged-in official client."""

    username: str
    api_key: str
    api_secret: str
    bearer: str
    kite: KiteConnect

    async def call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a (blocking) client call in a thread."""
        return await asyncio.to_thread(method, *args, **kwargs)


async def new_app(http: httpx.AsyncClient, bearer: str, **body: Any) -> dict[str, Any]:
    """Create a Kite app for the user of ``bearer``; return the answer."""
    answer = await http.post(
        "/api/kite/apps",
        json={"name": "bot", "redirect_url": REDIRECT, **body},
        headers={"Authorization": f"Bearer {bearer}"},
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def request_token(
    http: httpx.AsyncClient, api_key: str, login: str, password: str = PASSWORD
) -> str:
    """Log in through the login page as a person would; return the request token the
    redirect carries."""
    page = await http.get("/kite/connect/login", params={"api_key": api_key, "v": "3"})
    assert page.status_code == 200 and "<form" in page.text
    answer = await http.post(
        "/kite/connect/login", data={"api_key": api_key, "login": login, "password": password}
    )
    assert answer.status_code == 302, answer.text
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["status"] == ["success"] and query["action"] == ["login"]
    assert query["state"] == ["abc"]
    return query["request_token"][0]


async def new_bot(http: httpx.AsyncClient, live: str) -> Bot:
    """Register a user, create an app and log the official client in."""
    user = await register(http)
    token = (
        await http.post("/api/login", json={"username": user["username"], "password": PASSWORD})
    ).json()["access_token"]
    app = await new_app(http, token)
    kite = KiteConnect(app["api_key"], root=f"http://{live}")
    rt = await request_token(http, app["api_key"], user["username"])
    await asyncio.to_thread(kite.generate_session, rt, app["api_secret"])
    return Bot(user["username"], app["api_key"], app["api_secret"], token, kite)


@pytest.fixture
async def bot(http: httpx.AsyncClient, live: str) -> Bot:
    """Return a logged-in bot."""
    return await new_bot(http, live)
