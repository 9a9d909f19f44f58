"""Market data by Kite's names and tokens: the instrument dump (CSV), quotes, LTP, OHLC and
historical candles, from the same market data every other route reads.

What Kite lists here: the catalogue's NSE and BSE shares and indices, the listed futures of
every underlying with derivatives, and the options of the indices at their listed expiries
and the strikes their chains show. Tokens follow ``domain.kite``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from tradepit.domain.errors import InvalidInput, NotFound
from tradepit.domain.fills import quantity_step
from tradepit.domain.instruments import (
    Instrument,
    Kind,
    Right,
    Venue,
    derivative_symbol,
)
from tradepit.domain.kite import (
    KITE_VENUES,
    KITE_ZONE,
    TIME_FORMAT,
    exchange_token,
    kite_iso,
    kite_time,
    segment,
    token_of,
    trading_symbol,
)
from tradepit.domain.market import Tick
from tradepit.market.chains import strikes_around
from tradepit.market.data import MarketData, Quote
from tradepit.market.derivatives import listed_futures
from tradepit.services.candles import TIMEFRAMES, join_bars

#: The instrument dump's columns, in Kite's order.
CSV_HEADER = (
    "instrument_token",
    "exchange_token",
    "tradingsymbol",
    "name",
    "last_price",
    "expiry",
    "strike",
    "tick_size",
    "lot_size",
    "instrument_type",
    "segment",
    "exchange",
)
OPTION_TICK = Decimal("0.05")
#: Most instruments one call may ask for (Kite's limits).
MAX_QUOTES = 500
MAX_LTP = 1000
#: Kite's intervals, and the longest span each may ask for in one call (Kite's limits).
INTERVALS: dict[str, timedelta] = {
    "minute": timedelta(days=60),
    "3minute": timedelta(days=100),
    "5minute": timedelta(days=100),
    "10minute": timedelta(days=100),
    "15minute": timedelta(days=200),
    "30minute": timedelta(days=200),
    "60minute": timedelta(days=400),
    "day": timedelta(days=2000),
}
DEPTH = 5


class UnknownInstrument(InvalidInput):
    """An exchange and symbol, or a token, that names nothing Kite lists here."""

    code = "KITE_INSTRUMENT_INVALID"


class BadRange(InvalidInput):
    """A historical range or interval Kite would refuse."""

    code = "KITE_RANGE_INVALID"


@dataclass(frozen=True)
class Listed:
    """One line of the instrument dump."""

    token: int
    symbol: str
    tradingsymbol: str
    name: str
    exchange: str
    segment: str
    instrument_type: str
    tick_size: Decimal
    lot_size: Decimal
    expiry: date | None = None
    strike: Decimal | None = None

    def row(self) -> list[str]:
        """Return the CSV cells."""
        return [
            str(self.token),
            str(exchange_token(self.token)),
            self.tradingsymbol,
            self.name,
            "0",
            self.expiry.isoformat() if self.expiry else "",
            _number(self.strike or Decimal(0)),
            _number(self.tick_size),
            _number(self.lot_size),
            self.instrument_type,
            self.segment,
            self.exchange,
        ]


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def exchange_of(instrument: Instrument) -> str:
    """Return Kite's exchange of an instrument (an index's is its venue's)."""
    return instrument.venue.value


def _spot(instrument: Instrument) -> Listed:
    name = segment(instrument)
    assert name is not None
    return Listed(
        token=token_of(instrument.symbol, name, instrument.kite_token),
        symbol=instrument.symbol,
        tradingsymbol=trading_symbol(instrument),
        name=instrument.name.upper(),
        exchange=exchange_of(instrument),
        segment=name,
        instrument_type="EQ",
        tick_size=instrument.tick_size,
        lot_size=quantity_step(instrument),
    )


