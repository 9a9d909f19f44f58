"""What can be traded: instruments, their venues and contract rules."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from tradepit.domain.errors import NotFound
from tradepit.domain.money import plain, quote_to_base


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
    """A tradable instrument.

    ``lot_size`` is the quantity step (NSE lot, OKX minimum size, MT5 lot step); ``multiplier``
    converts price * quantity into money (MT5 contract size; 1 elsewhere, NSE quantities being
    in units). An index has no order book on any exchange: paper trading trades it as a
    cash-settled contract on its level (``is_index_contract``), never routed to a broker.

    ``currency`` is what the instrument settles in (its wallet). It is also the currency of
    its price, except for a currency pair whose base is ``currency`` and whose quote currency
    (``quote_currency``) has no wallet: USDJPY settles in USD, its price is in JPY. Such a pair
    is carried on margin whatever the side or product, and every amount of price x quantity x
    multiplier (P&L, margin, notional) is converted into ``currency`` at the pair's own price
    (``in_settlement``), as FX brokers settle a USD-base pair in a USD account.
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
    #: The catalogue's margin rate for the kind (its ``[margin]`` table): the share of the
    #: notional blocked while short, on an intraday (MIS) long, or on a future either way; for an
    #: option sold, the share of the strike notional blocked on top of the premium. None: the
    #: kind cannot be sold short or bought on margin.
    short_margin: Decimal | None = None
    #: Kite's instrument_token, where the catalogue records it (``instrument_token``).
    kite_token: int | None = None
    #: The currency of the price when it is not ``currency``: a pair whose base currency is
    #: ``currency`` (``settles_in_base``). None: the price is in ``currency``.
    quote_currency: str | None = None
    # Set on derived futures and options.
    underlying: str | None = None
    expiry: date | None = None
    strike: Decimal | None = None
    right: Right | None = None

    @property
    def settles_in_base(self) -> bool:
        """Tell whether the price is in another currency than the settlement currency, the
        pair's base: amounts of price x quantity x multiplier are then converted at the price
        (``in_settlement``)."""
        return self.quote_currency is not None and self.quote_currency != self.currency

    @property
    def price_decimals(self) -> int:
        """Return how many decimals a price on the tick needs (2 for 0.05, 10 for 1E-10)."""
        return len(format(self.tick_size.normalize(), "f").partition(".")[2])

    @property
    def price_currency(self) -> str:
        """Return the currency the price is quoted in."""
        return self.quote_currency or self.currency

    def in_settlement(self, amount: Decimal, price: Decimal) -> Decimal:
        """Return ``amount`` (price x quantity x multiplier, in the price's currency) in the
        settlement currency, at ``price``: itself, or for a pair settled in its base
        (``settles_in_base``) ``amount / price`` rounded half-even to 10⁻⁸
        (``money.quote_to_base``)."""
        return quote_to_base(amount, price) if self.settles_in_base else amount

    @property
    def tradable(self) -> bool:
        """Tell whether paper orders may be placed: everything but an index whose kind the
        catalogue gives no margin rate (an index trades as a margined contract or not at all)."""
        return self.kind is not Kind.INDEX or self.short_margin is not None

    @property
    def is_index_contract(self) -> bool:
        """Tell whether this is an index traded as paper trading's cash-settled contract on
        the index level: margined both ways, MIS or NRML, no order book behind it."""
        return self.kind is Kind.INDEX and self.short_margin is not None

    @property
    def exchange_listed(self) -> bool:
        """Tell whether an exchange lists this instrument, so a live broker can route an order
        in it: everything but an index (its contract exists in paper trading only)."""
        return self.kind is not Kind.INDEX

    def can_short(self, product: str) -> bool:
        """Tell whether ``product`` may go short: intraday (MIS) equities, forex CFDs, and
        futures, options and index contracts (MIS or NRML)."""
        if self.short_margin is None:
            return False
        if self.is_derivative or self.kind is Kind.INDEX:
            return product in ("MIS", "NRML")
        return self.kind is Kind.FOREX or (self.kind is Kind.EQUITY and product == "MIS")

    @property
    def is_derivative(self) -> bool:
        """Tell whether this is a future or an option (derived from an underlying)."""
        return self.kind in (Kind.FUTURE, Kind.OPTION)

    def margined(self, product: str, long: bool) -> bool:
        """Tell whether a position of this side is carried on margin: only the margin is
        blocked and its P&L settles in cash, no notional changes hands. Futures, index
        contracts and pairs settled in their base currency (``settles_in_base``: there is no
        wallet of the price's currency to pay a notional from) always are; an intraday (MIS)
        long of a kind with a margin rate is (the intraday leverage)."""
        if self.kind is Kind.FUTURE or self.is_index_contract or self.settles_in_base:
            return True
        return (
            long
            and product == "MIS"
            and self.short_margin is not None
            and self.kind in (Kind.EQUITY, Kind.FOREX)
        )

    @property
    def has_options(self) -> bool:
        """Tell whether options are listed on this instrument."""
        return self.expiry_rule is not None and self.strike_step is not None


