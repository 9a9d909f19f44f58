"""The default market feed's price model: a seeded, deterministic, realistic simulator.

Every price is a pure function of ``(seed, symbol, instant)``: history produced at any start-up
is identical for the same past instants, and live ticks continue the same path. Random numbers
come from NumPy generators seeded by ``(seed, symbol, purpose, year or day)``, plus a splitmix64
hash of ``(seed, symbol, microsecond)`` for per-tick quote details, so nothing depends on the
order or the range of the questions asked. (The streams are those of the pinned NumPy.)

Daily level, per instrument, from ``ANCHOR`` (2020-01-01)
    On each trading day the log-price ``x = log(P / P_ref)`` (``P_ref``: the catalogue price)
    moves by ``e * sqrt(w) + mu(x) * w``. ``w`` is the day's share of a year of trading time:
    its trading seconds over those of ``REFERENCE_YEAR`` in the same calendar, so a 2-hour FX
    Sunday carries a twelfth of a full day's variance. ``e`` is a shock in annualised units:

    - GARCH(1,1) with Student-t innovations ``z`` (5 degrees of freedom, unit variance):
      ``g' = omega + (alpha * z**2 + beta_g) * g`` with alpha 0.06, beta_g 0.92,
      omega = 1 - alpha - beta_g (long-run mean 1), ``g`` capped at 16 (4x the long-run
      volatility) and updated on trading days; ``e = sigma_idio * sqrt(g) * z``, so the
      annualised volatility is the catalogue ``volatility`` sigma.
    - Correlation: an instrument with an ``index`` adds ``beta * e_index`` (the index's shock of
      the same calendar day) and its idiosyncratic volatility is
      ``sigma_idio = sqrt(sigma**2 - (beta * sigma_index)**2)`` (at least 10 % of sigma). The
      daily correlation with the index is about ``beta * sigma_index / sigma``: NIFTY-HDFCBANK
      0.63, BTC-ETH 0.92 (less while the two GARCH states differ).
    - Mean reversion: a log-price Ornstein-Uhlenbeck drift with a cubic wall,
      ``mu(x) = -kappa * (x + x**3 / 0.4**2)`` per year with ``kappa = sigma**2 / (2 * 0.2**2)``.
      The speed grows with the variance, so every instrument has the same stationary spread of
      log-prices, about 0.16 (one price in a hundred is more than 1.5x away from ``P_ref``, one
      in ten thousand more than 2x) whatever its volatility: the half-life is about four years
      for NIFTY, three months for BTC, four weeks for SOL. The drift is far below the daily
      volatility, so day-to-day returns are barely touched.

    Innovations are drawn in yearly blocks seeded by ``(seed, symbol, year)`` and the recursion
    runs forward from the anchor: extending the horizon never changes an earlier day.

Intraday, per instrument and trading day
    - Minute shocks are drawn per UTC day (seeded by ``(seed, symbol, UTC day)``): Student-t
      innovations (4 degrees of freedom, unit variance) times a stochastic-volatility factor
      whose log is an AR(1) with coefficient 0.97 a minute and stationary s.d. 0.45 (volatility
      clusters within the day). An instrument with an index mixes in ``beta`` times the index's
      minute shock in the proportions of its daily shocks, so intraday moves co-move too.
    - Volatility profile: U-shaped over sessions shorter than 20 hours (about 3x the midday
      volatility in the first minutes, 2x in the last); a mild diurnal wave peaking at 14:30 UTC
      for round-the-clock venues. An Indian venue trading round the clock
      (``around_the_clock``) keeps its session's U-shape, mapped onto the 24 hours from its
      real open, 09:15 IST: the opening burst at 09:15 IST, the quiet middle twelve hours
      later, the rise of the close in the hour before the next 09:15 (one cycle a day).
    - The minute returns are scaled to the day's conditional volatility and bridged: the gap
      between their sum and the daily model's return is spread over the minutes in proportion
      to their expected variance, so the path runs exactly from the previous close to the day's
      close. There is no overnight gap: a session opens at the previous close.
    - A minute's high and low are drawn from the law of the extremes of a Brownian bridge
      between its open and close. Inside the minute the price runs through 60 one-second knots,
      a line through open, high, low (at random seconds) and close plus a small Brownian-bridge
      wiggle, clipped to [low, high], and is linear between knots. So ``price_at`` is defined
      at any instant, equals the minute's close at the minute's end, never leaves the bar.
    - Volume: a daily volume per venue (by notional), scaled by session length, noise and the
      size of the day's move, spread over the minutes along the volatility profile with gamma
      noise; cumulative for the session day, in whole ``lot_size`` steps. Indices have none.

Quotes
    The last price is the path rounded half-even to the tick. Spreads are a few ticks (NSE/BSE
    about 0.5 bp and at least one tick, OKX one tick, FX about 0.9 bp: 10 points on EURUSD and
    37 on XAUUSD as at MT5 brokers), doubled in the most volatile minutes after the open.
    NSE/OKX trades print at the bid, the ask or between; FX prints the bid, as MT5 charts do.
    Indices have no book: bid = ask = last, sizes zero.

Outside trading time the price stays at the last traded value; before the anchor's first
session it is the catalogue price.

Around the clock (``around_the_clock``, the ``market_hours=always`` setting)
    Every venue trades 00:00-24:00 UTC on every calendar day, weekends and holidays included,
    and keeps the daily model of its real hours: each trading day's close is the same as with
    real hours, and its return is spread over the calendar days since the previous trading
    day (Saturday, Sunday and Monday share Monday's variance equally). The closes of the days
    in between are a Brownian bridge between the two trading closes (Gaussian steps seeded by
    ``(seed, symbol, year)``), so the path stays a random walk: what it did so far says nothing
    linear about where it goes next. Each calendar day is then a 24-hour session of the
    intraday model above (UTC day, daily bar at 00:00 UTC, a normal day's volume), bridged to
    that day's close. The two modes share the past at day granularity: the same trading-day
    closes, so the same price at 00:00 UTC after every trading day; in between they differ by
    the intraday paths. OKX, trading every day round the clock anyway, is the same market in
    both.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Context, Decimal
from typing import Generic, TypeVar, cast, overload

import numpy as np
from numpy.typing import NDArray
from scipy.signal import lfilter

from tradepit.domain.instruments import Instrument, Kind, Venue
from tradepit.domain.market import INTERVALS, Candle, Tick, round_to_tick
from tradepit.market.catalogue import Catalogue

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
U64 = NDArray[np.uint64]

_Spans = tuple[tuple[int, int], ...]
TradingMinutes = Callable[[Instrument, date], Sequence[tuple[datetime, datetime]]]

#: The first day of the simulated history.
ANCHOR = date(2020, 1, 1)
#: The year whose trading time defines "a year" of variance.
REFERENCE_YEAR = 2025
#: The last year the simulator models.
LAST_YEAR = 2199
#: Knots per minute of the sub-minute path (one a second).
KNOTS = 60

# Daily GARCH(1,1) with Student-t innovations.
DAILY_DF = 5.0
GARCH_ALPHA = 0.06
GARCH_BETA = 0.92
GARCH_OMEGA = 1.0 - GARCH_ALPHA - GARCH_BETA
GARCH_CAP = 16.0  # at most 4x the long-run volatility
# Mean reversion of the log-price: stationary spread and the cubic wall.
REVERSION_SPREAD = 0.20
REVERSION_WALL = 0.4
# Intraday: Student-t minute innovations and AR(1) log-volatility.
MINUTE_DF = 4.0
SV_PHI = 0.97
SV_SD = 0.45
# Share of a minute's volatility that wiggles the sub-minute path between its anchors.
KNOT_WIGGLE = 0.5

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_US = 1_000_000
#: Quotes move on this grid of market time: 250 ms, the simulated feed's tick interval.
GRID_US = 250_000
_MINUTE_US = 60 * _US
_KNOT_US = _MINUTE_US // KNOTS
_LIMIT_US = (date(LAST_YEAR, 12, 30).toordinal() - _EPOCH_ORDINAL) * 86_400 * _US
_INDIAN = frozenset({Venue.NSE, Venue.BSE, Venue.NFO, Venue.BFO})
#: The Indian venues' open, 09:15 IST, as a minute of the UTC day (03:45 UTC).
_INDIAN_OPEN_MINUTE = 3 * 60 + 45
_EXACT = Context(prec=60)

# Purposes of the random streams.
_DAILY, _MINUTE, _DAY, _KNOT, _BRIDGE = 1, 2, 3, 4, 5
#: Days modelled past an instant around the clock: a trading day's return reaches back over
#: the calendar days before it, so the next trading day must be known (Indian breaks are short).
_AHEAD_DAYS = 12

# Per venue: relative spread, daily traded notional and top-of-book notional (in the
# settlement currency: ``_lot_value``).
_SPREAD_BP = {Venue.NSE: 0.5, Venue.BSE: 0.5, Venue.OKX: 0.0, Venue.FX: 0.9}
_DAY_NOTIONAL = {Venue.NSE: 15e9, Venue.BSE: 2e9, Venue.OKX: 4e8, Venue.FX: 4e9}
_BOOK_NOTIONAL = {Venue.NSE: 1.5e6, Venue.BSE: 5e5, Venue.OKX: 1.5e5, Venue.FX: 2e6}


def _lot_value(instrument: Instrument) -> float:
    """Return what one lot step is worth at the instrument's price level, in its settlement
    currency: price x lot x multiplier, or lot x multiplier for a pair settled in its base
    currency (a lot of USDJPY is 100,000 dollars, whatever the yen price)."""
    size = float(instrument.lot_size * instrument.multiplier)
    return size if instrument.settles_in_base else float(instrument.price) * size


def default_trading_minutes(
    instrument: Instrument, day: date
) -> tuple[tuple[datetime, datetime], ...]:
    """Return the UTC intervals ``instrument`` trades on the calendar day ``day``.

    NSE/BSE (and their derivative venues): 09:15-15:30 Asia/Kolkata (03:45-10:00 UTC, India
    keeps no daylight saving time) on weekdays, without holidays; OKX: all day, every day;
    FX: Sunday 22:00 UTC to Friday 22:00 UTC.
    """
    weekday = day.weekday()
    if instrument.venue in _INDIAN:
        if weekday >= 5:
            return ()
        return (
            (
                datetime(day.year, day.month, day.day, 3, 45, tzinfo=UTC),
                datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC),
            ),
        )
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    next_midnight = midnight + timedelta(days=1)
    if instrument.venue is Venue.FX:
        if weekday == 5:
            return ()
        if weekday == 6:
            return ((midnight + timedelta(hours=22), next_midnight),)
        if weekday == 4:
            return ((midnight, midnight + timedelta(hours=22)),)
    return ((midnight, next_midnight),)


# --- helpers ----------------------------------------------------------------------------------

K = TypeVar("K")
V = TypeVar("V")


class _LRU(Generic[K, V]):
    """A small least-recently-used cache (results are recomputable, so eviction is safe)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> V:
        self._data[key] = value
        if len(self._data) > self._size:
            self._data.popitem(last=False)
        return value


