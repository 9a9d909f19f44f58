"""Resolving bets: at the price of the expiry instant, exactly once, across restarts and races."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.conftest import app_at
from tests.factories import make_user
from tradepit.api.deps import Wiring
from tradepit.bus import user_topic
from tradepit.domain.clock import ManualClock
from tradepit.domain.market import Candle, Tick
from tradepit.domain.predictions import BetStatus, Direction
from tradepit.market.data import PriceSource
from tradepit.schemas.predictions import BetCreate
from tradepit.services import predictions
from tradepit.services.callers import Caller
from tradepit.services.predictions import BETS_WALLET, Resolver
from tradepit.store.db import commit
from tradepit.store.predictions import Bet
from tradepit.store.users import User
from tradepit.store.wallets import LedgerTransaction, Wallet, entries_sum

T0 = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)
ENTRY = Decimal("91500.0")


class Scripted:
    """The simulator's market, with BTC-USDT's price set at chosen instants."""

    def __init__(self, base: PriceSource) -> None:
        self.base = base
        self.prices: dict[datetime, Decimal] = {T0: ENTRY}

    def at(self, minutes: int, price: str) -> None:
        """Set the price ``minutes`` after T0."""
        self.prices[T0 + timedelta(minutes=minutes)] = Decimal(price)

    def price_at(self, symbol: str, t: datetime) -> Decimal:
        if symbol == "BTC-USDT" and t in self.prices:
            return self.prices[t]
        return self.base.price_at(symbol, t)

    def tick_at(self, symbol: str, t: datetime) -> Tick:
        return self.base.tick_at(symbol, t)

    def candles(self, symbol: str, interval: str, start: datetime, end: datetime) -> list[Candle]:
        return self.base.candles(symbol, interval, start, end)


def scripted(app: FastAPI) -> Scripted:
    """Put a scripted price source under the app's market; return it."""
    market = app.state.wiring.market
    source = market.source if isinstance(market.source, Scripted) else Scripted(market.source)
    market.source = source
    return source


@pytest.fixture
async def app(tmp_path: Path, db: str) -> AsyncIterator[FastAPI]:
    async with app_at(
        tmp_path / "data", db, ManualClock(T0), starting_balance_usdt="1000"
    ) as application:
        scripted(application)
        yield application


def resolver(app: FastAPI) -> Resolver:
    found: Resolver = app.state.wiring.resolver
    return found


def clock(app: FastAPI) -> ManualClock:
    found: ManualClock = app.state.wiring.clock
    return found


async def place(
    app: FastAPI, user_id: int, direction: str = "long", amount: str = "10", minutes: int = 5
) -> int:
    """Place a bet through the service, as the request would; return its id."""
    wired = app.state.wiring
    async with wired.sessionmaker() as session:
        user = await session.get(User, user_id)
        assert user is not None
        body = BetCreate(
            telegram=user.username,
            amount=Decimal(amount),
            direction=Direction(direction),
            time=minutes,
        )
        bet, _ = await predictions.place(
            session, wired.clock, wired.market, wired.bus, wired.bet_rules, Caller(user, "t"), body
        )
        await commit(session)
        return bet.id


async def fetch(app: FastAPI, bet_id: int) -> Bet:
    wired: Wiring = app.state.wiring
    async with wired.sessionmaker() as session:
        found = await session.get(Bet, bet_id)
        assert found is not None
        return found


async def usdt(app: FastAPI, user_id: int | None, name: str = "cash") -> tuple[Decimal, Decimal]:
    """Return a USDT wallet's balance and the sum of its ledger entries."""
    async with app.state.wiring.sessionmaker() as session:
        wallet = (
            await session.scalars(
                select(Wallet).where(
                    Wallet.user_id.is_(None) if user_id is None else Wallet.user_id == user_id,
                    Wallet.name == name,
                    Wallet.currency == "USDT",
                )
            )
        ).one()
        return wallet.balance, await entries_sum(session, wallet.id)


async def transactions(app: FastAPI, bet_id: int) -> list[str]:
    """Return the kinds of the ledger transactions of one bet."""
    async with app.state.wiring.sessionmaker() as session:
        kinds = await session.scalars(
            select(LedgerTransaction.kind)
            .where(LedgerTransaction.reference == f"bet:{bet_id}")
            .order_by(LedgerTransaction.id)
        )
        return list(kinds)


