"""The split deployment: `tradepit engine` (feed, book, schedulers) and API workers
(`tradepit serve --role api`) on one PostgreSQL and Redis. The workers run no feed and never
lead; their clients get the engine's ticks and quotes, and the orders they accept rest in the
engine's book."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import websockets
from fastapi import FastAPI
from pydantic import ValidationError
from typer.testing import CliRunner

from tests.api.test_feeds import REPLAY
from tests.conftest import REDIS_URL, make_settings, postgres_database, skip_or_fail
from tests.factories import login, register
from tests.realtime.conftest import market_clock, serving
from tests.standins import until
from tradepit.app import create_app
from tradepit.bus import MemoryBus
from tradepit.cli import cli
from tradepit.domain.market import Tick
from tradepit.market.catalogue import Catalogue
from tradepit.market.quotes import NoQuoteYet, QuoteBook
from tradepit.market.replay import read_ticks
from tradepit.services import feeds
from tradepit.settings import Settings
from tradepit.store.db import create_engine
from tradepit.store.migrate import upgrade

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/tradepit"


class TestSettings:
    @pytest.mark.parametrize(
        ("values", "message"),
        [
            ({"role": "api", "redis_url": "redis://x"}, "role api needs PostgreSQL"),
            ({"workers": 2, "redis_url": "redis://x"}, "2 workers needs PostgreSQL"),
            ({"role": "engine", "database_url": PG}, "role engine needs Redis"),
            (
                {"role": "engine", "workers": 2, "database_url": PG, "redis_url": "redis://x"},
                "the engine is one process",
            ),
        ],
    )
    def test_scale_out_needs_postgresql_and_redis(
        self, tmp_path: Path, values: dict[str, object], message: str
    ) -> None:
        with pytest.raises(ValidationError, match=message):
            Settings(data_dir=tmp_path, **values)  # type: ignore[arg-type]

    def test_the_cli_says_so_without_a_traceback(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TRADEPIT_DATA_DIR", str(tmp_path))
        result = CliRunner().invoke(cli, ["serve", "--role", "api"])
        assert result.exit_code == 2
        assert "error: role api needs PostgreSQL (TRADEPIT_DATABASE_URL)" in result.output
        result = CliRunner().invoke(cli, ["serve", "--role", "engine"])
        assert (result.exit_code, result.output.strip()) == (
            2,
            "error: start the engine with `tradepit engine`",
        )


def latest(book: QuoteBook | None, symbol: str) -> Tick | None:
    """Return the book's latest tick of ``symbol``, if any."""
    assert book is not None
    try:
        return book.tick_at(symbol, datetime.now(UTC))
    except NoQuoteYet:
        return None


async def test_quotes_travel_whole_and_exact(tmp_path: Path) -> None:
    path = tmp_path / "recording.csv"
    path.write_text(REPLAY, encoding="utf-8")
    catalogue = Catalogue.load()
    ticks = read_ticks(path, {i.symbol: i for i in catalogue})
    bus, book = MemoryBus(), QuoteBook(catalogue)
    mirror = asyncio.create_task(feeds.mirror_quotes(bus, book))
    try:
        await asyncio.sleep(0)  # subscribed
        bus.publish(feeds.QUOTES_TOPIC, json.loads(json.dumps(feeds.quotes_event(ticks))))
        await until(lambda: latest(book, "TCS") is not None, within=2)
    finally:
        mirror.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await mirror
    assert latest(book, "RELIANCE") == ticks[-2]
    assert latest(book, "TCS") == ticks[-1]


@pytest.fixture
async def db() -> AsyncIterator[str]:
    """A migrated PostgreSQL database of this test alone."""
    async with postgres_database("tradepit_roles") as url:
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        yield url


def server(tmp_path: Path, db: str, role: str, prefix: str, **extra: object) -> FastAPI:
    settings = make_settings(
        tmp_path / role,
        db,
        market_hours="always",
        redis_url=REDIS_URL,
        redis_prefix=prefix,
        role=role,
        **extra,
    )
    return create_app(settings, clock=market_clock())


