"""Placing and reading paper orders; positions and the portfolio they build.

This slice fills MARKET orders at once against the current quote (honest fills: the ask for a
buy, the bid for a sell, slippage by size, charges from the fee schedule), in one transaction
with the order, its fill, the position and the ledger. Resting LIMIT and stop orders, margin
for shorts, after-market orders and square-off arrive with the matching engine.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.domain.clock import Clock
from tradepit.domain.errors import Conflict, InvalidInput, NotFound
from tradepit.domain.fees import FeeSchedule
from tradepit.domain.fills import FILL_MODELS, NotTradable, Rest, check_quantity, market_fill
from tradepit.domain.instruments import Instrument
from tradepit.domain.ledger import Posting
from tradepit.domain.orders import Fill, OrderType, Product, Side, Status, transition
from tradepit.domain.positions import Position
from tradepit.market.data import MarketData
from tradepit.schemas.orders import (
    FillRead,
    OrderCreate,
    OrderRead,
    PortfolioCurrency,
    PortfolioRead,
    PositionRead,
)
from tradepit.services import wallets
from tradepit.services.callers import Caller
from tradepit.store import orders as store
from tradepit.store import users as user_store
from tradepit.store import wallets as wallet_store
from tradepit.store.orders import FillRow, OrderRow, PositionRow

#: The system wallets on the other side of trades and charges.
MARKET = "system:market"
FEES = "system:fees"


class DuplicateClientOrderId(Conflict):
    """The client_order_id was used before for a different order."""

    code = "DUPLICATE_CLIENT_ORDER_ID"


class OrderNotFound(NotFound):
    """No order of the caller has this id."""

    code = "ORDER_NOT_FOUND"


class NotYetSupported(InvalidInput):
    """The order needs the matching engine, which is not live yet."""

    code = "NOT_SUPPORTED_YET"


class MarketClosed(Conflict):
    """The instrument's venue is not open now."""

    code = "MARKET_CLOSED"


class OrderRejected(InvalidInput):
    """The order cannot be filled (no book, nothing to sell...)."""

    code = "ORDER_REJECTED"


def request_hash(body: OrderCreate, product: Product) -> str:
    """Return a digest of what the order asks for, to tell a retry from a different order."""
    fields = body.model_dump(mode="json", exclude={"client_order_id"})
    fields["product"] = product.value
    fields["symbol"] = body.symbol.upper()
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


