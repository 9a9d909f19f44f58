"""Simulated option chains: prices from Black-Scholes on a smile, OI that evolves through the day.

For an underlying and an expiry at an instant, the chain lists ``2 * STRIKES_EACH_SIDE + 1``
strikes around the at-the-money strike. Each option is priced with Black-Scholes on the spot
with a dividend yield (NSE and BSE index and stock options are European and cash-settled on the
spot), at the volatility of ``smile_vol`` around an at-the-money volatility on a term
structure. Open interest and volume are a deterministic function of (seed, underlying, expiry,
session day): a bell around the money, heavier in out-of-the-money options and at round
strikes, moving from the previous session's close to the day's close along the session.

On a live feed that quotes options, ``overlay_quotes`` replaces the model's figures of each
option with a tick by the market's: prices, volume and OI from the tick, the implied volatility
solved back from its price, and the greeks at that volatility. ``ChainSide.source`` tells which
options are live and which are the model's.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import Decimal
from typing import Final

import numpy as np
from numpy.typing import NDArray

from tradepit.domain import analytics, options
from tradepit.domain.instruments import Instrument, Kind, Right, derivative_symbol
from tradepit.domain.market import Tick
from tradepit.domain.sessions import VenueCalendar, venue_zone

F64 = NDArray[np.float64]

#: Strikes on each side of the at-the-money strike.
STRIKES_EACH_SIDE = 20
#: Risk-free rate (continuously compounded), near the Indian 91-day T-bill yield.
RISK_FREE = 0.06
#: Dividend yields: indices and single stocks.
DIVIDEND_YIELD = {Kind.INDEX: 0.012, Kind.EQUITY: 0.006}
#: Options trade on a 0.05 tick on NSE and BSE.
OPTION_TICK = 0.05
#: Options expire at the close, 15:30 in the venue's zone.
EXPIRY_TIME = time(15, 30)
SESSION_OPEN = time(9, 15)
SESSION_MINUTES = 375
YEAR_SECONDS = 365.0 * 86_400
#: ``ChainSide.source`` of an option quoted by the feed, and of one priced by the model.
LIVE: Final = "live"
MODEL: Final = "model"


@dataclass(frozen=True)
class ChainSide:
    """One side (calls or puts) of a chain; arrays aligned with the chain's strikes.

    ``source`` says, per option, whether its figures are the feed's (``LIVE``) or the model's
    (``MODEL``).
    """

    ltp: F64
    bid: F64
    ask: F64
    change: F64
    iv: F64
    delta: F64
    gamma: F64
    theta: F64
    vega: F64
    rho: F64
    oi: F64
    oi_change: F64
    volume: F64
    label: NDArray[np.str_]
    source: NDArray[np.str_]


@dataclass(frozen=True)
class Chain:
    """An option chain of one underlying and expiry at one instant."""

    underlying: Instrument
    expiry: date
    monthly: bool
    at: datetime
    spot: float
    previous_close: float
    years_to_expiry: float
    atm_strike: float
    strikes: F64
    calls: ChainSide
    puts: ChainSide

    def option_symbol(self, i: int, right: Right) -> str:
        """Return the trading symbol (Kite's) of the ``right`` option at strike ``i``."""
        strike = Decimal(repr(round(float(self.strikes[i]), 2))).normalize()
        return derivative_symbol(
            self.underlying.symbol, self.expiry, monthly=self.monthly, strike=strike, right=right
        )

    def summary(self) -> analytics.ChainSummary:
        """Return the dashboard figures, computed from this chain's own arrays."""
        return analytics.summarise_chain(
            self.strikes,
            spot=self.spot,
            ce_oi=self.calls.oi,
            pe_oi=self.puts.oi,
            ce_volume=self.calls.volume,
            pe_volume=self.puts.volume,
            ce_oi_change=self.calls.oi_change,
            pe_oi_change=self.puts.oi_change,
            ce_ltp=self.calls.ltp,
            pe_ltp=self.puts.ltp,
            ce_price_change=self.calls.change,
            pe_price_change=self.puts.change,
        )


def years_to_expiry(expiry: date, at: datetime, instrument: Instrument) -> float:
    """Return the time from ``at`` to the expiry's close, in years of 365 days (0 after it)."""
    zone = venue_zone(instrument.derivatives_venue or instrument.venue)
    close = datetime.combine(expiry, EXPIRY_TIME, zone)
    return max((close - at).total_seconds(), 0.0) / YEAR_SECONDS


def session_progress(
    at: datetime, instrument: Instrument, calendar: VenueCalendar
) -> tuple[date, float]:
    """Return the session day ``at`` belongs to and how far through it is (0 to 1).

    Before the open, or on a day without trading, it is the previous trading day, complete.
    """
    local = at.astimezone(venue_zone(instrument.venue))
    today = local.date()
    opened = datetime.combine(today, SESSION_OPEN, local.tzinfo)
    if calendar.is_trading_day(today) and local >= opened:
        elapsed = (local - opened).total_seconds() / 60
        return today, min(elapsed / SESSION_MINUTES, 1.0)
    return calendar.previous_trading_day(today), 1.0


def strikes_around(spot: float, step: float, each_side: int = STRIKES_EACH_SIDE) -> F64:
    """Return the listed strikes: the multiple of ``step`` nearest spot and ``each_side`` around."""
    atm = round(spot / step) * step
    return atm + step * np.arange(-each_side, each_side + 1, dtype=np.float64)


def _rng(seed: int, *parts: object) -> np.random.Generator:
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=16).digest()
    return np.random.default_rng(list(np.frombuffer(digest, dtype=np.uint32)))


