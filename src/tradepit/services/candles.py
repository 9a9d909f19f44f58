"""paper-tournaments' frontend's market calls: the last N bars by Kite timeframe, bars by
instrument token, the current price, and instruments listed as Kite's instrument dump lists
them (tokens, and the option contracts of NFO and BFO).

The bars are the market's own (1m, 5m, 15m, 1h, 1d); Kite's other timeframes are made from
them: 3 and 10 minutes, 30 minutes, 4 hours by joining consecutive bars of one session day
from its first bar, weeks (ISO) and months by joining days.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import date, timedelta
from decimal import Decimal

from tradepit.domain.errors import InvalidInput, NotFound
from tradepit.domain.instruments import (
    Instrument,
    Kind,
    Right,
    Venue,
    derivative_symbol,
    instrument_token,
)
from tradepit.domain.market import INTERVALS, Candle
from tradepit.domain.sessions import venue_zone
from tradepit.market.chains import strikes_around
from tradepit.market.data import MarketData
from tradepit.schemas.candles import (
    BarRead,
    ChainOptionRead,
    KiteInstrumentRead,
    PaperChainRead,
    PriceRead,
    TokenBarsRead,
)
from tradepit.schemas.market import OptionRead
from tradepit.services.market import instrument_read, option_chain

#: Kite's timeframe names (and the frontend's) -> (our interval, how many of its bars make
#: one; 0: a week, -1: a month, both from days). Case matters: ``1M`` is a month, ``1m`` a
#: minute.
TIMEFRAMES: dict[str, tuple[str, int]] = {
    "minute": ("1m", 1), "1m": ("1m", 1), "3minute": ("1m", 3), "3m": ("1m", 3),
    "5minute": ("5m", 1), "5m": ("5m", 1), "10minute": ("5m", 2), "10m": ("5m", 2),
    "15minute": ("15m", 1), "15m": ("15m", 1), "30minute": ("15m", 2), "30m": ("15m", 2),
    "60minute": ("1h", 1), "1h": ("1h", 1), "4h": ("1h", 4),
    "day": ("1d", 1), "1d": ("1d", 1), "1D": ("1d", 1),
    "week": ("1d", 0), "1w": ("1d", 0), "month": ("1d", -1), "1M": ("1d", -1),
}  # fmt: skip
#: Most bars one answer carries (the seed's ``limit`` bound).
MAX_LIMIT = 1000
#: The furthest back a request looks for enough bars (a month chart: 120 bars at most).
MAX_LOOKBACK = timedelta(days=366 * 10)
#: Kite's exchanges, and ours, that ``exchange`` may name.
EXCHANGES = ("NSE", "BSE", "NFO", "BFO", "MCX", "OKX", "FX")
OPTION_TICK = Decimal("0.05")


class BadTimeframe(InvalidInput):
    """The timeframe is not one Kite or the frontend names."""

    code = "VALIDATION_ERROR"


class UnknownToken(NotFound):
    """No catalogue instrument has this instrument token."""

    code = "NOT_FOUND"


def _timeframe(name: str) -> tuple[str, int]:
    found = TIMEFRAMES.get(name) or TIMEFRAMES.get(name.lower())
    if found is None:
        raise BadTimeframe(f"timeframe must be one of {', '.join(TIMEFRAMES)}; got '{name}'")
    return found


def _bar(group: Sequence[Candle]) -> BarRead:
    return BarRead(
        timestamp=int(group[0].start.timestamp() * 1000),
        open=float(group[0].open),
        high=float(max(c.high for c in group)),
        low=float(min(c.low for c in group)),
        close=float(group[-1].close),
        volume=float(sum((c.volume for c in group), Decimal(0))),
    )


def join_bars(instrument: Instrument, candles: list[Candle], per: int) -> list[BarRead]:
    """Join ``per`` consecutive bars of each session day (from its first bar); ``0`` joins
    the days of an ISO week, ``-1`` those of a month."""
    if per == 1:
        return [_bar([c]) for c in candles]
    zone = venue_zone(instrument.venue)
    keys: list[Hashable] = []
    day, count = None, 0
    for candle in candles:
        local = candle.start.astimezone(zone).date()
        if per == 0:
            keys.append(local.isocalendar()[:2])
        elif per < 0:
            keys.append((local.year, local.month))
        else:
            count = count + 1 if local == day else 0
            day = local
            keys.append((local, count // per))
    bars: list[BarRead] = []
    start = 0
    for i in range(1, len(candles) + 1):
        if i == len(candles) or keys[i] != keys[start]:
            bars.append(_bar(candles[start:i]))
            start = i
    return bars


def bars(market: MarketData, symbol: str, timeframe: str, limit: int) -> list[BarRead]:
    """Return the last ``limit`` bars of ``timeframe`` up to now, oldest first."""
    base, per = _timeframe(timeframe)
    instrument = market.instrument(symbol)
    wanted = limit * (per if per > 0 else 7 if per == 0 else 31) + abs(per) + 1
    end = market.clock.now()
    zone = venue_zone(instrument.venue)
    span = timedelta(seconds=INTERVALS[base] * wanted)
    while True:
        # From a local midnight: the first session day is whole, its joins start at its open.
        local = (end - span).astimezone(zone)
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        candles = market.candles(instrument.symbol, base, start, end)
        if len(candles) >= wanted or span >= MAX_LOOKBACK:
            break
        span *= 2
    return join_bars(instrument, candles, per)[-limit:]


def by_token(market: MarketData, token: int) -> Instrument:
    """Return the catalogue instrument whose instrument token is ``token``."""
    instruments: list[Instrument] = list(market.catalogue)
    for instrument in instruments:
        if instrument_token(instrument.symbol, instrument.kite_token) == token:
            return instrument
    raise UnknownToken(
        f"no instrument has instrument_token {token}; see /api/candles/instruments, or ask "
        "by symbol: /api/candles/?symbol=..."
    )


def token_bars(market: MarketData, token: int, interval: str, limit: int) -> TokenBarsRead:
    """Return the last ``limit`` bars of the instrument ``token`` names."""
    instrument = by_token(market, token)
    return TokenBarsRead(
        instrument_token=token,
        symbol=instrument.symbol,
        interval=interval,
        candles=bars(market, instrument.symbol, interval, limit),
    )


def current_price(market: MarketData, symbol: str) -> PriceRead:
    """Return the last price of ``symbol`` (a contract's is its model or live quote's)."""
    tick = market.tick(symbol)
    return PriceRead(symbol=tick.symbol, price=float(tick.ltp), timestamp=tick.ts)


def _row(instrument: Instrument) -> KiteInstrumentRead:
    exchange = instrument.venue.value
    indices = instrument.kind is Kind.INDEX
    listed = instrument.venue in (Venue.NSE, Venue.BSE)
    return KiteInstrumentRead(
        **instrument_read(instrument).model_dump(),
        instrument_token=instrument_token(instrument.symbol, instrument.kite_token),
        tradingsymbol=instrument.symbol,
        exchange=exchange,
        segment="INDICES" if indices else exchange,
        instrument_type="EQ" if listed else instrument.kind.value,
    )


def _options(market: MarketData, venue: Venue, name: str | None) -> list[KiteInstrumentRead]:
    """Return the option contracts listed on ``venue`` now of the underlying ``name`` (by
    default of every index: a stock's are asked by name), at each listed expiry, at the strikes
    its chain shows (the same symbols, the same strikes)."""
    wanted = market.instrument(name).symbol if name else None
    rows = []
    for underlying in market.catalogue.with_options():
        if underlying.derivatives_venue is not venue:
            continue
        if underlying.symbol != wanted and (
            wanted is not None or underlying.kind is not Kind.INDEX
        ):
            continue
        assert underlying.strike_step is not None
        spot = float(market.tick(underlying.symbol).ltp)
        strikes = strikes_around(spot, float(underlying.strike_step))
        for expiry in market.expiries(underlying.symbol):
            for value in strikes.tolist():
                strike = Decimal(repr(round(value, 2))).normalize()
                for right in Right:
                    symbol = derivative_symbol(
                        underlying.symbol,
                        expiry.date,
                        monthly=expiry.monthly,
                        strike=strike,
                        right=right,
                    )
                    rows.append(
                        KiteInstrumentRead(
                            symbol=symbol,
                            name=underlying.symbol,
                            kind=Kind.OPTION,
                            venue=venue,
                            currency=underlying.currency,
                            tick_size=float(OPTION_TICK),
                            lot_size=float(underlying.lot_size),
                            multiplier=1.0,
                            strike_step=None,
                            expiry_rule=None,
                            derivatives_venue=None,
                            aliases=[],
                            has_options=False,
                            tradable=True,
                            instrument_token=instrument_token(symbol),
                            tradingsymbol=symbol,
                            exchange=venue.value,
                            segment=f"{venue.value}-OPT",
                            instrument_type=right.value,
                            expiry=expiry.date,
                            strike=float(strike),
                        )
                    )
    return rows


def kite_instruments(
    market: MarketData,
    exchange: str | None,
    venue: Venue | None,
    kind: Kind | None,
    name: str | None = None,
) -> list[KiteInstrumentRead]:
    """Return the catalogue filtered by venue and kind; with ``exchange`` (Kite's names), what
    that exchange lists: NSE and BSE their shares and indices, NFO and BFO the option
    contracts of their indices (of the underlying ``name`` when given), MCX nothing (no
    commodities here)."""
    if exchange is None:
        return [_row(i) for i in market.catalogue.select(kind=kind, venue=venue)]
    upper = exchange.upper()
    if upper not in EXCHANGES:
        raise InvalidInput(f"exchange must be one of {', '.join(EXCHANGES)}; got '{exchange}'")
    if upper == "MCX":
        return []
    if upper in ("NFO", "BFO"):
        return _options(market, Venue(upper), name)
    return [_row(i) for i in market.catalogue.select(kind=kind, venue=Venue(upper))]


def _listed(strike: float, expiry: date, option: OptionRead) -> ChainOptionRead:
    return ChainOptionRead(
        strike=strike,
        expiry=expiry,
        instrument_token=instrument_token(option.tradingsymbol),
        tradingsymbol=option.tradingsymbol,
        ltp=option.ltp,
        oi=option.oi,
        change=option.change,
        volume=option.volume,
        bid=option.bid,
        ask=option.ask,
        iv=option.iv,
    )


def paper_chain(market: MarketData, symbol: str, expiry: date | None) -> PaperChainRead:
    """Return the option chain (``services.market.option_chain``) with the seed's
    ``ce_options`` / ``pe_options`` beside it: the same options, nothing recomputed."""
    chain = option_chain(market, symbol, expiry)
    return PaperChainRead(
        **chain.model_dump(),
        expiry_date=chain.expiry,
        ce_options=[_listed(s.strike, chain.expiry, s.CE) for s in chain.strikes],
        pe_options=[_listed(s.strike, chain.expiry, s.PE) for s in chain.strikes],
    )
