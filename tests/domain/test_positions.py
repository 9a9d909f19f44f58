"""Net positions: worked examples, the accounting identity, averaging and flip rules."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepit.domain.errors import DomainError
from tradepit.domain.money import InexactAmount, quote_to_base, to_units
from tradepit.domain.orders import Fill, Product, Side
from tradepit.domain.positions import (
    AVERAGE_PLACES,
    ChangeKind,
    InconsistentPosition,
    InvalidFill,
    InvalidMark,
    Position,
    PositionChange,
    PositionSide,
)

D = Decimal
ONE = D(1)


def ds(*values: int | str) -> tuple[Decimal, ...]:
    """Return the values as Decimals, to compare with a tuple of amounts."""
    return tuple(D(v) for v in values)


def position() -> Position:
    """Return a new flat position."""
    return Position(7, "RELIANCE", Product.MIS)


def buy(
    pos: Position, qty: str, price: str, charges: str = "0", mult: Decimal = ONE
) -> PositionChange:
    """Apply a buy and return what it did."""
    return pos.apply(Side.BUY, Fill(D(qty), D(price), D(charges)), mult)


def sell(
    pos: Position, qty: str, price: str, charges: str = "0", mult: Decimal = ONE
) -> PositionChange:
    """Apply a sell and return what it did."""
    return pos.apply(Side.SELL, Fill(D(qty), D(price), D(charges)), mult)


class TestWorkedExample:
    def test_the_issue_walkthrough(self) -> None:
        pos = position()

        change = buy(pos, "10", "100")
        assert change.kind is ChangeKind.OPENED
        assert (change.realized, pos.quantity) == ds(0, 10)
        assert PositionSide.of(pos.quantity) is PositionSide.LONG

        change = buy(pos, "10", "110")
        assert change.kind is ChangeKind.INCREASED
        assert (pos.quantity, pos.average_price(ONE), pos.cost_basis) == ds(20, 105, 2100)

        change = sell(pos, "5", "120")
        assert change.kind is ChangeKind.REDUCED
        assert (change.closed, change.opened, change.realized) == ds(5, 0, 75)
        assert (pos.quantity, pos.average_price(ONE), pos.realized_gross) == ds(15, 105, 75)

        change = sell(pos, "20", "90")
        assert change.kind is ChangeKind.FLIPPED
        assert (change.before, change.after, change.closed, change.opened) == ds(15, -5, 15, 5)
        assert change.realized == (D(90) - D(105)) * 15 == -225
        assert PositionSide.of(pos.quantity) is PositionSide.SHORT
        assert (pos.quantity, pos.average_price(ONE), pos.cost_basis) == ds(-5, 90, -450)
        assert pos.realized_gross == 75 - 225

        change = buy(pos, "5", "80")
        assert change.kind is ChangeKind.CLOSED
        assert change.realized == (D(90) - D(80)) * 5 == 50
        assert pos.is_flat and pos.side is PositionSide.FLAT
        assert (pos.quantity, pos.cost_basis, pos.average_price(ONE)) == ds(0, 0, 0)
        assert pos.realized_gross == 75 - 225 + 50 == -100
        assert pos.unrealized(D(1234), ONE) == 0

    def test_unrealized_and_market_value(self) -> None:
        pos = position()
        buy(pos, "10", "100")
        buy(pos, "10", "110")
        assert pos.market_value(D(120), ONE) == 2400
        assert pos.unrealized(D(120), ONE) == (120 - 105) * 20
        assert pos.unrealized(D(0), ONE) == -2100

    def test_short_unrealized_gains_when_price_falls(self) -> None:
        pos = position()
        sell(pos, "3", "50")
        assert pos.quantity == -3
        assert pos.market_value(D(40), ONE) == -120
        assert pos.unrealized(D(40), ONE) == 30
        assert pos.unrealized(D(60), ONE) == -30

    def test_exact_close_keeps_realized(self) -> None:
        pos = position()
        sell(pos, "4", "10.05")
        change = buy(pos, "4", "9.55")
        assert change.kind is ChangeKind.CLOSED
        assert change.realized == D("2.00")
        assert (pos.quantity, pos.cost_basis, pos.realized_gross) == ds(0, 0, "2.00")
        reopened = buy(pos, "1", "9")
        assert reopened.kind is ChangeKind.OPENED
        assert pos.realized_gross == D("2.00")
        assert pos.average_price(ONE) == 9

    def test_mt5_lot_with_multiplier_100(self) -> None:
        # XAUUSD: one lot is 100 ounces.
        mult = D(100)
        pos = position()
        buy(pos, "0.50", "2000.00", mult=mult)
        assert pos.market_value(D("2000.00"), mult) == 100_000
        assert pos.average_price(mult) == D("2000.00")
        assert pos.unrealized(D("2001.00"), mult) == 50
        change = sell(pos, "0.20", "2010.50", mult=mult)
        assert change.realized == D("10.50") * D("0.20") * 100 == 210
        change = sell(pos, "0.30", "1990.00", mult=mult)
        assert change.realized == D("-10.00") * D("0.30") * 100 == -300
        assert pos.realized_gross == -90

    def test_charges_reduce_net_realized(self) -> None:
        pos = position()
        buy(pos, "10", "100", charges="1.25")
        change = sell(pos, "10", "101", charges="1.50")
        assert (change.realized, change.charges, change.net) == ds(10, "1.50", "8.50")
        assert pos.charges == D("2.75")
        assert pos.realized_gross == 10
        assert pos.realized_net == D("7.25")

    def test_partial_reduce_rounds_the_released_cost_and_keeps_the_residue(self) -> None:
        pos = position()
        buy(pos, "1", "100")
        buy(pos, "2", "101")
        assert pos.cost_basis == 302
        assert pos.average_price(ONE) == D("100.6666666667")
        first = sell(pos, "1", "102")
        # 302 / 3 = 100.666666666..., released as 100.66666667.
        assert first.realized == D("102") - D("100.66666667")
        assert pos.cost_basis == D("201.33333333")
        second = sell(pos, "1", "102")
        third = sell(pos, "1", "102")
        assert pos.is_flat and pos.cost_basis == 0
        # Rounding moved cents-of-a-millionth between fills; the total is exact.
        assert first.realized + second.realized + third.realized == 3 * 102 - 302 == 4

    def test_identity_is_kept_by_the_constructor_restore(self) -> None:
        pos = Position(
            1,
            "BTC-USDT",
            Product.NRML,
            quantity=D("-0.5"),
            cost_basis=D("-30000"),
            realized_gross=D("12.5"),
            charges=D("1"),
        )
        assert pos.average_price(ONE) == 60000
        assert buy(pos, "0.5", "59000").realized == 500
        assert pos.realized_net == D("511.5")
        assert "BTC-USDT" in repr(pos)


class TestRefusals:
    @pytest.mark.parametrize(
        ("qty", "price", "charges", "message"),
        [
            ("0", "100", "0", "fill quantity must be > 0"),
            ("-1", "100", "0", "fill quantity must be > 0"),
            ("1", "0", "0", "fill price must be > 0"),
            ("1", "-5", "0", "fill price must be > 0"),
            ("1", "100", "-0.01", "fill charges must be >= 0"),
            ("NaN", "100", "0", "fill quantity must be a finite Decimal"),
            ("1", "Infinity", "0", "fill price must be a finite Decimal"),
        ],
    )
    def test_bad_fill_is_refused_and_changes_nothing(
        self, qty: str, price: str, charges: str, message: str
    ) -> None:
        pos = position()
        buy(pos, "2", "50")
        with pytest.raises(InvalidFill, match=message) as caught:
            pos.apply(Side.SELL, Fill(D(qty), D(price), D(charges)), ONE)
        assert isinstance(caught.value, DomainError)
        assert caught.value.code == "INVALID_FILL"
        assert (pos.quantity, pos.cost_basis, pos.realized_gross, pos.charges) == ds(2, 100, 0, 0)

    def test_float_is_refused(self) -> None:
        with pytest.raises(InvalidFill, match="finite Decimal"):
            position().apply(Side.BUY, Fill(1.5, D(1)), ONE)  # type: ignore[arg-type]

    def test_more_than_eight_decimals_is_refused(self) -> None:
        with pytest.raises(InexactAmount, match="more than 8 decimal places"):
            buy(position(), "1", "100.000000001")

    @pytest.mark.parametrize("mult", [D(0), D(-1), D("NaN")])
    def test_bad_multiplier_is_refused(self, mult: Decimal) -> None:
        pos = position()
        with pytest.raises(InvalidFill, match="multiplier must be"):
            buy(pos, "1", "100", mult=mult)
        with pytest.raises(InvalidMark, match="multiplier must be"):
            pos.unrealized(D(100), mult)
        assert pos.is_flat

    @pytest.mark.parametrize("mark", [D(-1), D("NaN")])
    def test_bad_mark_is_refused(self, mark: Decimal) -> None:
        pos = position()
        buy(pos, "1", "100")
        with pytest.raises(InvalidMark, match="mark price must be"):
            pos.unrealized(mark, ONE)
        with pytest.raises(InvalidMark, match="mark price must be"):
            pos.market_value(mark, ONE)

    @pytest.mark.parametrize(
        ("quantity", "cost", "charges"),
        [(D(0), D(5), D(0)), (D(1), D(-5), D(0)), (D(-1), D(0), D(0)), (D(1), D(5), D(-1))],
    )
    def test_inconsistent_restore_is_refused(
        self, quantity: Decimal, cost: Decimal, charges: Decimal
    ) -> None:
        with pytest.raises(InconsistentPosition):
            Position(1, "X", Product.CNC, quantity=quantity, cost_basis=cost, charges=charges)


# --- Properties -------------------------------------------------------------------------------

#: (tick size, lot size, multiplier) as on NSE, NFO, OKX and MT5.
MARKETS = [
    (D("0.05"), D(1), D(1)),
    (D("0.05"), D(75), D(1)),
    (D("0.1"), D("0.0001"), D(1)),
    (D("0.00001"), D("0.01"), D(100000)),
    (D("0.01"), D("0.01"), D(100)),
    (D("0.01"), D("0.001"), D("0.01")),
]


@dataclass(frozen=True)
class Trade:
    """A side and a fill, as drawn."""

    side: Side
    fill: Fill


@dataclass(frozen=True)
class Scenario:
    """A market, a sequence of trades and a final mark price."""

    tick: Decimal
    lot: Decimal
    multiplier: Decimal
    trades: list[Trade]
    mark: Decimal


@st.composite
def trades_in(draw: st.DrawFn, tick: Decimal, lot: Decimal, size: int = 30) -> list[Trade]:
    """Draw trades on the tick and lot grid; small quantities so that flips are common."""
    trades = []
    for _ in range(draw(st.integers(min_value=0, max_value=size))):
        side = draw(st.sampled_from(Side))
        qty = draw(st.integers(min_value=1, max_value=40)) * lot
        price = draw(st.integers(min_value=1, max_value=2_000_000)) * tick
        charges = draw(st.integers(min_value=0, max_value=10_000)) * D("0.01")
        trades.append(Trade(side, Fill(qty, price, charges)))
    return trades


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Draw a market, trades in it and a mark price (which may be 0)."""
    tick, lot, multiplier = draw(st.sampled_from(MARKETS))
    trades = draw(trades_in(tick, lot))
    mark = draw(st.integers(min_value=0, max_value=2_000_000)) * tick
    return Scenario(tick, lot, multiplier, trades, mark)


