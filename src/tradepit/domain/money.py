"""Exact amounts: ``Decimal`` everywhere, stored as integers of a fixed number of decimals."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from tradepit.domain.errors import InvalidInput

#: Decimal places kept for every amount, price and quantity.
SCALE = 8
#: The largest integer a 64-bit signed column holds.
MAX_UNITS = 2**63 - 1
#: The largest magnitude an amount may have: 92,233,720,368.54775807.
MAX_AMOUNT = Decimal(MAX_UNITS).scaleb(-SCALE)


class InexactAmount(InvalidInput):
    """The amount cannot be represented exactly (too many decimals, too large, not finite)."""

    code = "INEXACT_AMOUNT"


def to_units(value: Decimal, scale: int = SCALE) -> int:
    """Return ``value`` as an integer count of ``10**-scale``; refuse anything inexact."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InexactAmount(f"amount must be a finite decimal, got {value!r}")
    try:
        scaled = value.scaleb(scale)
        units = int(scaled)
    except (InvalidOperation, OverflowError) as exc:  # pragma: no cover - guarded above
        raise InexactAmount(f"amount {value} cannot be represented") from exc
    if scaled != units:
        raise InexactAmount(f"amount {value} has more than {scale} decimal places")
    if abs(units) > MAX_UNITS:
        raise InexactAmount(f"amount {value} is outside ±{Decimal(MAX_UNITS).scaleb(-scale)}")
    return units


def from_units(units: int, scale: int = SCALE) -> Decimal:
    """Return the exact ``Decimal`` for an integer count of ``10**-scale``."""
    return Decimal(units).scaleb(-scale)


def as_float(value: Decimal) -> float:
    """Return ``value`` as a float for a JSON field the seeds document as a number.

    Only for display on the wire; nothing computed from the result may move money.
    """
    return float(value)
