"""Live NSE/BSE market data through Zerodha's Kite Connect: the daily login and the tick feed.

Login (``KiteSession``)
    Kite access tokens live for one trading day: the operator logs in at ``login_url()``, Kite
    redirects with a ``request_token``, and ``exchange()`` trades it (with the API secret) for
    an access token that expires at 06:00 IST the next morning. ``instruments()`` reads Kite's
    instrument dump and maps our catalogue symbols to Kite instrument tokens;
    ``option_tokens()`` reads the NFO and BFO dumps and picks the option contracts to stream
    (the nearest expiries, the strikes nearest the spot), under the connection's token limit.

Feed (``KiteFeed``)
    ``KiteTicker`` (Twisted and autobahn) streams binary quote packets. Twisted's reactor can be
    started once per process and is not thread-safe, so this module owns it: the first feed
    starts ``reactor.run(installSignalHandlers=False)`` in a daemon thread (what KiteTicker's
    ``connect(threaded=True)`` does) and leaves it running for the life of the process; every
    feed, including one started after a token renewal, talks to its ticker only through
    ``reactor.callFromThread``. Ticker callbacks run in the reactor thread and hand their data
    to the feed's asyncio loop with ``loop.call_soon_threadsafe`` onto a queue. Stopping a feed
    closes its connection, never the reactor; an ``atexit`` hook stops the reactor at exit.

    Every instrument streams in ``full`` mode: for an index Kite then sends its 32-byte packet
    (last price, OHLC and the exchange timestamp; indices have no depth or volume), for
    anything tradable the 184-byte packet with five levels of depth, volume and open interest.

    The secure socket is opened with certificate and host-name verification
    (``optionsForClientTLS``), unlike ``KiteTicker.connect``, whose context factory verifies
    nothing although the access token travels in the URL (the kiteconnect internals this
    needs are in ``kiteconnect_adapter``).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any, Final
from urllib.parse import urlsplit

from kiteconnect import KiteConnect, KiteTicker
from kiteconnect.exceptions import KiteException
from twisted.internet import reactor as _twisted_reactor
from twisted.internet.error import ReactorNotRestartable

from tradepit.domain.instruments import Instrument, Kind, Right, Venue, derivative_symbol
from tradepit.domain.market import Tick
from tradepit.domain.sessions import IST
from tradepit.market.catalogue import Catalogue
from tradepit.market.feed import FeedLoginRefused, FeedState, TickSink
from tradepit.market.kiteconnect_adapter import open_ticker

log = logging.getLogger("tradepit.feed.kite")

# Twisted's reactor module is replaced by the installed reactor at import; type it loosely.
_reactor: Any = _twisted_reactor

#: Kite's trading symbols of the catalogue's indices (segment ``INDICES``).
KITE_INDEX_SYMBOLS: Final[Mapping[str, str]] = {
    "NIFTY": "NIFTY 50",
    "BANKNIFTY": "NIFTY BANK",
    "FINNIFTY": "NIFTY FIN SERVICE",
    "MIDCPNIFTY": "NIFTY MID SELECT",
    "SENSEX": "SENSEX",
}
#: When Kite access tokens expire: the next 06:00 in India.
TOKEN_EXPIRY: Final = time(6, 0)
#: Where the operator renews the access token (the admin routes).
RENEWAL_HINT: Final = (
    "renew the Kite access token: log in at the URL from GET /api/admin/feeds/kite/login-url, "
    'then POST /api/admin/feeds/kite/session {"request_token": ...}'
)
#: Reconnection: Kite's exponential backoff capped at a minute, for up to about five hours.
RECONNECT_MAX_TRIES: Final = 300
RECONNECT_MAX_DELAY: Final = 60
#: Seconds a stopping feed waits for Kite to acknowledge the close.
CLOSE_TIMEOUT: Final = 2.0
#: Kite streams at most this many instruments on one WebSocket connection.
MAX_TOKENS_PER_CONNECTION: Final = 3000
#: Options ``option_tokens`` picks at most by default: the connection's limit less room for the
#: catalogue's indices and stocks. The defaults (2 expiries, 41 strikes, calls and puts, for the
#: 15 underlyings of the shipped catalogue) need 2460.
OPTION_TOKEN_LIMIT: Final = MAX_TOKENS_PER_CONNECTION - 100
#: The option tick on NSE and BSE, for a dump row without one.
OPTION_TICK: Final = Decimal("0.05")
_OPTION_VENUES = frozenset({Venue.NFO, Venue.BFO})

_DERIVATIVES = frozenset({Kind.FUTURE, Kind.OPTION})
_REFUSED = re.compile(r"upgrade failed \(403\b")
_SECRET_IN_URL = re.compile(r"(access_token=)[^&\s'\"]+")
_EXACT = Context(prec=60, rounding=ROUND_HALF_EVEN)


class KiteError(FeedLoginRefused):
    """Kite refused or failed a request; the message is the broker's reason."""

    code = "KITE_ERROR"

    def __init__(self, message: str, *, status: int | None = None, kind: str = "") -> None:
        super().__init__(message)
        #: Kite's HTTP status, when Kite answered.
        self.status = status
        #: Kite's ``error_type`` (``TokenException``, ``InputException``...) or the failure.
        self.kind = kind