async def place(
    session: AsyncSession,
    clock: Clock,
    market: MarketData,
    fees: FeeSchedule,
    caller: Caller,
    body: OrderCreate,
) -> tuple[OrderRead, bool]:
    """Place an order; return it and whether it is new (False: a retry of the same order)."""
    product = body.product or Product(await _default_product(session, caller))
    digest = request_hash(body, product)
    if body.client_order_id is not None:
        existing = await store.by_client_id(session, caller.user.id, body.client_order_id)
        if existing is not None:
            if existing.request_hash != digest:
                raise DuplicateClientOrderId(
                    f"client_order_id '{body.client_order_id}' was used for a different order"
                )
            return await order_read(session, existing, with_fills=True), False
    instrument = market.instrument(body.symbol)
    if not instrument.tradable:
        raise NotTradable(f"{instrument.symbol} is an index: quoted, not traded")
    if body.order_type is not OrderType.MARKET:
        raise NotYetSupported(
            f"{body.order_type.value} orders rest in the matching engine, which is not live yet; "
            "place a MARKET order"
        )
    check_quantity(instrument, body.quantity)
    status = market.status(instrument.venue)
    if not status.is_open:
        raise MarketClosed(
            f"{instrument.venue.value} is closed ({status.reason}); after-market orders arrive "
            "with the matching engine"
        )
    tick = market.tick(instrument.symbol)
    plan = market_fill(
        body.order_side,
        body.quantity,
        tick,
        instrument,
        FILL_MODELS[instrument.venue],
        body.validity,
    )
    if plan.rest is Rest.REJECT or plan.price is None or plan.filled == 0:
        raise OrderRejected(plan.reason or f"{instrument.symbol} cannot be filled now")
    now = clock.now()
    order = OrderRow(
        user_id=caller.user.id,
        client_order_id=body.client_order_id,
        request_hash=digest,
        symbol=instrument.symbol,
        order_type=body.order_type.value,
        side=body.order_side.value,
        product=product.value,
        validity=body.validity.value,
        quantity=body.quantity,
        filled_quantity=Decimal(0),
        price=body.price,
        trigger_price=body.trigger_price,
        average_price=None,
        charges=Decimal(0),
        status=Status.OPEN.value,
        reason=None,
        tournament_id=None,
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    await session.flush()
    charges = fees.charges(
        instrument, product, body.order_side, plan.filled, plan.price, plan.liquidity
    ).total
    await _apply_fill(session, clock, caller, instrument, product, order, body.order_side,
                      Fill(plan.filled, plan.price, charges), plan.liquidity)  # fmt: skip
    if plan.remaining > 0:
        order.status = transition(Status(order.status), Status.CANCELLED).value
        order.reason = f"{plan.reason}; the rest was cancelled (no resting orders yet)"
    return await order_read(session, order, with_fills=True), True


async def _default_product(session: AsyncSession, caller: Caller) -> str:
    found = await user_store.get_settings(session, caller.user.id)
    return found.default_product if found is not None else Product.MIS.value


async def _apply_fill(
    session: AsyncSession,
    clock: Clock,
    caller: Caller,
    instrument: Instrument,
    product: Product,
    order: OrderRow,
    side: Side,
    fill: Fill,
    liquidity: str,
) -> None:
    row = await store.position(session, caller.user.id, instrument.symbol, product.value)
    position = _position(caller.user.id, instrument.symbol, product, row)
    if side is Side.SELL and position.quantity - fill.quantity < 0:
        raise OrderRejected(
            f"you hold {position.quantity} {instrument.symbol} ({product.value}); selling short "
            "needs margin, which arrives with the matching engine"
        )
    position.apply(side, fill, instrument.multiplier)
    now = clock.now()
    if row is None:
        row = PositionRow(user_id=caller.user.id, symbol=instrument.symbol, product=product.value)
        session.add(row)
    row.quantity = position.quantity
    row.cost_basis = position.cost_basis
    row.realized_gross = position.realized_gross
    row.charges = position.charges
    row.updated_at = now
    session.add(
        FillRow(
            order_id=order.id,
            quantity=fill.quantity,
            price=fill.price,
            charges=fill.charges,
            liquidity=liquidity,
            at=now,
        )
    )
    filled = order.filled_quantity + fill.quantity
    order.average_price = (
        (order.average_price or Decimal(0)) * order.filled_quantity + fill.price * fill.quantity
    ) / filled
    order.average_price = order.average_price.quantize(Decimal("1e-8"))
    order.filled_quantity = filled
    order.charges += fill.charges
    target = Status.FILLED if filled == order.quantity else Status.PARTIALLY_FILLED
    order.status = transition(Status(order.status), target).value
    order.updated_at = now
    await _post_trade(session, clock, caller, instrument, order, side, fill)


async def _post_trade(
    session: AsyncSession,
    clock: Clock,
    caller: Caller,
    instrument: Instrument,
    order: OrderRow,
    side: Side,
    fill: Fill,
) -> None:
    currency = instrument.currency
    wallet = await wallet_store.find_wallet(session, caller.user.id, wallets.CASH, currency)
    if wallet is None:
        raise OrderRejected(f"you have no {currency} wallet")
    now = clock.now()
    market_wallet = await wallet_store.system_wallet(session, MARKET, currency, now)
    fee_wallet = await wallet_store.system_wallet(session, FEES, currency, now)
    notional = fill.quantity * fill.price * instrument.multiplier
    cash = -side.sign * notional - fill.charges
    postings = [
        Posting(wallet.id, currency, cash),
        Posting(market_wallet.id, currency, side.sign * notional),
        Posting(fee_wallet.id, currency, fill.charges),
    ]
    await wallets.post(
        session,
        clock,
        kind="trade",
        reference=f"order:{order.id}",
        postings=[p for p in postings if p.amount != 0],
    )


def _position(user_id: int, symbol: str, product: Product, row: PositionRow | None) -> Position:
    if row is None:
        return Position(user_id, symbol, product)
    return Position(
        user_id,
        symbol,
        product,
        quantity=row.quantity,
        cost_basis=row.cost_basis,
        realized_gross=row.realized_gross,
        charges=row.charges,
    )


async def order_read(session: AsyncSession, order: OrderRow, *, with_fills: bool) -> OrderRead:
    """Return the wire shape of an order (with its fills when asked)."""
    fills = None
    if with_fills:
        fills = [
            FillRead(
                quantity=f.quantity,
                price=f.price,
                charges=f.charges,
                liquidity=f.liquidity,
                at=f.at,
            )
            for f in await store.fills_of(session, order.id)
        ]
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
        created_at=order.created_at,
        updated_at=order.updated_at,
        fills=fills,
    )


