"""A running Tradepit for the official ``kiteconnect`` client: a user, an app, a session."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from kiteconnect import KiteConnect

from tests.factories import PASSWORD, register

# The running app (market always open, mid-session clock) and its HTTP client, as the
# real-time tests have them.
from tests.realtime.conftest import http, live

__all__ = ["http", "live"]

T = TypeVar("T")
REDIRECT = "http://bot.example/callback?state=abc"


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
