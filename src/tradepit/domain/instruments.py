"""What can be traded: instruments, their venues and contract rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from tradepit.domain.errors import NotFound


class Kind(StrEnum):
    """The kind of instrument."""

    INDEX = "INDEX"
    EQUITY = "EQUITY"
    FUTURE = "FUTURE"
    OPTION = "OPTION"
    CRYPTO = "CRYPTO"
    FOREX = "FOREX"


class Venue(StrEnum):
    """Where an instrument trades; each venue has its own sessions and currency."""

    NSE = "NSE"
    BSE = "BSE"
    NFO = "NFO"
    BFO = "BFO"
    OKX = "OKX"
    FX = "FX"


class Right(StrEnum):
    """Call or put."""

    CE = "CE"
    PE = "PE"


class UnknownSymbol(NotFound):
    """No instrument has this symbol."""

    code = "NOT_FOUND"


@dataclass(frozen=True)
class Instrument:
    """A tradable (or, for indices, quotable) instrument.

    ``lot_size`` is the quantity step (NSE lot, OKX minimum size, MT5 lot step); ``multiplier``
    converts price * quantity into money (MT5 contract size; 1 elsewhere, NSE quantities being
    in units).
    """

    symbol: str
    name: str
    kind: Kind
    venue: Venue
    currency: str
    tick_size: Decimal
    lot_size: Decimal
    multiplier: Decimal = Decimal(1)
    aliases: tuple[str, ...] = ()
    # Derivatives of this underlying, if any.
    strike_step: Decimal | None = None
    expiry_rule: str | None = None
    derivatives_venue: Venue | None = None
    # Simulator parameters.
    price: Decimal = Decimal(100)
    volatility: float = 0.2
    index: str | None = None
    beta: float = 1.0
    #: Share of the notional blocked as margin while short; None: cannot be sold short.
    short_margin: Decimal | None = None
    # Set on derived futures and options.
    underlying: str | None = None
    expiry: date | None = None
    strike: Decimal | None = None
    right: Right | None = None

    @property
    def tradable(self) -> bool:
        """Tell whether orders may be placed (an index is quoted, not traded)."""
        return self.kind is not Kind.INDEX

    def can_short(self, product: str) -> bool:
        """Tell whether ``product`` may go short: intraday (MIS) equities, and forex CFDs."""
        if self.short_margin is None:
            return False
        return self.kind is Kind.FOREX or (self.kind is Kind.EQUITY and product == "MIS")

    @property
    def has_options(self) -> bool:
        """Tell whether options are listed on this instrument."""
        return self.expiry_rule is not None and self.strike_step is not None


MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKLY_MONTH_CODES = "123456789OND"


def derivative_symbol(
    underlying: str,
    expiry: date,
    *,
    monthly: bool,
    strike: Decimal | None = None,
    right: Right | None = None,
) -> str:
    """Return the exchange trading symbol, Kite-style.

    Monthly: ``NIFTY26DEC26000CE`` / ``NIFTY26DECFUT``; weekly: ``NIFTY2612226000CE``
    (year, month code 1-9/O/N/D, day).
    """
    year = f"{expiry.year % 100:02d}"
    if strike is None or right is None:
        return f"{underlying}{year}{MONTHS[expiry.month - 1]}FUT"
    strike_text = format(strike.normalize(), "f")
    if monthly:
        return f"{underlying}{year}{MONTHS[expiry.month - 1]}{strike_text}{right.value}"
    code = _WEEKLY_MONTH_CODES[expiry.month - 1]
    return f"{underlying}{year}{code}{expiry.day:02d}{strike_text}{right.value}"
