"""The native WebSocket ``/ws`` with a real ``websockets`` client against a running server."""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import app_at, client_for
from tests.factories import user_with_token
from tests.realtime.conftest import live_app, receive, receive_until, user_token, ws_url
from tradepit.domain.clock import ManualClock, SimulatedClock
from tradepit.market.simulated_feed import WALL_INTERVAL
from tradepit.services.realtime import STATUS_EVERY

ORDERS = "/api/paper-trading/orders"
BUY_ITC = {"symbol": "ITC", "order_type": "MARKET", "order_side": "BUY", "quantity": "1",
           "product": "CNC"}  # fmt: skip
#: 04:05 IST on Wednesday 2026-11-25 (22:35 UTC on Tuesday): NSE is closed.
NIGHT = datetime(2026, 11, 24, 22, 35, tzinfo=UTC)


async def closed_with(ws: ClientConnection) -> tuple[int | None, str | None]:
    """Read until the server closes; return its close code and reason."""
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code is not None
    return ws.close_code, ws.close_reason


async def private_until_balance(ws: ClientConnection) -> list[dict[str, Any]]:
    """Return the private messages up to and including the next balance."""
    balance, before = await receive_until(ws, "balance")
    return [m for m in [*before, balance] if m["type"] in {"order", "position", "balance"}]


class TestAuthentication:
    async def test_a_token_in_the_query_connects(self, live: str, http: httpx.AsyncClient) -> None:
        user, token = await user_token(http)
        async with connect(ws_url(live, token=token)) as ws:
            hello = await receive(ws)
        assert hello == {"type": "connected", "user_id": user["id"],
                         "username": user["username"], "last_seq": 0}  # fmt: skip

    async def test_the_token_may_come_as_the_first_message(
        self, live: str, http: httpx.AsyncClient
    ) -> None:
        user, token = await user_token(http)
        async with connect(ws_url(live)) as ws:
            await ws.send(json.dumps({"type": "auth", "token": token}))
            assert (await receive(ws))["user_id"] == user["id"]

    async def test_an_api_key_connects(self, live: str, http: httpx.AsyncClient) -> None:
        user, token = await user_token(http)
        headers = {"Authorization": f"Bearer {token}"}
        key = (await http.post("/api/auth/api-keys", json={"name": "ws"}, headers=headers)).json()
        async with connect(ws_url(live, api_key=key["key"])) as ws:
            assert (await receive(ws))["user_id"] == user["id"]

    async def test_a_revoked_token_is_refused_with_4401(
        self, live: str, http: httpx.AsyncClient
    ) -> None:
        _, token = await user_token(http)
        logout = await http.post("/api/logout", headers={"Authorization": f"Bearer {token}"})
        assert logout.status_code == 200
        async with connect(ws_url(live, token=token)) as ws:
            assert await closed_with(ws) == (4401, "token revoked")

    @pytest.mark.parametrize("token", ["garbage", "tp_not-a-key"])
    async def test_an_invalid_credential_is_refused_with_4401(self, live: str, token: str) -> None:
        async with connect(ws_url(live, token=token)) as ws:
            code, reason = await closed_with(ws)
        assert code == 4401
        assert reason

    async def test_a_first_message_without_a_token_is_refused(self, live: str) -> None:
        async with connect(ws_url(live)) as ws:
            await ws.send(json.dumps({"type": "subscribe", "symbol": "NIFTY 50"}))
            code, _ = await closed_with(ws)
        assert code == 4401


