"""The fill model: what a tick lets an order fill, at what price, and order validation.

Every fill is against the quote on the other side: a buy takes the ask, a sell hits the bid.

- Size: one tick fills at most ``max_participation`` of the quoted size (rounded down to the
  quantity step: whole lots, or whole shares for cash equities); the rest waits for following
  ticks, or is cancelled for an IOC order.
- Slippage: a taker pays ``slippage_coefficient * filled / quoted size`` ticks beyond the
  quote, rounded up to whole ticks (against the trader, never for them). With a positive
  coefficient every taker fill pays at least one tick: the quote seen is already stale when
  the order arrives. A limit order never slips beyond its limit, and one already resting
  before the tick fills as a maker, without slippage.
- Indices have no book: paper trading trades one as a cash-settled contract on its level
  (``Instrument.is_index_contract``), quoted ``INDEX_SPREAD_TICKS`` either side of the last
  price with no size limit, so it fills whole, at that quote, without size-based slippage.
  An index without a contract (no margin rate in the catalogue) cannot fill and is rejected.
- Prices are put on the tick grid against the trader (a buy's ask rounded up, a sell's bid
  down), so a fill price is always a multiple of the tick size.

A limit order fills only when the quote reaches it (buy: ask at or below the limit; sell: bid at
or above), at the quote, which is the better price: a gap through the limit fills at the gap.
Stops trigger on the last traded price reaching the trigger, then act as a limit
(``STOP_LOSS``) or a market order (``STOP_LOSS_MARKET``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, DecimalException
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from tradepit.domain.errors import InvalidInput
from tradepit.domain.fees import Liquidity
from tradepit.domain.instruments import Instrument, Kind, Venue
from tradepit.domain.market import Tick
from tradepit.domain.money import MAX_AMOUNT, plain
from tradepit.domain.orders import OrderType, Side, Validity

ZERO: Final = Decimal(0)
#: Ticks between an index's level and its contract's quote on either side: a buy fills one
#: tick above the last price, a sell one below (the spread a CFD desk quotes on an index).
INDEX_SPREAD_TICKS: Final = Decimal(1)


class InvalidQuantity(InvalidInput):
    """The quantity is not a positive whole number of lots."""

    code = "INVALID_QUANTITY"


class InvalidPrice(InvalidInput):
    """The price is not positive or not on the instrument's tick grid."""

    code = "INVALID_PRICE"


class InvalidTrigger(InvalidInput):
    """The stop trigger is missing, misplaced, or given for an order that is not a stop."""

    code = "INVALID_TRIGGER"


class NotTradable(InvalidInput):
    """The instrument cannot be traded (an index without a contract), or not in that
    product (an index contract as delivery)."""

    code = "NOT_TRADABLE"


@dataclass(frozen=True, slots=True)
class FillModel:
    """How fills are simulated on a venue.

    ``slippage_coefficient``: ticks of slippage when a fill takes the whole quoted size (it
    scales linearly with the share taken; 0 turns slippage off). ``max_participation``: the
    share of the quoted size one tick can fill.
    """

    slippage_coefficient: Decimal = Decimal(2)
    max_participation: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        if not self.slippage_coefficient.is_finite() or self.slippage_coefficient < 0:
            raise ValueError("slippage_coefficient must be a finite non-negative decimal")
        if not self.max_participation.is_finite() or self.max_participation <= 0:
            raise ValueError("max_participation must be a finite positive decimal")


#: The default model of every venue; a venue's entry is what to change to tune it.
DEFAULT_MODEL: Final = FillModel()
FILL_MODELS: Final[Mapping[Venue, FillModel]] = MappingProxyType(
    {venue: DEFAULT_MODEL for venue in Venue}
)