def _to_us(t: datetime) -> int:
    if t.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return (t - _EPOCH) // timedelta(microseconds=1)


def _from_us(us: int) -> datetime:
    # Exact: below 2**53 µs (year 2255) the float rounds back to the same microsecond.
    return datetime.fromtimestamp(us / _US, UTC)


def _normalise(intervals: Sequence[tuple[datetime, datetime]]) -> _Spans:
    """Return intervals as sorted, merged (start, end) UTC seconds cut to whole minutes."""
    spans: list[tuple[int, int]] = []
    for begin, finish in intervals:
        if begin.tzinfo is None or finish.tzinfo is None:
            raise ValueError("trading intervals must be timezone-aware")
        a = math.ceil(begin.timestamp() / 60) * 60
        b = math.floor(finish.timestamp() / 60) * 60
        if b > a:
            spans.append((a, b))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return tuple(merged)


def _symbol_key(symbol: str) -> int:
    return int.from_bytes(hashlib.blake2b(symbol.encode(), digest_size=8).digest(), "little")


def _mix(x: U64) -> U64:
    """Return splitmix64 of each element (a bijective avalanche hash)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _tick_units(prices: F64, tick: Decimal, tick_f: float) -> I64:
    """Return ``round_to_tick(p, tick) / tick`` for each price, exactly (ties half-even)."""
    q = prices / tick_f
    units = np.rint(q)
    fraction = q - np.floor(q)
    unsure = (np.abs(fraction - 0.5) < 1e-6) | (np.abs(q) > 1e12)
    for index in np.flatnonzero(unsure):
        units[index] = float(round_to_tick(float(prices[index]), tick) / tick)
    return units.astype(np.int64)


def _u_shape(tau: F64) -> F64:
    """Return the U-shape of a session at ``tau``, the elapsed share of the session (0 to 1)."""
    u: F64 = (
        0.8
        + 1.6 * np.exp(-tau / 0.04)
        + 0.6 * np.exp(-(1.0 - tau) / 0.04)
        + 0.25 * (2.0 * tau - 1.0) ** 2
    )
    return u


def _u_profile(m: int) -> F64:
    """Return the U-shaped intraday volatility profile over ``m`` minutes (RMS 1)."""
    tau = (np.arange(m, dtype=np.float64) + 0.5) / m
    u = _u_shape(tau)
    result: F64 = u / math.sqrt(float(np.mean(u * u)))
    return result


#: The U-shape over a whole day of minutes, and its RMS.
_DAY_U = _u_shape((np.arange(1440, dtype=np.float64) + 0.5) / 1440)
_DAY_U_RMS = math.sqrt(float(np.mean(_DAY_U * _DAY_U)))


def _session_day_profile(minutes: I64, open_minute: int) -> F64:
    """Return a session's U-shape mapped onto the 24 hours from ``open_minute`` (a minute of
    the UTC day) for absolute minutes: one cycle a day, RMS 1 over a whole day."""
    result: F64 = _DAY_U[(minutes - open_minute) % 1440] / _DAY_U_RMS
    return result


def _profile(venue: Venue, minutes: I64) -> F64:
    """Return the volatility profile of a day's session of absolute ``minutes``: U-shaped
    below 20 hours; over a longer day the Indian venues' session shape from their open
    (round the clock, ``market_hours=always``), the diurnal wave for the others."""
    if len(minutes) < 20 * 60:
        return _u_profile(len(minutes))
    if venue in _INDIAN:
        return _session_day_profile(minutes, _INDIAN_OPEN_MINUTE)
    return _diurnal_profile(minutes)


def _diurnal_profile(minutes: I64) -> F64:
    """Return the round-the-clock profile for absolute minutes (RMS about 1)."""
    hours = ((minutes % 1440).astype(np.float64) + 0.5) / 60.0
    u = 1.0 + 0.3 * np.cos(2.0 * np.pi * (hours - 14.5) / 24.0)
    result: F64 = u / math.sqrt(1.0 + 0.3**2 / 2.0)
    return result


# --- per-instrument state ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    """The simulator's constants for one instrument."""

    instrument: Instrument
    key: int
    price: float
    sigma: float  # effective annualised volatility
    sigma_idio: float
    beta: float
    parent: str | None
    parent_sigma: float
    kappa: float
    tick: Decimal
    tick_f: float
    quoted: bool  # has a book (not an index)
    bid_prints: bool  # last = bid (MT5)
    spread_bp: float
    day_notional: float
    book_notional: float
    lot_value: float  # one lot step at ``price``, in the settlement currency