class TestTicks:
    async def test_a_subscription_receives_ticks_within_one_tick_interval(
        self, live: str, http: httpx.AsyncClient
    ) -> None:
        _, token = await user_token(http)
        async with connect(ws_url(live, token=token)) as ws:
            await receive(ws)
            await ws.send(json.dumps({"type": "subscribe", "symbol": "nifty 50"}))
            subscribed, _ = await receive_until(ws, "subscribed")
            assert subscribed["symbols"] == ["NIFTY"]  # the seed's "NIFTY 50" is an alias
            loop = asyncio.get_running_loop()
            ticks: list[tuple[float, dict[str, Any]]] = []
            while len(ticks) < 16:
                message = await receive(ws)
                if message["type"] == "tick":
                    ticks.append((loop.time(), message))
        assert {t["symbol"] for _, t in ticks} == {"NIFTY"}
        assert set(ticks[0][1]) >= {"symbol", "ltp", "bid", "ask", "volume", "oi", "change",
                                    "timestamp"}  # fmt: skip
        stamps = [datetime.fromisoformat(t["timestamp"]) for _, t in ticks]
        assert stamps == sorted(set(stamps))
        # Between live ticks (the first is the price at subscription): one feed interval, with
        # the median so that a loaded machine's scheduling hiccup does not decide.
        gaps = [b - a for (a, _), (b, _) in itertools.pairwise(ticks[1:])]
        assert statistics.median(gaps) < WALL_INTERVAL * 1.5

    async def test_unsubscribe_stops_the_ticks(self, live: str, http: httpx.AsyncClient) -> None:
        _, token = await user_token(http)
        async with connect(ws_url(live, token=token)) as ws:
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["ITC", "SBIN"]}))
            await receive_until(ws, "tick")
            await ws.send(json.dumps({"type": "unsubscribe", "symbols": ["ITC", "SBIN"]}))
            unsubscribed, _ = await receive_until(ws, "unsubscribed")
            assert unsubscribed["symbols"] == ["ITC", "SBIN"]
            await asyncio.sleep(WALL_INTERVAL * 3)
            await ws.send(json.dumps({"type": "ping"}))
            _, between = await receive_until(ws, "pong")
        assert [m for m in between if m["type"] == "tick"] == []


class TestPrivateEvents:
    async def test_a_user_receives_their_own_fills_and_never_another_users(
        self, live: str, http: httpx.AsyncClient
    ) -> None:
        _, my_token = await user_token(http)
        _, their_token = await user_token(http)
        async with (
            connect(ws_url(live, token=my_token)) as mine,
            connect(ws_url(live, token=their_token)) as theirs,
        ):
            await receive(mine)
            await receive(theirs)
            headers = {"Authorization": f"Bearer {my_token}"}
            placed = await http.post(ORDERS, json=BUY_ITC, headers=headers)
            assert placed.status_code == 201
            events = await private_until_balance(mine)
            await theirs.send(json.dumps({"type": "ping"}))
            _, theirs_before_pong = await receive_until(theirs, "pong")
        assert [(m["type"], m.get("event")) for m in events] == [
            ("order", "new"), ("order", "fill"), ("position", None), ("balance", None)
        ]  # fmt: skip
        assert [m["seq"] for m in events] == [1, 2, 3, 4]
        assert events[1]["order"]["id"] == placed.json()["id"]
        assert theirs_before_pong == []

    async def test_reconnecting_with_last_seq_gets_what_was_missed_once(
        self, live: str, http: httpx.AsyncClient
    ) -> None:
        _, token = await user_token(http)
        headers = {"Authorization": f"Bearer {token}"}
        async with connect(ws_url(live, token=token)) as ws:
            await receive(ws)
            await http.post(ORDERS, json=BUY_ITC, headers=headers)
            first = await private_until_balance(ws)
        last_seq = first[-1]["seq"]
        await http.post(ORDERS, json=BUY_ITC, headers=headers)  # while disconnected
        await asyncio.sleep(0.2)
        async with connect(ws_url(live, token=token, last_seq=str(last_seq))) as ws:
            hello = await receive(ws)
            missed = await private_until_balance(ws)
            await http.post(ORDERS, json=BUY_ITC, headers=headers)
            live_events = await private_until_balance(ws)
        assert hello["last_seq"] == 8
        assert [m["seq"] for m in first] == [1, 2, 3, 4]
        assert [m["seq"] for m in missed] == [5, 6, 7, 8]
        assert [m["seq"] for m in live_events] == [9, 10, 11, 12]


class TestMessages:
    async def test_bad_messages_get_an_error_and_the_connection_stays_up(
        self, live: str, http: httpx.AsyncClient
    ) -> None:
        _, token = await user_token(http)
        async with connect(ws_url(live, token=token)) as ws:
            await receive(ws)
            errors = []
            for bad in ["not json", "[1]", '{"type": "dance"}', '{"type": "subscribe"}',
                        '{"type": "subscribe", "symbol": "NOPE"}']:  # fmt: skip
                await ws.send(bad)
                errors.append((await receive_until(ws, "error"))[0]["code"])
            await ws.send(json.dumps({"type": "ping"}))
            pong, _ = await receive_until(ws, "pong")
        assert errors[:4] == ["BAD_MESSAGE"] * 4
        assert errors[4] != "BAD_MESSAGE"
        assert "timestamp" in pong