def _derivatives(market: MarketData, underlying: Instrument) -> Iterator[Listed]:
    venue = underlying.derivatives_venue
    assert venue is not None and underlying.strike_step is not None
    today = market.clock.now().astimezone(KITE_ZONE).date()
    for expiry in listed_futures(underlying, market.calendar, today):
        symbol = derivative_symbol(underlying.symbol, expiry, monthly=True)
        yield Listed(
            token=token_of(symbol, venue.value),
            symbol=symbol,
            tradingsymbol=symbol,
            name=underlying.symbol,
            exchange=venue.value,
            segment=f"{venue.value}-FUT",
            instrument_type="FUT",
            tick_size=underlying.tick_size,
            lot_size=underlying.lot_size,
            expiry=expiry,
        )
    if underlying.kind is not Kind.INDEX:
        return  # a stock's options are traded by symbol; the dump lists the indices'
    spot = float(market.tick(underlying.symbol).ltp)
    strikes = strikes_around(spot, float(underlying.strike_step))
    for listed in market.expiries(underlying.symbol):
        for value in strikes.tolist():
            strike = Decimal(repr(round(value, 2))).normalize()
            for right in Right:
                symbol = derivative_symbol(
                    underlying.symbol, listed.date, monthly=listed.monthly, strike=strike,
                    right=right,
                )  # fmt: skip
                yield Listed(
                    token=token_of(symbol, venue.value),
                    symbol=symbol,
                    tradingsymbol=symbol,
                    name=underlying.symbol,
                    exchange=venue.value,
                    segment=f"{venue.value}-OPT",
                    instrument_type=right.value,
                    tick_size=OPTION_TICK,
                    lot_size=underlying.lot_size,
                    expiry=listed.date,
                    strike=strike,
                )


def listing(market: MarketData, exchange: str | None = None) -> list[Listed]:
    """Return what Kite lists here (on ``exchange`` only, when given)."""
    if exchange is not None and exchange not in {v.value for v in KITE_VENUES}:
        raise InvalidInput(f"Invalid `exchange`: one of NSE, BSE, NFO, BFO; got '{exchange}'")
    spots = [i for i in market.catalogue if i.venue in (Venue.NSE, Venue.BSE)]
    found = [_spot(i) for i in spots if exchange in (None, i.venue.value)]
    if exchange in (None, "NFO", "BFO"):
        for underlying in spots:
            venue = underlying.derivatives_venue
            if (
                venue is not None
                and underlying.strike_step is not None
                and (exchange in (None, venue.value))
            ):
                found.extend(_derivatives(market, underlying))
    return found


def instruments_csv(market: MarketData, exchange: str | None) -> str:
    """Return the instrument dump as Kite's CSV."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(line.row() for line in listing(market, exchange.upper() if exchange else None))
    return out.getvalue()


def resolve(market: MarketData, exchange: str, tradingsymbol: str) -> Instrument:
    """Return the instrument Kite's ``exchange`` and ``tradingsymbol`` name."""
    try:
        instrument = market.instrument(tradingsymbol)
    except NotFound as exc:
        raise UnknownInstrument(f"Invalid `tradingsymbol`: {exc.message}") from exc
    if segment(instrument) is None or exchange_of(instrument) != exchange.upper():
        raise UnknownInstrument(f"Invalid `tradingsymbol`: {exchange}:{tradingsymbol}")
    return instrument


#: The segment codes of futures and options (their tokens need the derivatives' listing).
_DERIVATIVE_SEGMENTS = frozenset({2, 5})


def tokens(market: MarketData, wanted: Iterable[int]) -> dict[int, Instrument]:
    """Return the instruments of the ``wanted`` tokens that name one (the others are left
    out). Shares and indices are looked up in the catalogue; the derivatives' listing is
    made only when a futures or options token is asked for."""
    order = list(wanted)
    asked = set(order)
    found: dict[int, Instrument] = {}
    for instrument in market.catalogue:
        if instrument.venue in (Venue.NSE, Venue.BSE):
            line = _spot(instrument)
            if line.token in asked:
                found[line.token] = instrument
    if any(t & 0xFF in _DERIVATIVE_SEGMENTS for t in asked - found.keys()):
        for line in listing(market):
            if line.token in asked and line.token not in found:
                found[line.token] = market.instrument(line.symbol)
    return {token: found[token] for token in order if token in found}


def by_token(market: MarketData, token: int) -> Instrument:
    """Return the instrument a Kite token names."""
    found = tokens(market, [token])
    if token not in found:
        raise UnknownInstrument(f"Invalid `instrument_token`: {token}")
    return found[token]


def _keys(keys: list[str], limit: int) -> list[str]:
    if len(keys) > limit:
        raise InvalidInput(f"Too many instruments: at most {limit} per call")
    return keys


def _each(market: MarketData, keys: list[str]) -> Iterator[tuple[str, Instrument, Quote]]:
    """Yield the instruments ``EXCHANGE:SYMBOL`` keys name, with their quotes; a key that
    names nothing is left out, as Kite does."""
    for key in keys:
        exchange, _, symbol = key.partition(":")
        try:
            instrument = resolve(market, exchange, symbol)
            quote = market.quote(instrument.symbol)
        except (InvalidInput, NotFound):
            continue
        yield key, instrument, quote


def _f(value: Decimal) -> float:
    return float(value)


