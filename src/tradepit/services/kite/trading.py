"""Kite's order, trade, position, holding and margin routes over Tradepit's paper trading.

A Kite order is a Tradepit paper order on the user's INR wallet, placed, modified and
cancelled by ``services.orders`` (the same fills, charges, margins, brackets and events);
this module only translates Kite's fields and names to Tradepit's and back.
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.domain.clock import Clock
from tradepit.domain.errors import InvalidInput
from tradepit.domain.fees import FeeSchedule
from tradepit.domain.kite import KITE_ZONE, instrument_token, kite_time, trading_symbol
from tradepit.domain.orders import OrderType, Product, Side, Status, Validity
from tradepit.market.data import MarketData
from tradepit.schemas.kite import KiteModifyForm, KiteOrderForm
from tradepit.schemas.orders import LegSpec, OrderCreate, OrderModify, OrderRead, PositionRead
from tradepit.services import orders, wallets
from tradepit.services import portfolio as holdings
from tradepit.services.callers import Caller
from tradepit.services.kite.market import exchange_of, resolve
from tradepit.services.orders import Book, OrderNotFound
from tradepit.store import kite as store
from tradepit.trading.state import TradingState, order_model

#: Kite's order types and Tradepit's.
ORDER_TYPES = {
    "MARKET": OrderType.MARKET,
    "LIMIT": OrderType.LIMIT,
    "SL": OrderType.STOP_LOSS,
    "SL-M": OrderType.STOP_LOSS_MARKET,
}
KITE_TYPES = {kind: name for name, kind in ORDER_TYPES.items()}
#: Varieties Tradepit's engine carries: regular, after-market (a closed venue makes any order
#: one), and cover orders (an entry with a stop-loss leg). Iceberg and auction are refused.
VARIETIES = ("regular", "amo", "co")
_STATUSES = {
    Status.AMO: "AMO REQ RECEIVED",
    Status.OPEN: "OPEN",
    Status.PARTIALLY_FILLED: "OPEN",
    Status.FILLED: "COMPLETE",
    Status.CANCELLED: "CANCELLED",
    Status.EXPIRED: "CANCELLED",
    Status.REJECTED: "REJECTED",
}
MAX_ORDER_ID = 2**31 - 1
INR = "INR"


class UnsupportedVariety(InvalidInput):
    """A variety Tradepit's engine does not carry (iceberg, auction)."""

    code = "KITE_VARIETY_INVALID"


def _variety(variety: str) -> str:
    if variety not in VARIETIES:
        raise UnsupportedVariety(
            f"Invalid `variety`: {variety!r}; Tradepit takes {', '.join(VARIETIES)}"
        )
    return variety


def order_id_of(text: str) -> int:
    """Return the order id a Kite ``order_id`` names; anything else is not found."""
    if not text.isascii() or not text.isdigit() or not 0 < int(text[:12]) <= MAX_ORDER_ID:
        raise OrderNotFound(f"Couldn't find that `order_id`: {text[:40]!r}")
    return int(text)


def _number(value: Decimal | None) -> int | float:
    """Return a JSON number: a whole quantity as an int, anything else as a float."""
    if value is None:
        return 0
    return int(value) if value == value.to_integral_value() else float(value)


def _price(value: Decimal | None) -> float:
    return float(value) if value is not None else 0.0


