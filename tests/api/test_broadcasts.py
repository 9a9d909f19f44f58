"""Sending and broadcasting orders: 3 users' paper accounts execute, a failing adapter fails
alone with its reason, a retry never duplicates, transient errors back off, partial closes
propagate proportionally."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.test_broker_accounts import MT5, FakeMt5
from tests.conftest import client_for, make_settings
from tests.factories import admin_headers, user_with_token
from tradepit.app import create_app
from tradepit.domain.accounts import Role
from tradepit.domain.clock import ManualClock
from tradepit.services import broadcasts
from tradepit.services.broadcast_queue import Worker
from tradepit.services.brokers import BrokerRefused
from tradepit.services.brokers.mt5 import Mt5Broker

GOLD = {"symbol": "XAUUSD", "side": "BUY", "stopLoss": 3000, "takeProfit": 6000}


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


def worker(app: FastAPI) -> Worker:
    """Return a queue worker of ``app`` (the tests drive it; the lifespan is not running)."""
    w = app.state.wiring
    return Worker(w.sessionmaker, w.wall, w.sealer, w.brokers, w.market, w.bus)


async def paper_user(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, str], int]:
    """Register a user with a paper account; return them, their headers and the account id."""
    user, headers = await user_with_token(client)
    body = {"account_name": "paper", "broker": "paper"}
    account = (await client.post("/api/accounts", json=body, headers=headers)).json()
    return user, headers, account["id"]


async def entries(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Return the user's entry orders (bracket legs left out)."""
    orders = (await client.get("/api/paper-trading/orders", headers=headers)).json()
    return [o for o in orders if o["parent_id"] is None]


