"""Live crypto quotes through ccxt: poll an exchange's public tickers and deliver ticks.

``CcxtFeed("okx", instruments)`` loads the exchange's markets once, then calls
``fetch_tickers`` for the instruments' symbols every ``poll_interval`` seconds and delivers one
batch per poll. Only public market data is used: no API keys, nothing signed.

Symbols
    A catalogue symbol ``BASE-QUOTE`` (``BTC-USDT``) is the ccxt spot symbol ``BASE/QUOTE``
    (``BTC/USDT``). Instruments the exchange does not list are left out and named in the
    feed's ``detail``; when none is listed the feed fails.

Ticks
    ``ltp`` = ``last``, ``bid``/``ask`` = ``bid``/``ask`` (the last price when absent), sizes from
    ``bidVolume``/``askVolume`` (0 when absent), ``volume`` = ``baseVolume`` (0 when absent),
    ``ts`` from the ticker's ``timestamp`` (milliseconds, UTC; the clock's time when absent).
    Prices are rounded to the instrument's tick with ``round_to_tick``; sizes are the decimal
    spelling of ccxt's floats (``Decimal(str(x))``). A ticker without a last price is skipped,
    and so is one identical to the tick delivered before for its symbol.

Failures
    ``ccxt.NetworkError`` (which covers ``RateLimitExceeded``, ``ExchangeNotAvailable``,
    ``RequestTimeout``) and ``ccxt.ExchangeError`` put the feed in ``reconnecting`` with the
    error in ``detail``; it retries after ``backoff_base * 2**(n-1)`` seconds, at most
    ``backoff_cap``, and is ``running`` again after the next good poll. Any other error
    ends the feed (``failed``). On cancellation the exchange is closed (``await
    exchange.close()``), which releases its aiohttp session.

Pointing ccxt elsewhere (tests, proxies)
    ``exchange_config`` is passed to the ccxt constructor, which deep-merges it into the
    exchange's description. For OKX the REST base is ``urls.api.rest`` =
    ``"https://{hostname}"`` with ``hostname`` = ``"www.okx.com"``; every request goes to
    ``<rest>/api/v5/<path>``. So a stand-in on ``http://127.0.0.1:8000`` is reached with
    ``{"urls": {"api": {"rest": "http://127.0.0.1:8000"}}}`` (overriding ``hostname`` alone
    keeps ``https``; ``{"hostname": "127.0.0.1:8000", "urls": {"api": {"rest":
    "http://{hostname}"}}}`` works too). ccxt's OKX ``load_markets`` calls
    ``GET /api/v5/public/instruments`` once per type in ``options.fetchMarkets.types``
    (spot, future, swap, option by default; options once per ``defaultUnderlying``, BTC-USD and
    ETH-USD); ``{"options": {"fetchMarkets": {"types": ["spot"]}}}`` limits it to spot.
    ``fetchCurrencies`` needs keys on OKX and is skipped without them.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.async_support

from tradepit.domain.clock import Clock, SystemClock
from tradepit.domain.instruments import Instrument
from tradepit.domain.market import Tick, round_to_tick
from tradepit.market.feed import FeedState, TickSink

log = logging.getLogger("tradepit.feed")

#: ccxt errors after which the feed waits and tries again.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    ccxt.NetworkError,
    ccxt.ExchangeError,
    ccxt.RateLimitExceeded,
)
#: Longest error text kept in the feed's ``detail``.
DETAIL_LIMIT = 300

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ZERO = Decimal(0)


def ccxt_symbol(instrument: Instrument) -> str:
    """Return the ccxt spot symbol of ``instrument``: ``BTC-USDT`` is ``BTC/USDT``."""
    base, dash, quote = instrument.symbol.partition("-")
    if not dash or not base or not quote or "-" in quote:
        raise ValueError(f"cannot map {instrument.symbol!r} to a ccxt symbol: expected BASE-QUOTE")
    return f"{base}/{quote}"


def backoff_delay(failures: int, base: float, cap: float) -> float:
    """Return the wait after ``failures`` failures in a row: ``base`` doubling up to ``cap``."""
    if failures < 1:
        return 0.0
    return min(cap, base * 2.0 ** min(failures - 1, 64))


def _decimal(value: Any) -> Decimal:
    return _ZERO if value is None else Decimal(str(value))


def _price(value: Any, tick: Decimal) -> Decimal:
    return round_to_tick(float(value), tick)


def tick_from_ticker(
    ticker: Mapping[str, Any], instrument: Instrument, now: datetime
) -> Tick | None:
    """Return the tick of a ccxt unified ticker, or None when it has no last price.

    ``now`` stamps a ticker that carries no timestamp.
    """
    last = ticker.get("last")
    if last is None:
        return None
    tick_size = instrument.tick_size
    ltp = _price(last, tick_size)
    bid = ticker.get("bid")
    ask = ticker.get("ask")
    timestamp = ticker.get("timestamp")
    ts = now if timestamp is None else _EPOCH + timedelta(milliseconds=int(timestamp))
    return Tick(
        symbol=instrument.symbol,
        ts=ts,
        ltp=ltp,
        bid=ltp if bid is None else _price(bid, tick_size),
        ask=ltp if ask is None else _price(ask, tick_size),
        bid_size=_decimal(ticker.get("bidVolume")),
        ask_size=_decimal(ticker.get("askVolume")),
        volume=_decimal(ticker.get("baseVolume")),
    )


class SessionVolume:
    """Turn an exchange's rolling 24-hour volume into volume traded since 00:00 UTC.

    Ticks carry cumulative session volume (candles count its growth); a rolling 24-hour
    figure also falls as old trades leave the window. Only its rises count, from the first
    observation on, and the count restarts at each UTC midnight.
    """

    def __init__(self) -> None:
        self._seen: dict[str, tuple[date, Decimal, Decimal]] = {}

    def update(self, symbol: str, ts: datetime, rolling: Decimal) -> Decimal:
        """Return the session volume after observing ``rolling`` at ``ts``."""
        day = ts.date()
        seen = self._seen.get(symbol)
        if seen is None:
            total = Decimal(0)
        else:
            last_day, last_rolling, total = seen
            if day != last_day:
                total = Decimal(0)
            total += max(rolling - last_rolling, Decimal(0))
        self._seen[symbol] = (day, rolling, total)
        return total


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"


class CcxtFeed:
    """Poll a ccxt exchange's public tickers and deliver them as ticks."""

    def __init__(
        self,
        exchange_id: str,
        instruments: Sequence[Instrument],
        *,
        poll_interval: float = 1.0,
        exchange_config: dict[str, Any] | None = None,
        clock: Clock | None = None,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
    ) -> None:
        if exchange_id not in ccxt.async_support.exchanges:
            raise ValueError(
                f"unknown ccxt exchange {exchange_id!r}; ccxt.exchanges lists the known ids"
            )
        if not instruments:
            raise ValueError("a ccxt feed needs at least one instrument")
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        if backoff_base <= 0 or backoff_cap < backoff_base:
            raise ValueError("backoff needs 0 < backoff_base <= backoff_cap")
        self.exchange_id = exchange_id
        self.poll_interval = poll_interval
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.clock: Clock = clock or SystemClock()
        self._config = copy.deepcopy(exchange_config or {})
        self._instruments: dict[str, Instrument] = {}
        for instrument in instruments:
            self._instruments.setdefault(ccxt_symbol(instrument), instrument)
        self._listed: list[str] = []
        self._last: dict[str, Tick] = {}
        self._volume = SessionVolume()
        self._exchange: Any = None
        self.state = FeedState(
            kind=f"ccxt:{exchange_id}", symbols=[i.symbol for i in self._instruments.values()]
        )

    @property
    def exchange(self) -> Any:
        """Return the ccxt exchange of the current (or last) run; None before the first."""
        return self._exchange

    def _new_exchange(self) -> Any:
        exchange_class = getattr(ccxt.async_support, self.exchange_id)
        config: dict[str, Any] = {"enableRateLimit": True, **copy.deepcopy(self._config)}
        return exchange_class(config)

    async def run(self, sink: TickSink) -> None:
        """Deliver ticks to ``sink`` until cancelled; back off and retry on ccxt errors."""
        exchange = self._exchange = self._new_exchange()
        self._listed = []
        loop = asyncio.get_running_loop()
        failures = 0
        try:
            while True:
                started = loop.time()
                try:
                    batch = await self._poll(exchange)
                except TRANSIENT_ERRORS as exc:
                    failures += 1
                    delay = backoff_delay(failures, self.backoff_base, self.backoff_cap)
                    self.state.status = "reconnecting"
                    self.state.detail = _describe(exc)
                    log.warning(
                        "ccxt feed %s: %s; retry %d in %.2f s",
                        self.exchange_id,
                        self.state.detail,
                        failures,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    continue
                if failures:
                    log.info(
                        "ccxt feed %s: recovered after %d failures", self.exchange_id, failures
                    )
                failures = 0
                self.state.status = "running"
                self.state.detail = self._unlisted_note()
                if batch:
                    self.state.saw(batch)
                    await sink(batch)
                await asyncio.sleep(max(0.0, started + self.poll_interval - loop.time()))
        except asyncio.CancelledError:
            self.state.status = "stopped"
            raise
        except Exception as exc:
            self.state.status = "failed"
            self.state.detail = _describe(exc)
            raise
        finally:
            await exchange.close()

    async def _poll(self, exchange: Any) -> list[Tick]:
        if not self._listed:
            markets = await exchange.load_markets()
            if not exchange.has.get("fetchTickers"):
                raise ValueError(f"ccxt's {self.exchange_id} cannot fetch tickers")
            self._listed = [symbol for symbol in self._instruments if symbol in markets]
            if not self._listed:
                raise ValueError(
                    f"{self.exchange_id} lists none of {', '.join(self.state.symbols)}"
                )
            if len(self._listed) < len(self._instruments):
                log.warning("ccxt feed %s: %s", self.exchange_id, self._unlisted_note())
        tickers: Mapping[str, Mapping[str, Any]] = await exchange.fetch_tickers(self._listed)
        now = self.clock.now()
        batch: list[Tick] = []
        for symbol in self._listed:
            ticker = tickers.get(symbol)
            if ticker is None:
                continue
            tick = tick_from_ticker(ticker, self._instruments[symbol], now)
            if tick is None:
                continue
            tick = replace(tick, volume=self._volume.update(tick.symbol, tick.ts, tick.volume))
            if self._last.get(tick.symbol) == tick:
                continue
            self._last[tick.symbol] = tick
            batch.append(tick)
        return batch

    def _unlisted_note(self) -> str:
        missing = [
            instrument.symbol
            for symbol, instrument in self._instruments.items()
            if self._listed and symbol not in self._listed
        ]
        return f"not listed on {self.exchange_id}: {', '.join(missing)}" if missing else ""
