"""The ccxt feed against a local stand-in for OKX's v5 REST API (no internet needed).

The stand-in answers the two public endpoints ccxt's OKX adapter calls for ``load_markets``
and ``fetch_tickers`` with the JSON shapes OKX sends (the field sets of the examples in ccxt's
``okx.py``), and can be told to fail like OKX does (HTTP 429 with error code 50011) or like a
broken gateway (HTTP 500 with a plain-text body).
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.standins import Collector, running, serve, until
from tradepit.domain.clock import ManualClock
from tradepit.domain.instruments import Instrument
from tradepit.domain.market import Tick
from tradepit.market.catalogue import Catalogue
from tradepit.market.ccxt_feed import (
    CcxtFeed,
    SessionVolume,
    backoff_delay,
    ccxt_symbol,
    tick_from_ticker,
)

CATALOGUE = Catalogue.load()
CRYPTO = [CATALOGUE.get(s) for s in ("BTC-USDT", "ETH-USDT", "SOL-USDT")]
#: The ``ts`` of the first tickers response; each later response is one second on.
FIRST_TS = 1764200000000
TOO_MANY_REQUESTS = {"code": "50011", "msg": "Too Many Requests", "data": []}


def _spot(inst_id: str, tick: str, lot: str, minimum: str) -> dict[str, Any]:
    base, quote = inst_id.split("-")
    return {
        "alias": "", "auctionEndTime": "", "baseCcy": base, "category": "1", "ctMult": "",
        "ctType": "", "ctVal": "", "ctValCcy": "", "contTdSwTime": "", "expTime": "",
        "futureSettlement": False, "instFamily": "", "instId": inst_id, "instIdCode": 1000,
        "instType": "SPOT", "lever": "10", "listTime": "1548133413000", "lotSz": lot,
        "maxIcebergSz": "9999999999.0000000000000000", "maxLmtAmt": "20000000",
        "maxLmtSz": "9999999999", "maxMktAmt": "1000000", "maxMktSz": "1000000",
        "maxStopSz": "1000000", "maxTriggerSz": "9999999999.0000000000000000",
        "maxTwapSz": "9999999999.0000000000000000", "minSz": minimum, "optType": "",
        "quoteCcy": quote, "ruleType": "normal", "settleCcy": "", "state": "live", "stk": "",
        "tickSz": tick, "tradeQuoteCcyList": [quote], "uly": "",
    }  # fmt: skip


INSTRUMENTS = [
    _spot("BTC-USDT", "0.1", "0.00000001", "0.00001"),
    _spot("ETH-USDT", "0.01", "0.000001", "0.0001"),
    _spot("SOL-USDT", "0.01", "0.000001", "0.001"),
    _spot("OKB-USDT", "0.001", "0.000001", "0.01"),
]

# instId: last, lastSz, askPx, askSz, bidPx, bidSz, open24h, high24h, low24h, vol24h, volCcy24h
TICKERS = {
    "BTC-USDT": ("91234.5", "0.01", "91234.6", "1.2", "91234.5", "0.8", "90110.2", "92000",
                 "89650.1", "1234.5", "112345678.9"),
    "ETH-USDT": ("3050.17", "0.5", "3050.18", "12.3456", "3050.17", "7.5", "3001.02", "3088.4",
                 "2990.55", "45678.9012", "139000000.12"),
    "SOL-USDT": ("138.05", "3.1", "138.06", "250.75", "138.04", "80.5", "135.5", "140.12",
                 "134.9", "987654.321", "136000000.5"),
    "OKB-USDT": ("108.123", "1", "108.124", "40", "108.12", "3", "107", "109", "106.5",
                 "12345", "1330000"),
}  # fmt: skip


@dataclass
class StandIn:
    """A stand-in for OKX's public REST API, with switchable failures."""

    requests: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    failure: tuple[int, Any] | None = None
    no_last: set[str] = field(default_factory=set)
    stall: asyncio.Event | None = None
    frozen: bool = False
    no_ts: bool = False
    ticker_calls: int = 0

    def app(self) -> Starlette:
        """Return the ASGI app."""
        return Starlette(
            routes=[
                Route("/api/v5/public/instruments", self.instruments),
                Route("/api/v5/market/tickers", self.tickers),
                Route("/{path:path}", self.not_found),
            ]
        )

    def fail(self, status: int, body: Any) -> None:
        """Answer every request with ``status`` and ``body`` until ``recover``."""
        self.failure = (status, body)

    def recover(self) -> None:
        """Answer normally again."""
        self.failure = None

    def _failed(self, request: Request) -> Response | None:
        self.requests.append(f"{request.url.path}?{request.url.query}")
        if self.failure is None:
            return None
        status, body = self.failure
        if isinstance(body, str):
            return PlainTextResponse(body, status_code=status)
        return JSONResponse(body, status_code=status)

    async def instruments(self, request: Request) -> Response:
        """``GET /api/v5/public/instruments?instType=``: spot markets; the others empty."""
        failed = self._failed(request)
        if failed is not None:
            return failed
        kind = request.query_params.get("instType")
        data = INSTRUMENTS if kind == "SPOT" else []
        return JSONResponse({"code": "0", "msg": "", "data": data})

    async def tickers(self, request: Request) -> Response:
        """``GET /api/v5/market/tickers?instType=SPOT``: every spot ticker, one second later
        on each call."""
        failed = self._failed(request)
        if failed is not None:
            return failed
        if self.stall is not None:
            await self.stall.wait()
        ts = str(FIRST_TS + (0 if self.frozen else 1000 * self.ticker_calls))
        self.ticker_calls += 1
        data = []
        for inst_id, row in TICKERS.items():
            last, last_sz, ask, ask_sz, bid, bid_sz, open_, high, low, vol, vol_ccy = row
            data.append(
                {
                    "instType": "SPOT", "instId": inst_id,
                    "last": "" if inst_id in self.no_last else last, "lastSz": last_sz,
                    "askPx": ask, "askSz": ask_sz, "bidPx": bid, "bidSz": bid_sz,
                    "open24h": open_, "high24h": high, "low24h": low, "volCcy24h": vol_ccy,
                    "vol24h": vol, "ts": ts, "sodUtc0": open_, "sodUtc8": open_,
                }
            )  # fmt: skip
            if self.no_ts:
                del data[-1]["ts"]
        return JSONResponse({"code": "0", "msg": "", "data": data})

    async def not_found(self, request: Request) -> Response:
        """Anything else: record it (ccxt should not ask) and answer as OKX does."""
        self.unknown.append(request.url.path)
        return JSONResponse({"code": "404", "msg": "Not Found", "data": []}, status_code=404)