def _oi_profile(
    strikes: F64,
    spot: float,
    step: float,
    vol_t: float,
    is_call: bool,
    scale: float,
    rng: np.random.Generator,
) -> F64:
    distance = np.log(strikes / spot) / max(vol_t, 1e-4)
    out_of_money = distance > 0 if is_call else distance < 0
    bell = np.exp(-0.5 * (distance / 1.4) ** 2)
    tilt = np.where(out_of_money, 1.0, 0.35)
    round_strike = np.where(np.isclose(np.mod(strikes, step * 10), 0), 1.8, 1.0)
    round_strike = np.where(
        np.isclose(np.mod(strikes, step * 2), 0), round_strike * 1.2, round_strike
    )
    noise = rng.lognormal(0.0, 0.25, size=strikes.shape)
    return scale * bell * tilt * round_strike * noise


def _oi_scale(underlying: Instrument, spot: float, weeks_out: float) -> float:
    notional = 3e11 if underlying.kind is Kind.INDEX else 1.5e10
    return notional / spot / (1.0 + weeks_out)


def _round_lots(values: F64, lot: float) -> F64:
    return np.maximum(np.round(values / lot), 0.0) * lot


def _tick(values: F64) -> F64:
    return np.maximum(np.round(values / OPTION_TICK), 0.0) * OPTION_TICK


def model_prices(
    underlying: Instrument, strikes: F64, spot: float, years: float, atm_vol: float
) -> tuple[F64, F64]:
    """Return the model's call and put prices of ``strikes`` on the option tick, with the
    underlying at ``spot`` and ``years`` to expiry: Black-Scholes at ``smile_vol`` around the
    ATM volatility's term structure, as a chain prices its options and their previous close."""
    q = DIVIDEND_YIELD.get(underlying.kind, 0.0)
    t = max(years, 1e-6)
    forward = spot * math.exp((RISK_FREE - q) * years)
    iv = options.smile_vol(float(options.term_vol(atm_vol, t)), np.log(strikes / forward), t)
    calls, puts = (
        _tick(options.price(spot, strikes, years, RISK_FREE, iv, is_call, q=q))
        for is_call in (True, False)
    )
    return calls, puts


