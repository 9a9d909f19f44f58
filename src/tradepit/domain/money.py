"""Exact amounts: ``Decimal`` everywhere, stored as integers of a fixed number of decimals.

Amounts, prices and quantities sent as text are read by ``parse_plain`` only: plain decimal
notation, nothing that ``Decimal()`` merely tolerates (``"1_000"``, full-width or other
scripts' digits, ``"+1"``, ``" 1"``, ``"1."``, ``".5"``, ``"1e3"``, ``"NaN"``).
"""

from __future__ import annotations

import re
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DecimalException,
    Inexact,
    InvalidOperation,
    Overflow,
)
from fractions import Fraction

from tradepit.domain.errors import InvalidInput

#: Decimal places kept for every amount, price and quantity.
SCALE = 8
#: The largest integer a 64-bit signed column holds.
MAX_UNITS = 2**63 - 1
#: The largest magnitude an amount may have: 92,233,720,368.54775807.
MAX_AMOUNT = Decimal(MAX_UNITS).scaleb(-SCALE)
#: Scaling in this context never rounds silently: a lost digit raises ``Inexact``.
_EXACT = Context(prec=28, traps=[InvalidOperation, Overflow, Inexact])


#: The one rule for an amount, price or quantity written as text, as a regular expression
#: (ASCII digits only; the same in Python and in the OpenAPI schema).
PLAIN_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
#: The rule in words, for error messages and the documentation.
PLAIN_NOTATION = (
    "a plain decimal number such as 12.5 or -3 "
    "(digits, one optional leading '-', one optional '.' followed by digits)"
)
_PLAIN = re.compile(PLAIN_PATTERN)


class NotPlainDecimal(InvalidInput):
    """Text that is not an amount in plain decimal notation."""

    code = "NOT_PLAIN_DECIMAL"


def parse_plain(text: str) -> Decimal:
    """Return the exact ``Decimal`` that ``text`` writes in plain decimal notation.

    ``text`` is ASCII digits with one optional leading ``-`` and one optional ``.`` followed
    by digits: ``"12.5"``, ``"-3"``, ``"0.00000001"``, ``"007"``. Anything else is refused,
    however ``Decimal()`` would read it: separators, other scripts' digits, a ``+``, spaces,
    a bare or leading ``.``, an exponent, ``NaN``/``Infinity``. Nothing is rounded; ``-0``
    is 0. Whether the sign or the number of decimals is allowed is the caller's rule.
    """
    if _PLAIN.fullmatch(text) is None:
        raise NotPlainDecimal(f"must be {PLAIN_NOTATION}")
    value = Decimal(text)
    return value if value else value.copy_abs()


def plain_text(value: Decimal) -> str:
    """Return ``value`` in plain notation with its decimals as they are (``10.50``,
    ``0.0000001``, ``100`` for ``1E+2``): text ``parse_plain`` reads back to an equal value.

    Unlike ``str()``, never an exponent; unlike ``plain``, trailing zeros are kept, so the
    text is ``str(value)`` whenever that has no exponent."""
    return format(value, "f")


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
        raise InexactAmount(f"amount {_shown(value)} has more than {scale} decimal places") from exc
    units = int(scaled)
    if scaled != units:
        raise InexactAmount(f"amount {_shown(value)} has more than {scale} decimal places")
    if abs(units) > MAX_UNITS:
        bound = Decimal(MAX_UNITS).scaleb(-scale)
        raise InexactAmount(f"amount {_shown(value)} is outside ±{bound}")
    return units


def _shown(value: Decimal) -> str:
    """Return ``value`` for a message: in plain notation, or with its exponent when plain
    notation would run to more than 40 zeros (``1E-1000040``: ``plain`` cannot even
    normalise it)."""
    return plain(value) if -40 < value.adjusted() < 40 else str(value)


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


class InvalidRate(InvalidInput):
    """An exchange rate that cannot convert an amount (not a positive finite Decimal)."""

    code = "INVALID_RATE"


#: The roundings ``quote_to_base`` knows: half-even (money moved), or towards +/- infinity.
_ROUNDINGS = (ROUND_HALF_EVEN, ROUND_CEILING, ROUND_FLOOR)


def quote_to_base(amount: Decimal, rate: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Return ``amount`` of a currency pair's quote currency in its base currency, at ``rate``
    (the pair's price: quote currency per unit of base): ``amount / rate``, rounded once to
    10⁻⁸ (``SCALE``), half-even unless ``rounding`` says ``ROUND_CEILING`` or ``ROUND_FLOOR``.

    The one conversion of the engine: a pair quoted in a currency that has no wallet (USDJPY,
    quoted in yen) settles in its base (dollars), as FX brokers settle it; its P&L, margin and
    notional in yen become dollars at the pair's own price (a fill's, or the mark's). The
    quotient is computed exactly (``Fraction``) and rounded a single time.
    """
    if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
        raise InvalidRate(f"a conversion rate must be a positive finite Decimal, got {rate!r}")
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InexactAmount(f"amount must be a finite decimal, got {amount!r}")
    if rounding not in _ROUNDINGS:
        raise ValueError(f"rounding {rounding} is not one of {_ROUNDINGS}")
    scaled = Fraction(amount) / Fraction(rate) * 10**SCALE
    if rounding == ROUND_HALF_EVEN:
        units = round(scaled)
    elif rounding == ROUND_CEILING:
        units = -((-scaled.numerator) // scaled.denominator)
    else:
        units = scaled.numerator // scaled.denominator
    return from_units(units)
