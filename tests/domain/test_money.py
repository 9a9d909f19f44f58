"""Exact amounts: Decimals become integer units and come back unchanged, or are refused."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tradepit.domain.money import (
    MAX_AMOUNT,
    MAX_UNITS,
    PLAIN_NOTATION,
    SCALE,
    InexactAmount,
    InvalidRate,
    NotPlainDecimal,
    as_float,
    from_units,
    parse_plain,
    plain_text,
    quote_to_base,
    to_units,
)

D = Decimal

#: Every unit count a column can hold.
units_in_range = st.integers(min_value=-MAX_UNITS, max_value=MAX_UNITS)


@st.composite
def exact_amounts(draw: st.DrawFn) -> Decimal:
    """Draw any Decimal of at most 8 places within ±MAX_AMOUNT, in any representation."""
    units = draw(units_in_range)
    value = from_units(units)
    # The same number written with fewer digits (1E+2, 0.5) or trailing zeros (1.50000000000).
    form = draw(st.sampled_from(["normalized", "padded", "as_is"]))
    if form == "normalized":
        return value.normalize() if value else value
    if form == "padded":
        extra = draw(st.integers(min_value=1, max_value=30))
        with localcontext() as ctx:
            ctx.prec = 80
            return value.quantize(Decimal(1).scaleb(-(SCALE + extra)))
    return value


@st.composite
def too_many_places(draw: st.DrawFn) -> Decimal:
    """Draw a Decimal whose value has 9 or more decimal places, of any size."""
    whole = draw(st.integers(min_value=-(10**12), max_value=10**12))
    places = draw(st.integers(min_value=SCALE + 1, max_value=60))
    last = draw(st.integers(min_value=1, max_value=9))
    middle = draw(st.integers(min_value=0, max_value=10 ** (places - 1) - 1))
    fraction = middle * 10 + last  # the last place is never zero
    sign = "-" if whole < 0 or draw(st.booleans()) else ""
    return Decimal(f"{sign}{abs(whole)}.{fraction:0{places}d}")


class TestRoundTrip:
    @given(exact_amounts())
    @example(MAX_AMOUNT)
    @example(-MAX_AMOUNT)
    @example(Decimal("0.00000001"))
    @example(Decimal("-0"))
    @example(Decimal("1E+10"))
    def test_any_exact_amount_comes_back_equal(self, value: Decimal) -> None:
        units = to_units(value)
        assert isinstance(units, int)
        assert abs(units) <= MAX_UNITS
        assert from_units(units) == value

    @given(units_in_range)
    def test_units_come_back_equal(self, units: int) -> None:
        assert to_units(from_units(units)) == units

    @given(units_in_range)
    def test_from_units_has_the_fixed_scale(self, units: int) -> None:
        assert from_units(units).as_tuple().exponent == -SCALE

    def test_one_unit_is_the_smallest_amount(self) -> None:
        assert to_units(Decimal("0.00000001")) == 1
        assert from_units(1) == Decimal("0.00000001")

    def test_the_extremes_are_the_column_limits(self) -> None:
        assert to_units(MAX_AMOUNT) == MAX_UNITS
        assert to_units(-MAX_AMOUNT) == -MAX_UNITS
        assert Decimal("92233720368.54775807") == MAX_AMOUNT

    @given(units_in_range)
    def test_result_does_not_depend_on_the_callers_decimal_context(self, units: int) -> None:
        value = from_units(units)
        with localcontext() as ctx:
            ctx.prec = 5
            assert to_units(value) == units

    def test_other_scales(self) -> None:
        assert to_units(Decimal("1.25"), scale=2) == 125
        assert from_units(125, scale=2) == Decimal("1.25")
        with pytest.raises(InexactAmount):
            to_units(Decimal("1.255"), scale=2)


class TestRefusals:
    @given(too_many_places())
    @example(Decimal("0.000000001"))
    @example(Decimal("-0.000000001"))
    @example(Decimal("1.0000000000000000000000000001"))  # 29 digits: beyond the default precision
    @example(Decimal("12345678901.000000000000000000001"))
    @example(Decimal("1E-1000040"))  # would underflow to zero
    def test_more_than_eight_places_is_refused(self, value: Decimal) -> None:
        with pytest.raises(InexactAmount):
            to_units(value)

    @pytest.mark.parametrize("value", ["NaN", "-NaN", "sNaN", "Infinity", "-Infinity"], ids=str)
    def test_not_finite_is_refused(self, value: str) -> None:
        with pytest.raises(InexactAmount, match="finite"):
            to_units(Decimal(value))

    @given(st.integers(min_value=MAX_UNITS + 1, max_value=10**40), st.booleans())
    @example(MAX_UNITS + 1, False)
    @example(MAX_UNITS + 1, True)
    def test_out_of_range_is_refused(self, units: int, negative: bool) -> None:
        value = Decimal(-units if negative else units).scaleb(-SCALE)
        with pytest.raises(InexactAmount):
            to_units(value)

    @pytest.mark.parametrize("value", ["9E+999999", "9E+999990", "-1E+20", "1E+11"], ids=str)
    def test_huge_exponents_are_refused_quickly(self, value: str) -> None:
        with pytest.raises(InexactAmount, match="outside"):
            to_units(Decimal(value))

    @pytest.mark.parametrize("value", [1, 1.5, "1.5", None], ids=repr)
    def test_non_decimals_are_refused(self, value: object) -> None:
        with pytest.raises(InexactAmount):
            to_units(value)  # type: ignore[arg-type]

    def test_error_is_an_invalid_input_with_its_code(self) -> None:
        with pytest.raises(InexactAmount) as caught:
            to_units(Decimal("0.123456789"))
        assert caught.value.code == "INEXACT_AMOUNT"
        assert "decimal places" in caught.value.message


class TestArithmeticThroughUnits:
    @given(exact_amounts(), exact_amounts())
    def test_adding_then_subtracting_gives_back_the_amount(self, a: Decimal, b: Decimal) -> None:
        ua, ub = to_units(a), to_units(b)
        total = ua + ub
        if abs(total) <= MAX_UNITS:
            assert from_units(total) == a + b
            assert to_units(from_units(total)) == total
        assert from_units(total - ub) == a
        assert to_units(from_units(total - ub)) == ua

    @given(exact_amounts(), exact_amounts())
    def test_units_order_like_the_amounts(self, a: Decimal, b: Decimal) -> None:
        assert (to_units(a) < to_units(b)) == (a < b)
        assert (to_units(a) == to_units(b)) == (a == b)


class TestAsFloat:
    def test_gives_the_nearest_float(self) -> None:
        assert as_float(Decimal("100000.5")) == 100000.5
        assert isinstance(as_float(Decimal(1)), float)


def is_plain(text: str) -> bool:
    """The rule, written out by hand: ASCII digits, one optional leading '-', one optional
    '.' followed by digits (an oracle independent of ``PLAIN_PATTERN``)."""
    digits = set("0123456789")
    whole, dot, fraction = text.removeprefix("-").partition(".")
    return (
        bool(whole)
        and set(whole) <= digits
        and (not dot or (bool(fraction) and set(fraction) <= digits))
    )


#: Text in the grammar: any digits, sign and fraction, leading and trailing zeros included.
plain_texts = st.builds(
    lambda sign, whole, fraction: f"{sign}{whole}{fraction}",
    st.sampled_from(["", "-"]),
    st.text("0123456789", min_size=1, max_size=40),
    st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=40).map(".".__add__)),
)
#: What Decimal() and Pydantic also read as numbers, and what a hand might type.
NEAR_MISSES = ["_", " ", "+", "-", ".", "e", "E", "E+", ",", "\uff11", "\u0661", "\u00a0",
               "\t", "\n", "x", "NaN", "Infinity"]  # fmt: skip


@st.composite
def near_misses(draw: st.DrawFn) -> str:
    """Draw text in the grammar with something inserted at a random place."""
    text = draw(plain_texts)
    at = draw(st.integers(min_value=0, max_value=len(text)))
    return text[:at] + draw(st.sampled_from(NEAR_MISSES)) + text[at:]


class TestPlainNotation:
    @given(plain_texts)
    @example("0")
    @example("-0.000")
    @example("007.50")
    @example("92233720368.54775807")
    @example("1" * 200)
    def test_text_in_the_grammar_is_read_exactly(self, text: str) -> None:
        value = parse_plain(text)
        exact = Decimal(text)
        assert value == exact
        assert value.as_tuple().digits == exact.as_tuple().digits
        assert value.as_tuple().exponent == exact.as_tuple().exponent  # nothing rounded
        assert not (value.is_signed() and not value)  # "-0" is 0
        assert plain_text(value).lstrip("-").lstrip("0") == text.lstrip("-").lstrip("0")

    @given(exact_amounts())
    @example(Decimal("1E-8"))
    @example(Decimal("1E+10"))
    @example(Decimal("-0.50"))
    def test_every_amount_written_plainly_reads_back_equal(self, value: Decimal) -> None:
        text = plain_text(value)
        assert is_plain(text)
        assert parse_plain(text) == value
        if "E" not in str(value):
            assert text == str(value)  # what str() gave, wherever it gave no exponent

    @given(st.one_of(st.text(), near_misses()))
    @example("1_000")
    @example("\uff11")
    @example("+1")
    @example(" 1")
    @example("1.")
    @example(".5")
    @example("-.5")
    @example("1e3")
    @example("1E+2")
    @example("--1")
    @example("1-")
    @example("1.2.3")
    @example("1,5")
    @example("1\n")
    @example("")
    @example("-")
    @example("NaN")
    @example("-Infinity")
    def test_anything_else_is_refused(self, text: str) -> None:
        if is_plain(text):
            assert parse_plain(text) == Decimal(text)
            return
        with pytest.raises(NotPlainDecimal) as caught:
            parse_plain(text)
        assert caught.value.code == "NOT_PLAIN_DECIMAL"
        assert caught.value.message == f"must be {PLAIN_NOTATION}"

    @pytest.mark.parametrize("text", ["1_000", "\uff11", "+1", " 1", "1."], ids=repr)
    def test_what_decimal_reads_is_still_refused(self, text: str) -> None:
        assert Decimal(text) in (1, 1000)  # the looseness this rule exists to refuse
        with pytest.raises(NotPlainDecimal):
            parse_plain(text)

    @given(plain_texts)
    def test_the_callers_decimal_context_does_not_round(self, text: str) -> None:
        with localcontext() as ctx:
            ctx.prec = 3
            assert parse_plain(text) == Decimal(text)


#: Prices a pair can have: positive, at most 8 places, from a yen price to a tiny one.
rates = st.integers(min_value=1, max_value=10**12).map(from_units)
#: Amounts of a pair's quote currency (P&L, margin, notional), either sign.
quote_amounts = st.integers(min_value=-(10**17), max_value=10**17).map(from_units)


class TestQuoteToBase:
    """``quote_to_base``: amount / rate, rounded once to 10⁻⁸ (the USD-base pairs' P&L)."""

    def test_a_usdjpy_lot_moving_half_a_yen(self) -> None:
        # 1 lot of 100,000 dollars bought at 155.000 and sold at 155.500: 50,000 yen, which
        # at 155.500 yen a dollar is 321.543408360128... dollars.
        assert quote_to_base(D("50000"), D("155.500")) == D("321.54340836")
        assert quote_to_base(D("-50000"), D("155.500")) == D("-321.54340836")
        assert quote_to_base(D("50000"), D("155.500"), ROUND_CEILING) == D("321.54340837")
        assert quote_to_base(D("50000"), D("155.500"), ROUND_FLOOR) == D("321.54340836")

    def test_ties_go_to_the_even_unit(self) -> None:
        assert quote_to_base(D("0.00000001"), D(2)) == 0  # 0.5e-8 -> 0
        assert quote_to_base(D("0.00000003"), D(2)) == D("0.00000002")  # 1.5e-8 -> 2e-8
        assert quote_to_base(D("0.00000005"), D(2)) == D("0.00000002")  # 2.5e-8 -> 2e-8

    @pytest.mark.parametrize("rate", [D(0), D(-1), D("NaN"), D("Infinity")])
    def test_a_rate_that_is_not_positive_and_finite_is_refused(self, rate: Decimal) -> None:
        with pytest.raises(InvalidRate):
            quote_to_base(D(1), rate)

    @given(quote_amounts, rates)
    def test_the_result_is_the_exact_quotient_rounded_half_even_once(
        self, amount: Decimal, rate: Decimal
    ) -> None:
        converted = quote_to_base(amount, rate)
        assert converted == converted.scaleb(SCALE).to_integral_value().scaleb(-SCALE)
        error = Fraction(converted) - Fraction(amount) / Fraction(rate)
        half = Fraction(1, 2 * 10**SCALE)
        assert abs(error) <= half
        if abs(error) == half:  # a tie: the even unit
            assert int(converted.scaleb(SCALE)) % 2 == 0

    @given(quote_amounts, rates)
    def test_ceiling_and_floor_bracket_the_exact_quotient(
        self, amount: Decimal, rate: Decimal
    ) -> None:
        exact = Fraction(amount) / Fraction(rate)
        up = quote_to_base(amount, rate, ROUND_CEILING)
        down = quote_to_base(amount, rate, ROUND_FLOOR)
        assert Fraction(down) <= exact <= Fraction(up)
        assert up - down in (0, D("0.00000001"))
        assert (up == down) == (Fraction(down) == exact)
        assert down <= quote_to_base(amount, rate) <= up

    @given(quote_amounts, rates)
    def test_sign_symmetric_and_at_rate_one_the_identity(
        self, amount: Decimal, rate: Decimal
    ) -> None:
        assert quote_to_base(-amount, rate) == -quote_to_base(amount, rate)
        assert quote_to_base(amount, D(1)) == amount

    @given(quote_amounts, quote_amounts, rates)
    def test_monotonic_in_the_amount(self, a: Decimal, b: Decimal, rate: Decimal) -> None:
        low, high = sorted((a, b))
        assert quote_to_base(low, rate) <= quote_to_base(high, rate)

    @given(
        st.integers(min_value=1, max_value=10_000).map(lambda n: n * D("0.01")),
        rates,
    )
    def test_a_notional_converted_at_its_own_price_is_quantity_times_contract(
        self, lots: Decimal, price: Decimal
    ) -> None:
        # Margin on a USD-base pair: quantity x contract x price converted at that price.
        assert quote_to_base(lots * D(100_000) * price, price) == lots * D(100_000)