def build_chain(
    underlying: Instrument,
    expiry: date,
    *,
    monthly: bool,
    at: datetime,
    spot: float,
    previous_close: float,
    previous_close_at: datetime,
    atm_vol: float,
    calendar: VenueCalendar,
    seed: int,
) -> Chain:
    """Return the simulated chain of ``underlying`` for ``expiry`` at ``at``."""
    if underlying.strike_step is None:
        raise ValueError(f"{underlying.symbol} has no options")
    step = float(underlying.strike_step)
    q = DIVIDEND_YIELD.get(underlying.kind, 0.0)
    t_now = years_to_expiry(expiry, at, underlying)
    t_prev = years_to_expiry(expiry, previous_close_at, underlying)
    strikes = strikes_around(spot, step)
    forward = spot * math.exp((RISK_FREE - q) * t_now)
    base_vol = float(options.term_vol(atm_vol, max(t_now, 1e-6)))
    iv = options.smile_vol(base_vol, np.log(strikes / forward), max(t_now, 1e-6))
    previous = model_prices(underlying, strikes, previous_close, t_prev, atm_vol)
    day, progress = session_progress(at, underlying, calendar)
    before = calendar.previous_trading_day(day)
    weeks_out = max(t_now * 52.0, 0.0)
    scale = _oi_scale(underlying, spot, weeks_out)
    lot = float(underlying.lot_size)
    vol_t = base_vol * math.sqrt(max(t_now, 1.0 / 365))
    labels_ce, labels_pe = analytics.moneyness_labels(strikes, spot, step)
    source = np.full(strikes.shape, MODEL)
    sides: list[ChainSide] = []
    for is_call, labels, prev in ((True, labels_ce, previous[0]), (False, labels_pe, previous[1])):
        g = options.greeks(spot, strikes, t_now, RISK_FREE, iv, is_call, q=q)
        key = (underlying.symbol, expiry.toordinal(), is_call)
        oi_prev = _oi_profile(
            strikes,
            previous_close,
            step,
            vol_t,
            is_call,
            scale,
            _rng(seed, *key, before.toordinal()),
        )
        oi_close = _oi_profile(
            strikes, spot, step, vol_t, is_call, scale, _rng(seed, *key, day.toordinal())
        )
        shape = progress * (2.0 - progress)  # most OI changes early in the session
        oi = _round_lots(oi_prev + (oi_close - oi_prev) * shape, lot)
        turnover = _rng(seed, *key, day.toordinal(), "volume").lognormal(0.0, 0.3, strikes.shape)
        volume = _round_lots(oi * 1.8 * turnover * progress**0.8, lot)
        ltp = _tick(g.price)
        spread = np.maximum(OPTION_TICK, _tick(ltp * 0.004))
        sides.append(
            ChainSide(
                ltp=ltp,
                bid=np.maximum(ltp - spread, 0.0),
                ask=ltp + spread,
                change=ltp - prev,
                iv=np.asarray(iv, dtype=np.float64),
                delta=g.delta,
                gamma=g.gamma,
                theta=g.theta,
                vega=g.vega,
                rho=g.rho,
                oi=oi,
                oi_change=oi - _round_lots(oi_prev, lot),
                volume=volume,
                label=labels,
                source=source,
            )
        )
    return Chain(
        underlying=underlying,
        expiry=expiry,
        monthly=monthly,
        at=at,
        spot=spot,
        previous_close=previous_close,
        years_to_expiry=t_now,
        atm_strike=analytics.atm_strike(strikes, spot),
        strikes=strikes,
        calls=sides[0],
        puts=sides[1],
    )


@dataclass(frozen=True)
class SessionRange:
    """The session ranges of one side of a chain, aligned with its strikes: today's open, high
    and low, and the previous session's open, high, low and close."""

    open: F64
    high: F64
    low: F64
    prev_open: F64
    prev_high: F64
    prev_low: F64
    prev_close: F64


def session_ranges(
    chain: Chain,
    today: tuple[float, float, float] | None,
    before: tuple[float, float, float] | None,
    *,
    years_before: float,
    atm_vol: float,
) -> tuple[SessionRange, SessionRange]:
    """Return the calls' and puts' session ranges: the model re-priced at the underlying's
    ``today`` open, high and low (at the chain's instant, as a contract's quote is) and at
    ``before``, the previous session's (at its close, as the previous close is). The ranges
    hold the last price and the previous close (``ltp - change``); a missing day's levels are
    those two prices alone."""

    def levels(bar: tuple[float, float, float] | None, years: float) -> list[tuple[F64, F64]]:
        if bar is None:
            return []
        return [model_prices(chain.underlying, chain.strikes, x, years, atm_vol) for x in bar]

    now = levels(today, chain.years_to_expiry)
    then = levels(before, years_before)
    ranges = []
    for i, side in enumerate((chain.calls, chain.puts)):
        closed = side.ltp - side.change
        here = [prices[i] for prices in now] + [side.ltp]
        there = [prices[i] for prices in then] + [closed]
        ranges.append(
            SessionRange(
                open=here[0],
                high=np.max(here, axis=0),
                low=np.min(here, axis=0),
                prev_open=there[0],
                prev_high=np.max(there, axis=0),
                prev_low=np.min(there, axis=0),
                prev_close=closed,
            )
        )
    return ranges[0], ranges[1]


