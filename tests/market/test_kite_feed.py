"""The Kite Connect login and live feed against local stand-ins of Kite's REST and WebSocket APIs.

The REST stand-in (Starlette under uvicorn) answers Kite's JSON envelopes and its CSV instrument
dump; the WebSocket stand-in (``websockets``) checks the credentials in the URL, refuses a bad
token with HTTP 403 on the upgrade as Kite does, and streams binary packets laid out exactly as
``KiteTicker._parse_binary`` reads them. No test touches the internet.

Twisted's reactor runs once per process: the first feed starts it in a daemon thread and every
later feed (each test's) reuses it, so the tests run in any order and pytest exits cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import ipaddress
import json
import os
import socket
import ssl
import struct
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kiteconnect import KiteTicker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twisted.internet.ssl import Certificate, optionsForClientTLS
from websockets.asyncio.server import Server as WsServer
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request as WsRequest
from websockets.http11 import Response as WsResponse

from tests.standins import Collector, running, until
from tests.standins import serve as serve_http
from tradepit.domain.instruments import Instrument, Kind, Venue
from tradepit.domain.market import Tick
from tradepit.domain.sessions import IST
from tradepit.libraries import Pin
from tradepit.market import kiteconnect_adapter
from tradepit.market.catalogue import Catalogue
from tradepit.market.kite_feed import (
    KiteAccess,
    KiteError,
    KiteFeed,
    KiteSession,
    map_instruments,
    to_tick,
    token_expiry,
)

API_KEY = "kite-key"
API_SECRET = "kite-secret"
REQUEST_TOKEN = "request-token-ok"
ACCESS_TOKEN = "access-token-ok"
#: A token whose first connection the stand-in drops after one frame.
FLAKY_TOKEN = "access-token-flaky"
#: A token whose upgrade the stand-in answers after 0.3 s.
SLOW_TOKEN = "access-token-slow"
VALID_TOKENS = (ACCESS_TOKEN, FLAKY_TOKEN, SLOW_TOKEN)

# -- Kite's instrument dump (real column layout and rows of the shape Kite publishes) ---------

INSTRUMENTS_CSV = (
    "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,"
    "lot_size,instrument_type,segment,exchange\n"
    "256265,1001,NIFTY 50,NIFTY 50,0,,0,0,0,EQ,INDICES,NSE\n"
    "260105,1016,NIFTY BANK,NIFTY BANK,0,,0,0,0,EQ,INDICES,NSE\n"
    "738561,2885,RELIANCE,RELIANCE INDUSTRIES,0,,0,0.1,1,EQ,NSE,NSE\n"
    "128083204,500325,RELIANCE,RELIANCE INDUSTRIES,0,,0,0.1,1,EQ,BSE,BSE\n"
    "13238786,51714,NIFTY26DECFUT,NIFTY,0,2026-12-29,0,0.1,65,FUT,NFO-FUT,NFO\n"
    "265,1,SENSEX,SENSEX,0,,0,0,0,EQ,INDICES,BSE\n"
)

# -- The market the WebSocket stand-in streams (prices in paise, as Kite sends them) ----------

#: 2026-11-27 10:15:30 IST, the exchange timestamp of every packet.
EXCHANGE_TS = int(datetime(2026, 11, 27, 10, 15, 30, tzinfo=IST).timestamp())
EXCHANGE_UTC = datetime(2026, 11, 27, 4, 45, 30, tzinfo=UTC)
FUTURE_TOKEN = 13238786


@dataclass(frozen=True)
class Quote:
    """One instrument's state, in Kite's integer units (paise)."""

    token: int
    ltp: int
    ohlc: tuple[int, int, int, int]  # open, high, low, close
    volume: int = 0
    last_quantity: int = 0
    average: int = 0
    buy_quantity: int = 0
    sell_quantity: int = 0
    last_trade_time: int = 0
    oi: int = 0
    bids: tuple[tuple[int, int, int], ...] = ()  # (quantity, price, orders), best first
    asks: tuple[tuple[int, int, int], ...] = ()
    timestamp: int = EXCHANGE_TS

    @property
    def index(self) -> bool:
        """Tell whether the token is in Kite's indices segment (9)."""
        return self.token & 0xFF == 9


