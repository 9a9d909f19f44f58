"""paper-tournaments' own frontend against Tradepit: its calls, bodies and messages, replayed
as it makes them.

The frontend is ``KARTHIKKHEGDE/Nifty-Tournament`` (``frontend/``); its calls are in
``services/*.ts`` (axios: ``response.data`` is the body) and a few components and hooks that call
``api`` themselves. What it sends and what it reads is a fact these tests restate, with where it
reads it. The market clock stands still at Thursday 2026-11-26 12:00 IST, mid-session.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import connect

from tests.conftest import app_at, client_for
from tests.factories import admin_headers, unique_name
from tests.realtime.conftest import live_app, receive_until, user_token, ws_url
from tests.services.test_engine import matcher
from tradepit.domain.accounts import Role
from tradepit.domain.clock import ManualClock
from tradepit.realtime.ws import SeedView, frame_for, frame_of, text_for
from tradepit.services.realtime import Client, Counters, Limits, Outgoing
from tradepit.services.tournament_runs import Scheduler

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
        held = {p["product"]: Decimal(p["quantity"]) for p in positions.json()}
        assert held == {"MIS": 0, "NRML": 1}  # NRML is carried until closed

    async def test_delivery_of_an_index_is_refused(self, client: httpx.AsyncClient) -> None:
        headers = await signed_up(client)
        cnc = {**README_ORDER, "product": "CNC"}
        answer = await client.post("/api/paper-trading/orders", json=cnc, headers=headers)
        assert answer.status_code == 400 and answer.json()["code"] == "NOT_TRADABLE"
        assert "not CNC" in answer.json()["detail"]


def is_number(value: object) -> bool:
    """``typeof x === 'number'``: what ``toFixed``, ``toLocaleString`` and sums need."""
    return isinstance(value, int | float) and not isinstance(value, bool)


class TestTradingService:
    """``services/tradingService.ts`` call by call, and the components that read it."""

    async def test_place_order_as_order_panel_and_simple_order_modal_send_it(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        headers = await signed_up(client)
        level = app.state.wiring.market.tick("NIFTY").ltp
        # OrderPanel: a LIMIT with its price, stop_loss and take_profit as plain numbers.
        panel = {
            "symbol": "NIFTY 50",
            "instrument_type": "INDEX",
            "order_type": "LIMIT",
            "order_side": "BUY",
            "quantity": 2,
            "price": float(level - 100),
            "stop_loss": float(level - 300),
            "take_profit": float(level + 200),
        }
        answer = await client.post("/api/paper-trading/orders", json=panel, headers=headers)
        assert answer.status_code == 201, answer.text
        assert answer.json()["status"] == "open" and answer.json()["bracket"] == {
            "take_profit": {"price": str(level + 200)},
            "stop_loss": {"price": str(level - 300)},
        }
        # SimpleOrderModal: MARKET with a product; ``side`` is the other name of order_side.
        modal = {
            "symbol": "NIFTY 50",
            "instrument_type": "INDEX",
            "order_type": "MARKET",
            "side": "SELL",
            "quantity": 1,
            "product": "MIS",
        }
        sold = await client.post("/api/paper-trading/orders", json=modal, headers=headers)
        assert sold.status_code == 201, sold.text
        assert sold.json()["order_side"] == "SELL" and sold.json()["status"] == "filled"
        both = {**modal, "order_side": "BUY"}
        assert (
            await client.post("/api/paper-trading/orders", json=both, headers=headers)
        ).status_code == 422

    async def test_orders_are_a_bare_list_and_cancel_is_a_post(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        headers = await signed_up(client)
        level = app.state.wiring.market.tick("NIFTY").ltp
        limit = {**README_ORDER, "order_type": "LIMIT", "price": float(level - 100)}
        placed = (
            await client.post("/api/paper-trading/orders", json=limit, headers=headers)
        ).json()
        await client.post("/api/paper-trading/orders", json=README_ORDER, headers=headers)
        # getOrders: ``response.data`` is the list OrdersHistory maps.
        listed = await client.get("/api/paper-trading/orders", headers=headers)
        assert [o["id"] for o in listed.json()] == [placed["id"] + 1, placed["id"]]
        assert listed.headers["X-Total-Count"] == "2"
        one = await client.get(f"/api/paper-trading/orders/{placed['id']}", headers=headers)
        assert one.json()["id"] == placed["id"]  # getOrder
        # cancelOrder: POST .../{id}/cancel, the same as DELETE .../{id}.
        blocked = (await inr(client, headers))["blocked"]
        url = f"/api/paper-trading/orders/{placed['id']}/cancel"
        cancelled = await client.post(url, headers=headers)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert (await inr(client, headers))["blocked"] < blocked  # its hold is released
        again = await client.post(url, headers=headers)
        assert again.status_code == 409 and again.json()["code"] == "ORDER_STATE"

    async def test_positions_are_a_bare_list_closed_by_id(self, client: httpx.AsyncClient) -> None:
        headers = await signed_up(client)
        await client.post("/api/paper-trading/orders", json=README_ORDER, headers=headers)
        rows = (await client.get("/api/paper-trading/positions", headers=headers)).json()
        [row] = rows
        # PositionsTable's fields: key and close by ``id``, ``tradingsymbol || symbol``,
        # ``exchange``, ``product``, ``instrument_type``, LTP as ``ltp || current_price``.
        assert row["symbol"] == row["tradingsymbol"] == "NIFTY"
        assert (row["exchange"], row["product"], row["instrument_type"]) == ("NSE", "MIS", "INDEX")
        assert row["current_price"] == row["ltp"] and row["multiplier"] == "1"
        assert Decimal(row["pnl"]) == Decimal(row["realized_pnl"]) + Decimal(row["unrealized_pnl"])
        url = f"/api/paper-trading/positions/{row['id']}/close"
        closed = await client.post(url, headers=headers)
        assert closed.status_code == 200, closed.text
        assert closed.json()["order_side"] == "SELL" and closed.json()["quantity"] == "1"
        again = await client.post(url, headers=headers)
        assert again.status_code == 404 and again.json()["code"] == "POSITION_NOT_FOUND"

    async def test_portfolio_and_pnl_answer_numbers(self, client: httpx.AsyncClient) -> None:
        headers = await signed_up(client)
        await client.post("/api/paper-trading/orders", json=README_ORDER, headers=headers)
        body = (await client.get("/api/paper-trading/portfolio", headers=headers)).json()
        inr_line = next(c for c in body["currencies"] if c["currency"] == "INR")
        summary = ("total_value", "cash_balance", "positions_value", "total_pnl")
        assert all(is_number(body[key]) for key in summary)
        assert body["total_value"] == float(inr_line["equity"])
        assert body["cash_balance"] == float(inr_line["cash"])
        pnl = (await client.get("/api/paper/pnl", headers=headers)).json()  # PnLWidget
        assert all(is_number(pnl[key]) for key in ("unrealised", "realised", "total"))
        assert pnl["total"] == pytest.approx(pnl["unrealised"] + pnl["realised"])
        assert pnl["total"] == pytest.approx(body["total_pnl"])

    @pytest.mark.parametrize(
        ("timeframe", "limit"),
        [("5minute", 200), ("day", 2), ("1m", 30), ("3minute", 20), ("1w", 5), ("1M", 3)],
    )
    async def test_get_candles_is_a_bare_list_of_the_last_bars(
        self, client: httpx.AsyncClient, timeframe: str, limit: int
    ) -> None:
        headers = await signed_up(client)
        params: dict[str, str | int] = {"symbol": "NIFTY 50", "timeframe": timeframe}
        params |= {
            "limit": limit,
            "instrument_token": 256265,
        }  # symbolStore's watchlist sends Kite's token
        answer = await client.get("/api/candles/", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        bars = answer.json()
        assert len(bars) == limit
        stamps = [bar["timestamp"] for bar in bars]
        assert stamps == sorted(stamps) and all(isinstance(t, int) for t in stamps)
        assert stamps[-1] <= T0.timestamp() * 1000  # epoch milliseconds, up to now
        for bar in bars:
            assert bar["low"] <= min(bar["open"], bar["close"]) <= bar["high"]
        if timeframe == "3minute":
            assert min(b - a for a, b in pairwise(stamps)) == 180_000
        if timeframe == "1M":
            months = [datetime.fromtimestamp(t / 1000, UTC).month for t in stamps]
            assert len(set(months)) == 3

    async def test_candles_by_token_current_price_and_option_charts(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        headers = await signed_up(client)
        # searchUtils.getSpotPrice: /api/candles/256265?interval=day&limit=1, .candles[0].close
        by_token = await client.get("/api/candles/256265?interval=day&limit=1", headers=headers)
        assert by_token.status_code == 200, by_token.text
        assert by_token.json()["symbol"] == "NIFTY" and len(by_token.json()["candles"]) == 1
        assert is_number(by_token.json()["candles"][0]["close"])
        unknown = await client.get("/api/candles/12345?interval=day&limit=1", headers=headers)
        assert unknown.status_code == 404
        # getCurrentPrice: ``response.data.price``.
        price = await client.get("/api/candles/current-price?symbol=NIFTY 50", headers=headers)
        assert price.json()["price"] == float(app.state.wiring.market.tick("NIFTY").ltp)
        # ChartModal asks an option's bars: contracts have no history here, a clear 404.
        chain = (await client.get("/api/candles/options-chain/NIFTY", headers=headers)).json()
        option = chain["ce_options"][0]
        params: dict[str, str | int] = {"symbol": option["tradingsymbol"], "limit": 400}
        params |= {"timeframe": "5minute", "instrument_token": option["instrument_token"]}
        chart = await client.get("/api/candles/", params=params, headers=headers)
        assert chart.status_code == 404 and chart.json()["code"] == "NO_HISTORY"

    async def test_instruments_as_kite_lists_them(self, client: httpx.AsyncClient) -> None:
        headers = await signed_up(client)
        # getInstrumentToken('NIFTY 50', 'NSE'): find by tradingsymbol or name.
        nse = (await client.get("/api/candles/instruments?exchange=NSE", headers=headers)).json()
        found = next(i for i in nse["instruments"] if i["name"] == "NIFTY 50")
        assert found["instrument_token"] == 256265 and found["segment"] == "INDICES"
        reliance = next(i for i in nse["instruments"] if i["tradingsymbol"] == "RELIANCE")
        assert reliance["instrument_type"] == "EQ" and reliance["exchange"] == "NSE"
        # instrumentCache and the options page: NFO's CE/PE of NIFTY and BANKNIFTY.
        nfo = (await client.get("/api/candles/instruments?exchange=NFO", headers=headers)).json()
        nifty = [i for i in nfo["instruments"] if i["name"] == "NIFTY"]
        assert {i["instrument_type"] for i in nifty} == {"CE", "PE"}
        expiries = sorted({i["expiry"] for i in nifty})
        listed = (await client.get("/api/expiries/NIFTY")).json()["data"]
        assert expiries == listed
        assert any(i["name"] == "BANKNIFTY" for i in nfo["instruments"])
        tokens = [i["instrument_token"] for i in nfo["instruments"]]
        assert len(set(tokens)) == len(tokens) == nfo["count"]
        url = "/api/candles/instruments?exchange=NFO&name=RELIANCE"  # a stock's, by name
        stock = (await client.get(url, headers=headers)).json()["instruments"]
        assert stock and {i["name"] for i in stock} == {"RELIANCE"}

    async def test_options_chain_lists_ce_and_pe_options(self, client: httpx.AsyncClient) -> None:
        headers = await signed_up(client)
        nearest = (await client.get("/api/candles/options-chain/NIFTY", headers=headers)).json()
        expiry = (await client.get("/api/expiries/NIFTY")).json()["data"][1]
        url = f"/api/candles/options-chain/NIFTY?expiry_date={expiry}"
        chain = (await client.get(url, headers=headers)).json()
        assert chain["expiry_date"] == chain["expiry"] == expiry != nearest["expiry"]
        for side, right in (("ce_options", "CE"), ("pe_options", "PE")):
            rows = chain[side]
            assert [r["strike"] for r in rows] == [s["strike"] for s in chain["strikes"]]
            for row, strike in zip(rows, chain["strikes"], strict=True):
                assert row["tradingsymbol"] == strike[right]["tradingsymbol"]
                assert row["ltp"] == strike[right]["ltp"] and row["expiry"] == expiry
                assert all(is_number(row[k]) for k in ("ltp", "oi", "change", "volume"))
                assert isinstance(row["instrument_token"], int)


async def running_tournament(
    app: FastAPI, client: httpx.AsyncClient, *players: Headers
) -> tuple[int, Headers]:
    """Create a tournament through the admin routes, let ``players`` join, start it."""
    _, admin = await admin_headers(app, client, Role.ADMIN)
    terms = {
        "name": "Thursday sprint",
        "start_time": (T0 + timedelta(hours=1)).isoformat(),
        "end_time": (T0 + timedelta(hours=2)).isoformat(),
        "starting_capital": "1000000",
        "entry_fee": "100",
        "prize_pool": "1000",
        "prize_split": ["60", "40"],
    }
    made = await client.post("/api/admin/tournaments", json=terms, headers=admin)
    assert made.status_code == 201, made.text
    tournament_id: int = made.json()["id"]
    for headers in players:
        joined = await client.post(f"/api/tournaments/{tournament_id}/join", headers=headers)
        assert joined.status_code == 201, joined.text
    started = await client.post(f"/api/admin/tournaments/{tournament_id}/start", headers=admin)
    assert started.status_code == 200, started.text
    return tournament_id, admin


class TestTournamentService:
    """``services/tournamentService.ts`` call by call, and the pages that read it."""

    async def test_listing_with_the_frontends_filter_and_fields(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        alice = await signed_up(client)
        tournament_id, _ = await running_tournament(app, client, alice)
        # tournaments.tsx: GET /api/tournaments/ (trailing slash), status_filter ACTIVE...
        for wanted, found in (("ACTIVE", True), ("UPCOMING", False), ("COMPLETED", False)):
            answer = await client.get(
                "/api/tournaments/", params={"status_filter": wanted}, headers=alice
            )
            assert answer.status_code == 200, answer.text
            assert any(t["id"] == tournament_id for t in answer.json()) is found, wanted
        bad = await client.get("/api/tournaments/?status_filter=SOON", headers=alice)
        assert bad.status_code == 400
        one = (await client.get(f"/api/tournaments/{tournament_id}", headers=alice)).json()
        # TournamentCard: the status it shows comes from start_date / end_date.
        assert one["start_date"] == one["start_time"] and one["end_date"] == one["end_time"]
        assert one["registration_deadline"] == one["start_time"]  # no late entry
        assert one["tournament_type"] == "SOLO" and one["current_participants"] == 1
        assert one["starting_balance"] == 1000000 and is_number(one["starting_balance"])

    async def test_trading_inside_a_tournament(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        alice, bob = await signed_up(client), await signed_up(client)
        nobody = await signed_up(client)
        tournament_id, _ = await running_tournament(app, client, alice, bob)
        base = f"/api/tournaments/{tournament_id}"
        # trade.tsx: getParticipant, then the rooms named after userId.
        status = (await client.get(f"{base}/participant", headers=alice)).json()
        assert status["joined"] is True and status["participant"]["initial_balance"] == 1000000
        assert status["userId"] == str(status["participant"]["user_id"])
        outsider = (await client.get(f"{base}/participant", headers=nobody)).json()
        assert outsider == {"joined": False, "userId": outsider["userId"], "participant": None}
        # placeTournamentOrder: the OrderPanel body, on the tournament's own wallet.
        level = app.state.wiring.market.tick("NIFTY").ltp
        limit = {**README_ORDER, "order_type": "LIMIT", "price": float(level - 100)}
        rest = await client.post(f"{base}/orders", json=limit, headers=alice)
        assert rest.status_code == 201 and rest.json()["tournament_id"] == tournament_id
        filled = await client.post(f"{base}/orders", json=README_ORDER, headers=alice)
        assert filled.json()["status"] == "filled"
        assert (await client.get("/api/paper-trading/positions", headers=alice)).json() == []
        orders = await client.get(f"{base}/orders", headers=alice)
        assert [o["id"] for o in orders.json()] == [filled.json()["id"], rest.json()["id"]]
        assert (await client.get(f"{base}/orders", headers=nobody)).status_code == 404
        # cancelTournamentOrder: DELETE .../orders/{id}; another tournament's path is 404.
        elsewhere = f"/api/tournaments/{tournament_id + 1}/orders/{rest.json()['id']}"
        assert (await client.delete(elsewhere, headers=alice)).status_code == 404
        cancel = await client.delete(f"{base}/orders/{rest.json()['id']}", headers=alice)
        assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
        # PositionsTable and PnLWidget in tournament mode.
        [position] = (await client.get(f"{base}/positions", headers=alice)).json()
        assert position["tournament_id"] == tournament_id and position["quantity"] == "1"
        pnl = (await client.get(f"{base}/pnl", headers=alice)).json()
        assert all(is_number(pnl[key]) for key in ("unrealised", "realised", "total"))
        # closeTournamentPosition: DELETE .../positions/{id}.
        closed = await client.delete(f"{base}/positions/{position['id']}", headers=alice)
        assert closed.status_code == 200, closed.text
        assert closed.json()["order_side"] == "SELL" and closed.json()["tournament_id"]
        main = (await client.get("/api/paper/pnl", headers=alice)).json()
        assert main["total"] == 0  # the main account never saw it
        # getMyParticipation, getMyRankings, getLeaderboard.
        mine = (await client.get(f"{base}/my-participation", headers=alice)).json()
        assert mine["tournament_id"] == tournament_id and mine["entry_fee_paid"] is True
        assert mine["current_balance"] == pytest.approx(1000000 + mine["total_pnl"])
        assert mine["rank"] in (1, 2) and mine["is_active"] is True
        assert (await client.get(f"{base}/my-participation", headers=nobody)).status_code == 404
        rankings = (await client.get("/api/tournaments/my-rankings", headers=alice)).json()
        assert [(r["tournament_id"], r["rank"]) for r in rankings] == [
            (tournament_id, mine["rank"])
        ]
        board = await client.get(f"{base}/leaderboard", headers=bob)
        lines = board.json()
        assert [line["rank"] for line in lines] == [1, 2]
        assert board.headers["X-Leaderboard-Status"] == "running"
        assert board.headers["X-Leaderboard-Final"] == "false"
        assert board.headers["X-Total-Count"] == "2"
        for line in lines:  # Leaderboard.tsx: key id, total_pnl, roi_percentage, win rate
            assert line["id"] == line["user_id"] and line["username"]
            assert is_number(line["total_pnl"]) and is_number(line["roi_percentage"])
            assert line["total_pnl"] == float(line["pnl"])
            assert line["roi_percentage"] == float(line["roi"])
            assert line["total_trades"] == line["closed_trades"]
            assert 0 <= line["winning_trades"] <= line["total_trades"]
        alice_line = next(line for line in lines if line["rank"] == mine["rank"])
        assert alice_line["total_trades"] == 1  # the close; the open realized nothing


def scheduler(app: FastAPI) -> Scheduler:
    """The app's tournament scheduler, keeping its boards where the app's readers look."""
    wired = app.state.wiring
    return Scheduler(
        wired.sessionmaker, wired.clock, wired.market, wired.bus, wired.matcher,
        wall=wired.wall, recent=wired.leaderboards,
    )  # fmt: skip


async def final_board(client: httpx.AsyncClient, tournament_id: int, headers: Headers) -> None:
    """Check that every reader's route gives the frozen final board."""
    board = await client.get(f"/api/tournaments/{tournament_id}/leaderboard", headers=headers)
    assert board.headers["X-Leaderboard-Status"] == "ended"
    assert board.headers["X-Leaderboard-Final"] == "true"
    assert sorted(Decimal(line["prize"]) for line in board.json()) == [400, 600]
    url = f"/api/tournaments/{tournament_id}/standings"
    standings = (await client.get(url, headers=headers)).json()
    assert standings["final"] is True and standings["status"] == "ended"
    url = f"/api/tournaments/{tournament_id}/my-participation"
    assert (await client.get(url, headers=headers)).json()["is_active"] is False


