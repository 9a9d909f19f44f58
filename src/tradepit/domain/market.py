"""Market data values: ticks, candles, bar intervals and rounding onto the tick grid."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Context, Decimal
from types import MappingProxyType
from typing import Final

#: Bar intervals and their length in seconds.
INTERVALS: Final[Mapping[str, int]] = MappingProxyType(
    {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400}
)

# Wide enough that ``units * tick`` is exact for any price a float can carry to the tick.
_EXACT = Context(prec=400)


@dataclass(frozen=True, slots=True)
class Tick:
    """A quote at an instant: last traded price, best bid and ask, and the day's volume.

    ``volume`` is cumulative for the session day; ``oi`` is open interest (derivatives only).
    Sizes and volume are quantities in the instrument's units.
    """

    symbol: str
    ts: datetime
    ltp: Decimal
    bid: Decimal
    ask: Decimal
    bid_size: Decimal
    ask_size: Decimal
    volume: Decimal
    oi: Decimal | None = None

    def __post_init__(self) -> None:
        if self.ts.tzinfo is None:
            raise ValueError("tick time must be timezone-aware")


@dataclass(frozen=True, slots=True)
class Candle:
    """An OHLC bar of ``interval`` (a key of ``INTERVALS``) starting at ``start``."""

    symbol: str
    interval: str
    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    def __post_init__(self) -> None:
        if self.interval not in INTERVALS:
            raise ValueError(f"unknown interval {self.interval!r}")
        if self.start.tzinfo is None:
            raise ValueError("candle start must be timezone-aware")

    @property
    def end(self) -> datetime:
        """Return the instant the bar's interval ends (exclusive)."""
        return self.start + timedelta(seconds=INTERVALS[self.interval])


def round_to_tick(value: float, tick: Decimal) -> Decimal:
    """Return the multiple of ``tick`` nearest to ``value``, ties to the even multiple.

    Exact: the float's binary value is compared with the grid in rational arithmetic, so no
    intermediate rounding can move a price to the wrong side of a half-tick.
    """
    if not math.isfinite(value):
        raise ValueError(f"cannot round {value!r} to a tick")
    if not tick.is_finite() or tick <= 0:
        raise ValueError(f"tick must be a positive finite decimal, got {tick}")
    num, den = value.as_integer_ratio()
    tick_num, tick_den = tick.as_integer_ratio()
    # value / tick = (num * tick_den) / (den * tick_num)
    quotient, remainder = divmod(num * tick_den, den * tick_num)
    twice = 2 * remainder
    divisor = den * tick_num
    if twice > divisor or (twice == divisor and quotient % 2 == 1):
        quotient += 1
    return _EXACT.multiply(Decimal(quotient), tick)
