"""Placing, changing and reading paper orders.

A MARKET order fills at once against the current quote (honest fills: the ask for a buy, the
bid for a sell, slippage by size, charges from the fee schedule), in one transaction with the
order, its fill, the position and the ledger. LIMIT and stop orders that cannot fill now rest:
a buy blocks the cash it may need, and the matching engine (``services.engine``) fills them on
the tick that crosses them. On a closed venue an order is accepted as after-market (``amo``)
and goes live with the first tick after the open. A sell needs the quantity held, except where
the instrument may go short (intraday equities, forex): then it blocks the sale proceeds plus
the margin. Fills and their money are applied by ``services.execution``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
from decimal import Decimal
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.domain.clock import Clock
from tradepit.domain.errors import Conflict, InvalidInput, NotFound
from tradepit.domain.fees import FeeSchedule
from tradepit.domain.fills import (
    FILL_MODELS,
    FillPlan,
    InvalidPrice,
    NotTradable,
    Rest,
    check_price,
    check_product,
    check_quantity,
    check_trigger,
    limit_fill,
    market_fill,
)
from tradepit.domain.instruments import Instrument
from tradepit.domain.market import Tick
from tradepit.domain.money import plain
from tradepit.domain.orders import (
    RESTING,
    IllegalTransition,
    OrderType,
    Product,
    Side,
    Status,
    Validity,
)
from tradepit.market.data import MarketData
from tradepit.schemas.orders import (
    FillRead,
    OrderCreate,
    OrderModify,
    OrderRead,
)
from tradepit.schemas.wallets import WalletRead
from tradepit.services import brackets, tournaments
from tradepit.services.callers import Caller
from tradepit.services.execution import (
    OrderRejected,
    cancel_rest,
    cash_wallet,
    execute,
    hold,
    no_short,
    position_of,
    release,
)
from tradepit.store import orders as store
from tradepit.store import rows
from tradepit.store import users as user_store
from tradepit.store import wallets as wallet_store
from tradepit.store.db import after_commit
from tradepit.store.orders import OrderRow, PositionRow
from tradepit.trading.state import TradingState, order_model


class DuplicateClientOrderId(Conflict):
    """The client_order_id was used before for a different order."""

    code = "DUPLICATE_CLIENT_ORDER_ID"


class OrderNotFound(NotFound):
    """No order of the caller has this id."""

    code = "ORDER_NOT_FOUND"


def request_hash(body: OrderCreate, product: Product) -> str:
    """Return a digest of what the order asks for, to tell a retry from a different order."""
    fields = body.model_dump(mode="json", exclude={"client_order_id"})
    fields["product"] = product.value
    fields["symbol"] = body.symbol.upper()
    if fields.get("tournament_id") is None:
        fields.pop("tournament_id", None)  # the digest of a main order is as it always was
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


class Book(Protocol):
    """Where resting orders wait (``services.engine.Matcher``)."""

    def rest(self, order: OrderRow) -> None:
        """Start watching ``order`` (called once its row is committed)."""
        ...

    def forget(self, order_id: int) -> None:
        """Stop watching the order."""
        ...

    def replace(self, order: OrderRow) -> None:
        """Watch the order's new prices instead of its old ones."""
        ...

    def record(self, session: AsyncSession, user_id: int, message: dict[str, object]) -> None:
        """Journal a private message (order, position or balance) in the session's
        transaction and publish it on the user's topic once that commits."""
        ...


def announce(session: AsyncSession, book: Book, order: OrderRow, event: str) -> None:
    """Journal ``event`` (Alpaca's trade_updates names) with the order as it is now, in the
    transaction; it is published once that commits."""
    snapshot = order_model(order).model_dump(mode="json", exclude={"fills"})
    message: dict[str, object] = {"type": "order", "event": event, "order": snapshot}
    book.record(session, order.user_id, message)