class TestLimits:
    async def test_too_many_subscriptions_get_an_error_then_a_close(
        self, tmp_path: Path, db: str
    ) -> None:
        async with (
            live_app(tmp_path / "data", db, ws_max_subscriptions=2) as address,
            httpx.AsyncClient(base_url=f"http://{address}") as http,
        ):
            _, token = await user_token(http)
            async with connect(ws_url(address, token=token)) as ws:
                await ws.send(json.dumps({"type": "subscribe", "symbols": ["ITC", "SBIN", "LT"]}))
                error, _ = await receive_until(ws, "error")
                code, _ = await closed_with(ws)
        assert error["code"] == "TOO_MANY_SUBSCRIPTIONS"
        assert code == 1008

    async def test_a_message_too_large_gets_an_error_then_a_close(
        self, live: str, http: httpx.AsyncClient
    ) -> None:
        _, token = await user_token(http)
        async with connect(ws_url(live, token=token)) as ws:
            await ws.send(json.dumps({"type": "ping", "pad": "x" * 5000}))
            error, _ = await receive_until(ws, "error")
            code, _ = await closed_with(ws)
        assert (error["code"], code) == ("MESSAGE_TOO_LARGE", 1009)

    async def test_too_many_messages_get_an_error_then_a_close(
        self, tmp_path: Path, db: str
    ) -> None:
        async with (
            live_app(tmp_path / "data", db, ws_messages_per_second=5) as address,
            httpx.AsyncClient(base_url=f"http://{address}") as http,
        ):
            _, token = await user_token(http)
            async with connect(ws_url(address, token=token)) as ws:
                for _ in range(10):
                    await ws.send(json.dumps({"type": "ping"}))
                error, _ = await receive_until(ws, "error")
                code, _ = await closed_with(ws)
        assert (error["code"], code) == ("RATE_LIMITED", 1008)

    async def test_a_repeated_subscribe_is_neither_answered_nor_counted(
        self, tmp_path: Path, db: str
    ) -> None:
        """paper-tournaments' frontend re-sends its subscriptions on every render: the same
        subscribe again changes nothing, so it costs no answer and no share of the rate."""
        subscribe = json.dumps(
            {"type": "subscribe", "symbol": "NIFTY 50", "instrument_token": 256265}
        )
        async with (
            live_app(tmp_path / "data", db, ws_messages_per_second=5) as address,
            httpx.AsyncClient(base_url=f"http://{address}") as http,
        ):
            _, token = await user_token(http)
            async with connect(ws_url(address, token=token)) as ws:
                for _ in range(50):
                    await ws.send(subscribe)
                await ws.send(json.dumps({"type": "ping"}))
                _, before = await receive_until(ws, "pong")
                answers = [m for m in before if m["type"] in ("subscribed", "error")]
                assert [m["type"] for m in answers] == ["subscribed"]
                await receive_until(ws, "tick")  # the stream goes on
                await ws.send(json.dumps({"type": "unsubscribe", "symbol": "NIFTY 50"}))
                await receive_until(ws, "unsubscribed")
                await ws.send(subscribe)  # after an unsubscribe it changes something again
                again, _ = await receive_until(ws, "subscribed")
        assert again["symbols"] == ["NIFTY"]

    async def test_connections_beyond_the_maximum_are_refused(
        self, tmp_path: Path, db: str
    ) -> None:
        async with (
            live_app(tmp_path / "data", db, ws_max_connections=1) as address,
            httpx.AsyncClient(base_url=f"http://{address}") as http,
        ):
            _, token = await user_token(http)
            async with connect(ws_url(address, token=token)) as first:
                await receive(first)
                async with connect(ws_url(address, token=token)) as second:
                    error = await receive(second)
                    code, _ = await closed_with(second)
        assert (error["code"], code) == ("TOO_MANY_CONNECTIONS", 1013)


async def test_logging_out_closes_open_connections_with_4401(tmp_path: Path, db: str) -> None:
    async with (
        live_app(tmp_path / "data", db, ws_recheck_seconds=0.2) as address,
        httpx.AsyncClient(base_url=f"http://{address}") as http,
    ):
        _, token = await user_token(http)
        async with connect(ws_url(address, token=token)) as ws:
            await receive(ws)
            await http.post("/api/logout", headers={"Authorization": f"Bearer {token}"})
            assert await closed_with(ws) == (4401, "token revoked")


