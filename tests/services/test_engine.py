"""The matching engine: resting orders fill on the tick that crosses them, exactly once."""

from __future__ import annotations

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

OPEN = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)  # Thursday noon in Mumbai
WEEKEND = datetime(2026, 11, 28, 6, 30, tzinfo=UTC)
NIGHT = datetime(2026, 11, 24, 22, 35, tzinfo=UTC)  # 04:05 IST on Wednesday 2026-11-25


@pytest.fixture
async def app(tmp_path: Path, db: str) -> AsyncIterator[FastAPI]:
    async with app_at(tmp_path / "data", db, ManualClock(OPEN)) as application:
        yield application


def matcher(app: FastAPI) -> Matcher:
    found: Matcher = app.state.wiring.matcher
    return found


def quote(symbol: str, bid: str, ask: str, ltp: str | None = None, size: str = "5000") -> Tick:
    return Tick(
        symbol=symbol,
        ts=OPEN + timedelta(seconds=1),
        ltp=Decimal(ltp or ask),
        bid=Decimal(bid),
        ask=Decimal(ask),
        bid_size=Decimal(size),
        ask_size=Decimal(size),
        volume=Decimal(0),
    )


async def place(
    client: httpx.AsyncClient, headers: dict[str, str], **body: object
) -> dict[str, object]:
    response = await client.post(
        "/api/paper-trading/orders",
        json={"order_type": "LIMIT", "order_side": "BUY", "product": "CNC", **body},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    placed: dict[str, object] = response.json()
    return placed


async def fetch(
    client: httpx.AsyncClient, headers: dict[str, str], order_id: object
) -> dict[str, object]:
    found: dict[str, object] = (
        await client.get(f"/api/paper-trading/orders/{order_id}", headers=headers)
    ).json()
    return found


async def inr(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    wallets = (await client.get("/api/paper-trading/wallet", headers=headers)).json()
    found: dict[str, str] = wallets[0]
    return found


class TestLimitOrders:
    async def test_a_buy_rests_blocking_cash_and_fills_when_the_ask_reaches_it(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        ask = app.state.wiring.market.tick("INFY").ask
        limit = (ask * Decimal("0.95")).quantize(Decimal("0.1"))
        placed = await place(client, headers, symbol="INFY", quantity="10", price=str(limit))
        assert placed["status"] == "open" and placed["filled_quantity"] == "0"
        wallet = await inr(client, headers)
        assert Decimal(wallet["blocked"]) >= limit * 10
        assert Decimal(wallet["available"]) == Decimal(wallet["cash"]) - Decimal(wallet["blocked"])

        # A tick above the limit fills nothing.
        await matcher(app).on_ticks([quote("INFY", str(limit + 1), str(limit + Decimal("1.1")))])
        assert (await fetch(client, headers, placed["id"]))["status"] == "open"
        # The ask trades through the limit: filled at the ask (better than the limit), as maker.
        better = limit - Decimal("0.5")
        await matcher(app).on_ticks([quote("INFY", str(better - Decimal("0.1")), str(better))])
        filled = await fetch(client, headers, placed["id"])
        assert filled["status"] == "filled"
        assert Decimal(str(filled["average_price"])) <= limit
        assert filled["fills"][0]["liquidity"] == "maker"  # type: ignore[index]
        wallet = await inr(client, headers)
        assert wallet["blocked"] == "0"
        # The same tick again fills nothing more: exactly once.
        await matcher(app).on_ticks([quote("INFY", str(better - Decimal("0.1")), str(better))])
        assert len((await fetch(client, headers, placed["id"]))["fills"]) == 1  # type: ignore[arg-type]

    async def test_a_marketable_limit_fills_at_once_as_taker(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        ask = app.state.wiring.market.tick("ITC").ask
        placed = await place(client, headers, symbol="ITC", quantity="5", price=str(ask + 1))
        assert placed["status"] == "filled"
        assert Decimal(str(placed["average_price"])) <= ask + 1

    async def test_cancel_releases_the_blocked_cash(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        ask = app.state.wiring.market.tick("SBIN").ask
        placed = await place(client, headers, symbol="SBIN", quantity="20", price=str(ask - 20))
        cancelled = await client.delete(
            f"/api/paper-trading/orders/{placed['id']}", headers=headers
        )
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert (await inr(client, headers))["blocked"] == "0"
        # A cancelled order never fills, even on a crossing tick.
        await matcher(app).on_ticks([quote("SBIN", "1", "2")])
        assert (await fetch(client, headers, placed["id"]))["filled_quantity"] == "0"

    async def test_ioc_that_cannot_fill_is_cancelled(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        ask = app.state.wiring.market.tick("TCS").ask
        placed = await place(
            client, headers, symbol="TCS", quantity="1", price=str(ask - 50), validity="IOC"
        )
        assert placed["status"] == "cancelled"
        assert (await inr(client, headers))["blocked"] == "0"

    async def test_blocking_more_than_available_is_409(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.post(
            "/api/paper-trading/orders",
            json={"symbol": "LT", "order_type": "LIMIT", "order_side": "BUY", "product": "CNC",
                  "quantity": "100", "price": "1000"},
            headers=headers,
        )  # fmt: skip
        assert response.status_code == 409
        assert (await inr(client, headers))["blocked"] == "0"


class TestStops:
    async def test_a_sell_stop_market_triggers_on_the_ltp_and_sells(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        await client.post(
            "/api/paper-trading/orders",
            json={"symbol": "HDFCBANK", "order_type": "MARKET", "order_side": "BUY",
                  "product": "CNC", "quantity": "10"},
            headers=headers,
        )  # fmt: skip
        ltp = app.state.wiring.market.tick("HDFCBANK").ltp
        trigger = (ltp * Decimal("0.97")).quantize(Decimal("0.1"))
        stop = await place(
            client,
            headers,
            symbol="HDFCBANK",
            quantity="10",
            order_type="STOP_LOSS_MARKET",
            order_side="SELL",
            trigger_price=str(trigger),
        )
        assert stop["status"] == "open"
        await matcher(app).on_ticks(
            [quote("HDFCBANK", str(trigger + 1), str(trigger + Decimal("1.1")))]
        )
        assert (await fetch(client, headers, stop["id"]))["status"] == "open"
        low = trigger - 2
        await matcher(app).on_ticks(
            [quote("HDFCBANK", str(low), str(low + Decimal("0.1")), ltp=str(low))]
        )
        sold = await fetch(client, headers, stop["id"])
        assert sold["status"] == "filled"
        assert Decimal(str(sold["average_price"])) <= low
        positions = (await client.get("/api/paper-trading/positions", headers=headers)).json()
        assert positions[0]["quantity"] == "0"

    async def test_a_buy_trigger_below_the_market_is_refused(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        ltp = app.state.wiring.market.tick("AXISBANK").ltp
        response = await client.post(
            "/api/paper-trading/orders",
            json={"symbol": "AXISBANK", "order_type": "STOP_LOSS_MARKET", "order_side": "BUY",
                  "product": "CNC", "quantity": "1", "trigger_price": str(ltp - 10)},
            headers=headers,
        )  # fmt: skip
        assert response.status_code == 400
        assert response.json()["code"] == "INVALID_TRIGGER"


class TestRestart:
    async def test_a_new_engine_rebuilds_the_book_from_the_database(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        ask = app.state.wiring.market.tick("RELIANCE").ask
        limit = ask - 10
        placed = await place(client, headers, symbol="RELIANCE", quantity="3", price=str(limit))
        fresh = Matcher(
            app.state.wiring.sessionmaker,
            app.state.wiring.clock,
            app.state.wiring.market,
            app.state.wiring.fees,
        )
        assert await fresh.rebuild() == 1
        await fresh.on_ticks([quote("RELIANCE", str(limit - 1), str(limit))])
        assert (await fetch(client, headers, placed["id"]))["status"] == "filled"
        async with app.state.wiring.sessionmaker() as session:
            for wallet in await session.scalars(select(Wallet)):
                assert wallet.balance == await entries_sum(session, wallet.id)


class TestAfterMarket:
    async def test_an_amo_market_order_fills_on_the_first_tick_after_the_open(
        self, tmp_path: Path, db: str
    ) -> None:
        async with (
            app_at(tmp_path / "w", db, ManualClock(WEEKEND)) as weekend,
            client_for(weekend) as http,
        ):
            _, headers = await user_with_token(http)
            placed = (
                await http.post(
                    "/api/paper-trading/orders",
                    json={"symbol": "TCS", "order_type": "MARKET", "order_side": "BUY",
                          "product": "CNC", "quantity": "2"},
                    headers=headers,
                )
            ).json()  # fmt: skip
            assert placed["status"] == "amo"
            engine: Matcher = weekend.state.wiring.matcher
            await engine.on_ticks([quote("TCS", "3100", "3100.2")])
            filled = await fetch(http, headers, placed["id"])
            assert filled["status"] == "filled"
            assert Decimal(str(filled["average_price"])) >= Decimal("3100.2")
            assert (await inr(http, headers))["blocked"] == "0"

    @pytest.mark.parametrize("order_type", ["MARKET", "LIMIT"])
    async def test_an_amo_fills_on_the_first_tick_once_the_server_runs_under_always(
        self, tmp_path: Path, db: str, order_type: str
    ) -> None:
        """Placed at 04:05 IST under exchange hours, the order is after-market; the same
        database served by an app under ``market_hours=always`` fills it on the feed's first
        tick: the book is rebuilt at start and the simulator ticks NSE at any hour."""
        data = tmp_path / "data"
        async with (
            app_at(data, db, ManualClock(NIGHT)) as exchange,
            client_for(exchange) as http,
        ):
            _, headers = await user_with_token(http)
            ask = exchange.state.wiring.market.tick("TCS").ask
            price = {"price": str(ask + 50)} if order_type == "LIMIT" else {}
            placed = (
                await http.post(
                    "/api/paper-trading/orders",
                    json={"symbol": "TCS", "order_type": order_type, "order_side": "BUY",
                          "product": "CNC", "quantity": "2", **price},
                    headers=headers,
                )
            ).json()  # fmt: skip
            assert placed["status"] == "amo"
        restart = NIGHT + timedelta(minutes=10)
        clock = ManualClock(restart)
        async with (
            app_at(data, db, clock, market_hours="always") as always,
            client_for(always) as http,
        ):
            engine: Matcher = always.state.wiring.matcher
            assert await engine.rebuild() == 1
            feed = always.state.wiring.feed
            assert isinstance(feed, SimulatedFeed)
            clock.advance(timedelta(seconds=1))
            start_us = (restart - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
            grid = feed.points(start_us, clock.now())
            first = feed.simulator.tick_batch(feed.symbols, grid[:1]).to_ticks()
            assert "TCS" in {t.symbol for t in first}
            await engine.on_ticks(first)
            filled = await fetch(http, headers, placed["id"])
            tcs = next(t for t in first if t.symbol == "TCS")
            assert filled["status"] == "filled", filled
            if order_type == "MARKET":
                assert Decimal(str(filled["average_price"])) >= tcs.ask
            else:
                assert Decimal(str(filled["average_price"])) == tcs.ask
            assert (await inr(http, headers))["blocked"] == "0"


class TestModify:
    async def test_a_new_price_moves_the_order_and_its_hold(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        ask = app.state.wiring.market.tick("TCS").ask
        far = ask - 100
        placed = await place(client, headers, symbol="TCS", quantity="2", price=str(far))
        blocked_before = Decimal((await inr(client, headers))["blocked"])
        nearer = ask - 10
        changed = await client.put(
            f"/api/paper-trading/orders/{placed['id']}",
            json={"price": str(nearer), "quantity": "3"},
            headers=headers,
        )
        assert changed.status_code == 200
        assert changed.json()["price"] == format(nearer.normalize(), "f")
        assert changed.json()["quantity"] == "3"
        assert Decimal((await inr(client, headers))["blocked"]) > blocked_before
        # The old price no longer fills; the new one does.
        await matcher(app).on_ticks([quote("TCS", str(far - 1), str(far))])
        assert (await fetch(client, headers, placed["id"]))["filled_quantity"] == "3"

    async def test_a_filled_order_cannot_be_modified(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        ask = app.state.wiring.market.tick("ITC").ask
        placed = await place(client, headers, symbol="ITC", quantity="1", price=str(ask + 1))
        response = await client.put(
            f"/api/paper-trading/orders/{placed['id']}", json={"price": str(ask)}, headers=headers
        )
        assert response.status_code == 409

    async def test_another_users_order_is_404(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, alice = await user_with_token(client)
        _, bob = await user_with_token(client)
        ask = app.state.wiring.market.tick("ITC").ask
        placed = await place(client, alice, symbol="ITC", quantity="1", price=str(ask - 5))
        response = await client.put(
            f"/api/paper-trading/orders/{placed['id']}", json={"price": str(ask - 4)}, headers=bob
        )
        assert response.status_code == 404


class TestEndOfDay:
    async def test_day_orders_expire_after_the_close_and_gtc_stay(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        ask = app.state.wiring.market.tick("INFY").ask
        day = await place(client, headers, symbol="INFY", quantity="1", price=str(ask - 30))
        gtc = await place(
            client, headers, symbol="INFY", quantity="1", price=str(ask - 30), validity="GTC"
        )
        assert await matcher(app).end_of_day() == (0, 0)  # noon: nothing is due
        clock: ManualClock = app.state.wiring.clock
        clock.advance(timedelta(hours=3, minutes=31))  # 15:31 IST
        assert await matcher(app).end_of_day() == (1, 0)
        expired = await fetch(client, headers, day["id"])
        assert expired["status"] == "expired" and "expired at the close" in str(expired["reason"])
        assert (await fetch(client, headers, gtc["id"]))["status"] == "open"
        blocked = Decimal((await inr(client, headers))["blocked"])
        assert blocked > 0  # only the GTC order's hold is left
        # An expired order never fills.
        await matcher(app).on_ticks([quote("INFY", "1", "2")])
        assert (await fetch(client, headers, day["id"]))["filled_quantity"] == "0"

    async def test_mis_positions_are_squared_off_at_1520(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        await client.post(
            "/api/paper-trading/orders",
            json={"symbol": "SBIN", "order_type": "MARKET", "order_side": "BUY",
                  "product": "MIS", "quantity": "10"},
            headers=headers,
        )  # fmt: skip
        await client.post(
            "/api/paper-trading/orders",
            json={"symbol": "SBIN", "order_type": "MARKET", "order_side": "BUY",
                  "product": "CNC", "quantity": "4"},
            headers=headers,
        )  # fmt: skip
        clock: ManualClock = app.state.wiring.clock
        clock.advance(timedelta(hours=3, minutes=19))  # 15:19 IST: not yet
        assert (await matcher(app).end_of_day())[1] == 0
        clock.advance(timedelta(minutes=1, seconds=1))  # 15:20:01 IST
        assert (await matcher(app).end_of_day())[1] == 1
        positions = {
            p["product"]: p
            for p in (await client.get("/api/paper-trading/positions", headers=headers)).json()
        }
        assert positions["MIS"]["quantity"] == "0"
        assert positions["CNC"]["quantity"] == "4"  # delivery is not intraday
        history = (await client.get("/api/paper-trading/orders", headers=headers)).json()
        square = history[0]
        assert square["order_side"] == "SELL" and square["status"] == "filled"
        assert "square-off" in square["reason"]
        assert (await matcher(app).end_of_day())[1] == 0  # once only

    async def test_an_order_placed_after_the_close_lives_until_the_next_close(
        self, tmp_path: Path, db: str
    ) -> None:
        clock = ManualClock(WEEKEND)
        async with (
            app_at(tmp_path / "w", db, clock) as weekend,
            client_for(weekend) as http,
        ):
            _, headers = await user_with_token(http)
            placed = await place(http, headers, symbol="TCS", quantity="1", price="1000")
            engine: Matcher = weekend.state.wiring.matcher
            assert await engine.end_of_day() == (0, 0)
            clock.advance(timedelta(days=2))  # Monday noon
            assert await engine.end_of_day() == (0, 0)
            clock.advance(timedelta(hours=4))  # Monday 16:00 IST
            assert await engine.end_of_day() == (1, 0)
            assert (await fetch(http, headers, placed["id"]))["status"] == "expired"

    async def test_market_hours_always_expires_nothing(self, tmp_path: Path, db: str) -> None:
        clock = ManualClock(OPEN)
        async with (
            app_at(tmp_path / "a", db, clock, market_hours="always") as always,
            client_for(always) as http,
        ):
            _, headers = await user_with_token(http)
            await place(http, headers, symbol="TCS", quantity="1", price="1000")
            clock.advance(timedelta(hours=8))
            engine: Matcher = always.state.wiring.matcher
            assert await engine.end_of_day() == (0, 0)