async def get(session: AsyncSession, caller: Caller, order_id: int) -> OrderRead:
    """Return one of the caller's orders with its fills; another user's is not found."""
    order = await session.get(OrderRow, order_id)
    if order is None or order.user_id != caller.user.id:
        raise OrderNotFound(f"order {order_id} not found")
    return await order_read(session, order, with_fills=True)


async def cancel(session: AsyncSession, clock: Clock, caller: Caller, order_id: int) -> OrderRead:
    """Cancel an open order of the caller; a final one is a 409."""
    order = await session.get(OrderRow, order_id)
    if order is None or order.user_id != caller.user.id:
        raise OrderNotFound(f"order {order_id} not found")
    order.status = transition(Status(order.status), Status.CANCELLED).value
    order.updated_at = clock.now()
    return await order_read(session, order, with_fills=True)


async def history(
    session: AsyncSession,
    caller: Caller,
    *,
    status: str | None,
    symbol: str | None,
    page: int,
    limit: int,
) -> tuple[list[OrderRead], int]:
    """Return one page of the caller's orders, newest first."""
    rows, total = await store.page(
        session,
        caller.user.id,
        status=status,
        symbol=symbol.upper() if symbol else None,
        offset=(page - 1) * limit,
        limit=limit,
    )
    return [await order_read(session, row, with_fills=False) for row in rows], total


async def positions(
    session: AsyncSession, market: MarketData, caller: Caller
) -> list[PositionRead]:
    """Return the caller's positions (open, and closed ones with realized P&L) marked to LTP."""
    found = []
    for row in await store.positions_of(session, caller.user.id):
        instrument = market.instrument(row.symbol)
        position = _position(caller.user.id, row.symbol, Product(row.product), row)
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
    """Return cash, positions value, equity and P&L per currency, with the positions."""
    held = await positions(session, market, caller)
    value: dict[str, Decimal] = defaultdict(Decimal)
    realized: dict[str, Decimal] = defaultdict(Decimal)
    unrealized: dict[str, Decimal] = defaultdict(Decimal)
    for p in held:
        multiplier = market.instrument(p.symbol).multiplier
        value[p.currency] += p.quantity * p.ltp * multiplier
        realized[p.currency] += p.realized_pnl
        unrealized[p.currency] += p.unrealized_pnl
    currencies = [
        PortfolioCurrency(
            currency=w.currency,
            cash=w.cash,
            positions_value=value[w.currency],
            equity=w.cash + value[w.currency],
            realized_pnl=realized[w.currency],
            unrealized_pnl=unrealized[w.currency],
        )
        for w in await wallets.wallets_of(session, caller.user.id)
    ]
    return PortfolioRead(currencies=currencies, positions=held)