def _kite_error(exc: Exception) -> KiteError:
    if isinstance(exc, KiteException):
        message = str(exc) or type(exc).__name__
        return KiteError(message, status=getattr(exc, "code", None), kind=type(exc).__name__)
    return KiteError(f"Kite is unreachable: {exc}", kind=type(exc).__name__)


# ---------------------------------------------------------------------------------------------
# Login


@dataclass(frozen=True)
class KiteAccess:
    """A Kite session: the access token, whose it is, and when it stops working."""

    access_token: str = field(repr=False)
    user_id: str
    login_time: datetime
    expires_at: datetime


def token_expiry(login_time: datetime) -> datetime:
    """Return when a token issued at ``login_time`` (aware) expires: the next 06:00 IST, in UTC."""
    local = login_time.astimezone(IST)
    expiry = datetime.combine(local.date(), TOKEN_EXPIRY, tzinfo=IST)
    if expiry <= local:
        expiry += timedelta(days=1)
    return expiry.astimezone(UTC)


def _login_time(value: object) -> datetime:
    # KiteConnect parses Kite's "2026-11-27 08:55:03" (Indian time) into a naive datetime.
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            value = None
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=IST)
        return aware.astimezone(UTC)
    return datetime.now(UTC)


def map_instruments(
    rows: Iterable[Mapping[str, Any]], instruments: Iterable[Instrument]
) -> dict[str, int]:
    """Return our symbols mapped to Kite instrument tokens, from rows of Kite's dump.

    Indices match rows of segment ``INDICES`` on their venue by Kite's name for them
    (``KITE_INDEX_SYMBOLS``), then by symbol or alias; stocks match cash rows (segment = venue)
    by symbol, then alias. Instruments of other venues are skipped.
    """
    tokens: dict[tuple[str, str, str], int] = {}
    for row in rows:
        key = (str(row["exchange"]), str(row["segment"]), str(row["tradingsymbol"]))
        tokens.setdefault(key, int(row["instrument_token"]))
    found: dict[str, int] = {}
    for instrument in instruments:
        if instrument.venue not in (Venue.NSE, Venue.BSE):
            continue
        if instrument.kind is Kind.INDEX:
            segment = "INDICES"
            names = [KITE_INDEX_SYMBOLS.get(instrument.symbol, instrument.symbol)]
        elif instrument.kind is Kind.EQUITY:
            segment = instrument.venue.value
            names = []
        else:
            continue
        names += [instrument.symbol, *instrument.aliases]
        for name in names:
            token = tokens.get((instrument.venue.value, segment, name))
            if token is not None:
                found[instrument.symbol] = token
                break
        else:
            log.warning("no Kite instrument for %s", instrument.symbol)
    return found


@dataclass(frozen=True)
class OptionTokens:
    """Option contracts to stream: Kite tokens and our instruments, by Kite trading symbol."""

    tokens: dict[str, int]
    instruments: dict[str, Instrument]


def _row_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _row_decimal(value: object) -> Decimal:
    """Return a dump number (a float once KiteConnect parsed it) as the decimal it spelt."""
    number = Decimal(str(value))
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number