def packet(quote: Quote, mode: str) -> bytes:
    """Return one packet in Kite's binary layout for ``mode``: 8, 28/32 or 44/184 bytes."""
    if mode == "ltp":
        return struct.pack(">II", quote.token, quote.ltp)
    open_, high, low, close = quote.ohlc
    if quote.index:
        body = struct.pack(">IIIIIIi", quote.token, quote.ltp, high, low, open_, close,
                           quote.ltp - close)  # fmt: skip
        return body if mode == "quote" else body + struct.pack(">I", quote.timestamp)
    body = struct.pack(
        ">11I", quote.token, quote.ltp, quote.last_quantity, quote.average, quote.volume,
        quote.buy_quantity, quote.sell_quantity, open_, high, low, close,
    )  # fmt: skip
    if mode == "quote":
        return body
    body += struct.pack(">5I", quote.last_trade_time, quote.oi, quote.oi, quote.oi, quote.timestamp)
    empty = (0, 0, 0)
    bids = (quote.bids + (empty,) * 5)[:5]
    asks = (quote.asks + (empty,) * 5)[:5]
    depth = b"".join(
        struct.pack(">IIHH", qty, price, orders, 0) for qty, price, orders in bids + asks
    )
    return body + depth


def frame(packets: Sequence[bytes]) -> bytes:
    """Return a binary message: the number of packets, then each one's length and bytes."""
    return struct.pack(">H", len(packets)) + b"".join(
        struct.pack(">H", len(p)) + p for p in packets
    )


MARKET = {
    q.token: q
    for q in (
        Quote(256265, 2615055, (2608000, 2617520, 2601010, 2605245)),
        Quote(265, 8541235, (8520000, 8550000, 8510000, 8519900)),
        Quote(
            738561, 154370, (153900, 154580, 153610, 153820), volume=4567890, last_quantity=5,
            average=154215, buy_quantity=250000, sell_quantity=310000,
            last_trade_time=EXCHANGE_TS - 2,
            bids=((1200, 154360, 14), (900, 154350, 8)),
            asks=((800, 154370, 9), (2000, 154380, 11)),
        ),
        Quote(
            FUTURE_TOKEN, 2628060, (2620000, 2630000, 2615000, 2618000), volume=1234500,
            last_trade_time=EXCHANGE_TS - 1, oi=12345678,
            bids=((650, 2628050, 3),), asks=((1300, 2628075, 5),),
        ),
    )
}  # fmt: skip
TOKENS = {"NIFTY": 256265, "SENSEX": 265, "RELIANCE": 738561, "NIFTY26DECFUT": FUTURE_TOKEN}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    """Return the shipped catalogue."""
    return Catalogue.load()


@pytest.fixture(scope="module")
def instruments(catalogue: Catalogue) -> dict[str, Instrument]:
    """Return the catalogue by symbol plus a NIFTY future."""
    by_symbol = {i.symbol: i for i in catalogue}
    nifty = by_symbol["NIFTY"]
    future = replace(
        nifty, symbol="NIFTY26DECFUT", name="NIFTY DEC 2026 FUT", kind=Kind.FUTURE,
        venue=Venue.NFO, aliases=(), underlying="NIFTY", expiry=dt.date(2026, 12, 29),
    )  # fmt: skip
    return {**by_symbol, future.symbol: future}


# -- REST stand-in ----------------------------------------------------------------------------


def _kite_error(status: int, error_type: str, message: str) -> JSONResponse:
    body = {"status": "error", "message": message, "data": None, "error_type": error_type}
    return JSONResponse(body, status_code=status)