@dataclass
class Server:
    """A running stand-in."""

    stand_in: StandIn
    port: int

    def config(self, **extra: Any) -> dict[str, Any]:
        """Return the ccxt config that points OKX at the stand-in."""
        return {"urls": {"api": {"rest": f"http://127.0.0.1:{self.port}"}}, **extra}

    def spot_config(self) -> dict[str, Any]:
        """Return the config that also loads only spot markets (one request, not five)."""
        return self.config(options={"fetchMarkets": {"types": ["spot"]}})


@pytest.fixture
async def okx() -> AsyncIterator[Server]:
    """Run the stand-in under uvicorn on a free port of 127.0.0.1."""
    stand_in = StandIn()
    async with serve(stand_in.app()) as port:
        try:
            yield Server(stand_in, port)
        finally:
            if stand_in.stall is not None:
                stand_in.stall.set()


def feed_for(server: Server, instruments: Sequence[Instrument] = CRYPTO, **kw: Any) -> CcxtFeed:
    """Return a fast-polling OKX feed pointed at the stand-in, loading spot markets only."""
    config = kw.pop("exchange_config", server.spot_config())
    return CcxtFeed(
        "okx", instruments, poll_interval=0.02, exchange_config=config,
        backoff_base=0.01, backoff_cap=0.05, **kw,
    )  # fmt: skip


