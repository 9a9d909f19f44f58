"""Bracket orders: an entry with take-profit, stop-loss and trailing-stop legs.

The legs are created when the entry first fills, for what it filled, and follow it: every
later fill of the entry grows them, a fill of one leg shrinks the other (one cancels the other),
and once nothing is left to protect (the legs filled, or the position was closed some other
way: by hand, by the MIS square-off) the rest are cancelled. A leg never sells more than the
position it protects holds, so it cannot open a position of its own: a leg modified above it
is refused, and a leg about to fill is first cut to the position as it is then. Legs need no
cash: they only reduce a position (a short's proceeds and margin are already blocked).

Legs are GTC: they live as long as the position they protect.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.domain.brackets import (
    STOP_LOSS,
    TAKE_PROFIT,
    Leg,
    Trail,
    check_leg,
    check_reduce_only,
    leg_price,
    leg_room,
    tighter,
)
from tradepit.domain.clock import Clock
from tradepit.domain.fills import check_price
from tradepit.domain.instruments import Instrument
from tradepit.domain.market import Tick
from tradepit.domain.orders import OrderType, Side, Status, Validity
from tradepit.schemas.orders import LegSpec, OrderCreate, TrailSpec
from tradepit.services.execution import cancel_rest
from tradepit.store import orders as store
from tradepit.store.orders import OrderRow

TRAILING = "trailing_stop"


def spec_of(body: OrderCreate) -> str | None:
    """Return the bracket an order asks for, as stored (JSON), or None."""
    legs = {
        name: spec.model_dump(mode="json", exclude_none=True)
        for name, spec in (
            (TAKE_PROFIT, body.take_profit),
            (STOP_LOSS, body.stop_loss),
            (TRAILING, body.trailing_stop),
        )
        if spec is not None
    }
    return json.dumps(legs, sort_keys=True) if legs else None


def check(instrument: Instrument, body: OrderCreate, tick: Tick) -> None:
    """Refuse legs on the wrong side of the entry (its limit price, else the quote)."""
    side = body.order_side
    reference = body.price or body.trigger_price or (tick.ask if side is Side.BUY else tick.bid)
    for kind, spec in ((TAKE_PROFIT, body.take_profit), (STOP_LOSS, body.stop_loss)):
        if spec is None:
            continue
        leg = _leg(spec)
        price = leg_price(kind, side, leg, reference, instrument.tick_size)
        if leg.price is not None:
            check_price(instrument, leg.price)
        check_leg(kind, side, price, reference)


async def _position(session: AsyncSession, order: OrderRow) -> Decimal:
    row = await store.position(
        session, order.user_id, order.symbol, order.product, order.tournament_id
    )
    return row.quantity if row is not None else Decimal(0)


async def check_modify(session: AsyncSession, leg: OrderRow, remaining: Decimal) -> None:
    """Refuse a leg modified to fill ``remaining`` more than the position it protects holds."""
    assert leg.leg is not None
    check_reduce_only(leg.leg, Side(leg.side), remaining, await _position(session, leg))


async def fit_leg(
    session: AsyncSession, clock: Clock, instrument: Instrument, leg: OrderRow
) -> str | None:
    """Before a leg fills, size it to the position it protects now: shrink it, or cancel it
    when nothing is left (the position was reduced or closed some other way since the leg was
    sized). Return the event to announce (``replaced``, ``canceled``), or None."""
    room = leg_room(Side(leg.side), await _position(session, leg))
    if room == 0:
        await cancel_rest(session, clock, instrument, leg, "bracket: nothing left to protect")
        return "canceled"
    if leg.quantity - leg.filled_quantity > room:
        leg.quantity = leg.filled_quantity + room
        leg.updated_at = clock.now()
        return "replaced"
    return None


def _leg(spec: LegSpec | TrailSpec | dict[str, str]) -> Leg:
    values = spec if isinstance(spec, dict) else spec.model_dump(exclude_none=True)
    return Leg(**{k: Decimal(v) for k, v in values.items()})


def trail_of(order: OrderRow) -> Trail | None:
    """Return a trailing stop leg's trail (None for any other order)."""
    if order.leg != STOP_LOSS or order.bracket is None or order.trail_extreme is None:
        return None
    distance = {k: Decimal(v) for k, v in json.loads(order.bracket)[TRAILING].items()}
    entry_side = Side.BUY if Side(order.side) is Side.SELL else Side.SELL
    return Trail(entry_side, order.trail_extreme, **distance)


@dataclass
class Changes:
    """What a fill did to bracket legs, for the caller to announce and book after commit."""

    created: list[OrderRow] = field(default_factory=list)
    replaced: list[OrderRow] = field(default_factory=list)
    cancelled: list[OrderRow] = field(default_factory=list)