def rest_app() -> Starlette:
    """Return Kite's ``POST /session/token`` and ``GET /instruments``."""

    async def session_token(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if request.headers.get("x-kite-version") != "3":
            return _kite_error(400, "InputException", "Missing X-Kite-Version header.")
        if form.get("api_key") != API_KEY:
            return _kite_error(403, "InputException", "Invalid `api_key`.")
        if form.get("request_token") != REQUEST_TOKEN:
            return _kite_error(403, "TokenException", "Token is invalid or has expired.")
        expected = hashlib.sha256(f"{API_KEY}{REQUEST_TOKEN}{API_SECRET}".encode()).hexdigest()
        if form.get("checksum") != expected:
            return _kite_error(400, "InputException", "Invalid `checksum`.")
        data = {
            "user_type": "individual", "email": "trader@example.com", "user_name": "A Trader",
            "user_shortname": "Trader", "broker": "ZERODHA", "exchanges": ["NSE", "BSE", "NFO"],
            "products": ["CNC", "NRML", "MIS"], "order_types": ["MARKET", "LIMIT"],
            "avatar_url": None, "user_id": "AB1234", "api_key": API_KEY,
            "access_token": ACCESS_TOKEN, "public_token": "public-token", "refresh_token": "",
            "enctoken": "enc-token", "login_time": "2026-11-27 08:55:03",
            "meta": {"demat_consent": "consent"},
        }  # fmt: skip
        return JSONResponse({"status": "success", "data": data})

    async def instruments(request: Request) -> Response:
        if request.headers.get("authorization") != f"token {API_KEY}:{ACCESS_TOKEN}":
            return _kite_error(403, "TokenException", "Incorrect `api_key` or `access_token`.")
        return Response(INSTRUMENTS_CSV, media_type="text/csv")

    return Starlette(
        routes=[
            Route("/session/token", session_token, methods=["POST"]),
            Route("/instruments", instruments),
        ]
    )


@pytest.fixture(scope="module")
async def rest_root() -> AsyncIterator[str]:
    """Run the REST stand-in under uvicorn on a free port of 127.0.0.1; yield its root."""
    async with serve_http(rest_app()) as port:
        yield f"http://127.0.0.1:{port}"


# -- WebSocket stand-in -----------------------------------------------------------------------


@dataclass
class TickerStandIn:
    """Kite's ticker endpoint: credentials in the query, JSON commands in, packets out."""

    upgrades: list[tuple[dict[str, list[str]], Headers]] = field(default_factory=list)
    messages: list[Any] = field(default_factory=list)
    open: int = 0
    dropped: set[str] = field(default_factory=set)

    async def process_request(
        self, connection: ServerConnection, request: WsRequest
    ) -> WsResponse | None:
        """Refuse a bad key or token with 403 before the upgrade, as Kite does."""
        query = parse_qs(urlsplit(request.path).query)
        self.upgrades.append((query, request.headers))
        token = query.get("access_token", [""])[0]
        if query.get("api_key") != [API_KEY] or token not in VALID_TOKENS:
            return connection.respond(HTTPStatus.FORBIDDEN, "Invalid access token\n")
        if token == SLOW_TOKEN:
            await asyncio.sleep(0.3)
        return None

    async def handler(self, ws: ServerConnection) -> None:
        """Answer ``mode`` commands with a heartbeat and the tokens' packets in that mode."""
        assert ws.request is not None
        token = parse_qs(urlsplit(ws.request.path).query)["access_token"][0]
        self.open += 1
        try:
            async for message in ws:
                command = json.loads(message)
                self.messages.append(command)
                if command["a"] != "mode":
                    continue
                mode, tokens = command["v"]
                await ws.send(b"\x00")  # Kite's 1-byte heartbeat
                await ws.send(frame([packet(MARKET[t], mode) for t in tokens if t in MARKET]))
                if token == FLAKY_TOKEN and token not in self.dropped:
                    self.dropped.add(token)
                    await ws.close(1011, "market data restart")
        except ConnectionClosed:
            pass
        finally:
            self.open -= 1

    def attempts(self, token: str) -> int:
        """Return how many upgrades carried ``token``."""
        return sum(1 for query, _ in self.upgrades if query.get("access_token") == [token])


@dataclass
class Ticker:
    """A running WebSocket stand-in."""

    stand_in: TickerStandIn
    server: WsServer

    @property
    def root(self) -> str:
        """Return the ``ws://`` root to give KiteFeed."""
        return f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"


@pytest.fixture(scope="module")
async def ticker() -> AsyncIterator[Ticker]:
    """Run the WebSocket stand-in on a free port of 127.0.0.1."""
    stand_in = TickerStandIn()
    async with serve(
        stand_in.handler, "127.0.0.1", 0, process_request=stand_in.process_request
    ) as server:
        yield Ticker(stand_in, server)


# -- helpers ----------------------------------------------------------------------------------


def closed_port() -> int:
    """Return a port of 127.0.0.1 that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@contextlib.contextmanager
def host_zone(zone: str) -> Iterator[None]:
    """Run with the process's local time zone set to ``zone``."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


# -- login ------------------------------------------------------------------------------------


def test_login_url_names_the_api_key() -> None:
    url = KiteSession(API_KEY, API_SECRET).login_url()
    assert url.startswith("https://kite.zerodha.com/connect/login?")
    assert parse_qs(urlsplit(url).query) == {"api_key": [API_KEY], "v": ["3"]}
    other = KiteSession(API_KEY, API_SECRET, login_root="http://127.0.0.1:1/login").login_url()
    assert other == f"http://127.0.0.1:1/login?api_key={API_KEY}&v=3"


async def test_exchange_returns_a_token_valid_until_six_next_morning(rest_root: str) -> None:
    access = await KiteSession(API_KEY, API_SECRET, root=rest_root).exchange(REQUEST_TOKEN)
    assert access == KiteAccess(
        access_token=ACCESS_TOKEN,
        user_id="AB1234",
        login_time=datetime(2026, 11, 27, 8, 55, 3, tzinfo=IST).astimezone(UTC),
        expires_at=datetime(2026, 11, 28, 0, 30, tzinfo=UTC),
    )
    assert access.expires_at == datetime(2026, 11, 28, 6, 0, tzinfo=IST)
    assert ACCESS_TOKEN not in repr(access)


@pytest.mark.parametrize(
    ("login", "expiry"),
    [
        (datetime(2026, 11, 27, 8, 55, 3), datetime(2026, 11, 28, 6, 0)),
        (datetime(2026, 11, 27, 23, 59, 59), datetime(2026, 11, 28, 6, 0)),
        (datetime(2026, 11, 28, 2, 10), datetime(2026, 11, 28, 6, 0)),  # after midnight
        (datetime(2026, 11, 28, 6, 0), datetime(2026, 11, 29, 6, 0)),
        (datetime(2026, 12, 31, 20, 0), datetime(2027, 1, 1, 6, 0)),
    ],
)
def test_tokens_expire_at_the_next_six_oclock_in_india(login: datetime, expiry: datetime) -> None:
    assert token_expiry(login.replace(tzinfo=IST)) == expiry.replace(tzinfo=IST)
    assert token_expiry(login.replace(tzinfo=IST)).tzinfo is UTC


async def test_a_bad_request_token_raises_the_brokers_reason(rest_root: str) -> None:
    session = KiteSession(API_KEY, API_SECRET, root=rest_root)
    with pytest.raises(KiteError, match="Token is invalid or has expired") as info:
        await session.exchange("stale-request-token")
    assert (info.value.status, info.value.kind) == (403, "TokenException")
    assert info.value.code == "KITE_ERROR"


async def test_a_wrong_secret_fails_the_checksum(rest_root: str) -> None:
    session = KiteSession(API_KEY, "not-the-secret", root=rest_root)
    with pytest.raises(KiteError, match="checksum") as info:
        await session.exchange(REQUEST_TOKEN)
    assert (info.value.status, info.value.kind) == (400, "InputException")


async def test_an_unreachable_kite_raises_kite_error() -> None:
    session = KiteSession(API_KEY, API_SECRET, root=f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(KiteError, match="Kite is unreachable"):
        await session.exchange(REQUEST_TOKEN)


async def test_instruments_map_catalogue_symbols_to_kite_tokens(
    rest_root: str, catalogue: Catalogue
) -> None:
    session = KiteSession(API_KEY, API_SECRET, root=rest_root, catalogue=catalogue)
    assert await session.instruments(ACCESS_TOKEN) == {
        "NIFTY": 256265,
        "BANKNIFTY": 260105,
        "SENSEX": 265,
        "RELIANCE": 738561,  # NSE's, not BSE's 128083204
    }


async def test_instruments_with_an_expired_token_raise(rest_root: str) -> None:
    session = KiteSession(API_KEY, API_SECRET, root=rest_root)
    with pytest.raises(KiteError, match="access_token") as info:
        await session.instruments("expired")
    assert info.value.kind == "TokenException"


def test_aliases_match_kite_names(catalogue: Catalogue) -> None:
    rows = [
        {"instrument_token": 1, "tradingsymbol": "NIFTY FIN SERVICE", "segment": "INDICES",
         "exchange": "NSE"},
        {"instrument_token": 2, "tradingsymbol": "NIFTY MID SELECT", "segment": "INDICES",
         "exchange": "NSE"},
        {"instrument_token": 3, "tradingsymbol": "TCS", "segment": "NSE", "exchange": "NSE"},
        {"instrument_token": 4, "tradingsymbol": "BTC-USDT", "segment": "NSE", "exchange": "NSE"},
    ]  # fmt: skip
    assert map_instruments(rows, catalogue) == {"FINNIFTY": 1, "MIDCPNIFTY": 2, "TCS": 3}


# -- tick mapping -----------------------------------------------------------------------------


def parse(*packets: bytes) -> list[dict[str, Any]]:
    """Return KiteTicker's own parse of a binary message."""
    ticks: list[dict[str, Any]] = KiteTicker("key", "token")._parse_binary(frame(packets))
    return ticks


def test_quote_and_ltp_packets_map_without_depth(instruments: dict[str, Instrument]) -> None:
    reliance = instruments["RELIANCE"]
    received = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
    quote, ltp = parse(packet(MARKET[738561], "quote"), packet(MARKET[738561], "ltp"))
    assert quote["mode"] == "quote"
    assert to_tick(quote, reliance, received) == Tick(
        symbol="RELIANCE", ts=received, ltp=Decimal("1543.70"), bid=Decimal("1543.70"),
        ask=Decimal("1543.70"), bid_size=Decimal(0), ask_size=Decimal(0),
        volume=Decimal(4567890), oi=None,
    )  # fmt: skip
    assert ltp["mode"] == "ltp"
    assert to_tick(ltp, reliance, received).ltp == Decimal("1543.70")
    assert to_tick(ltp, reliance, received).volume == 0


def test_prices_are_rounded_to_the_instrument_tick(instruments: dict[str, Instrument]) -> None:
    reliance = instruments["RELIANCE"]  # tick 0.10
    now = datetime.now(UTC)
    (up,) = parse(packet(replace(MARKET[738561], ltp=154375), "ltp"))
    (even,) = parse(packet(replace(MARKET[738561], ltp=154365), "ltp"))
    assert str(to_tick(up, reliance, now).ltp) == "1543.80"  # half to even: 15437.5 -> 15438
    assert str(to_tick(even, reliance, now).ltp) == "1543.60"  # 15436.5 -> 15436


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "UTC", "America/New_York"])
def test_ticker_timestamps_are_read_in_the_hosts_zone(
    zone: str, instruments: dict[str, Instrument]
) -> None:
    # KiteTicker stamps packets with datetime.fromtimestamp: naive, in the host's local zone.
    with host_zone(zone):
        (raw,) = parse(packet(MARKET[256265], "full"))
        assert raw["exchange_timestamp"].tzinfo is None
        tick = to_tick(raw, instruments["NIFTY"], datetime.now(UTC))
    assert tick.ts == EXCHANGE_UTC
    assert tick.ts.tzinfo is UTC


