"""The market as the rest of the server sees it: quotes, candles, sessions, expiries, chains."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from tradepit.domain.clock import Clock
from tradepit.domain.errors import InvalidInput, NotFound
from tradepit.domain.instruments import Instrument, Kind, Right, Venue
from tradepit.domain.market import Candle, Tick
from tradepit.domain.sessions import (
    Expiry,
    SessionStatus,
    TradingCalendar,
    expiries,
    session_status,
    venue_zone,
)
from tradepit.market import derivatives
from tradepit.market.catalogue import Catalogue
from tradepit.market.chains import (
    EXPIRY_TIME,
    Chain,
    SessionRange,
    build_chain,
    overlay_quotes,
    realised_atm_vol,
    session_progress,
    session_ranges,
    years_to_expiry,
)
from tradepit.market.simulator import TradingMinutes, default_trading_minutes

#: How many expiries of an underlying are listed.
LISTED_EXPIRIES = 8
#: Days of daily bars behind the implied-volatility history.
IV_HISTORY_DAYS = 400
#: Resolved futures and options kept, by symbol.
DERIVATIVES_CACHED = 4096


class UnknownExpiry(NotFound):
    """The underlying has no contract expiring on that date."""

    code = "NOT_FOUND"


class ContractNotListed(InvalidInput):
    """The future or option is not listed now (expired, or beyond the listed expiries)."""

    code = "CONTRACT_NOT_LISTED"


class NoOptions(InvalidInput):
    """The instrument has no listed options."""

    code = "NO_OPTIONS"


class NoHistory(NotFound):
    """The instrument has no candles of its own (a future or option)."""

    code = "NO_HISTORY"


@dataclass(frozen=True)
class Quote:
    """The last tick with the session's OHLC and the change from the previous close."""

    tick: Tick
    open: Decimal
    high: Decimal
    low: Decimal
    previous_close: Decimal
    session: date

    @property
    def change(self) -> Decimal:
        """Return the change from the previous close."""
        return self.tick.ltp - self.previous_close

    @property
    def change_percent(self) -> Decimal:
        """Return the change in percent of the previous close, to 2 decimals."""
        if self.previous_close == 0:
            return Decimal(0)
        return (self.change * 100 / self.previous_close).quantize(Decimal("0.01"))


class PriceSource(Protocol):
    """Where prices come from: the simulator, or the quote book a feed fills."""

    def tick_at(self, symbol: str, t: datetime) -> Tick:
        """Return the quote of ``symbol`` at ``t``."""
        ...

    def price_at(self, symbol: str, t: datetime) -> Decimal:
        """Return the last price of ``symbol`` at ``t``."""
        ...

    def candles(self, symbol: str, interval: str, start: datetime, end: datetime) -> list[Candle]:
        """Return the bars of ``interval`` starting in [start, end)."""
        ...


@runtime_checkable
class OptionQuotes(Protocol):
    """A price source that also quotes options (the quote book of a live feed)."""

    def option_tick(self, symbol: str) -> Tick | None:
        """Return the latest tick of the option ``symbol`` (a Kite trading symbol), if any."""
        ...