async def announce_trade(
    session: AsyncSession, book: Book, order: OrderRow, instrument: Instrument
) -> None:
    """Publish the order's fill event, then its position and cash balance as they now are."""
    announce(session, book, order, fill_event(order))
    tournament_id = order.tournament_id
    row = await store.position(session, order.user_id, order.symbol, order.product, tournament_id)
    # The session's copy: the ledger and the holds keep it as the database has it.
    wallet = await cash_wallet(session, order.user_id, instrument.currency, tournament_id)
    messages: list[dict[str, object]] = [
        {"type": "balance", "balance": WalletRead(
            currency=wallet.currency, cash=wallet.balance, blocked=wallet.blocked,
            available=wallet.balance - wallet.blocked,
        ).model_dump(mode="json")},
    ]  # fmt: skip
    if row is not None:
        position = position_of(row.user_id, row.symbol, Product(row.product), row)
        messages.insert(0, {"type": "position", "position": {
            "symbol": row.symbol, "product": row.product, "quantity": plain(position.quantity),
            "average_price": plain(position.average_price(instrument.multiplier)),
            "realized_pnl": plain(position.realized_net), "charges": plain(position.charges),
        }})  # fmt: skip
    if tournament_id is not None:  # the tournament wallet, not the main one
        for message in messages:
            message["tournament_id"] = tournament_id
    for message in messages:
        book.record(session, order.user_id, message)


async def after_trade(
    session: AsyncSession, clock: Clock, book: Book, order: OrderRow, instrument: Instrument
) -> None:
    """Announce a fill of ``order``, then create, resize or cancel the bracket legs it
    concerns; the book learns of the legs once the transaction commits."""
    await announce_trade(session, book, order, instrument)
    changes = await brackets.after_fill(session, clock, instrument, order)
    for leg in changes.created:
        announce(session, book, leg, "new")
        after_commit(session, functools.partial(book.rest, leg))
    for leg in changes.replaced:
        announce(session, book, leg, "replaced")
    for leg in changes.cancelled:
        announce(session, book, leg, "canceled")
        after_commit(session, functools.partial(book.forget, leg.id))


_EVENTS = {
    Status.FILLED: "fill",
    Status.PARTIALLY_FILLED: "partial_fill",
    Status.CANCELLED: "canceled",
    Status.REJECTED: "rejected",
    Status.EXPIRED: "expired",
    Status.OPEN: "new",
    Status.AMO: "new",
}


def fill_event(order: OrderRow) -> str:
    """Return the event name for an order that just traded (fill, partial_fill, rejected...)."""
    return _EVENTS[Status(order.status)]


async def place(
    session: AsyncSession,
    clock: Clock,
    market: MarketData,
    fees: FeeSchedule,
    book: Book,
    caller: Caller,
    body: OrderCreate,
) -> tuple[OrderRead, bool]:
    """Place an order; return it and whether it is new (False: a retry of the same order)."""
    # One user's orders change one at a time: the duplicate check, holdings and positions
    # below read what the previous order wrote.
    await wallet_store.lock_user(session, caller.user.id)
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
    check_product(instrument, product.value)  # an index contract: MIS or NRML
    market.check_listed(instrument, product.value)  # futures and options: listed, not CNC
    check_quantity(instrument, body.quantity)
    tick = market.tick(instrument.symbol)
    _check_prices(instrument, body, tick)
    brackets.check(instrument, body, tick)
    if body.tournament_id is not None:
        await tournaments.check_order(
            session, clock, caller.user.id, body.tournament_id, instrument, product, body, tick
        )
    is_open = market.status(instrument.venue).is_open
    order = store.new_order(
        user_id=caller.user.id,
        symbol=instrument.symbol,
        order_type=body.order_type.value,
        side=body.order_side.value,
        product=product.value,
        validity=body.validity.value,
        quantity=body.quantity,
        request_hash=digest,
        at=clock.now(),
        status=(Status.OPEN if is_open else Status.AMO).value,
        client_order_id=body.client_order_id,
        price=body.price,
        trigger_price=body.trigger_price,
        tournament_id=body.tournament_id,
        bracket=brackets.spec_of(body),
    )
    await rows.add(session, order)
    if body.order_side is Side.SELL:
        await _check_holding(session, caller, instrument, product, order)
    plan = _plan_now(instrument, order, tick) if is_open else None
    if plan is not None and plan.rest is Rest.REJECT:
        raise OrderRejected(plan.reason or f"{instrument.symbol} cannot be filled now")
    announce(session, book, order, "new")
    if plan is not None and plan.price is not None and plan.filled > 0:
        await execute(session, clock, fees, instrument, order, plan)
        await after_trade(session, clock, book, order, instrument)
    if Status(order.status).is_final:
        return await order_read(session, order, with_fills=True, new=True), True
    if body.validity is Validity.IOC and is_open:
        await cancel_rest(
            session, clock, instrument, order, "immediate-or-cancel: the rest was cancelled"
        )
        announce(session, book, order, "canceled")
        return await order_read(session, order, with_fills=True, new=True), True
    if body.order_side is Side.BUY:
        await hold(session, fees, instrument, product, order, tick)
    if not is_open:
        order.reason = "after-market order: goes live at the next open"
    after_commit(session, lambda: book.rest(order))
    return await order_read(session, order, with_fills=True, new=True), True


