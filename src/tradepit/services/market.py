"""Market-data use cases: instruments, quotes, candles, sessions, expiries, chains, dashboards."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

from tradepit.domain.analytics import iv_percentile
from tradepit.domain.errors import InvalidInput
from tradepit.domain.instruments import Instrument, Kind, Right, Venue
from tradepit.domain.market import INTERVALS, Candle
from tradepit.domain.sessions import SessionStatus
from tradepit.market.chains import LIVE, Chain, ChainSide
from tradepit.market.data import MarketData
from tradepit.schemas.market import (
    BuildupRead,
    CandleRead,
    ChainRead,
    DashboardRead,
    ExpectedMoveRead,
    InstrumentRead,
    MarketStatusRead,
    OptionRead,
    QuoteRead,
    SpotRead,
    StrikeRead,
    VenueStatusRead,
)

#: The most bars one request may ask for.
MAX_BARS = 50_000
#: Names clients use for intervals, mapped to ours.
INTERVAL_ALIASES = {
    "minute": "1m",
    "1minute": "1m",
    "5minute": "5m",
    "15minute": "15m",
    "60minute": "1h",
    "hour": "1h",
    "day": "1d",
    "1day": "1d",
    "d": "1d",
}


class BadInterval(InvalidInput):
    """The interval is not one of 1m, 5m, 15m, 1h, 1d."""

    code = "VALIDATION_ERROR"


class TooManyBars(InvalidInput):
    """The requested range holds more bars than one response may carry."""

    code = "VALIDATION_ERROR"


def instrument_read(instrument: Instrument) -> InstrumentRead:
    """Return the wire shape of an instrument."""
    return InstrumentRead(
        symbol=instrument.symbol,
        name=instrument.name,
        kind=instrument.kind,
        venue=instrument.venue,
        currency=instrument.currency,
        tick_size=float(instrument.tick_size),
        lot_size=float(instrument.lot_size),
        multiplier=float(instrument.multiplier),
        strike_step=float(instrument.strike_step) if instrument.strike_step else None,
        expiry_rule=instrument.expiry_rule,
        derivatives_venue=instrument.derivatives_venue,
        aliases=list(instrument.aliases),
        has_options=instrument.has_options,
        tradable=instrument.tradable,
    )


def instruments(market: MarketData, venue: Venue | None, kind: Kind | None) -> list[InstrumentRead]:
    """Return the catalogue, filtered by venue and kind."""
    return [instrument_read(i) for i in market.catalogue.select(kind=kind, venue=venue)]


def option_symbols(market: MarketData) -> list[InstrumentRead]:
    """Return the underlyings that have option chains (smd-options' symbols)."""
    return [instrument_read(i) for i in market.catalogue.with_options()]


def quote(market: MarketData, symbol: str) -> QuoteRead:
    """Return the quote of ``symbol``."""
    q = market.quote(symbol)
    t = q.tick
    return QuoteRead(
        symbol=t.symbol,
        ltp=float(t.ltp),
        bid=float(t.bid),
        ask=float(t.ask),
        bid_size=float(t.bid_size),
        ask_size=float(t.ask_size),
        open=float(q.open),
        high=float(q.high),
        low=float(q.low),
        close=float(q.previous_close),
        change=float(q.change),
        change_percent=float(q.change_percent),
        volume=float(t.volume),
        oi=float(t.oi) if t.oi is not None else None,
        session=q.session,
        timestamp=t.ts,
    )


def spot(market: MarketData, symbol: str) -> SpotRead:
    """Return smd-options' spot price of ``symbol``."""
    q = market.quote(symbol)
    return SpotRead(
        symbol=q.tick.symbol,
        spot_price=float(q.tick.ltp),
        change=float(q.change),
        change_percent=float(q.change_percent),
        previous_close=float(q.previous_close),
        timestamp=q.tick.ts,
    )


def normalise_interval(interval: str) -> str:
    """Return our name for ``interval`` or refuse it."""
    name = INTERVAL_ALIASES.get(interval.lower(), interval.lower())
    if name not in INTERVALS:
        raise BadInterval(f"interval must be one of {', '.join(INTERVALS)}; got '{interval}'")
    return name


def candle_read(candle: Candle) -> CandleRead:
    """Return the wire shape of a bar."""
    return CandleRead(
        timestamp=candle.start,
        open=float(candle.open),
        high=float(candle.high),
        low=float(candle.low),
        close=float(candle.close),
        volume=float(candle.volume),
    )


def history(
    market: MarketData, symbol: str, interval: str, start: datetime | None, end: datetime | None
) -> tuple[str, list[CandleRead]]:
    """Return bars of ``interval`` in [start, end); by default the last 500 bars' span."""
    name = normalise_interval(interval)
    seconds = INTERVALS[name]
    end = end or market.clock.now()
    if start is None:
        try:
            start = end - timedelta(seconds=seconds * 500 * (3 if name != "1d" else 1.5))
        except OverflowError:  # 'to' in the first days of year 1: start at the very beginning
            start = datetime.min.replace(tzinfo=end.tzinfo)
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput(
            "'from' and 'to' need a time-zone offset, e.g. 2026-11-27T09:15:00+05:30"
        )
    if end <= start:
        raise InvalidInput("'to' must be after 'from'")
    if (end - start).total_seconds() / seconds > MAX_BARS * 2:
        raise TooManyBars(f"at most {MAX_BARS} bars per request; narrow the range")
    bars = market.candles(symbol, name, start, end)
    return name, [candle_read(bar) for bar in bars[-MAX_BARS:]]


def history_days(
    market: MarketData, symbol: str, timeframe: str, days: int
) -> tuple[str, list[CandleRead]]:
    """Return the bars of the last ``days`` calendar days (smd-options' historical data)."""
    end = market.clock.now()
    return history(market, symbol, timeframe, end - timedelta(days=days), end)


def expiries(market: MarketData, symbol: str) -> tuple[list[date], list[date]]:
    """Return the listed expiries of ``symbol`` and which of them are monthly."""
    listed = market.expiries(symbol)
    return [e.date for e in listed], [e.date for e in listed if e.monthly]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _option(chain: Chain, side: ChainSide, i: int, right: Right) -> OptionRead:
    iv = _finite(float(side.iv[i]))
    return OptionRead(
        tradingsymbol=chain.option_symbol(i, right),
        ltp=round(float(side.ltp[i]), 2),
        bid=round(float(side.bid[i]), 2),
        ask=round(float(side.ask[i]), 2),
        change=round(float(side.change[i]), 2),
        volume=float(side.volume[i]),
        oi=float(side.oi[i]),
        change_in_oi=float(side.oi_change[i]),
        iv=round(iv * 100, 2) if iv is not None else None,
        delta=round(float(side.delta[i]), 4),
        gamma=round(float(side.gamma[i]), 6),
        theta=round(float(side.theta[i]), 4),
        vega=round(float(side.vega[i]), 4),
        rho=round(float(side.rho[i]), 4),
        label=str(side.label[i]),
        source="live" if side.source[i] == LIVE else "model",
    )


def chain_read(chain: Chain) -> ChainRead:
    """Return the wire shape of a chain."""
    strikes = [
        StrikeRead(
            strike=float(k),
            label=str(chain.calls.label[i]),
            CE=_option(chain, chain.calls, i, Right.CE),
            PE=_option(chain, chain.puts, i, Right.PE),
        )
        for i, k in enumerate(chain.strikes)
    ]
    return ChainRead(
        symbol=chain.underlying.symbol,
        expiry=chain.expiry,
        monthly=chain.monthly,
        spot_price=chain.spot,
        atm_strike=chain.atm_strike,
        days_to_expiry=round(chain.years_to_expiry * 365, 4),
        lot_size=float(chain.underlying.lot_size),
        timestamp=chain.at,
        strikes=strikes,
    )


def option_chain(market: MarketData, symbol: str, expiry: date | None) -> ChainRead:
    """Return the chain of ``symbol`` for ``expiry`` (nearest when None)."""
    return chain_read(market.chain(symbol, expiry))


def dashboard(market: MarketData, symbol: str, expiry: date | None) -> DashboardRead:
    """Return the chain metrics, from the same chain ``option_chain`` returns at this instant."""
    chain = market.chain(symbol, expiry)
    summary = chain.summary()
    atm = int(abs(chain.strikes - chain.atm_strike).argmin())
    # The mean of the ATM call's and put's IV; of the one that solved when a live price did not.
    solved = [
        iv for iv in (float(chain.calls.iv[atm]), float(chain.puts.iv[atm])) if math.isfinite(iv)
    ]
    atm_iv = sum(solved) / len(solved) if solved else math.nan
    history_iv = market.atm_iv_history(symbol)
    move = summary.expected_move
    oi = summary.open_interest
    return DashboardRead(
        symbol=chain.underlying.symbol,
        expiry=chain.expiry,
        spot_price=chain.spot,
        timestamp=chain.at,
        pcr_oi=summary.pcr_oi,
        pcr_volume=summary.pcr_volume,
        max_pain=summary.max_pain,
        total_ce_oi=oi.total_ce,
        total_pe_oi=oi.total_pe,
        ce_oi_change=oi.change_ce,
        pe_oi_change=oi.change_pe,
        atm_strike=summary.atm_strike,
        atm_iv=round(atm_iv * 100, 2) if math.isfinite(atm_iv) else None,
        iv_percentile=iv_percentile(float(history_iv[-1]), history_iv[:-1]),
        support=summary.support,
        resistance=summary.resistance,
        expected_move=ExpectedMoveRead(
            strike=move.strike, move=round(move.move, 2), percent=round(move.percent, 2)
        )
        if move
        else None,
        buildup=[
            BuildupRead(
                strike=float(k), CE=str(summary.ce_buildup[i]), PE=str(summary.pe_buildup[i])
            )
            for i, k in enumerate(chain.strikes)
        ],
    )


def _status_read(status: SessionStatus) -> VenueStatusRead:
    return VenueStatusRead(
        venue=status.venue,
        phase=status.phase.value,
        is_open=status.is_open,
        reason=status.reason,
        local_time=status.local_time,
        next_open=status.next_open,
        next_close=status.next_close,
        forced=status.forced,
    )


def market_status(market: MarketData) -> MarketStatusRead:
    """Return every venue's session status."""
    statuses = [_status_read(s) for s in market.statuses()]
    nse = next(s for s in statuses if s.venue is Venue.NSE)
    return MarketStatusRead(
        status=nse.phase,
        is_open=nse.is_open,
        market_hours="always" if market.always_open else "exchange",
        timestamp=market.clock.now(),
        venues=statuses,
    )