async def after_fill(
    session: AsyncSession, clock: Clock, instrument: Instrument, order: OrderRow
) -> Changes:
    """Create, resize or cancel the bracket legs that ``order``'s fill concerns."""
    changes = Changes()
    entry = order
    if order.parent_id is not None:
        parent = await session.get(OrderRow, order.parent_id)
        assert parent is not None
        entry = parent
    if entry.bracket is not None and entry.leg is None:
        legs = await store.legs_of(session, entry.id)
        protected = await _protected(session, entry, legs)
        if not legs and protected > 0:
            legs = _create_legs(clock, instrument, entry, protected)
            session.add_all(legs)
            await session.flush()
            changes.created.extend(legs)
        else:
            await _resize(session, clock, instrument, legs, protected, changes)
    await _cancel_when_flat(session, clock, instrument, order, changes)
    return changes


async def _protected(session: AsyncSession, entry: OrderRow, legs: list[OrderRow]) -> Decimal:
    """Return what the legs protect: the entry's fills less the legs' own, never more than the
    position holds on the entry's side."""
    left = entry.filled_quantity - sum((leg.filled_quantity for leg in legs), Decimal(0))
    row = await store.position(
        session, entry.user_id, entry.symbol, entry.product, entry.tournament_id
    )
    held = Side(entry.side).sign * (row.quantity if row is not None else Decimal(0))
    return max(min(left, held), Decimal(0))


def _create_legs(
    clock: Clock, instrument: Instrument, entry: OrderRow, quantity: Decimal
) -> list[OrderRow]:
    assert entry.average_price is not None
    asked = json.loads(entry.bracket or "{}")
    side = Side(entry.side)
    fill = entry.average_price
    tick = instrument.tick_size
    legs: list[OrderRow] = []
    if TAKE_PROFIT in asked:
        price = leg_price(TAKE_PROFIT, side, _leg(asked[TAKE_PROFIT]), fill, tick)
        legs.append(_leg_row(clock, entry, quantity, TAKE_PROFIT, OrderType.LIMIT, price=price))
    if STOP_LOSS in asked or TRAILING in asked:
        trigger: Decimal | None = None
        if STOP_LOSS in asked:
            trigger = leg_price(STOP_LOSS, side, _leg(asked[STOP_LOSS]), fill, tick)
        bracket = None
        extreme = None
        if TRAILING in asked:
            trail = Trail(side, fill, **{k: Decimal(v) for k, v in asked[TRAILING].items()})
            trailed = trail.trigger(tick)
            if trigger is None or tighter(side, trailed, trigger):
                trigger = trailed
            bracket = json.dumps({TRAILING: asked[TRAILING]})
            extreme = fill
        kind = OrderType.STOP_LOSS_MARKET
        row = _leg_row(clock, entry, quantity, STOP_LOSS, kind, trigger=trigger)
        row.bracket, row.trail_extreme = bracket, extreme
        legs.append(row)
    return legs


def _leg_row(
    clock: Clock,
    entry: OrderRow,
    quantity: Decimal,
    leg: str,
    kind: OrderType,
    *,
    price: Decimal | None = None,
    trigger: Decimal | None = None,
) -> OrderRow:
    side = Side.SELL if Side(entry.side) is Side.BUY else Side.BUY
    return store.new_order(
        user_id=entry.user_id,
        symbol=entry.symbol,
        order_type=kind.value,
        side=side.value,
        product=entry.product,
        validity=Validity.GTC.value,
        quantity=quantity,
        request_hash=f"bracket:{entry.id}:{leg}",
        at=clock.now(),
        price=price,
        trigger_price=trigger,
        reason=f"{leg.replace('_', '-')} of order {entry.id}",
        tournament_id=entry.tournament_id,
        parent_id=entry.id,
        leg=leg,
    )


async def _resize(
    session: AsyncSession,
    clock: Clock,
    instrument: Instrument,
    legs: list[OrderRow],
    protected: Decimal,
    changes: Changes,
) -> None:
    """Size every waiting leg to what is left to protect; cancel it when nothing is."""
    for leg in legs:
        if Status(leg.status).is_final:
            continue
        if protected == 0:
            await cancel_rest(session, clock, instrument, leg, "bracket: nothing left to protect")
            changes.cancelled.append(leg)
        elif leg.quantity != leg.filled_quantity + protected:
            leg.quantity = leg.filled_quantity + protected
            leg.updated_at = clock.now()
            changes.replaced.append(leg)


async def _cancel_when_flat(
    session: AsyncSession,
    clock: Clock,
    instrument: Instrument,
    order: OrderRow,
    changes: Changes,
) -> None:
    row = await store.position(
        session, order.user_id, order.symbol, order.product, order.tournament_id
    )
    if row is not None and row.quantity != 0:
        return
    done = {leg.id for leg in changes.cancelled}
    legs = await store.resting_legs(
        session, order.user_id, order.symbol, order.product, order.tournament_id
    )
    for leg in legs:
        if leg.id in done or leg is order:
            continue
        await cancel_rest(session, clock, instrument, leg, "bracket: the position is closed")
        changes.cancelled.append(leg)
