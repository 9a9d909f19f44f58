"""Wallets, the ledger and admin adjustments, as a user and an operator see them."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.factories import admin_headers, user_with_token
from tradepit.domain.accounts import Role
from tradepit.store.audit import AuditEntry
from tradepit.store.wallets import Wallet, entries_sum


async def adjust(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    user_id: int,
    currency: str,
    amount: str,
    reason: str = "test adjustment",
) -> httpx.Response:
    return await client.post(
        f"/api/admin/users/{user_id}/wallet-adjustments",
        json={"currency": currency, "amount": amount, "reason": reason},
        headers=headers,
    )


class TestWallet:
    async def test_sign_up_funds_inr_and_opens_usdt_and_usd(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.get("/api/paper-trading/wallet", headers=headers)
        assert response.status_code == 200
        assert response.json() == [
            {"currency": "INR", "cash": "100000", "blocked": "0", "available": "100000"},
            {"currency": "USDT", "cash": "0", "blocked": "0", "available": "0"},
            {"currency": "USD", "cash": "0", "blocked": "0", "available": "0"},
        ]

    async def test_needs_login(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/api/paper-trading/wallet")).status_code == 401
        assert (await client.get("/api/paper-trading/ledger")).status_code == 401


class TestAdjustments:
    async def test_credit_then_debit_moves_the_balance_exactly(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user, headers = await user_with_token(client)
        _, admin = await admin_headers(app, client)
        credit = await adjust(client, admin, user["id"], "USDT", "250.12345678", "welcome bonus")
        assert credit.status_code == 201
        assert credit.json()["balance_after"] == "250.12345678"
        debit = await adjust(client, admin, user["id"], "USDT", "-0.12345678")
        assert debit.json()["balance_after"] == "250"
        login = await client.post(
            "/api/login", json={"username": user["username"], "password": "password123"}
        )
        assert login.json()["balance"] == 250.0
        wallets = (await client.get("/api/paper-trading/wallet", headers=headers)).json()
        assert next(w for w in wallets if w["currency"] == "USDT")["cash"] == "250"

    async def test_overdraft_is_409_and_writes_nothing(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user, headers = await user_with_token(client)
        _, admin = await admin_headers(app, client)
        response = await adjust(client, admin, user["id"], "INR", "-100000.01")
        assert response.status_code == 409
        assert response.json()["code"] == "INSUFFICIENT_FUNDS"
        ledger = (
            await client.get("/api/paper-trading/ledger?currency=INR", headers=headers)
        ).json()
        assert ledger["total"] == 1  # only the starting balance
        assert (await client.get("/api/paper-trading/wallet", headers=headers)).json()[0][
            "cash"
        ] == "100000"

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"currency": "EUR", "amount": "1", "reason": "bad currency"}, "currency"),
            ({"currency": "INR", "amount": "0", "reason": "zero"}, "amount"),
            ({"currency": "INR", "amount": "1.000000001", "reason": "too fine"}, "amount"),
            ({"currency": "INR", "amount": "NaN", "reason": "not a number"}, "amount"),
            ({"currency": "INR", "amount": "1"}, "reason"),
            ({"currency": "INR", "amount": "1", "reason": "fine reason", "extra": 1}, "extra"),
        ],
    )
    async def test_bad_bodies_are_422_naming_the_field(
        self, client: httpx.AsyncClient, app: FastAPI, body: dict[str, object], field: str
    ) -> None:
        user, _ = await user_with_token(client)
        _, admin = await admin_headers(app, client)
        response = await client.post(
            f"/api/admin/users/{user['id']}/wallet-adjustments", json=body, headers=admin
        )
        assert response.status_code == 422
        assert field in response.json()["message"]

    async def test_only_admins_adjust(self, client: httpx.AsyncClient) -> None:
        user, headers = await user_with_token(client)
        response = await adjust(client, headers, user["id"], "INR", "1000")
        assert response.status_code == 403

    async def test_unknown_user_is_404(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        _, admin = await admin_headers(app, client)
        response = await adjust(client, admin, 999_999, "INR", "1")
        assert response.status_code == 404

    async def test_is_audited_with_reason_and_amount(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user, _ = await user_with_token(client)
        admin_id, admin = await admin_headers(app, client, Role.SUPERADMIN)
        await adjust(client, admin, user["id"], "INR", "-500", "penalty for abuse")
        async with app.state.wiring.sessionmaker() as session:
            entry = (
                await session.scalars(
                    select(AuditEntry).where(AuditEntry.action == "admin.wallet.adjust")
                )
            ).one()
        assert entry.actor_id == admin_id and entry.target == f"user:{user['id']}"
        assert entry.details["amount"] == "-500" and entry.details["reason"] == "penalty for abuse"


class TestLedger:
    async def test_pages_newest_first_and_filters_by_currency(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user, headers = await user_with_token(client)
        _, admin = await admin_headers(app, client)
        for amount in ("1", "2", "3"):
            await adjust(client, admin, user["id"], "USD", amount)
        page = (
            await client.get("/api/paper-trading/ledger?currency=USD&limit=2", headers=headers)
        ).json()
        assert page["total"] == 3 and page["limit"] == 2 and page["page"] == 1
        assert [e["amount"] for e in page["entries"]] == ["3", "2"]
        assert [e["balance_after"] for e in page["entries"]] == ["6", "3"]
        assert all(
            e["currency"] == "USD" and e["kind"] == "admin_adjustment" for e in page["entries"]
        )
        second = (
            await client.get(
                "/api/paper-trading/ledger?currency=USD&limit=2&page=2", headers=headers
            )
        ).json()
        assert [e["amount"] for e in second["entries"]] == ["1"]

    async def test_shows_only_my_entries(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        alice, alice_headers = await user_with_token(client)
        _, bob_headers = await user_with_token(client)
        _, admin = await admin_headers(app, client)
        await adjust(client, admin, alice["id"], "USDT", "42")
        bob = (
            await client.get("/api/paper-trading/ledger?currency=USDT", headers=bob_headers)
        ).json()
        assert bob["total"] == 0
        mine = (
            await client.get("/api/paper-trading/ledger?currency=USDT", headers=alice_headers)
        ).json()
        assert mine["total"] == 1

    async def test_limit_is_capped_at_1000(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        response = await client.get("/api/paper-trading/ledger?limit=1001", headers=headers)
        assert response.status_code == 422

    async def test_balances_equal_the_sum_of_their_entries(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user, _ = await user_with_token(client)
        _, admin = await admin_headers(app, client)
        for amount in ("10.5", "-3.25", "0.00000001", "-7.25000001"):
            await adjust(client, admin, user["id"], "USDT", amount)
        async with app.state.wiring.sessionmaker() as session:
            wallets = list(await session.scalars(select(Wallet)))
            for wallet in wallets:
                assert wallet.balance == await entries_sum(session, wallet.id)
            assert sum((w.balance for w in wallets if w.currency == "USDT"), Decimal(0)) == 0