class TestTicks:
    async def test_first_batch_is_the_recorded_quotes(self, okx: Server) -> None:
        feed, sink = feed_for(okx), Collector()
        assert feed.state.kind == "ccxt:okx"
        assert feed.state.symbols == ["BTC-USDT", "ETH-USDT", "SOL-USDT"]
        assert feed.state.status == "starting"
        async with running(feed, sink):
            await until(lambda: bool(sink.batches))
            assert feed.state.status == "running"
            assert feed.state.detail == ""
        first = sink.batches[0]
        assert [t.symbol for t in first] == ["BTC-USDT", "ETH-USDT", "SOL-USDT"]
        ts = datetime(2025, 11, 26, 23, 33, 20, tzinfo=UTC)
        assert first[0] == Tick(
            symbol="BTC-USDT", ts=ts, ltp=Decimal("91234.5"), bid=Decimal("91234.5"),
            ask=Decimal("91234.6"), bid_size=Decimal("0.8"), ask_size=Decimal("1.2"),
            volume=Decimal(0),
        )  # fmt: skip
        assert first[1] == Tick(
            symbol="ETH-USDT", ts=ts, ltp=Decimal("3050.17"), bid=Decimal("3050.17"),
            ask=Decimal("3050.18"), bid_size=Decimal("7.5"), ask_size=Decimal("12.3456"),
            volume=Decimal(0),
        )  # fmt: skip
        assert (first[2].ltp, first[2].bid, first[2].ask) == (
            Decimal("138.05"), Decimal("138.04"), Decimal("138.06"),
        )  # fmt: skip
        # Session volume starts at the first observation; the 24 h figure is not a session's.
        assert first[2].volume == Decimal(0)

    async def test_every_tick_is_on_the_grid_aware_and_uncrossed(self, okx: Server) -> None:
        feed, sink = feed_for(okx), Collector()
        async with running(feed, sink):
            await until(lambda: len(sink.batches) >= 3)
        by_symbol = {i.symbol: i for i in CRYPTO}
        for tick in sink.ticks:
            size = by_symbol[tick.symbol].tick_size
            for price in (tick.ltp, tick.bid, tick.ask):
                assert isinstance(price, Decimal)
                assert price % size == 0
            assert tick.ts.tzinfo is not None
            assert tick.ts.utcoffset() == timedelta(0)
            assert tick.bid <= tick.ask
            assert tick.oi is None
        assert feed.state.ticks == len(sink.ticks)
        assert feed.state.last_tick_at == sink.ticks[-1].ts

    async def test_each_poll_is_one_batch_moving_on(self, okx: Server) -> None:
        feed, sink = feed_for(okx), Collector()
        async with running(feed, sink):
            await until(lambda: len(sink.batches) >= 3)
        stamps = [{t.ts for t in batch} for batch in sink.batches]
        assert all(len(s) == 1 for s in stamps)
        firsts = [min(s) for s in stamps]
        assert firsts == sorted(firsts)
        assert len(set(firsts)) == len(firsts)

    async def test_default_market_loading_calls_only_the_two_endpoints(self, okx: Server) -> None:
        feed, sink = feed_for(okx, exchange_config=okx.config()), Collector()
        async with running(feed, sink):
            await until(lambda: bool(sink.batches))
        assert okx.stand_in.unknown == []
        loads = sorted(r for r in okx.stand_in.requests if r.startswith("/api/v5/public/"))
        assert loads == [
            "/api/v5/public/instruments?instType=FUTURES",
            "/api/v5/public/instruments?instType=OPTION&uly=BTC-USD",
            "/api/v5/public/instruments?instType=OPTION&uly=ETH-USD",
            "/api/v5/public/instruments?instType=SPOT",
            "/api/v5/public/instruments?instType=SWAP",
        ]
        polls = [r for r in okx.stand_in.requests if r.startswith("/api/v5/market/")]
        assert polls
        assert set(polls) == {"/api/v5/market/tickers?instType=SPOT"}

    async def test_spot_only_market_loading(self, okx: Server) -> None:
        feed, sink = feed_for(okx), Collector()
        async with running(feed, sink):
            await until(lambda: bool(sink.batches))
        loads = [r for r in okx.stand_in.requests if r.startswith("/api/v5/public/")]
        assert loads == ["/api/v5/public/instruments?instType=SPOT"]

    async def test_tickers_without_a_last_price_are_skipped(self, okx: Server) -> None:
        okx.stand_in.no_last = {"SOL-USDT"}
        feed, sink = feed_for(okx), Collector()
        async with running(feed, sink):
            await until(lambda: len(sink.batches) >= 2)
        assert {t.symbol for t in sink.ticks} == {"BTC-USDT", "ETH-USDT"}

    async def test_unchanged_quotes_are_not_repeated(self, okx: Server) -> None:
        okx.stand_in.frozen = True
        feed, sink = feed_for(okx), Collector()
        async with running(feed, sink):
            await until(lambda: okx.stand_in.ticker_calls >= 4)
        assert len(sink.batches) == 1
        assert feed.state.ticks == 3
        assert feed.state.status == "stopped"

    async def test_the_clock_stamps_tickers_without_a_time(self, okx: Server) -> None:
        okx.stand_in.no_ts = True
        clock = ManualClock(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
        feed, sink = feed_for(okx, clock=clock), Collector()
        async with running(feed, sink):
            await until(lambda: bool(sink.batches))
        assert {t.ts for t in sink.batches[0]} == {clock.now()}

    async def test_unlisted_instruments_are_named_and_left_out(self, okx: Server) -> None:
        doge = replace(CATALOGUE.get("BTC-USDT"), symbol="DOGE-USDT", aliases=())
        feed, sink = feed_for(okx, [*CRYPTO, doge]), Collector()
        async with running(feed, sink):
            await until(lambda: bool(sink.batches))
            assert feed.state.status == "running"
            assert feed.state.detail == "not listed on okx: DOGE-USDT"
        assert "DOGE-USDT" not in {t.symbol for t in sink.ticks}

    async def test_no_listed_instrument_fails_the_feed(self, okx: Server) -> None:
        doge = replace(CATALOGUE.get("BTC-USDT"), symbol="DOGE-USDT", aliases=())
        feed = feed_for(okx, [doge])
        with pytest.raises(ValueError, match="okx lists none of DOGE-USDT"):
            await feed.run(Collector())
        assert feed.state.status == "failed"
        assert feed.exchange.session is None

    async def test_an_exchange_without_tickers_fails_the_feed(self, okx: Server) -> None:
        feed = feed_for(okx, exchange_config=okx.config(has={"fetchTickers": False}))
        with pytest.raises(ValueError, match="ccxt's okx cannot fetch tickers"):
            await feed.run(Collector())
        assert feed.state.status == "failed"
        assert feed.state.detail == "ValueError: ccxt's okx cannot fetch tickers"


class TestFailures:
    async def test_rate_limit_then_server_error_then_recovery(self, okx: Server) -> None:
        feed, sink = feed_for(okx), Collector()
        async with running(feed, sink):
            await until(lambda: bool(sink.batches) and feed.state.status == "running")

            okx.stand_in.fail(429, TOO_MANY_REQUESTS)
            await until(lambda: feed.state.status == "reconnecting")
            detail = feed.state.detail
            assert detail.startswith("RateLimitExceeded: okx ")
            assert '"code":"50011"' in detail
            assert "Too Many Requests" in detail

            okx.stand_in.fail(500, "Internal Server Error")
            await until(lambda: feed.state.detail.startswith("ExchangeNotAvailable"))
            assert feed.state.status == "reconnecting"
            assert feed.state.detail.startswith("ExchangeNotAvailable: okx GET http://127.0.0.1")
            assert " 500 Internal Server Error " in feed.state.detail
            assert "Internal Server Error" in feed.state.detail

            seen = len(sink.ticks)
            last_ts = sink.ticks[-1].ts
            okx.stand_in.recover()
            await until(lambda: feed.state.status == "running" and len(sink.ticks) > seen)
            assert feed.state.detail == ""
            assert all(t.ts > last_ts for t in sink.ticks[seen:])
        assert feed.state.status == "stopped"

    async def test_failing_from_the_start_then_recovering(self, okx: Server) -> None:
        okx.stand_in.fail(503, {"code": "50001", "msg": "Service temporarily unavailable"})
        feed, sink = feed_for(okx), Collector()
        async with running(feed, sink):
            await until(lambda: feed.state.status == "reconnecting")
            assert feed.state.detail.startswith("OnMaintenance: okx ")
            await until(lambda: len(okx.stand_in.requests) >= 3)
            assert sink.batches == []
            okx.stand_in.recover()
            await until(lambda: bool(sink.batches))
            assert feed.state.status == "running"

    async def test_unreachable_exchange_reconnects(self) -> None:
        config = {"urls": {"api": {"rest": "http://127.0.0.1:9"}}, "timeout": 2000}
        feed = CcxtFeed("okx", CRYPTO, exchange_config=config, backoff_base=0.01, backoff_cap=0.02)
        async with running(feed, Collector()):
            await until(lambda: feed.state.status == "reconnecting")
            assert feed.state.detail.startswith("ExchangeNotAvailable: okx GET http://127.0.0.1:9/")
        assert feed.state.status == "stopped"

    async def test_a_sink_error_fails_the_feed(self, okx: Server) -> None:
        async def broken(batch: Sequence[Tick]) -> None:
            raise RuntimeError("sink broke")

        feed = feed_for(okx)
        with pytest.raises(RuntimeError, match="sink broke"):
            await feed.run(broken)
        assert feed.state.status == "failed"
        assert feed.state.detail == "RuntimeError: sink broke"
        assert feed.exchange.session is None


class TestCancellation:
    async def test_cancelling_closes_the_exchange(
        self, okx: Server, caplog: pytest.LogCaptureFixture
    ) -> None:
        feed, sink = feed_for(okx), Collector()
        async with running(feed, sink):
            await until(lambda: bool(sink.batches))
            exchange = feed.exchange
            assert exchange.session is not None
        assert feed.state.status == "stopped"
        assert exchange.session is None
        assert exchange.closed_by_user
        with caplog.at_level(logging.WARNING):
            del exchange
            gc.collect()
        assert not [r for r in caplog.records if "release all resources" in r.getMessage()]

    async def test_cancelling_during_a_request(self, okx: Server) -> None:
        okx.stand_in.stall = asyncio.Event()
        feed, sink = feed_for(okx), Collector()
        async with running(feed, sink):
            await until(lambda: any("tickers" in r for r in okx.stand_in.requests))
            assert okx.stand_in.ticker_calls == 0  # the poll is in flight
            exchange = feed.exchange
        assert feed.state.status == "stopped"
        assert exchange.session is None
        assert sink.batches == []
        gc.collect()

    async def test_a_feed_runs_again_after_a_stop(self, okx: Server) -> None:
        feed = feed_for(okx)
        for _ in range(2):
            sink = Collector()
            async with running(feed, sink):
                await until(lambda: feed.state.status == "running")
            assert feed.state.status == "stopped"
        assert feed.exchange.session is None


class TestConstruction:
    def test_unknown_exchange(self) -> None:
        with pytest.raises(ValueError, match="unknown ccxt exchange 'okxx'"):
            CcxtFeed("okxx", CRYPTO)

    def test_symbols_map_to_ccxt(self) -> None:
        assert [ccxt_symbol(i) for i in CRYPTO] == ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
        with pytest.raises(ValueError, match="'NIFTY'"):
            ccxt_symbol(CATALOGUE.get("NIFTY"))
        with pytest.raises(ValueError, match="BASE-QUOTE"):
            CcxtFeed("okx", [CATALOGUE.get("EURUSD")])

    @pytest.mark.parametrize(
        "kwargs",
        [{"poll_interval": 0}, {"backoff_base": 0}, {"backoff_base": 2, "backoff_cap": 1}],
    )
    def test_bad_settings(self, kwargs: dict[str, float]) -> None:
        with pytest.raises(ValueError):
            CcxtFeed("okx", CRYPTO, **kwargs)  # type: ignore[arg-type]

    def test_needs_an_instrument(self) -> None:
        with pytest.raises(ValueError, match="at least one"):
            CcxtFeed("okx", [])

    def test_backoff_doubles_up_to_the_cap(self) -> None:
        delays = [backoff_delay(n, 1.0, 30.0) for n in range(1, 9)]
        assert delays == [1, 2, 4, 8, 16, 30, 30, 30]
        assert backoff_delay(10_000, 1.0, 30.0) == 30
        assert backoff_delay(0, 1.0, 30.0) == 0


class TestSessionVolume:
    def test_counts_rises_of_the_rolling_volume_and_restarts_at_midnight(self) -> None:
        volume = SessionVolume()
        day = datetime(2026, 1, 2, 10, tzinfo=UTC)
        assert volume.update("BTC-USDT", day, Decimal(100)) == 0
        assert volume.update("BTC-USDT", day, Decimal("102.5")) == Decimal("2.5")
        # Old trades leaving the 24 h window lower it: nothing was traded by that.
        assert volume.update("BTC-USDT", day, Decimal(90)) == Decimal("2.5")
        assert volume.update("BTC-USDT", day, Decimal(91)) == Decimal("3.5")
        assert volume.update("BTC-USDT", day.replace(day=3, hour=0), Decimal(95)) == Decimal(4)
        assert volume.update("ETH-USDT", day, Decimal(7)) == 0


class TestTickFromTicker:
    NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    def test_rounds_prices_onto_the_tick_and_keeps_sizes(self) -> None:
        sol = CATALOGUE.get("SOL-USDT")
        ticker = {
            "last": 138.125, "bid": 138.1149999, "ask": 138.135000001, "bidVolume": 1e-05,
            "askVolume": 0.1, "baseVolume": 0.30000000000000004, "timestamp": 1764200000123,
        }  # fmt: skip
        tick = tick_from_ticker(ticker, sol, self.NOW)
        assert tick is not None
        assert (tick.ltp, tick.bid, tick.ask) == (
            Decimal("138.12"), Decimal("138.11"), Decimal("138.14"),
        )  # fmt: skip
        assert tick.bid_size == Decimal("0.00001")
        assert tick.ask_size == Decimal("0.1")
        assert tick.volume == Decimal("0.30000000000000004")
        assert tick.ts == datetime(2025, 11, 26, 23, 33, 20, 123000, tzinfo=UTC)

    def test_missing_fields(self) -> None:
        btc = CATALOGUE.get("BTC-USDT")
        tick = tick_from_ticker({"last": 91234.5}, btc, self.NOW)
        assert tick == Tick(
            symbol="BTC-USDT", ts=self.NOW, ltp=Decimal("91234.5"), bid=Decimal("91234.5"),
            ask=Decimal("91234.5"), bid_size=Decimal(0), ask_size=Decimal(0), volume=Decimal(0),
        )  # fmt: skip
        assert tick_from_ticker({"last": None, "bid": 1.0}, btc, self.NOW) is None
        assert tick_from_ticker({}, btc, self.NOW) is None