def overlay_quotes(
    chain: Chain, calls: Sequence[Tick | None], puts: Sequence[Tick | None]
) -> Chain:
    """Return ``chain`` with the market's figures for each option that has a usable tick.

    ``calls`` and ``puts`` hold the latest tick of each option, aligned with the chain's
    strikes (None where the feed has none). For an option with a tick:

    - ``ltp``, ``bid``, ``ask``, ``volume`` and ``oi`` are the tick's (OI stays the model's
      when the tick has none);
    - ``iv`` is solved back (``options.implied_vol``) from the mid price when both sides are
      quoted and sane (sizes above 0, ``0 < bid <= ask``), else from the last price, with
      Black-Scholes on the chain's spot, rate (``RISK_FREE``) and dividend yield
      (``DIVIDEND_YIELD``), the constants ``build_chain`` prices with. It is NaN where no
      volatility reproduces the price (below intrinsic value, at or past expiry);
    - the greeks are recomputed at that volatility; where it is NaN they stay the model's;
    - ``change`` and ``oi_change`` stay the model's: ticks carry no previous close or previous
      open interest, and the live price less the model's close would mix the market's volatility
      level into the change;
    - ``source`` is ``LIVE``.

    A tick with neither a sane two-sided quote nor a last price above 0 says nothing about the
    price and is ignored. The chain is returned unchanged when no option has a usable tick.
    """
    q = DIVIDEND_YIELD.get(chain.underlying.kind, 0.0)
    call_side = _overlay_side(chain, chain.calls, calls, is_call=True, q=q)
    put_side = _overlay_side(chain, chain.puts, puts, is_call=False, q=q)
    if call_side is chain.calls and put_side is chain.puts:
        return chain
    return replace(chain, calls=call_side, puts=put_side)


def _two_sided(tick: Tick) -> bool:
    return tick.bid_size > 0 and tick.ask_size > 0 and 0 < tick.bid <= tick.ask


def _overlay_side(
    chain: Chain, side: ChainSide, ticks: Sequence[Tick | None], *, is_call: bool, q: float
) -> ChainSide:
    if len(ticks) != chain.strikes.size:
        raise ValueError(f"{len(ticks)} ticks for {chain.strikes.size} strikes")
    found = [
        (i, tick)
        for i, tick in enumerate(ticks)
        if tick is not None and (tick.ltp > 0 or _two_sided(tick))
    ]
    if not found:
        return side
    at = np.array([i for i, _ in found], dtype=np.intp)
    live = [tick for _, tick in found]
    ltp = np.array([float(t.ltp) for t in live], dtype=np.float64)
    bid = np.array([float(t.bid) for t in live], dtype=np.float64)
    ask = np.array([float(t.ask) for t in live], dtype=np.float64)
    quoted = np.array([_two_sided(t) for t in live], dtype=np.bool_)
    target = np.where(quoted, 0.5 * (bid + ask), ltp)
    strikes = chain.strikes[at]
    t = chain.years_to_expiry
    iv = options.implied_vol(target, chain.spot, strikes, t, RISK_FREE, is_call, q=q)
    solved = np.isfinite(iv)
    g = options.greeks(chain.spot, strikes, t, RISK_FREE, np.where(solved, iv, 0.0), is_call, q=q)

    def put(model: F64, values: F64) -> F64:
        out = model.copy()
        out[at] = values
        return out

    def greek(model: F64, values: F64) -> F64:
        return put(model, np.where(solved, values, model[at]))

    oi = np.array([float(t.oi) if t.oi is not None else np.nan for t in live], dtype=np.float64)
    source = side.source.copy()
    source[at] = LIVE
    return replace(
        side,
        ltp=put(side.ltp, ltp),
        bid=put(side.bid, bid),
        ask=put(side.ask, ask),
        iv=put(side.iv, iv),
        delta=greek(side.delta, g.delta),
        gamma=greek(side.gamma, g.gamma),
        theta=greek(side.theta, g.theta),
        vega=greek(side.vega, g.vega),
        rho=greek(side.rho, g.rho),
        oi=put(side.oi, np.where(np.isnan(oi), side.oi[at], oi)),
        volume=put(side.volume, np.array([float(t.volume) for t in live], dtype=np.float64)),
        source=source,
    )


def realised_atm_vol(closes: F64, base: float, window: int = 20) -> F64:
    """Return an at-the-money implied volatility for each day from realised volatility.

    ``0.6 * base + 0.4 * realised(window days) + 1 point`` of risk premium: implied volatility
    follows realised volatility, as on a real market, so its percentile carries information.
    """
    if closes.size < 2:
        return np.full(closes.shape, base + 0.01)
    returns = np.diff(np.log(closes), prepend=np.log(closes[0]))
    squares = np.convolve(returns**2, np.ones(window), mode="full")[: closes.size]
    counts = np.minimum(np.arange(1, closes.size + 1), window)
    realised = np.sqrt(squares / counts * 252.0)
    return 0.6 * base + 0.4 * realised + 0.01
