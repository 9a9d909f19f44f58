"""Concurrent MARKET orders against one account: no overdraft, no lost or duplicated money.

The market clock stands still at a weekday noon in Mumbai, so every order sees the same quote
and identical orders cost exactly the same. A probe order on a throwaway account measures that
cost; the account under test is then funded with exactly ``N`` times it and fires ``2N``
orders at once.

Every test runs on SQLite and PostgreSQL; PostgreSQL is where races would show (SQLite's
``BEGIN IMMEDIATE`` serialises every writer).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.conftest import client_for, make_settings
from tests.factories import admin_headers, user_with_token
from tradepit.app import create_app
from tradepit.domain.clock import ManualClock
from tradepit.store.orders import FillRow, OrderRow, PositionRow
from tradepit.store.wallets import LedgerEntry, LedgerTransaction, Wallet

#: A Thursday at 12:00 IST: NSE is open.
OPEN = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)
#: Orders the wallet can pay for; the storm fires twice as many.
N = 100
RETRIES = 50
ORDERS = "/api/paper-trading/orders"
SYMBOL = "ITC"


@pytest.fixture
async def app(tmp_path: Path, db: str) -> AsyncIterator[FastAPI]:
    """An app at a weekday noon whose new users start with no money at all."""
    settings = make_settings(tmp_path / "data", db, starting_balance_inr=Decimal(0))
    application = create_app(settings, clock=ManualClock(OPEN))
    yield application
    await application.state.wiring.engine.dispose()


def order(quantity: str, side: str = "BUY", **extra: object) -> dict[str, object]:
    return {
        "symbol": SYMBOL,
        "order_type": "MARKET",
        "order_side": side,
        "quantity": quantity,
        # Delivery: paid in full in cash (an intraday long is carried on margin), so the
        # funds for N orders are exactly N times one order's cash.
        "product": "CNC",
        **extra,
    }


async def fund(
    client: httpx.AsyncClient, admin: dict[str, str], user_id: int, amount: Decimal
) -> None:
    """Credit ``amount`` INR to the user's cash through the admin route."""
    response = await client.post(
        f"/api/admin/users/{user_id}/wallet-adjustments",
        json={"currency": "INR", "amount": str(amount), "reason": "order storm"},
        headers=admin,
    )
    assert response.status_code == 201, response.text


async def cash(client: httpx.AsyncClient, headers: dict[str, str]) -> Decimal:
    """Return the caller's INR cash as the API reports it."""
    wallets = (await client.get("/api/paper-trading/wallet", headers=headers)).json()
    return Decimal(next(w["cash"] for w in wallets if w["currency"] == "INR"))