def replay(scenario: Scenario) -> tuple[Position, list[PositionChange]]:
    """Apply every trade of the scenario to a new position."""
    pos = position()
    changes = [pos.apply(t.side, t.fill, scenario.multiplier) for t in scenario.trades]
    return pos, changes


class TestProperties:
    @given(scenarios())
    def test_accounting_identity_is_exact(self, scenario: Scenario) -> None:
        pos, _ = replay(scenario)
        m = scenario.multiplier
        cash = sum(
            (-t.side.sign * t.fill.quantity * t.fill.price * m for t in scenario.trades), D(0)
        )
        expected = cash + pos.quantity * scenario.mark * m
        assert pos.realized_gross + pos.unrealized(scenario.mark, m) == expected
        assert pos.market_value(scenario.mark, m) == pos.quantity * scenario.mark * m

    @given(scenarios())
    def test_net_is_gross_minus_all_charges(self, scenario: Scenario) -> None:
        pos, changes = replay(scenario)
        charges = sum((t.fill.charges for t in scenario.trades), D(0))
        assert pos.charges == charges
        assert pos.realized_net == pos.realized_gross - charges
        assert pos.realized_gross == sum((c.realized for c in changes), D(0))
        assert pos.realized_net == sum((c.net for c in changes), D(0))

    @given(scenarios())
    def test_quantity_is_the_signed_sum_of_fills(self, scenario: Scenario) -> None:
        pos, changes = replay(scenario)
        signed = sum((t.side.sign * t.fill.quantity for t in scenario.trades), D(0))
        assert pos.quantity == signed
        previous = D(0)
        for trade, change in zip(scenario.trades, changes, strict=True):
            assert change.before == previous
            assert change.after == previous + trade.side.sign * trade.fill.quantity
            assert change.closed + change.opened == trade.fill.quantity
            previous = change.after

    @given(scenarios())
    def test_cost_basis_has_the_sign_of_the_quantity(self, scenario: Scenario) -> None:
        pos = position()
        for trade in scenario.trades:
            pos.apply(trade.side, trade.fill, scenario.multiplier)
            assert PositionSide.of(pos.cost_basis) is pos.side

    @given(scenarios())
    def test_an_add_keeps_the_average_between_the_prices(self, scenario: Scenario) -> None:
        pos = position()
        m = scenario.multiplier
        for trade in scenario.trades:
            before = pos.average_price(m)
            change = pos.apply(trade.side, trade.fill, m)
            after = pos.average_price(m)
            if change.kind is ChangeKind.INCREASED:
                low, high = sorted((before, trade.fill.price))
                assert low <= after <= high
            elif change.kind is ChangeKind.REDUCED:
                # The released share is rounded to 10^-8 of money: the average moves by at
                # most that over what stays open, plus the display rounding of both averages.
                bound = D("0.5e-8") / (abs(pos.quantity) * m) + D(1).scaleb(-AVERAGE_PLACES)
                assert abs(after - before) <= bound
            elif change.kind in {ChangeKind.OPENED, ChangeKind.FLIPPED}:
                assert after == trade.fill.price
            else:
                assert after == 0

    @given(scenarios())
    def test_kinds_follow_the_state_machine(self, scenario: Scenario) -> None:
        _, changes = replay(scenario)
        expected = {
            ChangeKind.OPENED: lambda b, a: b == 0 != a,
            ChangeKind.INCREASED: lambda b, a: b * a > 0 and abs(a) > abs(b),
            ChangeKind.REDUCED: lambda b, a: b * a > 0 and abs(a) < abs(b),
            ChangeKind.CLOSED: lambda b, a: b != 0 == a,
            ChangeKind.FLIPPED: lambda b, a: b * a < 0,
        }
        for change in changes:
            assert expected[change.kind](change.before, change.after)
            assert (change.realized != 0) <= (change.closed > 0)

    @given(scenarios(), st.data())
    def test_adding_and_removing_a_trade_restores_the_quantity(
        self, scenario: Scenario, data: st.DataObject
    ) -> None:
        pos, _ = replay(scenario)
        start = pos.quantity
        extra = data.draw(trades_in(scenario.tick, scenario.lot, size=1).filter(bool))[0]
        pos.apply(extra.side, extra.fill, scenario.multiplier)
        opposite = Side.SELL if extra.side is Side.BUY else Side.BUY
        undo = Fill(extra.fill.quantity, extra.fill.price)
        pos.apply(opposite, undo, scenario.multiplier)
        assert pos.quantity == start

    @given(scenarios())
    def test_flat_position_has_no_cost_and_no_unrealized(self, scenario: Scenario) -> None:
        pos = position()
        m = scenario.multiplier
        for trade in scenario.trades:
            pos.apply(trade.side, trade.fill, m)
            if pos.is_flat:
                assert pos.cost_basis == 0
                assert pos.unrealized(scenario.mark, m) == 0
                assert pos.average_price(m) == 0

    @given(scenarios())
    def test_storable_fills_keep_storable_amounts(self, scenario: Scenario) -> None:
        m = scenario.multiplier
        values = [t.fill.quantity * t.fill.price * m for t in scenario.trades]
        pos, changes = replay(scenario)
        try:
            for value in values:
                to_units(value)
        except InexactAmount:
            return  # A trade value with more than 8 decimals: nothing is promised.
        for amount in (pos.cost_basis, pos.realized_gross, *(c.realized for c in changes)):
            to_units(amount)

    @given(scenarios())
    def test_restoring_the_state_continues_identically(self, scenario: Scenario) -> None:
        pos, _ = replay(scenario)
        copy = Position(
            pos.user_id,
            pos.symbol,
            pos.product,
            quantity=pos.quantity,
            cost_basis=pos.cost_basis,
            realized_gross=pos.realized_gross,
            charges=pos.charges,
        )
        fill = Fill(scenario.lot * 3, scenario.tick * 7)
        assert pos.apply(Side.SELL, fill, scenario.multiplier) == copy.apply(
            Side.SELL, fill, scenario.multiplier
        )
        assert repr(pos) == repr(copy)


