"""Bracket legs: the take-profit and stop-loss orders that protect a position once its entry
order fills, and the trailing stop that follows the market.

A leg is given as an absolute ``price``, or as a distance from the entry's fill price in
``points`` or ``percent``. Legs sell after a buy entry and buy after a sell entry. A take-profit
is a LIMIT on the profitable side of the entry; a stop-loss is a STOP_LOSS_MARKET on the losing
side. A trailing stop keeps the best price seen since the entry (the highest for a long, the
lowest for a short) and its trigger that distance behind it, moving only in the position's
favour.

Distances become prices on the instrument's tick: a take-profit rounds away from the entry
(at least the profit asked), a stop toward it (at most the loss asked). Everything is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from tradepit.domain.errors import InvalidInput
from tradepit.domain.money import plain
from tradepit.domain.orders import Side

TAKE_PROFIT = "take_profit"
STOP_LOSS = "stop_loss"
HUNDRED = Decimal(100)


class InvalidBracket(InvalidInput):
    """A bracket leg is on the wrong side of the entry, or not on the tick."""

    code = "INVALID_BRACKET"


@dataclass(frozen=True)
class Leg:
    """One leg as asked: exactly one of an absolute price, points or percent from the entry."""

    price: Decimal | None = None
    points: Decimal | None = None
    percent: Decimal | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.price, self.points, self.percent) if v is not None]
        if len(given) != 1 or given[0] <= 0:
            raise InvalidBracket(
                "a bracket leg needs exactly one positive price, points or percent"
            )

    def distance(self, entry: Decimal) -> Decimal:
        """Return the leg's distance from ``entry`` (points, or percent of the entry)."""
        if self.points is not None:
            return self.points
        assert self.percent is not None
        return entry * self.percent / HUNDRED


def _on_tick(value: Decimal, tick: Decimal, rounding: str) -> Decimal:
    return (value / tick).to_integral_value(rounding=rounding) * tick


def leg_price(kind: str, entry_side: Side, leg: Leg, entry: Decimal, tick: Decimal) -> Decimal:
    """Return the price of a take-profit (``kind=TAKE_PROFIT``) or the trigger of a stop-loss
    protecting a position opened by ``entry_side`` at ``entry``."""
    if leg.price is not None:
        return leg.price
    # A take-profit lies above a long's entry and below a short's; a stop the other way.
    direction = entry_side.sign if kind == TAKE_PROFIT else -entry_side.sign
    raw = entry + direction * leg.distance(entry)
    rounding = ROUND_CEILING if direction > 0 else ROUND_FLOOR
    if kind == STOP_LOSS:  # toward the entry: the stop is never further than asked
        rounding = ROUND_FLOOR if direction > 0 else ROUND_CEILING
    price = _on_tick(raw, tick, rounding)
    if price <= 0:
        raise InvalidBracket(
            f"the {kind.replace('_', '-')} would be at {plain(price)}, not above zero"
        )
    return price


def leg_room(leg_side: Side, position: Decimal) -> Decimal:
    """Return how much a leg of ``leg_side`` may still fill against the net ``position`` it
    protects: a sell leg at most the long, a buy leg at most the short (0 when flat, or when
    the position is on the leg's own side)."""
    return max(-leg_side.sign * position, Decimal(0))


def check_reduce_only(kind: str, leg_side: Side, quantity: Decimal, position: Decimal) -> None:
    """Refuse a leg that would fill ``quantity`` against ``position`` for more than the position
    holds: a leg only reduces the position, it never opens (or flips to) one of its own."""
    room = leg_room(leg_side, position)
    if quantity > room:
        raise InvalidBracket(
            f"the {kind.replace('_', '-')} covers at most {plain(room)}, the position it "
            f"protects; {plain(quantity)} would open a position of its own"
        )


def check_leg(kind: str, entry_side: Side, price: Decimal, reference: Decimal) -> None:
    """Refuse a leg on the wrong side of the entry's reference price (its limit or the quote)."""
    above = (kind == TAKE_PROFIT) == (entry_side is Side.BUY)
    name = kind.replace("_", "-")
    if above and price <= reference:
        raise InvalidBracket(
            f"the {name} at {plain(price)} must be above the entry price {plain(reference)}"
        )
    if not above and price >= reference:
        raise InvalidBracket(
            f"the {name} at {plain(price)} must be below the entry price {plain(reference)}"
        )


@dataclass(frozen=True)
class Trail:
    """A trailing stop protecting a position opened by ``entry_side``: ``points`` or
    ``percent`` behind ``extreme``, the best price seen so far."""

    entry_side: Side
    extreme: Decimal
    points: Decimal | None = None
    percent: Decimal | None = None

    def trigger(self, tick: Decimal) -> Decimal:
        """Return the stop's trigger, on the tick, never further from the extreme than asked."""
        distance = Leg(points=self.points, percent=self.percent).distance(self.extreme)
        if self.entry_side is Side.BUY:
            return max(_on_tick(self.extreme - distance, tick, ROUND_CEILING), tick)
        return _on_tick(self.extreme + distance, tick, ROUND_FLOOR)

    def seen(self, ltp: Decimal) -> Trail:
        """Return the trail after a trade at ``ltp`` (the extreme only moves in favour)."""
        better = ltp > self.extreme if self.entry_side is Side.BUY else ltp < self.extreme
        if not better:
            return self
        return Trail(self.entry_side, ltp, self.points, self.percent)


def tighter(entry_side: Side, new: Decimal, old: Decimal) -> bool:
    """Tell whether the stop trigger ``new`` protects more than ``old`` (a long's stop rises,
    a short's falls)."""
    return new > old if entry_side is Side.BUY else new < old
