"""USD-base FX pairs (USDJPY): priced in yen, settled in the USD wallet at the pair's own price.

A round trip realizes quantity x contract x (exit - entry) / exit dollars; the margin is
quantity x contract x rate dollars whatever the yen price; the ledger stays balanced.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.books import assert_books_balance
from tests.conftest import app_at, client_for
from tests.factories import user_with_token
from tradepit.domain.clock import ManualClock
from tradepit.domain.money import quote_to_base

#: A Thursday at 12:00 IST (06:30 UTC): the FX venue trades.
OPEN = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)
START = Decimal(10000)
CONTRACT = Decimal(100000)
FOREX_MARGIN = Decimal("0.01")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(OPEN)


@pytest.fixture
async def app(tmp_path: Path, db: str, clock: ManualClock) -> AsyncIterator[FastAPI]:
    """An app on the test database whose users start with 10,000 dollars."""
    async with app_at(tmp_path / "data", db, clock, starting_balance_usd=START) as application:
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as http:
        yield http


async def trade(
    client: httpx.AsyncClient, headers: dict[str, str], side: str, quantity: str
) -> dict[str, Any]:
    response = await client.post(
        "/api/paper-trading/orders",
        json={
            "symbol": "USDJPY",
            "order_type": "MARKET",
            "order_side": side,
            "quantity": quantity,
            "product": "MIS",
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "filled", body
    assert len(body["fills"]) == 1
    return body


async def usd_wallet(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Decimal]:
    wallets = (await client.get("/api/paper-trading/wallet", headers=headers)).json()
    usd = next(w for w in wallets if w["currency"] == "USD")
    return {key: Decimal(usd[key]) for key in ("cash", "blocked", "available")}


class TestUsdJpy:
    async def test_a_round_trip_settles_the_converted_p_and_l_in_the_usd_wallet(
        self, client: httpx.AsyncClient, app: FastAPI, clock: ManualClock
    ) -> None:
        _, headers = await user_with_token(client)
        bought = await trade(client, headers, "BUY", "0.5")
        entry = Decimal(bought["fills"][0]["price"])
        opening_charges = Decimal(bought["charges"])
        assert opening_charges == Decimal("1.75")  # USD 3.50 a lot
        wallet = await usd_wallet(client, headers)
        # Only the charges are paid; the margin is 1 % of 50,000 dollars, not of the yen.
        assert wallet["cash"] == START - opening_charges
        assert wallet["blocked"] == Decimal("0.5") * CONTRACT * FOREX_MARGIN == 500

        clock.advance(timedelta(hours=3))  # the yen price moves
        sold = await trade(client, headers, "SELL", "0.5")
        exit_ = Decimal(sold["fills"][0]["price"])
        closing_charges = Decimal(sold["charges"])
        assert exit_ != entry
        pnl = quote_to_base(Decimal("0.5") * CONTRACT * (exit_ - entry), exit_)
        wallet = await usd_wallet(client, headers)
        assert wallet["cash"] == START + pnl - opening_charges - closing_charges
        assert wallet["blocked"] == 0 and wallet["available"] == wallet["cash"]

        positions = (await client.get("/api/paper-trading/positions", headers=headers)).json()
        (usdjpy,) = positions
        assert usdjpy["currency"] == "USD" and Decimal(usdjpy["quantity"]) == 0
        net = pnl - opening_charges - closing_charges
        assert Decimal(usdjpy["realized_pnl"]) == net
        assert Decimal(usdjpy["unrealized_pnl"]) == 0
        await assert_books_balance(app.state.wiring.sessionmaker)

    async def test_an_open_short_is_marked_in_dollars_at_the_last_price(
        self, client: httpx.AsyncClient, app: FastAPI, clock: ManualClock
    ) -> None:
        _, headers = await user_with_token(client)
        sold = await trade(client, headers, "SELL", "0.2")
        entry = Decimal(sold["fills"][0]["price"])
        clock.advance(timedelta(minutes=45))
        ltp = app.state.wiring.market.tick("USDJPY").ltp
        portfolio = (await client.get("/api/paper-trading/portfolio", headers=headers)).json()
        usd = next(c for c in portfolio["currencies"] if c["currency"] == "USD")
        unrealized = quote_to_base(Decimal("0.2") * CONTRACT * (entry - ltp), ltp)
        assert Decimal(usd["unrealized_pnl"]) == unrealized
        assert Decimal(usd["positions_value"]) == unrealized  # carried on margin
        assert Decimal(usd["margin_used"]) == Decimal("0.2") * CONTRACT * FOREX_MARGIN
        assert Decimal(usd["equity"]) == Decimal(usd["cash"]) + unrealized
        await assert_books_balance(app.state.wiring.sessionmaker)

    async def test_a_buy_needs_the_dollar_margin_not_the_yen_notional(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        # 10 lots block 10,000 dollars of margin: with the charges, more than the wallet.
        response = await client.post(
            "/api/paper-trading/orders",
            json={"symbol": "USDJPY", "order_type": "MARKET", "order_side": "BUY",
                  "quantity": "10", "product": "MIS"},
            headers=headers,
        )  # fmt: skip
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "INSUFFICIENT_FUNDS"
        message = response.json()["message"]
        assert "needs 10035 (1% of the notional (quantity × contract size 100000 USD)" in message
        assert await usd_wallet(client, headers) == {
            "cash": START,
            "blocked": Decimal(0),
            "available": START,
        }

    async def test_a_resting_limit_buy_holds_the_dollar_margin_and_its_charges(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        bid = app.state.wiring.market.tick("USDJPY").bid
        limit = bid - Decimal("1.000")  # a yen below: it rests
        response = await client.post(
            "/api/paper-trading/orders",
            json={"symbol": "USDJPY", "order_type": "LIMIT", "order_side": "BUY",
                  "quantity": "0.5", "price": str(limit), "product": "MIS"},
            headers=headers,
        )  # fmt: skip
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "open"
        held = Decimal("0.5") * CONTRACT * FOREX_MARGIN + Decimal("1.75")
        assert (await usd_wallet(client, headers))["blocked"] == held == Decimal("501.75")
        order_id = response.json()["id"]
        cancelled = await client.delete(f"/api/paper-trading/orders/{order_id}", headers=headers)
        assert cancelled.status_code == 200, cancelled.text
        assert (await usd_wallet(client, headers))["blocked"] == 0
        await assert_books_balance(app.state.wiring.sessionmaker)


async def test_the_instrument_list_says_which_currency_the_price_is_in(
    client: httpx.AsyncClient,
) -> None:
    _, headers = await user_with_token(client)
    listed = await client.get("/api/candles/instruments?exchange=FX", headers=headers)
    assert listed.status_code == 200, listed.text
    rows = {row["symbol"]: row for row in listed.json()["instruments"]}
    assert (rows["USDJPY"]["currency"], rows["USDJPY"]["quote_currency"]) == ("USD", "JPY")
    assert (rows["USDCHF"]["currency"], rows["USDCHF"]["quote_currency"]) == ("USD", "CHF")
    assert rows["EURUSD"]["quote_currency"] is None  # priced in its settlement currency