# --- A pair settled in its base currency (USDJPY in a USD wallet) ------------------------------

#: USDJPY: tick 0.001, lot step 0.01, 100,000 dollars a lot.
JPY_TICK, JPY_LOT, JPY_CONTRACT = D("0.001"), D("0.01"), D(100000)


def usdjpy() -> Position:
    return Position(7, "USDJPY", Product.MIS)


class TestSettledInBase:
    def test_a_round_trip_realizes_the_yen_p_and_l_at_the_exit_price(self) -> None:
        pos = usdjpy()
        opened = pos.apply(
            Side.BUY, Fill(D(1), D("155.000"), D("3.50")), JPY_CONTRACT, settles_in_base=True
        )
        assert opened.realized == 0 and pos.cost_basis == D("15500000")  # yen
        assert pos.unrealized(D("155.500"), JPY_CONTRACT, settles_in_base=True) == D("321.54340836")
        closed = pos.apply(
            Side.SELL, Fill(D(1), D("155.500"), D("3.50")), JPY_CONTRACT, settles_in_base=True
        )
        # 50,000 yen / 155.5 = 321.5434083601286... dollars, half-even to 10⁻⁸.
        assert closed.realized == D("321.54340836") == quote_to_base(D(50000), D("155.500"))
        assert pos.realized_gross == D("321.54340836")
        assert pos.realized_net == D("314.54340836")  # charges are dollars already

    def test_a_short_that_loses_converts_the_loss_at_the_cover_price(self) -> None:
        pos = usdjpy()
        pos.apply(Side.SELL, Fill(D("0.5"), D("150.000")), JPY_CONTRACT, settles_in_base=True)
        covered = pos.apply(
            Side.BUY, Fill(D("0.5"), D("151.200")), JPY_CONTRACT, settles_in_base=True
        )
        # -0.5 x 100,000 x 1.2 = -60,000 yen at 151.2 = -396.8253968253968... dollars.
        assert covered.realized == D("-396.82539683")

    def test_a_mark_of_zero_cannot_convert(self) -> None:
        pos = usdjpy()
        pos.apply(Side.BUY, Fill(D(1), D("155.000")), JPY_CONTRACT, settles_in_base=True)
        with pytest.raises(InvalidMark):
            pos.unrealized(D(0), JPY_CONTRACT, settles_in_base=True)