def _check_prices(instrument: Instrument, body: OrderCreate, tick: Tick) -> None:
    kind = body.order_type
    if kind in (OrderType.LIMIT, OrderType.STOP_LOSS):
        if body.price is None:
            raise InvalidPrice(f"a {kind.value} order needs a price")
        check_price(instrument, body.price)
    elif body.price is not None:
        raise InvalidPrice(f"a {kind.value} order takes no price")
    if body.trigger_price is not None:
        check_price(instrument, body.trigger_price)
    check_trigger(body.order_side, kind, body.trigger_price, tick.ltp, body.price)


def _plan_now(instrument: Instrument, order: OrderRow, tick: Tick) -> FillPlan | None:
    """Return what the current quote fills of a new order (None: it rests)."""
    side, validity = Side(order.side), Validity(order.validity)
    model = FILL_MODELS[instrument.venue]
    remaining = order.quantity - order.filled_quantity
    kind = OrderType(order.order_type)
    if kind is OrderType.MARKET:
        return market_fill(side, remaining, tick, instrument, model, validity)
    if kind is OrderType.LIMIT:
        assert order.price is not None
        return limit_fill(side, order.price, remaining, tick, instrument, model, validity)
    return None  # a stop waits for its trigger (check_trigger refused one already crossed)


async def _check_holding(
    session: AsyncSession,
    caller: Caller,
    instrument: Instrument,
    product: Product,
    order: OrderRow,
) -> None:
    if instrument.can_short(product.value):
        return  # the margin is blocked when the short fills
    tournament_id = order.tournament_id
    row = await store.position(
        session, caller.user.id, instrument.symbol, product.value, tournament_id
    )
    held = row.quantity if row is not None else Decimal(0)
    selling = await store.open_sell_quantity(
        session, caller.user.id, instrument.symbol, product.value, tournament_id
    )
    if held - selling < 0:
        raise OrderRejected(
            f"you hold {plain(held)} {instrument.symbol} ({product.value}) and have "
            f"{plain(selling - order.quantity)} already on sale; "
            f"{no_short(instrument, product)}"
        )


async def _default_product(session: AsyncSession, caller: Caller) -> str:
    found = await user_store.get_settings(session, caller.user.id)
    return found.default_product if found is not None else Product.MIS.value


async def order_read(
    session: AsyncSession, order: OrderRow, *, with_fills: bool, new: bool = False
) -> OrderRead:
    """Return the wire shape of an order (with its fills when asked; ``new``: the order was
    placed in this transaction)."""
    fills = None
    if with_fills:
        fills = [
            FillRead(quantity=f.quantity, price=f.price, charges=f.charges,
                     liquidity=f.liquidity, at=f.at)
            for f in await store.fills_of(session, order.id, new=new)
        ]  # fmt: skip
    return order_model(order, fills)