def _option_instrument(row: Mapping[str, Any], underlying: Instrument) -> Instrument | None:
    """Return our instrument for an option row of Kite's dump, or None when it does not fit.

    The trading symbol must be one ``derivative_symbol`` spells for the contract (weekly or
    monthly): the chains look options up by that symbol.
    """
    expiry = _row_date(row.get("expiry"))
    right = Right(str(row["instrument_type"]))
    strike = _row_decimal(row["strike"])
    if expiry is None or strike <= 0:
        return None
    symbol = str(row["tradingsymbol"])
    spelt = {
        derivative_symbol(underlying.symbol, expiry, monthly=monthly, strike=strike, right=right)
        for monthly in (True, False)
    }
    if symbol not in spelt:
        return None
    tick = _row_decimal(row.get("tick_size") or 0)
    lot = _row_decimal(row.get("lot_size") or 0)
    return Instrument(
        symbol=symbol,
        name=f"{underlying.symbol} {expiry.isoformat()} {strike} {right.value}",
        kind=Kind.OPTION,
        venue=Venue(str(row["exchange"])),
        currency=underlying.currency,
        tick_size=tick if tick > 0 else OPTION_TICK,
        lot_size=lot if lot > 0 else underlying.lot_size,
        underlying=underlying.symbol,
        expiry=expiry,
        strike=strike,
        right=right,
    )


_Listed = dict[str, dict[date, dict[Decimal, list[Mapping[str, Any]]]]]


def _listed_options(rows: Iterable[Mapping[str, Any]], known: Mapping[str, Instrument]) -> _Listed:
    """Return the option rows of the ``known`` underlyings by symbol, expiry and strike."""
    listed: _Listed = {}
    for row in rows:
        if row.get("instrument_type") not in ("CE", "PE"):
            continue
        underlying = known.get(str(row.get("name", "")))
        venue = underlying.derivatives_venue if underlying is not None else None
        expiry = _row_date(row.get("expiry"))
        if underlying is None or venue is None or expiry is None:
            continue
        if row.get("exchange") != venue.value:
            continue
        strikes = listed.setdefault(underlying.symbol, {}).setdefault(expiry, {})
        strikes.setdefault(_row_decimal(row["strike"]), []).append(row)
    return listed


