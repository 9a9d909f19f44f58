"""Paper orders as a trader sees them: MARKET fills, idempotency, positions, the ledger."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.conftest import app_at, client_for
from tests.factories import user_with_token
from tradepit.domain.clock import ManualClock
from tradepit.domain.market import Tick
from tradepit.market.simulated_feed import SimulatedFeed
from tradepit.services.engine import Matcher
from tradepit.store.wallets import Wallet, entries_sum

#: A Thursday at 12:00 IST: NSE is open.
OPEN = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)
#: A Saturday: NSE is closed.
WEEKEND = datetime(2026, 11, 28, 6, 30, tzinfo=UTC)
#: 04:05 IST on Wednesday 2026-11-25: NSE is closed (and the Tuesday was a holiday).
NIGHT = datetime(2026, 11, 24, 22, 35, tzinfo=UTC)
#: Noon IST on Sunday 2026-11-29.
SUNDAY = datetime(2026, 11, 29, 6, 30, tzinfo=UTC)


@pytest.fixture
async def app(tmp_path: Path, db: str) -> AsyncIterator[FastAPI]:
    """An app whose market clock stands at a weekday noon in Mumbai."""
    async with app_at(tmp_path / "data", db, ManualClock(OPEN)) as application:
        yield application


def order(symbol: str, side: str, quantity: str, **extra: object) -> dict[str, object]:
    return {
        "symbol": symbol,
        "order_type": "MARKET",
        "order_side": side,
        "quantity": quantity,
        **extra,
    }


class TestMarketOrders:
    async def test_buy_fills_at_the_ask_or_worse_with_charges(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        ask = app.state.wiring.market.tick("RELIANCE").ask
        response = await client.post(
            "/api/paper-trading/orders",
            json=order("RELIANCE", "BUY", "10", product="CNC"),
            headers=headers,
        )
        assert response.status_code == 201
        body = response.json()
        assert body["status"] == "filled" and body["filled_quantity"] == "10"
        assert Decimal(body["average_price"]) >= ask
        assert Decimal(body["charges"]) > 0
        assert len(body["fills"]) == 1 and body["fills"][0]["liquidity"] == "taker"
        cost = Decimal(body["average_price"]) * 10 + Decimal(body["charges"])
        wallet = (await client.get("/api/paper-trading/wallet", headers=headers)).json()
        assert Decimal(wallet[0]["cash"]) == Decimal(100000) - cost

    async def test_sell_fills_at_the_bid_or_worse_and_realizes(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        await client.post(
            "/api/paper-trading/orders",
            json=order("TCS", "BUY", "5", product="MIS"),
            headers=headers,
        )
        bid = app.state.wiring.market.tick("TCS").bid
        sold = await client.post(
            "/api/paper-trading/orders",
            json=order("TCS", "SELL", "5", product="MIS"),
            headers=headers,
        )
        assert sold.status_code == 201
        assert Decimal(sold.json()["average_price"]) <= bid
        positions = (await client.get("/api/paper-trading/positions", headers=headers)).json()
        tcs = positions[0]
        assert tcs["quantity"] == "0" and tcs["unrealized_pnl"] == "0"
        # Bought at the ask, sold at the bid, paid charges both ways: a round trip loses.
        assert Decimal(tcs["realized_pnl"]) < 0

    async def test_product_defaults_to_the_users_setting(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        await client.put("/api/users/me/settings", json={"default_product": "CNC"}, headers=headers)
        response = await client.post(
            "/api/paper-trading/orders", json=order("ITC", "BUY", "1"), headers=headers
        )
        assert response.json()["product"] == "CNC"

    async def test_buying_more_than_the_cash_is_409_and_writes_nothing(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.post(
            "/api/paper-trading/orders",
            json=order("LT", "BUY", "100", product="CNC"),
            headers=headers,
        )
        assert response.status_code == 409
        assert response.json()["code"] == "INSUFFICIENT_FUNDS"
        listed = (await client.get("/api/paper-trading/orders", headers=headers)).json()
        assert listed == []
        assert (await client.get("/api/paper-trading/positions", headers=headers)).json() == []

    async def test_selling_what_you_do_not_hold_is_refused(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        response = await client.post(
            "/api/paper-trading/orders",
            json=order("SBIN", "SELL", "1", product="CNC"),
            headers=headers,
        )
        assert response.status_code == 400
        assert "short" in response.json()["message"]

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            (order("NIFTY 50", "BUY", "1", instrument_type="INDEX", product="CNC"), "NOT_TRADABLE"),
            (order("NIFTY", "BUY", "0.5"), "INVALID_QUANTITY"),
            (order("BTC-USDT", "BUY", "0.000001"), "INVALID_QUANTITY"),
            ({**order("TCS", "BUY", "1"), "order_type": "LIMIT"}, "INVALID_PRICE"),
            (
                {**order("TCS", "BUY", "1"), "order_type": "LIMIT", "price": "3000.03"},
                "INVALID_PRICE",
            ),
            (order("NOPE", "BUY", "1"), "NOT_FOUND"),
        ],
    )
    async def test_refusals_say_why(
        self, client: httpx.AsyncClient, body: dict[str, object], code: str
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.post("/api/paper-trading/orders", json=body, headers=headers)
        assert response.status_code in {400, 404}
        assert response.json()["code"] == code

    @pytest.mark.parametrize("quantity", ["0", "-1", "1.000000001", "abc"])
    async def test_malformed_quantity_is_422(
        self, client: httpx.AsyncClient, quantity: str
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.post(
            "/api/paper-trading/orders", json=order("TCS", "BUY", quantity), headers=headers
        )
        assert response.status_code == 422

    async def test_closed_market_takes_an_after_market_order(self, tmp_path: Path, db: str) -> None:
        async with (
            app_at(tmp_path / "w", db, ManualClock(WEEKEND)) as weekend,
            client_for(weekend) as http,
        ):
            _, headers = await user_with_token(http)
            response = await http.post(
                "/api/paper-trading/orders", json=order("TCS", "BUY", "1"), headers=headers
            )
            assert response.status_code == 201
            body = response.json()
            assert body["status"] == "amo" and body["filled_quantity"] == "0"
            assert "next open" in body["reason"]
            wallet = (await http.get("/api/paper-trading/wallet", headers=headers)).json()
            assert Decimal(wallet[0]["blocked"]) > 0
            # Crypto trades round the clock, but this user has no USDT yet.
            crypto = await http.post(
                "/api/paper-trading/orders",
                json=order("BTC-USDT", "BUY", "0.001"),
                headers=headers,
            )
            assert crypto.json()["code"] == "INSUFFICIENT_FUNDS"


def unfunded(response: httpx.Response) -> dict[str, str]:
    """Check ``response`` is a 409 INSUFFICIENT_FUNDS; return the parts of its message:
    "insufficient <currency>: <what> needs <need> (<how>), available <available> (cash
    <cash>, blocked for open orders and margin <blocked>)"."""
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "INSUFFICIENT_FUNDS"
    message: str = body["message"]
    head, _, wallet = message.rpartition(", available ")
    available, _, rest = wallet.partition(" (cash ")
    cash, _, blocked = rest.removesuffix(")").partition(", blocked for open orders and margin ")
    what, _, needs = head.partition(" needs ")
    need, _, how = needs.partition(" (")
    parts = {"what": what, "need": need, "how": how.removesuffix(")")}
    return {**parts, "available": available, "cash": cash, "blocked": blocked}