# -- the live feed ----------------------------------------------------------------------------


def test_every_token_needs_an_instrument(instruments: dict[str, Instrument]) -> None:
    with pytest.raises(ValueError, match="UNKNOWN"):
        KiteFeed(API_KEY, ACCESS_TOKEN, {"UNKNOWN": 1}, instruments)


async def test_feed_delivers_exact_ticks_and_stops_cleanly(
    ticker: Ticker, instruments: dict[str, Instrument]
) -> None:
    feed = KiteFeed(API_KEY, ACCESS_TOKEN, TOKENS, instruments, root=ticker.root)
    sink = Collector()
    assert feed.state.kind == "kite"
    async with running(feed, sink) as task:
        await until(lambda: set(sink.latest()) == set(TOKENS))
        assert feed.state.status == "running"
        assert feed.state.ticks == len(sink.ticks) == 4
        assert feed.state.symbols == sorted(TOKENS)

        query, headers = ticker.stand_in.upgrades[-1]
        assert query == {"api_key": [API_KEY], "access_token": [ACCESS_TOKEN]}
        assert headers["X-Kite-Version"] == "3"
        assert sorted(ticker.stand_in.messages[-2]["v"]) == sorted(TOKENS.values())
        assert ticker.stand_in.messages[-2]["a"] == "subscribe"
        mode, tokens = ticker.stand_in.messages[-1]["v"]
        assert (mode, sorted(tokens)) == ("full", sorted(TOKENS.values()))

        ticks = sink.latest()
        assert ticks["NIFTY"] == Tick(
            symbol="NIFTY", ts=EXCHANGE_UTC, ltp=Decimal("26150.55"), bid=Decimal("26150.55"),
            ask=Decimal("26150.55"), bid_size=Decimal(0), ask_size=Decimal(0), volume=Decimal(0),
        )  # fmt: skip
        assert str(ticks["NIFTY"].ltp) == "26150.55"
        assert ticks["SENSEX"].ltp == Decimal("85412.35")
        assert ticks["RELIANCE"] == Tick(
            symbol="RELIANCE", ts=EXCHANGE_UTC, ltp=Decimal("1543.70"), bid=Decimal("1543.60"),
            ask=Decimal("1543.70"), bid_size=Decimal(1200), ask_size=Decimal(800),
            volume=Decimal(4567890), oi=None,
        )  # fmt: skip
        assert ticks["NIFTY26DECFUT"] == Tick(
            symbol="NIFTY26DECFUT", ts=EXCHANGE_UTC, ltp=Decimal("26280.60"),
            bid=Decimal("26280.50"), ask=Decimal("26280.75"), bid_size=Decimal(650),
            ask_size=Decimal(1300), volume=Decimal(1234500), oi=Decimal(12345678),
        )  # fmt: skip
        assert all(t.ts.tzinfo is UTC for t in sink.ticks)
        assert feed.state.last_tick_at == EXCHANGE_UTC
    assert task.cancelled()
    assert feed.state.status == "stopped"
    await until(lambda: ticker.stand_in.open == 0, within=5)