def map_options(
    rows: Iterable[Mapping[str, Any]],
    underlyings: Sequence[Instrument],
    spot: Mapping[str, Decimal] | None = None,
    *,
    expiries_per_underlying: int = 2,
    strikes_each_side: int = 20,
    limit: int = OPTION_TOKEN_LIMIT,
) -> OptionTokens:
    """Return the option contracts of ``underlyings`` to stream, from rows of Kite's dump.

    Options are the NFO/BFO rows of instrument type CE or PE whose ``name`` is the underlying's
    symbol (Kite names NIFTY's options ``NIFTY``, RELIANCE's ``RELIANCE``) on the underlying's
    derivatives venue. For each underlying the nearest ``expiries_per_underlying`` expiries of
    the dump are taken (Kite lists live contracts only) and, in each, the strike nearest the
    spot (``spot``, by our symbol; the middle of the listed strikes when it has none) with
    ``strikes_each_side`` listed strikes on each side, calls and puts: by default the chain's 41
    strikes. When that makes more than ``limit`` contracts, the farthest strikes of the farthest
    expiries go first, across all underlyings alike. Rows whose trading symbol is not one
    ``derivative_symbol`` spells for the contract (weekly or monthly) are left out and counted
    in a warning: the chains could not find them.
    """
    known = {
        u.symbol: u for u in underlyings if u.has_options and u.derivatives_venue in _OPTION_VENUES
    }
    listed = _listed_options(rows, known)
    ranked: list[tuple[tuple[int, int, int, str], int, Instrument]] = []
    order = {symbol: n for n, symbol in enumerate(known)}
    misspelt = 0
    for symbol, by_expiry in listed.items():
        for expiry_rank, expiry in enumerate(sorted(by_expiry)[:expiries_per_underlying]):
            strikes = sorted(by_expiry[expiry])
            centre = (spot or {}).get(symbol)
            if centre is None:
                centre = strikes[(len(strikes) - 1) // 2]
            nearest = min(range(len(strikes)), key=lambda i: (abs(strikes[i] - centre), i))
            low = max(nearest - strikes_each_side, 0)
            for i in range(low, min(nearest + strikes_each_side + 1, len(strikes))):
                for row in by_expiry[expiry][strikes[i]]:
                    instrument = _option_instrument(row, known[symbol])
                    if instrument is None:
                        misspelt += 1
                        continue
                    key = (expiry_rank, abs(i - nearest), order[symbol], instrument.symbol)
                    ranked.append((key, int(row["instrument_token"]), instrument))
    if misspelt:
        log.warning("skipped %d Kite options whose trading symbols we do not spell", misspelt)
    ranked.sort(key=lambda item: item[0])
    if len(ranked) > limit:
        log.warning("%d Kite option contracts picked, keeping the %d nearest", len(ranked), limit)
        del ranked[max(limit, 0) :]
    return OptionTokens(
        tokens={instrument.symbol: token for _, token, instrument in ranked},
        instruments={instrument.symbol: instrument for _, _, instrument in ranked},
    )


def _dump_of(exchange: str) -> Callable[[Any], Any]:
    """Return the request for one exchange's instrument dump (``GET /instruments/NFO``)."""
    return lambda kite: kite.instruments(exchange)


class KiteSession:
    """Kite's daily login flow and instrument list.

    ``root`` is the REST API root (Kite's ``https://api.kite.trade`` by default) and
    ``login_root`` the login page (``https://kite.zerodha.com/connect/login``).
    """

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        root: str | None = None,
        login_root: str | None = None,
        *,
        catalogue: Catalogue | None = None,
    ) -> None:
        self.api_key = api_key
        self._api_secret = api_secret
        self.root = root
        self.login_root = login_root
        self._catalogue = catalogue

    def _client(self, access_token: str | None = None) -> Any:
        return KiteConnect(self.api_key, access_token=access_token, root=self.root)

    def login_url(self) -> str:
        """Return the URL where the operator logs in to Kite to get a request token: Kite's,
        or ``login_root`` with the query Kite's would have."""
        kite = self._client()
        try:
            url = str(kite.login_url())
        finally:
            kite.reqsession.close()
        if self.login_root is None:
            return url
        return f"{self.login_root}?{urlsplit(url).query}"

    async def exchange(self, request_token: str) -> KiteAccess:
        """Trade the request token from Kite's login redirect for an access token."""
        secret = self._api_secret
        response = await asyncio.to_thread(
            self._call, None, lambda kite: kite.generate_session(request_token, secret)
        )
        login_time = _login_time(response.get("login_time"))
        return KiteAccess(
            access_token=str(response["access_token"]),
            user_id=str(response.get("user_id", "")),
            login_time=login_time,
            expires_at=token_expiry(login_time),
        )

    async def instruments(self, access_token: str) -> dict[str, int]:
        """Return the catalogue's NSE/BSE symbols mapped to Kite instrument tokens."""
        rows = await asyncio.to_thread(self._call, access_token, lambda kite: kite.instruments())
        catalogue = self._catalogue if self._catalogue is not None else Catalogue.load()
        return map_instruments(rows, catalogue)

    async def option_tokens(
        self,
        access_token: str,
        underlyings: Sequence[Instrument],
        spot: Mapping[str, Decimal] | None = None,
        expiries_per_underlying: int = 2,
        strikes_each_side: int = 20,
        *,
        limit: int = OPTION_TOKEN_LIMIT,
    ) -> OptionTokens:
        """Return the option contracts of ``underlyings`` to stream, with their instruments.

        Reads the dumps of the underlyings' derivatives venues (``GET /instruments/NFO``,
        ``/instruments/BFO``) and picks contracts as ``map_options`` says: the nearest
        expiries, the strikes nearest ``spot`` (our symbol to its last price), at most
        ``limit`` contracts, so that they and the catalogue's instruments stay under Kite's
        ``MAX_TOKENS_PER_CONNECTION``.
        """
        venues = sorted(
            {
                u.derivatives_venue.value
                for u in underlyings
                if u.has_options and u.derivatives_venue in _OPTION_VENUES
            }
        )
        rows: list[Mapping[str, Any]] = []
        for venue in venues:
            rows += await asyncio.to_thread(self._call, access_token, _dump_of(venue))
        return map_options(
            rows,
            underlyings,
            spot,
            expiries_per_underlying=expiries_per_underlying,
            strikes_each_side=strikes_each_side,
            limit=limit,
        )

    def _call(self, access_token: str | None, request: Callable[[Any], Any]) -> Any:
        kite = self._client(access_token)
        try:
            return request(kite)
        except (KiteException, OSError) as exc:  # requests' errors are OSErrors
            raise _kite_error(exc) from exc
        finally:
            kite.reqsession.close()


# ---------------------------------------------------------------------------------------------
# Ticks