async def get(session: AsyncSession, caller: Caller, order_id: int) -> OrderRead:
    """Return one of the caller's orders with its fills; another user's is not found."""
    order = await session.get(OrderRow, order_id)
    if order is None or order.user_id != caller.user.id:
        raise OrderNotFound(f"order {order_id} not found")
    return await order_read(session, order, with_fills=True)


async def cancel(
    session: AsyncSession,
    clock: Clock,
    market: MarketData,
    book: Book,
    caller: Caller,
    order_id: int,
    tournament_id: int | None = None,
) -> OrderRead:
    """Cancel an open order of the caller (in ``tournament_id``, when given) and release what
    it blocked; a final one is a 409."""
    await wallet_store.lock_user(session, caller.user.id)
    order = await session.get(OrderRow, order_id, with_for_update=True)
    if order is None or order.user_id != caller.user.id:
        raise OrderNotFound(f"order {order_id} not found")
    if tournament_id is not None and order.tournament_id != tournament_id:
        raise OrderNotFound(f"order {order_id} not found in tournament {tournament_id}")
    await cancel_rest(session, clock, market.instrument(order.symbol), order, "cancelled by you")
    after_commit(session, lambda: book.forget(order_id))
    announce(session, book, order, "canceled")
    return await order_read(session, order, with_fills=True)


async def modify(
    session: AsyncSession,
    clock: Clock,
    market: MarketData,
    fees: FeeSchedule,
    book: Book,
    caller: Caller,
    order_id: int,
    change: OrderModify,
) -> OrderRead:
    """Change the price, quantity or trigger of an open, resting order of the caller.

    The new quantity cannot be below what has filled; a buy's blocked cash is re-computed.
    What is left of the order is held to the checks of placing: a sale to the holding, a
    tournament's rules, a bracket leg to the position it protects.
    """
    await wallet_store.lock_user(session, caller.user.id)
    order = await session.get(OrderRow, order_id, with_for_update=True)
    if order is None or order.user_id != caller.user.id:
        raise OrderNotFound(f"order {order_id} not found")
    status = Status(order.status)
    if status.is_final:
        raise IllegalTransition(f"an order that is {status.value} cannot be modified")
    if OrderType(order.order_type) is OrderType.MARKET:
        raise IllegalTransition(
            "a MARKET order fills at once and cannot be modified; cancel it if it is still "
            "pending, or place a new order"
        )
    instrument = market.instrument(order.symbol)
    quantity = change.quantity if change.quantity is not None else order.quantity
    if quantity <= order.filled_quantity:
        raise InvalidInput(
            f"the new quantity must be above the {plain(order.filled_quantity)} already filled"
        )
    check_quantity(instrument, quantity)
    tick = market.tick(instrument.symbol)
    new = OrderCreate(
        symbol=order.symbol,
        order_type=OrderType(order.order_type),
        order_side=Side(order.side),
        quantity=quantity,
        price=change.price if change.price is not None else order.price,
        trigger_price=change.trigger_price
        if change.trigger_price is not None
        else order.trigger_price,
        tournament_id=order.tournament_id,
    )
    _check_prices(instrument, new, tick)
    product = Product(order.product)
    left = new.model_copy(update={"quantity": quantity - order.filled_quantity})
    if order.leg is not None:
        await brackets.check_modify(session, order, left.quantity)
    if order.tournament_id is not None:
        await tournaments.check_order(
            session, clock, caller.user.id, order.tournament_id, instrument, product, left, tick
        )
    growing = quantity > order.quantity
    await release(session, instrument, order, order.held)
    order.quantity, order.price, order.trigger_price = quantity, new.price, new.trigger_price
    if growing and Side(order.side) is Side.SELL and order.leg is None:
        await _check_holding(session, caller, instrument, product, order)
    if Side(order.side) is Side.BUY and order.parent_id is None:  # legs need no cash
        await hold(session, fees, instrument, product, order, tick)
    order.updated_at = clock.now()
    after_commit(session, lambda: book.replace(order))
    announce(session, book, order, "replaced")
    return await order_read(session, order, with_fills=True)