async def test_api_workers_serve_what_the_engine_runs(tmp_path: Path, db: str) -> None:
    if not REDIS_URL:
        skip_or_fail("this test needs TRADEPIT_TEST_REDIS_URL (CI sets it)")
    prefix = f"tradepit-test-{uuid.uuid4().hex[:12]}"
    engine, api = server(tmp_path, db, "engine", prefix), server(tmp_path, db, "api", prefix)
    runner, worker = engine.state.wiring, api.state.wiring
    try:
        async with contextlib.AsyncExitStack() as api_running:
            async with serving(engine) as engine_address:
                await until(lambda: runner.matcher.leading)
                address = await api_running.enter_async_context(serving(api))
                async with httpx.AsyncClient(base_url=f"http://{engine_address}") as http:
                    assert (await http.get("/health")).status_code == 200
                    assert (await http.get("/metrics")).status_code == 200
                    assert (await http.get("/api/paper-trading/orders")).status_code == 404
                async with httpx.AsyncClient(base_url=f"http://{address}") as http:
                    user = await register(http)
                    token = await login(http, user["username"])
                    # Ticks: the engine's feed, through Redis, to a client of the worker.
                    url = f"ws://{address}/ws?token={token}"
                    async with websockets.connect(url) as ws:
                        await ws.send(json.dumps({"type": "subscribe", "symbol": "INFY"}))
                        # The price at subscription comes from the worker itself; the
                        # ones after it can only come from the engine's feed.
                        kinds = [json.loads(await asyncio.wait_for(ws.recv(), 5))["type"]
                                 for _ in range(5)]  # fmt: skip
                    assert kinds == ["connected", "subscribed", "tick", "tick", "tick"]
                    # Orders: accepted by the worker, resting in the engine's book.
                    ask = worker.market.tick("INFY").ask
                    limit = (ask * Decimal("0.8")).quantize(Decimal("0.1"))
                    body = {"symbol": "INFY", "order_type": "LIMIT", "order_side": "BUY",
                            "quantity": "1", "price": str(limit), "product": "CNC"}  # fmt: skip
                    headers = {"Authorization": f"Bearer {token}"}
                    placed = await http.post(
                        "/api/paper-trading/orders", json=body, headers=headers
                    )
                    assert placed.status_code == 201, placed.text
                    await until(lambda: placed.json()["id"] in runner.matcher.book)
                assert worker.feeds.feed is None  # never started
                assert worker.feed is not None and worker.feed.state.status == "starting"
            # The engine has stopped: a worker never takes over.
            await asyncio.sleep(worker.leadership.poll * 1.5)
            assert not worker.matcher.leading and not worker.leadership.leading.is_set()
    finally:
        await asyncio.gather(runner.engine.dispose(), worker.engine.dispose())


async def test_workers_quote_a_replayed_market_from_the_engine(tmp_path: Path, db: str) -> None:
    if not REDIS_URL:
        skip_or_fail("this test needs TRADEPIT_TEST_REDIS_URL (CI sets it)")
    recording = tmp_path / "recording.csv"
    recording.write_text(REPLAY, encoding="utf-8")
    prefix = f"tradepit-test-{uuid.uuid4().hex[:12]}"
    feed = f"replay:{recording}"
    engine = server(tmp_path, db, "engine", prefix, feed=feed)
    api = server(tmp_path, db, "api", prefix, feed=feed)
    try:
        async with serving(engine):
            # The leading engine starts its feed: what it shares at once, the worker misses.
            await until(lambda: engine.state.wiring.feeds.feed is not None)
            async with (
                serving(api) as address,
                httpx.AsyncClient(base_url=f"http://{address}") as http,
            ):
                before = await http.get("/api/spot_price/RELIANCE")
                assert before.json()["error"]["code"] == "NO_DATA"
                ticks = read_ticks(recording, {i.symbol: i for i in Catalogue.load()})
                await engine.state.wiring.feeds.sink(ticks)  # as the replay plays them
                book = api.state.wiring.feeds.book
                await until(lambda: latest(book, "TCS") is not None)
                spot = (await http.get("/api/spot_price/RELIANCE")).json()["data"]
        assert spot["spot_price"] == pytest.approx(1541.2)
    finally:
        await asyncio.gather(
            engine.state.wiring.engine.dispose(), api.state.wiring.engine.dispose()
        )
