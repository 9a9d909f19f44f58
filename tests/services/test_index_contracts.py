"""Paper trading's index contract: an index traded at its level, cash-settled, margined.

Without a database: the quote it fills at, the cash each fill moves and the margin it blocks.
The money rule checked with random fills: no notional ever changes hands, so the cash a
sequence of fills moves plus the open position's unrealized P&L at any mark is exactly the
P&L of every fill marked there, ``sum(signed quantity x (mark - price))``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepit.domain.fills import (
    FILL_MODELS,
    INDEX_SPREAD_TICKS,
    InvalidQuantity,
    NotTradable,
    Rest,
    check_product,
    check_quantity,
    index_quote,
    limit_fill,
    market_fill,
)
from tradepit.domain.market import Tick
from tradepit.domain.orders import Fill, Product, Side, Validity
from tradepit.domain.positions import Position
from tradepit.market.catalogue import Catalogue
from tradepit.services.execution import margin_for, trade_cash

D = Decimal
CATALOGUE = Catalogue.load()
NIFTY = CATALOGUE.get("NIFTY")
TICK = NIFTY.tick_size
AT = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)

levels = st.integers(min_value=1, max_value=10_000_000).map(lambda n: n * TICK)
quantities = st.integers(min_value=1, max_value=5_000).map(D)
sides = st.sampled_from(list(Side))


def index_tick(level: Decimal) -> Tick:
    """Return the index's tick as every feed gives it: a level, no book."""
    return Tick("NIFTY", AT, level, level, level, D(0), D(0), D(0))


def test_the_catalogue_trades_indices_as_contracts() -> None:
    for symbol in ("NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "SENSEX"):
        index = CATALOGUE.get(symbol)
        assert index.is_index_contract and index.tradable and not index.exchange_listed
        assert index.multiplier == 1 and index.currency == "INR"


def test_products_and_quantities() -> None:
    check_product(NIFTY, "MIS")
    check_product(NIFTY, "NRML")
    with pytest.raises(NotTradable, match="not CNC"):
        check_product(NIFTY, "CNC")
    check_quantity(NIFTY, D(1))  # one unit of the index, not a lot of 65
    with pytest.raises(InvalidQuantity, match="whole number of units of the index NIFTY"):
        check_quantity(NIFTY, D("0.5"))


@given(level=levels, side=sides)
def test_the_quote_is_one_tick_beyond_the_level(level: Decimal, side: Side) -> None:
    price = index_quote(side, level, TICK)
    assert price % TICK == 0
    spread = INDEX_SPREAD_TICKS * TICK
    if side is Side.BUY:
        assert price == level + spread
    else:
        assert price == max(level - spread, TICK)


@given(level=levels, quantity=quantities, side=sides)
def test_a_market_order_fills_whole_at_the_quote(
    level: Decimal, quantity: Decimal, side: Side
) -> None:
    plan = market_fill(side, quantity, index_tick(level), NIFTY, FILL_MODELS[NIFTY.venue])
    assert (plan.filled, plan.remaining, plan.rest) == (quantity, D(0), Rest.DONE)
    assert plan.price == index_quote(side, level, TICK)  # no slippage by size


@given(level=levels, quantity=quantities, offset=st.integers(-5, 5))
def test_a_limit_buy_fills_at_the_quote_once_it_reaches_it(
    level: Decimal, quantity: Decimal, offset: int
) -> None:
    level += 10 * TICK  # a limit below the quote stays positive
    limit = index_quote(Side.BUY, level, TICK) + offset * TICK
    plan = limit_fill(Side.BUY, limit, quantity, index_tick(level), NIFTY, validity=Validity.GTC)
    if offset < 0:
        assert plan is None  # waits for the level to come down
    else:
        assert plan is not None and plan.filled == quantity
        assert plan.price == index_quote(Side.BUY, level, TICK) <= limit


@given(
    fills=st.lists(st.tuples(sides, quantities, levels), min_size=1, max_size=12),
    mark=levels,
    product=st.sampled_from([Product.MIS, Product.NRML]),
)
def test_cash_plus_unrealized_is_every_fill_marked(
    fills: list[tuple[Side, Decimal, Decimal]], mark: Decimal, product: Product
) -> None:
    position = Position(1, "NIFTY", product)
    cash = D(0)
    for side, quantity, price in fills:
        change = position.apply(side, Fill(quantity, price, D(0)), NIFTY.multiplier)
        moved = trade_cash(NIFTY, product, change)
        assert moved == change.realized  # only P&L moves: the contract is cash-settled
        cash += moved
        if change.opened:
            margin = margin_for(NIFTY, product, change.after > 0, change.opened, price)
            assert margin == (change.opened * price * D("0.15")).quantize(D("1e-8"))
    marked = sum((side.sign * q * (mark - p) for side, q, p in fills), D(0))
    assert cash + position.unrealized(mark, NIFTY.multiplier) == marked
    assert cash == position.realized_gross
