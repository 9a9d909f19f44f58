"""Margin and derivatives: leveraged intraday longs, futures and options, expiry settlement."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.books import assert_books_balance
from tests.conftest import app_at, client_for
from tests.factories import user_with_token
from tradepit.api.deps import Wiring
from tradepit.bus import user_topic
from tradepit.domain.clock import ManualClock
from tradepit.domain.instruments import Right, derivative_symbol, intrinsic_value
from tradepit.domain.ledger import Posting
from tradepit.domain.market import Tick
from tradepit.services import settlement, wallets
from tradepit.services.derivative_ticks import DerivativeTicks
from tradepit.services.engine import Matcher
from tradepit.store import wallets as wallet_store
from tradepit.store.wallets import Wallet

#: Thursday 26 Nov 2026, 12:00 IST: NSE and NFO are open.
OPEN = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)
#: NIFTY's next weekly expiry (a Tuesday) and its monthly one (the last Tuesday).
WEEKLY = date(2026, 12, 1)
MONTHLY = date(2026, 12, 29)
IST_CLOSE = timedelta(hours=10)  # 15:30 IST is 10:00 UTC
FUNDING = Decimal(10_000_000)


@pytest.fixture
async def app(tmp_path: Path, db: str) -> AsyncIterator[FastAPI]:
    async with app_at(tmp_path / "data", db, ManualClock(OPEN)) as application:
        yield application


def matcher(app: FastAPI) -> Matcher:
    found: Matcher = app.state.wiring.matcher
    return found


def order(symbol: str, side: str, quantity: object, product: str) -> dict[str, object]:
    return {
        "symbol": symbol,
        "order_type": "MARKET",
        "order_side": side,
        "quantity": str(quantity),
        "product": product,
    }


async def post_order(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, object]
) -> dict[str, object]:
    response = await client.post("/api/paper-trading/orders", json=body, headers=headers)
    assert response.status_code == 201, response.text
    placed: dict[str, object] = response.json()
    return placed


async def inr(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Decimal]:
    wallet = (await client.get("/api/paper-trading/wallet", headers=headers)).json()[0]
    return {key: Decimal(wallet[key]) for key in ("cash", "blocked", "available")}


async def money(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Decimal]:
    portfolio = (await client.get("/api/paper-trading/portfolio", headers=headers)).json()
    figures = portfolio["currencies"][0]
    return {key: Decimal(value) for key, value in figures.items() if key != "currency"}


async def fund(app: FastAPI, user_id: int, amount: Decimal = FUNDING) -> None:
    """Credit the user's INR wallet from the system capital (as an admin adjustment would)."""
    wired = app.state.wiring
    async with wired.sessionmaker() as session:
        wallet = await wallet_store.find_wallet(session, user_id, wallets.CASH, "INR")
        assert wallet is not None
        capital = await wallet_store.system_wallet(session, wallets.CAPITAL, "INR", OPEN)
        await wallets.post(
            session,
            wired.clock,
            kind="admin_adjustment",
            postings=[Posting(capital.id, "INR", -amount), Posting(wallet.id, "INR", amount)],
        )
        await session.commit()


async def assert_ledger_balances(app: FastAPI) -> None:
    """The books balance (``tradepit check``), and no wallet is blocked below zero or, unless
    it may, overdrawn."""
    await assert_books_balance(app.state.wiring.sessionmaker)
    async with app.state.wiring.sessionmaker() as session:
        for wallet in await session.scalars(select(Wallet)):
            assert wallet.blocked >= 0
            if not wallet.allow_negative:
                assert wallet.balance >= 0


def move_to(clock: ManualClock, at: datetime) -> None:
    clock.advance(at - clock.now())


def at_close(day: date, after: timedelta = timedelta(0)) -> datetime:
    """Return 15:30 IST on ``day`` (the expiry close) plus ``after``."""
    return datetime.combine(day, datetime.min.time(), UTC) + IST_CLOSE + after


def atm(app: FastAPI) -> Decimal:
    wired: Wiring = app.state.wiring
    spot = wired.market.tick("NIFTY").ltp
    return (spot / 50).to_integral_value() * 50


def option(strike: Decimal, right: Right = Right.CE, expiry: date = WEEKLY) -> str:
    return derivative_symbol("NIFTY", expiry, monthly=expiry == MONTHLY, strike=strike, right=right)


