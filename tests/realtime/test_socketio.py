"""Socket.IO ``/socket.io`` with python-socketio's AsyncClient against a running server."""

from __future__ import annotations

import asyncio
import itertools
import statistics
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio

from tests.factories import PASSWORD, unique_name
from tests.realtime.conftest import live_app, user_token
from tradepit.market.simulated_feed import WALL_INTERVAL

EVENTS = ["connection_status", "symbol_update", "option_chain_data", "dashboard_data",
          "balance_update", "bet_result", "market_status", "pong", "error"]  # fmt: skip


class Received:
    """Every event a client received, by name."""

    def __init__(self, client: socketio.AsyncClient) -> None:
        self.queues: dict[str, asyncio.Queue[Any]] = {e: asyncio.Queue() for e in EVENTS}
        for event in EVENTS:
            client.on(event, self.queues[event].put)

    async def next(self, event: str, within: float = 5.0) -> Any:
        """Return the next payload of ``event``."""
        return await asyncio.wait_for(self.queues[event].get(), within)

    def pending(self, event: str) -> int:
        """Return how many payloads of ``event`` are waiting."""
        return self.queues[event].qsize()


@asynccontextmanager
async def sio_client(
    address: str, token: str | None = None, **extra: object
) -> AsyncIterator[tuple[socketio.AsyncClient, Received]]:
    """Connect over the websocket transport; yield the client and what it receives."""
    client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
    received = Received(client)
    auth = {"token": token, **extra} if token else None
    await client.connect(f"http://{address}", auth=auth, transports=["websocket"], wait_timeout=5)
    try:
        yield client, received
    finally:
        await client.disconnect()


class TestConnection:
    async def test_connect_with_a_token_announces_the_connection(
        self, live: str, http: httpx.AsyncClient
    ) -> None:
        user, token = await user_token(http)
        async with sio_client(live, token) as (_, received):
            status = await received.next("connection_status")
        assert status["status"] == "connected"
        assert status["authenticated"] is True
        assert status["username"] == user["username"]

    async def test_an_invalid_token_is_refused(self, live: str) -> None:
        with pytest.raises(socketio.exceptions.ConnectionError):
            async with sio_client(live, "garbage"):
                pass

    async def test_market_data_needs_no_login_but_private_data_does(
        self, live: str, http: httpx.AsyncClient
    ) -> None:
        user, _ = await user_token(http)
        async with sio_client(live) as (client, received):
            assert (await received.next("connection_status"))["authenticated"] is False
            await client.emit("request_balance", {"telegram_username": user["username"]})
            error = await received.next("error")
        assert error["code"] == "NOT_AUTHENTICATED"

    async def test_an_operator_can_require_a_login_for_market_data(
        self, tmp_path: Path, db: str
    ) -> None:
        async with live_app(tmp_path / "data", db, ws_public_market_data=False) as address:
            with pytest.raises(socketio.exceptions.ConnectionError):
                async with sio_client(address):
                    pass


