"""mt5-copier's page (``multi_account_calculator.html`` of zicula/gold-trading-calculator)
against Tradepit, call by call: each request is the body its JavaScript builds (form values
are strings, as ``input.value`` gives them) and each check is what it reads from the answer.

The page: ``register()`` posts ``{username, email, password, role}`` and shows ``data.role``;
``login()`` reads ``token``, ``user_id``, ``role`` (``super_admin`` shows the broadcast
panel); ``loadUserAccounts()`` reads ``accounts[].id, account_name, login, server``;
``addAccount()`` posts ``{account_name, login, password, server, broker, account_type}``
(broker is the MT5 broker company, free text, may be empty; account_type demo or real);
``connectAccount()`` replaces its token with ``data.token``; ``calculateRisk()`` reads
``symbol, lotSize, riskAmount.toFixed(2), stopDistance.toFixed(2), calculatedAt``;
``sendToMT5()`` and ``broadcastToMT5()`` post ``{symbol, entryPrice1, stopLoss,
portfolioSize, riskPercent, tp1…}`` (no side, no accounts); the broadcast answer's
``target_users``, ``executed_successfully``, ``timestamp``; ``displayBroadcastStatus()``
reads ``broadcast_statistics[].status, count, latest`` and ``broadcast_users[].username,
is_active, last_login``. Every failure shows ``data.error``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from tests.api.test_broker_accounts import PASSWORD as MT5_PASSWORD
from tests.api.test_broker_accounts import FakeMt5
from tests.conftest import client_for, make_settings
from tests.factories import PASSWORD, make_user, unique_name
from tradepit.app import create_app
from tradepit.domain.accounts import Role
from tradepit.domain.clock import ManualClock
from tradepit.services.broadcast_queue import Worker
from tradepit.services.brokers.mt5 import Mt5Broker

#: The calculator form as the page opens (its inputs' default values).
FORM = {"symbol": "XAUUSD", "entryPrice1": "2650.00", "stopLoss": "2640.00",
        "portfolioSize": "1000", "riskPercent": "2"}  # fmt: skip
#: The page's "3 TP" levels, as typed.
TPS = {"tp1": "2660", "tp2": "2670", "tp3": "2680"}


@pytest.fixture
async def desk(tmp_path: Path, db: str) -> AsyncIterator[tuple[FastAPI, ManualClock]]:
    """Yield an app with funded USD wallets, markets always open and a manual wall clock."""
    wall = ManualClock(datetime.now(UTC))
    settings = make_settings(
        tmp_path / "data", db, market_hours="always", starting_balance_usd=Decimal(1_000_000)
    )
    app = create_app(settings, wall=wall)
    yield app, wall
    await app.state.wiring.engine.dispose()


@pytest.fixture
async def client(desk: tuple[FastAPI, ManualClock]) -> AsyncIterator[httpx.AsyncClient]:
    """Yield an HTTP client of the desk app."""
    async with client_for(desk[0]) as http:
        yield http


@pytest.fixture
def fake_mt5(desk: tuple[FastAPI, ManualClock]) -> FakeMt5:
    """Put a stand-in MetaTrader5 terminal behind the mt5 adapter."""
    fake = FakeMt5()
    desk[0].state.wiring.brokers.factories["mt5"] = Mt5Broker(lambda: fake)
    return fake


class Page:
    """The page's state (``authToken``, ``currentUser``, ``userRole``, ``accounts``) and its
    calls, as its JavaScript makes them."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.token: str | None = None
        self.user_id: int | None = None
        self.role: str | None = None
        self.accounts: list[dict[str, Any]] = []

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def register(self, username: str, role: str = "user") -> httpx.Response:
        body = {"username": username, "email": f"{username}@example.com",
                "password": PASSWORD, "role": role}  # fmt: skip
        return await self.client.post("/api/register", json=body)

    async def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        response = await self.client.post(
            "/api/login", json={"username": username, "password": password}
        )
        if response.is_success:
            data = response.json()
            self.token, self.user_id, self.role = data["token"], data["user_id"], data["role"]
        return response

    async def load_accounts(self) -> list[dict[str, Any]]:
        response = await self.client.get("/api/accounts", headers=self.headers())
        assert response.is_success, response.text
        self.accounts = response.json()["accounts"]
        return self.accounts

    async def add_account(self, **fields: str) -> httpx.Response:
        body = {"account_name": "Gold demo", "login": "51234567", "password": MT5_PASSWORD,
                "server": "ICMarketsSC-Demo", "broker": "", "account_type": "demo",
                **fields}  # fmt: skip
        return await self.client.post("/api/accounts", json=body, headers=self.headers())

    async def connect(self, account_id: int) -> httpx.Response:
        response = await self.client.post(
            f"/api/accounts/{account_id}/connect", headers=self.headers()
        )
        if response.is_success:
            self.token = response.json()["token"]  # "Update token with account context"
        return response

    async def calculate(self, form: dict[str, str] = FORM) -> httpx.Response:
        return await self.client.post("/api/calculate", json=form, headers=self.headers())

    async def send(self, form: dict[str, Any] = FORM, tps: dict[str, str] = TPS) -> httpx.Response:
        body = {**form, **tps}
        return await self.client.post("/api/send_orders", json=body, headers=self.headers())

    async def broadcast(
        self, form: dict[str, str] = FORM, tps: dict[str, str] = TPS
    ) -> httpx.Response:
        body = {**form, **tps}
        return await self.client.post("/api/broadcast_orders", json=body, headers=self.headers())

    async def broadcast_status(self) -> httpx.Response:
        return await self.client.get("/api/broadcast_status", headers=self.headers())