class TestIntradayLeverage:
    async def test_a_mis_long_blocks_only_the_margin_and_squares_off_with_its_pnl_in_cash(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        # 100 LT cost far more than the 1,00,000 cash: only 20 % of it is needed intraday.
        bought = await post_order(client, headers, order("LT", "BUY", 100, "MIS"))
        assert bought["status"] == "filled"
        notional = Decimal(str(bought["average_price"])) * 100
        charges = Decimal(str(bought["charges"]))
        assert notional > 100_000
        wallet = await inr(client, headers)
        assert wallet["cash"] == 100_000 - charges  # no notional left the wallet
        assert wallet["blocked"] == notional * Decimal("0.20")
        assert wallet["available"] == wallet["cash"] - wallet["blocked"]
        figures = await money(client, headers)
        assert figures["margin_used"] == wallet["blocked"]
        assert figures["equity"] == figures["cash"] + figures["positions_value"]
        assert figures["positions_value"] == figures["unrealized_pnl"]
        assert figures["equity"] - 100_000 == figures["realized_pnl"] + figures["unrealized_pnl"]

        clock: ManualClock = app.state.wiring.clock
        clock.advance(timedelta(hours=3, minutes=20, seconds=1))  # 15:20:01 IST
        assert (await matcher(app).end_of_day())[1] == 1
        positions = (await client.get("/api/paper-trading/positions", headers=headers)).json()
        lt = positions[0]
        assert lt["quantity"] == "0"
        wallet = await inr(client, headers)
        assert wallet["blocked"] == 0
        # The cash moved by the round trip's P&L, net of both fills' charges, and nothing else.
        assert wallet["cash"] == 100_000 + Decimal(lt["realized_pnl"])
        await assert_ledger_balances(app)

    async def test_a_mis_long_beyond_the_intraday_leverage_is_409(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.post(
            "/api/paper-trading/orders", json=order("LT", "BUY", 200, "MIS"), headers=headers
        )
        assert response.status_code == 409
        assert response.json()["code"] == "INSUFFICIENT_FUNDS"
        assert "20% of the notional" in response.json()["message"]

    async def test_delivery_still_needs_full_cash(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        response = await client.post(
            "/api/paper-trading/orders", json=order("LT", "BUY", 100, "CNC"), headers=headers
        )
        assert response.status_code == 409
        bought = await post_order(client, headers, order("LT", "BUY", 10, "CNC"))
        paid = Decimal(str(bought["average_price"])) * 10 + Decimal(str(bought["charges"]))
        wallet = await inr(client, headers)
        assert wallet["cash"] == 100_000 - paid and wallet["blocked"] == 0


class TestOptionsAndFutures:
    async def test_symbols_resolve_to_contracts_with_the_underlyings_lot(
        self, app: FastAPI
    ) -> None:
        market = app.state.wiring.market
        future = market.instrument("nifty26decfut")
        assert (future.symbol, future.kind.value, future.expiry) == (
            "NIFTY26DECFUT",
            "FUTURE",
            MONTHLY,
        )
        assert future.lot_size == 65 and future.venue.value == "NFO"
        call = market.instrument(option(Decimal(26000), expiry=MONTHLY))
        assert (
            call.symbol == "NIFTY26DEC26000CE" and call.strike == 26000 and call.right is Right.CE
        )
        weekly = market.instrument(option(Decimal(26000), Right.PE))
        assert weekly.symbol == "NIFTY26D0126000PE" and weekly.expiry == WEEKLY
        tick = market.tick(weekly.symbol)
        assert 0 < tick.bid < tick.ask and tick.bid % Decimal("0.05") == 0

    @pytest.mark.parametrize(
        ("symbol", "product", "code"),
        [
            ("NIFTY26DECFUT", "CNC", "CONTRACT_NOT_LISTED"),
            ("NIFTY26NOVFUT", "NRML", "CONTRACT_NOT_LISTED"),  # expired on 24 Nov
            ("NIFTY27DECFUT", "NRML", "CONTRACT_NOT_LISTED"),  # beyond three serial months
            ("NIFTY26D0226000CE", "NRML", "NOT_FOUND"),  # 2 Dec is no expiry
            ("NIFTY26DEC26010CE", "NRML", "NOT_FOUND"),  # off the 50-point strike grid
        ],
    )
    async def test_contracts_not_listed_are_refused(
        self, client: httpx.AsyncClient, symbol: str, product: str, code: str
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.post(
            "/api/paper-trading/orders", json=order(symbol, "BUY", 65, product), headers=headers
        )
        assert response.status_code in (400, 404), response.text
        assert response.json()["code"] == code

    async def test_quantity_in_lots_and_price_on_the_tick(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        odd = await client.post(
            "/api/paper-trading/orders", json=order("NIFTY26DECFUT", "BUY", 10, "NRML"),
            headers=headers,
        )  # fmt: skip
        assert odd.json()["code"] == "INVALID_QUANTITY" and "65" in odd.json()["message"]
        limit = {**order("NIFTY26DECFUT", "BUY", 65, "NRML"), "order_type": "LIMIT"}
        off_tick = await client.post(
            "/api/paper-trading/orders", json={**limit, "price": "26000.02"}, headers=headers
        )
        assert off_tick.json()["code"] == "INVALID_PRICE"

    async def test_an_option_buy_debits_the_premium(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        symbol = option(atm(app) + 500)
        ask = app.state.wiring.market.tick(symbol).ask
        bought = await post_order(client, headers, order(symbol, "BUY", 65, "NRML"))
        price = Decimal(str(bought["average_price"]))
        assert price >= ask
        wallet = await inr(client, headers)
        assert wallet["cash"] == 100_000 - price * 65 - Decimal(str(bought["charges"]))
        assert wallet["blocked"] == 0
        figures = await money(client, headers)
        assert figures["equity"] - 100_000 == figures["realized_pnl"] + figures["unrealized_pnl"]

    async def test_an_option_limit_order_rests_and_fills_through_the_fill_path(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        symbol = option(atm(app) + 500)
        ask = app.state.wiring.market.tick(symbol).ask
        limit = {**order(symbol, "BUY", 65, "NRML"), "order_type": "LIMIT", "price": str(ask)}
        filled = await post_order(client, headers, limit)
        assert filled["status"] == "filled" and Decimal(str(filled["average_price"])) <= ask

    async def test_an_option_sale_blocks_premium_and_margin_and_the_buyback_releases_them(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user, headers = await user_with_token(client)
        await fund(app, user["id"], Decimal(200_000))
        strike = atm(app) + 500
        symbol = option(strike)
        sold = await post_order(client, headers, order(symbol, "SELL", 65, "NRML"))
        assert sold.get("code") is None and sold["status"] == "filled"
        response = await client.post(
            "/api/paper-trading/orders", json=order(symbol, "SELL", 65, "NRML"), headers=headers
        )  # a second lot's margin (15 % of 65 x strike) is beyond what is left
        assert response.status_code == 409
        premium = Decimal(str(sold["average_price"])) * 65
        wallet = await inr(client, headers)
        assert wallet["cash"] == 300_000 + premium - Decimal(str(sold["charges"]))
        assert wallet["blocked"] == premium + strike * 65 * Decimal("0.15")
        assert (await money(client, headers))["margin_used"] == wallet["blocked"]
        closed = await client.post(f"/api/paper-trading/positions/{symbol}/close", headers=headers)
        assert closed.status_code == 200, closed.text
        wallet = await inr(client, headers)
        assert wallet["blocked"] == 0
        figures = await money(client, headers)
        assert figures["equity"] - 300_000 == figures["realized_pnl"]
        await assert_ledger_balances(app)

    async def test_a_futures_sale_blocks_margin_only_and_settles_pnl_on_close(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user, headers = await user_with_token(client)
        await fund(app, user["id"])
        sold = await post_order(client, headers, order("NIFTY26DECFUT", "SELL", 65, "NRML"))
        notional = Decimal(str(sold["average_price"])) * 65
        wallet = await inr(client, headers)
        start = 100_000 + FUNDING
        assert wallet["cash"] == start - Decimal(str(sold["charges"]))  # no notional moves
        assert wallet["blocked"] == notional * Decimal("0.15")
        figures = await money(client, headers)
        assert figures["positions_value"] == figures["unrealized_pnl"]
        assert figures["equity"] - start == figures["realized_pnl"] + figures["unrealized_pnl"]
        await post_order(client, headers, order("NIFTY26DECFUT", "BUY", 65, "NRML"))
        wallet = await inr(client, headers)
        assert wallet["blocked"] == 0
        positions = (await client.get("/api/paper-trading/positions", headers=headers)).json()
        assert wallet["cash"] == start + Decimal(positions[0]["realized_pnl"])
        await assert_ledger_balances(app)


class TestRestingDerivativeOrders:
    async def test_a_resting_option_limit_is_requoted_with_its_underlying_and_fills(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        market = app.state.wiring.market
        symbol = option(atm(app) + 500)
        quote = market.tick(symbol)
        limit = {**order(symbol, "BUY", 65, "NRML"), "order_type": "LIMIT", "price": str(quote.bid)}
        resting = await post_order(client, headers, limit)
        assert resting["status"] == "open"
        assert (await inr(client, headers))["blocked"] > quote.bid * 65  # premium and charges

        seen: list[Tick] = []

        async def listener(batch: Sequence[Tick]) -> None:
            seen.extend(batch)

        wrapper = DerivativeTicks(app.state.wiring.sessionmaker, market, listener)
        await wrapper([market.tick("BANKNIFTY")])  # another underlying: nothing added
        assert [t.symbol for t in seen] == ["BANKNIFTY"]
        await wrapper([market.tick("NIFTY")])
        assert [t.symbol for t in seen[1:]] == ["NIFTY", symbol]
        assert seen[-1] == market.tick(symbol)
        # In a process that does not hold the book, nothing is looked up or passed on.
        idle = DerivativeTicks(
            app.state.wiring.sessionmaker, market, listener, active=lambda: False
        )
        await idle([market.tick("NIFTY")])
        assert len(seen) == 3 and idle.watched == {}

        # The engine fills the order on a quote of the contract that crosses it.
        crossing = Tick(
            symbol=symbol, ts=OPEN, ltp=quote.bid, bid=quote.bid - Decimal("0.1"),
            ask=quote.bid, bid_size=Decimal(6500), ask_size=Decimal(6500), volume=Decimal(0),
        )  # fmt: skip
        await matcher(app).on_ticks([crossing])
        filled = (
            await client.get(f"/api/paper-trading/orders/{resting['id']}", headers=headers)
        ).json()
        assert filled["status"] == "filled" and Decimal(filled["average_price"]) <= quote.bid
        wallet = await inr(client, headers)
        assert wallet["blocked"] == 0
        assert wallet["cash"] == 100_000 - quote.bid * 65 - Decimal(filled["charges"])
        await assert_ledger_balances(app)


class TestExpirySettlement:
    async def test_expired_contracts_settle_exactly_once_across_a_restart(
        self, tmp_path: Path, db: str
    ) -> None:
        clock = ManualClock(OPEN)
        async with app_at(tmp_path / "data", db, clock) as first, client_for(first) as client:
            user, headers = await user_with_token(client)
            await fund(first, user["id"])
            strike = atm(first)
            itm, otm = option(strike - 1000), option(strike + 1500)
            for symbol in (itm, otm):
                await post_order(client, headers, order(symbol, "BUY", 65, "NRML"))
            sold_future = await post_order(
                client, headers, order("NIFTY26DECFUT", "SELL", 65, "NRML")
            )
            # A resting order in the expiring option is cancelled by the settlement.
            far = {"order_type": "LIMIT", "price": "99999", "validity": "GTC"}
            resting = {**order(itm, "SELL", 65, "NRML"), **far}
            rest = await post_order(client, headers, resting)
            assert rest["status"] == "open"
            cash = (await inr(client, headers))["cash"]
            # Before the close of the expiry day nothing settles.
            move_to(clock, at_close(WEEKLY, -timedelta(seconds=1)))
            assert await matcher(first).end_of_day() == (0, 0)
            positions = (await client.get("/api/paper-trading/positions", headers=headers)).json()
            assert {p["symbol"] for p in positions if p["quantity"] != "0"} == {
                itm,
                otm,
                "NIFTY26DECFUT",
            }
        # The server is down over the close; a new one starts the next morning.
        move_to(clock, datetime(2026, 12, 2, 4, 0, tzinfo=UTC))
        async with app_at(tmp_path / "data", db, clock) as second, client_for(second) as client:
            wired = second.state.wiring
            await matcher(second).rebuild()
            events = wired.bus.subscribe(user_topic(int(user["id"])))
            assert (
                await settlement.settle_expired(
                    wired.sessionmaker, clock, wired.market, matcher(second)
                )
                == 2
            )
            published = []
            while not events.queue.empty():
                published.append(events.queue.get_nowait())
            kinds = [(m["type"], m.get("event")) for m in published]
            assert kinds.count(("order", "fill")) == 2
            assert kinds.count(("position", None)) == kinds.count(("balance", None)) == 2
            flat = {m["position"]["symbol"]: m["position"]["quantity"] for m in published
                    if m["type"] == "position"}  # fmt: skip
            assert flat == {itm: "0", otm: "0"}
            assert (
                await settlement.settle_expired(
                    wired.sessionmaker, clock, wired.market, matcher(second)
                )
                == 0
            )
            market = wired.market
            final = market.final_price(market.instrument(itm))
            pays = intrinsic_value(Right.CE, strike - 1000, final)
            assert pays > 0 and intrinsic_value(Right.CE, strike + 1500, final) == 0
            positions = {
                p["symbol"]: p
                for p in (await client.get("/api/paper-trading/positions", headers=headers)).json()
            }
            assert positions[itm]["quantity"] == "0" and positions[otm]["quantity"] == "0"
            assert positions["NIFTY26DECFUT"]["quantity"] == "-65"  # its expiry is later
            assert (await inr(client, headers))["cash"] == cash + pays * 65
            history = (await client.get("/api/paper-trading/orders", headers=headers)).json()
            settled = [o for o in history if "expiry settlement" in (o["reason"] or "")]
            assert sorted(Decimal(o["average_price"]) for o in settled) == [0, pays]
            assert all(o["status"] == "filled" and o["charges"] == "0" for o in settled)
            cancelled = (
                await client.get(f"/api/paper-trading/orders/{rest['id']}", headers=headers)
            ).json()
            assert cancelled["status"] == "cancelled"
            await assert_ledger_balances(second)
        # A third start settles nothing again; the future settles at its own expiry.
        move_to(clock, at_close(MONTHLY, timedelta(minutes=1)))
        async with app_at(tmp_path / "data", db, clock) as third, client_for(third) as client:
            wired = third.state.wiring
            before = await inr(client, headers)
            await matcher(third).end_of_day()
            assert (
                await settlement.settle_expired(
                    wired.sessionmaker, clock, wired.market, matcher(third)
                )
                == 0
            )
            future = wired.market.instrument("NIFTY26DECFUT")
            final = wired.market.final_price(future)
            after = await inr(client, headers)
            sold_at = Decimal(str(sold_future["average_price"]))
            assert after["cash"] == before["cash"] + (sold_at - final) * 65
            assert after["blocked"] == 0
            history = (await client.get("/api/paper-trading/orders", headers=headers)).json()
            settled = [o for o in history if "expiry settlement" in (o["reason"] or "")]
            assert len(settled) == 3
            await assert_ledger_balances(third)


CONTRACTS = [("SBIN", "MIS"), ("SBIN", "CNC"), ("NIFTY26DECFUT", "NRML"), ("NIFTY26DECFUT", "MIS")]


class TestLedgerProperty:
    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        st.lists(
            st.tuples(
                st.integers(min_value=0, max_value=len(CONTRACTS)),
                st.sampled_from(["BUY", "SELL"]),
                st.integers(min_value=1, max_value=3),
            ),
            min_size=1,
            max_size=8,
        )
    )
    async def test_ledger_sums_equal_balances_after_any_sequence(
        self, client: httpx.AsyncClient, app: FastAPI, steps: list[tuple[int, str, int]]
    ) -> None:
        user, headers = await user_with_token(client)
        await fund(app, user["id"], Decimal(1_000_000))
        start = Decimal(1_100_000)
        call = option(atm(app) + 500)
        for index, side, lots in steps:
            symbol, product = CONTRACTS[index] if index < len(CONTRACTS) else (call, "NRML")
            quantity = lots * (65 if symbol != "SBIN" else 100)
            response = await client.post(
                "/api/paper-trading/orders", json=order(symbol, side, quantity, product),
                headers=headers,
            )  # fmt: skip
            assert response.status_code in (201, 400, 409), response.text
        await assert_ledger_balances(app)
        wallet = await inr(client, headers)
        figures = await money(client, headers)
        assert wallet["blocked"] == figures["margin_used"]  # MARKET orders leave no holds
        assert figures["equity"] == figures["cash"] + figures["positions_value"]
        assert figures["equity"] - start == figures["realized_pnl"] + figures["unrealized_pnl"]