async def test_a_refused_token_fails_with_a_renewal_hint(
    ticker: Ticker, instruments: dict[str, Instrument]
) -> None:
    feed = KiteFeed(API_KEY, "expired-access-token", TOKENS, instruments, root=ticker.root)
    sink = Collector()
    async with asyncio.timeout(10):
        await feed.run(sink)  # returns: nothing will come on this token
    assert feed.state.status == "failed"
    assert "403" in feed.state.detail
    assert "renew the Kite access token" in feed.state.detail
    assert "/api/admin/feeds/kite/session" in feed.state.detail
    assert sink.ticks == []
    await asyncio.sleep(0.3)
    assert ticker.stand_in.attempts("expired-access-token") == 1  # no retry on a refused token


async def test_a_dropped_connection_reconnects_and_resubscribes(
    ticker: Ticker, instruments: dict[str, Instrument]
) -> None:
    feed = KiteFeed(API_KEY, FLAKY_TOKEN, {"NIFTY": 256265}, instruments, root=ticker.root)
    sink = Collector()
    async with running(feed, sink):
        await until(lambda: feed.state.status == "reconnecting")
        assert "1011" in feed.state.detail
        assert "market data restart" in feed.state.detail
        assert len(sink.ticks) == 1
        # The first retry comes after about a second (Twisted's backoff, with jitter).
        await until(lambda: len(sink.ticks) == 2 and feed.state.status == "running", within=15)
    assert ticker.stand_in.attempts(FLAKY_TOKEN) == 2
    # KiteTicker resubscribed on the new connection in full mode.
    assert ticker.stand_in.messages[-1] == {"a": "mode", "v": ["full", [256265]]}