async def signed_up(client: httpx.AsyncClient) -> tuple[Page, str]:
    """Register and log in through the page; return it and the username."""
    page, name = Page(client), unique_name("mt5c")
    assert (await page.register(name)).status_code == 201
    assert (await page.login(name)).status_code == 200
    return page, name


async def superadmin_page(app: FastAPI, client: httpx.AsyncClient) -> Page:
    """Log a superadmin in through the page."""
    name = unique_name("root")
    await make_user(app, Role.SUPERADMIN, name)
    page = Page(client)
    assert (await page.login(name)).status_code == 200
    return page


async def at_the_market(page: Page) -> tuple[dict[str, str], dict[str, str]]:
    """Return the form and take-profit levels a trader types around gold's price now (paper
    accounts fill at the market, and a take profit below it is refused)."""
    ltp = await page.client.get("/api/candles/ltp/XAUUSD", headers=page.headers())
    entry = Decimal(str(ltp.json()["ltp"])).quantize(Decimal("0.01"))
    form = {**FORM, "entryPrice1": f"{entry}", "stopLoss": f"{entry - 10}"}
    return form, {f"tp{n}": f"{entry + 50 * n}" for n in (1, 2, 3)}


def worker(app: FastAPI) -> Worker:
    """Return a queue worker of ``app`` (the tests drive it)."""
    w = app.state.wiring
    return Worker(w.sessionmaker, w.wall, w.sealer, w.brokers, w.market, w.bus)


class TestSignUp:
    async def test_the_page_registers_a_user_and_shows_its_role(
        self, client: httpx.AsyncClient
    ) -> None:
        page, name = Page(client), unique_name("mt5c")
        response = await page.register(name, role="user")
        assert response.status_code == 201, response.text
        data = response.json()
        assert data["role"] == "user"
        assert data["user_id"] == data["id"] and data["username"] == name

    async def test_a_broadcast_user_is_a_user(self, client: httpx.AsyncClient) -> None:
        page, name = Page(client), unique_name("mt5c")
        response = await page.register(name, role="broadcast")
        assert (response.status_code, response.json()["role"]) == (201, "user")
        await page.login(name)
        me = await client.get("/api/auth/me", headers=page.headers())
        assert me.json()["role"] == "user"

    @pytest.mark.parametrize("role", ["super_admin", "superadmin", "admin"])
    async def test_a_body_never_raises_a_role(self, client: httpx.AsyncClient, role: str) -> None:
        page, name = Page(client), unique_name("mt5c")
        response = await page.register(name, role=role)
        assert response.status_code == 403
        data = response.json()
        assert data["code"] == "ROLE_NOT_ALLOWED"
        assert data["error"].startswith("sign-up creates a user")  # what the page shows
        assert (await page.login(name)).status_code == 401  # nothing was written
        assert (await page.register(name, role="user")).status_code == 201

    async def test_an_unknown_role_is_422(self, client: httpx.AsyncClient) -> None:
        response = await Page(client).register(unique_name("mt5c"), role="god")
        assert response.status_code == 422
        assert response.json()["error"].startswith("body.role:")


