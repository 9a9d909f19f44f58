"""Net positions: signed quantity, cost basis and realized P&L, changed only by applying fills.

A position is kept per (user, symbol, product) and nets: buys and sells of the same instrument
add to one signed quantity (long > 0, short < 0).

Accounting. The position keeps the *cost basis* — the money paid (long) or received (short)
for the quantity still open, ``sum(signed quantity * price * multiplier)`` — rather than an
average price, so adding never rounds. Reducing releases the closed share of the cost basis:
the whole of it on a close or a flip (exact), and on a partial reduce the pro-rata share
``cost * closed / open`` rounded half-even to 10⁻⁸ (``money.SCALE``). The rounding residue stays
in the cost basis and comes out on a later reduce, so nothing is lost: for any sequence of fills
and any mark price,

    realized_gross + unrealized(mark)
        == sum(-side * qty * price * multiplier) + quantity * mark * multiplier

holds exactly, and ``realized_net == realized_gross - charges``. When every fill's
``qty * price * multiplier`` has at most 8 decimals, so do the cost basis and realized P&L.

The average price is derived for display only: ``cost / (quantity * multiplier)`` rounded
half-even to 10 decimals (``AVERAGE_PLACES``); nothing is computed from it.

The multiplier is the instrument's (``Instrument.multiplier``) and must be the same on every
call for one position.

A pair settled in its base currency (``Instrument.settles_in_base``, USDJPY in a USD wallet;
``settles_in_base=True`` on every call for its positions): quantity, cost basis and the average
stay in the price's currency (yen), and each P&L is converted into the base currency at the
pair's own price when it is figured (``money.quote_to_base``, half-even to 10⁻⁸): a closing
fill's realized P&L at the fill price, the unrealized P&L at the mark. So ``realized_gross`` and
the charges are both in the settlement currency, and the identity above holds per fill in the
price's currency before each conversion: a fill's realized P&L is
``quote_to_base(-side * closed * price * multiplier - released, price)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DecimalException,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from enum import StrEnum
from fractions import Fraction

from tradepit.domain.errors import InvalidInput
from tradepit.domain.money import SCALE, InexactAmount, plain, quote_to_base, to_units
from tradepit.domain.orders import Fill, Product, Side

#: Decimal places of the displayed average price.
AVERAGE_PLACES = 10
_ZERO = Decimal(0)
#: Arithmetic on positions is exact: a result that would need rounding raises instead.
#: Inputs have at most 19 significant digits, so products of three fit with room for sums.
_EXACT = Context(prec=80, traps=[InvalidOperation, Overflow, Inexact])
#: The same width with nothing trapped: ``_quotient`` reads the flags instead.
_WIDE = Context(prec=80, rounding=ROUND_HALF_EVEN, traps=[])


class InvalidFill(InvalidInput):
    """The fill (or the multiplier it comes with) cannot be applied to a position."""

    code = "INVALID_FILL"


class InvalidMark(InvalidInput):
    """The mark price (or the multiplier it comes with) cannot value a position."""

    code = "INVALID_MARK"


class InconsistentPosition(InvalidInput):
    """The state given to restore a position contradicts itself."""

    code = "INCONSISTENT_POSITION"


class PositionSide(StrEnum):
    """Which way a position points: the states a position moves between."""

    FLAT = "FLAT"
    LONG = "LONG"
    SHORT = "SHORT"

    @staticmethod
    def of(quantity: Decimal) -> PositionSide:
        """Return the side of a signed quantity."""
        if quantity > 0:
            return PositionSide.LONG
        if quantity < 0:
            return PositionSide.SHORT
        return PositionSide.FLAT


class ChangeKind(StrEnum):
    """What a fill did to a position.

    From FLAT a fill OPENS. On the position's side it INCREASES. Against it, it REDUCES
    (quantity left on the same side), CLOSES (quantity 0) or FLIPS (closes the old side and
    opens the rest on the other side at the fill price, in one fill).
    """

    OPENED = "OPENED"
    INCREASED = "INCREASED"
    REDUCED = "REDUCED"
    CLOSED = "CLOSED"
    FLIPPED = "FLIPPED"


@dataclass(frozen=True)
class PositionChange:
    """What one fill did: the transition, the quantity closed and opened, the P&L realized.

    ``realized`` is the gross P&L realized by this fill (zero unless it closed something);
    ``charges`` are this fill's charges, kept apart so that ``net == realized - charges``.
    """

    kind: ChangeKind
    side: Side
    price: Decimal
    before: Decimal
    after: Decimal
    closed: Decimal
    opened: Decimal
    realized: Decimal
    charges: Decimal

    @property
    def net(self) -> Decimal:
        """Return the P&L of this fill net of its charges."""
        return self.realized - self.charges


class Position:
    """A net position of one user in one symbol and product.

    Change it only with :meth:`apply`. The constructor's keyword arguments restore a stored
    position and are checked for consistency; a new position starts flat.
    """

    __slots__ = ("_charges", "_cost", "_quantity", "_realized", "product", "symbol", "user_id")

    def __init__(
        self,
        user_id: int,
        symbol: str,
        product: Product,
        *,
        quantity: Decimal = _ZERO,
        cost_basis: Decimal = _ZERO,
        realized_gross: Decimal = _ZERO,
        charges: Decimal = _ZERO,
    ) -> None:
        for name, value in (
            ("quantity", quantity),
            ("cost basis", cost_basis),
            ("realized P&L", realized_gross),
            ("charges", charges),
        ):
            if not isinstance(value, Decimal) or not value.is_finite():
                raise InconsistentPosition(f"{name} must be a finite Decimal, got {value!r}")
        if charges < 0:
            raise InconsistentPosition(f"charges must be >= 0, got {plain(charges)}")
        if PositionSide.of(cost_basis) is not PositionSide.of(quantity):
            raise InconsistentPosition(
                f"cost basis {plain(cost_basis)} must have the sign of quantity {plain(quantity)}"
            )
        self.user_id = user_id
        self.symbol = symbol
        self.product = product
        self._quantity = quantity
        self._cost = cost_basis
        self._realized = realized_gross
        self._charges = charges

    def __repr__(self) -> str:
        return (
            f"Position(user_id={self.user_id!r}, symbol={self.symbol!r}, "
            f"product={self.product.value}, quantity={self._quantity}, "
            f"cost_basis={self._cost}, realized_gross={self._realized}, "
            f"charges={self._charges})"
        )

    @property
    def quantity(self) -> Decimal:
        """Return the signed open quantity: long > 0, short < 0, flat 0."""
        return self._quantity

    @property
    def side(self) -> PositionSide:
        """Return whether the position is flat, long or short."""
        return PositionSide.of(self._quantity)

    @property
    def is_flat(self) -> bool:
        """Tell whether nothing is open."""
        return self._quantity == 0

    @property
    def cost_basis(self) -> Decimal:
        """Return the signed money paid (long) or received (short) for the open quantity."""
        return self._cost

    @property
    def realized_gross(self) -> Decimal:
        """Return the P&L realized so far, before charges."""
        return self._realized

    @property
    def charges(self) -> Decimal:
        """Return the charges paid so far on every fill."""
        return self._charges

    @property
    def realized_net(self) -> Decimal:
        """Return the P&L realized so far, after charges."""
        return self._realized - self._charges

    def average_price(self, multiplier: Decimal) -> Decimal:
        """Return the average open price, rounded to ``AVERAGE_PLACES``; 0 when flat.

        For display only: the accounting uses the exact cost basis.
        """
        _check_multiplier(multiplier, InvalidMark)
        if self._quantity == 0:
            return _ZERO
        return _quotient((self._cost,), (self._quantity, multiplier), AVERAGE_PLACES)

    def market_value(self, mark: Decimal, multiplier: Decimal) -> Decimal:
        """Return the signed value of the open quantity at ``mark``."""
        _check_mark(mark, multiplier)
        with _exact():
            return self._quantity * mark * multiplier

    def unrealized(
        self, mark: Decimal, multiplier: Decimal, *, settles_in_base: bool = False
    ) -> Decimal:
        """Return the P&L the open quantity would realize if closed at ``mark``; for a pair
        settled in its base currency, converted at ``mark`` (which must then be positive)."""
        _check_mark(mark, multiplier, positive=settles_in_base)
        with _exact():
            pnl = self._quantity * mark * multiplier - self._cost
        return quote_to_base(pnl, mark) if settles_in_base and pnl else pnl

    def apply(
        self, side: Side, fill: Fill, multiplier: Decimal, *, settles_in_base: bool = False
    ) -> PositionChange:
        """Apply one fill and return what it did; refuse a bad fill and change nothing.

        The fill's quantity and price must be positive and its charges non-negative, each a
        finite Decimal of at most 8 decimals; the multiplier must be positive. With
        ``settles_in_base`` the realized P&L is converted at the fill price.
        """
        _check_fill(fill)
        _check_multiplier(multiplier, InvalidFill)
        before = self._quantity
        with _exact():
            signed = side.sign * fill.quantity
            after = before + signed
            if before == 0 or (before > 0) == (signed > 0):
                kind = ChangeKind.OPENED if before == 0 else ChangeKind.INCREASED
                closed, opened = _ZERO, fill.quantity
                released = realized = _ZERO
            else:
                closed = min(fill.quantity, abs(before))
                opened = fill.quantity - closed
                # A close or a flip releases the whole cost basis; a partial reduce its share.
                released = (
                    self._cost if closed == abs(before) else _pro_rata(self._cost, closed, before)
                )
                # Closing a long sells (cash in), closing a short buys (cash out).
                realized = -side.sign * closed * fill.price * multiplier - released
                if settles_in_base:
                    realized = quote_to_base(realized, fill.price)
                kind = _reducing_kind(after, opened)
            cost = self._cost - released + side.sign * opened * fill.price * multiplier
            total_realized = self._realized + realized
            total_charges = self._charges + fill.charges
        # Everything is computed: commit the new state at once.
        self._quantity = after
        self._cost = cost
        self._realized = total_realized
        self._charges = total_charges
        return PositionChange(
            kind=kind,
            side=side,
            price=fill.price,
            before=before,
            after=after,
            closed=closed,
            opened=opened,
            realized=realized,
            charges=fill.charges,
        )

    def settle(
        self, price: Decimal, multiplier: Decimal, *, settles_in_base: bool = False
    ) -> PositionChange:
        """Close the whole position at ``price`` with no charges: a derivative's expiry.

        Unlike a fill, the price may be 0 (an option that expires worthless), except for a
        pair settled in its base currency, whose P&L is converted at ``price``. A flat position
        cannot be settled.
        """
        if self._quantity == 0:
            raise InvalidFill(f"{self.symbol} ({self.product.value}) is flat: nothing to settle")
        _check_mark(price, multiplier, positive=settles_in_base)
        before = self._quantity
        side = Side.SELL if before > 0 else Side.BUY
        with _exact():
            closed = abs(before)
            realized = -side.sign * closed * price * multiplier - self._cost
            if settles_in_base:
                realized = quote_to_base(realized, price)
            total_realized = self._realized + realized
        self._quantity = _ZERO
        self._cost = _ZERO
        self._realized = total_realized
        return PositionChange(
            kind=ChangeKind.CLOSED,
            side=side,
            price=price,
            before=before,
            after=_ZERO,
            closed=closed,
            opened=_ZERO,
            realized=realized,
            charges=_ZERO,
        )


@contextmanager
def _exact() -> Iterator[None]:
    """Compute exactly; a result that would need rounding is refused as ``InexactAmount``."""
    try:
        with localcontext(_EXACT):
            yield
    except DecimalException as exc:
        raise InexactAmount(f"position arithmetic would round: {exc!r}") from exc


def _reducing_kind(after: Decimal, opened: Decimal) -> ChangeKind:
    """Return what a fill against the position did, from what is left and what it opened."""
    if after == 0:
        return ChangeKind.CLOSED
    if opened:
        return ChangeKind.FLIPPED
    return ChangeKind.REDUCED


def _rounded(value: Fraction, places: int) -> Decimal:
    """Return ``value`` rounded half-even to ``places`` decimals, with a single rounding."""
    return Decimal(round(value * 10**places)).scaleb(-places, context=_WIDE)


def _quotient(
    numerator: tuple[Decimal, ...], denominator: tuple[Decimal, ...], places: int
) -> Decimal:
    """Return the product of ``numerator`` over that of ``denominator``, rounded half-even to
    ``places`` decimals with a single rounding, as ``_rounded`` of the exact fraction.

    In decimal arithmetic 80 digits wide: the products are exact, or this falls back to
    fractions. The quotient rounded to 80 digits then rounds to ``places`` as the exact one
    does, unless it lands on a tie itself (no tie can lie between the two: it would be a
    closer 80-digit number), which is also done with fractions. Fractions cost ~10 times
    more, and a positions read computes one average per position."""
    with localcontext(_WIDE) as context:
        top, bottom = numerator[0], denominator[0]
        for factor in numerator[1:]:
            top *= factor
        for factor in denominator[1:]:
            bottom *= factor
        products_exact = not context.flags[Inexact]
        quotient = top / bottom
        on_a_tie = context.flags[Inexact] and quotient == quotient.quantize(
            Decimal(1).scaleb(-places - 1)
        )
        rounded = quotient.quantize(Decimal(1).scaleb(-places))
        if products_exact and not on_a_tie and not context.flags[InvalidOperation]:
            return rounded
    exact = Fraction(1)
    for factor in numerator:
        exact *= Fraction(factor)
    for factor in denominator:
        exact /= Fraction(factor)
    return _rounded(exact, places)


def _pro_rata(cost: Decimal, closed: Decimal, quantity: Decimal) -> Decimal:
    """Return the share of ``cost`` that ``closed`` of ``quantity`` carries, to 10⁻⁸."""
    return _quotient((cost, closed), (abs(quantity),), SCALE)


def _is_decimal(value: object) -> bool:
    return isinstance(value, Decimal) and value.is_finite()


def _check_fill(fill: Fill) -> None:
    """Refuse a fill whose quantity or price is not positive, or whose charges are negative."""
    for name, value in (("quantity", fill.quantity), ("price", fill.price)):
        if not _is_decimal(value):
            raise InvalidFill(f"fill {name} must be a finite Decimal, got {value!r}")
        if value <= 0:
            raise InvalidFill(f"fill {name} must be > 0, got {plain(value)}")
    if not _is_decimal(fill.charges):
        raise InvalidFill(f"fill charges must be a finite Decimal, got {fill.charges!r}")
    if fill.charges < 0:
        raise InvalidFill(f"fill charges must be >= 0, got {plain(fill.charges)}")
    for value in (fill.quantity, fill.price, fill.charges):
        to_units(value)


def _check_multiplier(multiplier: Decimal, error: type[InvalidInput]) -> None:
    """Refuse a multiplier that is not a positive finite Decimal of at most 8 decimals."""
    if not _is_decimal(multiplier):
        raise error(f"multiplier must be a finite Decimal, got {multiplier!r}")
    if multiplier <= 0:
        raise error(f"multiplier must be > 0, got {multiplier}")
    to_units(multiplier)


def _check_mark(mark: Decimal, multiplier: Decimal, *, positive: bool = False) -> None:
    """Refuse a mark price that is negative (or 0, when it must be ``positive``: a
    conversion rate) or not a finite Decimal, and a bad multiplier."""
    if not _is_decimal(mark):
        raise InvalidMark(f"mark price must be a finite Decimal, got {mark!r}")
    if mark < 0 or (positive and mark == 0):
        raise InvalidMark(f"mark price must be {'> 0' if positive else '>= 0'}, got {mark}")
    to_units(mark)
    _check_multiplier(multiplier, InvalidMark)
