"""Expiry settlement of futures and options, run by the end-of-day housekeeping.

A contract whose expiry close (15:30 IST on its holiday-adjusted expiry day, from the session
calendar) has passed settles every open position in it: an option at its intrinsic value, a
future at the underlying's final price (its price at that close). Each position settles in its
own transaction (a settlement order and fill, the position closed, the ledger posted, its margin
released), so it happens exactly once: a settled position is flat and is not looked at again, and
one that has not settled yet (the server was down at the close) settles on the next run. Orders
still resting in an expired contract are cancelled.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tradepit.domain.clock import Clock
from tradepit.domain.errors import DomainError
from tradepit.domain.instruments import Instrument
from tradepit.domain.orders import Status
from tradepit.market import derivatives
from tradepit.market.data import MarketData
from tradepit.services import execution, orders
from tradepit.store import wallets as wallet_store
from tradepit.store.db import after_commit, commit
from tradepit.store.orders import OrderRow, PositionRow

log = logging.getLogger("tradepit.settlement")

#: How derivative symbols end: futures, calls, puts.
_DERIVATIVE_ENDINGS = ("%FUT", "%CE", "%PE")


async def settle_expired(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    market: MarketData,
    book: orders.Book,
) -> int:
    """Settle every open position in a contract that has expired; return how many settled."""
    now = clock.now()
    async with sessionmaker() as session:
        symbols = await _derivative_symbols(session)
    expired = [i for i in (_expired(market, symbol, now) for symbol in symbols) if i]
    settled = 0
    for instrument in expired:
        await _cancel_resting(sessionmaker, clock, book, instrument)
        async with sessionmaker() as session:
            ids = [r.id for r in await _open_in(session, instrument.symbol)]
        for row_id in ids:
            try:
                if await _settle_one(sessionmaker, clock, market, book, instrument, row_id):
                    settled += 1
            except DomainError as exc:  # e.g. a loss larger than the whole cash balance
                log.warning("position %s in %s not settled: %s", row_id, instrument.symbol, exc)
    if settled:
        log.info("expiry: %d positions settled", settled)
    return settled


def _expired(market: MarketData, symbol: str, now: datetime) -> Instrument | None:
    """Return the contract ``symbol`` names if its expiry close has passed."""
    try:
        instrument = market.instrument(symbol)
    except DomainError:
        return None
    if instrument.expiry is None or now < derivatives.expiry_close(instrument):
        return None
    return instrument


async def _settle_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    market: MarketData,
    book: orders.Book,
    instrument: Instrument,
    row_id: int,
) -> bool:
    async with sessionmaker() as session:
        row = await session.get(PositionRow, row_id)
        if row is None:
            return False
        await wallet_store.lock_user(session, row.user_id)
        await session.refresh(row)
        if row.quantity == 0:
            return False  # settled already
        final = market.final_price(instrument)
        price = derivatives.settlement_price(instrument, final)
        order = await execution.settle(session, clock, instrument, row, price, final)
        orders.announce(session, book, order, "new")
        await orders.announce_trade(session, book, order, instrument)
        await commit(session)
    return True


async def _cancel_resting(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    book: orders.Book,
    instrument: Instrument,
) -> None:
    async with sessionmaker() as session:
        stmt = select(OrderRow.id).where(
            OrderRow.symbol == instrument.symbol,
            OrderRow.status.in_(
                [Status.OPEN.value, Status.PARTIALLY_FILLED.value, Status.AMO.value]
            ),
        )
        ids = list(await session.scalars(stmt))
        for order_id in ids:
            order = await session.get(OrderRow, order_id)
            assert order is not None
            await wallet_store.lock_user(session, order.user_id)
            await session.refresh(order)
            if Status(order.status).is_final:
                continue
            await execution.cancel_rest(
                session, clock, instrument, order, f"{instrument.symbol} expired"
            )
            orders.announce(session, book, order, "canceled")
            after_commit(session, functools.partial(book.forget, order_id))
        await commit(session)


async def _derivative_symbols(session: AsyncSession) -> list[str]:
    stmt = (
        select(PositionRow.symbol)
        .where(PositionRow.quantity != 0)
        .where(or_(*(PositionRow.symbol.like(end) for end in _DERIVATIVE_ENDINGS)))
        .distinct()
    )
    return list(await session.scalars(stmt))


async def _open_in(session: AsyncSession, symbol: str) -> list[PositionRow]:
    stmt = (
        select(PositionRow)
        .where(PositionRow.symbol == symbol, PositionRow.quantity != 0)
        .order_by(PositionRow.id)
    )
    return list(await session.scalars(stmt))