class TestLogin:
    async def test_the_page_reads_token_user_id_and_role(self, client: httpx.AsyncClient) -> None:
        page, name = await signed_up(client)
        data = (await page.login(name)).json()
        assert data["token"] == data["access_token"]
        assert data["role"] == "user" and data["message"] == "Login successful"
        assert data["telegram"] == name and data["token_type"] == "bearer"  # others' fields
        by_email = Page(client)
        assert (await by_email.login(f"{name}@example.com")).status_code == 200
        assert by_email.user_id == page.user_id
        assert (await client.get("/api/accounts", headers=page.headers())).status_code == 200

    async def test_a_superadmin_is_super_admin_as_the_page_spells_it(
        self, desk: tuple[FastAPI, ManualClock], client: httpx.AsyncClient
    ) -> None:
        page = await superadmin_page(desk[0], client)
        assert page.role == "super_admin"
        claims = jwt.decode(page.token or "", options={"verify_signature": False})
        assert claims["role"] == "superadmin"

    async def test_a_wrong_password_says_why_in_error(self, client: httpx.AsyncClient) -> None:
        _, name = await signed_up(client)
        response = await Page(client).login(name, "wrongpass1")
        assert response.status_code == 401
        assert response.json()["error"] == "invalid login or password"


class TestAccounts:
    async def test_the_page_adds_an_mt5_account_at_a_broker_company(
        self, client: httpx.AsyncClient
    ) -> None:
        page, _ = await signed_up(client)
        response = await page.add_account(broker="Exness", account_type="real")
        assert response.status_code == 201, response.text
        added = response.json()
        assert (added["broker"], added["account_type"]) == ("mt5:Exness", "live")
        assert added["account_id"] == added["id"] and added["message"]
        assert added["password"] == "••••4242"
        [shown] = await page.load_accounts()
        assert (shown["id"], shown["account_name"], shown["login"], shown["server"]) == (
            added["id"], "Gold demo", "51234567", "ICMarketsSC-Demo"
        )  # fmt: skip

    @pytest.mark.parametrize(
        ("typed", "kept"),
        [("", "mt5"), ("  ", "mt5"), ("IC Markets", "mt5:IC Markets"), ("XM.com", "mt5:XM.com"),
         ("mt5", "mt5"), ("paper", "paper")],
    )  # fmt: skip
    async def test_the_broker_field_beside_an_mt5_login(
        self, client: httpx.AsyncClient, typed: str, kept: str
    ) -> None:
        page, _ = await signed_up(client)
        response = await page.add_account(broker=typed)
        assert (response.status_code, response.json()["broker"]) == (201, kept)

    @pytest.mark.parametrize("typed", ["MT5", "MetaTrader 5", "Kite", "ccxt:", "Exness™"])
    async def test_an_adapter_word_or_no_company_name_lists_the_accepted_ones(
        self, client: httpx.AsyncClient, typed: str
    ) -> None:
        page, _ = await signed_up(client)
        response = await page.add_account(broker=typed)
        assert response.status_code == 422
        assert response.json()["error"].startswith(
            "body.broker: broker must be one of paper, mt5, mt5:<company>, kite,"
        )

    async def test_a_company_account_connects_through_the_mt5_terminal(
        self, client: httpx.AsyncClient, fake_mt5: FakeMt5
    ) -> None:
        page, _ = await signed_up(client)
        account = (await page.add_account(broker="IC Markets")).json()
        connected = (await page.connect(account["id"])).json()
        assert (connected["status"], connected["account"]["balance"]) == ("connected", "10000")


