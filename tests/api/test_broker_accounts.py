"""Linked broker accounts: CRUD, masks, ownership, connect through the adapters, audit, and
no secret in any answer, log line, audit entry or stored version."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.factories import admin_headers, user_with_token
from tests.standins import serve
from tradepit.services.brokers.kite import KiteBroker
from tradepit.services.brokers.mt5 import Mt5Broker
from tradepit.store.audit import AuditEntry
from tradepit.store.broker_accounts import BrokerAccount, BrokerAccountVersion

PASSWORD = "Mt5-Password-4242"
API_SECRET = "kite-access-token-0123456789"
API_KEY = "kiteapikey-5678"
MT5 = {"account_name": "Gold demo", "broker": "mt5", "login": "51234567",
       "password": PASSWORD, "server": "ICMarketsSC-Demo", "account_type": "demo"}  # fmt: skip


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    """Link an account; return the answer."""
    response = await client.post("/api/accounts", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def stored(app: FastAPI) -> str:
    """Return every account row, version and audit entry as one text, to grep."""
    async with app.state.wiring.sessionmaker() as session:
        rows: list[Any] = [
            *(await session.scalars(select(BrokerAccount))),
            *(await session.scalars(select(BrokerAccountVersion))),
            *(await session.scalars(select(AuditEntry))),
        ]
    return " ".join(str(vars(row)) for row in rows)


class TestAccounts:
    async def test_create_answers_masks_and_lists(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        body = await create(client, headers, {**MT5, "api_secret": API_SECRET})
        assert body["password"] == "••••4242"
        assert body["api_secret"] == "••••6789"
        assert body["api_key"] is None
        assert body["status"] == "new"
        listed = (await client.get("/api/accounts", headers=headers)).json()
        assert [a["id"] for a in listed["accounts"]] == [body["id"]]

    async def test_short_secret_is_fully_masked(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        body = await create(client, headers, {**MT5, "password": "abc12345"})
        assert body["password"] == "••••"

    async def test_another_users_account_is_404(self, client: httpx.AsyncClient) -> None:
        _, owner = await user_with_token(client)
        _, other = await user_with_token(client)
        account = await create(client, owner, MT5)
        path = f"/api/accounts/{account['id']}"
        assert (await client.put(path, json={"login": "1"}, headers=other)).status_code == 404
        assert (await client.delete(path, headers=other)).status_code == 404
        assert (await client.post(f"{path}/connect", headers=other)).status_code == 404
        assert (await client.get("/api/accounts", headers=other)).json() == {"accounts": []}

    async def test_an_admin_sees_everyone(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        owner, headers = await user_with_token(client)
        await create(client, headers, MT5)
        _, admin = await admin_headers(app, client)
        listed = (await client.get("/api/accounts", headers=admin)).json()["accounts"]
        assert [a["user"] for a in listed] == [owner["username"]]

    async def test_update_keeps_left_out_secrets_and_removes_empty_ones(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        account = await create(client, headers, {**MT5, "api_key": API_KEY})
        path = f"/api/accounts/{account['id']}"
        changed = await client.put(path, json={"max_risk": "2.5", "api_key": ""}, headers=headers)
        assert changed.status_code == 200
        assert changed.json()["password"] == "••••4242"
        assert changed.json()["api_key"] is None
        assert changed.json()["max_risk"] == "2.5"
        assert changed.json()["version"] == 2

    async def test_delete(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        account = await create(client, headers, MT5)
        response = await client.delete(f"/api/accounts/{account['id']}", headers=headers)
        assert response.status_code == 204
        assert (await client.get("/api/accounts", headers=headers)).json() == {"accounts": []}

    @pytest.mark.parametrize(
        "body",
        [
            {**MT5, "broker": "metatrader"},
            {**MT5, "account_type": "paper"},
            {**MT5, "max_risk": -1},
            {**MT5, "pnl": "lots"},
            {**MT5, "account_name": ""},
        ],
    )
    async def test_invalid_bodies_are_422(
        self, client: httpx.AsyncClient, body: dict[str, Any]
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.post("/api/accounts", json=body, headers=headers)
        assert response.status_code == 422
        assert PASSWORD not in response.text

    @pytest.mark.parametrize("broker", ["okx", "MT5", "ccxt:", "metatrader"])
    async def test_a_wrong_broker_lists_the_accepted_ones(
        self, client: httpx.AsyncClient, broker: str
    ) -> None:
        _, headers = await user_with_token(client)
        account = await create(client, headers, MT5)
        table = await client.post(
            "/api/add_csv", json={"broker": "paper", "pnl": 1}, headers=headers
        )
        assert table.status_code == 201, table.text
        # Without an MT5 login and server: beside them a name is an MT5 company
        # (tests/api/test_mt5_copier_client.py).
        alone = {"account_name": "Gold demo", "broker": broker}
        answers = [
            await client.post("/api/accounts", json=alone, headers=headers),
            await client.put(
                f"/api/accounts/{account['id']}", json={"broker": broker}, headers=headers
            ),
        ]
        words = (
            "broker must be one of paper, mt5, mt5:<company>, kite, ccxt:<exchange> (e.g. "
            "ccxt:okx, mt5:Exness; a company is 1-36 letters, digits, spaces, '.', '&', '_' or '-')"
        )
        for response in answers:
            assert response.status_code == 422, response.text
            body = response.json()
            assert body["code"] == "VALIDATION_ERROR"
            assert body["message"] == f"body.broker: {words}"
            assert "^(" not in response.text  # no regular expression
        # The accounts table keeps a broker as text (csv-accounts): such a row is kept, shown,
        # and cannot connect (tests/api/test_accounts_table.py).
        kept = [
            await client.post("/api/add_csv", json={"broker": broker}, headers=headers),
            await client.put("/api/update_csv/0", json={"broker": broker}, headers=headers),
            await client.post(
                "/api/accounts/import", content=f"broker\n{broker}\n", headers=headers
            ),
        ]
        assert [r.status_code for r in kept] == [201, 200, 201], [r.text for r in kept]

    async def test_a_wrong_symbol_map_says_what_a_symbol_is(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.post(
            "/api/accounts", json={**MT5, "symbol_map": {"EURUSD": "EUR$USD"}}, headers=headers
        )
        assert response.status_code == 422
        assert response.json()["message"] == (
            "body.symbol_map.EURUSD: a symbol is 1-40 letters, digits, spaces, '.', '_', ':', "
            "'/', '&' or '-'"
        )

    async def test_needs_a_login(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/api/accounts")).status_code == 401


class FakeMt5:
    """A stand-in for the MetaTrader5 module: one account, the answers MT5 gives."""

    TRADE_ACTION_DEAL = 1
    ORDER_TYPE_BUY = 0
    ORDER_TYPE_SELL = 1
    POSITION_TYPE_BUY = 0
    ORDER_TIME_GTC = 0
    ORDER_FILLING_IOC = 1

    def __init__(self) -> None:
        self.error = (1, "Success")
        self.requests: list[dict[str, Any]] = []

    def initialize(self, login: int, password: str, server: str) -> bool:
        if (login, password, server) != (51234567, PASSWORD, "ICMarketsSC-Demo"):
            self.error = (-6, "Terminal: Authorization failed")
            return False
        return True

    def last_error(self) -> tuple[int, str]:
        return self.error

    def account_info(self) -> Any:
        return SimpleNamespace(
            login=51234567, currency="USD", balance=10000.0, equity=10012.5, margin=0.0
        )

    def symbol_info_tick(self, symbol: str) -> Any:
        return SimpleNamespace(bid=2350.1, ask=2350.4)

    def order_send(self, request: dict[str, Any]) -> Any:
        self.requests.append(request)
        return SimpleNamespace(retcode=10009, order=len(self.requests), price=2350.4, comment="")


async def kite_standin() -> Starlette:
    """Kite's /user/profile and /user/margins/equity: success for one token, else its 403."""

    def authorised(request: Request) -> bool:
        return request.headers.get("authorization") == f"token {API_KEY}:{API_SECRET}"

    def refused() -> JSONResponse:
        return JSONResponse(
            {"status": "error", "message": "Incorrect `api_key` or `access_token`.",
             "data": None, "error_type": "TokenException"}, status_code=403,
        )  # fmt: skip

    async def profile(request: Request) -> JSONResponse:
        if not authorised(request):
            return refused()
        return JSONResponse({"status": "success", "data": {"user_id": "AB1234"}})

    async def margins(request: Request) -> JSONResponse:
        if not authorised(request):
            return refused()
        return JSONResponse({"status": "success", "data": {
            "enabled": True, "net": 99725.05, "available": {"cash": 245431.6},
            "utilised": {"debits": 145706.55},
        }})  # fmt: skip

    return Starlette(
        routes=[Route("/user/profile", profile), Route("/user/margins/{segment}", margins)]
    )


