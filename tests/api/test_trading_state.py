"""Reads of what a user holds (wallets, positions, open orders) answered from memory: every
change is seen at once by the next read, and a read needs no database round trip."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from tests.api.test_orders import app, order
from tests.api.test_wallets import adjust
from tests.factories import admin_headers, user_with_token
from tradepit.settings import Settings
from tradepit.store.db import create_engine
from tradepit.store.wallets import Wallet

__all__ = ["app"]  # the market clock at a weekday noon in Mumbai: NSE trades

WALLET = "/api/paper-trading/wallet"
POSITIONS = "/api/paper-trading/positions"
OPEN = "/api/paper-trading/orders?status=open"
ORDERS = "/api/paper-trading/orders"


async def reads(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    """Return what the user reads of their wallet, positions and open orders."""
    found = {}
    for path in (WALLET, POSITIONS, OPEN, "/api/paper-trading/portfolio"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        found[path] = response.json()
    return found


def below(app: FastAPI, symbol: str) -> str:
    """Return a limit price a tick-grid step or so under the bid: the order rests."""
    bid = app.state.wiring.market.tick(symbol).bid
    return str((bid * Decimal("0.97")).quantize(Decimal("1")))


class TestEveryChangeIsSeen:
    async def test_a_resting_order_its_cancel_and_a_fill_show_in_the_next_reads(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        before = await reads(client, headers)
        assert before[OPEN] == [] and before[POSITIONS] == []
        limit = below(app, "RELIANCE")
        placed = await client.post(
            ORDERS,
            json=order("RELIANCE", "BUY", "2", order_type="LIMIT", price=limit, product="CNC"),
            headers=headers,
        )
        assert placed.status_code == 201 and placed.json()["status"] == "open"
        resting = await reads(client, headers)
        assert [o["id"] for o in resting[OPEN]] == [placed.json()["id"]]
        assert Decimal(resting[WALLET][0]["blocked"]) >= 2 * Decimal(limit)

        cancelled = await client.delete(f"{ORDERS}/{placed.json()['id']}", headers=headers)
        assert cancelled.status_code == 200
        after = await reads(client, headers)
        assert after[OPEN] == [] and after[WALLET][0]["blocked"] == "0"

        bought = await client.post(
            ORDERS, json=order("RELIANCE", "BUY", "3", product="CNC"), headers=headers
        )
        assert bought.status_code == 201
        held = await reads(client, headers)
        assert [(p["symbol"], p["quantity"]) for p in held[POSITIONS]] == [("RELIANCE", "3")]
        cost = Decimal(bought.json()["average_price"]) * 3 + Decimal(bought.json()["charges"])
        assert Decimal(held[WALLET][0]["cash"]) == Decimal(100000) - cost

    async def test_an_admins_adjustment_shows_in_the_users_next_read(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user, headers = await user_with_token(client)
        await reads(client, headers)
        _, admin = await admin_headers(app, client)
        assert (await adjust(client, admin, user["id"], "USDT", "42.5")).status_code == 201
        wallet = (await client.get(WALLET, headers=headers)).json()
        assert {w["currency"]: w["cash"] for w in wallet}["USDT"] == "42.5"

    async def test_one_users_change_leaves_anothers_reads_alone(
        self, client: httpx.AsyncClient
    ) -> None:
        _, alice = await user_with_token(client)
        _, bob = await user_with_token(client)
        bobs = await reads(client, bob)
        bought = await client.post(ORDERS, json=order("ITC", "BUY", "1"), headers=alice)
        assert bought.status_code == 201
        assert await reads(client, bob) == bobs
        assert [p["symbol"] for p in (await reads(client, alice))[POSITIONS]] == ["ITC"]


async def block_behind_the_servers_back(db: str, user_id: int) -> None:
    """Block 7 of the user's INR as another program would: on its own connection, telling
    the server nothing."""
    other = create_engine(db)
    try:
        async with other.begin() as connection:
            await connection.execute(
                update(Wallet)
                .where(Wallet.user_id == user_id, Wallet.currency == "INR")
                .values(blocked=Decimal(7))
            )
    finally:
        await other.dispose()


@pytest.mark.books_broken_on_purpose  # another program blocks money no order holds
class TestMemory:
    async def test_a_read_needs_no_database_and_what_others_write_is_found_stale(
        self, client: httpx.AsyncClient, app: FastAPI, db: str
    ) -> None:
        """Another program writing the database behind the server's back is not seen (the
        read comes from memory); the check that ``tradepit check`` and the tests run says
        so; once told, the server reads the database again."""
        user, headers = await user_with_token(client)
        first = (await client.get(WALLET, headers=headers)).json()
        await block_behind_the_servers_back(db, user["id"])
        assert (await client.get(WALLET, headers=headers)).json() == first
        state = app.state.wiring.trading
        problems = await state.stale()
        assert len(problems) == 1 and f"user {user['id']}'s wallets" in problems[0]
        state.changed({user["id"]})
        wallet = (await client.get(WALLET, headers=headers)).json()
        assert wallet[0]["blocked"] == "7" and wallet[0]["available"] == "99993"

    async def test_without_memory_every_read_goes_to_the_database(
        self, client: httpx.AsyncClient, app: FastAPI, db: str
    ) -> None:
        state = app.state.wiring.trading
        state.keep = False  # as on PostgreSQL, where other processes write
        user, headers = await user_with_token(client)
        await client.get(WALLET, headers=headers)
        await block_behind_the_servers_back(db, user["id"])
        assert (await client.get(WALLET, headers=headers)).json()[0]["blocked"] == "7"
        assert await state.stale() == []


STEPS = st.lists(
    st.sampled_from(["limit", "market_buy", "market_sell", "cancel", "modify", "adjust"]),
    min_size=1,
    max_size=8,
)


class TestProperty:
    @settings(
        max_examples=8,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(steps=STEPS)
    async def test_after_any_run_of_changes_memory_equals_the_database(
        self, client: httpx.AsyncClient, app: FastAPI, steps: list[str]
    ) -> None:
        """Whatever a user and an admin do, each read between their changes answers what
        the database holds (the memory is compared with it after every step)."""
        user, headers = await user_with_token(client)
        _, admin = await admin_headers(app, client)
        state = app.state.wiring.trading
        for step in steps:
            resting = (await client.get(OPEN, headers=headers)).json()
            if step == "limit":
                body = order("SBIN", "BUY", "1", order_type="LIMIT", price=below(app, "SBIN"))
                await client.post(ORDERS, json=body, headers=headers)
            elif step == "market_buy":
                await client.post(ORDERS, json=order("SBIN", "BUY", "1"), headers=headers)
            elif step == "market_sell":
                await client.post(ORDERS, json=order("SBIN", "SELL", "1"), headers=headers)
            elif step == "cancel" and resting:
                await client.delete(f"{ORDERS}/{resting[0]['id']}", headers=headers)
            elif step == "modify" and resting:
                await client.put(
                    f"{ORDERS}/{resting[0]['id']}", json={"quantity": "2"}, headers=headers
                )
            elif step == "adjust":
                await adjust(client, admin, user["id"], "INR", "10")
            await reads(client, headers)
            assert await state.stale() == []


class TestWhereItIsKept:
    @pytest.mark.parametrize(
        ("values", "kept"),
        [
            ({}, True),  # the embedded SQLite file: one process
            ({"redis_url": "redis://127.0.0.1:6379/0"}, False),  # several processes share it
            ({"database_url": "postgresql+asyncpg://db/tradepit"}, False),
            ({"database_url": "postgresql+asyncpg://db/tradepit", "trading_state_in_memory": True},
             True),  # the operator knows nothing else writes
            ({"trading_state_in_memory": False}, False),
        ],
    )  # fmt: skip
    def test_only_a_processes_own_database_is_kept_in_memory_by_default(
        self, tmp_path: Path, values: dict[str, Any], kept: bool
    ) -> None:
        settings = Settings(_env_file=None, data_dir=tmp_path, **values)
        assert settings.keeps_trading_state is kept
