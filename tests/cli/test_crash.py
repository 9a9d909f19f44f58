"""``tradepit serve`` killed with SIGKILL under order load loses nothing it acknowledged.

The real server runs as a subprocess on loopback with its SQLite file in a temporary data
directory. A background task streams MARKET orders with unique client_order_ids; the server
is killed mid-stream, restarted on the same data directory, and the books are reconciled:
every acknowledged order is there and filled, no order lacks its fill or ledger transaction
(or the other way round), every wallet equals the sum of its entries and every position the
sum of its fills.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from bench.server import TRADEPIT, serving

from tests.factories import PASSWORD

LOAD_SECONDS = 1.5
WORKERS = 4
#: Acknowledged orders the stream must reach before the crash.
UNDER_WAY = 20
ORDERS = "/api/paper-trading/orders"
#: Buy-only stream over two symbols and products: every acknowledged order must be filled.
STREAM = [("ITC", "MIS", "1"), ("SBIN", "CNC", "2"), ("ITC", "CNC", "3"), ("SBIN", "MIS", "1")]

pytestmark = pytest.mark.skipif(not TRADEPIT.exists(), reason=f"{TRADEPIT} is not installed")


@dataclass
class Load:
    """What the order stream sent and what the server acknowledged."""

    acknowledged: dict[str, int] = field(default_factory=dict)
    in_doubt: dict[str, dict[str, str]] = field(default_factory=dict)
    refused: list[tuple[int, str]] = field(default_factory=list)
    sent: int = 0
    #: Set once ``UNDER_WAY`` orders were acknowledged.
    under_way: asyncio.Event = field(default_factory=asyncio.Event)


def order_body(number: int) -> dict[str, str]:
    symbol, product, quantity = STREAM[number % len(STREAM)]
    return {
        "symbol": symbol,
        "order_type": "MARKET",
        "order_side": "BUY",
        "quantity": quantity,
        "product": product,
        "client_order_id": f"crash-{number:06d}",
    }


async def stream_orders(
    http: httpx.AsyncClient, headers: dict[str, str], load: Load, numbers: Iterator[int]
) -> None:
    """Post orders until the server stops answering; record each outcome."""
    for number in numbers:
        body = order_body(number)
        load.sent += 1
        try:
            response = await http.post(ORDERS, json=body, headers=headers)
        except httpx.TransportError:
            # Sent, never answered: it may or may not have been committed.
            load.in_doubt[body["client_order_id"]] = body
            return
        if response.status_code == 201:
            load.acknowledged[body["client_order_id"]] = response.json()["id"]
            if len(load.acknowledged) >= UNDER_WAY:
                load.under_way.set()
        else:
            load.refused.append((response.status_code, response.text))


async def register(http: httpx.AsyncClient) -> tuple[int, dict[str, str]]:
    """Register and log in a trader; return their id and auth headers."""
    response = await http.post("/api/register", json={"username": "crash", "password": PASSWORD})
    assert response.status_code == 201, response.text
    user_id: int = response.json()["id"]
    response = await http.post("/api/login", json={"username": "crash", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return user_id, {"Authorization": f"Bearer {response.json()['access_token']}"}


async def all_orders(http: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, str]]:
    """Return every order of the caller through the paged API."""
    found: list[dict[str, str]] = []
    page = 1
    while True:
        response = await http.get(
            ORDERS, params={"page": page, "limit": 1000}, headers=headers, timeout=30
        )
        assert response.status_code == 200, response.text
        body = response.json()
        found.extend(body)
        if len(found) >= int(response.headers["X-Total-Count"]) or not body:
            return found
        page += 1


def reconcile(database: Path) -> dict[str, list[tuple[object, ...]]]:
    """Return every inconsistency in the SQLite books, by check; all lists empty when sound."""
    checks = {
        "integrity": "PRAGMA integrity_check",
        "orders without a fill": """
            SELECT o.id FROM orders o LEFT JOIN fills f ON f.order_id = o.id
            WHERE f.id IS NULL""",
        "fills without an order": """
            SELECT f.id FROM fills f LEFT JOIN orders o ON o.id = f.order_id
            WHERE o.id IS NULL""",
        "orders whose fills do not add up": """
            SELECT o.id, o.filled_quantity, SUM(f.quantity) FROM orders o
            JOIN fills f ON f.order_id = o.id
            GROUP BY o.id HAVING o.filled_quantity != SUM(f.quantity)
                OR o.status != 'filled' OR o.quantity != o.filled_quantity""",
        "orders without a trade transaction": """
            SELECT o.id FROM orders o LEFT JOIN ledger_transactions t
            ON t.kind = 'trade' AND t.reference = 'order:' || o.id
            WHERE t.id IS NULL""",
        "trade transactions without an order": """
            SELECT t.id, t.reference FROM ledger_transactions t
            LEFT JOIN orders o ON t.reference = 'order:' || o.id
            WHERE t.kind = 'trade' AND o.id IS NULL""",
        "orders with several trade transactions": """
            SELECT reference, COUNT(*) FROM ledger_transactions WHERE kind = 'trade'
            GROUP BY reference HAVING COUNT(*) > 1""",
        "transactions without entries": """
            SELECT t.id FROM ledger_transactions t
            LEFT JOIN ledger_entries e ON e.transaction_id = t.id WHERE e.id IS NULL""",
        "unbalanced transactions": """
            SELECT transaction_id, SUM(amount) FROM ledger_entries
            GROUP BY transaction_id HAVING SUM(amount) != 0""",
        "wallets that differ from their entries": """
            SELECT w.id, w.balance, COALESCE(SUM(e.amount), 0) FROM wallets w
            LEFT JOIN ledger_entries e ON e.wallet_id = w.id
            GROUP BY w.id HAVING w.balance != COALESCE(SUM(e.amount), 0)""",
        "negative user wallets": """
            SELECT id, balance FROM wallets WHERE user_id IS NOT NULL AND balance < 0""",
        "positions that differ from their fills": """
            SELECT p.id, p.quantity, COALESCE(SUM(
                CASE o.side WHEN 'BUY' THEN f.quantity ELSE -f.quantity END), 0)
            FROM positions p
            LEFT JOIN orders o ON o.user_id = p.user_id AND o.symbol = p.symbol
                AND o.product = p.product
            LEFT JOIN fills f ON f.order_id = o.id
            GROUP BY p.id
            HAVING p.quantity != COALESCE(SUM(
                CASE o.side WHEN 'BUY' THEN f.quantity ELSE -f.quantity END), 0)""",
        "fills without a position": """
            SELECT DISTINCT o.user_id, o.symbol, o.product FROM orders o
            JOIN fills f ON f.order_id = o.id
            LEFT JOIN positions p ON p.user_id = o.user_id AND p.symbol = o.symbol
                AND p.product = o.product
            WHERE p.id IS NULL""",
    }
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        found = {name: conn.execute(sql).fetchall() for name, sql in checks.items()}
    found["integrity"] = [row for row in found["integrity"] if row != ("ok",)]
    return found


async def test_sigkill_under_order_load_loses_no_acknowledged_order(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    load = Load()

    async with serving(data_dir, "first") as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as http:
            user_id, headers = await register(http)
            numbers = itertools.count()
            workers = asyncio.gather(
                *(stream_orders(http, headers, load, numbers) for _ in range(WORKERS))
            )
            try:
                await asyncio.sleep(LOAD_SECONDS)
                # Make sure the stream is well under way before the crash.
                await asyncio.wait_for(load.under_way.wait(), timeout=10)
                os.kill(server.process.pid, signal.SIGKILL)
                await asyncio.wait_for(workers, timeout=15)
            finally:
                if not workers.done():
                    workers.cancel()
        assert await server.process.wait() == -signal.SIGKILL

    assert load.refused == []
    assert len(load.acknowledged) >= UNDER_WAY, load
    acknowledged_ids = set(load.acknowledged.values())
    assert len(acknowledged_ids) == len(load.acknowledged)

    async with (
        serving(data_dir, "second") as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as http,
    ):
        # The token survives the restart: the signing key lives in the data directory.
        listed = await all_orders(http, headers)
        by_id = {int(o["id"]): o for o in listed}
        missing = acknowledged_ids - set(by_id)
        assert not missing, f"acknowledged orders lost in the crash: {sorted(missing)}"
        assert {o["status"] for o in listed} == {"filled"}
        for client_order_id, order_id in load.acknowledged.items():
            assert by_id[order_id]["client_order_id"] == client_order_id
            assert by_id[order_id]["filled_quantity"] == by_id[order_id]["quantity"]
        # Orders cut off by the crash: a retry finds the committed ones and places the rest.
        for body in load.in_doubt.values():
            retry = await http.post(ORDERS, json=body, headers=headers)
            assert retry.status_code in {200, 201}, retry.text
            assert retry.json()["status"] == "filled"
        wallets = (await http.get("/api/paper-trading/wallet", headers=headers)).json()
        inr = next(w for w in wallets if w["currency"] == "INR")
        entries = await ledger_sum(http, headers)
        assert Decimal(inr["cash"]) == entries
        positions = (await http.get("/api/paper-trading/positions", headers=headers)).json()
        after = await all_orders(http, headers)
        for position in positions:
            bought = sum(
                (
                    Decimal(o["filled_quantity"])
                    for o in after
                    if (o["symbol"], o["product"]) == (position["symbol"], position["product"])
                ),
                Decimal(0),
            )
            assert Decimal(position["quantity"]) == bought, position

    problems = reconcile(data_dir / "tradepit.db")
    assert {name: rows for name, rows in problems.items() if rows} == {}
    with closing(sqlite3.connect(f"file:{data_dir / 'tradepit.db'}?mode=ro", uri=True)) as conn:
        stored = conn.execute("SELECT COUNT(*) FROM orders WHERE user_id = ?", (user_id,))
        assert stored.fetchone()[0] == len(after)


async def ledger_sum(http: httpx.AsyncClient, headers: dict[str, str]) -> Decimal:
    """Return the sum of the caller's INR ledger entries through the paged API."""
    total = Decimal(0)
    seen = 0
    page = 1
    while True:
        response = await http.get(
            "/api/paper-trading/ledger",
            params={"currency": "INR", "page": page, "limit": 1000},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        total += sum((Decimal(e["amount"]) for e in body["entries"]), Decimal(0))
        seen += len(body["entries"])
        if seen >= body["total"] or not body["entries"]:
            return total
        page += 1