class TestConnect:
    async def test_the_token_names_the_account_and_is_the_same_login(
        self, client: httpx.AsyncClient, fake_mt5: FakeMt5
    ) -> None:
        page, _ = await signed_up(client)
        login_token = page.token
        account = (await page.add_account(broker="Exness")).json()
        response = await page.connect(account["id"])
        assert response.status_code == 200, response.text
        assert response.json()["account_id"] == account["id"]
        before = jwt.decode(login_token or "", options={"verify_signature": False})
        after = jwt.decode(page.token or "", options={"verify_signature": False})
        assert after["account_id"] == account["id"] and "account_id" not in before
        assert (after["jti"], after["exp"], after["sub"]) == (
            before["jti"], before["exp"], before["sub"]
        )  # fmt: skip
        assert (await client.get("/api/accounts", headers=page.headers())).status_code == 200
        await client.post("/api/logout", headers=page.headers())
        old = {"Authorization": f"Bearer {login_token}"}
        assert (await client.get("/api/accounts", headers=old)).status_code == 401

    async def test_a_failed_connect_keeps_the_login_without_an_account(
        self, client: httpx.AsyncClient
    ) -> None:
        page, _ = await signed_up(client)
        account = (await page.add_account(broker="Exness")).json()
        response = await page.connect(account["id"])  # no MetaTrader5 here
        assert response.json()["status"] == "failed"
        claims = jwt.decode(page.token or "", options={"verify_signature": False})
        assert "account_id" not in claims
        refused = await page.send()
        assert refused.status_code == 400
        assert refused.json()["code"] == "NO_ACCOUNT"
        assert refused.json()["error"].startswith("no account to send to")

    async def test_an_api_key_gets_no_token(self, client: httpx.AsyncClient) -> None:
        page, _ = await signed_up(client)
        key = await client.post("/api/auth/api-keys", json={"name": "bot"}, headers=page.headers())
        account = (await page.add_account(broker="paper", server="USD")).json()
        headers = {"X-API-Key": key.json()["key"]}
        response = await client.post(f"/api/accounts/{account['id']}/connect", headers=headers)
        assert response.json()["status"] == "connected"
        assert response.json()["token"] is None


class TestCalculate:
    async def test_the_page_reads_numbers(self, client: httpx.AsyncClient) -> None:
        page, _ = await signed_up(client)
        response = await page.calculate()
        assert response.status_code == 200, response.text
        result = response.json()
        # 2 % of 1000 = 20 over (2650 - 2640) x 100 oz per lot = 0.02 lots.
        assert result["symbol"] == "XAUUSD"
        assert (result["lotSize"], result["riskAmount"], result["stopDistance"]) == (
            0.02, 20.0, 10.0
        )  # fmt: skip
        assert (result["entryPrice"], result["stopLoss"]) == (2650.0, 2640.0)
        assert datetime.fromisoformat(result["calculatedAt"]).tzinfo is not None
        assert (result["total_lots"], result["risk_amount"]) == ("0.02", "20")  # ours, exact