@pytest.fixture
async def kite_root(app: FastAPI) -> AsyncIterator[str]:
    """Point the kite adapter at a local stand-in; yield its root."""
    async with serve(await kite_standin()) as port:
        root = f"http://127.0.0.1:{port}"
        app.state.wiring.brokers.factories["kite"] = KiteBroker(app.state.wiring.market, root)
        yield root


class TestConnect:
    async def test_paper_connects(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        account = await create(client, headers, {"account_name": "P", "broker": "paper"})
        response = await client.post(f"/api/accounts/{account['id']}/connect", headers=headers)
        assert response.status_code == 200
        assert response.json()["status"] == "connected"
        assert response.json()["account"]["currency"] == "USD"
        listed = (await client.get("/api/accounts", headers=headers)).json()["accounts"]
        assert listed[0]["status"] == "connected"

    async def test_mt5_without_the_package_fails_with_the_reason(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        account = await create(client, headers, MT5)
        response = await client.post(f"/api/accounts/{account['id']}/connect", headers=headers)
        assert response.json()["status"] == "failed"
        assert "MetaTrader5 is not installed" in response.json()["message"]

    async def test_mt5_through_the_terminal(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        fake = FakeMt5()
        app.state.wiring.brokers.factories["mt5"] = Mt5Broker(lambda: fake)
        _, headers = await user_with_token(client)
        good = await create(client, headers, MT5)
        bad = await create(client, headers, {**MT5, "password": "Wrong-Password-1"})
        ok = (await client.post(f"/api/accounts/{good['id']}/connect", headers=headers)).json()
        assert ok["status"] == "connected"
        assert ok["account"] == {"login": "51234567", "currency": "USD", "balance": "10000",
                                 "equity": "10012.5", "margin": "0"}  # fmt: skip
        failed = (await client.post(f"/api/accounts/{bad['id']}/connect", headers=headers)).json()
        assert failed["status"] == "failed"
        assert "Authorization failed" in failed["message"]

    async def test_kite_against_its_standin(
        self, client: httpx.AsyncClient, kite_root: str
    ) -> None:
        _, headers = await user_with_token(client)
        kite = {"account_name": "Zerodha", "broker": "kite", "login": "AB1234",
                "api_key": API_KEY, "api_secret": API_SECRET, "account_type": "live"}  # fmt: skip
        good = await create(client, headers, kite)
        bad = await create(client, headers, {**kite, "api_secret": "expired-token-000000"})
        ok = (await client.post(f"/api/accounts/{good['id']}/connect", headers=headers)).json()
        assert ok["status"] == "connected"
        assert ok["account"]["balance"] == "245431.6"
        failed = (await client.post(f"/api/accounts/{bad['id']}/connect", headers=headers)).json()
        assert failed.pop("token")  # of the same login, naming no account
        assert failed == {"success": False, "id": bad["id"], "status": "failed", "account": None,
                          "message": "kite: Incorrect `api_key` or `access_token`.",
                          "account_id": bad["id"]}  # fmt: skip

    async def test_a_ciphertext_copied_to_another_row_is_refused(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        fake = FakeMt5()
        app.state.wiring.brokers.factories["mt5"] = Mt5Broker(lambda: fake)
        _, headers = await user_with_token(client)
        _, thief = await user_with_token(client)
        victim = await create(client, headers, MT5)
        copy = await create(client, thief, {**MT5, "password": "Thief-Password-1"})
        async with app.state.wiring.sessionmaker() as session:
            sealed = await session.scalar(
                select(BrokerAccount.password_sealed).where(BrokerAccount.id == victim["id"])
            )
            await session.execute(
                update(BrokerAccount)
                .where(BrokerAccount.id == copy["id"])
                .values(password_sealed=sealed)
            )
            await session.commit()
        response = await client.post(f"/api/accounts/{copy['id']}/connect", headers=thief)
        assert response.json()["status"] == "failed"
        assert "belongs to another owner" in response.json()["message"]
        assert fake.requests == []


class TestNoSecretLeaks:
    async def test_secrets_appear_in_no_answer_log_audit_or_version(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        kite_root: str,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        _, headers = await user_with_token(client)
        _, admin = await admin_headers(app, client)
        answers: list[str] = []
        body = {"account_name": "Z", "broker": "kite", "login": "AB1234", "password": PASSWORD,
                "api_key": API_KEY, "api_secret": API_SECRET}  # fmt: skip
        for bad in ("wrong-" + API_SECRET, API_SECRET):
            account = await create(client, headers, {**body, "api_secret": bad})
            answers.append(str(account))
            path = f"/api/accounts/{account['id']}"
            for response in (
                await client.post(f"{path}/connect", headers=headers),
                await client.put(path, json={"password": PASSWORD + "x"}, headers=headers),
                await client.get("/api/accounts", headers=headers),
                await client.get("/api/accounts", headers=admin),
                await client.get("/api/admin/audit-log", headers=admin),
            ):
                answers.append(response.text)
        everything = " ".join([*answers, caplog.text, await stored(app)])
        assert "account.connect" in everything
        for secret in (PASSWORD, API_KEY, API_SECRET):
            assert secret not in everything
