"""Derivative symbols read back, intrinsic value, and settling a position at expiry."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepit.domain.instruments import (
    MONTHS,
    Right,
    derivative_symbol,
    intrinsic_value,
    parse_derivative_symbol,
)
from tradepit.domain.orders import Fill, Product, Side
from tradepit.domain.positions import ChangeKind, InvalidFill, Position

D = Decimal


@given(
    st.sampled_from(["NIFTY", "BANKNIFTY", "SENSEX", "RELIANCE", "M&M"]),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    st.booleans(),
    st.one_of(st.none(), st.integers(min_value=1, max_value=200_000)),
    st.sampled_from(list(Right)),
)
def test_symbols_read_back_as_written(
    underlying: str, expiry: date, monthly: bool, strike: int | None, right: Right
) -> None:
    symbol = derivative_symbol(
        underlying,
        expiry,
        monthly=monthly,
        strike=None if strike is None else D(strike),
        right=None if strike is None else right,
    )
    parsed = parse_derivative_symbol(symbol)
    assert parsed is not None
    assert (parsed.underlying, parsed.year, parsed.month) == (
        underlying,
        expiry.year,
        expiry.month,
    )
    if strike is None:
        assert parsed.is_future and parsed.day is None
    else:
        assert (parsed.strike, parsed.right) == (D(strike), right)
        assert parsed.day == (None if monthly else expiry.day)


@pytest.mark.parametrize(
    "symbol", ["NIFTY", "RELIANCE", "BTC-USDT", "NIFTY26FUT", "NIFTY26DEC26000XX", "26DECFUT"]
)
def test_other_symbols_are_not_derivatives(symbol: str) -> None:
    assert parse_derivative_symbol(symbol) is None


def test_weekly_month_codes() -> None:
    parsed = parse_derivative_symbol("NIFTY26O0626000CE")
    assert parsed is not None and MONTHS[parsed.month - 1] == "OCT" and parsed.day == 6


@pytest.mark.parametrize(
    ("right", "strike", "final", "value"),
    [
        (Right.CE, "26000", "26150.35", "150.35"),
        (Right.CE, "26000", "25900", "0"),
        (Right.PE, "26000", "25900", "100"),
        (Right.PE, "26000", "26000", "0"),
    ],
)
def test_intrinsic_value(right: Right, strike: str, final: str, value: str) -> None:
    assert intrinsic_value(right, D(strike), D(final)) == D(value)


class TestSettle:
    def test_a_long_settles_at_a_price_and_realizes_the_difference(self) -> None:
        position = Position(1, "NIFTY26DEC26000CE", Product.NRML)
        position.apply(Side.BUY, Fill(D(65), D("120.5"), D("20")), D(1))
        change = position.settle(D("150.35"), D(1))
        assert change.kind is ChangeKind.CLOSED and change.side is Side.SELL
        assert change.realized == (D("150.35") - D("120.5")) * 65 and change.charges == 0
        assert position.is_flat and position.cost_basis == 0
        assert position.realized_net == change.realized - 20

    def test_a_worthless_expiry_settles_at_zero(self) -> None:
        position = Position(1, "NIFTY26DEC30000CE", Product.NRML)
        position.apply(Side.SELL, Fill(D(130), D("3.05"), D(0)), D(1))
        change = position.settle(D(0), D(1))
        assert change.side is Side.BUY and change.realized == D("3.05") * 130

    def test_a_flat_position_cannot_settle(self) -> None:
        with pytest.raises(InvalidFill):
            Position(1, "NIFTY26DECFUT", Product.NRML).settle(D(1), D(1))

    @given(
        st.lists(
            st.tuples(
                st.sampled_from(list(Side)),
                st.integers(min_value=1, max_value=50),
                st.integers(min_value=1, max_value=10**6),
            ),
            min_size=1,
            max_size=12,
        ),
        st.integers(min_value=0, max_value=10**6),
    )
    def test_settling_keeps_the_accounting_identity(
        self, trades: list[tuple[Side, int, int]], settle_cents: int
    ) -> None:
        position = Position(1, "X", Product.NRML)
        cash = D(0)
        for side, quantity, cents in trades:
            price = D(cents) / 100
            position.apply(side, Fill(D(quantity), price, D(0)), D(1))
            cash += -side.sign * quantity * price
        if position.is_flat:
            return
        price = D(settle_cents) / 100
        cash += position.quantity * price
        position.settle(price, D(1))
        assert position.is_flat and position.realized_gross == cash
