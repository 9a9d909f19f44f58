"""The latest quote of each symbol and the candles built from a feed's ticks.

Catalogue instruments get candles of every interval. Options a live feed streams (hundreds to
thousands of contracts, renewed each day) are tracked apart (``QuoteBook.track``): only their
latest tick is kept, for the option chains.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from tradepit.domain.candles import CandleBuilder
from tradepit.domain.errors import NotFound
from tradepit.domain.instruments import Instrument, Venue
from tradepit.domain.market import INTERVALS, Candle, Tick

#: Closed bars kept in memory per symbol and interval (older ones stay in the database).
KEPT_BARS = 20_000
#: Intraday bars on Indian venues align to the 09:15 IST open (03:45 UTC).
INDIAN_ORIGIN = timedelta(hours=3, minutes=45)
_INDIAN = {Venue.NSE, Venue.BSE, Venue.NFO, Venue.BFO}


class NoQuoteYet(NotFound):
    """The feed has not delivered a tick of this symbol yet."""

    code = "NO_DATA"


class QuoteBook:
    """Latest ticks and candles of every interval, fed batch by batch; also a price source.

    It also quotes the options registered with ``track`` (``option_tick``), the
    ``OptionQuotes`` of ``tradepit.market.data``.
    """

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._latest: dict[str, Tick] = {}
        self._options: dict[str, Tick | None] = {}
        self._builders: dict[str, list[CandleBuilder]] = {}
        self._history: dict[tuple[str, str], deque[Candle]] = {}
        for instrument in instruments:
            origin = INDIAN_ORIGIN if instrument.venue in _INDIAN else timedelta(0)
            self._builders[instrument.symbol] = [
                CandleBuilder(instrument.symbol, interval, origin) for interval in INTERVALS
            ]

    def apply(self, batch: Sequence[Tick]) -> list[Candle]:
        """Take a batch of ticks; return the bars they closed."""
        closed: list[Candle] = []
        options = self._options
        for tick in batch:
            builders = self._builders.get(tick.symbol)
            if builders is None:
                if tick.symbol in options:
                    options[tick.symbol] = tick
                continue
            self._latest[tick.symbol] = tick
            for builder in builders:
                bar = builder.add(tick)
                if bar is not None:
                    self._remember(bar)
                    closed.append(bar)
        return closed

    def track(self, instruments: Iterable[Instrument]) -> None:
        """Keep the latest tick of these options (or futures) from now on, without candles.

        The set replaces the one tracked before: ticks of symbols no longer tracked are dropped,
        those still tracked are kept. Catalogue instruments are ignored (they have candles).
        """
        symbols = {i.symbol for i in instruments if i.symbol not in self._builders}
        self._options = {symbol: self._options.get(symbol) for symbol in symbols}

    def option_tick(self, symbol: str) -> Tick | None:
        """Return the latest tick of a tracked option, or None before its first one."""
        return self._options.get(symbol)

    def load(self, bars: Iterable[Candle]) -> None:
        """Add bars persisted earlier (oldest first) to the in-memory history."""
        for bar in bars:
            self._remember(bar)

    def _remember(self, bar: Candle) -> None:
        kept = self._history.setdefault((bar.symbol, bar.interval), deque(maxlen=KEPT_BARS))
        if kept and bar.start <= kept[-1].start:
            return
        kept.append(bar)

    # The price-source protocol (the same as the simulator's).

    def tick_at(self, symbol: str, t: datetime) -> Tick:
        """Return the latest tick of ``symbol`` (a live feed has no other)."""
        found = self._latest.get(symbol)
        if found is None:
            raise NoQuoteYet(f"no tick of {symbol} received yet")
        return found

    def price_at(self, symbol: str, t: datetime) -> Decimal:
        """Return the last price at ``t``: the close of the last 1m bar starting before it."""
        bars = self.candles(symbol, "1m", t - timedelta(days=10), t)
        if bars:
            return bars[-1].close
        return self.tick_at(symbol, t).ltp

    def candles(self, symbol: str, interval: str, start: datetime, end: datetime) -> list[Candle]:
        """Return the closed bars and the forming one starting in [start, end)."""
        kept = list(self._history.get((symbol, interval), ()))
        starts = [bar.start for bar in kept]
        found = kept[bisect.bisect_left(starts, start) : bisect.bisect_left(starts, end)]
        forming = next(
            (b.forming() for b in self._builders.get(symbol, []) if b.interval == interval), None
        )
        fresh = forming is not None and (not found or forming.start > found[-1].start)
        if forming is not None and fresh and start <= forming.start < end:
            found.append(forming)
        return found