class Rest(StrEnum):
    """What happens to the quantity a tick did not fill."""

    #: Nothing remains: the order is filled.
    DONE = "done"
    #: The remainder waits for following ticks.
    WAIT = "wait"
    #: The order is immediate-or-cancel: the remainder is cancelled.
    CANCEL = "cancel"
    #: The order cannot fill at all (``reason`` says why) and is rejected.
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class FillPlan:
    """What one tick does to an order: ``filled`` at ``price`` now, ``remaining`` left over.

    ``price`` is ``None`` when nothing fills. ``rest`` says what becomes of ``remaining``, and
    ``reason`` explains a partial fill, a wait, a cancel or a reject.
    """

    filled: Decimal
    price: Decimal | None
    remaining: Decimal
    rest: Rest
    liquidity: Liquidity = "taker"
    reason: str | None = None

    @property
    def requested(self) -> Decimal:
        """Return the quantity the plan was made for."""
        return self.filled + self.remaining


# --- Validation ----------------------------------------------------------------------------


def _on_grid(value: Decimal, step: Decimal) -> bool:
    """Tell whether ``value`` is a whole multiple of ``step``."""
    try:
        return value % step == 0
    except DecimalException:  # the quotient has more digits than the context: not storable
        return False


def quantity_step(instrument: Instrument) -> Decimal:
    """Return the smallest quantity an order may step by.

    Cash equities trade in single shares and index contracts in single units of the index:
    their catalogue ``lot_size`` is the lot of their futures and options. Everything else
    steps by its ``lot_size``.
    """
    if instrument.kind is Kind.EQUITY or instrument.is_index_contract:
        return Decimal(1)
    return instrument.lot_size


def check_quantity(instrument: Instrument, quantity: Decimal) -> None:
    """Refuse a quantity that is not a positive multiple of the instrument's quantity step."""
    if not quantity.is_finite() or quantity <= 0:
        raise InvalidQuantity(f"quantity must be positive, got {plain(quantity)}")
    if quantity > MAX_AMOUNT:
        raise InvalidQuantity(f"quantity {plain(quantity)} is larger than {plain(MAX_AMOUNT)}")
    if instrument.kind is Kind.EQUITY and not _on_grid(quantity, Decimal(1)):
        raise InvalidQuantity(
            f"quantity {plain(quantity)} is not a whole number of shares for {instrument.symbol}"
        )
    if instrument.is_index_contract and not _on_grid(quantity, Decimal(1)):
        raise InvalidQuantity(
            f"quantity {plain(quantity)} is not a whole number of units of the index "
            f"{instrument.symbol}"
        )
    if not _on_grid(quantity, quantity_step(instrument)):
        raise InvalidQuantity(
            f"quantity {plain(quantity)} is not a multiple of the lot size "
            f"{plain(instrument.lot_size)} for {instrument.symbol}"
        )


def check_product(instrument: Instrument, product: str) -> None:
    """Refuse an index contract as delivery (CNC): there is nothing to deliver, it trades as
    MIS (squared off with the venue's intraday positions) or NRML (carried until closed)."""
    if instrument.is_index_contract and product not in ("MIS", "NRML"):
        raise NotTradable(
            f"{instrument.symbol} is an index: it trades as a cash-settled contract on its "
            f"level, MIS (squared off at the intraday square-off) or NRML (carried until you "
            f"close it), not {product}"
        )


def check_price(instrument: Instrument, price: Decimal) -> None:
    """Refuse a price that is not positive or not a multiple of the instrument's tick size."""
    if not price.is_finite() or price <= 0:
        raise InvalidPrice(f"price must be positive, got {plain(price)}")
    if price > MAX_AMOUNT:
        raise InvalidPrice(f"price {plain(price)} is larger than {plain(MAX_AMOUNT)}")
    if not _on_grid(price, instrument.tick_size):
        raise InvalidPrice(
            f"price {plain(price)} is not a multiple of the tick size "
            f"{plain(instrument.tick_size)} for {instrument.symbol}"
        )


