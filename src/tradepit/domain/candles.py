"""Candles built from ticks: one builder per symbol and interval, closing a bar on the first
tick of the next one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tradepit.domain.market import INTERVALS, Candle, Tick

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def bar_start(ts: datetime, interval: str, origin: timedelta = timedelta(0)) -> datetime:
    """Return the start of the bar of ``interval`` holding ``ts``.

    Intraday bars are aligned to ``origin`` after midnight UTC (03:45 for NSE/BSE, so hourly
    bars start at 09:15 IST as the exchange's do); a daily bar starts at 00:00 UTC of its date.
    """
    seconds = INTERVALS[interval]
    ts = ts.astimezone(UTC)
    if seconds >= 86_400:
        return datetime(ts.year, ts.month, ts.day, tzinfo=UTC)
    since = (ts - _EPOCH - origin).total_seconds()
    return _EPOCH + origin + timedelta(seconds=(since // seconds) * seconds)


@dataclass
class _Bar:
    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class CandleBuilder:
    """Aggregate one symbol's ticks into bars of one interval.

    Tick volume is cumulative for the session day; a bar's volume is the growth of that
    cumulative figure during the bar (a drop means a new session, counted from zero).
    """

    def __init__(self, symbol: str, interval: str, origin: timedelta = timedelta(0)) -> None:
        if interval not in INTERVALS:
            raise ValueError(f"unknown interval {interval!r}")
        self.symbol = symbol
        self.interval = interval
        self.origin = origin
        self._bar: _Bar | None = None
        self._last_volume: Decimal | None = None

    def add(self, tick: Tick) -> Candle | None:
        """Add a tick; return the bar it closed, if it started a new one."""
        if tick.symbol != self.symbol:
            raise ValueError(f"tick of {tick.symbol} given to the {self.symbol} builder")
        start = bar_start(tick.ts, self.interval, self.origin)
        bar = self._bar
        if bar is not None and start < bar.start:
            return None  # a late tick for a closed bar: the past does not change
        traded = self._traded(tick.volume)
        closed = None
        if bar is None or start > bar.start:
            closed = self.forming()
            self._bar = _Bar(start, tick.ltp, tick.ltp, tick.ltp, tick.ltp, traded)
            return closed
        bar.high = max(bar.high, tick.ltp)
        bar.low = min(bar.low, tick.ltp)
        bar.close = tick.ltp
        bar.volume += traded
        return None

    def forming(self) -> Candle | None:
        """Return the bar being built, if any."""
        bar = self._bar
        if bar is None:
            return None
        return Candle(
            self.symbol,
            self.interval,
            bar.start,
            bar.open,
            bar.high,
            bar.low,
            bar.close,
            bar.volume,
        )

    def _traded(self, cumulative: Decimal) -> Decimal:
        last, self._last_volume = self._last_volume, cumulative
        if last is None:
            return Decimal(0)
        return cumulative - last if cumulative >= last else cumulative