class TestMarketData:
    async def test_subscribe_symbol_streams_symbol_updates(self, live: str) -> None:
        async with sio_client(live) as (client, received):
            ack = await client.call("subscribe_symbol", {"symbol": "NIFTY"}, timeout=5)
            first = await received.next("symbol_update")  # the latest price, at once
            await received.next("symbol_update")
            loop = asyncio.get_running_loop()
            arrivals = []
            for _ in range(8):
                second = await received.next("symbol_update")
                arrivals.append(loop.time())
        assert ack == {"success": True, "symbol": "NIFTY"}
        assert first["symbol"] == second["symbol"] == "NIFTY"
        assert {"ltp", "bid", "ask", "change", "timestamp"} <= set(second)
        gaps = [b - a for a, b in itertools.pairwise(arrivals)]
        assert statistics.median(gaps) < WALL_INTERVAL * 1.5

    async def test_unsubscribe_symbol_stops_the_updates(self, live: str) -> None:
        async with sio_client(live) as (client, received):
            await client.call("subscribe_symbol", {"symbol": "ITC"}, timeout=5)
            await received.next("symbol_update")
            await client.call("unsubscribe_symbol", {"symbol": "ITC"}, timeout=5)
            await asyncio.sleep(WALL_INTERVAL)
            while received.pending("symbol_update"):
                await received.next("symbol_update")
            await asyncio.sleep(WALL_INTERVAL * 3)
            assert received.pending("symbol_update") == 0

    async def test_option_chain_and_dashboard_data(self, live: str) -> None:
        async with sio_client(live) as (client, received):
            await client.emit("get_option_chain", {"symbol": "NIFTY"})
            chain = await received.next("option_chain_data")
            await client.emit("get_dashboard_data", {"symbol": "NIFTY"})
            dashboard = await received.next("dashboard_data")
        assert chain["symbol"] == dashboard["symbol"] == "NIFTY"
        assert "pcr_oi" in dashboard
        assert "max_pain" in dashboard

    async def test_bad_requests_get_an_error(self, live: str) -> None:
        async with sio_client(live) as (client, received):
            await client.emit("get_option_chain", {"symbol": "NIFTY", "expiry": "soon"})
            bad_expiry = await received.next("error")
            await client.emit("subscribe_symbol", {"symbol": "NOPE"})
            unknown = await received.next("error")
            await client.emit("get_dashboard_data", {})
            missing = await received.next("error")
            await client.emit("ping")
            pong = await received.next("pong")
        assert bad_expiry["code"] == missing["code"] == "VALIDATION_ERROR"
        assert unknown["code"] != "VALIDATION_ERROR"
        assert "timestamp" in pong


class TestBalance:
    async def test_request_balance_answers_my_balance_and_refuses_anothers(
        self, tmp_path: Path, db: str
    ) -> None:
        async with (
            live_app(tmp_path / "data", db, starting_balance_usdt="250") as address,
            httpx.AsyncClient(base_url=f"http://{address}") as http,
        ):
            me, token = await user_token(http)
            someone, _ = await user_token(http)
            async with sio_client(address, token) as (client, received):
                await client.emit("request_balance", {"telegram_username": me["username"]})
                mine = await received.next("balance_update")
                await client.emit("request_balance", {"telegram_username": someone["username"]})
                refused = await received.next("error")
        assert mine == {"telegram_username": me["username"], "balance": 250.0}
        assert refused["code"] == "FORBIDDEN"
        assert received.pending("balance_update") == 0

    async def test_a_trade_pushes_the_new_balance(self, tmp_path: Path, db: str) -> None:
        async with (
            live_app(tmp_path / "data", db, starting_balance_usdt="100000") as address,
            httpx.AsyncClient(base_url=f"http://{address}") as http,
        ):
            me, token = await user_token(http)
            async with sio_client(address, token) as (_, received):
                await received.next("connection_status")
                body = {"symbol": "BTC-USDT", "order_type": "MARKET", "order_side": "BUY",
                        "quantity": "0.01", "product": "CNC"}  # fmt: skip
                headers = {"Authorization": f"Bearer {token}"}
                placed = await http.post("/api/paper-trading/orders", json=body, headers=headers)
                assert placed.status_code == 201, placed.text
                pushed = await received.next("balance_update")
            wallet = (await http.get("/api/paper-trading/wallet", headers=headers)).json()
        usdt = next(w for w in wallet if w["currency"] == "USDT")
        assert pushed == {"telegram_username": me["username"], "balance": float(usdt["cash"]),
                      "seq": pushed["seq"]}  # fmt: skip
        assert pushed["balance"] < 100000

    async def test_a_bet_pushes_its_balance_and_then_its_result(
        self, tmp_path: Path, db: str
    ) -> None:
        # A simulated minute lasts a wall second: the one-minute bet resolves at once.
        async with (
            live_app(tmp_path / "data", db, starting_balance_usdt="100", clock_speed=60) as address,
            httpx.AsyncClient(base_url=f"http://{address}") as http,
        ):
            me, token = await user_token(http)
            headers = {"Authorization": f"Bearer {token}"}
            async with sio_client(address, token) as (_, received):
                await received.next("connection_status")
                body = {"telegram": me["username"], "amount": 10, "direction": "long", "time": 1}
                placed = await http.post("/api/bet", json=body, headers=headers)
                assert placed.status_code == 201, placed.text
                staked = await received.next("balance_update")
                result = await received.next("bet_result", within=15)
                settled = await received.next("balance_update", within=5)
            balance = (await http.get(f"/api/balance/{me['username']}", headers=headers)).json()
        assert staked == {
            "telegram_username": me["username"],
            "balance": 90.0,
            "seq": staked["seq"],
        }
        assert result["telegram_username"] == me["username"]
        assert result["result"] in {"won", "lost", "refunded"}
        assert result["bet"]["id"] == placed.json()["id"]
        expected = {"won": 90 + 18.0, "lost": 90.0, "refunded": 100.0}[result["result"]]
        assert result["balance"] == settled["balance"] == expected
        assert float(balance["balance"]) == expected