def check_trigger(
    side: Side,
    order_type: OrderType,
    trigger: Decimal | None,
    ltp: Decimal,
    limit: Decimal | None = None,
) -> None:
    """Refuse a trigger that a stop order of ``side`` could not wait for.

    A buy stop triggers on a rise, so its trigger must be above the last price; a sell stop
    below. A ``STOP_LOSS`` buy's limit must be at or above its trigger, a sell's at or below.
    Orders that are not stops must not carry a trigger.
    """
    if order_type not in (OrderType.STOP_LOSS, OrderType.STOP_LOSS_MARKET):
        if trigger is not None:
            raise InvalidTrigger(f"a {order_type.value} order takes no trigger price")
        return
    if trigger is None:
        raise InvalidTrigger(f"a {order_type.value} order needs a trigger price")
    if not trigger.is_finite() or trigger <= 0:
        raise InvalidTrigger(f"trigger price must be positive, got {plain(trigger)}")
    if side is Side.BUY and trigger <= ltp:
        raise InvalidTrigger(
            f"a buy stop's trigger price must be above the last price {plain(ltp)}, "
            f"got {plain(trigger)}"
        )
    if side is Side.SELL and trigger >= ltp:
        raise InvalidTrigger(
            f"a sell stop's trigger price must be below the last price {plain(ltp)}, "
            f"got {plain(trigger)}"
        )
    if order_type is OrderType.STOP_LOSS and limit is not None:
        if side is Side.BUY and limit < trigger:
            raise InvalidTrigger(
                f"a buy stop-loss's limit price {plain(limit)} must be at or above "
                f"its trigger price {plain(trigger)}"
            )
        if side is Side.SELL and limit > trigger:
            raise InvalidTrigger(
                f"a sell stop-loss's limit price {plain(limit)} must be at or below "
                f"its trigger price {plain(trigger)}"
            )


# --- Triggering ----------------------------------------------------------------------------


def stop_triggered(side: Side, trigger: Decimal, tick: Tick) -> bool:
    """Tell whether the last price has reached a stop's trigger (buy: at or above; sell: below)."""
    return tick.ltp >= trigger if side is Side.BUY else tick.ltp <= trigger


def triggered_type(order_type: OrderType) -> OrderType:
    """Return the type a triggered stop fills as: a limit or a market order."""
    if order_type is OrderType.STOP_LOSS:
        return OrderType.LIMIT
    if order_type is OrderType.STOP_LOSS_MARKET:
        return OrderType.MARKET
    return order_type


# --- Fills ---------------------------------------------------------------------------------


def _unfilled(quantity: Decimal, validity: Validity, liquidity: Liquidity, reason: str) -> FillPlan:
    rest = Rest.CANCEL if validity is Validity.IOC else Rest.WAIT
    return FillPlan(ZERO, None, quantity, rest, liquidity, reason)


def _quote(side: Side, tick: Tick, instrument: Instrument) -> tuple[Decimal, Decimal | None]:
    """Return the price on the tick grid (against the trader) and the size a side can take
    (None: no limit, an index contract's quote)."""
    grid = instrument.tick_size
    if instrument.is_index_contract:
        return index_quote(side, tick.ltp, grid), None
    if side is Side.BUY:
        return (tick.ask / grid).to_integral_value(ROUND_CEILING) * grid, tick.ask_size
    return (tick.bid / grid).to_integral_value(ROUND_FLOOR) * grid, tick.bid_size


def index_quote(side: Side, level: Decimal, tick_size: Decimal) -> Decimal:
    """Return an index contract's price for ``side`` at the index ``level``: the level on the
    tick grid against the trader, ``INDEX_SPREAD_TICKS`` beyond it (never below one tick)."""
    spread = INDEX_SPREAD_TICKS * tick_size
    if side is Side.BUY:
        return (level / tick_size).to_integral_value(ROUND_CEILING) * tick_size + spread
    floor = (level / tick_size).to_integral_value(ROUND_FLOOR) * tick_size
    return max(floor - spread, tick_size)