class NoPosition(NotFound):
    """The caller has no open position in that symbol (and product)."""

    code = "POSITION_NOT_FOUND"


async def close_position(
    session: AsyncSession,
    clock: Clock,
    market: MarketData,
    fees: FeeSchedule,
    book: Book,
    caller: Caller,
    symbol: str,
    product: Product | None,
) -> OrderRead:
    """Close one open position with a MARKET order of the opposite side for its quantity.

    With several products open in the symbol, ``product`` says which one.
    """
    await wallet_store.lock_user(session, caller.user.id)
    instrument = market.instrument(symbol)
    open_rows = [
        row for row in await store.positions_of(session, caller.user.id)
        if row.symbol == instrument.symbol and row.quantity != 0
        and (product is None or row.product == product.value)
    ]  # fmt: skip
    if not open_rows:
        raise NoPosition(f"you have no open {instrument.symbol} position")
    if len(open_rows) > 1:
        held = ", ".join(row.product for row in open_rows)
        raise InvalidInput(f"you hold {instrument.symbol} as {held}: say which with ?product=")
    row = open_rows[0]
    body = OrderCreate(
        symbol=instrument.symbol,
        order_type=OrderType.MARKET,
        order_side=Side.SELL if row.quantity > 0 else Side.BUY,
        quantity=abs(row.quantity),
        product=Product(row.product),
    )
    order, _ = await place(session, clock, market, fees, book, caller, body)
    return order


async def close_position_by_id(
    session: AsyncSession,
    clock: Clock,
    market: MarketData,
    fees: FeeSchedule,
    book: Book,
    caller: Caller,
    position_id: int,
    tournament_id: int | None = None,
) -> OrderRead:
    """Close the caller's open position ``position_id`` (a main one, or one of
    ``tournament_id``) with a MARKET order of the opposite side for its quantity."""
    await wallet_store.lock_user(session, caller.user.id)
    row = await session.get(PositionRow, position_id)
    if (
        row is None
        or row.user_id != caller.user.id
        or row.tournament_id != tournament_id
        or row.quantity == 0
    ):
        where = "" if tournament_id is None else f" in tournament {tournament_id}"
        raise NoPosition(f"you have no open position {position_id}{where}")
    body = OrderCreate(
        symbol=row.symbol,
        order_type=OrderType.MARKET,
        order_side=Side.SELL if row.quantity > 0 else Side.BUY,
        quantity=abs(row.quantity),
        product=Product(row.product),
        tournament_id=tournament_id,
    )
    order, _ = await place(session, clock, market, fees, book, caller, body)
    return order


async def history(
    state: TradingState,
    caller: Caller,
    *,
    status: str | None,
    symbol: str | None,
    page: int,
    limit: int,
    tournament_id: int | None = None,
    session: AsyncSession | None = None,
) -> tuple[list[OrderRead], int]:
    """Return one page of the caller's orders (all, or one tournament's), newest first; the
    orders that may still fill come from the trading state. What the database answers is
    read in ``session`` (a caller that holds one: on SQLite its transaction may hold the only
    connection), else in a session of its own, opened only then (~35 µs a request)."""
    symbol = symbol.upper() if symbol else None
    offset = (page - 1) * limit
    if status in RESTING:
        found = [
            order
            for order in await (state.within(session) if session else state).resting(caller.user.id)
            if order.status == status
            and (symbol is None or order.symbol == symbol)
            and (tournament_id is None or order.tournament_id == tournament_id)
        ]
        return found[offset : offset + limit], len(found)
    async with contextlib.AsyncExitStack() as stack:
        if session is None:
            session = await stack.enter_async_context(state.sessionmaker())
        rows, total = await store.page(
            session,
            caller.user.id,
            status=status,
            symbol=symbol,
            offset=offset,
            limit=limit,
            tournament_id=tournament_id,
        )
        return [await order_read(session, row, with_fills=False) for row in rows], total