class TestResolution:
    @pytest.mark.parametrize(
        ("direction", "exit_price", "status", "balance"),
        [
            ("long", "91500.1", BetStatus.WON, "1008"),
            ("long", "91499.9", BetStatus.LOST, "990"),
            ("short", "91499.9", BetStatus.WON, "1008"),
            ("short", "91500.1", BetStatus.LOST, "990"),
            ("long", "91500.0", BetStatus.REFUNDED, "1000"),
            ("short", "91500", BetStatus.REFUNDED, "1000"),
        ],
    )
    async def test_long_short_and_tie(
        self, app: FastAPI, direction: str, exit_price: str, status: BetStatus, balance: str
    ) -> None:
        user_id = await make_user(app)
        scripted(app).at(5, exit_price)
        bet_id = await place(app, user_id, direction)
        assert await resolver(app).resolve_due() == 0  # not expired yet
        clock(app).advance(timedelta(minutes=5))
        assert await resolver(app).resolve_due() == 1
        bet = await fetch(app, bet_id)
        assert bet.status == status.value
        assert bet.entry_price == ENTRY
        assert bet.exit_price == Decimal(exit_price)
        assert bet.resolved_at == T0 + timedelta(minutes=5)
        assert await usdt(app, user_id) == (Decimal(balance), Decimal(balance))
        house = Decimal(1000) - Decimal(balance)
        assert await usdt(app, None, BETS_WALLET) == (house, house)
        expected = {
            BetStatus.WON: ["bet_stake", "bet_payout"],
            BetStatus.LOST: ["bet_stake"],
            BetStatus.REFUNDED: ["bet_stake", "bet_refund"],
        }[status]
        assert await transactions(app, bet_id) == expected

    async def test_resolves_late_at_the_price_of_the_expiry_instant(self, app: FastAPI) -> None:
        user_id = await make_user(app)
        scripted(app).at(1, "91600")
        scripted(app).at(10, "91000")  # where the price is when the resolver gets to it
        bet_id = await place(app, user_id, minutes=1)
        clock(app).advance(timedelta(minutes=10))
        await resolver(app).resolve_due()
        bet = await fetch(app, bet_id)
        assert (bet.status, bet.exit_price) == ("won", Decimal("91600"))

    async def test_the_payout_ratio_is_the_one_in_force_when_placed(self, app: FastAPI) -> None:
        user_id = await make_user(app)
        scripted(app).at(5, "91501")
        bet_id = await place(app, user_id, amount="3.33333333")
        wired = app.state.wiring
        wired.bet_rules = predictions.BetRules(Decimal(3), Decimal(1), Decimal(100), "BTC-USDT")
        clock(app).advance(timedelta(minutes=5))
        await resolver(app).resolve_due()
        assert (await fetch(app, bet_id)).payout == Decimal("5.99999999")  # x1.8, rounded down

    async def test_publishes_the_result_and_the_balance_after_commit(self, app: FastAPI) -> None:
        user_id = await make_user(app)
        events = app.state.wiring.bus.subscribe(user_topic(user_id))
        scripted(app).at(5, "91700")
        bet_id = await place(app, user_id)
        async with asyncio.timeout(5):
            placed = await events.get()
        assert placed["type"] == "balance"
        assert placed["balance"] == {
            "currency": "USDT",
            "cash": "990",
            "blocked": "0",
            "available": "990",
        }
        clock(app).advance(timedelta(minutes=5))
        await resolver(app).resolve_due()
        async with asyncio.timeout(5):
            result, balance = await events.get(), await events.get()
        events.close()
        assert result["type"] == "bet_result"
        assert result["result"] == "won" and result["payout"] == 18.0
        assert result["balance"] == 1008.0
        assert result["bet"]["id"] == bet_id and result["bet"]["exit_price"] == 91700.0
        assert balance["type"] == "balance" and balance["balance"]["cash"] == "1008"


class TestExactlyOnce:
    async def test_two_resolvers_racing_pay_once(
        self, app: FastAPI, tmp_path: Path, db: str
    ) -> None:
        users = [await make_user(app) for _ in range(3)]
        bets = [await place(app, u, minutes=1 + i % 2) for i, u in enumerate(users * 4)]
        for minutes in (1, 2):
            scripted(app).at(minutes, "91600")
        async with app_at(tmp_path / "other", db, clock(app)) as other:
            scripted(other).prices = scripted(app).prices
            clock(app).advance(timedelta(minutes=2))
            counts = await asyncio.gather(
                resolver(app).resolve_due(),
                resolver(other).resolve_due(),
                *(resolver(r).resolve(b) for r in (app, other) for b in bets[:3]),
            )
        assert sum(counts) == len(bets)
        for user_id in users:
            assert await usdt(app, user_id) == (Decimal(1032), Decimal(1032))  # 4 x (18 - 10)
        for bet_id in bets:
            assert await transactions(app, bet_id) == ["bet_stake", "bet_payout"]