def order_create(market: MarketData, variety: str, form: KiteOrderForm) -> OrderCreate:
    """Return the Tradepit order a Kite order form asks for."""
    instrument = resolve(market, form.exchange, form.tradingsymbol)
    kind = ORDER_TYPES[form.order_type]
    takes_price = kind in (OrderType.LIMIT, OrderType.STOP_LOSS)
    takes_trigger = kind in (OrderType.STOP_LOSS, OrderType.STOP_LOSS_MARKET)
    stop_loss = None
    if variety == "co":
        if kind not in (OrderType.MARKET, OrderType.LIMIT) or form.trigger_price is None:
            raise InvalidInput("A cover order is MARKET or LIMIT with a stop-loss trigger_price")
        if form.product != "MIS":
            raise InvalidInput("A cover order is intraday: product MIS")
        stop_loss = LegSpec(price=form.trigger_price)
    elif takes_trigger and form.trigger_price is None:
        raise InvalidInput(f"Trigger price is required for {form.order_type} orders")
    if takes_price and form.price is None:
        raise InvalidInput(f"Price is required for {form.order_type} orders")
    try:
        return OrderCreate(
            symbol=instrument.symbol,
            order_type=kind,
            order_side=Side(form.transaction_type),
            quantity=Decimal(form.quantity),
            price=form.price if takes_price else None,
            trigger_price=form.trigger_price if takes_trigger and variety != "co" else None,
            product=Product(form.product),
            validity=Validity(form.validity),
            stop_loss=stop_loss,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(f"Invalid order: {first.get('msg', 'invalid')}") from exc


async def place(
    session: AsyncSession,
    clock: Clock,
    market: MarketData,
    fees: FeeSchedule,
    book: Book,
    caller: Caller,
    variety: str,
    form: KiteOrderForm,
) -> dict[str, str]:
    """Place a Kite order as a paper order; return its ``order_id``."""
    body = order_create(market, _variety(variety), form)
    placed, _ = await orders.place(session, clock, market, fees, book, caller, body)
    return {"order_id": str(placed.id)}


async def modify(
    session: AsyncSession,
    clock: Clock,
    market: MarketData,
    fees: FeeSchedule,
    book: Book,
    caller: Caller,
    variety: str,
    order_id: str,
    form: KiteModifyForm,
) -> dict[str, str]:
    """Change the quantity, price or trigger of an open order; return its ``order_id``."""
    _variety(variety)
    number = order_id_of(order_id)
    current = await orders.get(session, caller, number)
    if form.order_type is not None and ORDER_TYPES[form.order_type] is not current.order_type:
        raise InvalidInput("Tradepit cannot change an order's type: cancel it and place anew")
    if form.validity is not None and form.validity != current.validity.value:
        raise InvalidInput("Tradepit cannot change an order's validity")
    try:
        change = OrderModify(
            quantity=Decimal(form.quantity) if form.quantity is not None else None,
            price=form.price,
            trigger_price=form.trigger_price,
        )
    except ValidationError as exc:
        raise InvalidInput(f"Invalid change: {exc.errors()[0].get('msg', 'invalid')}") from exc
    changed = await orders.modify(session, clock, market, fees, book, caller, number, change)
    return {"order_id": str(changed.id)}


async def cancel(
    session: AsyncSession,
    clock: Clock,
    market: MarketData,
    book: Book,
    caller: Caller,
    variety: str,
    order_id: str,
) -> dict[str, str]:
    """Cancel an open order; return its ``order_id``."""
    _variety(variety)
    cancelled = await orders.cancel(session, clock, market, book, caller, order_id_of(order_id))
    return {"order_id": str(cancelled.id)}


def kite_status(order: OrderRead) -> str:
    """Return Kite's status of an order (a stop not yet triggered is TRIGGER PENDING)."""
    status = Status(order.status)
    stop = order.order_type in (OrderType.STOP_LOSS, OrderType.STOP_LOSS_MARKET)
    if status is Status.OPEN and stop and order.filled_quantity == 0:
        return "TRIGGER PENDING"
    return _STATUSES[status]


def kite_order(market: MarketData, placed_by: str, order: OrderRead) -> dict[str, Any]:
    """Return an order in Kite's shape (``placed_by``: the owner's username)."""
    instrument = market.instrument(order.symbol)
    status = Status(order.status)
    left = order.quantity - order.filled_quantity
    variety = "co" if order.bracket or order.parent_id else "amo" if status is Status.AMO else None
    return {
        "placed_by": placed_by,
        "order_id": str(order.id),
        "exchange_order_id": None if status in (Status.AMO, Status.REJECTED) else str(order.id),
        "parent_order_id": str(order.parent_id) if order.parent_id else None,
        "status": kite_status(order),
        "status_message": order.reason,
        "status_message_raw": order.reason,
        "order_timestamp": kite_time(order.created_at),
        "exchange_update_timestamp": kite_time(order.updated_at),
        "exchange_timestamp": None if status is Status.AMO else kite_time(order.updated_at),
        "variety": variety or "regular",
        "modified": order.updated_at != order.created_at and not status.is_final,
        "exchange": exchange_of(instrument),
        "tradingsymbol": trading_symbol(instrument),
        "instrument_token": instrument_token(instrument),
        "order_type": KITE_TYPES[order.order_type],
        "transaction_type": order.order_side.value,
        "validity": order.validity.value,
        "validity_ttl": 0,
        "product": order.product.value,
        "quantity": _number(order.quantity),
        "disclosed_quantity": 0,
        "price": _price(order.price),
        "trigger_price": _price(order.trigger_price),
        "average_price": _price(order.average_price),
        "filled_quantity": _number(order.filled_quantity),
        "pending_quantity": 0 if status.is_final else _number(left),
        "cancelled_quantity": _number(left) if status in (Status.CANCELLED, Status.EXPIRED) else 0,
        "market_protection": 0,
        "meta": {},
        "tag": None,
        "tags": [],
        "guid": f"tradepit-{order.id}",
    }


def day_start(clock: Clock) -> datetime:
    """Return the start of today in India (Kite's books are the day's)."""
    today = clock.now().astimezone(KITE_ZONE).date()
    return datetime.combine(today, time(0), KITE_ZONE)


async def order_book(
    session: AsyncSession, clock: Clock, market: MarketData, caller: Caller
) -> list[dict[str, Any]]:
    """Return today's orders and every order still pending, oldest first."""
    rows = await store.day_orders(session, caller.user.id, day_start(clock))
    return [kite_order(market, caller.user.username, order_model(row)) for row in rows]


async def order_history(
    session: AsyncSession, market: MarketData, caller: Caller, order_id: str
) -> list[dict[str, Any]]:
    """Return an order's states, oldest first: as it was received, then as it is now."""
    order = await orders.get(session, caller, order_id_of(order_id))
    now = kite_order(market, caller.user.username, order)
    amo = Status(order.status) is Status.AMO
    received = {
        **now,
        "status": now["status"] if amo else "PUT ORDER REQ RECEIVED",
        "filled_quantity": 0,
        "pending_quantity": _number(order.quantity),
        "cancelled_quantity": 0,
        "average_price": 0.0,
        "exchange_timestamp": None,
        "exchange_update_timestamp": None,
        "status_message": None,
        "status_message_raw": None,
    }  # fmt: skip
    return [received, now] if received != now else [now]


def _trade(market: MarketData, fill: Any, order: Any) -> dict[str, Any]:
    instrument = market.instrument(order.symbol)
    return {
        "trade_id": str(fill.id),
        "order_id": str(order.id),
        "exchange_order_id": str(order.id),
        "exchange": exchange_of(instrument),
        "tradingsymbol": trading_symbol(instrument),
        "instrument_token": instrument_token(instrument),
        "product": order.product,
        "transaction_type": order.side,
        "average_price": float(fill.price),
        "quantity": _number(fill.quantity),
        "fill_timestamp": kite_time(fill.at),
        "exchange_timestamp": kite_time(fill.at),
        "order_timestamp": kite_time(order.created_at),
    }


async def trade_book(
    session: AsyncSession, clock: Clock, market: MarketData, caller: Caller
) -> list[dict[str, Any]]:
    """Return today's trades (fills), oldest first."""
    found = await store.day_fills(session, caller.user.id, day_start(clock))
    return [_trade(market, fill, order) for fill, order in found]


async def order_trades(
    session: AsyncSession, market: MarketData, caller: Caller, order_id: str
) -> list[dict[str, Any]]:
    """Return an order's trades, oldest first; another user's order is not found."""
    number = order_id_of(order_id)
    await orders.get(session, caller, number)
    found = await store.day_fills(session, caller.user.id, day_start_any(), number)
    return [_trade(market, fill, order) for fill, order in found]


def day_start_any() -> datetime:
    """Return a start before every fill (an order's trades are all of them)."""
    return datetime(2000, 1, 1, tzinfo=KITE_ZONE)


def _position(market: MarketData, row: PositionRead) -> dict[str, Any]:
    instrument = market.instrument(row.symbol)
    quantity, average = row.quantity, row.average_price
    long, short = max(quantity, Decimal(0)), max(-quantity, Decimal(0))
    return {
        "tradingsymbol": trading_symbol(instrument),
        "exchange": exchange_of(instrument),
        "instrument_token": instrument_token(instrument),
        "product": row.product.value,
        "quantity": _number(quantity),
        "overnight_quantity": 0,
        "multiplier": _number(row.multiplier),
        "average_price": float(average),
        "close_price": 0.0,
        "last_price": float(row.ltp),
        "value": float(-quantity * average * row.multiplier),
        "pnl": float(row.pnl),
        "m2m": float(row.unrealized_pnl),
        "unrealised": float(row.unrealized_pnl),
        "realised": float(row.realized_pnl),
        "buy_quantity": _number(long),
        "buy_price": float(average) if long else 0.0,
        "buy_value": float(long * average * row.multiplier),
        "buy_m2m": 0.0,
        "sell_quantity": _number(short),
        "sell_price": float(average) if short else 0.0,
        "sell_value": float(short * average * row.multiplier),
        "sell_m2m": 0.0,
        "day_buy_quantity": _number(long),
        "day_buy_price": float(average) if long else 0.0,
        "day_buy_value": float(long * average * row.multiplier),
        "day_sell_quantity": _number(short),
        "day_sell_price": float(average) if short else 0.0,
        "day_sell_value": float(short * average * row.multiplier),
    }


async def _kite_positions(
    state: TradingState, market: MarketData, caller: Caller
) -> list[PositionRead]:
    found = await holdings.positions(state, market, caller)
    return [p for p in found if p.currency == INR and p.tournament_id is None]


async def positions(
    state: TradingState, market: MarketData, caller: Caller
) -> dict[str, list[dict[str, Any]]]:
    """Return the net positions (open and closed), each twice: ``net`` and ``day`` (Tradepit
    keeps one net position per symbol and product)."""
    net = [_position(market, p) for p in await _kite_positions(state, market, caller)]
    return {"net": net, "day": [dict(p) for p in net]}


async def portfolio_holdings(
    state: TradingState, market: MarketData, caller: Caller
) -> list[dict[str, Any]]:
    """Return the delivery (CNC) shares held."""
    found = []
    for row in await _kite_positions(state, market, caller):
        if row.product is not Product.CNC or row.quantity <= 0:
            continue
        instrument = market.instrument(row.symbol)
        found.append(
            {
                "tradingsymbol": trading_symbol(instrument),
                "exchange": exchange_of(instrument),
                "instrument_token": instrument_token(instrument),
                "isin": "",
                "product": "CNC",
                "price": 0.0,
                "quantity": _number(row.quantity),
                "used_quantity": 0,
                "t1_quantity": 0,
                "realised_quantity": _number(row.quantity),
                "authorised_quantity": 0,
                "authorised_date": None,
                "opening_quantity": _number(row.quantity),
                "collateral_quantity": 0,
                "collateral_type": "",
                "discrepancy": False,
                "average_price": float(row.average_price),
                "last_price": float(row.ltp),
                "close_price": 0.0,
                "pnl": float(row.unrealized_pnl),
                "day_change": 0.0,
                "day_change_percentage": 0.0,
            }
        )
    return found


def _zeros(*names: str) -> dict[str, float]:
    return dict.fromkeys(names, 0.0)


_UTILISED = (
    "exposure",
    "m2m_realised",
    "m2m_unrealised",
    "option_premium",
    "payout",
    "span",
    "holding_sales",
    "turnover",
    "liquid_collateral",
    "stock_collateral",
    "delivery",
)
SEGMENTS = ("equity", "commodity")


async def margins(
    state: TradingState, caller: Caller, segment: str | None = None
) -> dict[str, Any]:
    """Return the margins: ``equity`` is the INR wallet (``available.cash`` its cash, ``net``
    what is free of holds, ``utilised.debits`` the holds); ``commodity`` is not enabled."""
    if segment is not None and segment not in SEGMENTS:
        raise InvalidInput(f"Invalid segment: {segment!r}; one of equity, commodity")
    inr = next(
        (w for w in await wallets.wallets_of(state, caller.user.id) if w.currency == INR), None
    )
    cash = inr.cash if inr else Decimal(0)
    blocked = inr.blocked if inr else Decimal(0)
    equity = {
        "enabled": True,
        "net": float(cash - blocked),
        "available": {
            **_zeros("adhoc_margin", "collateral", "intraday_payin"),
            "cash": float(cash),
            "opening_balance": float(cash),
            "live_balance": float(cash - blocked),
        },
        "utilised": {"debits": float(blocked), **_zeros(*_UTILISED)},
    }
    commodity = {
        "enabled": False,
        "net": 0.0,
        "available": _zeros("adhoc_margin", "cash", "opening_balance", "live_balance",
                            "collateral", "intraday_payin"),
        "utilised": {"debits": 0.0, **_zeros(*_UTILISED)},
    }  # fmt: skip
    both = {"equity": equity, "commodity": commodity}
    return both[segment] if segment is not None else both
