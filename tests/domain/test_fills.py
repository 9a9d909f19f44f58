"""The fill model: prices against the quote, slippage, size caps, limits, stops, validation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepit.domain.errors import InvalidInput
from tradepit.domain.fills import (
    DEFAULT_MODEL,
    FILL_MODELS,
    FillModel,
    FillPlan,
    InvalidPrice,
    InvalidQuantity,
    InvalidTrigger,
    Rest,
    check_price,
    check_quantity,
    check_trigger,
    limit_fill,
    market_fill,
    quantity_step,
    stop_triggered,
    triggered_type,
)
from tradepit.domain.instruments import Instrument, Kind, Right, Venue
from tradepit.domain.market import Tick
from tradepit.domain.orders import OrderType, Side, Validity
from tradepit.market.catalogue import Catalogue

D = Decimal
CATALOGUE = Catalogue.load()
RELIANCE = CATALOGUE.get("RELIANCE")  # tick 0.10, whole shares
NIFTY = CATALOGUE.get("NIFTY")  # an index
NIFTY_CALL = Instrument(
    symbol="NIFTY26DEC26000CE",
    name="NIFTY 2026-12-29 26000 CE",
    kind=Kind.OPTION,
    venue=Venue.NFO,
    currency="INR",
    tick_size=D("0.05"),
    lot_size=D("65"),
    underlying="NIFTY",
    strike=D("26000"),
    right=Right.CE,
)
NO_SLIP = FillModel(slippage_coefficient=D(0))
AT = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)


def quote(
    bid: str,
    ask: str,
    bid_size: str = "1000",
    ask_size: str = "1000",
    ltp: str | None = None,
    symbol: str = "RELIANCE",
) -> Tick:
    """Return a tick with the given book; the last price defaults to the bid."""
    return Tick(
        symbol=symbol,
        ts=AT,
        ltp=D(ltp if ltp is not None else bid),
        bid=D(bid),
        ask=D(ask),
        bid_size=D(bid_size),
        ask_size=D(ask_size),
        volume=D(0),
    )


# --- Market orders ------------------------------------------------------------------------------


def test_market_buy_fills_at_the_ask_and_sell_at_the_bid() -> None:
    tick = quote("1539.90", "1540.10")
    buy = market_fill(Side.BUY, D(10), tick, RELIANCE, NO_SLIP)
    assert buy == FillPlan(D(10), D("1540.10"), D(0), Rest.DONE, "taker")
    sell = market_fill(Side.SELL, D(10), tick, RELIANCE, NO_SLIP)
    assert sell == FillPlan(D(10), D("1539.90"), D(0), Rest.DONE, "taker")


def test_default_model_slips_at_least_one_tick_against_the_trader() -> None:
    tick = quote("1539.90", "1540.10")
    assert market_fill(Side.BUY, D(1), tick, RELIANCE).price == D("1540.20")
    assert market_fill(Side.SELL, D(1), tick, RELIANCE).price == D("1539.80")


def test_slippage_grows_with_size_relative_to_the_quote() -> None:
    model = FillModel(slippage_coefficient=D(4))  # 4 ticks for the whole quoted size
    tick = quote("1539.90", "1540.10", bid_size="500", ask_size="500")
    # 50/500 x 4 = 0.4 -> 1 tick; 250/500 x 4 = 2 ticks; 500/500 x 4 = 4 ticks.
    buys = [market_fill(Side.BUY, D(q), tick, RELIANCE, model).price for q in (50, 250, 500)]
    assert buys == [D("1540.20"), D("1540.30"), D("1540.50")]
    sells = [market_fill(Side.SELL, D(q), tick, RELIANCE, model).price for q in (50, 250, 500)]
    assert sells == [D("1539.80"), D("1539.70"), D("1539.50")]


def test_a_sell_never_fills_below_the_smallest_price() -> None:
    model = FillModel(slippage_coefficient=D(50))
    tick = quote("0.10", "0.20", bid_size="10")
    plan = market_fill(Side.SELL, D(10), tick, RELIANCE, model)
    assert plan.price == RELIANCE.tick_size


def test_partial_fill_leaves_the_remainder_waiting() -> None:
    tick = quote("1539.90", "1540.10", ask_size="300")
    plan = market_fill(Side.BUY, D(500), tick, RELIANCE, NO_SLIP)
    assert (plan.filled, plan.remaining, plan.rest) == (D(300), D(200), Rest.WAIT)
    assert plan.price == D("1540.10")
    assert plan.reason == "only 300 of 500 could fill against the quoted size 300"
    assert plan.requested == D(500)


def test_ioc_remainder_is_cancelled() -> None:
    tick = quote("1539.90", "1540.10", ask_size="300")
    plan = market_fill(Side.BUY, D(500), tick, RELIANCE, NO_SLIP, Validity.IOC)
    assert (plan.filled, plan.remaining, plan.rest) == (D(300), D(200), Rest.CANCEL)


def test_participation_caps_the_share_of_the_quote_taken() -> None:
    model = FillModel(slippage_coefficient=D(0), max_participation=D("0.5"))
    tick = quote("1539.90", "1540.10", ask_size="300")
    assert market_fill(Side.BUY, D(500), tick, RELIANCE, model).filled == D(150)


def test_fills_are_whole_lots() -> None:
    tick = quote("120.00", "120.50", ask_size="100", symbol=NIFTY_CALL.symbol)
    plan = market_fill(Side.BUY, D(130), tick, NIFTY_CALL, NO_SLIP)
    assert (plan.filled, plan.remaining) == (D(65), D(65))


def test_a_quote_under_one_lot_fills_nothing() -> None:
    tick = quote("120.00", "120.50", ask_size="30", symbol=NIFTY_CALL.symbol)
    plan = market_fill(Side.BUY, D(65), tick, NIFTY_CALL)
    assert (plan.filled, plan.price, plan.remaining, plan.rest) == (D(0), None, D(65), Rest.WAIT)
    assert (
        plan.reason == f"the quoted size 30 of offers for {NIFTY_CALL.symbol} is under one lot (65)"
    )


def test_no_quote_on_the_other_side_fills_nothing() -> None:
    tick = quote("0", "120.50", bid_size="0", symbol=NIFTY_CALL.symbol)
    plan = market_fill(Side.SELL, D(65), tick, NIFTY_CALL, validity=Validity.IOC)
    assert (plan.filled, plan.price, plan.rest) == (D(0), None, Rest.CANCEL)
    assert plan.reason == f"no bids quoted for {NIFTY_CALL.symbol}"


def test_an_index_without_a_contract_cannot_fill() -> None:
    quoted_only = replace(NIFTY, short_margin=None)  # the catalogue gives INDEX no margin
    assert not quoted_only.tradable
    tick = quote("26150.00", "26150.00", bid_size="0", ask_size="0", symbol="NIFTY")
    plan = market_fill(Side.BUY, D(65), tick, quoted_only)
    assert (plan.filled, plan.price, plan.remaining, plan.rest) == (D(0), None, D(65), Rest.REJECT)
    assert plan.reason == "NIFTY is an index: it has no order book and cannot be traded"
    limit = limit_fill(Side.BUY, D("26200"), D(65), tick, quoted_only)
    assert limit is not None
    assert limit.rest is Rest.REJECT


def test_every_venue_has_a_model() -> None:
    assert set(FILL_MODELS) == set(Venue)
    assert FillModel(D(2), D(1)) == DEFAULT_MODEL
    with pytest.raises(ValueError, match="max_participation"):
        FillModel(max_participation=D(0))


# --- Limit orders -------------------------------------------------------------------------------


def test_limit_buy_waits_until_the_ask_reaches_it() -> None:
    limit = D("1540.00")
    assert limit_fill(Side.BUY, limit, D(10), quote("1539.90", "1540.10"), RELIANCE) is None
    # The last trade at the limit is not enough: the ask must be there.
    touched = quote("1539.90", "1540.10", ltp="1540.00")
    assert limit_fill(Side.BUY, limit, D(10), touched, RELIANCE) is None
    plan = limit_fill(Side.BUY, limit, D(10), quote("1539.90", "1540.00"), RELIANCE, resting=True)
    assert plan == FillPlan(D(10), limit, D(0), Rest.DONE, "maker")


def test_limit_sell_waits_until_the_bid_reaches_it() -> None:
    limit = D("1550.00")
    assert limit_fill(Side.SELL, limit, D(10), quote("1549.90", "1550.10"), RELIANCE) is None
    plan = limit_fill(Side.SELL, limit, D(10), quote("1550.00", "1550.10"), RELIANCE, resting=True)
    assert plan is not None
    assert plan.price == limit


def test_a_gap_through_the_limit_fills_at_the_better_gap_price() -> None:
    gap_down = quote("1535.40", "1535.50")
    buy = limit_fill(Side.BUY, D("1540.00"), D(10), gap_down, RELIANCE, resting=True)
    assert buy is not None
    assert buy.price == D("1535.50")
    gap_up = quote("1556.00", "1556.10")
    sell = limit_fill(Side.SELL, D("1550.00"), D(10), gap_up, RELIANCE, resting=True)
    assert sell is not None
    assert sell.price == D("1556.00")


def test_a_marketable_limit_slips_but_never_beyond_its_limit() -> None:
    # Placed on this tick, it takes liquidity like a market order...
    plan = limit_fill(Side.BUY, D("1545.00"), D(10), quote("1539.90", "1540.10"), RELIANCE)
    assert plan is not None
    assert (plan.price, plan.liquidity) == (D("1540.20"), "taker")
    # ...but the limit caps the slippage.
    at_limit = limit_fill(Side.BUY, D("1540.10"), D(10), quote("1539.90", "1540.10"), RELIANCE)
    assert at_limit is not None
    assert at_limit.price == D("1540.10")


def test_limit_fill_is_capped_by_the_quoted_size() -> None:
    tick = quote("1539.90", "1540.00", ask_size="4")
    plan = limit_fill(Side.BUY, D("1540.00"), D(10), tick, RELIANCE, NO_SLIP, Validity.IOC)
    assert plan is not None
    assert (plan.filled, plan.remaining, plan.rest) == (D(4), D(6), Rest.CANCEL)


def test_limit_price_must_be_on_the_grid() -> None:
    with pytest.raises(InvalidPrice, match=r"tick size 0\.1 for RELIANCE"):
        limit_fill(Side.BUY, D("1540.05"), D(10), quote("1539.90", "1540.00"), RELIANCE)


# --- Stops ----------------------------------------------------------------------------------------


def test_stops_trigger_when_the_last_price_crosses_only() -> None:
    trigger = D("1550.00")
    assert not stop_triggered(Side.BUY, trigger, quote("1549.80", "1550.10", ltp="1549.90"))
    assert stop_triggered(Side.BUY, trigger, quote("1549.90", "1550.10", ltp="1550.00"))
    assert stop_triggered(Side.BUY, trigger, quote("1551.00", "1551.20", ltp="1551.10"))
    trigger = D("1500.00")
    # The bid at the trigger is not a trade at it.
    assert not stop_triggered(Side.SELL, trigger, quote("1500.00", "1500.20", ltp="1500.10"))
    assert stop_triggered(Side.SELL, trigger, quote("1499.90", "1500.10", ltp="1500.00"))
    assert stop_triggered(Side.SELL, trigger, quote("1490.00", "1490.10", ltp="1490.00"))


def test_a_triggered_stop_fills_as_limit_or_market() -> None:
    assert triggered_type(OrderType.STOP_LOSS) is OrderType.LIMIT
    assert triggered_type(OrderType.STOP_LOSS_MARKET) is OrderType.MARKET
    assert triggered_type(OrderType.LIMIT) is OrderType.LIMIT


# --- Validation -----------------------------------------------------------------------------------


def test_quantity_must_be_a_multiple_of_the_lot_size() -> None:
    with pytest.raises(InvalidQuantity) as raised:
        check_quantity(NIFTY_CALL, D(70))
    assert raised.value.message == (
        f"quantity 70 is not a multiple of the lot size 65 for {NIFTY_CALL.symbol}"
    )
    assert raised.value.code == "INVALID_QUANTITY"
    check_quantity(NIFTY_CALL, D(130))
    with pytest.raises(InvalidQuantity, match=r"lot size 0\.00001 for BTC-USDT"):
        check_quantity(CATALOGUE.get("BTC-USDT"), D("0.000015"))


def test_cash_equities_trade_whole_shares() -> None:
    assert quantity_step(RELIANCE) == 1  # its lot_size (500) is the F&O lot
    check_quantity(RELIANCE, D(7))
    with pytest.raises(InvalidQuantity, match=r"quantity 1.5 is not a whole number of shares"):
        check_quantity(RELIANCE, D("1.5"))


@pytest.mark.parametrize("quantity", [D(0), D(-65), D("NaN"), D("Infinity")])
def test_quantity_must_be_positive(quantity: Decimal) -> None:
    with pytest.raises(InvalidQuantity, match="quantity must be positive"):
        check_quantity(NIFTY_CALL, quantity)


def test_a_huge_quantity_is_refused_not_crashed() -> None:
    with pytest.raises(InvalidQuantity, match="is larger than"):
        check_quantity(CATALOGUE.get("BTC-USDT"), D("1e40"))


def test_price_must_be_positive_and_on_the_tick_grid() -> None:
    check_price(RELIANCE, D("1540.10"))
    with pytest.raises(InvalidPrice) as raised:
        check_price(RELIANCE, D("1540.05"))
    assert (
        raised.value.message == "price 1540.05 is not a multiple of the tick size 0.1 for RELIANCE"
    )
    with pytest.raises(InvalidPrice, match="price must be positive, got 0"):
        check_price(RELIANCE, D(0))


def test_stop_triggers_must_be_on_the_far_side_of_the_last_price() -> None:
    ltp = D("1540.00")
    check_trigger(Side.BUY, OrderType.STOP_LOSS_MARKET, D("1550.00"), ltp)
    check_trigger(Side.SELL, OrderType.STOP_LOSS, D("1530.00"), ltp, limit=D("1529.00"))
    with pytest.raises(InvalidTrigger) as raised:
        check_trigger(Side.BUY, OrderType.STOP_LOSS, D("1530.00"), ltp)
    assert raised.value.message == (
        "a buy stop's trigger price must be above the last price 1540, got 1530"
    )
    with pytest.raises(InvalidTrigger, match="sell stop's trigger price must be below"):
        check_trigger(Side.SELL, OrderType.STOP_LOSS_MARKET, ltp, ltp)
    with pytest.raises(InvalidTrigger, match="limit price 1549 must be at or above"):
        check_trigger(Side.BUY, OrderType.STOP_LOSS, D("1550"), ltp, limit=D("1549"))
    with pytest.raises(InvalidTrigger, match="limit price 1531 must be at or below"):
        check_trigger(Side.SELL, OrderType.STOP_LOSS, D("1530"), ltp, limit=D("1531"))
    with pytest.raises(InvalidTrigger, match="a STOP_LOSS_MARKET order needs a trigger price"):
        check_trigger(Side.SELL, OrderType.STOP_LOSS_MARKET, None, ltp)
    with pytest.raises(InvalidTrigger, match="a LIMIT order takes no trigger price"):
        check_trigger(Side.SELL, OrderType.LIMIT, D("1530"), ltp)
    check_trigger(Side.SELL, OrderType.MARKET, None, ltp)


def test_validation_errors_are_invalid_input() -> None:
    for error in (InvalidQuantity, InvalidPrice, InvalidTrigger):
        assert issubclass(error, InvalidInput)


# --- Properties -----------------------------------------------------------------------------------

INSTRUMENTS = (
    RELIANCE,
    NIFTY_CALL,
    CATALOGUE.get("BTC-USDT"),
    CATALOGUE.get("EURUSD"),
    CATALOGUE.get("XAUUSD"),
)


@st.composite
def books(draw: st.DrawFn) -> tuple[Instrument, Tick, Decimal]:
    """Draw an instrument, a quote (possibly off the grid) and an order quantity."""
    instrument = draw(st.sampled_from(INSTRUMENTS))
    grid, step = instrument.tick_size, quantity_step(instrument)
    bid = draw(st.integers(1, 2_000_000)) * grid
    ask = bid + draw(st.integers(0, 20)) * grid
    # A feed may send a price between ticks: the model must still fill on the grid.
    jitter = draw(st.sampled_from([D(0), D(0), D("0.3"), D("0.5"), D("0.99")])) * grid
    bid_size = draw(st.integers(0, 2_000)) * step
    ask_size = draw(st.integers(0, 2_000)) * step + draw(st.sampled_from([D(0), step / 3]))
    tick = Tick(
        symbol=instrument.symbol,
        ts=AT,
        ltp=bid,
        bid=bid + jitter,
        ask=ask + jitter,
        bid_size=bid_size,
        ask_size=ask_size,
        volume=D(0),
    )
    quantity = draw(st.integers(1, 3_000)) * step
    return instrument, tick, quantity


models = st.builds(
    FillModel,
    slippage_coefficient=st.integers(0, 1_000).map(lambda n: D(n) / 100),
    max_participation=st.integers(1, 200).map(lambda n: D(n) / 100),
)
validities = st.sampled_from([Validity.DAY, Validity.IOC])


def check_plan(
    plan: FillPlan, side: Side, instrument: Instrument, tick: Tick, q: Decimal, model: FillModel
) -> None:
    """Assert what every plan must satisfy, whatever the order type."""
    assert plan.filled + plan.remaining == q
    assert plan.filled >= 0
    assert plan.remaining >= 0
    assert plan.filled % quantity_step(instrument) == 0
    assert (plan.rest is Rest.DONE) == (plan.remaining == 0)
    if plan.filled == 0:
        assert plan.price is None
        return
    assert plan.price is not None
    assert plan.price > 0
    assert plan.price % instrument.tick_size == 0
    if side is Side.BUY:
        assert plan.price >= tick.ask
        assert plan.filled <= tick.ask_size * model.max_participation
    else:
        assert plan.price <= tick.bid
        assert plan.filled <= tick.bid_size * model.max_participation


@given(books(), st.sampled_from(Side), models, validities)
def test_market_fills_are_on_the_grid_and_never_better_than_the_quote(
    book: tuple[Instrument, Tick, Decimal], side: Side, model: FillModel, validity: Validity
) -> None:
    instrument, tick, quantity = book
    plan = market_fill(side, quantity, tick, instrument, model, validity)
    check_plan(plan, side, instrument, tick, quantity, model)
    if plan.remaining:
        assert plan.rest is (Rest.CANCEL if validity is Validity.IOC else Rest.WAIT)


@given(books(), st.sampled_from(Side), models, st.integers(-10, 10), st.booleans())
def test_limit_fills_stay_between_the_quote_and_the_limit(
    book: tuple[Instrument, Tick, Decimal],
    side: Side,
    model: FillModel,
    offset: int,
    resting: bool,
) -> None:
    instrument, tick, quantity = book
    touch = tick.ask if side is Side.BUY else tick.bid
    limit = (touch / instrument.tick_size).to_integral_value() * instrument.tick_size
    limit += offset * instrument.tick_size
    if limit <= 0:
        return
    plan = limit_fill(side, limit, quantity, tick, instrument, model, resting=resting)
    if plan is None:
        assert (tick.ask > limit) if side is Side.BUY else (tick.bid < limit)
        return
    check_plan(plan, side, instrument, tick, quantity, model)
    if plan.price is not None:
        assert plan.price <= limit if side is Side.BUY else plan.price >= limit
    if resting:
        assert plan.liquidity == "maker"


@given(books(), st.sampled_from(Side), st.integers(1, 3_000), st.integers(1, 3_000))
def test_slippage_never_shrinks_as_the_order_grows(
    book: tuple[Instrument, Tick, Decimal], side: Side, a: int, b: int
) -> None:
    instrument, tick, _ = book
    step = quantity_step(instrument)
    small, large = sorted((a * step, b * step))
    model = FillModel(slippage_coefficient=D(3))
    first = market_fill(side, small, tick, instrument, model).price
    second = market_fill(side, large, tick, instrument, model).price
    if first is None or second is None:
        return
    assert (second >= first) if side is Side.BUY else (second <= first)