class TestLeaderboardFinality:
    """Once ``POST /api/admin/tournaments/{id}/end`` has answered, whoever reads the board gets
    the final one: not the running board a process kept for up to 2 s (``Recent``)."""

    async def test_right_after_the_end_in_this_process(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        alice, bob = await signed_up(client), await signed_up(client)
        tournament_id, admin = await running_tournament(app, client, alice, bob)
        await client.post(f"/api/tournaments/{tournament_id}/orders", json=README_ORDER,
                          headers=alice)  # fmt: skip
        await scheduler(app).publish(tournament_id)  # kept for readers for 2 s
        url = f"/api/tournaments/{tournament_id}/leaderboard"
        running = await client.get(url, headers=bob)
        assert running.headers["X-Leaderboard-Final"] == "false"
        ended = await client.post(f"/api/admin/tournaments/{tournament_id}/end", headers=admin)
        assert ended.status_code == 200, ended.text
        await final_board(client, tournament_id, bob)
        # A publish that comes after the end changes nothing, on the bus or for readers.
        published = app.state.wiring.bus.subscribe(f"tournament.{tournament_id}")
        await published.ready.wait()
        await scheduler(app).publish(tournament_id)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(published.get(), timeout=0.2)
        await final_board(client, tournament_id, bob)

    async def test_right_after_the_end_in_another_process(
        self, client: httpx.AsyncClient, app: FastAPI, tmp_path: Path, db: str
    ) -> None:
        alice, bob = await signed_up(client), await signed_up(client)
        tournament_id, admin = await running_tournament(app, client, alice, bob)
        clock: ManualClock = app.state.wiring.clock
        async with app_at(tmp_path / "data", db, clock) as other:
            await scheduler(other).publish(tournament_id)  # the other process keeps a board
            async with client_for(other) as elsewhere:
                url = f"/api/tournaments/{tournament_id}/leaderboard"
                running = await elsewhere.get(url, headers=bob)
                assert running.headers["X-Leaderboard-Final"] == "false"
                end = f"/api/admin/tournaments/{tournament_id}/end"
                assert (await client.post(end, headers=admin)).status_code == 200
                await final_board(elsewhere, tournament_id, bob)


class TestWebSocket:
    """``services/websocket.ts``: ``connect(token)`` opens ``/ws?token=``; ``subscribe(symbol,
    instrumentToken)`` sends ``{"type": "subscribe", "symbol", "instrument_token"}``; each
    message's ``data`` goes to the listeners of its ``type`` (``tick``: ``data.symbol`` compared
    with the symbol subscribed, ``data.last_price`` in the watchlist, ``data.price`` and
    ``data.timestamp`` in milliseconds in the chart's candle builder); rooms are ``{"type":
    "join" | "leave", "data": {"room"}}``."""

    async def test_the_seeds_subscription_gets_the_seeds_ticks(
        self, tmp_path: Path, db: str
    ) -> None:
        async with live_app(tmp_path / "data", db) as address:
            async with httpx.AsyncClient(base_url=f"http://{address}", timeout=10) as http:
                _, token = await user_token(http)
            async with (
                connect(ws_url(address, token=token)) as frontend,
                connect(ws_url(address, token=token)) as bot,
            ):
                await receive_until(frontend, "connected")
                await receive_until(bot, "connected")
                asked = {"type": "subscribe", "symbol": "NIFTY 50", "instrument_token": 256265}
                await frontend.send(json.dumps(asked))
                await bot.send(json.dumps({"type": "subscribe", "symbol": "NIFTY"}))
                subscribed, _ = await receive_until(frontend, "subscribed")
                assert subscribed["symbols"] == ["NIFTY"] and subscribed["symbol"] == "NIFTY 50"
                assert subscribed["data"] == {"symbol": "NIFTY 50", "instrument_token": 256265}
                seen = [await receive_until(frontend, "tick") for _ in range(3)]
                native, _ = await receive_until(bot, "tick")
                await frontend.send(json.dumps({"type": "join", "data": {"room": "tournament:7"}}))
                joined, _ = await receive_until(frontend, "joined")
                await frontend.send(json.dumps({**asked, "type": "unsubscribe"}))
                gone, _ = await receive_until(frontend, "unsubscribed")
        assert joined == {"type": "joined", "room": "tournament:7"}
        assert gone["symbols"] == ["NIFTY"]
        for tick, before in seen:
            assert set(tick) == {"type", "data"} and not before  # one message per tick
            data = tick["data"]
            assert data["symbol"] == "NIFTY 50" and data["instrument_token"] == 256265
            assert data["price"] == data["last_price"] > 0
            assert isinstance(data["timestamp"], int) and data["timestamp"] > 1.7e12
        # The bot subscribed Tradepit's way: Tradepit's tick, the same prices.
        assert native["symbol"] == "NIFTY" and "data" not in native and native["ltp"] > 0


def test_a_ticks_seed_frame_is_made_once_for_every_client_of_a_view() -> None:
    """The fan-out stays one encoding per tick: per view (symbol as named, token) for the
    clients that subscribed the seed's way, Tradepit's own for everyone else."""
    limits, counters = Limits(), Counters()

    async def no_replay(user_id: int, after: int, through: int) -> list[dict[str, Any]]:
        return []

    clients = [Client("ws", None, limits, counters, no_replay) for _ in range(3)]
    for client in clients[:2]:
        client.views["NIFTY"] = SeedView("NIFTY 50", 256265)
    at = T0.isoformat()
    tick = Outgoing({"type": "tick", "symbol": "NIFTY", "ltp": 26150.05, "bid": 26150.05,
                     "ask": 26150.05, "volume": 0.0, "oi": None, "change": 12.5,
                     "timestamp": at})  # fmt: skip
    first, second, plain = (frame_for(client, tick) for client in clients)
    assert first is second and plain is frame_of(tick) and first != plain
    assert json.loads(text_for(clients[0], tick))["data"]["timestamp"] == int(T0.timestamp() * 1000)
    assert text_for(clients[2], tick) == tick.text()


#: The base URL the frontend is built with to get its own backend's shapes
#: (``NEXT_PUBLIC_API_URL=http://<tradepit>/paper-tournaments``).
SEED = "/paper-tournaments"


async def signed_up_at_seed(client: httpx.AsyncClient) -> Headers:
    """``authService`` through the prefix: sign-up, login and ``me`` answer as at the root."""
    name = unique_name("pt")
    body = {"email": f"{name}@example.com", "username": name, "password": "SecurePass123"}
    assert (await client.post(f"{SEED}/api/auth/signup", json=body)).status_code == 201
    login = {"email": body["email"], "password": body["password"]}
    answer = await client.post(f"{SEED}/api/auth/login", json=login)
    assert answer.status_code == 200, answer.text
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    assert (await client.get(f"{SEED}/api/auth/me", headers=headers)).json()["username"] == name
    return headers


def fno_pnl(position: dict[str, Any]) -> float:
    """``PositionsTable.calculatePnL`` for CE/PE/FUT: (LTP - average) * multiplier * sign."""
    ltp = position["ltp"] or position["current_price"] or position["average_price"]
    sign = (position["quantity"] > 0) - (position["quantity"] < 0)
    return float((ltp - position["average_price"]) * position["multiplier"] * sign)


class TestTheSeedsShapes:
    """Under ``/paper-tournaments`` orders and positions are what its backend answered and its
    frontend reads: JSON numbers (``pages/orders.tsx``: ``order.price.toFixed(2)``), upper-case
    statuses (``OrdersHistory``: the Cancel button for ``PENDING`` / ``OPEN``, colours for
    ``FILLED`` / ``CANCELLED``), a ``multiplier`` the positions table's F&O formula turns into
    the position's P&L. At the root the same orders keep Tradepit's shapes."""

    async def test_tournaments_carry_their_money_in_numbers(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """``TournamentCard``: ``formatCurrency(prize_pool)`` groups a number (₹1,000.00); a
        string would show as it is."""
        alice = await signed_up(client)
        tournament_id, _ = await running_tournament(app, client, alice)
        listed = await client.get(f"{SEED}/api/tournaments/", headers=alice)
        one = await client.get(f"{SEED}/api/tournaments/{tournament_id}", headers=alice)
        at_root = await client.get(f"/api/tournaments/{tournament_id}", headers=alice)
        assert listed.status_code == one.status_code == at_root.status_code == 200
        card = next(t for t in listed.json() if t["id"] == tournament_id)
        assert card == one.json()
        assert (card["prize_pool"], card["entry_fee"], card["starting_capital"]) == (
            1000,
            100,
            1000000,
        )
        assert card["prize_split"] == [60, 40]
        assert all(is_number(card[k]) for k in ("prize_pool", "entry_fee", "starting_capital"))
        assert card["status"] == "running" and card["start_date"] == card["start_time"]
        root = at_root.json()  # Tradepit's own shape: decimal strings
        assert (root["prize_pool"], root["entry_fee"], root["prize_split"]) == (
            "1000",
            "100",
            ["60", "40"],
        )

    async def test_orders_placed_listed_and_cancelled(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        headers = await signed_up_at_seed(client)
        level = app.state.wiring.market.tick("NIFTY").ltp
        panel = {
            "symbol": "NIFTY 50",
            "instrument_type": "INDEX",
            "order_type": "LIMIT",
            "order_side": "BUY",
            "quantity": 2,
            "price": float(level - 100),
            "stop_loss": float(level - 300),
            "take_profit": float(level + 200),
        }
        placed = await client.post(f"{SEED}/api/paper-trading/orders", json=panel, headers=headers)
        assert placed.status_code == 201, placed.text
        rest = placed.json()
        assert rest["status"] == "OPEN" and rest["instrument_type"] == "INDEX"
        assert rest["price"] == float(level - 100) and is_number(rest["quantity"])
        assert (rest["stop_loss"], rest["take_profit"]) == (float(level - 300), float(level + 200))
        assert rest["executed_price"] is None and rest["executed_at"] is None
        modal = {**README_ORDER, "side": "BUY", "product": "MIS"}
        del modal["order_side"]
        bought = await client.post(f"{SEED}/api/paper-trading/orders", json=modal, headers=headers)
        filled = bought.json()
        assert bought.status_code == 201 and filled["status"] == "FILLED"
        assert filled["price"] is None  # a MARKET order: the orders page shows '-'
        assert filled["average_price"] == filled["executed_price"] == float(level + Decimal("0.05"))
        assert filled["filled_quantity"] == filled["executed_quantity"] == filled["quantity"] == 1
        assert is_number(filled["charges"]) and filled["executed_at"] == filled["updated_at"]
        # getOrders: a bare list, newest first, X-Total-Count kept.
        listed = await client.get(f"{SEED}/api/paper-trading/orders", headers=headers)
        assert [(o["id"], o["status"]) for o in listed.json()] == [
            (filled["id"], "FILLED"),
            (rest["id"], "OPEN"),
        ]
        assert listed.headers["X-Total-Count"] == "2"
        one = await client.get(f"{SEED}/api/paper-trading/orders/{filled['id']}", headers=headers)
        [fill] = one.json()["fills"]
        assert fill["price"] == filled["average_price"] and fill["quantity"] == 1
        # The same orders at the root: Tradepit's exact strings and its status names.
        root = (await client.get("/api/paper-trading/orders", headers=headers)).json()
        assert [(o["status"], o["price"]) for o in root] == [
            ("filled", None),
            ("open", str(level - 100)),
        ]
        # OrdersHistory's Cancel button: POST .../cancel, then it reloads the list.
        url = f"{SEED}/api/paper-trading/orders/{rest['id']}/cancel"
        cancelled = await client.post(url, headers=headers)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
        again = await client.post(url, headers=headers)  # errors keep their shape
        assert again.status_code == 409 and again.json()["code"] == "ORDER_STATE"
        assert again.json()["detail"]

    async def test_an_after_market_order_is_pending(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        headers = await signed_up_at_seed(client)
        clock: ManualClock = app.state.wiring.clock
        clock.advance(timedelta(hours=5))  # 17:00 IST: NSE is closed
        placed = await client.post(
            f"{SEED}/api/paper-trading/orders", json=README_ORDER, headers=headers
        )
        assert placed.status_code == 201, placed.text
        assert placed.json()["status"] == "PENDING"  # cancellable, as the frontend shows it
        url = f"/api/paper-trading/orders/{placed.json()['id']}"
        assert (await client.get(url, headers=headers)).json()["status"] == "amo"

    async def test_option_positions_show_their_whole_pnl(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        headers = await signed_up_at_seed(client)
        chain = await client.get(f"{SEED}/api/candles/options-chain/NIFTY", headers=headers)
        # An out-of-the-money call: 3 lots of it fit the starting cash.
        calls = [o for o in chain.json()["ce_options"] if 20 < o["ltp"] < 200]
        symbol = calls[0]["tradingsymbol"]
        lot = app.state.wiring.market.instrument(symbol).lot_size
        # SimpleOrderModal: 3 lots, quantity = lots * lotSize.
        order = {"symbol": symbol, "instrument_type": "CE", "order_type": "MARKET",
                 "side": "BUY", "quantity": int(3 * lot), "product": "MIS"}  # fmt: skip
        placed = await client.post(f"{SEED}/api/paper-trading/orders", json=order, headers=headers)
        assert placed.status_code == 201, placed.text
        assert placed.json()["instrument_type"] == "CE"
        [row] = (await client.get(f"{SEED}/api/paper-trading/positions", headers=headers)).json()
        assert row["tradingsymbol"] == symbol and row["instrument_type"] == "CE"
        assert row["quantity"] == 3 * lot and row["lot_size"] == lot
        assert row["contract_size"] == 1 and row["multiplier"] == 3 * lot
        for key in ("average_price", "ltp", "current_price", "pnl", "realized_pnl", "charges"):
            assert is_number(row[key]), key
        assert "day_change_percentage" not in row  # the table shows it only when defined
        # The table's own F&O formula gives the position's P&L, not one lot's or one unit's.
        root = (await client.get("/api/paper-trading/positions", headers=headers)).json()[0]
        assert fno_pnl(row) == pytest.approx(float(root["unrealized_pnl"]), abs=0.01)
        assert root["multiplier"] == "1" and root["quantity"] == str(3 * lot)
        closed = await client.post(
            f"{SEED}/api/paper-trading/positions/{row['id']}/close", headers=headers
        )
        assert closed.status_code == 200, closed.text
        assert (closed.json()["order_side"], closed.json()["status"]) == ("SELL", "FILLED")
        # The seed's lists hold open positions only; the root keeps the closed one's P&L.
        assert (
            await client.get(f"{SEED}/api/paper-trading/positions", headers=headers)
        ).json() == []
        [flat] = (await client.get("/api/paper-trading/positions", headers=headers)).json()
        assert flat["quantity"] == "0" and Decimal(flat["realized_pnl"]) != 0

    async def test_tournament_trading(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        alice = await signed_up_at_seed(client)
        tournament_id, _ = await running_tournament(app, client, alice)
        base = f"{SEED}/api/tournaments/{tournament_id}"
        level = app.state.wiring.market.tick("NIFTY").ltp
        limit = {**README_ORDER, "order_type": "LIMIT", "price": float(level - 100)}
        rest = await client.post(f"{base}/orders", json=limit, headers=alice)
        assert rest.status_code == 201, rest.text
        assert rest.json()["status"] == "OPEN" and rest.json()["tournament_id"] == tournament_id
        filled = await client.post(f"{base}/orders", json=README_ORDER, headers=alice)
        assert filled.json()["status"] == "FILLED" and is_number(filled.json()["average_price"])
        orders = await client.get(f"{base}/orders", headers=alice)
        assert [o["status"] for o in orders.json()] == ["FILLED", "OPEN"]
        assert orders.headers["X-Total-Count"] == "2"
        cancel = await client.delete(f"{base}/orders/{rest.json()['id']}", headers=alice)
        assert cancel.status_code == 200 and cancel.json()["status"] == "CANCELLED"
        [position] = (await client.get(f"{base}/positions", headers=alice)).json()
        assert position["quantity"] == 1 and position["tournament_id"] == tournament_id
        assert is_number(position["unrealized_pnl"]) and position["multiplier"] == 1
        assert position["lot_size"] == 1  # an index contract trades in single units
        closed = await client.delete(f"{base}/positions/{position['id']}", headers=alice)
        assert closed.status_code == 200 and closed.json()["status"] == "FILLED"
        # The routes that already answered numbers answer as at the root.
        pnl = (await client.get(f"{base}/pnl", headers=alice)).json()
        assert pnl == (await client.get(f"/api/tournaments/{tournament_id}/pnl",
                                        headers=alice)).json()  # fmt: skip

    async def test_the_prefix_is_only_a_prefix(self, client: httpx.AsyncClient) -> None:
        assert (await client.get(f"{SEED}/api/paper-trading/orders")).status_code == 401
        unknown = await client.get("/paper-tournamentsX/api/paper-trading/orders")
        assert unknown.status_code == 404
        assert (await client.get(f"{SEED}/health")).status_code == 200
