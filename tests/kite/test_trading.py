"""Orders, trades, positions, holdings and margins through the official ``kiteconnect``
client: Kite orders are Tradepit paper orders on the INR wallet."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from kiteconnect import exceptions as ex

from tests.kite.conftest import Bot, new_bot
from tests.realtime.conftest import live_app
from tradepit.domain.clock import SimulatedClock


async def _wallet(http: httpx.AsyncClient, bot: Bot) -> dict[str, Any]:
    answer = await http.get(
        "/api/paper-trading/wallet", headers={"Authorization": f"Bearer {bot.bearer}"}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    wallets = body["wallets"] if isinstance(body, dict) and "wallets" in body else body
    inr: dict[str, Any] = next(w for w in wallets if w["currency"] == "INR")
    return inr


async def _ltp(bot: Bot, key: str) -> Decimal:
    found = await bot.call(bot.kite.ltp, key)
    return Decimal(str(found[key]["last_price"]))


class TestMarketOrder:
    async def test_a_market_buy_fills_and_shows_everywhere(
        self, http: httpx.AsyncClient, bot: Bot
    ) -> None:
        before = await bot.call(bot.kite.margins)
        assert before["equity"]["available"]["cash"] == 100000
        assert before["equity"]["net"] == 100000
        order_id = await bot.call(
            bot.kite.place_order,
            variety=bot.kite.VARIETY_REGULAR,
            exchange=bot.kite.EXCHANGE_NSE,
            tradingsymbol="RELIANCE",
            transaction_type=bot.kite.TRANSACTION_TYPE_BUY,
            quantity=3,
            product=bot.kite.PRODUCT_CNC,
            order_type=bot.kite.ORDER_TYPE_MARKET,
        )
        assert isinstance(order_id, str) and order_id.isdigit()
        book = await bot.call(bot.kite.orders)
        [order] = [o for o in book if o["order_id"] == order_id]
        assert order["status"] == "COMPLETE" and order["filled_quantity"] == 3
        assert order["tradingsymbol"] == "RELIANCE" and order["exchange"] == "NSE"
        assert order["instrument_token"] & 0xFF == 1
        history = await bot.call(bot.kite.order_history, order_id)
        assert history[-1]["status"] == "COMPLETE"
        assert history[0]["status"] == "PUT ORDER REQ RECEIVED"
        trades = await bot.call(bot.kite.order_trades, order_id)
        assert sum(t["quantity"] for t in trades) == 3
        assert [t["order_id"] for t in await bot.call(bot.kite.trades)] == [order_id] * len(trades)
        # The same order in Tradepit's own views, and the same money.
        mine = await http.get(
            f"/api/paper-trading/orders/{order_id}",
            headers={"Authorization": f"Bearer {bot.bearer}"},
        )
        assert mine.status_code == 200 and mine.json()["status"] == "filled"
        paid = Decimal(mine.json()["average_price"]) * 3 + Decimal(mine.json()["charges"])
        after = await bot.call(bot.kite.margins, "equity")
        wallet = await _wallet(http, bot)
        assert Decimal(str(after["available"]["cash"])) == Decimal(wallet["cash"])
        assert Decimal(wallet["cash"]) == Decimal(100000) - paid
        assert Decimal(str(after["net"])) == Decimal(wallet["available"])
        positions = await bot.call(bot.kite.positions)
        [held] = [p for p in positions["net"] if p["tradingsymbol"] == "RELIANCE"]
        assert held["quantity"] == 3 and held["product"] == "CNC"
        holdings = await bot.call(bot.kite.holdings)
        assert [(h["tradingsymbol"], h["quantity"]) for h in holdings] == [("RELIANCE", 3)]


class TestRestingOrders:
    async def test_a_limit_order_is_modified_then_cancelled(
        self, http: httpx.AsyncClient, bot: Bot
    ) -> None:
        ltp = await _ltp(bot, "NSE:INFY")
        price = float((ltp * Decimal("0.9")).quantize(Decimal("0.1")))
        order_id = await bot.call(
            bot.kite.place_order, variety="regular", exchange="NSE", tradingsymbol="INFY",
            transaction_type="BUY", quantity=2, product="MIS", order_type="LIMIT", price=price,
        )  # fmt: skip
        [order] = await bot.call(bot.kite.orders)
        assert order["status"] == "OPEN" and order["price"] == price
        held = await bot.call(bot.kite.margins, "equity")
        assert held["utilised"]["debits"] > 0
        assert held["net"] < held["available"]["cash"]
        lower = float((ltp * Decimal("0.8")).quantize(Decimal("0.1")))
        assert (
            await bot.call(bot.kite.modify_order, "regular", order_id, quantity=4, price=lower)
            == order_id
        )
        [changed] = await bot.call(bot.kite.orders)
        assert changed["price"] == lower and changed["quantity"] == 4
        assert changed["pending_quantity"] == 4
        assert await bot.call(bot.kite.cancel_order, "regular", order_id) == order_id
        [cancelled] = await bot.call(bot.kite.orders)
        assert cancelled["status"] == "CANCELLED" and cancelled["cancelled_quantity"] == 4
        freed = await bot.call(bot.kite.margins, "equity")
        assert freed["net"] == freed["available"]["cash"] == 100000

    async def test_a_stop_waits_as_trigger_pending(self, bot: Bot) -> None:
        ltp = await _ltp(bot, "NSE:TCS")
        trigger = float((ltp * Decimal("1.1")).quantize(Decimal("0.1")))
        order_id = await bot.call(
            bot.kite.place_order, variety="regular", exchange="NSE", tradingsymbol="TCS",
            transaction_type="BUY", quantity=1, product="MIS", order_type="SL-M",
            trigger_price=trigger,
        )  # fmt: skip
        [order] = await bot.call(bot.kite.orders)
        assert order["status"] == "TRIGGER PENDING" and order["order_type"] == "SL-M"
        assert order["trigger_price"] == trigger
        await bot.call(bot.kite.cancel_order, "regular", order_id)
        limit = float((ltp * Decimal("1.12")).quantize(Decimal("0.1")))
        stop_limit = await bot.call(
            bot.kite.place_order, variety="regular", exchange="NSE", tradingsymbol="TCS",
            transaction_type="BUY", quantity=1, product="MIS", order_type="SL",
            trigger_price=trigger, price=limit,
        )  # fmt: skip
        book = await bot.call(bot.kite.orders)
        [placed] = [o for o in book if o["order_id"] == stop_limit]
        assert placed["status"] == "TRIGGER PENDING" and placed["order_type"] == "SL"
        assert (placed["price"], placed["trigger_price"]) == (limit, trigger)
        higher = float((ltp * Decimal("1.15")).quantize(Decimal("0.1")))
        await bot.call(
            bot.kite.modify_order, "regular", stop_limit, trigger_price=higher, price=higher
        )
        [moved] = [o for o in await bot.call(bot.kite.orders) if o["order_id"] == stop_limit]
        assert moved["trigger_price"] == higher

    async def test_a_cover_order_carries_its_stop_loss(self, bot: Bot) -> None:
        ltp = await _ltp(bot, "NSE:SBIN")
        stop = float((ltp * Decimal("0.95")).quantize(Decimal(1)))  # whole rupees: on the tick grid
        order_id = await bot.call(
            bot.kite.place_order, variety="co", exchange="NSE", tradingsymbol="SBIN",
            transaction_type="BUY", quantity=1, product="MIS", order_type="MARKET",
            trigger_price=stop,
        )  # fmt: skip
        book = await bot.call(bot.kite.orders)
        entry = next(o for o in book if o["order_id"] == order_id)
        assert entry["status"] == "COMPLETE" and entry["variety"] == "co"
        [leg] = [o for o in book if o["parent_order_id"] == order_id]
        assert leg["transaction_type"] == "SELL" and leg["status"] == "TRIGGER PENDING"
        assert leg["trigger_price"] == stop


class TestRefusals:
    async def test_bad_input_raises_input_exception(self, bot: Bot) -> None:
        cases: list[dict[str, Any]] = [
            {"tradingsymbol": "NOSUCHSHARE"},
            {"order_type": "LIMIT"},  # no price
            {"order_type": "SL"},  # no trigger
            {"product": "XYZ"},
            {"variety": "iceberg"},
            {"exchange": "MCX"},
        ]
        for case in cases:
            order = {
                "variety": "regular", "exchange": "NSE", "tradingsymbol": "INFY",
                "transaction_type": "BUY", "quantity": 1, "product": "MIS",
                "order_type": "MARKET", **case,
            }  # fmt: skip
            with pytest.raises(ex.InputException) as refused:
                await bot.call(bot.kite.place_order, **order)
            assert refused.value.code == 400, case

    async def test_a_misspelt_symbol_suggests_the_right_one(self, bot: Bot) -> None:
        with pytest.raises(ex.InputException, match="RELIANCE"):
            await bot.call(
                bot.kite.place_order, variety="regular", exchange="NSE", tradingsymbol="RELIANC",
                transaction_type="BUY", quantity=1, product="CNC", order_type="MARKET",
            )  # fmt: skip

    async def test_too_little_money_is_an_order_exception(
        self, http: httpx.AsyncClient, bot: Bot
    ) -> None:
        with pytest.raises(ex.OrderException):
            await bot.call(
                bot.kite.place_order, variety="regular", exchange="NSE", tradingsymbol="RELIANCE",
                transaction_type="BUY", quantity=100000, product="CNC", order_type="MARKET",
            )  # fmt: skip
        margins = await bot.call(bot.kite.margins)
        assert margins["equity"]["available"]["cash"] == 100000
        assert await bot.call(bot.kite.orders) == []

    async def test_selling_what_is_not_held_is_an_order_exception(self, bot: Bot) -> None:
        with pytest.raises(ex.OrderException):
            await bot.call(
                bot.kite.place_order, variety="regular", exchange="NSE", tradingsymbol="RELIANCE",
                transaction_type="SELL", quantity=1, product="CNC", order_type="MARKET",
            )  # fmt: skip

    async def test_another_users_order_is_not_found(
        self, http: httpx.AsyncClient, live: str, bot: Bot
    ) -> None:
        ltp = await _ltp(bot, "NSE:INFY")
        order_id = await bot.call(
            bot.kite.place_order, variety="regular", exchange="NSE", tradingsymbol="INFY",
            transaction_type="BUY", quantity=1, product="MIS", order_type="LIMIT",
            price=float((ltp * Decimal("0.9")).quantize(Decimal("0.1"))),
        )  # fmt: skip
        other = await new_bot(http, live)
        for call, args in (
            (other.kite.order_history, (order_id,)),
            (other.kite.order_trades, (order_id,)),
            (other.kite.cancel_order, ("regular", order_id)),
            (other.kite.modify_order, ("regular", order_id)),
        ):
            with pytest.raises(ex.OrderException) as refused:
                await other.call(call, *args)
            assert refused.value.code == 404
        [mine] = await bot.call(bot.kite.orders)
        assert mine["status"] == "OPEN"
        with pytest.raises(ex.OrderException):
            await bot.call(bot.kite.order_history, "not-an-id")

    async def test_a_finished_order_cannot_be_cancelled(self, bot: Bot) -> None:
        order_id = await bot.call(
            bot.kite.place_order, variety="regular", exchange="NSE", tradingsymbol="INFY",
            transaction_type="BUY", quantity=1, product="MIS", order_type="MARKET",
        )  # fmt: skip
        with pytest.raises(ex.OrderException):
            await bot.call(bot.kite.cancel_order, "regular", order_id)

    async def test_conversion_is_refused_plainly(self, bot: Bot) -> None:
        with pytest.raises(ex.InputException):
            await bot.call(bot.kite.convert_position, "NSE", "INFY", "BUY", "day", 1, "MIS", "CNC")

    async def test_unknown_routes_and_methods_answer_in_kites_shape(
        self, http: httpx.AsyncClient, bot: Bot
    ) -> None:
        headers = {"Authorization": f"token {bot.api_key}:{bot.kite.access_token}"}
        for method, path, status, kind in (
            ("GET", "/orders/regular/1", 405, "GeneralException"),
            ("GET", "/portfolio/nothing", 404, "GeneralException"),
            ("GET", "/user/margins/nonsense", 400, "InputException"),
            ("GET", "/orders", 403, "TokenException"),
        ):
            sent = headers if status != 403 else {}
            answer = await http.request(method, path, headers=sent)
            assert answer.status_code == status, (path, answer.text)
            assert answer.json()["status"] == "error"
            assert answer.json()["error_type"] == kind


class TestAfterMarket:
    async def test_an_order_on_a_closed_venue_is_amo(self, tmp_path: Path, db: str) -> None:
        evening = SimulatedClock(1.0, start=datetime(2026, 11, 25, 14, 0, tzinfo=UTC))
        async with (
            live_app(tmp_path / "data", db, clock=evening, market_hours="exchange") as live,
            httpx.AsyncClient(base_url=f"http://{live}", timeout=10) as http,
        ):
            bot = await new_bot(http, live)
            order_id = await bot.call(
                bot.kite.place_order, variety="amo", exchange="NSE", tradingsymbol="INFY",
                transaction_type="BUY", quantity=1, product="CNC", order_type="MARKET",
            )  # fmt: skip
            [order] = await bot.call(bot.kite.orders)
            assert order["order_id"] == order_id
            assert order["status"] == "AMO REQ RECEIVED" and order["variety"] == "amo"
            assert order["exchange_timestamp"] is None
