"""Queries that check the books: the ledger per currency, each wallet against its entries, each
position against its fills. Each is one statement, so it reads one consistent snapshot even
while trades go on."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVarTuple

from sqlalchemy import Row, Select, and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.store.orders import FillRow, OrderRow, PositionRow
from tradepit.store.wallets import LedgerEntry, Wallet

_ZERO = Decimal(0)
Ts = TypeVarTuple("Ts")


@dataclass(frozen=True)
class WalletRow:
    """A wallet whose stored balance is not the sum of its entries."""

    wallet_id: int
    user_id: int | None
    name: str
    currency: str
    balance: Decimal
    entries: Decimal


@dataclass(frozen=True)
class PositionFigures:
    """A position as stored (``position_id`` None: no row) beside what its fills add up to."""

    position_id: int | None
    user_id: int
    tournament_id: int | None
    symbol: str
    product: str
    quantity: Decimal
    charges: Decimal
    fills_quantity: Decimal
    fills_charges: Decimal


async def ledger_totals(session: AsyncSession) -> dict[str, Decimal]:
    """Return the sum of every ledger entry per currency (double entry: each is zero)."""
    stmt = (
        select(Wallet.currency, func.sum(LedgerEntry.amount))
        .join(Wallet, Wallet.id == LedgerEntry.wallet_id)
        .group_by(Wallet.currency)
        .order_by(Wallet.currency)
    )
    return {currency: Decimal(total or 0) for currency, total in await session.execute(stmt)}


async def unbalanced_transactions(
    session: AsyncSession, limit: int
) -> tuple[list[Row[int, str, Decimal]], int]:
    """Return up to ``limit`` (transaction id, currency, sum) whose entries in that currency do
    not sum to zero, lowest id first, and how many there are."""
    sums = (
        select(
            LedgerEntry.transaction_id.label("transaction_id"),
            Wallet.currency.label("currency"),
            func.sum(LedgerEntry.amount).label("total"),
        )
        .join(Wallet, Wallet.id == LedgerEntry.wallet_id)
        .group_by(LedgerEntry.transaction_id, Wallet.currency)
        .having(func.sum(LedgerEntry.amount) != _ZERO)
    )
    found, total = await _page(session, sums, limit, "transaction_id")
    return found, total


async def wallets_checked(session: AsyncSession) -> int:
    """Return how many wallets there are."""
    return int(await session.scalar(select(func.count()).select_from(Wallet)) or 0)


async def wallet_mismatches(session: AsyncSession, limit: int) -> tuple[list[WalletRow], int]:
    """Return up to ``limit`` wallets whose balance differs from the sum of their entries,
    lowest id first, and how many there are."""
    sums = (
        select(LedgerEntry.wallet_id, func.sum(LedgerEntry.amount).label("total"))
        .group_by(LedgerEntry.wallet_id)
        .subquery()
    )
    entries = func.coalesce(sums.c.total, literal(_ZERO, Wallet.balance.type))
    stmt = (
        select(
            Wallet.id.label("wallet_id"),
            Wallet.user_id,
            Wallet.name,
            Wallet.currency,
            Wallet.balance,
            entries.label("entries"),
        )
        .outerjoin(sums, sums.c.wallet_id == Wallet.id)
        .where(Wallet.balance != entries)
    )
    found, total = await _page(session, stmt, limit, "wallet_id")
    return [WalletRow(*row) for row in found], total


async def positions_checked(session: AsyncSession) -> int:
    """Return how many positions there are."""
    return int(await session.scalar(select(func.count()).select_from(PositionRow)) or 0)


async def position_mismatches(
    session: AsyncSession, limit: int
) -> tuple[list[PositionFigures], int]:
    """Return up to ``limit`` positions whose quantity or charges differ from their fills'
    (signed quantities, charges), and fills that add up to a position with no row; how many
    there are in all."""
    signed = case((OrderRow.side == "BUY", FillRow.quantity), else_=-FillRow.quantity)
    fills = (
        select(
            OrderRow.user_id,
            OrderRow.tournament_id,
            OrderRow.symbol,
            OrderRow.product,
            func.sum(signed).label("quantity"),
            func.sum(FillRow.charges).label("charges"),
        )
        .join(FillRow, FillRow.order_id == OrderRow.id)
        .group_by(OrderRow.user_id, OrderRow.tournament_id, OrderRow.symbol, OrderRow.product)
        .subquery()
    )
    zero = literal(_ZERO, PositionRow.quantity.type)
    same = and_(
        fills.c.user_id == PositionRow.user_id,
        fills.c.tournament_id.is_not_distinct_from(PositionRow.tournament_id),
        fills.c.symbol == PositionRow.symbol,
        fills.c.product == PositionRow.product,
    )
    quantity = func.coalesce(fills.c.quantity, zero)
    charges = func.coalesce(fills.c.charges, zero)
    stored = (
        select(
            PositionRow.id,
            PositionRow.user_id,
            PositionRow.tournament_id,
            PositionRow.symbol,
            PositionRow.product,
            PositionRow.quantity,
            PositionRow.charges,
            quantity.label("fills_quantity"),
            charges.label("fills_charges"),
        )
        .outerjoin(fills, same)
        .where(or_(PositionRow.quantity != quantity, PositionRow.charges != charges))
        .order_by(PositionRow.id)
    )
    rowless = (
        select(
            fills.c.user_id,
            fills.c.tournament_id,
            fills.c.symbol,
            fills.c.product,
            fills.c.quantity,
            fills.c.charges,
        )
        .outerjoin(PositionRow, same)
        .where(PositionRow.id.is_(None))
        .where(or_(fills.c.quantity != zero, fills.c.charges != zero))
        .order_by(fills.c.user_id, fills.c.symbol, fills.c.product)
    )
    found = [PositionFigures(*row) for row in await session.execute(stored.limit(limit))]
    total = await _count(session, stored)
    for user_id, tournament_id, symbol, product, qty, paid in await session.execute(
        rowless.limit(max(limit - len(found), 0))
    ):
        found.append(
            PositionFigures(None, user_id, tournament_id, symbol, product, _ZERO, _ZERO, qty, paid)
        )
    return found, total + await _count(session, rowless)


async def _page(
    session: AsyncSession, stmt: Select[*Ts], limit: int, key: str
) -> tuple[list[Row[*Ts]], int]:
    ordered = stmt.order_by(stmt.selected_columns[key]).limit(limit)
    found = list(await session.execute(ordered))
    return found, await _count(session, stmt)


async def _count(session: AsyncSession, stmt: Select[*Ts]) -> int:
    counted = select(func.count()).select_from(stmt.order_by(None).subquery())
    return int(await session.scalar(counted) or 0)
