"""``GET /api/admin/books``: the check of the books on a consistent database and on one
corrupted behind Tradepit's back (a wallet's balance, a posting, a position)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tests.books import assert_books_balance
from tests.conftest import client_for, make_settings
from tests.factories import admin_headers, user_with_token
from tradepit.app import create_app
from tradepit.domain.accounts import Role

BOOKS = "/api/admin/books"
#: One unit of money as stored (10⁻⁸ units per unit: store/types.ExactDecimal).
ONE = 100_000_000


@pytest.fixture
async def app(tmp_path: Path, db: str) -> AsyncIterator[FastAPI]:
    """An app whose markets are always open, so a test can trade at any hour."""
    application = create_app(make_settings(tmp_path / "data", db, market_hours="always"))
    yield application
    await application.state.wiring.engine.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as http:
        yield http


async def traded(app: FastAPI, client: httpx.AsyncClient) -> dict[str, Any]:
    """Sign a user up and buy and sell shares (a position, fills, trades and charges in the
    ledger); return the user."""
    user, headers = await user_with_token(client)
    for side, quantity in (("BUY", "3"), ("SELL", "1")):
        body = {
            "symbol": "ITC",
            "order_type": "MARKET",
            "order_side": side,
            "quantity": quantity,
            "product": "CNC",
        }
        placed = await client.post("/api/paper-trading/orders", json=body, headers=headers)
        assert placed.status_code == 201, placed.text
        assert placed.json()["status"] == "filled"
    return user


async def books(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    answer = await client.get(BOOKS, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def execute(app: FastAPI, sql: str, **params: object) -> None:
    """Change the database directly, as a bug or a hand-made UPDATE would."""
    async with app.state.wiring.engine.begin() as conn:
        await conn.execute(text(sql), params)


async def scalar(app: FastAPI, sql: str, **params: object) -> Any:
    async with app.state.wiring.engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar_one()


async def cash_wallet(app: FastAPI, user_id: int) -> int:
    wallet_id: int = await scalar(
        app,
        "SELECT id FROM wallets WHERE user_id = :u AND name = 'cash' AND currency = 'INR'",
        u=user_id,
    )
    return wallet_id


class TestConsistent:
    async def test_the_books_balance_after_sign_ups_and_trades(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        await traded(app, client)
        _, admin = await admin_headers(app, client)
        body = await books(client, admin)
        assert body["balanced"] is True
        assert body["problems"] == []
        assert {c["currency"]: c["total"] for c in body["currencies"]}["INR"] == "0"
        assert all(c["balanced"] for c in body["currencies"])
        assert body["wallets_checked"] >= 4  # two users' cash, capital, market, fees
        assert body["positions_checked"] == 1
        assert body["wallets"] == body["positions"] == body["transactions"] == []
        await assert_books_balance(app.state.wiring.sessionmaker)

    async def test_a_superadmin_may_check_too(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        _, root = await admin_headers(app, client, Role.SUPERADMIN)
        assert (await books(client, root))["balanced"] is True


@pytest.mark.books_broken_on_purpose
class TestCorrupted:
    async def test_a_wallet_balance_changed_by_hand_is_reported(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        user = await traded(app, client)
        wallet_id = await cash_wallet(app, user["id"])
        before = await scalar(app, "SELECT balance FROM wallets WHERE id = :w", w=wallet_id)
        await execute(
            app, "UPDATE wallets SET balance = balance + :d WHERE id = :w", d=ONE, w=wallet_id
        )
        _, admin = await admin_headers(app, client)
        body = await books(client, admin)
        assert body["balanced"] is False
        assert body["wallets_count"] == 1
        [wallet] = body["wallets"]
        assert wallet["wallet_id"] == wallet_id and wallet["user_id"] == user["id"]
        assert (wallet["name"], wallet["currency"]) == ("cash", "INR")
        assert int(before) == round(float(wallet["expected"]) * ONE)
        assert wallet["difference"] == "1"
        # The ledger itself still balances: only the stored balance is wrong.
        assert body["transactions"] == [] and all(c["balanced"] for c in body["currencies"])
        assert body["problems"] == [
            f"wallet {wallet_id} (user {user['id']}, cash INR): balance {wallet['found']}, "
            f"entries sum to {wallet['expected']}"
        ]
        with pytest.raises(AssertionError, match=f"wallet {wallet_id}"):
            await assert_books_balance(app.state.wiring.sessionmaker)

    async def test_a_posting_changed_by_hand_unbalances_its_currency_and_transaction(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        user = await traded(app, client)
        wallet_id = await cash_wallet(app, user["id"])
        entry = await scalar(
            app, "SELECT max(id) FROM ledger_entries WHERE wallet_id = :w", w=wallet_id
        )
        transaction = await scalar(
            app, "SELECT transaction_id FROM ledger_entries WHERE id = :e", e=entry
        )
        await execute(
            app, "UPDATE ledger_entries SET amount = amount - :d WHERE id = :e", d=ONE, e=entry
        )
        _, admin = await admin_headers(app, client)
        body = await books(client, admin)
        assert body["balanced"] is False
        inr = next(c for c in body["currencies"] if c["currency"] == "INR")
        assert inr == {"currency": "INR", "total": "-1", "balanced": False}
        assert body["transactions"] == [
            {"transaction_id": transaction, "currency": "INR", "total": "-1"}
        ]
        [wallet] = body["wallets"]  # the balance no longer equals its entries either
        assert wallet["wallet_id"] == wallet_id and wallet["difference"] == "1"
        assert "ledger: INR sums to -1, not 0" in body["problems"]

    async def test_a_position_changed_by_hand_is_reported_against_its_fills(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        user = await traded(app, client)
        position_id = await scalar(app, "SELECT id FROM positions WHERE user_id = :u", u=user["id"])
        await execute(
            app, "UPDATE positions SET quantity = quantity + :d WHERE id = :p", d=ONE, p=position_id
        )
        _, admin = await admin_headers(app, client)
        body = await books(client, admin)
        assert body["balanced"] is False
        assert body["positions"] == [
            {
                "position_id": position_id,
                "user_id": user["id"],
                "tournament_id": None,
                "symbol": "ITC",
                "product": "CNC",
                "field": "quantity",
                "expected": "2",
                "found": "3",
            }
        ]
        assert body["wallets"] == [] and body["transactions"] == []

    async def test_fills_without_their_position_are_reported(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        user = await traded(app, client)
        await execute(app, "DELETE FROM positions WHERE user_id = :u", u=user["id"])
        _, admin = await admin_headers(app, client)
        body = await books(client, admin)
        found = [(p["position_id"], p["field"], p["found"]) for p in body["positions"]]
        assert found == [(None, "quantity", "0"), (None, "charges", "0")]
        assert body["positions"][0]["expected"] == "2"
        assert body["positions_count"] == 1
