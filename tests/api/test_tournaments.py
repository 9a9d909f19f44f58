"""Tournaments start to finish: isolated wallets, rules, the leaderboard, prizes once, refunds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.books import assert_books_balance
from tests.conftest import app_at, client_for
from tests.factories import admin_headers, user_with_token
from tests.services.test_engine import matcher, quote
from tradepit.domain.clock import ManualClock
from tradepit.services.tournament_runs import Scheduler
from tradepit.store.audit import AuditEntry
from tradepit.store.wallets import LedgerTransaction, Wallet

T0 = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)  # Thursday, noon in Mumbai: NSE open
Headers = dict[str, str]


@pytest.fixture
async def app(tmp_path: Path, db: str) -> AsyncIterator[FastAPI]:
    async with app_at(tmp_path / "data", db, ManualClock(T0)) as application:
        yield application


def scheduler(app: FastAPI) -> Scheduler:
    wired = app.state.wiring
    return Scheduler(
        wired.sessionmaker,
        wired.clock,
        wired.market,
        wired.bus,
        wired.matcher,
        wall=wired.wall,
        recent=wired.leaderboards,
    )


def terms(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Thursday sprint",
        "description": "NSE only",
        "start_time": (T0 + timedelta(hours=1)).isoformat(),
        "end_time": (T0 + timedelta(hours=2)).isoformat(),
        "starting_capital": "1000000",
        "entry_fee": "100",
        "prize_pool": "1000",
        "prize_split": ["50", "30", "20"],
        "max_participants": 10,
        **extra,
    }


def order(tournament_id: int, symbol: str, side: str, quantity: str) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "order_type": "MARKET",
        "order_side": side,
        "quantity": quantity,
        "product": "CNC",
        "tournament_id": tournament_id,
    }


async def inr_cash(client: httpx.AsyncClient, headers: Headers) -> Decimal:
    wallets = (await client.get("/api/paper-trading/wallet", headers=headers)).json()
    return next(Decimal(w["cash"]) for w in wallets if w["currency"] == "INR")


async def create(client: httpx.AsyncClient, admin: Headers, **extra: Any) -> dict[str, Any]:
    response = await client.post("/api/admin/tournaments", json=terms(**extra), headers=admin)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def join(client: httpx.AsyncClient, tournament_id: int, headers: Headers) -> httpx.Response:
    return await client.post(f"/api/tournaments/{tournament_id}/join", headers=headers)


async def ledger_count(app: FastAPI, kind: str) -> int:
    async with app.state.wiring.sessionmaker() as session:
        stmt = select(func.count()).where(LedgerTransaction.kind == kind)
        return int(await session.scalar(stmt) or 0)


class TestStartToFinish:
    async def test_three_users(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        clock: ManualClock = app.state.wiring.clock
        market = app.state.wiring.market
        prices = {s: market.tick(s).ltp for s in ("RELIANCE", "ITC", "TCS")}
        cheapest = min(prices, key=lambda s: prices[s])
        _, admin = await admin_headers(app, client)
        t = await create(
            client,
            admin,
            rules={
                "max_position_pct": "50",
                "min_price": str(prices[cheapest] + 1),
                "allow_shorts": False,
                "allowed_venues": ["NSE"],
            },
        )
        assert t["status"] == "scheduled" and t["participants"] == 0
        users = [await user_with_token(client) for _ in range(3)]
        before = [await inr_cash(client, h) for _, h in users]
        for _, headers in users:
            response = await join(client, t["id"], headers)
            assert response.status_code == 201, response.text
            assert response.json()["wallet"]["cash"] == "1000000"
        again = await join(client, t["id"], users[0][1])
        assert again.status_code == 409 and again.json()["code"] == "ALREADY_JOINED"
        for (_, headers), cash in zip(users, before, strict=True):
            assert await inr_cash(client, headers) == cash - 100  # the fee, nothing else
        (_, a), (_, b), (_, c) = users
        early = await client.post(
            "/api/paper-trading/orders", json=order(t["id"], "TCS", "BUY", "1"), headers=a
        )
        assert early.status_code == 409 and early.json()["code"] == "TOURNAMENT_STATE"

        clock.advance(timedelta(hours=1))
        await scheduler(app).step()
        got = (await client.get(f"/api/tournaments/{t['id']}", headers=a)).json()
        assert got["status"] == "running" and got["participants"] == 3
        running = (await client.get("/api/tournaments?status=running", headers=a)).json()
        assert [x["id"] for x in running] == [t["id"]]

        async def rule_of(body: dict[str, Any]) -> str:
            response = await client.post("/api/paper-trading/orders", json=body, headers=a)
            assert response.status_code == 400, response.text
            assert response.json()["code"] == "TOURNAMENT_RULE"
            return str(response.json()["message"]).split(":")[0]

        assert await rule_of(order(t["id"], "BTC-USDT", "BUY", "0.01")) == "currency"
        assert await rule_of(order(t["id"], "TCS", "SELL", "1")) == "allow_shorts"
        assert await rule_of(order(t["id"], cheapest, "BUY", "1")) == "min_price"
        big = int(Decimal(600000) / prices["TCS"]) + 1
        assert await rule_of(order(t["id"], "TCS", "BUY", str(big))) == "max_position_pct"

        quantity = str(int(Decimal(300000) / prices["TCS"]))
        for headers in (a, b):
            response = await client.post(
                "/api/paper-trading/orders", json=order(t["id"], "TCS", "BUY", quantity),
                headers=headers,
            )  # fmt: skip
            assert response.status_code == 201, response.text
            assert response.json()["tournament_id"] == t["id"]
            assert response.json()["status"] == "filled"
        response = await client.post(
            "/api/paper-trading/orders", json=order(t["id"], "TCS", "SELL", quantity), headers=b
        )
        assert response.status_code == 201, response.text
        # Isolation: the main wallet and positions never saw the tournament's trades.
        for (_, headers), cash in zip(users, before, strict=True):
            assert await inr_cash(client, headers) == cash - 100
            positions = await client.get("/api/paper-trading/positions", headers=headers)
            assert positions.json() == []

        board = (await client.get(f"/api/tournaments/{t['id']}/standings", headers=c)).json()
        assert board["final"] is False
        lines = board["entries"]
        assert [line["rank"] for line in lines] == [1, 2, 3]
        rois = [Decimal(line["roi"]) for line in lines]
        assert rois == sorted(rois, reverse=True)
        by_user = {line["user_id"]: line for line in lines}
        ids = [u["id"] for u, _ in users]
        assert by_user[ids[2]]["trades"] == 0 and by_user[ids[2]]["equity"] == "1000000"
        assert by_user[ids[1]]["trades"] == 2 and by_user[ids[1]]["win_rate"] in ("0", "100")
        assert board["total"] == 3
        url = f"/api/tournaments/{t['id']}/standings"
        page = (await client.get(f"{url}?limit=1&offset=1", headers=c)).json()
        assert page["entries"] == lines[1:2] and page["total"] == 3
        rest = (await client.get(f"{url}?offset=1", headers=c)).json()
        assert rest["entries"] == lines[1:] and rest["total"] == 3
        for bad in ("limit=0", "limit=1001", "offset=-1"):
            assert (await client.get(f"{url}?{bad}", headers=c)).status_code == 422, bad
        assert Decimal(by_user[ids[1]]["pnl"]) < 0  # a round trip pays spread and charges
        mine = (await client.get(f"/api/tournaments/{t['id']}/my-rank", headers=c)).json()
        assert mine["participants"] == 3 and mine["standing"]["user_id"] == ids[2]

        published = app.state.wiring.bus.subscribe(f"tournament.{t['id']}")
        await scheduler(app).step()
        event = await asyncio.wait_for(published.get(), timeout=5)
        assert event["type"] == "leaderboard" and len(event["entries"]) == event["total"] == 3

        clock.advance(timedelta(hours=1))
        await scheduler(app).step()
        final = (await client.get(f"/api/tournaments/{t['id']}/standings", headers=c)).json()
        assert final["final"] is True and final["status"] == "ended"
        async with asyncio.timeout(5):
            while not (event := await published.get())["final"]:
                pass
        assert event["entries"] == final["entries"]
        prizes = {line["user_id"]: Decimal(line["prize"]) for line in final["entries"]}
        assert sorted(prizes.values(), reverse=True) == [500, 300, 200]
        for line in final["entries"]:
            assert Decimal(line["prize"]) == [500, 300, 200][line["rank"] - 1]
        for (user, headers), cash in zip(users, before, strict=True):
            assert await inr_cash(client, headers) == cash - 100 + prizes[user["id"]]
        # Once: another scheduler run and an admin end change nothing.
        await scheduler(app).step()
        again = await client.post(f"/api/admin/tournaments/{t['id']}/end", headers=admin)
        assert again.status_code == 409
        assert await ledger_count(app, "tournament_prize") == 3
        late = await client.post(
            "/api/paper-trading/orders", json=order(t["id"], "TCS", "BUY", "1"), headers=a
        )
        assert late.status_code == 409
        mine_all = (await client.get("/api/tournaments/my/tournaments", headers=a)).json()
        assert mine_all[0]["tournament"]["id"] == t["id"] and mine_all[0]["standing"]["rank"]

    async def test_deleting_before_the_start_refunds_fees(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, admin = await admin_headers(app, client)
        t = await create(client, admin, entry_fee="250.5")
        users = [await user_with_token(client) for _ in range(2)]
        before = [await inr_cash(client, h) for _, h in users]
        for _, headers in users:
            assert (await join(client, t["id"], headers)).status_code == 201
        response = await client.delete(f"/api/admin/tournaments/{t['id']}", headers=admin)
        assert response.status_code == 200, response.text
        assert response.json()["refunded_entries"] == 2
        for (_, headers), cash in zip(users, before, strict=True):
            assert await inr_cash(client, headers) == cash
        gone = await client.get(f"/api/tournaments/{t['id']}", headers=users[0][1])
        assert gone.status_code == 404
        async with app.state.wiring.sessionmaker() as session:
            actions = set(await session.scalars(select(AuditEntry.action)))
            own = await session.scalars(
                select(Wallet).where(Wallet.name == f"tournament:{t['id']}")
            )
            assert all(w.balance == 0 for w in own)
        await assert_books_balance(app.state.wiring.sessionmaker)
        assert {"admin.tournament.create", "admin.tournament.delete"} <= actions

    async def test_a_started_tournament_cannot_be_deleted_or_joined_late(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, admin = await admin_headers(app, client)
        t = await create(client, admin)
        started = await client.post(f"/api/admin/tournaments/{t['id']}/start", headers=admin)
        assert started.status_code == 200 and started.json()["status"] == "running"
        response = await client.delete(f"/api/admin/tournaments/{t['id']}", headers=admin)
        assert response.status_code == 409
        _, headers = await user_with_token(client)
        late = await join(client, t["id"], headers)
        assert late.status_code == 409 and late.json()["code"] == "TOURNAMENT_STATE"
        changed = await client.put(
            f"/api/admin/tournaments/{t['id']}", json={"name": "x"}, headers=admin
        )
        assert changed.status_code == 409

    async def test_admin_rules(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        _, admin = await admin_headers(app, client)
        _, user = await user_with_token(client)
        assert (
            await client.post("/api/admin/tournaments", json=terms(), headers=user)
        ).status_code == 403
        backwards = terms(end_time=T0.isoformat())
        response = await client.post("/api/admin/tournaments", json=backwards, headers=admin)
        assert response.status_code == 400 and response.json()["code"] == "INVALID_TOURNAMENT"
        too_much = terms(prize_split=["60", "50"])
        response = await client.post("/api/admin/tournaments", json=too_much, headers=admin)
        assert response.status_code == 400
        t = await create(client, admin, max_participants=1)
        changed = await client.put(
            f"/api/admin/tournaments/{t['id']}", json={"name": "Renamed"}, headers=admin
        )
        assert changed.status_code == 200 and changed.json()["name"] == "Renamed"
        assert (await join(client, t["id"], user)).status_code == 201
        _, other = await user_with_token(client)
        full = await join(client, t["id"], other)
        assert full.status_code == 409 and full.json()["code"] == "TOURNAMENT_FULL"


class TestRestart:
    async def test_a_restart_mid_tournament_ends_it_once(self, tmp_path: Path, db: str) -> None:
        clock = ManualClock(T0)
        async with app_at(tmp_path / "data", db, clock) as first, client_for(first) as client:
            _, admin = await admin_headers(first, client)
            t = await create(client, admin)
            users = [await user_with_token(client) for _ in range(2)]
            for _, headers in users:
                assert (await join(client, t["id"], headers)).status_code == 201
            clock.advance(timedelta(hours=1))
            await scheduler(first).step()
            response = await client.post(
                "/api/paper-trading/orders", json=order(t["id"], "ITC", "BUY", "10"),
                headers=users[0][1],
            )  # fmt: skip
            assert response.status_code == 201, response.text
        # Down across the end; two engines come back at once.
        clock.advance(timedelta(hours=3))
        async with (
            app_at(tmp_path / "data", db, clock) as second,
            app_at(tmp_path / "data", db, clock) as third,
        ):
            await asyncio.gather(scheduler(second).step(), scheduler(third).step())
            assert await ledger_count(second, "tournament_prize") == 2
            async with client_for(second) as client:
                board = await client.get(
                    f"/api/tournaments/{t['id']}/standings", headers=users[1][1]
                )
                assert board.json()["final"] is True
                ranks = sorted(line["rank"] for line in board.json()["entries"])
                assert ranks == [1, 2]


class TestMoney:
    async def test_holds_stay_in_the_tournament_and_the_ledger_balances(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        clock: ManualClock = app.state.wiring.clock
        market = app.state.wiring.market
        _, admin = await admin_headers(app, client)
        t = await create(client, admin)
        (user, headers), (_, other) = [await user_with_token(client) for _ in range(2)]
        for h in (headers, other):
            assert (await join(client, t["id"], h)).status_code == 201
        await client.post(f"/api/admin/tournaments/{t['id']}/start", headers=admin)
        main_before = await inr_cash(client, headers)
        limit = (market.tick("INFY").ltp * Decimal("0.8")).quantize(Decimal("1"))
        resting = await client.post(
            "/api/paper-trading/orders",
            json={
                **order(t["id"], "INFY", "BUY", "10"),
                "order_type": "LIMIT",
                "price": str(limit),
            },
            headers=headers,
        )
        assert resting.status_code == 201 and resting.json()["status"] == "open", resting.text
        filled = await client.post(
            "/api/paper-trading/orders", json=order(t["id"], "ITC", "BUY", "100"), headers=other
        )
        assert filled.status_code == 201, filled.text
        wallet = (await client.get("/api/paper-trading/wallet", headers=headers)).json()
        assert all(w["blocked"] == "0" for w in wallet)  # the hold is on the tournament wallet
        assert await inr_cash(client, headers) == main_before
        ledger = (await client.get("/api/paper-trading/ledger", headers=headers)).json()
        named = {(e["wallet"], e["kind"]) for e in ledger["entries"]}
        assert {
            ("cash", "tournament_entry"),
            (f"tournament:{t['id']}", "tournament_entry"),
        } <= named

        # The live equity is the wallet plus the positions at the last price, to the cent.
        board = await client.get(f"/api/tournaments/{t['id']}/standings", headers=other)
        async with app.state.wiring.sessionmaker() as session:
            own = await session.scalars(
                select(Wallet).where(Wallet.name == f"tournament:{t['id']}")
            )
            cash = {w.user_id: w.balance for w in own}
        itc = market.tick("ITC").ltp
        for line in board.json()["entries"]:
            held = itc * 100 if line["user_id"] != user["id"] else Decimal(0)
            expected = (cash[line["user_id"]] + held).quantize(Decimal("0.01"))
            assert Decimal(line["equity"]) == expected

        clock.advance(timedelta(hours=2))
        await scheduler(app).step()
        got = await client.get(f"/api/paper-trading/orders/{resting.json()['id']}", headers=headers)
        assert got.json()["status"] == "cancelled"
        async with app.state.wiring.sessionmaker() as session:
            own_wallets = await session.scalars(select(Wallet).where(Wallet.user_id.is_not(None)))
            assert all(w.blocked == 0 for w in own_wallets)
        await assert_books_balance(app.state.wiring.sessionmaker)


class TestParticipantPortfolio:
    async def test_anyone_sees_a_participants_positions_and_equity(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        market = app.state.wiring.market
        _, admin = await admin_headers(app, client)
        t = await create(client, admin)
        (trader, a), (other, b) = [await user_with_token(client) for _ in range(2)]
        for headers in (a, b):
            assert (await join(client, t["id"], headers)).status_code == 201
        await client.post(f"/api/admin/tournaments/{t['id']}/start", headers=admin)
        bought = await client.post(
            "/api/paper-trading/orders", json=order(t["id"], "ITC", "BUY", "10"), headers=a
        )
        assert bought.status_code == 201 and bought.json()["status"] == "filled", bought.text
        url = f"/api/tournaments/{t['id']}/participants/{trader['id']}/portfolio"
        response = await client.get(url, headers=b)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["tournament_id"], body["user_id"]) == (t["id"], trader["id"])
        assert body["username"] == trader["username"] and body["currency"] == "INR"
        [position] = body["positions"]
        assert (position["symbol"], position["product"]) == ("ITC", "CNC")
        assert Decimal(position["quantity"]) == 10
        assert Decimal(position["ltp"]) == market.tick("ITC").ltp
        assert Decimal(position["average_price"]) > 0
        assert {"realized_pnl", "unrealized_pnl"} <= position.keys()
        cash, value = Decimal(body["cash"]), Decimal(body["positions_value"])
        assert value == 10 * market.tick("ITC").ltp
        assert Decimal(body["equity"]) == cash + value
        assert cash < 1000000  # paid from the tournament wallet...
        positions = await client.get("/api/paper-trading/positions", headers=a)
        assert positions.json() == []  # ...never from the main one
        # The other participant, who has not traded: the starting capital, no positions.
        nobody = await client.get(
            f"/api/tournaments/{t['id']}/participants/{other['id']}/portfolio", headers=a
        )
        assert nobody.status_code == 200 and nobody.json()["positions"] == []
        assert nobody.json()["equity"] == "1000000"

    async def test_hidden_portfolios_until_the_end(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, admin = await admin_headers(app, client)
        t = await create(client, admin, rules={"hide_portfolios": True})
        (trader, a), (_, b) = [await user_with_token(client) for _ in range(2)]
        for headers in (a, b):
            assert (await join(client, t["id"], headers)).status_code == 201
        url = f"/api/tournaments/{t['id']}/participants/{trader['id']}/portfolio"
        before = await client.get(url, headers=b)  # scheduled: hidden already
        assert before.status_code == 403 and before.json()["code"] == "PORTFOLIO_HIDDEN"
        await client.post(f"/api/admin/tournaments/{t['id']}/start", headers=admin)
        bought = await client.post(
            "/api/paper-trading/orders", json=order(t["id"], "TCS", "BUY", "2"), headers=a
        )
        assert bought.status_code == 201, bought.text
        hidden = await client.get(url, headers=b)
        assert hidden.status_code == 403, hidden.text
        assert hidden.json()["code"] == "PORTFOLIO_HIDDEN" and "hides" in hidden.json()["message"]
        for headers in (a, admin):  # the participant themself, an administrator
            seen = await client.get(url, headers=headers)
            assert seen.status_code == 200, seen.text
            assert [p["symbol"] for p in seen.json()["positions"]] == ["TCS"]
        ended = await client.post(f"/api/admin/tournaments/{t['id']}/end", headers=admin)
        assert ended.status_code == 200, ended.text
        after = await client.get(url, headers=b)
        assert after.status_code == 200, after.text
        assert [p["symbol"] for p in after.json()["positions"]] == ["TCS"]

    async def test_not_found_and_not_logged_in(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, admin = await admin_headers(app, client)
        t = await create(client, admin)
        (trader, a), (outsider, b) = [await user_with_token(client) for _ in range(2)]
        assert (await join(client, t["id"], a)).status_code == 201
        base = f"/api/tournaments/{t['id']}/participants"
        missing = await client.get(f"{base}/{outsider['id']}/portfolio", headers=a)
        assert missing.status_code == 404 and missing.json()["code"] == "NOT_JOINED"
        unknown = await client.get(
            f"/api/tournaments/{t['id'] + 1000}/participants/{trader['id']}/portfolio", headers=b
        )
        assert unknown.status_code == 404 and unknown.json()["code"] == "TOURNAMENT_NOT_FOUND"
        client.cookies.clear()  # the logins' session cookie is a credential too
        anonymous = await client.get(f"{base}/{trader['id']}/portfolio")
        assert anonymous.status_code == 401


class TestRulesOnEveryPath:
    """Issue 13, item 5: modify, legs and fills of resting orders obey the same rules as
    placing."""

    async def started(
        self, client: httpx.AsyncClient, app: FastAPI, **rules: Any
    ) -> tuple[int, int, Headers]:
        _, admin = await admin_headers(app, client)
        t = await create(client, admin, rules=rules)
        user, headers = await user_with_token(client)
        assert (await join(client, t["id"], headers)).status_code == 201
        await client.post(f"/api/admin/tournaments/{t['id']}/start", headers=admin)
        return int(t["id"]), int(user["id"]), headers

    async def held(
        self, client: httpx.AsyncClient, t: int, user_id: int, headers: Headers
    ) -> Decimal:
        """The participant's net position in the tournament."""
        url = f"/api/tournaments/{t}/participants/{user_id}/portfolio"
        positions = (await client.get(url, headers=headers)).json()["positions"]
        return sum((Decimal(p["quantity"]) for p in positions), Decimal(0))

    async def test_a_resting_buy_modified_above_max_position_pct_is_refused(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        ask = app.state.wiring.market.tick("INFY").ask
        t, user_id, headers = await self.started(client, app, max_position_pct="10")
        limit = (ask * Decimal("0.9")).quantize(Decimal("1"))
        resting = await client.post(
            "/api/paper-trading/orders",
            json={**order(t, "INFY", "BUY", "10"), "order_type": "LIMIT", "price": str(limit)},
            headers=headers,
        )
        assert resting.status_code == 201 and resting.json()["status"] == "open", resting.text
        big = int(Decimal(420000) / limit)  # ~42 % of the starting capital
        url = f"/api/paper-trading/orders/{resting.json()['id']}"
        changed = await client.put(url, json={"quantity": str(big)}, headers=headers)
        assert changed.status_code == 400, changed.text
        body = changed.json()
        assert body["success"] is False and body["code"] == "TOURNAMENT_RULE"
        assert body["message"].startswith("max_position_pct:")
        assert (await client.get(url, headers=headers)).json()["quantity"] == "10"
        # A price change within the rule still goes through, and the order fills as it was.
        nearer = limit + 1
        moved = await client.put(url, json={"price": str(nearer)}, headers=headers)
        assert moved.status_code == 200, moved.text
        await matcher(app).on_ticks([quote("INFY", str(nearer - 1), str(nearer))])
        assert await self.held(client, t, user_id, headers) == 10

    async def test_a_resting_sell_modified_above_the_holding_is_refused(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        bid = app.state.wiring.market.tick("INFY").bid
        t, user_id, headers = await self.started(client, app, allow_shorts=False)
        bought = await client.post(
            "/api/paper-trading/orders", json=order(t, "INFY", "BUY", "5") | {"product": "MIS"},
            headers=headers,
        )  # fmt: skip
        assert bought.status_code == 201 and bought.json()["status"] == "filled", bought.text
        limit = (bid * Decimal("1.1")).quantize(Decimal("1"))
        resting = await client.post(
            "/api/paper-trading/orders",
            json=order(t, "INFY", "SELL", "5")
            | {"product": "MIS", "order_type": "LIMIT", "price": str(limit)},
            headers=headers,
        )
        assert resting.status_code == 201 and resting.json()["status"] == "open", resting.text
        url = f"/api/paper-trading/orders/{resting.json()['id']}"
        changed = await client.put(url, json={"quantity": "50"}, headers=headers)
        assert changed.status_code == 400, changed.text
        assert changed.json()["code"] == "TOURNAMENT_RULE"
        assert changed.json()["message"].startswith("allow_shorts:")
        await matcher(app).on_ticks([quote("INFY", str(limit), str(limit + 1))])
        assert (await client.get(url, headers=headers)).json()["status"] == "filled"
        assert await self.held(client, t, user_id, headers) == 0

    async def test_resting_sells_that_together_go_short_are_stopped_when_they_fill(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        bid = app.state.wiring.market.tick("INFY").bid
        t, user_id, headers = await self.started(client, app, allow_shorts=False)
        bought = await client.post(
            "/api/paper-trading/orders", json=order(t, "INFY", "BUY", "5") | {"product": "MIS"},
            headers=headers,
        )  # fmt: skip
        assert bought.status_code == 201, bought.text
        limit = (bid * Decimal("1.1")).quantize(Decimal("1"))
        ids = []
        for _ in range(2):  # each alone leaves the position flat
            resting = await client.post(
                "/api/paper-trading/orders",
                json=order(t, "INFY", "SELL", "5")
                | {"product": "MIS", "order_type": "LIMIT", "price": str(limit)},
                headers=headers,
            )
            assert resting.status_code == 201, resting.text
            ids.append(resting.json()["id"])
        await matcher(app).on_ticks([quote("INFY", str(limit), str(limit + 1))])
        first, second = [
            (await client.get(f"/api/paper-trading/orders/{i}", headers=headers)).json()
            for i in ids
        ]
        assert first["status"] == "filled"
        assert second["status"] == "cancelled" and "allow_shorts" in second["reason"]
        assert await self.held(client, t, user_id, headers) == 0

    async def test_a_bracket_leg_modified_above_the_position_is_refused(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        t, user_id, headers = await self.started(client, app, allow_shorts=False)
        entry = await client.post(
            "/api/paper-trading/orders",
            json=order(t, "INFY", "BUY", "5") | {"product": "MIS", "take_profit": {"points": "20"}},
            headers=headers,
        )
        assert entry.status_code == 201 and entry.json()["status"] == "filled", entry.text
        listed = (await client.get("/api/paper-trading/orders", headers=headers)).json()
        [leg] = [o for o in listed if o["parent_id"] == entry.json()["id"]]
        url = f"/api/paper-trading/orders/{leg['id']}"
        changed = await client.put(url, json={"quantity": "50"}, headers=headers)
        assert changed.status_code == 400, changed.text
        assert changed.json()["code"] == "INVALID_BRACKET"
        price = Decimal(leg["price"])
        await matcher(app).on_ticks([quote("INFY", str(price + 1), str(price + 2))])
        assert (await client.get(url, headers=headers)).json()["status"] == "filled"
        assert await self.held(client, t, user_id, headers) == 0