class TestRestart:
    async def test_a_new_app_resolves_what_expired_while_down_and_reschedules_the_rest(
        self, app: FastAPI, tmp_path: Path, db: str
    ) -> None:
        user_id = await make_user(app)
        prices = scripted(app)
        for minutes, price in ((1, "91400"), (2, "91600"), (5, "91800")):
            prices.at(minutes, price)
        first, second, third = [await place(app, user_id, minutes=m) for m in (1, 2, 5)]
        # The server stops; three minutes pass; a new one starts on the same database.
        clock(app).advance(timedelta(minutes=3))
        async with app_at(tmp_path / "restarted", db, clock(app)) as restarted:
            scripted(restarted).prices = prices.prices
            async with restarted.router.lifespan_context(restarted):
                async with asyncio.timeout(10):
                    while (await fetch(restarted, second)).status == "active":  # noqa: ASYNC110
                        await asyncio.sleep(0.01)
                assert (await fetch(restarted, first)).status == "lost"
                assert (await fetch(restarted, second)).status == "won"
                assert (await fetch(restarted, third)).status == "active"
                # Rescheduled: it waits for its own expiry (capped by the safety net).
                assert await resolver(restarted).seconds_to_next() == 60
                clock(app).advance(timedelta(seconds=90))
                assert await resolver(restarted).seconds_to_next() == 30
            clock(app).advance(timedelta(seconds=30))
            # The old and the new process both look; the bet resolves once.
            counts = await asyncio.gather(
                resolver(app).resolve_due(), resolver(restarted).resolve_due()
            )
            assert sorted(counts) == [0, 1]
        assert (await fetch(app, third)).exit_price == Decimal("91800")
        assert await usdt(app, user_id) == (Decimal(1006), Decimal(1006))  # -10 +8 +8
        assert [await transactions(app, b) for b in (first, second, third)] == [
            ["bet_stake"],
            ["bet_stake", "bet_payout"],
            ["bet_stake", "bet_payout"],
        ]

    async def test_the_running_resolver_wakes_for_a_new_bet(self, app: FastAPI) -> None:
        task = asyncio.create_task(resolver(app).run())
        try:
            await asyncio.sleep(0.05)  # idle: no bet, it sleeps
            user_id = await make_user(app)
            bet_id = await place(app, user_id, minutes=1)
            clock(app).advance(timedelta(minutes=1))
            # The placement woke it; with the manual clock the expiry is already past.
            async with asyncio.timeout(10):
                while (await fetch(app, bet_id)).status == "active":  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


stakes = st.decimals(min_value=Decimal(1), max_value=Decimal(100), places=8)
moves = st.sampled_from(["-0.1", "0", "0.1"])
bets = st.lists(st.tuples(stakes, st.sampled_from(["long", "short"]), moves), max_size=6)


class TestLedgerArithmetic:
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(plays=bets, ratio=st.decimals(min_value=Decimal(1), max_value=Decimal(5), places=3))
    def test_balances_are_the_sum_of_stakes_and_payouts(
        self, tmp_path: Path, db: str, plays: list[tuple[Decimal, str, str]], ratio: Decimal
    ) -> None:
        asyncio.run(self._play(tmp_path, db, plays, ratio))

    async def _play(
        self, tmp_path: Path, db: str, plays: list[tuple[Decimal, str, str]], ratio: Decimal
    ) -> None:
        overrides: dict[str, Any] = {"starting_balance_usdt": "1000", "bet_payout_ratio": ratio}
        async with app_at(tmp_path / "data", db, ManualClock(T0), **overrides) as app:
            prices = scripted(app)
            user_id = await make_user(app)
            house_before = await house(app)
            expected = Decimal(1000)
            for i, (stake, direction, move) in enumerate(plays):
                prices.prices[T0 + timedelta(minutes=i)] = ENTRY
                prices.prices[T0 + timedelta(minutes=i + 1)] = ENTRY + Decimal(move)
                await place(app, user_id, direction, str(stake), minutes=1)
                clock(app).advance(timedelta(minutes=1))
                await resolver(app).resolve_due()
                if move != "0" and (Decimal(move) > 0) == (direction == "long"):
                    expected += (stake * ratio).quantize(Decimal("1e-8"), ROUND_DOWN) - stake
                elif move != "0":
                    expected -= stake
            assert await usdt(app, user_id) == (expected, expected)
            assert await house(app) - house_before == Decimal(1000) - expected


async def house(app: FastAPI) -> Decimal:
    """Return the balance of the house's USDT wallet (0 before its first bet)."""
    async with app.state.wiring.sessionmaker() as session:
        found = await session.scalar(
            select(Wallet.balance).where(Wallet.user_id.is_(None), Wallet.name == BETS_WALLET)
        )
        return found if found is not None else Decimal(0)