#: Derived instrument tokens start here: above every Kite token (they are 32-bit), below
#: 2**53 (a JavaScript number holds them exactly).
_DERIVED_TOKENS = 1 << 32


def instrument_token(symbol: str, kite_token: int | None = None) -> int:
    """Return the number paper-tournaments' frontend keys an instrument by (Kite's
    ``instrument_token``): Kite's own where the catalogue records it, else one derived from the
    symbol (CRC-32 above ``2**32``): the same for a symbol on every server and every day."""
    if kite_token is not None:
        return kite_token
    return _DERIVED_TOKENS + zlib.crc32(symbol.upper().encode())


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
    strike_text = plain(strike)
    if monthly:
        return f"{underlying}{year}{MONTHS[expiry.month - 1]}{strike_text}{right.value}"
    code = _WEEKLY_MONTH_CODES[expiry.month - 1]
    return f"{underlying}{year}{code}{expiry.day:02d}{strike_text}{right.value}"


@dataclass(frozen=True)
class DerivativeSymbol:
    """What a trading symbol of a future or option says: ``derivative_symbol`` read back.

    Monthly contracts name only the year and month (the day follows from the expiry rule);
    weekly options name the day.
    """

    underlying: str
    year: int
    month: int
    day: int | None
    strike: Decimal | None
    right: Right | None

    @property
    def is_future(self) -> bool:
        """Tell whether the symbol names a future."""
        return self.right is None


_MONTHLY = "|".join(MONTHS)
_DERIVATIVE = re.compile(
    rf"^(?P<u>[A-Z&-]+?)(?P<yy>\d{{2}})(?:"
    rf"(?P<mon>{_MONTHLY})(?:(?P<fut>FUT)|(?P<mk>\d+(?:\.\d+)?)(?P<mr>CE|PE))"
    rf"|(?P<wm>[1-9OND])(?P<wd>\d{{2}})(?P<wk>\d+(?:\.\d+)?)(?P<wr>CE|PE))$"
)


def parse_derivative_symbol(symbol: str) -> DerivativeSymbol | None:
    """Return what a Kite-style future or option symbol says, or None if it is not one.

    ``NIFTY26DECFUT``, ``NIFTY26DEC26000CE``, weekly ``NIFTY2612226000CE``.
    """
    found = _DERIVATIVE.match(symbol.strip().upper())
    if found is None:
        return None
    year = 2000 + int(found["yy"])
    if found["mon"] is not None:
        month = MONTHS.index(found["mon"]) + 1
        if found["fut"] is not None:
            return DerivativeSymbol(found["u"], year, month, None, None, None)
        return DerivativeSymbol(
            found["u"], year, month, None, Decimal(found["mk"]), Right(found["mr"])
        )
    month = _WEEKLY_MONTH_CODES.index(found["wm"]) + 1
    return DerivativeSymbol(
        found["u"], year, month, int(found["wd"]), Decimal(found["wk"]), Right(found["wr"])
    )


def intrinsic_value(right: Right, strike: Decimal, underlying: Decimal) -> Decimal:
    """Return what an option is worth at expiry: ``max(S - K, 0)`` for a call, ``max(K - S,
    0)`` for a put."""
    value = underlying - strike if right is Right.CE else strike - underlying
    return max(value, Decimal(0))
