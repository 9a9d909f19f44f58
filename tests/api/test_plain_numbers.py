"""Amounts, prices and quantities in plain decimal notation only (issue 13, "Harden", item A).

``Decimal()`` and Pydantic read ``"1_000"``, a full-width ``"1"``, ``"+1"``, ``" 1"`` and
``"1."`` as numbers; every route refuses them with 422 and says what it takes, and writes
nothing. JSON numbers stay accepted, and a minus sign where the field allows negatives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import app_at
from tests.factories import admin_headers, user_with_token
from tradepit.domain.clock import ManualClock
from tradepit.domain.money import PLAIN_NOTATION, PLAIN_PATTERN

T0 = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)  # Thursday, noon in Mumbai: every venue open
#: What ``Decimal()`` reads as 1000, 1, 1, 1 and 1.
LOOSE = ["1_000", "\uff11", "+1", " 1", "1."]


@pytest.fixture
async def app(tmp_path: Path, db: str) -> AsyncIterator[FastAPI]:
    async with app_at(
        tmp_path / "data", db, ManualClock(T0), starting_balance_usdt="1000"
    ) as application:
        yield application


def refused_as_loose(response: httpx.Response, field: str) -> None:
    """Assert a 422 that names the field and says what notation it takes."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert body["message"] == f"body.{field}: must be {PLAIN_NOTATION}"
    assert [(e["field"], e["type"]) for e in body["detail"]] == [(f"body.{field}", "plain_decimal")]