class _UtcDays(Sequence[_Spans]):
    """The sessions of days that each trade 00:00-24:00 UTC, made when asked for."""

    def __init__(self, starts: I64) -> None:
        self._starts = starts  # UTC seconds of each day's midnight

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, index: int) -> _Spans: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[_Spans]: ...

    def __getitem__(self, index: int | slice) -> _Spans | Sequence[_Spans]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        start = int(self._starts[index])
        return ((start, start + 86_400),)


@dataclass
class _Series:
    """The daily model of one instrument over its trading days (index ``i``)."""

    ordinals: I64  # date ordinal of each trading day
    first_us: I64  # first session start
    last_us: I64  # last session end
    sessions: Sequence[_Spans]  # UTC seconds, whole minutes
    x: F64  # log(P/P_ref) at each close, with x[0] = 0 before the first day (len n + 1)
    close: F64  # P_ref·exp(x) (len n + 1): close[i] opens day i, close[i + 1] closes it
    std: F64  # conditional volatility of each day's log-return
    mean_day_seconds: float
    shock: F64  # composite shock per calendar day (annualised units)
    variance: F64  # conditional annualised variance per calendar day


@dataclass
class _Day:
    """One trading day's minute bars (float prices) and what ticks need besides."""

    starts: I64  # minute starts, UTC seconds
    iv_start_us: I64
    iv_end_us: I64
    iv_offset: I64  # index of each interval's first minute
    open: F64
    high: F64
    low: F64
    close: F64
    cumvol: I64  # cumulative volume in lots at each minute's end
    profile: F64
    scale: F64  # s.d. of the knot wiggle per knot, in price


@dataclass(frozen=True)
class _Summary:
    open: float
    high: float
    low: float
    close: float
    volume: int


@dataclass
class _Eval:
    price: F64
    trading: NDArray[np.bool_]
    volume: I64
    profile: F64


@dataclass(frozen=True)
class TickBatch:
    """Ticks computed in bulk: parallel arrays, prices in ticks and sizes in lots.

    Row ``r`` is instrument ``symbols[symbol_index[r]]`` at ``time_us[r]`` (UTC microseconds).
    ``to_ticks`` makes ``Tick`` objects of them.
    """

    symbols: tuple[str, ...]
    tick_sizes: tuple[Decimal, ...]
    lot_sizes: tuple[Decimal, ...]
    symbol_index: I64
    time_us: I64
    ltp: I64
    bid: I64
    ask: I64
    bid_size: I64
    ask_size: I64
    volume: I64

    def __len__(self) -> int:
        return len(self.time_us)

    def to_ticks(self) -> list[Tick]:
        """Return the rows as ``Tick`` objects."""
        symbols, ticks, lots = self.symbols, self.tick_sizes, self.lot_sizes
        multiply = _EXACT.multiply
        # Prices and sizes repeat a lot within a batch: make each Decimal once.
        price_memo: list[dict[int, Decimal]] = [{} for _ in symbols]
        size_memo: list[dict[int, Decimal]] = [{} for _ in symbols]
        out: list[Tick] = []
        append = out.append
        last_t: int | None = None
        ts = _EPOCH
        for s, t, ltp, bid, ask, bsz, asz, vol in zip(
            self.symbol_index.tolist(),
            self.time_us.tolist(),
            self.ltp.tolist(),
            self.bid.tolist(),
            self.ask.tolist(),
            self.bid_size.tolist(),
            self.ask_size.tolist(),
            self.volume.tolist(),
            strict=True,
        ):
            if t != last_t:
                last_t, ts = t, _from_us(t)
            prices, sizes = price_memo[s], size_memo[s]
            d_ltp = prices.get(ltp)
            if d_ltp is None:
                d_ltp = prices[ltp] = multiply(Decimal(ltp), ticks[s])
            d_bid = prices.get(bid)
            if d_bid is None:
                d_bid = prices[bid] = multiply(Decimal(bid), ticks[s])
            d_ask = prices.get(ask)
            if d_ask is None:
                d_ask = prices[ask] = multiply(Decimal(ask), ticks[s])
            d_bsz = sizes.get(bsz)
            if d_bsz is None:
                d_bsz = sizes[bsz] = multiply(Decimal(bsz), lots[s])
            d_asz = sizes.get(asz)
            if d_asz is None:
                d_asz = sizes[asz] = multiply(Decimal(asz), lots[s])
            d_vol = sizes.get(vol)
            if d_vol is None:
                d_vol = sizes[vol] = multiply(Decimal(vol), lots[s])
            append(Tick(symbols[s], ts, d_ltp, d_bid, d_ask, d_bsz, d_asz, d_vol))
        return out


# --- the simulator ----------------------------------------------------------------------------


