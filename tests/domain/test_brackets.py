"""Bracket legs and trailing stops: prices on the tick, on the right side, never loosening."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepit.domain.brackets import (
    STOP_LOSS,
    TAKE_PROFIT,
    InvalidBracket,
    Leg,
    Trail,
    check_leg,
    check_reduce_only,
    leg_price,
    leg_room,
    tighter,
)
from tradepit.domain.orders import Side

ticks = st.sampled_from([Decimal("0.01"), Decimal("0.05"), Decimal("0.10"), Decimal("0.5")])
prices = st.decimals(min_value=Decimal(50), max_value=Decimal(5000), places=2)
points = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(40), places=2)
percents = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(50), places=2)
sides = st.sampled_from([Side.BUY, Side.SELL])


@given(side=sides, entry=prices, distance=points, tick=ticks)
def test_take_profit_is_at_least_the_distance_and_stop_at_most(
    side: Side, entry: Decimal, distance: Decimal, tick: Decimal
) -> None:
    tp = leg_price(TAKE_PROFIT, side, Leg(points=distance), entry, tick)
    sl = leg_price(STOP_LOSS, side, Leg(points=distance), entry, tick)
    assert tp % tick == 0 and sl % tick == 0
    profit, loss = side.sign * (tp - entry), side.sign * (entry - sl)
    assert distance <= profit < distance + tick
    assert distance - tick < loss <= distance


@given(side=sides, entry=prices, percent=percents, tick=ticks)
def test_percent_legs_sit_on_the_profitable_and_losing_sides(
    side: Side, entry: Decimal, percent: Decimal, tick: Decimal
) -> None:
    entry = (entry / tick).to_integral_value() * tick
    tp = leg_price(TAKE_PROFIT, side, Leg(percent=percent), entry, tick)
    check_leg(TAKE_PROFIT, side, tp, entry)
    sl = leg_price(STOP_LOSS, side, Leg(percent=percent), entry, tick)
    if sl != entry:  # a distance under one tick rounds to the entry itself
        check_leg(STOP_LOSS, side, sl, entry)


@given(side=sides, start=prices, moves=st.lists(prices, max_size=40), distance=points, tick=ticks)
def test_a_trailing_stop_only_tightens_and_keeps_its_distance(
    side: Side, start: Decimal, moves: list[Decimal], distance: Decimal, tick: Decimal
) -> None:
    trail = Trail(side, start, points=distance)
    trigger = trail.trigger(tick)
    for ltp in moves:
        trail = trail.seen(ltp)
        new = trail.trigger(tick)
        assert new == trigger or tighter(side, new, trigger)
        trigger = new
        assert trigger % tick == 0
        gap = side.sign * (trail.extreme - trigger)
        assert gap <= distance or trigger == tick  # a long's stop never goes below one tick
    best = max([start, *moves]) if side is Side.BUY else min([start, *moves])
    assert trail.extreme == best


def test_a_leg_needs_exactly_one_positive_distance() -> None:
    with pytest.raises(InvalidBracket):
        Leg()
    with pytest.raises(InvalidBracket):
        Leg(points=Decimal(1), percent=Decimal(1))
    with pytest.raises(InvalidBracket):
        Leg(points=Decimal(0))


def test_a_stop_that_would_fall_to_zero_or_below_is_refused() -> None:
    with pytest.raises(InvalidBracket):
        leg_price(STOP_LOSS, Side.BUY, Leg(points=Decimal(200)), Decimal(100), Decimal("0.05"))


class TestReduceOnly:
    """A leg covers at most the position it protects: it never opens or flips one."""

    @pytest.mark.parametrize(
        ("leg_side", "position", "room"),
        [
            (Side.SELL, Decimal(10), Decimal(10)),
            (Side.SELL, Decimal(0), Decimal(0)),
            (Side.SELL, Decimal(-3), Decimal(0)),  # a sell leg never adds to a short
            (Side.BUY, Decimal(-4), Decimal(4)),
            (Side.BUY, Decimal(2), Decimal(0)),
        ],
    )
    def test_room(self, leg_side: Side, position: Decimal, room: Decimal) -> None:
        assert leg_room(leg_side, position) == room

    def test_above_the_position_is_refused(self) -> None:
        check_reduce_only(TAKE_PROFIT, Side.SELL, Decimal("0.01"), Decimal("0.01"))
        with pytest.raises(InvalidBracket, match=r"take-profit covers at most 0\.01"):
            check_reduce_only(TAKE_PROFIT, Side.SELL, Decimal("0.5"), Decimal("0.01"))

    @given(
        position=st.decimals(min_value=-100, max_value=100, places=2),
        quantity=st.decimals(min_value=Decimal("0.01"), max_value=200, places=2),
        leg_side=st.sampled_from(list(Side)),
    )
    def test_an_accepted_leg_never_crosses_flat(
        self, position: Decimal, quantity: Decimal, leg_side: Side
    ) -> None:
        try:
            check_reduce_only(STOP_LOSS, leg_side, quantity, position)
        except InvalidBracket:
            return
        after = position + leg_side.sign * quantity
        assert after * position >= 0 and abs(after) < abs(position)