@st.composite
def usdjpy_scenarios(draw: st.DrawFn) -> Scenario:
    """Draw USDJPY trades at realistic prices (100-200 yen) and a positive mark."""
    trades = []
    for _ in range(draw(st.integers(min_value=0, max_value=20))):
        side = draw(st.sampled_from(Side))
        qty = draw(st.integers(min_value=1, max_value=40)) * JPY_LOT
        price = draw(st.integers(min_value=100_000, max_value=200_000)) * JPY_TICK
        charges = draw(st.integers(min_value=0, max_value=1_000)) * D("0.01")
        trades.append(Trade(side, Fill(qty, price, charges)))
    mark = draw(st.integers(min_value=100_000, max_value=200_000)) * JPY_TICK
    return Scenario(JPY_TICK, JPY_LOT, JPY_CONTRACT, trades, mark)


class TestSettledInBaseProperties:
    @given(usdjpy_scenarios())
    def test_each_fill_realizes_its_yen_p_and_l_converted_at_its_price(
        self, scenario: Scenario
    ) -> None:
        # The same fills on a position kept in yen give each fill's yen P&L; the converted
        # position realizes exactly that, converted once at the fill's price.
        yen, dollars = usdjpy(), usdjpy()
        for t in scenario.trades:
            in_yen = yen.apply(t.side, t.fill, JPY_CONTRACT)
            in_dollars = dollars.apply(t.side, t.fill, JPY_CONTRACT, settles_in_base=True)
            assert in_dollars.realized == quote_to_base(in_yen.realized, t.fill.price)
            assert (in_dollars.kind, in_dollars.closed, in_dollars.opened) == (
                in_yen.kind,
                in_yen.closed,
                in_yen.opened,
            )
            to_units(in_dollars.realized)
        # Quantity, cost basis and charges are the same; only the P&L is converted.
        assert (dollars.quantity, dollars.cost_basis, dollars.charges) == (
            yen.quantity,
            yen.cost_basis,
            yen.charges,
        )
        mark = scenario.mark
        assert dollars.unrealized(mark, JPY_CONTRACT, settles_in_base=True) == quote_to_base(
            yen.unrealized(mark, JPY_CONTRACT), mark
        )
        assert dollars.realized_net == dollars.realized_gross - dollars.charges

    @given(usdjpy_scenarios())
    def test_an_immediate_close_at_the_mark_realizes_the_unrealized(
        self, scenario: Scenario
    ) -> None:
        pos = usdjpy()
        for t in scenario.trades:
            pos.apply(t.side, t.fill, JPY_CONTRACT, settles_in_base=True)
        if pos.is_flat:
            return
        unrealized = pos.unrealized(scenario.mark, JPY_CONTRACT, settles_in_base=True)
        side = Side.SELL if pos.quantity > 0 else Side.BUY
        close = pos.apply(
            side, Fill(abs(pos.quantity), scenario.mark), JPY_CONTRACT, settles_in_base=True
        )
        assert close.realized == unrealized and pos.is_flat

    @given(scenarios())
    def test_without_the_flag_nothing_changes(self, scenario: Scenario) -> None:
        # Every instrument quoted in its settlement currency keeps the accounting it had.
        a, b = position(), position()
        m = scenario.multiplier
        for t in scenario.trades:
            assert a.apply(t.side, t.fill, m) == b.apply(t.side, t.fill, m, settles_in_base=False)
        assert a.unrealized(scenario.mark, m) == b.unrealized(
            scenario.mark, m, settles_in_base=False
        )