def _ohlc(quote: Quote) -> dict[str, float]:
    return {
        "open": _f(quote.open),
        "high": _f(quote.high),
        "low": _f(quote.low),
        "close": _f(quote.previous_close),
    }


def _token(instrument: Instrument) -> int:
    name = segment(instrument)
    assert name is not None
    return token_of(instrument.symbol, name, instrument.kite_token)


def depth(tick: Tick) -> dict[str, list[dict[str, float | int]]]:
    """Return five levels of depth each side: the best bid and ask, then empty levels."""

    def side(price: Decimal, size: Decimal) -> list[dict[str, float | int]]:
        first = {"price": _f(price), "quantity": int(size), "orders": 1 if size > 0 else 0}
        return [first] + [{"price": 0.0, "quantity": 0, "orders": 0}] * (DEPTH - 1)

    return {"buy": side(tick.bid, tick.bid_size), "sell": side(tick.ask, tick.ask_size)}


def quote(market: MarketData, keys: list[str]) -> dict[str, Any]:
    """Return Kite's full quotes of ``keys``."""
    found: dict[str, Any] = {}
    for key, instrument, q in _each(market, _keys(keys, MAX_QUOTES)):
        tick = q.tick
        at = kite_time(tick.ts)
        found[key] = {
            "instrument_token": _token(instrument),
            "timestamp": at,
            "last_trade_time": at,
            "last_price": _f(tick.ltp),
            "last_quantity": 0,
            "buy_quantity": int(tick.bid_size),
            "sell_quantity": int(tick.ask_size),
            "volume": int(tick.volume),
            "average_price": _f(tick.ltp),
            "oi": int(tick.oi or 0),
            "oi_day_high": int(tick.oi or 0),
            "oi_day_low": int(tick.oi or 0),
            "net_change": _f(q.change),
            "lower_circuit_limit": 0.0,
            "upper_circuit_limit": 0.0,
            "ohlc": _ohlc(q),
            "depth": depth(tick),
        }
    return found


def ohlc(market: MarketData, keys: list[str]) -> dict[str, Any]:
    """Return Kite's OHLC quotes of ``keys``."""
    return {
        key: {"instrument_token": _token(i), "last_price": _f(q.tick.ltp), "ohlc": _ohlc(q)}
        for key, i, q in _each(market, _keys(keys, MAX_LTP))
    }


def ltp(market: MarketData, keys: list[str]) -> dict[str, Any]:
    """Return Kite's last prices of ``keys``."""
    return {
        key: {"instrument_token": _token(i), "last_price": _f(q.tick.ltp)}
        for key, i, q in _each(market, _keys(keys, MAX_LTP))
    }


def _when(text: str, field: str) -> datetime:
    for pattern in (TIME_FORMAT, "%Y-%m-%d"):
        try:
            return datetime.strptime(text.strip(), pattern).replace(tzinfo=KITE_ZONE)
        except ValueError:
            continue
    raise BadRange(f"Invalid `{field}`: use yyyy-mm-dd or yyyy-mm-dd hh:mm:ss")


def historical(
    market: MarketData, token: int, interval: str, start: str, end: str, oi: bool
) -> dict[str, Any]:
    """Return the candles of ``interval`` from ``start`` to ``end`` (India's wall clock,
    both included), oldest first: ``[time, open, high, low, close, volume(, oi)]``."""
    if interval not in INTERVALS:
        raise BadRange(f"Invalid `interval`: one of {', '.join(INTERVALS)}")
    begin, until = _when(start, "from"), _when(end, "to")
    if len(end.strip()) == 10:
        until += timedelta(days=1)  # a date alone means the whole day
    else:
        until += timedelta(seconds=1)
    if until <= begin:
        raise BadRange("`from` must be before `to`")
    if until - begin > INTERVALS[interval] + timedelta(days=1):
        raise BadRange(f"interval exceeds max limit: {INTERVALS[interval].days} days")
    instrument = by_token(market, token)
    base, per = TIMEFRAMES[interval]
    bars = join_bars(instrument, market.candles(instrument.symbol, base, begin, until), per)
    candles: list[list[Any]] = []
    for bar in bars:
        at = datetime.fromtimestamp(bar.timestamp / 1000, UTC)
        if interval == "day":  # Kite dates a day's candle at India's midnight
            at = datetime.combine(at.astimezone(KITE_ZONE).date(), time(0), KITE_ZONE)
        row: list[Any] = [kite_iso(at), bar.open, bar.high, bar.low, bar.close, int(bar.volume)]
        if oi:
            row.append(0)
        candles.append(row)
    return {"candles": candles}
