"""Positions and the portfolio: what a user holds, marked to the last price."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from tradepit.domain.instruments import Instrument, Kind
from tradepit.domain.orders import (
    Product,
)
from tradepit.market.data import MarketData
from tradepit.schemas.orders import (
    PnlRead,
    PortfolioCurrency,
    PortfolioRead,
    PositionRead,
)
from tradepit.services import wallets
from tradepit.services.callers import Caller
from tradepit.services.execution import position_of
from tradepit.trading.state import PositionView, TradingState

#: The currency of the paper-tournaments frontend's summaries (its wallet is INR).
SUMMARY_CURRENCY = "INR"


async def positions(state: TradingState, market: MarketData, caller: Caller) -> list[PositionRead]:
    """Return the caller's positions (open, and closed ones with realized P&L) marked to LTP."""
    return _positions(market, caller.user.id, await _held(state, caller.user.id, None))


async def _held(state: TradingState, user_id: int, tournament_id: int | None) -> list[PositionView]:
    """Return the user's main positions, or those of one tournament."""
    return [p for p in await state.positions(user_id) if p.tournament_id == tournament_id]


def instrument_type(instrument: Instrument) -> str:
    """Return the kind as the paper-tournaments frontend names it (Kite's names for shares,
    futures and options)."""
    if instrument.right is not None:
        return instrument.right.value
    return {Kind.EQUITY: "EQ", Kind.FUTURE: "FUT"}.get(instrument.kind, instrument.kind.value)


def _positions(market: MarketData, user_id: int, rows: list[PositionView]) -> list[PositionRead]:
    found = []
    for row in rows:
        instrument = market.instrument(row.symbol)
        position = position_of(user_id, row.symbol, Product(row.product), row)
        ltp = market.tick(row.symbol).ltp
        unrealized = position.unrealized(
            ltp, instrument.multiplier, settles_in_base=instrument.settles_in_base
        )
        found.append(
            PositionRead(
                id=row.id,
                user_id=row.user_id,
                tournament_id=row.tournament_id,
                symbol=row.symbol,
                tradingsymbol=row.symbol,
                exchange=instrument.venue.value,
                instrument_type=instrument_type(instrument),
                product=Product(row.product),
                currency=instrument.currency,
                quantity=position.quantity,
                multiplier=instrument.multiplier,
                average_price=position.average_price(instrument.multiplier),
                ltp=ltp,
                current_price=ltp,
                realized_pnl=position.realized_net,
                unrealized_pnl=unrealized,
                pnl=position.realized_net + unrealized,
                charges=position.charges,
            )
        )
    return found


async def portfolio(state: TradingState, market: MarketData, caller: Caller) -> PortfolioRead:
    """Return cash, positions value, equity, margin used and P&L per currency, with the
    positions. A position carried on margin (a future, an intraday long) is valued at its
    unrealized P&L, any other at its market value, so equity = cash + positions value."""
    cash = [(w.currency, w.cash) for w in await wallets.wallets_of(state, caller.user.id)]
    held = await _portfolio(state, market, caller.user.id, None, cash)
    inr = next((c for c in held.currencies if c.currency == SUMMARY_CURRENCY), None)
    if inr is None:
        return held
    return held.model_copy(
        update={
            "total_value": float(inr.equity),
            "cash_balance": float(inr.cash),
            "positions_value": float(inr.positions_value),
            "total_pnl": float(inr.realized_pnl + inr.unrealized_pnl),
        }
    )


async def pnl(
    state: TradingState,
    market: MarketData,
    caller: Caller,
    currency: str = SUMMARY_CURRENCY,
    tournament_id: int | None = None,
) -> PnlRead:
    """Return the P&L of the caller's positions in ``currency`` (main, or one tournament's):
    unrealized on what is open, realized net of charges, and their sum."""
    rows = await _held(state, caller.user.id, tournament_id)
    held = [p for p in _positions(market, caller.user.id, rows) if p.currency == currency]
    realized = sum((p.realized_pnl for p in held), Decimal(0))
    unrealized = sum((p.unrealized_pnl for p in held), Decimal(0))
    return PnlRead(
        currency=currency,
        unrealised=float(unrealized),
        realised=float(realized),
        total=float(realized + unrealized),
    )


async def entry_positions(
    state: TradingState, market: MarketData, user_id: int, tournament_id: int
) -> list[PositionRead]:
    """Return a tournament entry's positions, marked to the last price."""
    return _positions(market, user_id, await _held(state, user_id, tournament_id))


async def entry_portfolio(
    state: TradingState,
    market: MarketData,
    user_id: int,
    tournament_id: int,
    currency: str,
    cash: Decimal,
) -> PortfolioRead:
    """Return a tournament entry's portfolio: its isolated wallet's ``cash`` in ``currency``
    and its positions, figured as ``portfolio`` figures the main ones."""
    return await _portfolio(state, market, user_id, tournament_id, [(currency, cash)])


async def _portfolio(
    state: TradingState,
    market: MarketData,
    user_id: int,
    tournament_id: int | None,
    cash: list[tuple[str, Decimal]],
) -> PortfolioRead:
    rows = await _held(state, user_id, tournament_id)
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
