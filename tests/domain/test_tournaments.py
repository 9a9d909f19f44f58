"""The leaderboard's arithmetic and prize splits: plain and property-based tests."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepit.domain.tournaments import (
    Book,
    InvalidPrizeSplit,
    PositionLimits,
    RuleBroken,
    check_position,
    final_order,
    ranks,
    split_prizes,
    standings,
    standings_loop,
    win_rate,
)

CAPITAL = 100_000.0


@st.composite
def books(draw: st.DrawFn) -> Book:
    n = draw(st.integers(min_value=1, max_value=12))
    m = draw(st.integers(min_value=0, max_value=30))
    cash = draw(st.lists(st.integers(0, 10**7), min_size=n, max_size=n))
    peak = [c + draw(st.integers(0, 10**5)) for c in cash]
    return Book(
        entry_id=np.array(draw(st.permutations(range(1, n + 1))), dtype=np.int64),
        cash=np.array(cash, dtype=np.float64),
        peak=np.array(peak, dtype=np.float64),
        max_drawdown=np.array(draw(st.lists(st.integers(0, 50), min_size=n, max_size=n)), float),
        owner=np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), np.intp),
        quantity=np.array(draw(st.lists(st.integers(-100, 100), min_size=m, max_size=m)), float),
        mark=np.array(draw(st.lists(st.integers(1, 5000), min_size=m, max_size=m)), float),
        multiplier=np.ones(m),
        cost=np.array(draw(st.lists(st.integers(-(10**5), 10**5), min_size=m, max_size=m)), float),
        margined=np.array(draw(st.lists(st.booleans(), min_size=m, max_size=m)), dtype=np.bool_),
    )


class TestStandings:
    @given(books())
    def test_equity_is_cash_plus_marked_positions(self, book: Book) -> None:
        result = standings(book, CAPITAL)
        for i in range(len(book.cash)):
            exact = Fraction(int(book.cash[i]))
            for j in np.flatnonzero(book.owner == i):
                value = Fraction(int(book.quantity[j])) * int(book.mark[j])
                exact += value - (int(book.cost[j]) if book.margined[j] else 0)
            assert result.equity[i] == float(exact)  # small integers: float is exact here
            assert result.pnl[i] == result.equity[i] - CAPITAL

    @given(books())
    def test_ranks_are_by_return_then_entry(self, book: Book) -> None:
        result = standings(book, CAPITAL)
        order = result.order()
        assert sorted(result.rank.tolist()) == list(range(1, len(book.cash) + 1))
        keys = [(-result.roi[i], book.entry_id[i]) for i in order]
        assert keys == sorted(keys)

    @given(books())
    def test_drawdown_never_shrinks_and_peak_never_falls(self, book: Book) -> None:
        result = standings(book, CAPITAL)
        assert (result.max_drawdown >= book.max_drawdown).all()
        assert (result.peak >= book.peak).all() and (result.peak >= result.equity).all()

    @given(books())
    def test_the_loop_baseline_agrees(self, book: Book) -> None:
        fast, slow = standings(book, CAPITAL), standings_loop(book, CAPITAL)
        assert (fast.rank == slow.rank).all()
        assert np.allclose(fast.equity, slow.equity) and np.allclose(fast.roi, slow.roi)
        assert np.allclose(fast.max_drawdown, slow.max_drawdown)

    def test_ties_go_to_the_earlier_entry(self) -> None:
        roi = np.array([5.0, 7.0, 5.0, 7.0])
        assert ranks(roi, np.array([4, 3, 2, 1], dtype=np.int64)).tolist() == [4, 2, 3, 1]
        exact = [(4, Decimal(5)), (3, Decimal(7)), (2, Decimal(5)), (1, Decimal(7))]
        assert final_order(exact) == [1, 3, 2, 4]


class TestPrizes:
    @given(
        st.integers(0, 10**17).map(lambda u: Decimal(u).scaleb(-8)),
        st.lists(st.integers(1, 40), min_size=0, max_size=6).filter(lambda s: sum(s) <= 100),
        st.integers(0, 10),
    )
    def test_prizes_never_exceed_the_pool(self, pool: Decimal, split: list[int], n: int) -> None:
        prizes = split_prizes(pool, [Decimal(p) for p in split], n)
        assert len(prizes) == min(n, len(split))
        assert sum(prizes, Decimal(0)) <= pool
        for prize, share in zip(prizes, split, strict=False):
            assert prize == (pool * share / 100).quantize(Decimal("1e-8"), "ROUND_DOWN")
            assert pool * share / 100 - prize < Decimal("1e-8")

    def test_a_split_over_100_is_refused(self) -> None:
        with pytest.raises(InvalidPrizeSplit):
            split_prizes(Decimal(100), [Decimal(60), Decimal(50)], 2)
        with pytest.raises(InvalidPrizeSplit):
            split_prizes(Decimal(100), [Decimal(0)], 1)

    def test_win_rate(self) -> None:
        assert win_rate(0, 0) == 0
        assert win_rate(3, 2) == Decimal("66.67")


class TestPositionRules:
    """``allow_shorts`` and ``max_position_pct``: the same check at placing, modifying and
    each fill."""

    LIMITS = PositionLimits(
        allow_shorts=False, max_position_pct=Decimal(10), starting_capital=Decimal(100_000)
    )

    @pytest.mark.parametrize(
        ("held", "change", "rule"),
        [
            (Decimal(0), Decimal(-1), "allow_shorts"),
            (Decimal(5), Decimal(-6), "allow_shorts"),  # past flat
            (Decimal(0), Decimal(101), "max_position_pct"),  # 10,100 > 10,000
            (Decimal(50), Decimal(51), "max_position_pct"),
        ],
    )
    def test_refused_naming_the_rule(self, held: Decimal, change: Decimal, rule: str) -> None:
        with pytest.raises(RuleBroken) as caught:
            check_position(self.LIMITS, held, change, Decimal(100), Decimal(1))
        assert caught.value.message.startswith(f"{rule}:")

    @pytest.mark.parametrize(
        ("held", "change"),
        [
            (Decimal(0), Decimal(100)),  # exactly 10 %
            (Decimal(5), Decimal(-5)),  # to flat
            (Decimal(500), Decimal(-1)),  # too big already (the price rose): it may shrink
        ],
    )
    def test_allowed(self, held: Decimal, change: Decimal) -> None:
        check_position(self.LIMITS, held, change, Decimal(100), Decimal(1))

    def test_a_usd_base_pair_is_worth_its_dollars_whatever_its_yen_price(self) -> None:
        # USDJPY: 0.1 lot of 100,000 dollars is worth 10,000 dollars at any price in yen.
        limits = PositionLimits(True, Decimal(10), Decimal(100_000))
        lot, price = Decimal(100_000), Decimal("155.000")
        check_position(limits, Decimal(0), Decimal("0.1"), price, lot, settles_in_base=True)
        with pytest.raises(RuleBroken, match="worth 10100"):
            check_position(limits, Decimal(0), Decimal("0.101"), price, lot, settles_in_base=True)
        with pytest.raises(RuleBroken):  # unconverted, 0.1 lot would be 1,550,000
            check_position(limits, Decimal(0), Decimal("0.1"), price, lot)

    @given(
        held=st.decimals(min_value=-1000, max_value=1000, places=2),
        change=st.decimals(min_value=-2000, max_value=2000, places=2),
    )
    def test_a_trade_that_only_reduces_is_never_refused(
        self, held: Decimal, change: Decimal
    ) -> None:
        after = held + change
        strict = PositionLimits(True, Decimal("0.0001"), Decimal(1))
        if held != 0 and after * held >= 0 and abs(after) <= abs(held):
            check_position(strict, held, change, Decimal(100), Decimal(1))
        elif after != 0:
            with pytest.raises(RuleBroken):
                check_position(strict, held, change, Decimal(100), Decimal(1))
