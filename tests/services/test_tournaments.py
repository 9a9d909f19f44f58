"""The tournament scheduler on its own, joins racing for the last place, and the ledger."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.conftest import app_at, client_for
from tests.factories import admin_headers, user_with_token
from tradepit.api.deps import Wiring
from tradepit.domain.clock import ManualClock
from tradepit.domain.orders import Product
from tradepit.services import leaderboards
from tradepit.services.execution import position_of
from tradepit.services.tournament_runs import Scheduler
from tradepit.services.tournaments import HOUSE
from tradepit.store import orders as order_store
from tradepit.store import tournaments as store
from tradepit.store.tournaments import Tournament
from tradepit.store.wallets import LedgerEntry, Wallet

T0 = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)


@pytest.fixture
async def app(tmp_path: Path, db: str) -> AsyncIterator[FastAPI]:
    async with app_at(tmp_path / "data", db, ManualClock(T0)) as application:
        yield application


def scheduler(app: FastAPI, interval: float = 1.0) -> Scheduler:
    wired = app.state.wiring
    return Scheduler(
        wired.sessionmaker, wired.clock, wired.market, wired.bus, wired.matcher,
        wall=wired.wall, interval=interval,
    )  # fmt: skip


def terms(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Sprint",
        "start_time": (T0 + timedelta(minutes=1)).isoformat(),
        "end_time": (T0 + timedelta(minutes=2)).isoformat(),
        "starting_capital": "100000",
        **extra,
    }


async def status_of(app: FastAPI, tournament_id: int) -> str:
    async with app.state.wiring.sessionmaker() as session:
        return str(
            await session.scalar(select(Tournament.status).where(Tournament.id == tournament_id))
        )


async def create(client: httpx.AsyncClient, admin: dict[str, str], **extra: Any) -> int:
    response = await client.post("/api/admin/tournaments", json=terms(**extra), headers=admin)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


class TestScheduler:
    async def test_the_running_scheduler_starts_and_ends_on_its_own(self, app: FastAPI) -> None:
        clock: ManualClock = app.state.wiring.clock
        async with client_for(app) as client:
            _, admin = await admin_headers(app, client)
            tournament_id = await create(client, admin)
        task = asyncio.create_task(scheduler(app, interval=0.02).run())
        try:
            await asyncio.sleep(0.05)
            assert await status_of(app, tournament_id) == "scheduled"
            for minutes, status in ((1, "running"), (1, "ended")):
                clock.advance(timedelta(minutes=minutes))
                async with asyncio.timeout(10):
                    while await status_of(app, tournament_id) != status:  # noqa: ASYNC110
                        await asyncio.sleep(0.01)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    async def test_it_sleeps_until_the_next_start_at_most_an_interval(self, app: FastAPI) -> None:
        async with client_for(app) as client:
            _, admin = await admin_headers(app, client)
            await create(client, admin)
        assert await scheduler(app, interval=5).seconds_to_next() == 5
        assert await scheduler(app, interval=120).seconds_to_next() == 60


class TestJoin:
    async def test_two_users_racing_for_the_last_place(self, app: FastAPI) -> None:
        async with client_for(app) as client:
            _, admin = await admin_headers(app, client)
            tournament_id = await create(client, admin, max_participants=1, entry_fee="10")
            users = [await user_with_token(client) for _ in range(2)]
            responses = await asyncio.gather(
                *(
                    client.post(f"/api/tournaments/{tournament_id}/join", headers=h)
                    for _, h in users
                )
            )
        assert sorted(r.status_code for r in responses) == [201, 409]


fees = st.decimals(min_value=Decimal(0), max_value=Decimal(500), places=8)
splits = st.lists(st.integers(1, 50), max_size=4).filter(lambda s: sum(s) <= 100)


class TestLedgerArithmetic:
    @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        fee=fees,
        pool=fees,
        split=splits,
        players=st.integers(1, 3),
        deleted=st.booleans(),
    )
    def test_fees_prizes_and_refunds_add_up(
        self,
        tmp_path: Path,
        db: str,
        fee: Decimal,
        pool: Decimal,
        split: list[int],
        players: int,
        deleted: bool,
    ) -> None:
        asyncio.run(self._play(tmp_path, db, fee, pool, split, players, deleted))

    async def _play(
        self,
        tmp_path: Path,
        db: str,
        fee: Decimal,
        pool: Decimal,
        split: list[int],
        players: int,
        deleted: bool,
    ) -> None:
        clock = ManualClock(T0)
        async with app_at(tmp_path / "data", db, clock) as app, client_for(app) as client:
            _, admin = await admin_headers(app, client)
            # Plain notation: str() writes a zero fee with 8 places as "0E-8".
            body = {"entry_fee": f"{fee:f}", "prize_pool": f"{pool:f}", "prize_split": split}
            tournament_id = await create(client, admin, **body)
            users = [await user_with_token(client) for _ in range(players)]
            house_before = await house(app)
            for _, headers in users:
                response = await client.post(
                    f"/api/tournaments/{tournament_id}/join", headers=headers
                )
                assert response.status_code == 201, response.text
            if deleted:
                response = await client.delete(
                    f"/api/admin/tournaments/{tournament_id}", headers=admin
                )
                assert response.status_code == 200
                prizes = [Decimal(0)] * players
            else:
                clock.advance(timedelta(minutes=1))
                await scheduler(app).step()
                clock.advance(timedelta(minutes=1))
                await scheduler(app).step()
                # Nobody traded: equal returns, ranked by who joined first.
                prizes = [
                    (pool * share / 100).quantize(Decimal("1e-8"), ROUND_DOWN) for share in split
                ][:players]
                prizes += [Decimal(0)] * (players - len(prizes))
            for (user, _), prize in zip(users, prizes, strict=True):
                paid = Decimal(0) if deleted else fee
                assert await main_inr(app, user["id"]) == Decimal(100000) - paid + prize
            collected = Decimal(0) if deleted else fee * players
            assert await house(app) - house_before == collected - sum(prizes, Decimal(0))
            async with app.state.wiring.sessionmaker() as session:
                total = await session.scalar(select(func.sum(LedgerEntry.amount)))
            assert Decimal(total or 0) == 0


async def main_inr(app: FastAPI, user_id: int) -> Decimal:
    wired: Wiring = app.state.wiring
    async with wired.sessionmaker() as session:
        found = await session.scalar(
            select(Wallet.balance).where(
                Wallet.user_id == user_id, Wallet.name == "cash", Wallet.currency == "INR"
            )
        )
        assert found is not None
        return found


async def house(app: FastAPI) -> Decimal:
    async with app.state.wiring.sessionmaker() as session:
        found = await session.scalar(
            select(Wallet.balance).where(Wallet.user_id.is_(None), Wallet.name == HOUSE)
        )
        return found if found is not None else Decimal(0)


class TestEndOfDay:
    async def test_an_intraday_tournament_position_is_squared_off_in_the_tournament(
        self, app: FastAPI
    ) -> None:
        clock: ManualClock = app.state.wiring.clock
        async with client_for(app) as client:
            _, admin = await admin_headers(app, client)
            end = (T0 + timedelta(hours=5)).isoformat()
            tournament_id = await create(client, admin, end_time=end)
            user, headers = await user_with_token(client)
            join = await client.post(f"/api/tournaments/{tournament_id}/join", headers=headers)
            assert join.status_code == 201
            await client.post(f"/api/admin/tournaments/{tournament_id}/start", headers=admin)
            main_before = await main_inr(app, user["id"])
            body = {
                "symbol": "RELIANCE",
                "order_type": "MARKET",
                "order_side": "BUY",
                "quantity": "10",
                "product": "MIS",
                "tournament_id": tournament_id,
            }
            bought = await client.post("/api/paper-trading/orders", json=body, headers=headers)
            assert bought.status_code == 201, bought.text
            clock.advance(timedelta(hours=3, minutes=21))  # 15:21 IST: MIS square-off
            await app.state.wiring.matcher.end_of_day()
            orders = (await client.get("/api/paper-trading/orders", headers=headers)).json()
        squared = [o for o in orders if o["reason"] and "square-off" in o["reason"]]
        assert len(squared) == 1 and squared[0]["tournament_id"] == tournament_id
        assert squared[0]["status"] == "filled"
        assert await main_inr(app, user["id"]) == main_before
        async with app.state.wiring.sessionmaker() as session:
            own = await session.scalar(
                select(Wallet).where(Wallet.name == f"tournament:{tournament_id}")
            )
            assert own is not None and own.blocked == 0 and own.balance != Decimal(100000)


class TestRecentBoards:
    async def test_readers_get_the_board_the_scheduler_published_last(self, app: FastAPI) -> None:
        wired = app.state.wiring
        clock: ManualClock = wired.clock
        async with client_for(app) as client:
            _, admin = await admin_headers(app, client)
            tournament_id = await create(client, admin)
            _, headers = await user_with_token(client)
            await client.post(f"/api/tournaments/{tournament_id}/join", headers=headers)
            await client.post(f"/api/admin/tournaments/{tournament_id}/start", headers=admin)
            contests = Scheduler(
                wired.sessionmaker, clock, wired.market, wired.bus, wired.matcher,
                wall=wired.wall, recent=wired.leaderboards,
            )  # fmt: skip
            await contests.step()
            published_at = clock.now()
            clock.advance(timedelta(seconds=20))
            url = f"/api/tournaments/{tournament_id}/standings"
            cached = (await client.get(url, headers=headers)).json()
            assert datetime.fromisoformat(cached["as_of"]) == published_at
            mine = await client.get(f"/api/tournaments/{tournament_id}/my-rank", headers=headers)
            assert mine.json()["standing"] == cached["entries"][0]
            wired.leaderboards.max_age = 0.0  # too old: computed afresh
            fresh = (await client.get(url, headers=headers)).json()
            assert datetime.fromisoformat(fresh["as_of"]) == clock.now()


class TestLiveBoard:
    async def test_every_kind_of_position_is_marked_as_the_exact_equity_is(
        self, app: FastAPI
    ) -> None:
        """Delivery and intraday longs (the latter on margin), an intraday short and a future:
        the equities summed by the database (and, for the future, read as rows) are the
        exact ones at the last price, to the cent."""
        wired = app.state.wiring
        market = wired.market
        async with client_for(app) as client:
            _, admin = await admin_headers(app, client)
            end = (T0 + timedelta(hours=5)).isoformat()
            tournament_id = await create(client, admin, end_time=end, starting_capital="1000000")
            users = [await user_with_token(client) for _ in range(3)]
            for _, headers in users:
                joined = await client.post(
                    f"/api/tournaments/{tournament_id}/join", headers=headers
                )
                assert joined.status_code == 201
            await client.post(f"/api/admin/tournaments/{tournament_id}/start", headers=admin)
            trades = [
                [("ITC", "BUY", "100", "CNC"), ("TCS", "BUY", "10", "MIS")],
                [("INFY", "SELL", "20", "MIS"), ("ITC", "BUY", "5", "CNC")],
                [("NIFTY26DECFUT", "BUY", "65", "NRML"), ("SBIN", "BUY", "3", "CNC")],
            ]
            for (_, headers), orders in zip(users, trades, strict=True):
                for symbol, side, quantity, product in orders:
                    body = {
                        "symbol": symbol, "order_type": "MARKET", "order_side": side,
                        "quantity": quantity, "product": product, "tournament_id": tournament_id,
                    }  # fmt: skip
                    placed = await client.post(
                        "/api/paper-trading/orders", json=body, headers=headers
                    )
                    assert placed.status_code == 201, placed.text
                    assert placed.json()["status"] == "filled"
            board = await client.get(
                f"/api/tournaments/{tournament_id}/standings", headers=users[0][1]
            )
        equity = {line["user_id"]: Decimal(line["equity"]) for line in board.json()["entries"]}
        async with wired.sessionmaker() as session:
            marks = leaderboards.marks(market, "INR")
            rows = await store.board_rows(session, tournament_id, marks)
            # The future is no catalogue instrument: its holder's positions come as rows.
            assert [row.held is None for row in rows] == [False, False, True]
            for user, _ in users:
                wallet = await session.scalar(
                    select(Wallet).where(
                        Wallet.user_id == user["id"], Wallet.name == f"tournament:{tournament_id}"
                    )
                )
                assert wallet is not None
                exact = wallet.balance
                for row in await order_store.positions_of(session, user["id"], tournament_id):
                    instrument = market.instrument(row.symbol)
                    position = position_of(row.user_id, row.symbol, Product(row.product), row)
                    ltp = market.tick(row.symbol).ltp
                    if instrument.margined(row.product, long=row.quantity > 0):
                        exact += position.unrealized(ltp, instrument.multiplier)
                    else:
                        exact += position.market_value(ltp, instrument.multiplier)
                assert equity[user["id"]] == exact.quantize(Decimal("0.01")), row.symbol

    async def test_usd_base_pairs_are_marked_in_dollars_as_the_exact_equity_is(
        self, app: FastAPI
    ) -> None:
        """A USD tournament: USDJPY and USDCHF (priced in yen and francs, settled in dollars)
        are valued as rows, converted at the mark; EURUSD is summed by the database. Each
        equity on the board is the exact one at the last price, to the cent."""
        wired = app.state.wiring
        market = wired.market
        async with client_for(app) as client:
            _, admin = await admin_headers(app, client)
            end = (T0 + timedelta(hours=5)).isoformat()
            tournament_id = await create(
                client, admin, end_time=end, starting_capital="100000", currency="USD"
            )
            users = [await user_with_token(client) for _ in range(3)]
            for _, headers in users:
                joined = await client.post(
                    f"/api/tournaments/{tournament_id}/join", headers=headers
                )
                assert joined.status_code == 201
            await client.post(f"/api/admin/tournaments/{tournament_id}/start", headers=admin)
            trades = [
                [("USDJPY", "BUY", "0.5", "MIS")],
                [("EURUSD", "BUY", "0.3", "MIS"), ("USDCHF", "SELL", "0.4", "NRML")],
                [("EURUSD", "SELL", "0.2", "MIS")],
            ]
            for (_, headers), orders in zip(users, trades, strict=True):
                for symbol, side, quantity, product in orders:
                    body = {
                        "symbol": symbol, "order_type": "MARKET", "order_side": side,
                        "quantity": quantity, "product": product, "tournament_id": tournament_id,
                    }  # fmt: skip
                    placed = await client.post(
                        "/api/paper-trading/orders", json=body, headers=headers
                    )
                    assert placed.status_code == 201, placed.text
                    assert placed.json()["status"] == "filled"
            wired.clock.advance(timedelta(minutes=30))
            board = await client.get(
                f"/api/tournaments/{tournament_id}/standings", headers=users[0][1]
            )
        equity = {line["user_id"]: Decimal(line["equity"]) for line in board.json()["entries"]}
        async with wired.sessionmaker() as session:
            rows = await store.board_rows(session, tournament_id, leaderboards.marks(market, "USD"))
            # Holders of a pair settled in its base are valued as rows, the others in SQL.
            assert [row.held is None for row in rows] == [True, True, False]
            for user, _ in users:
                wallet = await session.scalar(
                    select(Wallet).where(
                        Wallet.user_id == user["id"], Wallet.name == f"tournament:{tournament_id}"
                    )
                )
                assert wallet is not None
                exact = wallet.balance
                for row in await order_store.positions_of(session, user["id"], tournament_id):
                    instrument = market.instrument(row.symbol)
                    position = position_of(row.user_id, row.symbol, Product(row.product), row)
                    ltp = market.tick(row.symbol).ltp
                    if instrument.margined(row.product, long=row.quantity > 0):
                        exact += position.unrealized(
                            ltp, instrument.multiplier, settles_in_base=instrument.settles_in_base
                        )
                    else:
                        exact += position.market_value(ltp, instrument.multiplier)
                assert equity[user["id"]] == exact.quantize(Decimal("0.01")), user["id"]