def _fill(
    side: Side,
    quantity: Decimal,
    tick: Tick,
    instrument: Instrument,
    model: FillModel,
    validity: Validity,
    limit: Decimal | None,
    liquidity: Liquidity,
) -> FillPlan:
    if not instrument.tradable:
        reason = f"{instrument.symbol} is an index: it has no order book and cannot be traded"
        return FillPlan(ZERO, None, quantity, Rest.REJECT, liquidity, reason)
    check_quantity(instrument, quantity)
    price, size = _quote(side, tick, instrument)
    other = "offers" if side is Side.BUY else "bids"
    if size is None:  # an index contract: the desk takes any size at its quote
        if price <= 0 or tick.ltp <= 0:
            return _unfilled(quantity, validity, liquidity, f"no level for {instrument.symbol}")
        if limit is not None:
            price = min(price, limit) if side is Side.BUY else max(price, limit)
        return FillPlan(quantity, price, ZERO, Rest.DONE, liquidity)
    if price <= 0 or size <= 0:
        return _unfilled(
            quantity, validity, liquidity, f"no {other} quoted for {instrument.symbol}"
        )
    lot = quantity_step(instrument)
    capacity = (size * model.max_participation / lot).to_integral_value(ROUND_FLOOR) * lot
    filled = min(quantity, capacity)
    if filled <= 0:
        return _unfilled(
            quantity,
            validity,
            liquidity,
            f"the quoted size {plain(size)} of {other} for {instrument.symbol} is under one "
            f"lot ({plain(lot)})",
        )
    if liquidity == "taker":
        ticks = (model.slippage_coefficient * filled / size).to_integral_value(ROUND_CEILING)
        slip = ticks * instrument.tick_size
        if side is Side.BUY:
            price += slip
        else:
            price = max(price - slip, instrument.tick_size)
    if limit is not None:
        price = min(price, limit) if side is Side.BUY else max(price, limit)
    remaining = quantity - filled
    if not remaining:
        return FillPlan(filled, price, ZERO, Rest.DONE, liquidity)
    reason = (
        f"only {plain(filled)} of {plain(quantity)} could fill against the quoted size "
        f"{plain(size)}"
    )
    rest = Rest.CANCEL if validity is Validity.IOC else Rest.WAIT
    return FillPlan(filled, price, remaining, rest, liquidity, reason)


def market_fill(
    side: Side,
    quantity: Decimal,
    tick: Tick,
    instrument: Instrument,
    model: FillModel = DEFAULT_MODEL,
    validity: Validity = Validity.DAY,
) -> FillPlan:
    """Plan a market order's fill on ``tick``: at the touch plus slippage, size capped."""
    return _fill(side, quantity, tick, instrument, model, validity, None, "taker")


def limit_fill(
    side: Side,
    limit: Decimal,
    quantity: Decimal,
    tick: Tick,
    instrument: Instrument,
    model: FillModel = DEFAULT_MODEL,
    validity: Validity = Validity.DAY,
    *,
    resting: bool = False,
) -> FillPlan | None:
    """Plan a limit order's fill on ``tick``, or return ``None`` if the quote has not reached it.

    A buy fills only when the ask is at or below the limit, a sell when the bid is at or above,
    at the quote (the better price; a gap through the limit fills at the gap). An order placed
    on this tick (``resting=False``) takes liquidity and slips like a market order, never
    beyond its limit; a ``resting`` order fills as a maker, without slippage. ``None`` means
    nothing to do on this tick: the caller cancels an IOC order then.
    """
    if instrument.tradable:
        check_price(instrument, limit)
        price, _ = _quote(side, tick, instrument)
        reached = 0 < price <= limit if side is Side.BUY else price >= limit
        if not reached:
            return None
    liquidity: Liquidity = "maker" if resting else "taker"
    return _fill(side, quantity, tick, instrument, model, validity, limit, liquidity)