async def test_a_phase_change_is_announced_as_market_status(tmp_path: Path, db: str) -> None:
    before_open = datetime(2026, 11, 26, 3, 44, 58, tzinfo=UTC)  # 09:14:58 IST, a Thursday
    clock = ManualClock(before_open)
    async with (
        live_app(tmp_path / "data", db, clock=clock, market_hours="exchange") as address,
        httpx.AsyncClient(base_url=f"http://{address}") as http,
    ):
        _, token = await user_token(http)
        async with connect(ws_url(address, token=token)) as ws:
            await receive(ws)
            await asyncio.sleep(STATUS_EVERY * 1.5)  # the watcher has seen the pre-open
            clock.advance(timedelta(seconds=5))
            status, _ = await receive_until(ws, "market_status", within=STATUS_EVERY * 3)
    nse = next(v for v in status["venues"] if v["venue"] == "NSE")
    assert (status["status"], status["is_open"], nse["phase"]) == ("open", True, "open")


class TestMarketHoursAlways:
    """A new user at 04:05 IST with ``TRADEPIT_MARKET_HOURS=always``: NSE ticks, orders fill."""

    async def test_nifty_ticks_at_night(self, tmp_path: Path, db: str) -> None:
        async with (
            live_app(tmp_path / "data", db, clock=SimulatedClock(1, start=NIGHT)) as address,
            httpx.AsyncClient(base_url=f"http://{address}") as http,
        ):
            _, token = await user_token(http)
            async with connect(ws_url(address, token=token)) as ws:
                await ws.send(json.dumps({"type": "subscribe", "symbol": "NIFTY"}))
                ticks: list[dict[str, Any]] = []
                while len(ticks) < 12:
                    message = await receive(ws)
                    if message["type"] == "tick":
                        ticks.append(message)
        stamps = [datetime.fromisoformat(t["timestamp"]) for t in ticks[1:]]
        assert all(NIGHT <= at < NIGHT + timedelta(minutes=1) for at in stamps)
        assert len({t["ltp"] for t in ticks}) >= 3

    async def test_under_exchange_hours_nifty_is_silent_at_night(
        self, tmp_path: Path, db: str
    ) -> None:
        clock = SimulatedClock(1, start=NIGHT)
        async with (
            live_app(tmp_path / "data", db, clock=clock, market_hours="exchange") as address,
            httpx.AsyncClient(base_url=f"http://{address}") as http,
        ):
            _, token = await user_token(http)
            async with connect(ws_url(address, token=token)) as ws:
                await ws.send(json.dumps({"type": "subscribe", "symbol": "NIFTY"}))
                await receive_until(ws, "subscribed")
                await asyncio.sleep(WALL_INTERVAL * 6)
                await ws.send(json.dumps({"type": "ping"}))
                _, between = await receive_until(ws, "pong")
        # At most the price at subscription, never a live tick.
        assert len([m for m in between if m["type"] == "tick"]) <= 1

    async def test_an_amo_fills_once_the_server_restarts_under_always(
        self, tmp_path: Path, db: str
    ) -> None:
        data = tmp_path / "data"
        async with (
            app_at(data, db, ManualClock(NIGHT)) as exchange,
            client_for(exchange) as client,
        ):
            _, headers = await user_with_token(client)
            placed = (
                await client.post(ORDERS, json={**BUY_ITC, "symbol": "RELIANCE"}, headers=headers)
            ).json()
        assert placed["status"] == "amo"
        restart = SimulatedClock(1, start=NIGHT + timedelta(minutes=1))
        async with (
            live_app(data, db, clock=restart) as address,
            httpx.AsyncClient(base_url=f"http://{address}", headers=headers) as http,
        ):
            order: dict[str, Any] = {}
            for _ in range(50):
                order = (await http.get(f"{ORDERS}/{placed['id']}")).json()
                if order["status"] != "amo":
                    break
                await asyncio.sleep(0.1)
        assert order["status"] == "filled", order
        filled_at = datetime.fromisoformat(order["fills"][0]["at"])
        assert NIGHT + timedelta(minutes=1) <= filled_at < NIGHT + timedelta(minutes=1, seconds=6)