async def test_reconnecting_with_last_seq_delivers_what_was_missed(tmp_path: Path, db: str) -> None:
    async with (
        live_app(tmp_path / "data", db, starting_balance_usdt="100000") as address,
        httpx.AsyncClient(base_url=f"http://{address}") as http,
    ):
        me, token = await user_token(http)
        headers = {"Authorization": f"Bearer {token}"}
        body = {"symbol": "BTC-USDT", "order_type": "MARKET", "order_side": "BUY",
                "quantity": "0.01", "product": "CNC"}  # fmt: skip
        async with sio_client(address, token) as (_, received):
            await received.next("connection_status")
            assert (
                await http.post("/api/paper-trading/orders", json=body, headers=headers)
            ).is_success
            seen = await received.next("balance_update")
        # Disconnected: another trade happens.
        assert (await http.post("/api/paper-trading/orders", json=body, headers=headers)).is_success
        wallet = (await http.get("/api/paper-trading/wallet", headers=headers)).json()
        async with sio_client(address, token, last_seq=seen["seq"]) as (_, received):
            missed = await received.next("balance_update")
            await asyncio.sleep(0.3)
            again = received.pending("balance_update")
    usdt = next(w for w in wallet if w["currency"] == "USDT")
    assert missed["seq"] > seen["seq"]
    assert missed == {"telegram_username": me["username"], "balance": float(usdt["cash"]),
                      "seq": missed["seq"]}  # fmt: skip
    assert again == 0  # nothing twice


async def test_logging_out_disconnects_socketio_clients(tmp_path: Path, db: str) -> None:
    async with (
        live_app(tmp_path / "data", db, ws_recheck_seconds=0.2) as address,
        httpx.AsyncClient(base_url=f"http://{address}") as http,
    ):
        _, token = await user_token(http)
        async with sio_client(address, token) as (client, received):
            await received.next("connection_status")
            await http.post("/api/logout", headers={"Authorization": f"Bearer {token}"})
            error = await received.next("error")
            await asyncio.sleep(0.3)
            connected = client.connected
    assert error == {"code": "INVALID_TOKEN", "message": "token revoked"}
    assert connected is False