async def test_reconnect_off_ends_the_feed_when_the_connection_fails(
    instruments: dict[str, Instrument],
) -> None:
    root = f"ws://127.0.0.1:{closed_port()}"
    feed = KiteFeed(API_KEY, ACCESS_TOKEN, TOKENS, instruments, root=root, reconnect=False)
    async with asyncio.timeout(10):
        await feed.run(Collector())
    assert feed.state.status == "failed"
    assert "reconnection is off" in feed.state.detail


async def test_a_bad_root_fails_without_showing_the_token(
    instruments: dict[str, Instrument],
) -> None:
    feed = KiteFeed(API_KEY, ACCESS_TOKEN, TOKENS, instruments, root="http://127.0.0.1:1")
    async with asyncio.timeout(10):
        await feed.run(Collector())
    assert feed.state.status == "failed"
    assert "invalid WebSocket URL" in feed.state.detail
    assert ACCESS_TOKEN not in feed.state.detail


# -- TLS --------------------------------------------------------------------------------------


def self_signed(directory: Path) -> ssl.SSLContext:
    """Return a server TLS context with a self-signed certificate for 127.0.0.1.

    The certificate is left in ``directory / "cert.pem"``.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


async def test_an_unverifiable_certificate_is_refused(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    stand_in = TickerStandIn()
    async with serve(
        stand_in.handler, "127.0.0.1", 0, process_request=stand_in.process_request,
        ssl=self_signed(tmp_path),
    ) as server:  # fmt: skip
        root = f"wss://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        feed = KiteFeed(API_KEY, ACCESS_TOKEN, TOKENS, instruments, root=root)
        async with running(feed, Collector()):
            await until(lambda: feed.state.status == "reconnecting")
        assert stand_in.upgrades == []  # the token never left the client


async def test_a_trusted_certificate_streams_over_tls(
    tmp_path: Path, instruments: dict[str, Instrument], monkeypatch: pytest.MonkeyPatch
) -> None:
    context = self_signed(tmp_path)
    trusted = Certificate.loadPEM((tmp_path / "cert.pem").read_bytes())

    def trusting(hostname: str) -> Any:
        return optionsForClientTLS(hostname, trustRoot=trusted)

    monkeypatch.setattr(kiteconnect_adapter, "optionsForClientTLS", trusting)
    stand_in = TickerStandIn()
    async with serve(
        stand_in.handler, "127.0.0.1", 0, process_request=stand_in.process_request, ssl=context
    ) as server:
        root = f"wss://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        feed = KiteFeed(API_KEY, ACCESS_TOKEN, {"NIFTY": 256265}, instruments, root=root)
        sink = Collector()
        async with running(feed, sink):
            await until(lambda: len(sink.ticks) == 1)
        assert sink.ticks[0].ltp == Decimal("26150.55")
        await until(lambda: stand_in.open == 0, within=5)


async def test_cancelling_at_once_leaves_no_connection(
    ticker: Ticker, instruments: dict[str, Instrument]
) -> None:
    before = len(ticker.stand_in.upgrades)
    for pause in (0.0, 0.001, 0.005, 0.02):
        feed = KiteFeed(API_KEY, ACCESS_TOKEN, TOKENS, instruments, root=ticker.root)
        sink = Collector()
        async with running(feed, sink):
            await asyncio.sleep(pause)
        assert feed.state.status == "stopped"
    await asyncio.sleep(0.2)
    await until(lambda: ticker.stand_in.open == 0, within=5)
    assert len(ticker.stand_in.upgrades) - before <= 4


async def test_stopping_during_the_handshake_does_not_reconnect(
    ticker: Ticker, instruments: dict[str, Instrument]
) -> None:
    feed = KiteFeed(API_KEY, SLOW_TOKEN, TOKENS, instruments, root=ticker.root)
    async with running(feed, Collector()):
        await until(lambda: ticker.stand_in.attempts(SLOW_TOKEN) == 1)
    assert feed.state.status == "stopped"
    # The upgrade completes after the feed stopped: the feed closes it and never retries.
    await asyncio.sleep(1.5)
    assert ticker.stand_in.attempts(SLOW_TOKEN) == 1
    await until(lambda: ticker.stand_in.open == 0, within=5)


# -- kiteconnect's internals (market/kiteconnect_adapter.py) ---------------------------------


@pytest.fixture
def other_kiteconnect(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Take the installed kiteconnect for another version than the adapter's pin."""
    monkeypatch.setattr(kiteconnect_adapter, "PINS", (Pin("kiteconnect", "0.0.0"),))
    kiteconnect_adapter.internals.cache_clear()
    yield
    kiteconnect_adapter.internals.cache_clear()


