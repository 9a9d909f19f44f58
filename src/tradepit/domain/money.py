"""Exact amounts: ``Decimal`` everywhere, stored as integers of a fixed number of decimals."""

from __future__ import annotations

from decimal import Context, Decimal, DecimalException, Inexact, InvalidOperation, Overflow

from tradepit.domain.errors import InvalidInput

#: Decimal places kept for every amount, price and quantity.
SCALE = 8
#: The largest integer a 64-bit signed column holds.
MAX_UNITS = 2**63 - 1
#: The largest magnitude an amount may have: 92,233,720,368.54775807.
MAX_AMOUNT = Decimal(MAX_UNITS).scaleb(-SCALE)
#: Scaling in this context never rounds silently: a lost digit raises ``Inexact``.
_EXACT = Context(prec=28, traps=[InvalidOperation, Overflow, Inexact])


class InexactAmount(InvalidInput):
    """The amount cannot be represented exactly (too many decimals, too large, not finite)."""

    code = "INEXACT_AMOUNT"


def to_units(value: Decimal, scale: int = SCALE) -> int:
    """Return ``value`` as an integer count of ``10**-scale``; refuse anything inexact."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InexactAmount(f"amount must be a finite decimal, got {value!r}")
    if value and value.adjusted() + scale >= len(str(MAX_UNITS)):
        # Refuse before int(): a huge exponent would make a huge integer.
        raise InexactAmount(f"amount {value} is outside ±{Decimal(MAX_UNITS).scaleb(-scale)}")
    try:
        scaled = value.scaleb(scale, context=_EXACT)
    except DecimalException as exc:
        raise InexactAmount(f"amount {plain(value)} has more than {scale} decimal places") from exc
    units = int(scaled)
    if scaled != units:
        raise InexactAmount(f"amount {plain(value)} has more than {scale} decimal places")
    if abs(units) > MAX_UNITS:
        bound = Decimal(MAX_UNITS).scaleb(-scale)
        raise InexactAmount(f"amount {plain(value)} is outside ±{bound}")
    return units


def from_units(units: int, scale: int = SCALE) -> Decimal:
    """Return the exact ``Decimal`` for an integer count of ``10**-scale``."""
    return Decimal(units).scaleb(-scale)


def plain(value: Decimal) -> str:
    """Return ``value`` in plain notation without trailing zeros (``65``, ``0.05``, ``0``)."""
    return format(value.normalize(), "f") if value.is_finite() else str(value)


def as_float(value: Decimal) -> float:
    """Return ``value`` as a float for a JSON field the seeds document as a number.

    Only for display on the wire; nothing computed from the result may move money.
    """
    return float(value)