class Simulator:
    """The seeded price model of every (non-derived) instrument in a catalogue.

    ``trading_minutes(instrument, day)`` returns the UTC intervals the instrument trades on a
    calendar day (``default_trading_minutes`` when omitted); intervals are cut to whole minutes.
    With ``around_the_clock`` (``market_hours=always``) every instrument trades all day, every
    day, on the daily model of those hours (see the module's docstring).
    Results are cached (bounded); the caches never change an answer, only its cost. Not
    thread-safe: use one simulator per thread, or a lock.
    """

    def __init__(
        self,
        catalogue: Catalogue,
        seed: int,
        trading_minutes: TradingMinutes | None = None,
        *,
        around_the_clock: bool = False,
    ) -> None:
        self._catalogue = catalogue
        self._seed = 2 * seed if seed >= 0 else -2 * seed - 1
        self._trading_minutes: TradingMinutes = trading_minutes or default_trading_minutes
        self._around_the_clock = around_the_clock
        self._instruments = [i for i in catalogue if i.underlying is None]
        self._specs: dict[str, _Spec] = {}
        for instrument in self._instruments:
            self._spec(instrument.symbol, ())
        self._horizon = 0  # last year modelled
        self._series: dict[str, _Series] = {}
        self._calendars: dict[str, tuple[list[int], list[_Spans]]] = {}
        self._year_seconds: dict[str, tuple[float, float]] = {}
        self._shocks: _LRU[tuple[str, int], tuple[F64, F64]] = _LRU(256)
        self._days: _LRU[tuple[str, int], _Day] = _LRU(256)
        # At least one day of knots per instrument: the feed asks for every instrument's current
        # minute each round, and with fewer entries than instruments every round recomputed
        # every path.
        self._knots: _LRU[tuple[str, int], F64] = _LRU(max(48, len(self._instruments) + 16))
        self._summaries: dict[tuple[str, int], _Summary] = {}
        self._grid_ticks: _LRU[tuple[str, int], Tick] = _LRU(4096)

    # -- public API ----------------------------------------------------------------------------

    @property
    def instruments(self) -> list[Instrument]:
        """Return the instruments the simulator prices, in catalogue order."""
        return list(self._instruments)

    def price_at(self, symbol: str, t: datetime) -> Decimal:
        """Return the last traded price of ``symbol`` at ``t``, on the tick grid."""
        spec = self._specs[self._symbol(symbol)]
        ev = self._evaluate(spec.instrument.symbol, np.array([_to_us(t)], dtype=np.int64))
        return round_to_tick(float(ev.price[0]), spec.tick)

    def is_trading(self, symbol: str, t: datetime) -> bool:
        """Tell whether ``symbol`` trades at ``t``."""
        name = self._symbol(symbol)
        ev = self._evaluate(name, np.array([_to_us(t)], dtype=np.int64))
        return bool(ev.trading[0])

    def tick_at(self, symbol: str, t: datetime) -> Tick:
        """Return the quote of ``symbol`` at ``t``: the tick of the last point of the quote grid
        (``GRID_US``, the simulated feed's ticks) at or before ``t``, so a quote, an order's
        fill and the feed's tick agree; the last one, outside trading time."""
        name = self._symbol(symbol)
        point = _to_us(t) // GRID_US * GRID_US
        key = (name, point)
        tick = self._grid_ticks.get(key)
        if tick is None:
            batch = self.tick_batch([name], np.array([point], dtype=np.int64), trading_only=False)
            tick = self._grid_ticks.put(key, batch.to_ticks()[0])
        return tick

    def tick_batch(
        self,
        symbols: Sequence[str],
        times: Sequence[datetime] | I64,
        *,
        trading_only: bool = True,
    ) -> TickBatch:
        """Return the ticks of every symbol at every time, time-major, in bulk.

        ``times`` are aware datetimes or UTC microseconds since the epoch (``int64``). With
        ``trading_only``, instants at which a symbol does not trade are left out.
        """
        names = tuple(self._symbol(s) for s in symbols)
        if isinstance(times, np.ndarray):
            t_us = times.astype(np.int64)
        else:
            t_us = np.array([_to_us(t) for t in times], dtype=np.int64)
        n, m = len(names), len(t_us)
        cols = {name: np.empty((m, n), dtype=np.int64) for name in _BATCH_FIELDS}
        keep = np.ones((m, n), dtype=np.bool_)
        for column, name in enumerate(names):
            fields, trading = self._quotes(name, t_us)
            for field_name, values in zip(_BATCH_FIELDS, fields, strict=True):
                cols[field_name][:, column] = values
            if trading_only:
                keep[:, column] = trading
        mask = keep.ravel()
        index = np.broadcast_to(np.arange(n, dtype=np.int64), (m, n)).ravel()[mask]
        stamps = np.broadcast_to(t_us[:, None], (m, n)).ravel()[mask]
        specs = [self._specs[name] for name in names]
        ltp, bid, ask, bid_size, ask_size, volume = (cols[f].ravel()[mask] for f in _BATCH_FIELDS)
        return TickBatch(
            symbols=names,
            tick_sizes=tuple(s.tick for s in specs),
            lot_sizes=tuple(s.instrument.lot_size for s in specs),
            symbol_index=index,
            time_us=stamps,
            ltp=ltp,
            bid=bid,
            ask=ask,
            bid_size=bid_size,
            ask_size=ask_size,
            volume=volume,
        )

    def ticks(
        self, start: datetime, end: datetime, step: timedelta = timedelta(milliseconds=250)
    ) -> Iterator[Tick]:
        """Yield the ticks of every instrument that trades, on the grid of ``step`` in [start, end).

        The grid is aligned to the epoch, so the same instants come out whatever ``start`` is.
        """
        step_us = step // timedelta(microseconds=1)
        if step_us <= 0:
            raise ValueError("step must be positive")
        first = -(-_to_us(start) // step_us) * step_us
        stop = _to_us(end)
        symbols = [i.symbol for i in self._instruments]
        chunk = max(1, 65_536 // max(1, len(symbols)))
        while first < stop:
            times = np.arange(first, min(stop, first + chunk * step_us), step_us, dtype=np.int64)
            yield from self.tick_batch(symbols, times).to_ticks()
            first = int(times[-1]) + step_us

    def candles(self, symbol: str, interval: str, start: datetime, end: datetime) -> list[Candle]:
        """Return the bars of ``interval`` that start in [start, end), from the minute path.

        Intraday bars are aligned to the trading day's first session open and never span two
        days; a daily bar starts at 00:00 UTC of its trading day. A bar that runs past ``end``
        is the forming bar, built from the path up to ``end``. Bars without trading are skipped.
        """
        if interval not in INTERVALS:
            raise ValueError(f"unknown interval {interval!r}; use one of {', '.join(INTERVALS)}")
        name = self._symbol(symbol)
        spec = self._specs[name]
        s_us, e_us = _to_us(start), _to_us(end)
        if e_us <= s_us:
            return []
        series = self._ensure(name, e_us)
        lo = int(np.searchsorted(series.last_us, s_us - 86_400 * _US, side="left"))
        hi = int(np.searchsorted(series.first_us, e_us, side="left"))
        length = INTERVALS[interval]
        parts: list[_Bars] = []
        for i in range(lo, hi):
            if interval != "1d":
                parts.append(self._intraday_bars(name, i, length, s_us, e_us))
                continue
            bar_start = (int(series.ordinals[i]) - _EPOCH_ORDINAL) * 86_400
            if s_us <= bar_start * _US < e_us:
                day = self._summary(name, i, e_us)
                parts.append(
                    (
                        np.array([bar_start], dtype=np.int64),
                        np.array([[day.open, day.high, day.low, day.close]]),
                        np.array([day.volume], dtype=np.int64),
                    )
                )
        if not parts:
            return []
        starts = np.concatenate([p[0] for p in parts])
        prices = np.concatenate([p[1] for p in parts])
        volumes = np.concatenate([p[2] for p in parts])
        return self._make_candles(spec, interval, starts, prices, volumes)

    # -- instruments ---------------------------------------------------------------------------

    def _symbol(self, symbol: str) -> str:
        instrument = self._catalogue.get(symbol)
        if instrument.symbol not in self._specs:
            raise ValueError(f"{instrument.symbol} is priced from its underlying, not simulated")
        return instrument.symbol

    def _spec(self, symbol: str, seen: tuple[str, ...]) -> _Spec:
        known = self._specs.get(symbol)
        if known is not None:
            return known
        if symbol in seen:
            raise ValueError(f"index cycle: {' -> '.join((*seen, symbol))}")
        instrument = self._catalogue.get(symbol)
        sigma = float(instrument.volatility)
        if sigma <= 0 or instrument.price <= 0:
            raise ValueError(f"{symbol}: price and volatility must be positive")
        parent = None
        parent_sigma = 0.0
        beta = 0.0
        sigma_idio = sigma
        if instrument.index is not None:
            parent_spec = self._spec(self._catalogue.get(instrument.index).symbol, (*seen, symbol))
            parent, parent_sigma, beta = (
                parent_spec.instrument.symbol,
                parent_spec.sigma,
                instrument.beta,
            )
            sigma_idio = math.sqrt(max(sigma**2 - (beta * parent_sigma) ** 2, (0.1 * sigma) ** 2))
            sigma = math.sqrt((beta * parent_sigma) ** 2 + sigma_idio**2)
        venue = instrument.venue
        if venue in (Venue.NFO, Venue.BFO):
            venue = Venue.NSE
        spec = _Spec(
            instrument=instrument,
            key=_symbol_key(instrument.symbol),
            price=float(instrument.price),
            sigma=sigma,
            sigma_idio=sigma_idio,
            beta=beta,
            parent=parent,
            parent_sigma=parent_sigma,
            kappa=sigma**2 / (2.0 * REVERSION_SPREAD**2),
            tick=instrument.tick_size,
            tick_f=float(instrument.tick_size),
            quoted=instrument.kind is not Kind.INDEX,
            bid_prints=venue is Venue.FX,
            spread_bp=_SPREAD_BP[venue],
            day_notional=_DAY_NOTIONAL[venue],
            book_notional=_BOOK_NOTIONAL[venue],
            lot_value=_lot_value(instrument),
        )
        self._specs[instrument.symbol] = spec
        return spec

    def _rng(self, spec: _Spec, purpose: int, number: int) -> np.random.Generator:
        sequence = np.random.SeedSequence([self._seed, spec.key, purpose, number])
        return np.random.Generator(np.random.PCG64(sequence))

    # -- sessions ------------------------------------------------------------------------------

    def _calendar(self, symbol: str, last_ordinal: int) -> tuple[list[int], list[_Spans]]:
        """Return trading seconds and sessions per calendar day from the anchor on."""
        seconds, spans = self._calendars.setdefault(symbol, ([], []))
        first = ANCHOR.toordinal()
        instrument = self._specs[symbol].instrument
        while first + len(seconds) <= last_ordinal:
            day = date.fromordinal(first + len(seconds))
            found = _normalise(self._trading_minutes(instrument, day))
            spans.append(found)
            seconds.append(sum(b - a for a, b in found))
        return seconds, spans

    def _year(self, symbol: str) -> tuple[float, float]:
        """Return the trading seconds of the reference year and of its average trading day."""
        known = self._year_seconds.get(symbol)
        if known is not None:
            return known
        end = date(REFERENCE_YEAR, 12, 31).toordinal()
        seconds, _ = self._calendar(symbol, end)
        begin = date(REFERENCE_YEAR, 1, 1).toordinal() - ANCHOR.toordinal()
        year = seconds[begin : end - ANCHOR.toordinal() + 1]
        total, days = sum(year), sum(1 for x in year if x)
        if total == 0:
            raise ValueError(f"{symbol} never trades in {REFERENCE_YEAR}")
        result = (float(total), total / days)
        self._year_seconds[symbol] = result
        return result

    # -- daily model ---------------------------------------------------------------------------

    def _ensure(self, symbol: str, t_us: int) -> _Series:
        """Return the daily series, modelled at least two days past ``t_us`` (twelve around
        the clock)."""
        if t_us >= _LIMIT_US:
            raise ValueError(f"the simulator stops at {LAST_YEAR}-12-31")
        ahead = _AHEAD_DAYS if self._around_the_clock else 2
        needed = date.fromordinal(_EPOCH_ORDINAL + t_us // (86_400 * _US) + ahead).year
        if needed > self._horizon:
            self._horizon = max(needed, date.today().year + 1)
            self._series.clear()
        series = self._series.get(symbol)
        if series is None:
            series = self._build(symbol)
        return series

    def _build(self, symbol: str) -> _Series:
        spec = self._specs[symbol]
        parent = self._series.get(spec.parent) if spec.parent else None
        if spec.parent and parent is None:
            parent = self._build(spec.parent)
        first = ANCHOR.toordinal()
        blocks = []
        for year in range(ANCHOR.year, self._horizon + 1):
            size = date(year + 1, 1, 1).toordinal() - date(year, 1, 1).toordinal()
            blocks.append(self._rng(spec, _DAILY, year).standard_t(DAILY_DF, 366)[:size])
        z = (np.concatenate(blocks) * math.sqrt((DAILY_DF - 2.0) / DAILY_DF)).tolist()
        n_cal = len(z)
        year_seconds, day_seconds = self._year(symbol)
        seconds, spans = self._calendar(symbol, first + n_cal - 1)
        parent_shock = parent.shock.tolist() if parent else [0.0] * n_cal
        parent_var = parent.variance.tolist() if parent else [0.0] * n_cal
        beta, s_id = spec.beta, spec.sigma_idio
        beta2, s_id2 = beta * beta, s_id * s_id
        kappa, wall2 = spec.kappa / year_seconds, REVERSION_WALL**2
        inv_year = 1.0 / year_seconds
        sqrt = math.sqrt
        shock = [0.0] * n_cal
        variance = [0.0] * n_cal
        trading: list[int] = []
        xs = [0.0]
        stds: list[float] = []
        x, g = 0.0, 1.0
        for k in range(n_cal):
            zk = z[k]
            shock[k] = e = beta * parent_shock[k] + s_id * sqrt(g) * zk
            variance[k] = v = beta2 * parent_var[k] + s_id2 * g
            sec = seconds[k]
            if sec:
                x += e * sqrt(sec * inv_year) - kappa * (x + x * x * x / wall2) * sec
                g = min(GARCH_OMEGA + (GARCH_ALPHA * zk * zk + GARCH_BETA) * g, GARCH_CAP)
                trading.append(k)
                xs.append(x)
                stds.append(sqrt(sec * inv_year * v))
        ordinals = [first + k for k in trading]
        sessions = [spans[k] for k in trading]
        x_arr = np.array(xs, dtype=np.float64)
        first_us = np.array([s[0][0] for s in sessions], dtype=np.int64) * _US
        last_us = np.array([s[-1][1] for s in sessions], dtype=np.int64) * _US
        if len(first_us) > 1 and bool(np.any(first_us[1:] < last_us[:-1])):
            raise ValueError(f"{symbol}: sessions of consecutive days overlap")
        series = _Series(
            ordinals=np.array(ordinals, dtype=np.int64),
            first_us=first_us,
            last_us=last_us,
            sessions=sessions,
            x=x_arr,
            close=spec.price * np.exp(x_arr),
            std=np.array(stds, dtype=np.float64),
            mean_day_seconds=day_seconds,
            shock=np.array(shock, dtype=np.float64),
            variance=np.array(variance, dtype=np.float64),
        )
        if self._around_the_clock:
            series = self._round_the_clock(spec, series)
        self._series[symbol] = series
        return series

    def _round_the_clock(self, spec: _Spec, series: _Series) -> _Series:
        """Return the series of every calendar day (00:00-24:00 UTC) up to the last trading
        day of ``series``: each trading day's return spread over the calendar days since the
        previous trading day, their closes on a Brownian bridge between the two."""
        first = ANCHOR.toordinal()
        closes = series.ordinals - first  # the calendar day of each trading close
        n_cal = int(closes[-1]) + 1 if len(closes) else 0
        steps = np.concatenate(
            [
                self._rng(spec, _BRIDGE, year).standard_normal(366)[
                    : date(year + 1, 1, 1).toordinal() - date(year, 1, 1).toordinal()
                ]
                for year in range(ANCHOR.year, self._horizon + 1)
            ]
        )[:n_cal]
        # Calendar day c belongs to the trading day j that closes on or after it; the span of
        # j runs from the day after the previous trading close (the anchor for the first).
        span_start = np.concatenate([[0], closes[:-1] + 1])
        lengths = closes - span_start + 1
        owner = np.repeat(np.arange(len(closes)), lengths)
        step = series.std[owner] / np.sqrt(lengths[owner])
        walk = np.cumsum(step * steps)
        before = np.concatenate([[0.0], walk])[span_start]  # the walk before each span
        walk -= before[owner]
        share = (np.arange(n_cal) - span_start[owner] + 1) / lengths[owner]
        x_from, x_to = series.x[:-1][owner], series.x[1:][owner]
        x = np.zeros(n_cal + 1)  # x[c + 1] closes calendar day c; x[0] is before the anchor
        x[1:] = x_from + share * (x_to - x_from) + walk - share * walk[closes][owner]
        x[closes + 1] = series.x[1:]  # exactly the trading days' closes
        ordinals = np.arange(first, first + n_cal, dtype=np.int64)
        starts = (ordinals - _EPOCH_ORDINAL) * 86_400
        return _Series(
            ordinals=ordinals,
            first_us=starts * _US,
            last_us=(starts + 86_400) * _US,
            sessions=_UtcDays(starts),
            x=x,
            close=spec.price * np.exp(x),
            std=step,
            mean_day_seconds=86_400.0,
            shock=series.shock,
            variance=series.variance,
        )

    # -- intraday model ------------------------------------------------------------------------

    def _minute_shocks(self, symbol: str, utc_day: int) -> tuple[F64, F64]:
        """Return the unit-variance minute shocks and volatility factors of a UTC day."""
        key = (symbol, utc_day)
        known = self._shocks.get(key)
        if known is not None:
            return known
        spec = self._specs[symbol]
        rng = self._rng(spec, _MINUTE, utc_day)
        normals = rng.standard_normal((2, 1440))
        # Student-t with 4 degrees of freedom: N / sqrt(chi2_4 / 4), chi2_4 = 2 (E1 + E2).
        chi = rng.standard_exponential((2, 1440)).sum(axis=0)
        z = normals[0] / np.sqrt(0.5 * chi) * math.sqrt((MINUTE_DF - 2.0) / MINUTE_DF)
        eps = normals[1]
        h0 = float(rng.standard_normal()) * SV_SD
        eta = SV_SD * math.sqrt(1.0 - SV_PHI**2)
        log_vol, _ = lfilter([eta], [1.0, -SV_PHI], eps, zi=[SV_PHI * h0])
        vol: F64 = np.exp(np.asarray(log_vol, dtype=np.float64) - SV_SD**2)
        own: F64 = vol * z
        if spec.parent is not None:
            p_shock, p_vol = self._minute_shocks(spec.parent, utc_day)
            b = spec.beta * spec.parent_sigma
            shock: F64 = (b * p_shock + spec.sigma_idio * own) / spec.sigma
            vol = np.sqrt((b * p_vol) ** 2 + (spec.sigma_idio * vol) ** 2) / spec.sigma
        else:
            shock = own
        return self._shocks.put(key, (shock, vol))

    def _day(self, symbol: str, i: int) -> _Day:
        series = self._series[symbol]
        ordinal = int(series.ordinals[i])
        key = (symbol, ordinal)
        known = self._days.get(key)
        if known is not None:
            return known
        spec = self._specs[symbol]
        spans = series.sessions[i]
        starts = np.concatenate([np.arange(a, b, 60, dtype=np.int64) for a, b in spans])
        m = len(starts)
        minutes = starts // 60
        shock = np.empty(m)
        vol = np.empty(m)
        utc_days = minutes // 1440
        for utc_day in np.unique(utc_days).tolist():
            sel = utc_days == utc_day
            day_shock, day_vol = self._minute_shocks(symbol, int(utc_day))
            shock[sel] = day_shock[minutes[sel] % 1440]
            vol[sel] = day_vol[minutes[sel] % 1440]
        profile = _profile(spec.instrument.venue, minutes)
        std = float(series.std[i])
        returns = std / math.sqrt(m) * profile * shock
        weights = profile * profile
        x_prev, x_close = float(series.x[i]), float(series.x[i + 1])
        returns += (x_close - x_prev - float(returns.sum())) * weights / float(weights.sum())
        close = spec.price * np.exp(x_prev + np.cumsum(returns))
        close[-1] = series.close[i + 1]
        open_ = np.empty(m)
        open_[0] = series.close[i]
        open_[1:] = close[:-1]
        rng = self._rng(spec, _DAY, ordinal)
        u = 1.0 - rng.random((2, m))
        mid = 0.5 * (open_ + close)
        half2 = (0.5 * (close - open_)) ** 2
        price_var = (std * profile * vol) ** 2 / m * mid * mid
        high = np.maximum(
            mid + np.sqrt(half2 - 0.5 * price_var * np.log(u[0])), np.maximum(open_, close)
        )
        low = np.minimum(
            mid - np.sqrt(half2 - 0.5 * price_var * np.log(u[1])), np.minimum(open_, close)
        )
        low = np.maximum(low, 0.5 * np.minimum(open_, close))
        if spec.quoted:
            day_move = abs(x_close - x_prev) / std
            lots = (
                spec.day_notional
                / spec.lot_value
                * (m * 60 / series.mean_day_seconds)
                * math.exp(0.25 * float(rng.standard_normal()) - 0.03)
                * (0.75 + 0.3 * day_move)
            )
            share = (
                weights * (0.5 + 0.5 * np.abs(shock)) * rng.standard_exponential((2, m)).sum(axis=0)
            )
            cumvol = np.floor(np.cumsum(share) * (lots / float(share.sum()))).astype(np.int64)
        else:
            cumvol = np.zeros(m, dtype=np.int64)
        iv = np.array(spans, dtype=np.int64)
        lengths = (iv[:, 1] - iv[:, 0]) // 60
        day = _Day(
            starts=starts,
            iv_start_us=iv[:, 0] * _US,
            iv_end_us=iv[:, 1] * _US,
            iv_offset=np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64),
            open=open_,
            high=high,
            low=low,
            close=close,
            cumvol=cumvol,
            profile=profile,
            scale=KNOT_WIGGLE * np.sqrt(price_var / KNOTS),
        )
        return self._days.put(key, day)

    def _knot_path(self, symbol: str, i: int) -> F64:
        """Return the day's sub-minute knots, shape (minutes, KNOTS + 1)."""
        series = self._series[symbol]
        ordinal = int(series.ordinals[i])
        key = (symbol, ordinal)
        known = self._knots.get(key)
        if known is not None:
            return known
        day = self._day(symbol, i)
        m = len(day.starts)
        rng = self._rng(self._specs[symbol], _KNOT, ordinal)
        steps = rng.standard_normal((m, KNOTS))
        at_high = rng.integers(1, KNOTS, m)
        at_low = 1 + (at_high - 1 + rng.integers(1, KNOTS - 1, m)) % (KNOTS - 1)
        walk = np.zeros((m, KNOTS + 1))
        np.cumsum(steps * day.scale[:, None], axis=1, out=walk[:, 1:])
        ends = np.full(m, KNOTS)
        pos = np.stack([np.zeros(m, dtype=np.int64), at_high, at_low, ends], axis=1)
        val = np.stack([day.open, day.high, day.low, day.close], axis=1)
        order = np.argsort(pos, axis=1)
        pos = np.take_along_axis(pos, order, axis=1)
        val = np.take_along_axis(val, order, axis=1)
        cols = np.arange(KNOTS + 1)
        seg = (cols >= pos[:, 1:2]).astype(np.int64) + (cols >= pos[:, 2:3]) + (cols >= pos[:, 3:4])
        seg = np.minimum(seg, 2)
        a = np.take_along_axis(pos, seg, axis=1)
        b = np.take_along_axis(pos, seg + 1, axis=1)
        frac = (cols - a) / (b - a)
        va = np.take_along_axis(val, seg, axis=1)
        vb = np.take_along_axis(val, seg + 1, axis=1)
        wa = np.take_along_axis(walk, a, axis=1)
        wb = np.take_along_axis(walk, b, axis=1)
        knots = va + frac * (vb - va) + (walk - wa - frac * (wb - wa))
        knots = np.clip(knots, day.low[:, None], day.high[:, None])
        rows = np.arange(m)
        knots[:, 0] = day.open
        knots[:, KNOTS] = day.close
        knots[rows, at_high] = day.high
        knots[rows, at_low] = day.low
        return self._knots.put(key, knots)

    # -- evaluation ----------------------------------------------------------------------------

    def _evaluate(self, symbol: str, t_us: I64) -> _Eval:
        """Return price, trading flag, day volume (lots) and profile at each instant."""
        series = self._ensure(symbol, int(t_us.max()) if len(t_us) else 0)
        n = len(t_us)
        price = np.empty(n)
        trading = np.zeros(n, dtype=np.bool_)
        volume = np.zeros(n, dtype=np.int64)
        profile = np.ones(n)
        day_index = np.searchsorted(series.first_us, t_us, side="right") - 1
        before = day_index < 0
        price[before] = series.close[0]
        for i in np.unique(day_index[~before]).tolist():
            sel = np.flatnonzero(day_index == i)
            t = t_us[sel]
            after = t >= series.last_us[i]
            if bool(after.all()):
                price[sel] = series.close[i + 1]
                volume[sel] = self._summary(symbol, i, None).volume
                continue
            day = self._day(symbol, i)
            j = np.searchsorted(day.iv_start_us, t, side="right") - 1
            inside = t < day.iv_end_us[j]
            last_minute = (
                day.iv_offset[j] + (day.iv_end_us[j] - day.iv_start_us[j]) // _MINUTE_US - 1
            )
            minute = np.where(
                inside, day.iv_offset[j] + (t - day.iv_start_us[j]) // _MINUTE_US, last_minute
            )
            price[sel] = day.close[minute]
            volume[sel] = day.cumvol[minute]
            if not bool(inside.any()):
                continue
            into = np.flatnonzero(inside)
            mins = minute[into]
            within = t[into] - day.starts[mins] * _US
            prev_cum = np.where(mins > 0, day.cumvol[mins - 1], 0)
            volume[sel[into]] = prev_cum + (within * (day.cumvol[mins] - prev_cum)) // _MINUTE_US
            knot = within // _KNOT_US
            frac = (within % _KNOT_US) / _KNOT_US
            values = day.open[mins]
            moving = np.flatnonzero(within > 0)
            if len(moving):
                knots = self._knot_path(symbol, i)
                km, kj = mins[moving], knot[moving]
                left = knots[km, kj]
                values[moving] = left + frac[moving] * (knots[km, kj + 1] - left)
            price[sel[into]] = values
            trading[sel[into]] = True
            profile[sel[into]] = day.profile[mins]
        return _Eval(price=price, trading=trading, volume=volume, profile=profile)

    def _quotes(self, symbol: str, t_us: I64) -> tuple[tuple[I64, ...], NDArray[np.bool_]]:
        spec = self._specs[symbol]
        ev = self._evaluate(symbol, t_us)
        ltp = _tick_units(ev.price, spec.tick, spec.tick_f)
        if not spec.quoted:
            zero = np.zeros(len(t_us), dtype=np.int64)
            return (ltp, ltp, ltp, zero, zero, ev.volume), ev.trading
        salt = np.uint64((spec.key ^ self._seed) & 0xFFFF_FFFF_FFFF_FFFF)
        h = _mix(t_us.astype(np.uint64) ^ salt)
        base = max(1, round(spec.spread_bp * 1e-4 * spec.price / spec.tick_f))
        spread = base * (1 + (ev.profile > 1.8)) + ((h & np.uint64(7)) == 0)
        spread = spread.astype(np.int64)
        if spec.bid_prints:
            below = np.zeros(len(t_us), dtype=np.int64)
        else:
            below = ((h >> np.uint64(8)) % (spread + 1).astype(np.uint64)).astype(np.int64)
        bid = np.maximum(ltp - below, 1)
        ask = bid + spread
        book = max(4.0, spec.book_notional / spec.lot_value)
        bid_size = (
            (1 + ((h >> np.uint64(16)) & np.uint64(15)).astype(np.int64)) * book / 8
        ).astype(np.int64) + 1
        ask_size = (
            (1 + ((h >> np.uint64(24)) & np.uint64(15)).astype(np.int64)) * book / 8
        ).astype(np.int64) + 1
        return (ltp, bid, ask, bid_size, ask_size, ev.volume), ev.trading

    # -- bars ----------------------------------------------------------------------------------

    def _minutes_until(
        self, symbol: str, i: int, until_us: int | None
    ) -> tuple[I64, F64, F64, F64, F64, I64]:
        """Return the day's minute bars, the last one cut at ``until_us`` if it is inside."""
        day = self._day(symbol, i)
        starts, o, h, lo, c, v = day.starts, day.open, day.high, day.low, day.close, day.cumvol
        if until_us is None or until_us >= int(starts[-1]) * _US + _MINUTE_US:
            return starts, o, h, lo, c, v
        full = int(np.searchsorted(starts * _US + _MINUTE_US, until_us, side="right"))
        if full < len(starts) and int(starts[full]) * _US < until_us:
            ev = self._evaluate(symbol, np.array([until_us], dtype=np.int64))
            knots = self._knot_path(symbol, i)[full]
            reached = (until_us - int(starts[full]) * _US) // _KNOT_US
            seen = np.append(knots[: reached + 1], ev.price[0])
            part_h = np.append(h[:full], seen.max())
            part_l = np.append(lo[:full], seen.min())
            part_c = np.append(c[:full], ev.price[0])
            part_v = np.append(v[:full], ev.volume[0])
            return starts[: full + 1], o[: full + 1], part_h, part_l, part_c, part_v
        return starts[:full], o[:full], h[:full], lo[:full], c[:full], v[:full]

    def _summary(self, symbol: str, i: int, until_us: int | None) -> _Summary:
        """Return the day's OHLCV (up to ``until_us`` if the day is not over by then)."""
        series = self._series[symbol]
        complete = until_us is None or until_us >= int(series.last_us[i])
        key = (symbol, int(series.ordinals[i]))
        if complete:
            known = self._summaries.get(key)
            if known is not None:
                return known
        _, o, h, lo, c, v = self._minutes_until(symbol, i, until_us)
        summary = _Summary(float(o[0]), float(h.max()), float(lo.min()), float(c[-1]), int(v[-1]))
        if complete:
            self._summaries[key] = summary
        return summary

    def _intraday_bars(self, symbol: str, i: int, length: int, s_us: int, e_us: int) -> _Bars:
        """Return the day's bars of ``length`` seconds that start in [s_us, e_us)."""
        series = self._series[symbol]
        if int(series.last_us[i]) <= s_us or int(series.first_us[i]) >= e_us:
            return _NO_BARS
        starts, o, h, lo, c, v = self._minutes_until(symbol, i, e_us)
        if length == 60:
            edges = np.arange(len(starts))
            bar_starts = starts
            highs, lows = h, lo
        else:
            ids = (starts - starts[0]) // length
            edges = np.concatenate([[0], np.flatnonzero(np.diff(ids)) + 1])
            bar_starts = starts[0] + ids[edges] * length
            highs = np.maximum.reduceat(h, edges)
            lows = np.minimum.reduceat(lo, edges)
        lasts = np.append(edges[1:] - 1, len(starts) - 1)
        before = np.where(edges > 0, v[np.maximum(edges - 1, 0)], 0)
        keep = (bar_starts >= -(-s_us // _US)) & (bar_starts * _US < e_us)
        prices = np.stack([o[edges], highs, lows, c[lasts]], axis=1)[keep]
        return bar_starts[keep], prices, (v[lasts] - before)[keep]

    def _make_candles(
        self, spec: _Spec, interval: str, starts: I64, prices: F64, volumes: I64
    ) -> list[Candle]:
        """Return candles of float OHLC rows (rounded to the tick) and volumes in lots."""
        units = _tick_units(prices.ravel(), spec.tick, spec.tick_f).reshape(prices.shape)
        rows = cast("list[list[int]]", units.tolist())
        tick, lot, multiply = spec.tick, spec.instrument.lot_size, _EXACT.multiply
        memo: dict[int, Decimal] = {}

        def price(u: int) -> Decimal:
            value = memo.get(u)
            if value is None:
                value = memo[u] = multiply(Decimal(u), tick)
            return value

        symbol = spec.instrument.symbol
        return [
            Candle(
                symbol,
                interval,
                datetime.fromtimestamp(start, UTC),
                price(o),
                price(h),
                price(lo),
                price(c),
                multiply(Decimal(v), lot),
            )
            for start, (o, h, lo, c), v in zip(starts.tolist(), rows, volumes.tolist(), strict=True)
        ]


_Bars = tuple[I64, F64, I64]
_NO_BARS: _Bars = (
    np.zeros(0, dtype=np.int64),
    np.zeros((0, 4), dtype=np.float64),
    np.zeros(0, dtype=np.int64),
)
_BATCH_FIELDS = ("ltp", "bid", "ask", "bid_size", "ask_size", "volume")
