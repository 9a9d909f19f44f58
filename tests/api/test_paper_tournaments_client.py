"""paper-tournaments' own frontend against Tradepit: its calls, bodies and messages, replayed
as it makes them.

The frontend is ``KARTHIKKHEGDE/Nifty-Tournament`` (``frontend/``); its calls are in
``services/*.ts`` (axios: ``response.data`` is the body) and a few components and hooks that call
``api`` themselves. What it sends and what it reads is a fact these tests restate, with where it
reads it. The market clock stands still at Thursday 2026-11-26 12:00 IST, mid-session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import app_at
from tests.factories import unique_name
from tests.services.test_engine import matcher
from tradepit.domain.clock import ManualClock

T0 = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)  # Thursday, noon in Mumbai: NSE open
Headers = dict[str, str]
#: ``README.md``'s "Place Paper Order" body, as the seed documents it.
README_ORDER = {
    "symbol": "NIFTY 50",
    "instrument_type": "INDEX",
    "order_type": "MARKET",
    "order_side": "BUY",
    "quantity": 1,
}


@pytest.fixture
async def app(tmp_path: Path, db: str) -> AsyncIterator[FastAPI]:
    async with app_at(tmp_path / "data", db, ManualClock(T0)) as application:
        yield application


async def signed_up(client: httpx.AsyncClient) -> Headers:
    """``authService.signup``: ``POST /api/auth/signup`` then ``login`` (``POST
    /api/auth/login`` with e-mail and password) and ``getCurrentUser`` (``GET
    /api/auth/me``); the token goes into ``Authorization: Bearer``."""
    name = unique_name("pt")
    body = {"email": f"{name}@example.com", "username": name, "password": "SecurePass123"}
    assert (await client.post("/api/auth/signup", json=body)).status_code == 201
    login = {"email": body["email"], "password": body["password"]}
    answer = await client.post("/api/auth/login", json=login)
    assert answer.status_code == 200, answer.text
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    me = (await client.get("/api/auth/me", headers=headers)).json()
    assert me["username"] == name and me["is_admin"] is False  # AdminLayout reads is_admin
    return headers


async def inr(client: httpx.AsyncClient, headers: Headers) -> dict[str, Decimal]:
    wallets = (await client.get("/api/paper-trading/wallet", headers=headers)).json()
    found = next(w for w in wallets if w["currency"] == "INR")
    return {key: Decimal(found[key]) for key in ("cash", "blocked", "available")}


class TestIndexContracts:
    """The README's own example order: ``NIFTY 50`` as an ``INDEX``, MARKET BUY 1. Paper trading
    trades an index as a cash-settled contract on its level (INR, multiplier 1)."""

    async def test_the_readme_order_fills_one_tick_over_the_level(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        headers = await signed_up(client)
        before = await inr(client, headers)
        level = app.state.wiring.market.tick("NIFTY").ltp
        answer = await client.post("/api/paper-trading/orders", json=README_ORDER, headers=headers)
        assert answer.status_code == 201, answer.text
        order = answer.json()
        assert order["symbol"] == "NIFTY" and order["status"] == "filled"
        assert order["product"] == "MIS"  # the default product of a new user
        assert Decimal(order["average_price"]) == level + Decimal("0.05")
        charges = Decimal(order["charges"])
        after = await inr(client, headers)
        # Cash-settled: the notional never leaves the wallet; its margin is blocked.
        assert after["cash"] == before["cash"] - charges
        assert after["blocked"] == (Decimal(order["average_price"]) * Decimal("0.15")).quantize(
            Decimal("1e-8")
        )

    async def test_a_round_trip_settles_its_pnl_in_cash(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        headers = await signed_up(client)
        before = await inr(client, headers)
        buy = {**README_ORDER, "quantity": 3, "product": "NRML"}
        bought = (await client.post("/api/paper-trading/orders", json=buy, headers=headers)).json()
        sell = {**buy, "order_side": "SELL"}
        sold = (await client.post("/api/paper-trading/orders", json=sell, headers=headers)).json()
        pnl = (Decimal(sold["average_price"]) - Decimal(bought["average_price"])) * 3
        assert pnl == Decimal("-0.30")  # the spread: one tick each way, on 3 units
        charges = Decimal(bought["charges"]) + Decimal(sold["charges"])
        after = await inr(client, headers)
        assert after["cash"] == before["cash"] + pnl - charges
        assert after["blocked"] == 0

    async def test_a_short_and_the_intraday_square_off(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        headers = await signed_up(client)
        short = {**README_ORDER, "order_side": "SELL", "quantity": 2}
        answer = await client.post("/api/paper-trading/orders", json=short, headers=headers)
        assert answer.status_code == 201, answer.text
        carried = {**README_ORDER, "product": "NRML"}
        assert (
            await client.post("/api/paper-trading/orders", json=carried, headers=headers)
        ).status_code == 201
        clock: ManualClock = app.state.wiring.clock
        clock.advance(timedelta(hours=3, minutes=20, seconds=1))  # 15:20:01 IST
        assert (await matcher(app).end_of_day())[1] == 1  # the MIS short only
        positions = await client.get("/api/paper-trading/positions", headers=headers)
        held = {p["product"]: Decimal(p["quantity"]) for p in positions.json()["positions"]}
        assert held == {"MIS": 0, "NRML": 1}  # NRML is carried until closed

    async def test_delivery_of_an_index_is_refused(self, client: httpx.AsyncClient) -> None:
        headers = await signed_up(client)
        cnc = {**README_ORDER, "product": "CNC"}
        answer = await client.post("/api/paper-trading/orders", json=cnc, headers=headers)
        assert answer.status_code == 400 and answer.json()["code"] == "NOT_TRADABLE"
        assert "not CNC" in answer.json()["detail"]