class TestSendOrders:
    async def test_the_connected_account_gets_the_calculated_lots_and_tp1(
        self, client: httpx.AsyncClient, fake_mt5: FakeMt5
    ) -> None:
        page, _ = await signed_up(client)
        account = (await page.add_account(broker="Exness")).json()
        await page.connect(account["id"])
        response = await page.send()
        assert response.status_code == 200, response.text
        data = response.json()
        assert data["success"] is True and data["account_id"] == account["id"]
        assert data["message"] == "Orders sent successfully" and data["timestamp"]
        assert [(r["account_id"], r["lots"]) for r in data["results"]] == [(account["id"], "0.02")]
        [sent] = fake_mt5.requests
        assert (sent["type"], sent["volume"], sent["sl"], sent["tp"]) == (
            FakeMt5.ORDER_TYPE_BUY, 0.02, 2640.0, 2660.0
        )  # fmt: skip

    async def test_a_stop_above_the_entry_sells(
        self, client: httpx.AsyncClient, fake_mt5: FakeMt5
    ) -> None:
        page, _ = await signed_up(client)
        account = (await page.add_account(broker="Exness")).json()
        await page.connect(account["id"])
        form = {**FORM, "stopLoss": "2660.00"}
        response = await page.send(form, {"tp1": "2640"})
        assert response.json()["success"] is True, response.text
        assert fake_mt5.requests[0]["type"] == FakeMt5.ORDER_TYPE_SELL

    async def test_fields_a_client_echoes_back_are_ignored(
        self, client: httpx.AsyncClient, fake_mt5: FakeMt5
    ) -> None:
        page, _ = await signed_up(client)
        account = (await page.add_account(broker="Exness")).json()
        await page.connect(account["id"])
        echoed = {**FORM, "lotSize": 0.02, "calculatedAt": "2026-01-01T00:00:00Z", "tpCount": "3"}
        response = await page.send(echoed)
        assert (response.status_code, response.json()["success"]) == (200, True)

    @pytest.mark.parametrize(
        ("extra", "words"),
        [({"tp6": "2700"}, "take-profit levels are tp1 to tp5"),
         ({"takeProfit": "2700"}, "takeProfit and the first take-profit level (tp1) differ"),
         ({"stopLoss": "2650.00"}, "give side (BUY or SELL)"),
         ({"riskPercent": "", "lots": "0.1"}, "riskPercent"),
         ({"riskPercent": None, "lots": "0.1"}, "portfolioSize is the balance riskPercent is of")],
    )  # fmt: skip
    async def test_what_cannot_be_an_order_is_422_in_words(
        self, client: httpx.AsyncClient, extra: dict[str, Any], words: str
    ) -> None:
        page, _ = await signed_up(client)
        account = (await page.add_account(broker="paper", server="USD")).json()
        await page.connect(account["id"])
        response = await client.post(
            "/api/send_orders", json={**FORM, **TPS, **extra}, headers=page.headers()
        )
        assert response.status_code == 422, response.text
        assert words in response.json()["error"]

    async def test_listed_accounts_still_win_over_the_token(
        self, client: httpx.AsyncClient
    ) -> None:
        page, _ = await signed_up(client)
        first = (await page.add_account(broker="paper", server="USD")).json()
        second = (await page.add_account(broker="paper", server="USD")).json()
        await page.connect(first["id"])
        body = {**FORM, "lots": "0.01", "riskPercent": None, "portfolioSize": None,
                "accounts": [second["id"]]}  # fmt: skip
        response = await client.post("/api/send_orders", json=body, headers=page.headers())
        assert [r["account_id"] for r in response.json()["results"]] == [second["id"]]


class TestBroadcast:
    async def test_the_super_admin_broadcasts_and_watches_the_status(
        self, desk: tuple[FastAPI, ManualClock], client: httpx.AsyncClient
    ) -> None:
        app, wall = desk
        people = []
        for _ in range(2):
            page, name = await signed_up(client)
            assert (await page.add_account(broker="paper", server="USD")).status_code == 201
            people.append((page, name))
        root = await superadmin_page(app, client)
        form, tps = await at_the_market(root)

        response = await root.broadcast(form, tps)
        assert response.status_code == 201, response.text
        result = response.json()
        assert (result["target_users"], result["executed_successfully"]) == (2, 0)
        assert datetime.fromisoformat(result["timestamp"]) == wall.now()
        order = result["broadcasts"][0]["order"]
        assert (order["side"], order["take_profit"], order["tp3"]) == (
            "BUY", tps["tp1"], tps["tp3"]
        )  # fmt: skip

        assert await worker(app).work_once() == 2
        status = (await root.broadcast_status()).json()
        assert not [t["error_message"] for t in status["targets"] if t["error_message"]]
        [executed] = status["broadcast_statistics"]
        assert (executed["status"], executed["count"]) == ("executed", 2)
        assert datetime.fromisoformat(executed["latest"]) == wall.now()
        shown = [(u["username"], u["is_active"]) for u in status["broadcast_users"]]
        assert shown == sorted((name, True) for _, name in people)
        assert all(u["last_login"] for u in status["broadcast_users"])
        # portfolioSize sizes every account alike: the calculator's 0.02 lots.
        assert {t["lots"] for t in status["targets"]} == {"0.02"}

        mine = (await people[0][0].broadcast_status()).json()
        assert [u["username"] for u in mine["broadcast_users"]] == [people[0][1]]
        assert [(s["status"], s["count"]) for s in mine["broadcast_statistics"]] == [
            ("executed", 1)
        ]

        wall.advance(timedelta(hours=25))  # past the statistics' window, and the login's life
        root = await superadmin_page(app, client)
        later = (await root.broadcast_status()).json()
        assert later["broadcast_statistics"] == [] and len(later["targets"]) == 2

    async def test_only_the_super_admin_broadcasts(self, client: httpx.AsyncClient) -> None:
        page, _ = await signed_up(client)
        response = await page.broadcast()
        assert response.status_code == 403
        assert response.json()["error"] == "this needs the superadmin role"
