"""What each user holds, kept in memory: wallets, positions and resting orders.

Reads of a user's trading state (``GET .../wallet``, ``/positions``, open orders, the
portfolio) are most of what a trading client sends, and each used to cost a database session.
In a process that is the only writer of its database (the embedded SQLite shape), the state
is kept in memory instead, part by part and user by user: read from the database the first
time it is asked for, then answered from memory until a transaction that wrote it ends.

Every writer of a user's wallets, positions or orders notes the user in its transaction
(``store.db.touch``: the user's lock, the ORM's flush, the prebuilt writes), and when the
outermost transaction ends, committed or rolled back, that user's kept state is dropped, before
the writer's caller hears anything. A read that started before such a change and finishes after
it is not kept (a count of changes per user). Elsewhere (PostgreSQL, where other processes
write) nothing is kept and every read goes to the database, as before.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tradepit.domain.orders import RESTING, OrderType, Product, Side
from tradepit.schemas.orders import FillRead, OrderRead
from tradepit.store.db import on_users_changed, touches
from tradepit.store.orders import OrderRow, PositionRow
from tradepit.store.wallets import Wallet

#: The most parts (a user's wallets, positions or resting orders) kept at once.
CAPACITY: Final = 300_000


@dataclass(frozen=True, slots=True)
class WalletView:
    """One of a user's wallets as the database holds it."""

    id: int
    name: str
    currency: str
    balance: Decimal
    blocked: Decimal


@dataclass(frozen=True, slots=True)
class PositionView:
    """One of a user's positions (main or in a tournament) as the database holds it."""

    id: int
    user_id: int
    tournament_id: int | None
    symbol: str
    product: str
    quantity: Decimal
    cost_basis: Decimal
    realized_gross: Decimal
    charges: Decimal
    blocked: Decimal


def order_model(order: OrderRow, fills: list[FillRead] | None = None) -> OrderRead:
    """Return the wire shape of an order."""
    return OrderRead(
        id=order.id,
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        order_type=OrderType(order.order_type),
        order_side=Side(order.side),
        product=Product(order.product),
        validity=order.validity,
        quantity=order.quantity,
        filled_quantity=order.filled_quantity,
        price=order.price,
        trigger_price=order.trigger_price,
        average_price=order.average_price,
        status=order.status,
        reason=order.reason,
        charges=order.charges,
        tournament_id=order.tournament_id,
        parent_id=order.parent_id,
        leg=order.leg,
        bracket=json.loads(order.bracket) if order.bracket else None,
        created_at=order.created_at,
        updated_at=order.updated_at,
        fills=fills,
    )


async def _wallets(session: AsyncSession, user_id: int) -> tuple[WalletView, ...]:
    stmt = select(Wallet).where(Wallet.user_id == user_id).order_by(Wallet.id)
    return tuple(
        WalletView(w.id, w.name, w.currency, w.balance, w.blocked)
        for w in await session.scalars(stmt)
    )


async def _positions(session: AsyncSession, user_id: int) -> tuple[PositionView, ...]:
    stmt = select(PositionRow).where(PositionRow.user_id == user_id).order_by(PositionRow.id)
    return tuple(_position_view(row) for row in await session.scalars(stmt))


def _position_view(row: PositionRow) -> PositionView:
    return PositionView(
        id=row.id,
        user_id=row.user_id,
        tournament_id=row.tournament_id,
        symbol=row.symbol,
        product=row.product,
        quantity=row.quantity,
        cost_basis=row.cost_basis,
        realized_gross=row.realized_gross,
        charges=row.charges,
        blocked=row.blocked,
    )


async def _resting(session: AsyncSession, user_id: int) -> tuple[OrderRead, ...]:
    stmt = (
        select(OrderRow)
        .where(OrderRow.user_id == user_id, OrderRow.status.in_(RESTING))
        .order_by(OrderRow.id.desc())
    )
    return tuple(order_model(row) for row in await session.scalars(stmt))


Read = Callable[[AsyncSession, int], Awaitable[Any]]


class TradingState:
    """Each user's wallets, positions (main and tournaments') and resting orders (newest
    first), kept in memory when ``keep`` (this process is its database's only writer), else
    read from the database every time."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], keep: bool) -> None:
        self.sessionmaker = sessionmaker
        self.keep = keep
        self._kept: dict[tuple[Read, int], Any] = {}
        self._changes: dict[int, int] = {}
        self._session: AsyncSession | None = None
        if keep:
            on_users_changed(sessionmaker, self.changed)

    def within(self, session: AsyncSession) -> TradingState:
        """Return this state reading what it does not keep in ``session``: a caller that holds
        a session reads through it (on SQLite its transaction may hold the only connection,
        and another session would wait for it forever)."""
        bound = copy.copy(self)  # the same kept parts and counts
        bound._session = session
        return bound

    async def wallets(self, user_id: int) -> tuple[WalletView, ...]:
        """Return the user's wallets (cash and tournament entries'), oldest first."""
        found: tuple[WalletView, ...] = await self._part(_wallets, user_id)
        return found

    async def positions(self, user_id: int) -> tuple[PositionView, ...]:
        """Return the user's positions, main and tournaments', oldest first."""
        found: tuple[PositionView, ...] = await self._part(_positions, user_id)
        return found

    async def resting(self, user_id: int) -> tuple[OrderRead, ...]:
        """Return the user's orders that may still fill (open, partially filled, AMO),
        newest first."""
        found: tuple[OrderRead, ...] = await self._part(_resting, user_id)
        return found

    def changed(self, user_ids: set[int]) -> None:
        """Forget what is kept of ``user_ids``: a transaction that wrote it has ended."""
        for user_id in user_ids:
            self._changes[user_id] = self._changes.get(user_id, 0) + 1
            for read in _PARTS:
                self._kept.pop((read, user_id), None)

    async def stale(self) -> list[str]:
        """Return how what is kept differs from the database (nothing, when every writer
        noted its users): the check the tests run after each one."""
        problems = []
        for (read, user_id), kept in list(self._kept.items()):
            async with self.sessionmaker() as session:
                now = await read(session, user_id)
            if now != kept and self._kept.get((read, user_id)) is kept:
                problems.append(f"user {user_id}'s {read.__name__[1:]} in memory: {kept}; "
                                f"in the database: {now}")  # fmt: skip
        return problems

    async def _part(self, read: Read, user_id: int) -> Any:
        key = (read, user_id)
        session = self._session
        if self.keep and key in self._kept:
            return self._kept[key]
        changes = self._changes.get(user_id, 0)
        if session is None:
            async with self.sessionmaker() as own:
                found = await read(own, user_id)
        elif touches(session, user_id):
            return await read(session, user_id)  # not committed yet: not to be kept
        else:
            found = await read(session, user_id)
        if self.keep and self._changes.get(user_id, 0) == changes:
            if len(self._kept) >= CAPACITY:
                del self._kept[next(iter(self._kept))]  # the longest kept
            self._kept[key] = found
        return found


_PARTS: Final = (_wallets, _positions, _resting)