def _price(value: float, tick: Decimal) -> Decimal:
    """Return Kite's float price as the decimal it was sent as, on the instrument's tick grid."""
    exact = Decimal(str(value))
    units = _EXACT.divide(exact, tick).to_integral_value(ROUND_HALF_EVEN, _EXACT)
    return _EXACT.multiply(units, tick)


def _utc(value: object) -> datetime | None:
    """Return a ticker timestamp in UTC, or None when there is none.

    KiteTicker builds its timestamps with ``datetime.fromtimestamp``: naive, in the host's local
    time zone (Indian time only on a host set to Asia/Kolkata), so they are read back as local.
    """
    if not isinstance(value, datetime):
        return None
    aware = value.astimezone(UTC)  # a naive value is taken as the host's local time
    if aware.timestamp() <= 0:
        return None
    return aware


def _best(raw: Mapping[str, Any], side: str, tick: Decimal) -> tuple[Decimal, Decimal] | None:
    levels = (raw.get("depth") or {}).get(side) or []
    if not levels:
        return None
    best = levels[0]
    if not best.get("quantity") or not best.get("price"):
        return None
    return _price(best["price"], tick), Decimal(int(best["quantity"]))


def to_tick(raw: Mapping[str, Any], instrument: Instrument, received: datetime) -> Tick:
    """Return our tick for one of KiteTicker's tick dicts.

    Prices are the decimals Kite sent (``Decimal(str(price))``) rounded to the instrument's
    tick; bid and ask are the best depth levels, or the last price with size 0 when a side is
    empty or there is no depth (indices, quote and LTP modes). ``ts`` is the exchange
    timestamp, else the last trade time, else ``received``. Open interest is kept for
    derivatives (Kite sends 0 for cash instruments).
    """
    tick = instrument.tick_size
    ltp = _price(raw["last_price"], tick)
    bid, bid_size = _best(raw, "buy", tick) or (ltp, Decimal(0))
    ask, ask_size = _best(raw, "sell", tick) or (ltp, Decimal(0))
    oi = raw.get("oi")
    return Tick(
        symbol=instrument.symbol,
        ts=_utc(raw.get("exchange_timestamp")) or _utc(raw.get("last_trade_time")) or received,
        ltp=ltp,
        bid=bid,
        ask=ask,
        bid_size=bid_size,
        ask_size=ask_size,
        volume=Decimal(int(raw.get("volume_traded") or 0)),
        oi=Decimal(int(oi)) if oi is not None and instrument.kind in _DERIVATIVES else None,
    )


# ---------------------------------------------------------------------------------------------
# The reactor thread

_reactor_lock = threading.Lock()
_reactor_thread: threading.Thread | None = None


def _start_reactor() -> None:
    """Run Twisted's reactor in a daemon thread unless it already runs (blocks until it does)."""
    global _reactor_thread  # noqa: PLW0603 - one reactor per process
    with _reactor_lock:
        if _reactor.running:
            return
        stopped = RuntimeError("Twisted's reactor has stopped and cannot restart in this process")
        if _reactor_thread is not None:  # ours ran, and stopped
            raise stopped
        started = threading.Event()
        refused: list[ReactorNotRestartable] = []

        def run() -> None:
            try:
                _reactor.run(installSignalHandlers=False)
            except ReactorNotRestartable as exc:  # another part of the process ran it
                refused.append(exc)
                started.set()

        _reactor.callWhenRunning(started.set)
        thread = threading.Thread(target=run, name="kite-reactor", daemon=True)
        thread.start()
        if not started.wait(10):
            raise RuntimeError("Twisted's reactor did not start")
        if refused:
            raise stopped from refused[0]
        _reactor_thread = thread
        atexit.register(_stop_reactor)


def _redact(text: str) -> str:
    """Return ``text`` without the access token of a ticker URL."""
    return _SECRET_IN_URL.sub(r"\1***", text)


def _stop_reactor() -> None:
    """Stop the reactor at interpreter exit, closing the connections it still holds."""
    thread = _reactor_thread
    if thread is not None and _reactor.running:
        _reactor.callFromThread(_reactor.stop)
        thread.join(5)


#: What the reactor thread tells the feed: (kind, payload).
_Event = tuple[str, Any]