def amounts(low: str = "0.00000001") -> st.SearchStrategy[Decimal]:
    """Positive amounts of at most 8 decimals, as large as money goes (``to_units``)."""
    return st.decimals(D(low), D("92233720368"), places=8, allow_nan=False, allow_infinity=False)


def rounded_exactly(numerator: Fraction, places: int) -> Decimal:
    """Round a fraction half-even to ``places`` decimals: the reference (every digit kept)."""
    return D(round(numerator * 10**places)).scaleb(-places, context=Context(prec=100))


class TestAverageRoundsAsTheExactFraction:
    """The average price and the cost released by a partial close are computed in wide
    decimals; they must round as the exact fractions do, ties included."""

    @given(cost=amounts(), quantity=amounts(), multiplier=amounts())
    def test_average_price(self, cost: Decimal, quantity: Decimal, multiplier: Decimal) -> None:
        pos = Position(7, "RELIANCE", Product.NRML, quantity=quantity, cost_basis=cost)
        exact = Fraction(cost) / (Fraction(quantity) * Fraction(multiplier))
        assert pos.average_price(multiplier) == rounded_exactly(exact, AVERAGE_PLACES)
        short = Position(7, "RELIANCE", Product.NRML, quantity=-quantity, cost_basis=-cost)
        assert short.average_price(multiplier) == rounded_exactly(exact, AVERAGE_PLACES)

    @pytest.mark.parametrize(
        ("cost", "quantity", "average"),
        [
            # Exact ties at the 11th decimal round to even.
            ("0.00000001", "200", "0.0000000000"),
            ("0.00000003", "200", "0.0000000002"),
            ("0.00000005", "200", "0.0000000002"),
            ("0.00000007", "200", "0.0000000004"),
            ("1000000.00000003", "200", "5000.0000000002"),
            ("0.00000001", "3", "0.0000000033"),
            ("2", "3", "0.6666666667"),
        ],
    )
    def test_ties_round_to_even(self, cost: str, quantity: str, average: str) -> None:
        pos = Position(7, "RELIANCE", Product.NRML, quantity=D(quantity), cost_basis=D(cost))
        exact = Fraction(D(cost)) / Fraction(D(quantity))
        assert pos.average_price(ONE) == rounded_exactly(exact, AVERAGE_PLACES) == D(average)

    @given(data=st.data(), quantity=amounts("0.00000002"), price=amounts())
    def test_a_partial_close_releases_the_exact_share(
        self, data: st.DataObject, quantity: Decimal, price: Decimal
    ) -> None:
        closed = data.draw(
            st.decimals(D("0.00000001"), quantity - D("0.00000001"), places=8), label="closed"
        )
        pos = position()
        buy(pos, str(quantity), str(price))
        cost = pos.cost_basis
        sell(pos, str(closed), str(price))
        share = rounded_exactly(Fraction(cost) * Fraction(closed) / Fraction(quantity), 8)
        assert Fraction(pos.cost_basis) == Fraction(cost) - Fraction(share)