class TestClearRefusals:
    """Issue 14: each refusal says what to do."""

    @pytest.mark.parametrize(
        ("typed", "meant"),
        [("RELIANC", "RELIANCE"), ("btc_usdt", "BTC-USDT"), ("Reliance Industries", "RELIANCE")],
    )
    async def test_an_unknown_symbol_suggests_close_matches(
        self, client: httpx.AsyncClient, typed: str, meant: str
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.post(
            "/api/paper-trading/orders", json=order(typed, "BUY", "1"), headers=headers
        )
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "NOT_FOUND"
        assert response.json()["message"].startswith(
            f"unknown symbol '{typed}'; did you mean {meant}"
        )

    async def test_a_case_only_difference_is_the_same_symbol(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.post(
            "/api/paper-trading/orders", json=order("reliance", "BUY", "1"), headers=headers
        )
        assert response.status_code == 201, response.text
        assert response.json()["symbol"] == "RELIANCE"

    async def test_an_unfunded_market_order_says_what_it_needs_and_what_is_available(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        ask = app.state.wiring.market.tick("LT").ask
        response = await client.post(
            "/api/paper-trading/orders",
            json=order("LT", "BUY", "100", product="CNC"),
            headers=headers,
        )
        parts = unfunded(response)
        assert response.json()["message"].startswith("insufficient INR: this order needs ")
        assert parts["how"] == "price × quantity + charges"
        assert Decimal(parts["need"]) > ask * 100
        assert parts["available"] == parts["cash"] == "100000" and parts["blocked"] == "0"

    async def test_an_unfunded_limit_order_says_what_it_would_block(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        limit = (app.state.wiring.market.tick("RELIANCE").bid * Decimal("0.9")).quantize(
            Decimal("1")
        )
        quantity = int(Decimal(150000) / limit)
        response = await client.post(
            "/api/paper-trading/orders",
            json=order("RELIANCE", "BUY", str(quantity), product="CNC", order_type="LIMIT",
                       price=str(limit)),
            headers=headers,
        )  # fmt: skip
        parts = unfunded(response)
        assert parts["what"] == "insufficient INR: this order"
        assert parts["how"] == "limit price × quantity + charges"
        assert limit * quantity < Decimal(parts["need"]) < limit * quantity * Decimal("1.01")
        assert parts["available"] == "100000"

    async def test_cash_blocked_for_open_orders_is_shown(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        ask = app.state.wiring.market.tick("INFY").ask
        limit = (ask * Decimal("0.9")).quantize(Decimal("1"))
        resting = await client.post(
            "/api/paper-trading/orders",
            json=order("INFY", "BUY", str(int(Decimal(60000) / limit)), product="CNC",
                       order_type="LIMIT", price=str(limit)),
            headers=headers,
        )  # fmt: skip
        assert resting.status_code == 201 and resting.json()["status"] == "open", resting.text
        response = await client.post(
            "/api/paper-trading/orders",
            json=order("INFY", "BUY", str(int(Decimal(50000) / ask)), product="CNC"),
            headers=headers,
        )
        parts = unfunded(response)
        wallet = (await client.get("/api/paper-trading/wallet", headers=headers)).json()
        inr = next(w for w in wallet if w["currency"] == "INR")
        assert parts["cash"] == inr["cash"] == "100000"
        assert parts["blocked"] == inr["blocked"] and parts["available"] == inr["available"]
        assert Decimal(parts["need"]) > Decimal(parts["available"])

    async def test_margin_refusals_say_the_margin_and_what_is_available(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.post(
            "/api/paper-trading/orders",
            json=order("LT", "BUY", "200", product="MIS"),
            headers=headers,
        )
        parts = unfunded(response)
        assert parts["what"] == "insufficient INR: buying 200 LT (MIS)"
        assert parts["how"].startswith("20% of the notional as margin + ")
        assert parts["how"].endswith(" charges")
        assert parts["available"] == parts["cash"] == "100000" and parts["blocked"] == "0"

    async def test_zero_amounts_are_written_plainly(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)  # no USDT
        response = await client.post(
            "/api/paper-trading/orders", json=order("BTC-USDT", "BUY", "0.001"), headers=headers
        )
        parts = unfunded(response)
        assert parts["available"] == parts["cash"] == parts["blocked"] == "0"
        assert "E-" not in response.json()["message"]
        assert "E+" not in response.json()["message"]

    async def test_a_market_order_cannot_be_modified_and_says_what_to_do(
        self, tmp_path: Path, db: str
    ) -> None:
        async with (
            app_at(tmp_path / "w", db, ManualClock(WEEKEND)) as weekend,
            client_for(weekend) as http,
        ):
            _, headers = await user_with_token(http)
            placed = await http.post(
                "/api/paper-trading/orders", json=order("TCS", "BUY", "1"), headers=headers
            )
            assert placed.status_code == 201 and placed.json()["status"] == "amo", placed.text
            url = f"/api/paper-trading/orders/{placed.json()['id']}"
            changed = await http.put(url, json={"quantity": "2"}, headers=headers)
            assert changed.status_code == 409, changed.text
            assert changed.json()["code"] == "ORDER_STATE"
            assert changed.json()["message"] == (
                "a MARKET order fills at once and cannot be modified; cancel it if it is "
                "still pending, or place a new order"
            )
            assert (await http.delete(url, headers=headers)).status_code == 200

    async def test_a_filled_order_says_it_is_filled(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        placed = await client.post(
            "/api/paper-trading/orders", json=order("ITC", "BUY", "1"), headers=headers
        )
        url = f"/api/paper-trading/orders/{placed.json()['id']}"
        changed = await client.put(url, json={"quantity": "2"}, headers=headers)
        assert changed.status_code == 409
        assert changed.json()["message"] == "an order that is filled cannot be modified"


class TestIdempotency:
    async def test_retry_returns_the_first_order(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        body = order("INFY", "BUY", "3", product="CNC", client_order_id="retry-1")
        first = await client.post("/api/paper-trading/orders", json=body, headers=headers)
        again = await client.post("/api/paper-trading/orders", json=body, headers=headers)
        assert first.status_code == 201 and again.status_code == 200
        assert again.json()["id"] == first.json()["id"]
        listed = (await client.get("/api/paper-trading/orders", headers=headers)).json()
        assert len(listed) == 1
        positions = (await client.get("/api/paper-trading/positions", headers=headers)).json()
        assert positions[0]["quantity"] == "3"

    async def test_same_id_different_body_is_409(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        await client.post(
            "/api/paper-trading/orders",
            json=order("INFY", "BUY", "3", product="CNC", client_order_id="x-1"),
            headers=headers,
        )
        response = await client.post(
            "/api/paper-trading/orders",
            json=order("INFY", "BUY", "4", product="CNC", client_order_id="x-1"),
            headers=headers,
        )
        assert response.status_code == 409
        assert response.json()["code"] == "DUPLICATE_CLIENT_ORDER_ID"

    async def test_ids_are_per_user(self, client: httpx.AsyncClient) -> None:
        _, alice = await user_with_token(client)
        _, bob = await user_with_token(client)
        body = order("INFY", "BUY", "1", product="CNC", client_order_id="shared")
        assert (
            await client.post("/api/paper-trading/orders", json=body, headers=alice)
        ).status_code == 201
        assert (
            await client.post("/api/paper-trading/orders", json=body, headers=bob)
        ).status_code == 201


class TestPlacedTogether:
    """Orders sent at the same moment may share a transaction (SQLite); each caller still
    gets only its own answer, and a refused order costs the others nothing."""

    async def test_each_of_many_concurrent_orders_gets_its_own_fill(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        users = [await user_with_token(client) for _ in range(3)]
        sends = [
            client.post(
                "/api/paper-trading/orders",
                json=order("ITC", "BUY", str(1 + i % 3), client_order_id=f"together-{i}"),
                headers=users[i % 3][1],
            )
            for i in range(12)
        ]
        answers = await asyncio.gather(*sends)
        assert [a.status_code for a in answers] == [201] * 12
        assert [a.json()["client_order_id"] for a in answers] == [
            f"together-{i}" for i in range(12)
        ]
        for number, (_, headers) in enumerate(users):
            mine = (await client.get("/api/paper-trading/orders", headers=headers)).json()
            assert len(mine) == 4  # four orders each, none of another user's
            held = (await client.get("/api/paper-trading/positions", headers=headers)).json()
            quantities = [(p["symbol"], Decimal(p["quantity"])) for p in held]
            assert quantities == [("ITC", Decimal(4 * (1 + number)))]
        async with client_for(app, "127.0.0.1") as local:  # /metrics: loopback only
            metrics = (await local.get("/metrics")).text
        if app.state.wiring.desk.together:  # SQLite: all 12 went through group commit
            assert "tradepit_order_batch_size_sum 12.0" in metrics
            assert "tradepit_order_batch_size_count 12.0" not in metrics  # some shared

    async def test_a_refused_order_in_the_crowd_fails_alone(
        self, client: httpx.AsyncClient
    ) -> None:
        (_, good), (_, gone) = await user_with_token(client), await user_with_token(client)
        assert (await client.post("/api/logout", headers=gone)).status_code == 200
        poor = order("RELIANCE", "BUY", "1000", product="CNC")  # far more than 1,00,000 INR
        sends = [
            client.post("/api/paper-trading/orders", json=order("ITC", "BUY", "1"), headers=good),
            client.post("/api/paper-trading/orders", json=order("ITC", "BUY", "1"), headers=gone),
            client.post("/api/paper-trading/orders", json=poor, headers=good),
            client.post("/api/paper-trading/orders", json=order("SBIN", "BUY", "1"), headers=good),
        ]
        answers = await asyncio.gather(*sends)
        assert [a.status_code for a in answers] == [201, 401, 409, 201]
        assert answers[2].json()["code"] == "INSUFFICIENT_FUNDS"
        mine = (await client.get("/api/paper-trading/orders", headers=good)).json()
        assert sorted(o["symbol"] for o in mine) == ["ITC", "SBIN"]

    async def test_a_forged_token_is_refused_before_anything_runs(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        forged = {"Authorization": headers["Authorization"][:-4] + "AAAA"}
        response = await client.post(
            "/api/paper-trading/orders", json={"symbol": 5}, headers=forged
        )
        assert response.status_code == 401  # not 422: who you are is checked first


class TestReading:
    async def test_another_users_order_is_404(self, client: httpx.AsyncClient) -> None:
        _, alice = await user_with_token(client)
        _, bob = await user_with_token(client)
        placed = await client.post(
            "/api/paper-trading/orders", json=order("ITC", "BUY", "1", product="CNC"), headers=alice
        )
        order_id = placed.json()["id"]
        assert (
            await client.get(f"/api/paper-trading/orders/{order_id}", headers=alice)
        ).status_code == 200
        assert (
            await client.get(f"/api/paper-trading/orders/{order_id}", headers=bob)
        ).status_code == 404
        assert (
            await client.delete(f"/api/paper-trading/orders/{order_id}", headers=bob)
        ).status_code == 404

    async def test_a_filled_order_cannot_be_cancelled(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        placed = await client.post(
            "/api/paper-trading/orders",
            json=order("ITC", "BUY", "1", product="CNC"),
            headers=headers,
        )
        response = await client.delete(
            f"/api/paper-trading/orders/{placed.json()['id']}", headers=headers
        )
        assert response.status_code == 409
        assert response.json()["code"] == "ORDER_STATE"

    async def test_history_filters_and_pages(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        for symbol in ("ITC", "SBIN", "ITC"):
            await client.post(
                "/api/paper-trading/orders",
                json=order(symbol, "BUY", "1", product="CNC"),
                headers=headers,
            )
        itc = await client.get("/api/paper-trading/orders?symbol=itc", headers=headers)
        assert itc.headers["X-Total-Count"] == "2"
        assert [o["symbol"] for o in itc.json()] == ["ITC", "ITC"]
        page = await client.get("/api/paper-trading/orders?limit=1&page=2", headers=headers)
        assert page.headers["X-Total-Count"] == "3" and len(page.json()) == 1
        filled = await client.get("/api/paper-trading/orders?status=filled", headers=headers)
        assert filled.headers["X-Total-Count"] == "3" and len(filled.json()) == 3

    async def test_portfolio_reconciles_cash_positions_and_the_ledger(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        for symbol, qty in (("HDFCBANK", "7"), ("AXISBANK", "3"), ("HDFCBANK", "2")):
            await client.post(
                "/api/paper-trading/orders",
                json=order(symbol, "BUY", qty, product="MIS"),
                headers=headers,
            )
        await client.post(
            "/api/paper-trading/orders",
            json=order("HDFCBANK", "SELL", "4", product="MIS"),
            headers=headers,
        )
        portfolio = (await client.get("/api/paper-trading/portfolio", headers=headers)).json()
        inr = portfolio["currencies"][0]
        assert Decimal(inr["equity"]) == Decimal(inr["cash"]) + Decimal(inr["positions_value"])
        # Equity change = realized + unrealized, both net of every charge paid.
        assert Decimal(inr["equity"]) - 100000 == Decimal(inr["realized_pnl"]) + Decimal(
            inr["unrealized_pnl"]
        )
        async with app.state.wiring.sessionmaker() as session:
            for wallet in await session.scalars(select(Wallet)):
                assert wallet.balance == await entries_sum(session, wallet.id)


async def test_a_huge_order_fills_only_what_the_quote_holds(client: httpx.AsyncClient) -> None:
    _, headers = await user_with_token(client)
    response = await client.post(
        "/api/paper-trading/orders",
        json=order("RELIANCE", "BUY", "9999999999", product="CNC"),
        headers=headers,
    )
    # The quote holds a few hundred shares: even those cost more than the wallet has.
    assert response.status_code == 409
    assert response.json()["code"] == "INSUFFICIENT_FUNDS"
    assert (await client.get("/api/paper-trading/orders", headers=headers)).json() == []


class TestShorts:
    async def test_an_intraday_short_blocks_proceeds_and_margin_and_a_cover_releases_them(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        bid = app.state.wiring.market.tick("SBIN").bid
        sold = await client.post(
            "/api/paper-trading/orders",
            json=order("SBIN", "SELL", "10", product="MIS"),
            headers=headers,
        )
        assert sold.status_code == 201, sold.text
        price = Decimal(sold.json()["average_price"])
        assert price <= bid
        wallet = await client.get("/api/paper-trading/wallet", headers=headers)
        inr = wallet.json()[0]
        # Proceeds are credited but blocked, with 20 % margin on top.
        assert Decimal(inr["blocked"]) == price * 10 * Decimal("1.2")
        positions = (await client.get("/api/paper-trading/positions", headers=headers)).json()
        assert positions[0]["quantity"] == "-10"
        covered = await client.post(
            "/api/paper-trading/orders",
            json=order("SBIN", "BUY", "10", product="MIS"),
            headers=headers,
        )
        assert covered.status_code == 201
        inr = (await client.get("/api/paper-trading/wallet", headers=headers)).json()[0]
        assert inr["blocked"] == "0"
        portfolio = (await client.get("/api/paper-trading/portfolio", headers=headers)).json()
        money = portfolio["currencies"][0]
        assert Decimal(money["equity"]) - 100000 == Decimal(money["realized_pnl"])

    @pytest.mark.parametrize(("symbol", "product"), [("SBIN", "CNC"), ("BTC-USDT", "MIS")])
    async def test_delivery_and_crypto_spot_cannot_go_short(
        self, client: httpx.AsyncClient, symbol: str, product: str
    ) -> None:
        _, headers = await user_with_token(client)
        quantity = "1" if symbol == "SBIN" else "0.001"
        response = await client.post(
            "/api/paper-trading/orders",
            json=order(symbol, "SELL", quantity, product=product),
            headers=headers,
        )
        assert response.status_code == 400
        assert response.json()["code"] == "ORDER_REJECTED"
        assert response.json()["message"].startswith(
            f"you hold 0 {symbol} ({product}) and have 0 already on sale; "
        )

    async def test_a_short_larger_than_the_margin_allows_is_409(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.post(
            "/api/paper-trading/orders",
            json=order("LT", "SELL", "150", product="MIS"),
            headers=headers,
        )
        assert response.status_code == 409
        assert response.json()["code"] == "INSUFFICIENT_FUNDS"
        positions = (await client.get("/api/paper-trading/positions", headers=headers)).json()
        assert positions == []


class TestClosePosition:
    async def test_closes_one_position_only(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        for symbol in ("ITC", "SBIN"):
            await client.post(
                "/api/paper-trading/orders",
                json=order(symbol, "BUY", "5", product="CNC"),
                headers=headers,
            )
        closed = await client.post("/api/paper-trading/positions/itc/close", headers=headers)
        assert closed.status_code == 200, closed.text
        assert closed.json()["order_side"] == "SELL" and closed.json()["status"] == "filled"
        positions = {
            p["symbol"]: p["quantity"]
            for p in (await client.get("/api/paper-trading/positions", headers=headers)).json()
        }
        assert positions == {"ITC": "0", "SBIN": "5"}

    async def test_a_short_is_covered(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        await client.post(
            "/api/paper-trading/orders",
            json=order("SBIN", "SELL", "3", product="MIS"),
            headers=headers,
        )
        closed = await client.post("/api/paper-trading/positions/SBIN/close", headers=headers)
        assert closed.json()["order_side"] == "BUY" and closed.json()["quantity"] == "3"
        wallet = (await client.get("/api/paper-trading/wallet", headers=headers)).json()[0]
        assert wallet["blocked"] == "0"

    async def test_two_products_need_a_choice(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        for product in ("CNC", "MIS"):
            await client.post(
                "/api/paper-trading/orders",
                json=order("ITC", "BUY", "2", product=product),
                headers=headers,
            )
        ambiguous = await client.post("/api/paper-trading/positions/ITC/close", headers=headers)
        assert ambiguous.status_code == 400 and "product" in ambiguous.json()["message"]
        chosen = await client.post(
            "/api/paper-trading/positions/ITC/close?product=MIS", headers=headers
        )
        assert chosen.status_code == 200 and chosen.json()["product"] == "MIS"

    async def test_nothing_to_close_is_404(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        response = await client.post("/api/paper-trading/positions/TCS/close", headers=headers)
        assert response.status_code == 404
        assert response.json()["code"] == "POSITION_NOT_FOUND"


class TestSameChecksOnEveryPath:
    """Issue 13: what placing refuses, modifying and filling refuse too."""

    async def test_a_resting_sell_modified_above_the_holding_is_refused(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        bought = await client.post(
            "/api/paper-trading/orders", json=order("INFY", "BUY", "5", product="CNC"),
            headers=headers,
        )  # fmt: skip
        assert bought.status_code == 201, bought.text
        limit = (app.state.wiring.market.tick("INFY").bid * Decimal("1.1")).quantize(Decimal("1"))
        resting = await client.post(
            "/api/paper-trading/orders",
            json=order("INFY", "SELL", "5", product="CNC", order_type="LIMIT", price=str(limit)),
            headers=headers,
        )
        assert resting.status_code == 201 and resting.json()["status"] == "open", resting.text
        url = f"/api/paper-trading/orders/{resting.json()['id']}"
        changed = await client.put(url, json={"quantity": "50"}, headers=headers)
        assert changed.status_code == 400, changed.text
        assert changed.json()["code"] == "ORDER_REJECTED" and "short" in changed.json()["message"]
        assert (await client.get(url, headers=headers)).json()["quantity"] == "5"

    async def test_a_fill_cannot_spend_cash_blocked_for_another_order(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        ask = app.state.wiring.market.tick("INFY").ask
        limit = (ask * Decimal("0.9")).quantize(Decimal("1"))
        quantity = int(Decimal(60000) / limit)
        resting = await client.post(
            "/api/paper-trading/orders",
            json=order("INFY", "BUY", str(quantity), product="CNC", order_type="LIMIT",
                       price=str(limit)),
            headers=headers,
        )  # fmt: skip
        assert resting.status_code == 201 and resting.json()["status"] == "open", resting.text
        # 100,000 cash, ~60,000 of it blocked: a MARKET buy of ~50,000 must not use the blocked.
        more = int(Decimal(50000) / ask)
        response = await client.post(
            "/api/paper-trading/orders",
            json=order("INFY", "BUY", str(more), product="CNC"),
            headers=headers,
        )
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "INSUFFICIENT_FUNDS"
        wallet = (await client.get("/api/paper-trading/wallet", headers=headers)).json()
        inr = next(w for w in wallet if w["currency"] == "INR")
        assert Decimal(inr["available"]) >= 0 and inr["cash"] == "100000"


def feed_ticks(app: FastAPI, symbol: str, after: datetime, until: datetime) -> list[Tick]:
    """Return the ticks of ``symbol`` the app's simulated feed sends in (after, until]."""
    feed = app.state.wiring.feed
    assert isinstance(feed, SimulatedFeed)
    after_us = (after - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    grid = feed.points(after_us, until)
    return feed.simulator.tick_batch([symbol], grid).to_ticks()


class TestMarketHoursAlways:
    """``TRADEPIT_MARKET_HOURS=always``: an NSE order at 04:05 IST or on a Sunday trades."""

    @pytest.mark.parametrize("at", [NIGHT, SUNDAY])
    async def test_a_market_order_fills_at_once(
        self, tmp_path: Path, db: str, at: datetime
    ) -> None:
        async with (
            app_at(tmp_path / "a", db, ManualClock(at), market_hours="always") as always,
            client_for(always) as http,
        ):
            _, headers = await user_with_token(http)
            ask = always.state.wiring.market.tick("RELIANCE").ask
            response = await http.post(
                "/api/paper-trading/orders",
                json=order("RELIANCE", "BUY", "10", product="CNC"),
                headers=headers,
            )
        assert response.status_code == 201
        body = response.json()
        assert body["status"] == "filled" and body["filled_quantity"] == "10"
        assert Decimal(body["average_price"]) >= ask
        assert body["reason"] is None or "after-market" not in body["reason"]

    @pytest.mark.parametrize("at", [NIGHT, SUNDAY])
    async def test_under_exchange_hours_the_same_order_is_after_market(
        self, tmp_path: Path, db: str, at: datetime
    ) -> None:
        async with (
            app_at(tmp_path / "e", db, ManualClock(at)) as exchange,
            client_for(exchange) as http,
        ):
            _, headers = await user_with_token(http)
            response = await http.post(
                "/api/paper-trading/orders",
                json=order("RELIANCE", "BUY", "10", product="CNC"),
                headers=headers,
            )
            assert feed_ticks(exchange, "RELIANCE", at, at + timedelta(seconds=30)) == []
        assert response.json()["status"] == "amo"

    async def test_a_resting_limit_fills_on_the_tick_that_crosses_it(
        self, tmp_path: Path, db: str
    ) -> None:
        clock = ManualClock(NIGHT)
        async with (
            app_at(tmp_path / "a", db, clock, market_hours="always") as always,
            client_for(always) as http,
        ):
            _, headers = await user_with_token(http)
            ask = always.state.wiring.market.tick("RELIANCE").ask
            coming = feed_ticks(always, "RELIANCE", NIGHT, NIGHT + timedelta(minutes=30))
            limit = min(t.ask for t in coming)
            assert limit < ask  # the simulated path comes down to it within half an hour
            crossing = next(k for k, t in enumerate(coming) if t.ask <= limit)
            placed = (
                await http.post(
                    "/api/paper-trading/orders",
                    json={**order("RELIANCE", "BUY", "1", product="CNC"), "order_type": "LIMIT",
                          "price": str(limit)},
                    headers=headers,
                )
            ).json()  # fmt: skip
            assert placed["status"] == "open"
            engine: Matcher = always.state.wiring.matcher
            clock.advance(coming[crossing].ts - timedelta(microseconds=1) - clock.now())
            await engine.on_ticks(coming[:crossing])
            path = f"/api/paper-trading/orders/{placed['id']}"
            assert (await http.get(path, headers=headers)).json()["status"] == "open"
            clock.advance(coming[crossing].ts - clock.now())
            await engine.on_ticks(coming[crossing : crossing + 1])
            filled = (await http.get(path, headers=headers)).json()
        assert filled["status"] == "filled"
        assert Decimal(filled["average_price"]) == coming[crossing].ask <= limit
        assert filled["fills"][0]["liquidity"] == "maker"