class _Bridge:
    """One ticker's callbacks, run in the reactor thread, posting events to the feed's loop."""

    def __init__(
        self,
        ticker: Any,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[_Event],
        tokens: Sequence[int],
        reconnect: bool,
    ) -> None:
        self.ticker = ticker
        self.loop = loop
        self.queue = queue
        self.tokens = list(tokens)
        self.reconnect = reconnect
        self.closing = False
        self.closed: concurrent.futures.Future[None] = concurrent.futures.Future()
        ticker.on_connect = self._guard(self.on_connect)
        ticker.on_ticks = self._guard(self.on_ticks)
        ticker.on_close = self._guard(self.on_close)
        ticker.on_error = self._guard(self.on_error)
        ticker.on_reconnect = self._guard(self.on_reconnect)
        ticker.on_noreconnect = self._guard(self.on_noreconnect)

    def _guard(self, callback: Any) -> Any:
        def guarded(*args: Any) -> None:
            try:
                callback(*args)
            except Exception:  # a callback must not break the reactor
                log.exception("Kite ticker callback failed")

        return guarded

    def post(self, kind: str, payload: Any = None) -> None:
        """Hand an event to the feed's loop (dropped once the loop is closed)."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.queue.put_nowait, (kind, payload))

    def connect(self) -> None:
        """Open the connection (in the reactor thread), as ``KiteTicker.connect`` does."""
        guarded = self._guard(self.on_connect_failed)
        try:
            open_ticker(self.ticker, lambda connector, reason: guarded(reason))
        except Exception as exc:
            message = f"cannot open the Kite ticker: {type(exc).__name__}: {_redact(str(exc))}"
            log.error(message)  # no traceback: it could carry the access token
            self.post("fatal", message)

    def shutdown(self) -> None:
        """Close the connection and stop reconnecting (in the reactor thread)."""
        self.closing = True
        if getattr(self.ticker, "factory", None) is None:  # never connected
            self._done()
            return
        self.ticker.stop_retry()
        if self.ticker.is_connected():
            self.ticker.close(1000, "feed stopped")
            _reactor.callLater(CLOSE_TIMEOUT, self._done)
        else:
            self._done()

    def _done(self) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def on_connect(self, ticker: Any, response: Any) -> None:
        if self.closing:  # stopped during the handshake
            ticker.close(1000, "feed stopped")
            return
        # After a reconnection KiteTicker resubscribes by itself.
        if not ticker.subscribed_tokens and self.tokens:
            ticker.subscribe(self.tokens)
            ticker.set_mode(ticker.MODE_FULL, self.tokens)
        self.post("connected")

    def on_ticks(self, ticker: Any, ticks: list[dict[str, Any]]) -> None:
        self.post("ticks", ticks)

    def on_close(self, ticker: Any, code: int | None, reason: object) -> None:
        if self.closing:
            # Again: a handshake completed after shutdown() re-arms retrying (the protocol's
            # onConnect calls factory.resetDelay(), which sets continueTrying).
            ticker.stop_retry()
            self._done()
            return
        text = f"{code} {reason}" if code is not None else str(reason or "closed")
        if _REFUSED.search(str(reason)):
            ticker.stop_retry()
            self.post("refused", text)
        elif not self.reconnect:
            ticker.stop_retry()
            self.post("fatal", f"connection closed ({text}); reconnection is off")
        else:
            self.post("closed", text)

    def on_connect_failed(self, reason: Any) -> None:
        if not self.closing:
            message = reason.getErrorMessage() if hasattr(reason, "getErrorMessage") else reason
            if self.reconnect:
                self.post("closed", f"cannot connect: {message}")
            else:
                self.ticker.stop_retry()
                self.post("fatal", f"cannot connect ({message}); reconnection is off")

    def on_error(self, ticker: Any, code: int | None, reason: object) -> None:
        # Closing errors arrive again through on_close; code 0 is a text error from Kite.
        if code == 0:
            self.post("message", f"Kite: {reason}")

    def on_reconnect(self, ticker: Any, attempt: int) -> None:
        if not self.closing:
            self.post("retry", attempt)

    def on_noreconnect(self, ticker: Any) -> None:
        if not self.closing:
            self.post("fatal", f"gave up after {ticker.reconnect_max_tries} reconnection attempts")


class KiteFeed:
    """Live ticks from Kite's WebSocket for the instruments in ``tokens``.

    ``tokens`` maps our symbols to Kite instrument tokens (``KiteSession.instruments``),
    ``instruments`` our symbols to their instruments (tick sizes, kinds). ``root`` is the
    WebSocket root (Kite's ``wss://ws.kite.trade`` by default). With ``reconnect`` off the feed
    ends at the first closed connection.
    """

    def __init__(
        self,
        api_key: str,
        access_token: str,
        tokens: Mapping[str, int],
        instruments: Mapping[str, Instrument],
        *,
        root: str | None = None,
        reconnect: bool = True,
    ) -> None:
        missing = sorted(set(tokens) - set(instruments))
        if missing:
            raise ValueError(f"no instrument for {', '.join(missing)}")
        self._api_key = api_key
        self._access_token = access_token
        self._by_token = {int(token): instruments[symbol] for symbol, token in tokens.items()}
        self.root = root
        self.reconnect = reconnect
        self.state = FeedState(kind="kite", symbols=sorted(tokens))

    async def run(self, sink: TickSink) -> None:
        """Deliver ticks to ``sink`` until cancelled; reconnect when the connection drops.

        Return when the feed cannot go on, with ``state`` saying why (``failed``): Kite refused
        the access token (HTTP 403 on the upgrade: renew it), reconnection gave up, or the
        connection closed with ``reconnect`` off. Ticks that pile up while ``sink`` is busy are
        conflated to the latest of each symbol.
        """
        self.state.status = "starting"
        self.state.detail = "connecting"
        bridge: _Bridge | None = None
        try:
            await asyncio.to_thread(_start_reactor)
            queue: asyncio.Queue[_Event] = asyncio.Queue()
            ticker = KiteTicker(
                self._api_key,
                self._access_token,
                root=self.root,
                reconnect_max_tries=RECONNECT_MAX_TRIES,
                reconnect_max_delay=RECONNECT_MAX_DELAY,
            )
            tokens = list(self._by_token)
            bridge = _Bridge(ticker, asyncio.get_running_loop(), queue, tokens, self.reconnect)
            _reactor.callFromThread(bridge.connect)
            await self._pump(queue, sink)
        except Exception as exc:
            self._set("failed", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            if self.state.status != "failed":
                self.state.status = "stopped"
            if bridge is not None:
                _reactor.callFromThread(bridge.shutdown)
                closed = asyncio.wrap_future(bridge.closed)
                await asyncio.wait([closed], timeout=CLOSE_TIMEOUT + 1)

    async def _pump(self, queue: asyncio.Queue[_Event], sink: TickSink) -> None:
        """Apply the reactor thread's events until one ends the feed."""
        while True:
            events = [await queue.get()]
            while not queue.empty():
                events.append(queue.get_nowait())
            pending: dict[str, Tick] = {}
            finished = False
            for kind, payload in events:
                if kind == "ticks":
                    self._collect(payload, pending)
                else:
                    finished = self._change(kind, payload) or finished
            if pending:
                batch = list(pending.values())
                self.state.saw(batch)
                await sink(batch)
            if finished:
                return

    def _collect(self, ticks: Sequence[Mapping[str, Any]], pending: dict[str, Tick]) -> None:
        received = datetime.now(UTC)
        for raw in ticks:
            instrument = self._by_token.get(raw.get("instrument_token", -1))
            if instrument is None:
                continue
            try:
                tick = to_tick(raw, instrument, received)
            except (KeyError, TypeError, ValueError, ArithmeticError):
                log.warning("skipped a malformed Kite tick for %s", instrument.symbol)
                continue
            pending.pop(tick.symbol, None)
            pending[tick.symbol] = tick
        self._set("running", self.state.detail if self.state.status == "running" else "")

    def _change(self, kind: str, payload: Any) -> bool:
        """Apply a connection event to the state; return True when the feed is over."""
        if kind == "connected":
            self._set("running", "")
        elif kind == "closed":
            self._set("reconnecting", f"connection lost: {payload}")
        elif kind == "retry":
            reason = self.state.detail.split("; retry")[0]
            self._set("reconnecting", f"{reason}; retry {payload}")
        elif kind == "message":
            self.state.detail = _redact(str(payload))
        elif kind == "refused":
            self._set("failed", f"Kite refused the access token ({payload}): {RENEWAL_HINT}")
            return True
        elif kind == "fatal":
            self._set("failed", str(payload))
            return True
        return False

    def _set(self, status: str, detail: str) -> None:
        detail = _redact(detail)
        if (status, detail) != (self.state.status, self.state.detail):
            log.info("kite feed %s %s", status, detail)
        self.state.status = status
        self.state.detail = detail