async def wallets(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    answer = await client.get("/api/paper-trading/wallet", headers=headers)
    return {w["currency"]: w["cash"] for w in answer.json()}


class TestOrders:
    @pytest.mark.parametrize("text", LOOSE)
    async def test_a_loose_quantity_or_price_is_422_and_places_nothing(
        self, client: httpx.AsyncClient, text: str
    ) -> None:
        _, headers = await user_with_token(client)
        before = await wallets(client, headers)
        for field, body in [
            ("quantity", {"order_type": "MARKET", "quantity": text}),
            ("price", {"order_type": "LIMIT", "quantity": "1", "price": text}),
        ]:
            response = await client.post(
                "/api/paper-trading/orders",
                json={"symbol": "RELIANCE", "order_side": "BUY", "product": "CNC", **body},
                headers=headers,
            )
            refused_as_loose(response, field)
        orders = await client.get("/api/paper-trading/orders", headers=headers)
        assert orders.json() == []
        assert await wallets(client, headers) == before

    @pytest.mark.parametrize("quantity", ["2", "2.0", "002", 2, 2.0])
    async def test_plain_text_and_json_numbers_are_accepted(
        self, client: httpx.AsyncClient, quantity: Any
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.post(
            "/api/paper-trading/orders",
            json={
                "symbol": "RELIANCE",
                "order_type": "MARKET",
                "order_side": "BUY",
                "quantity": quantity,
                "product": "CNC",
            },
            headers=headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["filled_quantity"] == "2"

    async def test_a_negative_quantity_is_out_of_range_not_loose(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.post(
            "/api/paper-trading/orders",
            json={"symbol": "RELIANCE", "order_type": "MARKET", "order_side": "BUY",
                  "quantity": "-3", "product": "CNC"},
            headers=headers,
        )  # fmt: skip
        assert response.status_code == 422
        assert response.json()["detail"][0]["type"] == "greater_than"


class TestBets:
    @pytest.mark.parametrize("text", LOOSE)
    async def test_a_loose_stake_is_422_and_debits_nothing(
        self, client: httpx.AsyncClient, text: str
    ) -> None:
        user, headers = await user_with_token(client)
        response = await client.post(
            "/api/bet",
            json={"telegram": user["telegram"], "amount": text, "direction": "long", "time": 5},
            headers=headers,
        )
        refused_as_loose(response, "amount")
        assert (await client.get("/api/bets", headers=headers)).json() == {"bets": []}
        assert (await wallets(client, headers))["USDT"] == "1000"

    @pytest.mark.parametrize(("amount", "left"), [(12.5, "987.5"), ("12.50", "987.5")])
    async def test_a_json_number_or_plain_text_is_staked_exactly(
        self, client: httpx.AsyncClient, amount: Any, left: str
    ) -> None:
        user, headers = await user_with_token(client)
        response = await client.post(
            "/api/bet",
            json={"telegram": user["telegram"], "amount": amount, "direction": "long", "time": 5},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        assert (await wallets(client, headers))["USDT"] == left


class TestWalletAdjustments:
    @pytest.mark.parametrize("text", [*LOOSE, "-1_000", "- 1", "1e3", "-.5", "\u0661"])
    async def test_a_loose_amount_is_422_and_moves_nothing(
        self, client: httpx.AsyncClient, app: FastAPI, text: str
    ) -> None:
        user, headers = await user_with_token(client)
        _, admin = await admin_headers(app, client)
        response = await client.post(
            f"/api/admin/users/{user['id']}/wallet-adjustments",
            json={"currency": "USDT", "amount": text, "reason": "loose notation"},
            headers=admin,
        )
        refused_as_loose(response, "amount")
        assert (await wallets(client, headers))["USDT"] == "1000"

    @pytest.mark.parametrize(("amount", "after"), [("-3", "997"), (-3, "997"), ("0.5", "1000.5")])
    async def test_a_minus_sign_debits_where_negatives_are_allowed(
        self, client: httpx.AsyncClient, app: FastAPI, amount: Any, after: str
    ) -> None:
        user, _ = await user_with_token(client)
        _, admin = await admin_headers(app, client)
        response = await client.post(
            f"/api/admin/users/{user['id']}/wallet-adjustments",
            json={"currency": "USDT", "amount": amount, "reason": "signed amount"},
            headers=admin,
        )
        assert response.status_code == 201, response.text
        assert response.json()["balance_after"] == after


class TestOtherRoutes:
    async def test_a_loose_csv_cell_fails_its_row_and_imports_nothing(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        text = "broker,pnl,max_risk\npaper,-12.5,2\npaper,1_000,2\n"
        response = await client.post(
            "/api/accounts/import", content=text, headers={**headers, "Content-Type": "text/csv"}
        )
        assert response.status_code == 422, response.text
        report = response.json()
        assert [(e["row"], e["errors"]) for e in report["errors"]] == [
            (2, [f"pnl: must be {PLAIN_NOTATION}"])
        ]
        assert (await client.get("/api/fetch_csv", headers=headers)).json() == []

    async def test_a_loose_calculator_price_is_422(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        response = await client.post(
            "/api/calculate",
            json={"symbol": "XAUUSD", "portfolioSize": "10_000", "riskPercent": 1,
                  "stopLoss": 2340, "entryPrice1": 2350},
            headers=headers,
        )  # fmt: skip
        assert response.status_code == 422
        assert response.json()["detail"][0]["type"] == "plain_decimal"

    async def test_stored_rules_are_written_plainly_and_read_back(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        # A tournament's rules are kept as JSON and read back through the request schema:
        # a tiny min_price used to be kept as "1E-7", which the rule now refuses.
        _, admin = await admin_headers(app, client)
        created = await client.post(
            "/api/admin/tournaments",
            json={
                "name": "tiny prices",
                "start_time": (T0 + timedelta(hours=1)).isoformat(),
                "end_time": (T0 + timedelta(hours=2)).isoformat(),
                "starting_capital": "1000000",
                "rules": {"min_price": "0.0000001", "max_position_pct": 1e1},
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        assert created.json()["rules"]["min_price"] == "0.0000001"
        _, headers = await user_with_token(client)
        joined = await client.post(f"/api/tournaments/{created.json()['id']}/join", headers=headers)
        assert joined.status_code == 201, joined.text
        shown = await client.get(f"/api/tournaments/{created.json()['id']}", headers=headers)
        assert shown.json()["rules"]["min_price"] == "0.0000001"
        assert Decimal(shown.json()["rules"]["max_position_pct"]) == 10

    async def test_the_openapi_schema_shows_the_rule_on_every_number_field(
        self, client: httpx.AsyncClient
    ) -> None:
        # A request field that takes a number or a string is a Decimal: each must carry the
        # rule (schemas.wallets.PLAIN), or a new field would take loose text unnoticed.
        openapi = (await client.get("/openapi.json")).json()
        found: list[dict[str, Any]] = []

        def walk(node: object) -> None:
            if isinstance(node, dict):
                types = [b.get("type") for b in node.get("anyOf", []) if isinstance(b, dict)]
                if "number" in types and "string" in types:
                    found.append(node)
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(openapi)
        assert len(found) >= 20  # orders, bets, adjustments, calculator, tournaments, ...
        for node in found:
            strings = [b for b in node["anyOf"] if b.get("type") == "string"]
            assert strings == [{"type": "string", "pattern": PLAIN_PATTERN}], node
        stake = openapi["components"]["schemas"]["BetCreate"]["properties"]["amount"]
        assert stake in found
