"""Market-data use cases: instruments, quotes, candles, sessions, expiries, chains, dashboards."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta

from tradepit.domain.analytics import iv_percentile
from tradepit.domain.errors import InvalidInput
from tradepit.domain.instruments import Instrument, Kind, Right, Venue
from tradepit.domain.market import INTERVALS, Candle
from tradepit.domain.sessions import SessionStatus
from tradepit.market.chains import LIVE, Chain, ChainSide, SessionRange
from tradepit.market.data import MarketData
from tradepit.market.derivatives import QUOTE_LOTS
from tradepit.market.feed import Feed
from tradepit.schemas.market import (
    BuildupRead,
    CandleRead,
    ChainRead,
    ChainRowRead,
    DashboardRead,
    DayOhlcRead,
    ExpectedMoveRead,
    ExpiryDatesRead,
    FeedCheckRead,
    FlatChainRead,
    InstrumentRead,
    MarketStatusRead,
    OptionRead,
    QuoteRead,
    SessionOhlcRead,
    SpotRead,
    StrikeRead,
    SymbolListsRead,
    VenueStatusRead,
)
from tradepit.services.feeds import FeedRunner

#: The most bars one request may ask for.
MAX_BARS = 50_000
#: Names clients use for intervals, mapped to ours.
INTERVAL_ALIASES = {
    "minute": "1m",
    "1minute": "1m",
    "1min": "1m",
    "5minute": "5m",
    "5min": "5m",
    "15minute": "15m",
    "15min": "15m",
    "60minute": "1h",
    "hour": "1h",
    "1hour": "1h",
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
        quote_currency=instrument.quote_currency if instrument.settles_in_base else None,
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
        price=float(q.tick.ltp),
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
    change, change_percent = _spot_change(chain)
    return DashboardRead(
        symbol=chain.underlying.symbol,
        expiry=chain.expiry,
        spot_price=chain.spot,
        change=change,
        change_percent=change_percent,
        total_ce_volume=float(chain.calls.volume.sum()),
        total_pe_volume=float(chain.puts.volume.sum()),
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
        market_open=nse.is_open,
        market_status=nse.phase,
        next_open=nse.next_open,
        next_close=nse.next_close,
    )


# --- smd-options' own frontend's routes -------------------------------------------------------


def ohlc_bars(
    market: MarketData,
    symbol: str,
    interval: str,
    start: date | datetime | None,
    end: date | datetime | None,
) -> list[CandleRead]:
    """Return the bars of ``interval`` from ``start`` to ``end``; a date is a whole UTC day
    (``end`` included)."""

    def instant(value: date | datetime | None, next_day: bool) -> datetime | None:
        if value is None or isinstance(value, datetime):
            return value
        if next_day and value == date.max:
            return datetime.max.replace(tzinfo=UTC)
        return datetime.combine(value + timedelta(days=int(next_day)), time(), UTC)

    return history(market, symbol, interval, instant(start, False), instant(end, True))[1]


def _day(candle: Candle) -> DayOhlcRead:
    return DayOhlcRead(
        date=candle.start.date(),
        open=float(candle.open),
        high=float(candle.high),
        low=float(candle.low),
        close=float(candle.close),
        volume=float(candle.volume),
    )


def session_ohlc(market: MarketData, symbol: str) -> SessionOhlcRead:
    """Return the session's OHLC (closing at the last price) and the previous session's, from
    the quote and the daily bars; a future or an option has no previous day of its own."""
    q = market.quote(symbol)
    previous = None
    if market.instrument(symbol).underlying is None:
        now = market.clock.now()
        bars = market.candles(symbol, "1d", now - timedelta(days=14), now)
        previous = _day(bars[-2]) if len(bars) > 1 else None
    return SessionOhlcRead(
        symbol=q.tick.symbol,
        current_day=DayOhlcRead(
            date=q.session,
            open=float(q.open),
            high=float(q.high),
            low=float(q.low),
            close=float(q.tick.ltp),
            volume=float(q.tick.volume),
        ),
        previous_day=previous,
        live_price=float(q.tick.ltp),
        reference_price=float(q.previous_close),
        timestamp=q.tick.ts,
    )


def _spot_change(chain: Chain) -> tuple[float, float]:
    change = chain.spot - chain.previous_close
    percent = change * 100 / chain.previous_close if chain.previous_close else 0.0
    return round(change, 2), round(percent, 2)


def _flat_side(
    prefix: str, option: OptionRead, sessions: SessionRange, i: int, intrinsic: float, size: float
) -> dict[str, object]:
    previous_close = option.ltp - option.change
    figures: dict[str, object] = {
        **option.model_dump(),
        "oi_change": option.change_in_oi,
        "change_percent": round(option.change * 100 / previous_close, 2) if previous_close else 0.0,
        "bid_qty": size,
        "ask_qty": size,
        "open": round(float(sessions.open[i]), 2),
        "high": round(float(sessions.high[i]), 2),
        "low": round(float(sessions.low[i]), 2),
        "close": option.ltp,
        "prev_open": round(float(sessions.prev_open[i]), 2),
        "prev_high": round(float(sessions.prev_high[i]), 2),
        "prev_low": round(float(sessions.prev_low[i]), 2),
        "prev_close": round(previous_close, 2),
        "intrinsic": round(intrinsic, 2),
        "time_val": round(option.ltp - intrinsic, 2),
    }
    return {f"{prefix}_{name}": value for name, value in figures.items()}


def flat_chain(market: MarketData, symbol: str, expiry: date | None) -> FlatChainRead:
    """Return the chain of ``symbol`` for ``expiry`` (nearest when None) in smd-options' flat
    rows, with its totals, PCR and max pain (the dashboard's, from the same chain)."""
    chain = market.chain(symbol, expiry)
    calls, puts = market.option_sessions(chain)
    summary = chain.summary()
    size = float(chain.underlying.lot_size) * QUOTE_LOTS
    rows = []
    for i, k in enumerate(chain.strikes):
        strike = float(k)
        row: dict[str, object] = {"strike_price": strike}
        row |= _flat_side(
            "ce", _option(chain, chain.calls, i, Right.CE), calls, i,
            max(chain.spot - strike, 0.0), size,
        )  # fmt: skip
        row |= _flat_side(
            "pe", _option(chain, chain.puts, i, Right.PE), puts, i,
            max(strike - chain.spot, 0.0), size,
        )  # fmt: skip
        rows.append(ChainRowRead.model_validate(row))
    change, change_percent = _spot_change(chain)
    return FlatChainRead(
        symbol=chain.underlying.symbol,
        expiry=chain.expiry,
        monthly=chain.monthly,
        spot_price=chain.spot,
        previous_close=chain.previous_close,
        change=change,
        change_percent=change_percent,
        atm_strike=chain.atm_strike,
        days_to_expiry=round(chain.years_to_expiry * 365, 4),
        lot_size=float(chain.underlying.lot_size),
        total_ce_oi=summary.open_interest.total_ce,
        total_pe_oi=summary.open_interest.total_pe,
        total_ce_volume=float(chain.calls.volume.sum()),
        total_pe_volume=float(chain.puts.volume.sum()),
        pcr_oi=summary.pcr_oi,
        pcr_volume=summary.pcr_volume,
        max_pain=summary.max_pain,
        timestamp=chain.at,
        option_chain=rows,
    )


def expiry_dates(market: MarketData, symbol: str) -> ExpiryDatesRead:
    """Return the listed expiries of ``symbol`` and which of them are monthly."""
    listed, monthly = expiries(market, symbol)
    return ExpiryDatesRead(expiry_dates=listed, monthly=monthly)


def symbol_lists(market: MarketData) -> SymbolListsRead:
    """Return the catalogue in smd-options' lists: indices with options, stocks, stocks with
    options (no commodities: the catalogue has no MCX contracts)."""
    optionable = market.catalogue.with_options()
    indices = [i.symbol for i in optionable if i.kind is Kind.INDEX]
    stocks = [i.symbol for i in market.catalogue.select(kind=Kind.EQUITY)]
    with_options = [i.symbol for i in optionable if i.kind is Kind.EQUITY]
    return SymbolListsRead(
        indices=indices,
        stocks=stocks,
        commodities=[],
        stocks_with_options=with_options,
        all=indices + stocks,
        total_indices=len(indices),
        total_stocks=len(stocks),
        total_commodities=0,
        total_stocks_with_options=len(with_options),
        total_symbols=len(indices) + len(stocks),
        last_updated=market.clock.now(),
    )


def feed_check(runner: FeedRunner, feed: Feed | None, now: datetime) -> FeedCheckRead:
    """Tell whether market data flows: always on the simulator, which reads its own path and
    needs no connection; on a live or replayed feed, while the feed runs."""
    state = feed.state if feed is not None else None
    status = state.status if state is not None else "not_started"
    modelled = runner.book is None
    detail = state.detail if state is not None else ""
    if modelled and not detail:
        detail = "the simulator needs no connection"
    return FeedCheckRead(
        success=modelled or status == "running",
        feed=state.kind if state is not None else None,
        status=status,
        detail=detail,
        timestamp=now,
    )
