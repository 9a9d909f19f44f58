"""The cash and margin rules of a fill, without a database: what moves, what is blocked."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from tradepit.domain.instruments import Instrument, Kind, Right, Venue
from tradepit.domain.orders import Fill, Product, Side
from tradepit.domain.positions import Position
from tradepit.services.execution import margin_for, trade_cash

D = Decimal
EQUITY = Instrument(
    "SBIN", "SBI", Kind.EQUITY, Venue.NSE, "INR", D("0.05"), D(750), short_margin=D("0.20")
)
FUTURE = Instrument(
    "NIFTY26DECFUT", "NIFTY future", Kind.FUTURE, Venue.NFO, "INR", D("0.05"), D(65),
    short_margin=D("0.15"), underlying="NIFTY",
)  # fmt: skip
OPTION = Instrument(
    "NIFTY26DEC26000CE", "NIFTY call", Kind.OPTION, Venue.NFO, "INR", D("0.05"), D(65),
    short_margin=D("0.15"), underlying="NIFTY", strike=D(26000), right=Right.CE,
)  # fmt: skip
CASES = [
    (EQUITY, Product.MIS),
    (EQUITY, Product.CNC),
    (FUTURE, Product.NRML),
    (FUTURE, Product.MIS),
    (OPTION, Product.NRML),
]


def test_what_each_position_blocks() -> None:
    assert margin_for(EQUITY, Product.MIS, True, D(10), D(1000)) == D(2000)  # 5x intraday
    assert margin_for(EQUITY, Product.CNC, True, D(10), D(1000)) == 0  # paid in full
    assert margin_for(EQUITY, Product.MIS, False, D(10), D(1000)) == D(12000)  # proceeds + 20 %
    assert margin_for(FUTURE, Product.NRML, False, D(65), D(26000)) == D(253500)
    assert margin_for(FUTURE, Product.NRML, True, D(65), D(26000)) == D(253500)
    assert margin_for(OPTION, Product.NRML, True, D(65), D(100)) == 0  # the premium is paid
    assert margin_for(OPTION, Product.NRML, False, D(65), D(100)) == D(6500) + D(253500)


@given(
    st.sampled_from(range(len(CASES))),
    st.lists(
        st.tuples(
            st.sampled_from(list(Side)),
            st.integers(min_value=1, max_value=20),
            st.integers(min_value=1, max_value=10**6),
        ),
        min_size=1,
        max_size=12,
    ),
    st.integers(min_value=1, max_value=10**6),
)
def test_cash_plus_position_value_is_the_pnl_whatever_the_sequence(
    case: int, trades: list[tuple[Side, int, int]], mark_ticks: int
) -> None:
    """Equity (cash moved + the position's value: its P&L if on margin, else its market value)
    changes by exactly the realized + unrealized P&L, through opens, adds, reduces and flips."""
    instrument, product = CASES[case]
    position = Position(1, instrument.symbol, product)
    cash = D(0)
    for side, lots, ticks in trades:
        fill = Fill(lots * instrument.lot_size, ticks * instrument.tick_size, D(0))
        cash += trade_cash(instrument, product, position.apply(side, fill, D(1)))
    mark = mark_ticks * instrument.tick_size
    if instrument.margined(product.value, long=position.quantity > 0):
        value = position.unrealized(mark, D(1))
    else:
        value = position.market_value(mark, D(1))
    assert cash + value == position.realized_gross + position.unrealized(mark, D(1))
