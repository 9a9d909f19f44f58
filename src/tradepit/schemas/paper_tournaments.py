"""paper-tournaments' own shapes of orders, positions and tournaments, as its backend
answered them and its frontend reads them: JSON numbers, upper-case statuses.

They are served only to requests that come through the ``/paper-tournaments`` prefix (see
``api/dialects.py``); everywhere else orders and positions keep Tradepit's shapes (decimal
strings, lower-case statuses). The numbers are converted from the exact values at the edge
(``domain.money.as_float``); nothing computes with them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from tradepit.domain.money import as_float
from tradepit.schemas.orders import FillRead, OrderRead, PositionRead
from tradepit.schemas.tournaments import TournamentRead

#: Tradepit's order status -> the name paper-tournaments' frontend reads. An after-market
#: order waits for the open as the seed's ``PENDING`` order waits for execution; ``FILLED``
#: is the seed's tournament route's name (its main engine says ``EXECUTED``, which the
#: frontend neither colours nor counts); ``EXPIRED`` has no seed name and is Tradepit's own.
SEED_STATUS = {
    "amo": "PENDING",
    "open": "OPEN",
    "partially_filled": "PARTIALLY_FILLED",
    "filled": "FILLED",
    "cancelled": "CANCELLED",
    "rejected": "REJECTED",
    "expired": "EXPIRED",
}


def _number(value: Decimal | None) -> float | None:
    return None if value is None else as_float(value)


class SeedFill(BaseModel):
    """One execution, in numbers."""

    quantity: float
    price: float
    charges: float
    liquidity: str
    at: datetime


class SeedOrder(BaseModel):
    """An order as paper-tournaments' backend answered it (``OrderResponse``), with the fields
    its frontend's ``PaperOrder`` reads and Tradepit's own beside them."""

    id: int
    tournament_id: int | None
    client_order_id: str | None
    symbol: str
    instrument_type: str = Field(description="INDEX, EQ, FUT, CE, PE, CRYPTO or FOREX")
    order_type: str
    order_side: str
    product: str
    validity: str
    quantity: float
    price: float | None
    trigger_price: float | None
    filled_quantity: float
    executed_quantity: float = Field(description="The same as filled_quantity (the seed's)")
    average_price: float | None
    executed_price: float | None = Field(description="The same as average_price (the seed's)")
    stop_loss: float | None = Field(description="The bracket's stop-loss price, if any")
    take_profit: float | None = Field(description="The bracket's take-profit price, if any")
    status: str = Field(description="PENDING (after-market), OPEN, PARTIALLY_FILLED, FILLED, "
                        "CANCELLED, REJECTED or EXPIRED")  # fmt: skip
    reason: str | None
    charges: float
    parent_id: int | None
    leg: str | None
    created_at: datetime
    updated_at: datetime
    executed_at: datetime | None = Field(description="When it last filled (None: not filled)")
    fills: list[SeedFill] | None = None


class SeedPosition(BaseModel):
    """A position as paper-tournaments' frontend reads it (``PaperPosition``), in numbers."""

    id: int
    user_id: int
    tournament_id: int | None
    symbol: str
    tradingsymbol: str
    exchange: str
    instrument_type: str
    product: str
    currency: str
    quantity: float
    multiplier: float = Field(
        description="The position's P&L per point of price: |quantity| × contract_size (what "
        "the frontend's positions table multiplies LTP − average by for F&O)"
    )
    contract_size: float = Field(description="Money = price × quantity × this")
    lot_size: float = Field(
        description="What an order's quantity steps by: the exchange lot of a future or an "
        "option, 1 for shares and index contracts"
    )
    average_price: float
    ltp: float
    current_price: float
    realized_pnl: float
    unrealized_pnl: float
    pnl: float
    charges: float


def _leg_price(order: OrderRead, leg: str) -> float | None:
    if order.leg is not None or not order.bracket:
        return None  # a leg's own bracket is its trailing stop, not a price
    return _number(order.bracket.get(leg, {}).get("price"))


def _fill(fill: FillRead) -> SeedFill:
    return SeedFill(
        quantity=as_float(fill.quantity),
        price=as_float(fill.price),
        charges=as_float(fill.charges),
        liquidity=fill.liquidity,
        at=fill.at,
    )


def seed_order(order: OrderRead, *, instrument_type: str) -> SeedOrder:
    """Return ``order`` in paper-tournaments' shape."""
    filled = order.filled_quantity > 0
    return SeedOrder(
        id=order.id,
        tournament_id=order.tournament_id,
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        instrument_type=instrument_type,
        order_type=order.order_type.value,
        order_side=order.order_side.value,
        product=order.product.value,
        validity=order.validity.value,
        quantity=as_float(order.quantity),
        price=_number(order.price),
        trigger_price=_number(order.trigger_price),
        filled_quantity=as_float(order.filled_quantity),
        executed_quantity=as_float(order.filled_quantity),
        average_price=_number(order.average_price),
        executed_price=_number(order.average_price),
        stop_loss=_leg_price(order, "stop_loss"),
        take_profit=_leg_price(order, "take_profit"),
        status=SEED_STATUS.get(order.status, order.status.upper()),
        reason=order.reason,
        charges=as_float(order.charges),
        parent_id=order.parent_id,
        leg=order.leg,
        created_at=order.created_at,
        updated_at=order.updated_at,
        executed_at=order.updated_at if filled else None,
        fills=None if order.fills is None else [_fill(f) for f in order.fills],
    )


def seed_position(position: PositionRead, *, lot_size: Decimal) -> SeedPosition:
    """Return ``position`` in paper-tournaments' shape."""
    return SeedPosition(
        id=position.id,
        user_id=position.user_id,
        tournament_id=position.tournament_id,
        symbol=position.symbol,
        tradingsymbol=position.tradingsymbol,
        exchange=position.exchange,
        instrument_type=position.instrument_type,
        product=position.product.value,
        currency=position.currency,
        quantity=as_float(position.quantity),
        multiplier=as_float(abs(position.quantity) * position.multiplier),
        contract_size=as_float(position.multiplier),
        lot_size=as_float(lot_size),
        average_price=as_float(position.average_price),
        ltp=as_float(position.ltp),
        current_price=as_float(position.current_price),
        realized_pnl=as_float(position.realized_pnl),
        unrealized_pnl=as_float(position.unrealized_pnl),
        pnl=as_float(position.pnl),
        charges=as_float(position.charges),
    )


class SeedTournament(TournamentRead):
    """A tournament with its money in numbers: ``TournamentCard`` formats ``prize_pool`` and
    ``entry_fee`` with ``Number.toLocaleString`` (a string would show ungrouped)."""

    starting_capital: float = Field(description="Each entry's starting wallet")  # type: ignore[assignment]
    entry_fee: float = Field(description="Paid on joining")  # type: ignore[assignment]
    prize_pool: float = Field(description="Paid to the top ranks at the end")  # type: ignore[assignment]
    prize_split: list[float] = Field(description="% of the pool per rank")  # type: ignore[assignment]


def seed_tournament(tournament: TournamentRead) -> SeedTournament:
    """Return ``tournament`` in paper-tournaments' shape."""
    return SeedTournament.model_validate(
        tournament.model_dump()
        | {
            "starting_capital": as_float(tournament.starting_capital),
            "entry_fee": as_float(tournament.entry_fee),
            "prize_pool": as_float(tournament.prize_pool),
            "prize_split": [as_float(share) for share in tournament.prize_split],
        }
    )