@pytest.mark.usefixtures("other_kiteconnect")
async def test_without_the_pinned_kiteconnect_a_plain_root_streams_by_the_public_connect(
    ticker: Ticker, instruments: dict[str, Instrument]
) -> None:
    assert not kiteconnect_adapter.internals().usable
    feed = KiteFeed(API_KEY, ACCESS_TOKEN, {"NIFTY": 256265}, instruments, root=ticker.root)
    sink = Collector()
    async with running(feed, sink):
        await until(lambda: len(sink.ticks) == 1)
        assert feed.state.status == "running"
    assert sink.ticks[0].ltp == Decimal("26150.55")
    await until(lambda: ticker.stand_in.open == 0, within=5)


@pytest.mark.usefixtures("other_kiteconnect")
async def test_without_the_pinned_kiteconnect_a_tls_root_is_refused_not_left_unverified(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    stand_in = TickerStandIn()
    async with serve(
        stand_in.handler, "127.0.0.1", 0, process_request=stand_in.process_request,
        ssl=self_signed(tmp_path),
    ) as server:  # fmt: skip
        root = f"wss://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        feed = KiteFeed(API_KEY, ACCESS_TOKEN, TOKENS, instruments, root=root)
        async with asyncio.timeout(10):
            await feed.run(Collector())
    assert feed.state.status == "failed"
    assert "would not verify Kite's certificate" in feed.state.detail
    assert ACCESS_TOKEN not in feed.state.detail
    assert stand_in.upgrades == []