class MarketData:
    """Everything market-facing, on one clock, from one price source.

    When the source quotes options (``OptionQuotes``), chains carry the live quotes of the
    options it has ticks for (``chains.overlay_quotes``); the simulator's chains are the model's.
    """

    def __init__(
        self,
        catalogue: Catalogue,
        calendar: TradingCalendar,
        source: PriceSource,
        clock: Clock,
        *,
        seed: int,
        always_open: bool = False,
    ) -> None:
        self.catalogue = catalogue
        self.calendar = calendar
        self.source = source
        self.clock = clock
        self.seed = seed
        self.always_open = always_open
        self._chains: OrderedDict[tuple[str, date, int, Decimal], Chain] = OrderedDict()
        self._iv: dict[tuple[str, date], NDArray[np.float64]] = {}
        self._derivatives: dict[str, Instrument] = {}

    def instrument(self, symbol: str) -> Instrument:
        """Return the instrument named ``symbol`` (404 if unknown): one of the catalogue, or a
        future or option of one of its underlyings (``derivatives.resolve``)."""
        if symbol in self.catalogue:
            return self.catalogue.get(symbol)
        key = symbol.strip().upper()
        found = self._derivatives.get(key)
        if found is None:
            found = derivatives.resolve(self.catalogue, self.calendar, key)
            if found is None:
                return self.catalogue.get(symbol)  # raises UnknownSymbol
            if len(self._derivatives) >= DERIVATIVES_CACHED:
                self._derivatives.clear()  # any strike on the grid resolves: keep it bounded
            self._derivatives[key] = found
        return found

    def check_listed(self, instrument: Instrument, product: str) -> None:
        """Refuse a future or option that is not listed now (expired, or too far out), or
        ordered as delivery (CNC): they trade as MIS (intraday) or NRML (carry forward)."""
        if instrument.underlying is None:
            return
        assert instrument.expiry is not None
        if product not in ("MIS", "NRML"):
            raise ContractNotListed(
                f"{instrument.symbol} trades as MIS (intraday) or NRML (carry forward), "
                f"not {product}"
            )
        if self.clock.now() >= derivatives.expiry_close(instrument):
            raise ContractNotListed(f"{instrument.symbol} expired on {instrument.expiry}")
        underlying = self.catalogue.get(instrument.underlying)
        if instrument.kind is Kind.FUTURE:
            assert underlying.derivatives_venue is not None
            local = self.clock.now().astimezone(venue_zone(underlying.derivatives_venue))
            listed = derivatives.listed_futures(underlying, self.calendar, local.date())
        else:
            listed = [e.date for e in self.expiries(underlying.symbol)]
        if instrument.expiry not in listed:
            raise ContractNotListed(
                f"{instrument.symbol} is not listed yet: listed expiries are "
                + ", ".join(str(d) for d in listed)
            )

    def final_price(self, instrument: Instrument) -> Decimal:
        """Return the underlying's price at a derivative's expiry close (its final price)."""
        assert instrument.underlying is not None
        at = derivatives.expiry_close(instrument)
        return self.source.price_at(instrument.underlying, at)

    def status(self, venue: Venue) -> SessionStatus:
        """Return the venue's session status now."""
        return session_status(venue, self.clock.now(), self.calendar, always_open=self.always_open)

    def statuses(self) -> list[SessionStatus]:
        """Return every venue's status."""
        return [self.status(venue) for venue in Venue]

    def tick(self, symbol: str) -> Tick:
        """Return the latest tick of ``symbol``; a derivative's is priced from its underlying
        (``derivatives.quote``)."""
        instrument = self.instrument(symbol)
        now = self.clock.now()
        if instrument.underlying is None:
            return self.source.tick_at(instrument.symbol, now)
        assert instrument.expiry is not None
        underlying = self.catalogue.get(instrument.underlying)
        spot = self.source.tick_at(underlying.symbol, now)
        chain = None
        if instrument.kind is Kind.OPTION and instrument.expiry in {
            e.date for e in self.expiries(underlying.symbol)
        }:
            chain = self.chain(underlying.symbol, instrument.expiry)
        atm_vol = float(self.atm_iv_history(underlying.symbol)[-1])
        return derivatives.quote(instrument, underlying, spot, now, chain=chain, atm_vol=atm_vol)

    def quote(self, symbol: str) -> Quote:
        """Return the latest tick with the session OHLC and previous close."""
        instrument = self.instrument(symbol)
        if instrument.underlying is not None:
            return self._contract_quote(instrument)
        now = self.clock.now()
        tick = self.source.tick_at(instrument.symbol, now)
        bars = self.source.candles(instrument.symbol, "1d", now - timedelta(days=14), now)
        if not bars:
            return Quote(tick, tick.ltp, tick.ltp, tick.ltp, tick.ltp, now.date())
        last = bars[-1]
        previous = bars[-2].close if len(bars) > 1 else last.open
        return Quote(tick, last.open, last.high, last.low, previous, last.start.date())

    def _contract_quote(self, instrument: Instrument) -> Quote:
        """Return a future's or option's quote: its tick now, and the session's open, high, low
        and previous close re-priced by the model from the underlying's (contracts have no
        traded history here: at this instant's time to expiry and volatility)."""
        assert instrument.underlying is not None
        tick = self.tick(instrument.symbol)
        base = self.quote(instrument.underlying)
        underlying = self.catalogue.get(instrument.underlying)
        now = self.clock.now()
        vol = float(self.atm_iv_history(underlying.symbol)[-1])

        def at(price: Decimal) -> Decimal:
            spot = replace(base.tick, ltp=price)
            return derivatives.quote(instrument, underlying, spot, now, chain=None, atm_vol=vol).ltp

        opened, high, low = (at(p) for p in (base.open, base.high, base.low))
        # A put is dearest at the underlying's low: the session's range is the levels' range.
        levels = (opened, high, low, tick.ltp)
        return Quote(tick, opened, max(levels), min(levels), at(base.previous_close), base.session)

    def candles(self, symbol: str, interval: str, start: datetime, end: datetime) -> list[Candle]:
        """Return the bars of ``interval`` starting in [start, end), never beyond now."""
        instrument = self.instrument(symbol)
        if instrument.underlying is not None:
            raise NoHistory(
                f"{instrument.symbol} has no candle history: futures and options are priced "
                f"from {instrument.underlying} (see its candles, this contract's quote, or the "
                "option chain)"
            )
        end = min(end, self.clock.now())
        if end <= start:
            return []
        return self.source.candles(instrument.symbol, interval, start, end)

    def expiries(self, symbol: str, count: int = LISTED_EXPIRIES) -> list[Expiry]:
        """Return the next option expiries of ``symbol``, today's until its close."""
        instrument = self._optionable(symbol)
        assert instrument.expiry_rule is not None and instrument.derivatives_venue is not None
        local = self.clock.now().astimezone(venue_zone(instrument.derivatives_venue))
        start = local.date() if local.time() < EXPIRY_TIME else local.date() + timedelta(days=1)
        calendar = self.calendar.venue(instrument.derivatives_venue)
        return expiries(instrument.expiry_rule, start, calendar, count)

    def chain(self, symbol: str, expiry: date | None = None) -> Chain:
        """Return the option chain for ``expiry`` (the nearest when None).

        Chains are cached per second and underlying price: within one second the same chain
        comes back, live option quotes included.
        """
        instrument = self._optionable(symbol)
        listed = self.expiries(instrument.symbol)
        chosen = (
            listed[0] if expiry is None else next((e for e in listed if e.date == expiry), None)
        )
        if chosen is None:
            raise UnknownExpiry(
                f"no {instrument.symbol} expiry on {expiry}; see /api/expiries/{instrument.symbol}"
            )
        now = self.clock.now()
        tick = self.source.tick_at(instrument.symbol, now)
        key = (instrument.symbol, chosen.date, int(now.timestamp()), tick.ltp)
        cached = self._chains.get(key)
        if cached is not None:
            return cached
        assert instrument.derivatives_venue is not None
        previous_close_at = self._previous_close_at(instrument, now)
        previous_close = float(self.source.price_at(instrument.symbol, previous_close_at))
        chain = build_chain(
            instrument,
            chosen.date,
            monthly=chosen.monthly,
            at=now,
            spot=float(tick.ltp),
            previous_close=previous_close,
            previous_close_at=previous_close_at,
            atm_vol=float(self.atm_iv_history(instrument.symbol)[-1]),
            calendar=self.calendar.venue(instrument.derivatives_venue),
            seed=self.seed,
        )
        if isinstance(self.source, OptionQuotes):
            chain = self._with_option_quotes(chain, self.source)
        self._chains[key] = chain
        while len(self._chains) > 256:
            self._chains.popitem(last=False)
        return chain

    @staticmethod
    def _with_option_quotes(chain: Chain, quotes: OptionQuotes) -> Chain:
        """Return ``chain`` with the live quotes ``quotes`` has for its options."""
        strikes = range(chain.strikes.size)
        calls = [quotes.option_tick(chain.option_symbol(i, Right.CE)) for i in strikes]
        puts = [quotes.option_tick(chain.option_symbol(i, Right.PE)) for i in strikes]
        return overlay_quotes(chain, calls, puts)

    def option_sessions(self, chain: Chain) -> tuple[SessionRange, SessionRange]:
        """Return the session ranges of the chain's calls and puts (``chains.session_ranges``)
        at its underlying's daily bars: the session's, and the one before it."""
        instrument = chain.underlying
        bars = self.source.candles(instrument.symbol, "1d", chain.at - timedelta(days=14), chain.at)

        def levels(bar: Candle) -> tuple[float, float, float]:
            return float(bar.open), float(bar.high), float(bar.low)

        before_close = self._previous_close_at(instrument, chain.at)
        return session_ranges(
            chain,
            levels(bars[-1]) if bars else None,
            levels(bars[-2]) if len(bars) > 1 else None,
            years_before=years_to_expiry(chain.expiry, before_close, instrument),
            atm_vol=float(self.atm_iv_history(instrument.symbol)[-1]),
        )

    def atm_iv_history(self, symbol: str) -> NDArray[np.float64]:
        """Return the daily at-the-money implied volatility of ``symbol`` up to today."""
        instrument = self._optionable(symbol)
        now = self.clock.now()
        key = (instrument.symbol, now.date())
        if key not in self._iv:
            bars = self.source.candles(
                instrument.symbol, "1d", now - timedelta(days=IV_HISTORY_DAYS), now
            )
            closes = np.array([float(bar.close) for bar in bars], dtype=np.float64)
            self._iv[key] = realised_atm_vol(closes, instrument.volatility)
        return self._iv[key]

    def _session_day(self, instrument: Instrument, now: datetime) -> date:
        # The session whose figures the quote shows: before today's open it is still the last
        # one, so the chain's changes are measured from the same previous close as the spot's.
        day, _ = session_progress(now, instrument, self.calendar.venue(instrument.venue))
        return day

    def _previous_close_at(self, instrument: Instrument, now: datetime) -> datetime:
        """Return the close of the session before the one ``now`` belongs to."""
        calendar = self.calendar.venue(instrument.venue)
        previous_day = calendar.previous_trading_day(self._session_day(instrument, now))
        return datetime.combine(previous_day, EXPIRY_TIME, venue_zone(instrument.venue))

    def _optionable(self, symbol: str) -> Instrument:
        instrument = self.instrument(symbol)
        if not instrument.has_options:
            raise NoOptions(f"{instrument.symbol} has no listed options")
        return instrument


def exchange_trading_minutes(calendar: TradingCalendar) -> TradingMinutes:
    """Return the simulator's trading hours with the exchange holidays of ``calendar`` removed."""

    def trading_minutes(instrument: Instrument, day: date) -> Sequence[tuple[datetime, datetime]]:
        if not calendar.is_trading_day(instrument.venue, day) and instrument.venue is not Venue.FX:
            return ()
        return default_trading_minutes(instrument, day)

    return trading_minutes