class TestOkxBetsPage:
    """okx-bets' index.html: ``io()`` on the page's own origin with no auth payload (the
    login's session cookie goes with the handshake), then ``request_balance
    {telegram_username}`` on connect and ``balance_update`` read for its own name."""

    @staticmethod
    async def log_in(http: httpx.AsyncClient) -> tuple[str, str]:
        """login.html: register and log in with the telegram handle; return it and the
        session cookie the login set."""
        name = unique_name("okx")
        body = {"telegram": name, "email": f"{name}@example.com", "password": PASSWORD}
        assert (await http.post("/api/register", json=body)).is_success
        answer = await http.post("/api/login", json={"telegram": name, "password": PASSWORD})
        assert answer.is_success, answer.text
        cookie = answer.cookies.get("tradepit_session")
        assert cookie
        return answer.json()["telegram"], cookie

    @staticmethod
    @asynccontextmanager
    async def page_socket(
        address: str, cookie: str | None, origin: str | None = None
    ) -> AsyncIterator[tuple[socketio.AsyncClient, Received]]:
        """Connect as the page does: no auth payload, polling first, then the upgrade."""
        client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        received = Received(client)
        headers = {"Origin": origin or f"http://{address}"}
        if cookie:
            headers["Cookie"] = f"tradepit_session={cookie}"
        await client.connect(f"http://{address}", headers=headers, wait_timeout=5)
        try:
            yield client, received
        finally:
            await client.disconnect()

    async def test_the_cookie_makes_the_pages_socket_its_users_own(
        self, tmp_path: Path, db: str
    ) -> None:
        async with (
            live_app(tmp_path / "data", db, starting_balance_usdt="100") as address,
            httpx.AsyncClient(base_url=f"http://{address}") as http,
        ):
            me, cookie = await self.log_in(http)
            someone, other_cookie = await self.log_in(http)
            async with (
                self.page_socket(address, cookie) as (client, received),
                self.page_socket(address, other_cookie) as (_, theirs),
            ):
                status = await received.next("connection_status")
                await theirs.next("connection_status")
                await client.emit("request_balance", {"telegram_username": me})
                mine = await received.next("balance_update")
                await client.emit("request_balance", {"telegram_username": someone})
                refused = await received.next("error")
                # index.html's bet, authenticated by the same cookie from the page's origin.
                bet = {"telegram": me, "symbol": "BTCUSDT", "amount": 10, "direction": "long",
                       "time": 1}  # fmt: skip
                placed = await http.post(
                    "/api/bet",
                    json=bet,
                    headers={"Cookie": f"tradepit_session={cookie}", "Origin": f"http://{address}"},
                )
                assert placed.status_code == 201, placed.text
                pushed = await received.next("balance_update")
                await asyncio.sleep(0.3)
                leaked = theirs.pending("balance_update")
        assert status["authenticated"] is True and status["username"] == me
        assert mine == {"telegram_username": me, "balance": 100.0}
        assert refused["code"] == "FORBIDDEN"
        assert pushed["telegram_username"] == me and pushed["balance"] == 90.0
        assert leaked == 0

    async def test_a_foreign_page_gets_no_socket(self, live: str, http: httpx.AsyncClient) -> None:
        _, cookie = await self.log_in(http)
        with pytest.raises(socketio.exceptions.ConnectionError):
            async with self.page_socket(live, cookie, origin="https://evil.example"):
                pass

    async def test_a_revoked_cookie_opens_only_a_public_socket(
        self, tmp_path: Path, db: str
    ) -> None:
        async with (
            live_app(tmp_path / "data", db, ws_recheck_seconds=0.2) as address,
            httpx.AsyncClient(base_url=f"http://{address}") as http,
        ):
            me, cookie = await self.log_in(http)
            async with self.page_socket(address, cookie) as (client, received):
                await received.next("connection_status")
                out = await http.post(
                    "/api/logout",
                    headers={"Cookie": f"tradepit_session={cookie}", "Origin": f"http://{address}"},
                )
                assert out.status_code == 200, out.text
                closed = await received.next("error")
                await asyncio.sleep(0.3)
                still_open = client.connected
            async with self.page_socket(address, cookie) as (client, received):
                status = await received.next("connection_status")
                await client.emit("request_balance", {"telegram_username": me})
                refused = await received.next("error")
        assert closed == {"code": "INVALID_TOKEN", "message": "token revoked"}
        assert still_open is False
        assert status["authenticated"] is False
        assert refused["code"] == "NOT_AUTHENTICATED"