async def position(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """Return the user's XAUUSD quantity."""
    found = (await client.get("/api/paper-trading/positions", headers=headers)).json()
    quantity: str = next(p["quantity"] for p in found if p["symbol"] == "XAUUSD")
    return quantity


class TestBroadcast:
    async def test_three_paper_accounts_one_failing_adapter_and_a_retry(
        self, desk: tuple[FastAPI, ManualClock], client: httpx.AsyncClient
    ) -> None:
        app, _ = desk
        people = [await paper_user(client) for _ in range(3)]
        mt5 = (await client.post("/api/accounts", json=MT5, headers=people[2][1])).json()
        _, root = await admin_headers(app, client, Role.SUPERADMIN)
        events = app.state.wiring.bus.subscribe(broadcasts.TOPIC)
        body = {**GOLD, "entryPrice1": 4150, "lots": 0.1,
                "target_users": [p[0]["id"] for p in people]}  # fmt: skip
        created = await client.post("/api/broadcast_orders", json=body, headers=root)
        assert created.status_code == 201, created.text
        broadcast_id = created.json()["broadcasts"][0]["id"]
        assert [t["status"] for t in created.json()["targets"]] == ["pending"] * 4

        assert await worker(app).work_once() == 4
        state = (await client.get("/api/broadcast_status", headers=root)).json()
        by_account = {t["account_id"]: t for t in state["targets"]}
        assert [by_account[p[2]]["status"] for p in people] == ["executed"] * 3
        assert by_account[mt5["id"]]["status"] == "failed"
        assert "MetaTrader5 is not installed" in by_account[mt5["id"]]["error_message"]
        assert state["broadcasts"][0]["progress"] == {
            "pending": 0, "sent": 0, "executed": 3, "failed": 1, "total": 4
        }  # fmt: skip
        for _, headers, _ in people:
            placed = await entries(client, headers)
            assert [(o["symbol"], o["order_side"], o["quantity"]) for o in placed] == [
                ("XAUUSD", "BUY", "0.1")
            ]
        assert events.queue.qsize() >= 8

        fake = FakeMt5()
        app.state.wiring.brokers.factories["mt5"] = Mt5Broker(lambda: fake)
        again = await client.post(f"/api/broadcasts/{broadcast_id}/retry", headers=root)
        assert again.status_code == 200
        assert await worker(app).work_once() == 1
        assert [r["volume"] for r in fake.requests] == [0.1]
        assert fake.requests[0]["comment"] == f"tp-b{broadcast_id}-a{mt5['id']}"
        await client.post(f"/api/broadcasts/{broadcast_id}/retry", headers=root)
        assert await worker(app).work_once() == 0
        for _, headers, _ in people:
            assert len(await entries(client, headers)) == 1
        final = (await client.get("/api/broadcast_status", headers=root)).json()
        assert final["broadcasts"][0]["progress"]["executed"] == 4

        own = (await client.get("/api/broadcast_status", headers=people[0][1])).json()
        assert [t["account_id"] for t in own["targets"]] == [people[0][2]]

    async def test_only_a_superadmin_broadcasts(
        self, desk: tuple[FastAPI, ManualClock], client: httpx.AsyncClient
    ) -> None:
        app, _ = desk
        await paper_user(client)
        _, admin = await admin_headers(app, client)
        body = {**GOLD, "lots": 0.1}
        assert (
            await client.post("/api/broadcast_orders", json=body, headers=admin)
        ).status_code == 403
        assert (await client.post("/api/broadcasts/1/retry", headers=admin)).status_code == 403

    async def test_transient_errors_back_off_then_execute(
        self, desk: tuple[FastAPI, ManualClock], client: httpx.AsyncClient
    ) -> None:
        app, wall = desk
        fake = FakeMt5()
        answers = [10031, 10009]
        sent = fake.order_send

        def flaky(request: dict[str, Any]) -> Any:
            result = sent(request)
            return SimpleNamespace(**{**vars(result), "retcode": answers.pop(0)})

        fake.order_send = flaky  # type: ignore[method-assign]
        app.state.wiring.brokers.factories["mt5"] = Mt5Broker(lambda: fake)
        user, headers = await user_with_token(client)
        account = (await client.post("/api/accounts", json=MT5, headers=headers)).json()
        _, root = await admin_headers(app, client, Role.SUPERADMIN)
        body = {**GOLD, "lots": 0.2, "target_accounts": [account["id"]]}
        await client.post("/api/broadcast_orders", json=body, headers=root)
        await worker(app).work_once()
        state = (await client.get("/api/broadcast_status", headers=root)).json()["targets"][0]
        assert (state["status"], state["attempts"]) == ("pending", 1)
        assert "10031" in state["error_message"]
        assert await worker(app).work_once() == 0
        wall.advance(timedelta(seconds=3))
        assert await worker(app).work_once() == 1
        state = (await client.get("/api/broadcast_status", headers=root)).json()["targets"][0]
        assert (state["status"], state["attempts"], state["error_message"]) == (
            "executed", 2, None
        )  # fmt: skip
        assert len(fake.requests) == 2
        del user

    async def test_risk_percent_overrides_and_a_partial_close(
        self, desk: tuple[FastAPI, ManualClock], client: httpx.AsyncClient
    ) -> None:
        app, _ = desk
        (_, a_headers, a), (_, b_headers, b) = [await paper_user(client) for _ in range(2)]
        _, root = await admin_headers(app, client, Role.SUPERADMIN)
        body = {**GOLD, "entryPrice1": 4150, "riskPercent": 1, "target_accounts": [a, b],
                "overrides": {str(b): {"lots": 0.05, "multiplier": 2}}}  # fmt: skip
        created = (await client.post("/api/broadcast_orders", json=body, headers=root)).json()
        await worker(app).work_once()
        # 1 % of 1,000,000 over (4150 - 3000) * 100 per lot = 0.0869… → 0.08 lots.
        assert await position(client, a_headers) == "0.08"
        assert await position(client, b_headers) == "0.1"
        broadcast_id = created["broadcasts"][0]["id"]
        closed = await client.post(
            f"/api/broadcasts/{broadcast_id}/close", json={"fraction": 0.5}, headers=root
        )
        assert closed.status_code == 201, closed.text
        assert sorted(t["lots"] for t in closed.json()["targets"]) == ["0.04", "0.05"]
        await worker(app).work_once()
        assert await position(client, a_headers) == "0.04"
        assert await position(client, b_headers) == "0.05"

    @pytest.mark.parametrize(
        "body",
        [
            {**GOLD, "lots": 0.1, "riskPercent": 1},
            {**GOLD},
            {**GOLD, "multiplier": 2},
            {**GOLD, "riskPercent": 1},
            {**GOLD, "side": "HOLD", "lots": 1},
            {**GOLD, "lots": 1, "overrides": {"x": {"lots": 1}}},
        ],
    )
    async def test_malformed_broadcasts_are_422(
        self, desk: tuple[FastAPI, ManualClock], client: httpx.AsyncClient, body: dict[str, Any]
    ) -> None:
        _, root = await admin_headers(desk[0], client, Role.SUPERADMIN)
        response = await client.post("/api/broadcast_orders", json=body, headers=root)
        assert response.status_code == 422

    async def test_no_target_is_400(
        self, desk: tuple[FastAPI, ManualClock], client: httpx.AsyncClient
    ) -> None:
        _, root = await admin_headers(desk[0], client, Role.SUPERADMIN)
        body = {**GOLD, "lots": 1, "target_accounts": [12345]}
        response = await client.post("/api/broadcast_orders", json=body, headers=root)
        assert (response.status_code, response.json()["code"]) == (400, "NO_TARGETS")


class TestSendOrders:
    async def test_to_my_accounts_with_one_failing(
        self, desk: tuple[FastAPI, ManualClock], client: httpx.AsyncClient
    ) -> None:
        _, headers, paper = await paper_user(client)
        mt5 = (await client.post("/api/accounts", json=MT5, headers=headers)).json()
        body = {**GOLD, "entryPrice1": 4150, "riskPercent": 1, "accounts": [paper, mt5["id"]]}
        response = await client.post("/api/send_orders", json=body, headers=headers)
        assert response.status_code == 200, response.text
        results = response.json()
        assert results["success"] is False
        assert [(r["account_id"], r["status"], r["lots"]) for r in results["results"]] == [
            (paper, "executed", "0.08"), (mt5["id"], "failed", None)
        ]  # fmt: skip
        assert "MetaTrader5" in results["results"][1]["error_message"]
        assert await position(client, headers) == "0.08"

    async def test_another_users_account_is_404(
        self, desk: tuple[FastAPI, ManualClock], client: httpx.AsyncClient
    ) -> None:
        _, _, theirs = await paper_user(client)
        _, headers, _ = await paper_user(client)
        body = {**GOLD, "lots": 0.1, "accounts": [theirs]}
        response = await client.post("/api/send_orders", json=body, headers=headers)
        assert response.status_code == 404

    @pytest.mark.parametrize("role", [Role.ADMIN, Role.SUPERADMIN])
    async def test_no_role_sends_to_another_users_account(
        self, desk: tuple[FastAPI, ManualClock], client: httpx.AsyncClient, role: Role
    ) -> None:
        _, bob, bobs = await paper_user(client)
        _, admin = await admin_headers(desk[0], client, role)
        body = {**GOLD, "lots": 0.1, "accounts": [bobs]}
        response = await client.post("/api/send_orders", json=body, headers=admin)
        assert (response.status_code, response.json()["code"]) == (404, "ACCOUNT_NOT_FOUND")
        assert await entries(client, bob) == []
        connect = await client.post(f"/api/accounts/{bobs}/connect", headers=admin)
        assert connect.status_code == 404


class TestSendOrdersIdempotency:
    async def test_a_retry_with_the_key_replays_the_answer_and_sends_nothing(
        self, desk: tuple[FastAPI, ManualClock], client: httpx.AsyncClient
    ) -> None:
        _, headers, paper = await paper_user(client)
        body = {**GOLD, "entryPrice1": 4150, "riskPercent": 1, "accounts": [paper]}
        keyed = headers | {"Idempotency-Key": "signal-2026-11-27-001"}
        first = await client.post("/api/send_orders", json=body, headers=keyed)
        again = await client.post("/api/send_orders", json=body, headers=keyed)
        assert (first.status_code, again.status_code) == (200, 200), again.text
        assert again.json() == first.json()
        assert first.json()["results"][0]["status"] == "executed"
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert "Idempotent-Replayed" not in first.headers
        assert await position(client, headers) == "0.08"  # one order, not two
        assert len(await entries(client, headers)) == 1

    async def test_the_key_with_another_body_is_409_and_sends_nothing(
        self, desk: tuple[FastAPI, ManualClock], client: httpx.AsyncClient
    ) -> None:
        _, headers, paper = await paper_user(client)
        keyed = headers | {"Idempotency-Key": "k1"}
        body = {**GOLD, "lots": 0.1, "accounts": [paper]}
        assert (await client.post("/api/send_orders", json=body, headers=keyed)).status_code == 200
        other = {**body, "lots": 0.2}
        response = await client.post("/api/send_orders", json=other, headers=keyed)
        assert (response.status_code, response.json()["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
        assert await position(client, headers) == "0.1"

    async def test_keys_are_per_user_and_without_a_key_every_request_sends(
        self, desk: tuple[FastAPI, ManualClock], client: httpx.AsyncClient
    ) -> None:
        _, mine, my_account = await paper_user(client)
        _, theirs, their_account = await paper_user(client)
        for headers, account in ((mine, my_account), (theirs, their_account)):
            body = {**GOLD, "lots": 0.1, "accounts": [account]}
            keyed = headers | {"Idempotency-Key": "same-key"}
            response = await client.post("/api/send_orders", json=body, headers=keyed)
            assert response.json()["results"][0]["status"] == "executed"
            await client.post("/api/send_orders", json=body, headers=headers)  # no key: sends
        assert await position(client, mine) == "0.2"
        assert await position(client, theirs) == "0.2"

    async def test_concurrent_retries_send_once(
        self, desk: tuple[FastAPI, ManualClock], client: httpx.AsyncClient
    ) -> None:
        _, headers, paper = await paper_user(client)
        body = {**GOLD, "lots": 0.1, "accounts": [paper]}
        keyed = headers | {"Idempotency-Key": "burst"}
        responses = await asyncio.gather(
            *(client.post("/api/send_orders", json=body, headers=keyed) for _ in range(5))
        )
        assert {r.status_code for r in responses} == {200}
        assert len({r.text for r in responses}) == 1
        assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 4
        assert await position(client, headers) == "0.1"

    @pytest.mark.parametrize("key", ["", "has space", "x" * 65, "tab\there"])
    async def test_a_malformed_key_is_422(
        self, desk: tuple[FastAPI, ManualClock], client: httpx.AsyncClient, key: str
    ) -> None:
        _, headers, paper = await paper_user(client)
        body = {**GOLD, "lots": 0.1, "accounts": [paper]}
        keyed = headers | {"Idempotency-Key": key}
        response = await client.post("/api/send_orders", json=body, headers=keyed)
        assert response.status_code == 422
        orders = await client.get("/api/paper-trading/orders", headers=headers)
        assert orders.json() == []


class TestSymbolMaps:
    async def test_the_account_map_applies_and_an_override_wins(
        self, desk: tuple[FastAPI, ManualClock], client: httpx.AsyncClient
    ) -> None:
        app, _ = desk
        fake = FakeMt5()
        app.state.wiring.brokers.factories["mt5"] = Mt5Broker(lambda: fake)
        _, headers = await user_with_token(client)
        mapped = {**MT5, "symbol_map": {"XAUUSD": "XAUUSD.vip"}}
        first = (await client.post("/api/accounts", json=mapped, headers=headers)).json()
        second = (await client.post("/api/accounts", json=mapped, headers=headers)).json()
        assert first["symbol_map"] == {"XAUUSD": "XAUUSD.vip"}
        _, root = await admin_headers(app, client, Role.SUPERADMIN)
        body = {**GOLD, "lots": 0.1, "target_accounts": [first["id"], second["id"]],
                "overrides": {str(second["id"]): {"symbol": "GOLD.raw"}}}  # fmt: skip
        created = (await client.post("/api/broadcast_orders", json=body, headers=root)).json()
        assert [t["symbol"] for t in created["targets"]] == ["XAUUSD.vip", "GOLD.raw"]
        await worker(app).work_once()
        assert [r["symbol"] for r in fake.requests] == ["XAUUSD.vip", "GOLD.raw"]

    async def test_a_bad_map_is_422(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        body = {**MT5, "symbol_map": {"XAUUSD": "bad symbol!"}}
        assert (await client.post("/api/accounts", json=body, headers=headers)).status_code == 422


class TestCloseNeverClosesMoreThanItOpened:
    """Issue 13, item 6: each close of a broadcast takes only what it opened and no close has
    taken yet, so the target's own position (opened outside the broadcast) is never touched."""

    async def opened(
        self, app: FastAPI, client: httpx.AsyncClient, own: str, lots: str
    ) -> tuple[dict[str, str], dict[str, str], int]:
        """A user holding ``own`` XAUUSD of their own, then ``lots`` more from a broadcast;
        return their headers, the superadmin's and the broadcast id."""
        _, headers, account = await paper_user(client)
        body = {**GOLD, "lots": own, "accounts": [account]}
        assert (await client.post("/api/send_orders", json=body, headers=headers)).json()["success"]
        _, root = await admin_headers(app, client, Role.SUPERADMIN)
        body = {**GOLD, "lots": lots, "target_accounts": [account]}
        created = await client.post("/api/broadcast_orders", json=body, headers=root)
        assert created.status_code == 201, created.text
        assert await worker(app).work_once() == 1
        return headers, root, created.json()["broadcasts"][0]["id"]

    async def test_sequential_closes_stop_at_what_it_opened(
        self, desk: tuple[FastAPI, ManualClock], client: httpx.AsyncClient
    ) -> None:
        app, _ = desk
        headers, root, broadcast_id = await self.opened(app, client, "0.05", "0.01")
        assert await position(client, headers) == "0.06"
        url = f"/api/broadcasts/{broadcast_id}/close"
        first = await client.post(url, json={"fraction": 1}, headers=root)
        assert first.status_code == 201, first.text
        assert [t["lots"] for t in first.json()["targets"]] == ["0.01"]
        for _ in range(2):  # before and after the worker sent the first close
            again = await client.post(url, json={"fraction": 1}, headers=root)
            assert again.status_code == 409, again.text
            assert again.json()["code"] == "NOTHING_LEFT_TO_CLOSE"
            await worker(app).work_once()
            assert await position(client, headers) == "0.05"
        state = (await client.get("/api/broadcast_status", headers=root)).json()
        assert [b["kind"] for b in state["broadcasts"]] == ["close", "open"]
        opening = next(t for t in state["targets"] if t["broadcast_id"] == broadcast_id)
        assert (opening["lots"], opening["closed_lots"]) == ("0.01", "0.01")

    async def test_partial_closes_add_up_to_what_it_opened(
        self, desk: tuple[FastAPI, ManualClock], client: httpx.AsyncClient
    ) -> None:
        app, _ = desk
        headers, root, broadcast_id = await self.opened(app, client, "0.05", "0.1")
        url = f"/api/broadcasts/{broadcast_id}/close"
        taken = []
        for _ in range(4):
            closed = await client.post(url, json={"fraction": 0.4}, headers=root)
            assert closed.status_code == 201, closed.text
            taken += [t["lots"] for t in closed.json()["targets"]]
            if taken[-1] == "0.02":
                break
        assert taken == ["0.04", "0.04", "0.02"]  # the last takes only what is left
        refused = await client.post(url, json={"fraction": 0.4}, headers=root)
        assert (refused.status_code, refused.json()["code"]) == (409, "NOTHING_LEFT_TO_CLOSE")
        await worker(app).work_once()
        assert await position(client, headers) == "0.05"

    async def test_concurrent_closes_close_once(
        self, desk: tuple[FastAPI, ManualClock], client: httpx.AsyncClient
    ) -> None:
        app, _ = desk
        headers, root, broadcast_id = await self.opened(app, client, "0.05", "0.01")
        url = f"/api/broadcasts/{broadcast_id}/close"
        answers = await asyncio.gather(
            *(client.post(url, json={"fraction": 1}, headers=root) for _ in range(10))
        )
        assert sorted(r.status_code for r in answers) == [201] + [409] * 9, [
            r.text for r in answers
        ]
        assert await worker(app).work_once() == 1
        assert await worker(app).work_once() == 0
        assert await position(client, headers) == "0.05"
        state = (await client.get("/api/broadcast_status", headers=root)).json()
        assert [b["kind"] for b in state["broadcasts"]] == ["close", "open"]

    async def test_a_retried_close_resends_only_what_surely_did_not_execute(
        self,
        desk: tuple[FastAPI, ManualClock],
        client: httpx.AsyncClient,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        app, _ = desk
        headers, root, broadcast_id = await self.opened(app, client, "0.05", "0.02")
        url = f"/api/broadcasts/{broadcast_id}/close"
        for failure, expected in (
            (BrokerRefused("market closed"), "0.06"),
            (TimeoutError(), "0.06"),
        ):

            async def failing(*_: object, failure: Exception = failure) -> None:
                raise failure

            closed = await client.post(url, json={"fraction": 0.5}, headers=root)
            assert [t["lots"] for t in closed.json()["targets"]] == ["0.01"]
            close_id = closed.json()["broadcasts"][0]["id"]
            monkeypatch.setattr(Worker, "_place", failing)
            await worker(app).work_once()
            monkeypatch.undo()
            state = await client.get(f"/api/broadcast_status?broadcast_id={close_id}", headers=root)
            assert [t["status"] for t in state.json()["targets"]] == ["failed"]
            again = await client.post(f"/api/broadcasts/{close_id}/retry", headers=root)
            assert again.status_code == 200
            await worker(app).work_once()
            # A refused close is sent again; one that timed out may have executed: never.
            assert await position(client, headers) == expected
        # The failed close keeps its share: a new close finds nothing left.
        refused = await client.post(url, json={"fraction": 1}, headers=root)
        assert (refused.status_code, refused.json()["code"]) == (409, "NOTHING_LEFT_TO_CLOSE")
        assert await position(client, headers) == "0.06"
