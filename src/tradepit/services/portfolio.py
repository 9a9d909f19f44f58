"""Positions and the portfolio: what a user holds, marked to the last price."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.domain.orders import (
    Product,
)
from tradepit.market.data import MarketData
from tradepit.schemas.orders import (
    PortfolioCurrency,
    PortfolioRead,
    PositionRead,
)
from tradepit.services import wallets
from tradepit.services.callers import Caller
from tradepit.services.execution import position_of
from tradepit.store import orders as store
from tradepit.store.orders import PositionRow


async def positions(
    session: AsyncSession, market: MarketData, caller: Caller
) -> list[PositionRead]:
    """Return the caller's positions (open, and closed ones with realized P&L) marked to LTP."""
    return _positions(market, caller.user.id, await store.positions_of(session, caller.user.id))


def _positions(market: MarketData, user_id: int, rows: list[PositionRow]) -> list[PositionRead]:
    found = []
    for row in rows:
        instrument = market.instrument(row.symbol)
        position = position_of(user_id, row.symbol, Product(row.product), row)
        ltp = market.tick(row.symbol).ltp
        found.append(
            PositionRead(
                symbol=row.symbol,
                product=Product(row.product),
                currency=instrument.currency,
                quantity=position.quantity,
                average_price=position.average_price(instrument.multiplier),
                ltp=ltp,
                realized_pnl=position.realized_net,
                unrealized_pnl=position.unrealized(ltp, instrument.multiplier),
                charges=position.charges,
            )
        )
    return found


async def portfolio(session: AsyncSession, market: MarketData, caller: Caller) -> PortfolioRead:
    """Return cash, positions value, equity, margin used and P&L per currency, with the
    positions. A position carried on margin (a future, an intraday long) is valued at its
    unrealized P&L, any other at its market value, so equity = cash + positions value."""
    cash = [(w.currency, w.cash) for w in await wallets.wallets_of(session, caller.user.id)]
    return await _portfolio(session, market, caller.user.id, None, cash)


async def entry_portfolio(
    session: AsyncSession,
    market: MarketData,
    user_id: int,
    tournament_id: int,
    currency: str,
    cash: Decimal,
) -> PortfolioRead:
    """Return a tournament entry's portfolio: its isolated wallet's ``cash`` in ``currency``
    and its positions, figured as ``portfolio`` figures the main ones."""
    return await _portfolio(session, market, user_id, tournament_id, [(currency, cash)])


async def _portfolio(
    session: AsyncSession,
    market: MarketData,
    user_id: int,
    tournament_id: int | None,
    cash: list[tuple[str, Decimal]],
) -> PortfolioRead:
    rows = await store.positions_of(session, user_id, tournament_id)
    held = _positions(market, user_id, rows)
    value: dict[str, Decimal] = defaultdict(Decimal)
    realized: dict[str, Decimal] = defaultdict(Decimal)
    unrealized: dict[str, Decimal] = defaultdict(Decimal)
    margin: dict[str, Decimal] = defaultdict(Decimal)
    for p in held:
        instrument = market.instrument(p.symbol)
        if instrument.margined(p.product.value, long=p.quantity > 0):
            # Carried on margin: no notional was paid, the position is worth its P&L.
            value[p.currency] += p.unrealized_pnl
        else:
            value[p.currency] += p.quantity * p.ltp * instrument.multiplier
        realized[p.currency] += p.realized_pnl
        unrealized[p.currency] += p.unrealized_pnl
    for row in rows:
        if row.quantity != 0:
            margin[market.instrument(row.symbol).currency] += row.blocked
    currencies = [
        PortfolioCurrency(
            currency=currency,
            cash=money,
            positions_value=value[currency],
            equity=money + value[currency],
            realized_pnl=realized[currency],
            unrealized_pnl=unrealized[currency],
            margin_used=margin[currency],
        )
        for currency, money in cash
    ]
    return PortfolioRead(currencies=currencies, positions=held)