async def order_cost(
    client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, object]
) -> Decimal:
    """Return what one ``body`` order costs, measured on a throwaway account.

    The probe also creates the system wallets trades post to, so the storm races on the
    account under test alone.
    """
    probe, headers = await user_with_token(client)
    await fund(client, admin, probe["id"], Decimal(1_000_000))
    response = await client.post(ORDERS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "filled"
    cost = Decimal(1_000_000) - await cash(client, headers)
    assert cost > 0
    return cost


def outcome(response: httpx.Response) -> tuple[int, str]:
    """Return the status and error code (``""`` on success) of an order response."""
    if response.status_code in {200, 201}:
        return response.status_code, ""
    return response.status_code, str(response.json().get("code"))


@dataclass
class Books:
    """A user's INR cash wallet and everything posted against it, read from the database."""

    wallet: Wallet
    entries: list[LedgerEntry]
    orders: list[OrderRow]
    fills: list[FillRow]
    positions: list[PositionRow]
    trade_references: list[str | None]
    unbalanced: list[int]


async def books_of(app: FastAPI, user_id: int) -> Books:
    """Read the user's wallet, ledger, orders, fills and positions straight from the database."""
    async with app.state.wiring.sessionmaker() as session:
        wallet = (
            await session.scalars(
                select(Wallet).where(
                    Wallet.user_id == user_id, Wallet.name == "cash", Wallet.currency == "INR"
                )
            )
        ).one()
        entries = await session.scalars(
            select(LedgerEntry).where(LedgerEntry.wallet_id == wallet.id).order_by(LedgerEntry.id)
        )
        orders = await session.scalars(select(OrderRow).where(OrderRow.user_id == user_id))
        fills = await session.scalars(
            select(FillRow).join(OrderRow).where(OrderRow.user_id == user_id)
        )
        positions = await session.scalars(select(PositionRow).where(PositionRow.user_id == user_id))
        references = await session.scalars(
            select(LedgerTransaction.reference)
            .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
            .where(LedgerEntry.wallet_id == wallet.id, LedgerTransaction.kind == "trade")
        )
        unbalanced = await session.scalars(
            select(LedgerEntry.transaction_id)
            .group_by(LedgerEntry.transaction_id)
            .having(func.sum(LedgerEntry.amount) != Decimal(0))
        )
        return Books(
            wallet,
            list(entries),
            list(orders),
            list(fills),
            list(positions),
            list(references),
            list(unbalanced),
        )


def assert_money_is_sound(books: Books) -> None:
    """The wallet equals its entries, never went negative, and each order paid exactly once."""
    assert books.wallet.balance >= 0
    assert books.wallet.balance == sum((e.amount for e in books.entries), Decimal(0))
    # Never below zero at any point: every posting's running balance stayed non-negative.
    assert all(e.balance_after >= 0 for e in books.entries)
    assert books.unbalanced == []
    assert sorted(f.order_id for f in books.fills) == sorted(o.id for o in books.orders)
    assert sorted(str(r) for r in books.trade_references) == sorted(
        f"order:{o.id}" for o in books.orders
    )


async def buy_storm(
    app: FastAPI, clients: list[httpx.AsyncClient], fills: int, orders: int
) -> tuple[list[httpx.Response], Books]:
    """Fund a fresh account for exactly ``fills`` one-share buys, fire ``orders`` at once."""
    first = clients[0]
    _, admin = await admin_headers(app, first)
    cost = await order_cost(first, admin, order("1"))
    user, headers = await user_with_token(first)
    await fund(first, admin, user["id"], cost * fills)
    responses = await asyncio.gather(
        *(clients[i % len(clients)].post(ORDERS, json=order("1"), headers=headers)
          for i in range(orders))
    )  # fmt: skip
    return list(responses), await books_of(app, user["id"])


async def test_storm_never_overdraws_and_moves_money_once_per_fill(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    responses, books = await buy_storm(app, [client], N, 2 * N)

    outcomes = Counter(outcome(r) for r in responses)
    assert {status for status, _ in outcomes} <= {201, 409}, outcomes
    assert outcomes[201, ""] == N, outcomes
    filled = [r.json() for r in responses if r.status_code == 201]
    assert all(o["status"] == "filled" and len(o["fills"]) == 1 for o in filled)
    assert sorted(o.id for o in books.orders) == sorted(o["id"] for o in filled)
    assert len(books.fills) == N
    assert books.wallet.balance == 0
    assert_money_is_sound(books)


async def test_cash_for_n_orders_fills_exactly_n_of_2n(
    client: httpx.AsyncClient, app: FastAPI, db: str, request: pytest.FixtureRequest
) -> None:
    responses, books = await buy_storm(app, [client], N, 2 * N)

    assert len(books.positions) == 1
    position = books.positions[0].quantity
    assert position == sum((o.filled_quantity for o in books.orders), Decimal(0))
    assert position == sum((f.quantity for f in books.fills), Decimal(0))
    outcomes = Counter(outcome(r) for r in responses)
    assert outcomes == {(201, ""): N, (409, "INSUFFICIENT_FUNDS"): N}, outcomes
    assert len(books.fills) == N == position


async def test_storm_from_many_clients_at_once(
    app: FastAPI, db: str, request: pytest.FixtureRequest
) -> None:
    """One connection per client address rather than one shared client."""
    clients = [client_for(app, f"203.0.113.{i}") for i in range(10, 18)]
    try:
        responses, books = await buy_storm(app, clients, N // 2, N)
    finally:
        for http in clients:
            await http.aclose()
    assert_money_is_sound(books)
    outcomes = Counter(outcome(r) for r in responses)
    assert outcomes == {(201, ""): N // 2, (409, "INSUFFICIENT_FUNDS"): N // 2}, outcomes
    assert books.wallet.balance == 0
    assert books.positions[0].quantity == N // 2


async def test_concurrent_sells_sell_only_what_is_held(
    client: httpx.AsyncClient, app: FastAPI, db: str, request: pytest.FixtureRequest
) -> None:
    held = 10
    _, admin = await admin_headers(app, client)
    user, headers = await user_with_token(client)
    await fund(client, admin, user["id"], Decimal(100_000))
    # Delivery (CNC) cannot go short, so only what is held can be sold.
    bought = await client.post(ORDERS, json=order(str(held), product="CNC"), headers=headers)
    assert bought.status_code == 201, bought.text

    responses = await asyncio.gather(
        *(
            client.post(ORDERS, json=order("1", "SELL", product="CNC"), headers=headers)
            for _ in range(2 * held)
        )
    )

    books = await books_of(app, user["id"])
    assert_money_is_sound(books)
    outcomes = Counter(outcome(r) for r in responses)
    assert outcomes == {(201, ""): held, (400, "ORDER_REJECTED"): held}, outcomes
    assert books.positions[0].quantity == 0
    assert len(books.fills) == 1 + held


async def test_first_trades_at_once_share_one_system_wallet_per_currency(
    client: httpx.AsyncClient, app: FastAPI, db: str, request: pytest.FixtureRequest
) -> None:
    _, admin = await admin_headers(app, client)
    traders = []
    for _ in range(10):
        user, headers = await user_with_token(client)
        await fund(client, admin, user["id"], Decimal(100_000))
        traders.append(headers)

    responses = await asyncio.gather(
        *(client.post(ORDERS, json=order("1"), headers=h) for h in traders)
    )

    assert [r.status_code for r in responses] == [201] * len(traders)
    async with app.state.wiring.sessionmaker() as session:
        system = await session.scalars(select(Wallet).where(Wallet.user_id.is_(None)))
        names = Counter((w.name, w.currency) for w in system)
    assert names == {
        ("system:capital", "INR"): 1,
        ("system:market", "INR"): 1,
        ("system:fees", "INR"): 1,
    }


async def test_concurrent_retries_of_one_client_order_id_create_one_order(
    client: httpx.AsyncClient, app: FastAPI, db: str, request: pytest.FixtureRequest
) -> None:
    _, admin = await admin_headers(app, client)
    cost = await order_cost(client, admin, order("2"))
    user, headers = await user_with_token(client)
    await fund(client, admin, user["id"], cost * 10)
    body = order("2", client_order_id="storm-retry-1")

    responses = await asyncio.gather(
        *(client.post(ORDERS, json=body, headers=headers) for _ in range(RETRIES))
    )

    books = await books_of(app, user["id"])
    assert len(books.orders) == 1 and len(books.fills) == 1
    assert await cash(client, headers) == cost * 9
    assert_money_is_sound(books)
    outcomes = Counter(outcome(r) for r in responses)
    assert outcomes == {(201, ""): 1, (200, ""): RETRIES - 1}, outcomes
    assert {r.json()["id"] for r in responses} == {books.orders[0].id}
    assert books.positions[0].quantity == 2


async def test_concurrent_reuse_with_other_bodies_is_409_for_those_alone(
    client: httpx.AsyncClient, app: FastAPI, db: str, request: pytest.FixtureRequest
) -> None:
    _, admin = await admin_headers(app, client)
    user, headers = await user_with_token(client)
    await fund(client, admin, user["id"], Decimal(100_000))
    bodies = [order(str(1 + i % 2), client_order_id="storm-mixed") for i in range(RETRIES)]

    responses = await asyncio.gather(
        *(client.post(ORDERS, json=b, headers=headers) for b in bodies)
    )

    books = await books_of(app, user["id"])
    assert len(books.orders) == 1 and len(books.fills) == 1
    assert_money_is_sound(books)
    created = [r.json() for r in responses if r.status_code == 201]
    assert len(created) == 1
    winner = created[0]["quantity"]
    for body, response in zip(bodies, responses, strict=True):
        if body["quantity"] == winner:
            assert response.status_code in {200, 201}, response.text
            assert response.json()["id"] == created[0]["id"]
        else:
            assert response.status_code == 409, response.text
            assert response.json()["code"] == "DUPLICATE_CLIENT_ORDER_ID"
    assert books.positions[0].quantity == Decimal(winner)
