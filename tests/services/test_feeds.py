"""Running feeds: bars persisted and warmed back, failures contained, the simulator's grid,
sealed secrets and the stored Kite token."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tradepit.domain.clock import ManualClock, SimulatedClock
from tradepit.domain.instruments import Instrument
from tradepit.domain.market import Candle, Tick
from tradepit.market.catalogue import Catalogue
from tradepit.market.feed import FeedState, TickSink
from tradepit.market.quotes import QuoteBook
from tradepit.market.simulated_feed import CHUNK, STEP_US, SimulatedFeed
from tradepit.market.simulator import Simulator
from tradepit.services.callers import Caller
from tradepit.services.feeds import FeedRunner, load_kite_token, save_kite_token, warm
from tradepit.services.identities import Identity
from tradepit.store import candles as candle_store
from tradepit.store.audit import AuditEntry
from tradepit.store.candles import CandleRow
from tradepit.store.crypto import SealBroken, Sealer
from tradepit.store.db import create_engine, create_sessionmaker
from tradepit.store.feeds import FeedCredential
from tradepit.store.users import User

#: 09:15 IST on a Wednesday: the NSE open.
OPEN = datetime(2026, 3, 4, 3, 45, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_names = itertools.count(1)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    """Return the shipped catalogue."""
    return Catalogue.load()


@pytest.fixture(scope="module")
def instruments(catalogue: Catalogue) -> list[Instrument]:
    """Return the instruments the bar tests use."""
    return [catalogue.get("RELIANCE"), catalogue.get("BTC-USDT")]


@dataclass
class Store:
    """The database under test."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


@pytest.fixture
async def store(db: str) -> AsyncIterator[Store]:
    """Yield the test database with a session factory."""
    engine = create_engine(db)
    yield Store(engine, create_sessionmaker(engine))
    await engine.dispose()


def tick(ts: datetime, ltp: str, volume: int = 0, symbol: str = "RELIANCE") -> Tick:
    """Return a tick of ``symbol`` at ``ts`` with the day's cumulative ``volume``."""
    price = Decimal(ltp)
    return Tick(symbol, ts, price, price, price, Decimal(1), Decimal(1), Decimal(volume))


def minutes(start: datetime, closes: list[str], symbol: str = "RELIANCE") -> list[Tick]:
    """Return one tick per minute from ``start``, at 10 s past, with the given prices."""
    return [
        tick(start + timedelta(minutes=i, seconds=10), price, 100 * (i + 1), symbol)
        for i, price in enumerate(closes)
    ]


async def stored(store: Store, symbol: str, interval: str) -> list[Candle]:
    """Return the persisted bars of ``symbol`` and ``interval``, oldest first."""
    async with store.sessions() as session:
        return await candle_store.recent(session, symbol, interval, OPEN - timedelta(days=30))


async def row_count(store: Store) -> int:
    """Return how many bars are stored."""
    async with store.sessions() as session:
        return await session.scalar(select(func.count()).select_from(CandleRow)) or 0


@dataclass
class ScriptedFeed:
    """A feed that runs ``script`` against the sink."""

    script: Callable[[TickSink], object]
    state: FeedState = field(default_factory=lambda: FeedState(kind="scripted"))

    async def run(self, sink: TickSink) -> None:
        """Run the script."""
        self.state.status = "running"
        result = self.script(sink)
        if asyncio.iscoroutine(result):
            await result


async def eventually(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Wait until ``condition`` holds (polled: feed state is a plain dataclass)."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


class TestSink:
    async def test_closed_bars_are_persisted(
        self, store: Store, instruments: list[Instrument]
    ) -> None:
        runner = FeedRunner(QuoteBook(instruments), store.sessions)
        await runner.sink(minutes(OPEN, ["1540", "1541"]))
        await runner.sink(minutes(OPEN + timedelta(minutes=2), ["1542"]))
        bars = await stored(store, "RELIANCE", "1m")
        assert [(b.start, b.close) for b in bars] == [
            (OPEN, Decimal("1540")),
            (OPEN + timedelta(minutes=1), Decimal("1541")),
        ]
        assert bars[1].volume == Decimal(100)
        assert await stored(store, "RELIANCE", "5m") == []  # still forming

    async def test_the_forming_bar_is_not_persisted(
        self, store: Store, instruments: list[Instrument]
    ) -> None:
        runner = FeedRunner(QuoteBook(instruments), store.sessions)
        await runner.sink([tick(OPEN, "1540"), tick(OPEN + timedelta(seconds=30), "1541")])
        assert await row_count(store) == 0

    async def test_bars_of_every_interval_are_persisted(
        self, store: Store, instruments: list[Instrument]
    ) -> None:
        runner = FeedRunner(QuoteBook(instruments), store.sessions)
        await runner.sink([tick(OPEN, "1540", 10)])
        await runner.sink([tick(OPEN + timedelta(days=1), "1550", 20)])
        for interval in ("1m", "5m", "15m", "1h", "1d"):
            (bar,) = await stored(store, "RELIANCE", interval)
            assert bar.close == Decimal("1540")

    async def test_saving_the_same_bars_twice_stores_them_once(
        self, store: Store, instruments: list[Instrument]
    ) -> None:
        book = QuoteBook(instruments)
        closed = book.apply(minutes(OPEN, ["1540", "1541", "1542"]))
        for _ in range(2):
            async with store.sessions() as session:
                await candle_store.save(session, closed)
                await session.commit()
        assert await row_count(store) == len(closed)
        async with store.sessions() as session:
            assert await candle_store.save(session, closed) == 0

    async def test_replaying_ticks_after_a_restart_adds_no_rows(
        self, store: Store, instruments: list[Instrument]
    ) -> None:
        ticks = minutes(OPEN, ["1540", "1541", "1542"])
        await FeedRunner(QuoteBook(instruments), store.sessions).sink(ticks)
        before = await stored(store, "RELIANCE", "1m")
        await FeedRunner(QuoteBook(instruments), store.sessions).sink(ticks)
        assert await stored(store, "RELIANCE", "1m") == before

    async def test_listeners_hear_every_batch(
        self, store: Store, instruments: list[Instrument]
    ) -> None:
        heard: list[int] = []

        async def listener(batch: Sequence[Tick]) -> None:
            heard.append(len(batch))

        runner = FeedRunner(QuoteBook(instruments), store.sessions, [listener])
        await runner.sink(minutes(OPEN, ["1540", "1541"]))
        await runner.sink([tick(OPEN, "90000", symbol="BTC-USDT")])
        assert heard == [2, 1]


class TestWarm:
    async def test_a_fresh_book_gets_the_persisted_bars(
        self, store: Store, instruments: list[Instrument]
    ) -> None:
        runner = FeedRunner(QuoteBook(instruments), store.sessions)
        await runner.sink(minutes(OPEN, ["1540", "1541", "1542"]))
        await runner.sink(minutes(OPEN, ["90000", "90100"], symbol="BTC-USDT"))
        persisted = await row_count(store)
        fresh = QuoteBook(instruments)
        now = OPEN + timedelta(hours=1)
        assert await warm(fresh, store.sessions, instruments, now) == persisted
        bars = fresh.candles("RELIANCE", "1m", OPEN, now)
        assert bars == await stored(store, "RELIANCE", "1m")
        assert [b.close for b in bars] == [Decimal("1540"), Decimal("1541")]
        assert fresh.price_at("BTC-USDT", now) == Decimal("90000")

    async def test_bars_older_than_the_span_stay_in_the_database(
        self, store: Store, instruments: list[Instrument]
    ) -> None:
        await FeedRunner(QuoteBook(instruments), store.sessions).sink(
            minutes(OPEN, ["1540", "1541"])
        )
        fresh = QuoteBook(instruments)
        assert await warm(fresh, store.sessions, instruments, OPEN + timedelta(days=8)) == 0
        assert fresh.candles("RELIANCE", "1m", OPEN, OPEN + timedelta(days=8)) == []
        assert await row_count(store) == 1

    async def test_an_empty_database_warms_nothing(
        self, store: Store, instruments: list[Instrument]
    ) -> None:
        assert await warm(QuoteBook(instruments), store.sessions, instruments, OPEN) == 0


class TestRunner:
    async def test_a_failing_feed_is_reported_and_contained(
        self, store: Store, instruments: list[Instrument]
    ) -> None:
        async def explode(sink: TickSink) -> None:
            await sink([tick(OPEN, "1540")])
            raise ConnectionError("upstream closed the socket")

        runner = FeedRunner(QuoteBook(instruments), store.sessions)
        broken = ScriptedFeed(explode)
        runner.start(broken)
        await eventually(lambda: broken.state.status == "failed")
        assert broken.state.detail == "ConnectionError: upstream closed the socket"
        assert runner.feed is broken
        # The server keeps going: the book still answers and another feed can run.
        book = runner.book
        assert book is not None
        assert book.tick_at("RELIANCE", OPEN).ltp == Decimal("1540")
        healthy = ScriptedFeed(lambda sink: sink([tick(OPEN + timedelta(seconds=1), "1541")]))
        await runner.replace(healthy)
        await eventually(lambda: book.tick_at("RELIANCE", OPEN).ltp == Decimal("1541"))
        await runner.stop()

    async def test_stop_cancels_the_feed(self, store: Store, instruments: list[Instrument]) -> None:
        forever = ScriptedFeed(lambda sink: asyncio.Event().wait())
        runner = FeedRunner(QuoteBook(instruments), store.sessions)
        runner.start(forever)
        await eventually(lambda: forever.state.status == "running")
        await runner.stop()
        assert forever.state.status == "stopped"
        await runner.stop()  # stopping twice is harmless

    async def test_replace_stops_the_running_feed(
        self, store: Store, instruments: list[Instrument]
    ) -> None:
        first = ScriptedFeed(lambda sink: asyncio.Event().wait())
        second = ScriptedFeed(lambda sink: asyncio.Event().wait())
        runner = FeedRunner(QuoteBook(instruments), store.sessions)
        runner.start(first)
        await eventually(lambda: first.state.status == "running")
        await runner.replace(second)
        await eventually(lambda: second.state.status == "running")
        assert first.state.status == "stopped" and runner.feed is second
        await runner.stop()
        assert second.state.status == "stopped"


class TestSimulatedFeed:
    async def test_delivers_every_instrument_on_the_250ms_grid(self, catalogue: Catalogue) -> None:
        # Wednesday 11:30 IST: every venue trades.
        start = datetime(2026, 3, 4, 6, 0, tzinfo=UTC)
        clock = SimulatedClock(speed=600, start=start)
        feed = SimulatedFeed(Simulator(catalogue, 42), clock)
        batches: list[list[Tick]] = []

        async def sink(batch: Sequence[Tick]) -> None:
            batches.append(list(batch))

        task = asyncio.create_task(feed.run(sink))
        try:
            await eventually(lambda: len(batches) >= 2, within=5)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        ticks = [t for batch in batches for t in batch]
        assert {t.symbol for t in ticks} == {i.symbol for i in catalogue}
        for t in ticks:
            offset = t.ts - _EPOCH
            assert (offset // timedelta(microseconds=1)) % STEP_US == 0
            assert start < t.ts <= clock.now()
        stamps = sorted({t.ts for t in ticks})
        assert all(b - a >= timedelta(milliseconds=250) for a, b in itertools.pairwise(stamps))
        per_instant = {ts: {t.symbol for t in ticks if t.ts == ts} for ts in stamps[-3:]}
        assert all(len(symbols) == len(catalogue) for symbols in per_instant.values())
        assert feed.state.status == "running" and feed.state.ticks == len(ticks)
        # Several grid points per round (a fast clock): still time-major, as one batch was.
        assert all(batch == sorted(batch, key=lambda t: t.ts) for batch in batches)

    async def test_other_tasks_run_while_a_round_is_computed(self, catalogue: Catalogue) -> None:
        """A round of the whole catalogue is computed a chunk at a time, and the event loop
        serves other tasks (requests) between two chunks instead of waiting for the round."""
        clock = SimulatedClock(speed=1, start=datetime(2026, 3, 4, 6, 0, tzinfo=UTC))
        feed = SimulatedFeed(Simulator(catalogue, 42), clock)
        turns = 0
        seen: list[int] = []  # the other task's turns when each chunk was computed
        compute = feed.simulator.tick_batch

        def counting(*args: Any, **kwargs: Any) -> Any:
            seen.append(turns)
            return compute(*args, **kwargs)

        feed.simulator.tick_batch = counting  # type: ignore[method-assign]
        rounds = 0

        async def sink(batch: Sequence[Tick]) -> None:
            nonlocal rounds
            rounds += 1

        async def other() -> None:
            nonlocal turns
            while True:
                turns += 1
                await asyncio.sleep(0)

        tasks = [asyncio.create_task(feed.run(sink)), asyncio.create_task(other())]
        try:
            await eventually(lambda: rounds >= 1, within=5)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        chunks = -(-len(feed.symbols) // CHUNK)
        first_round = seen[:chunks]
        assert chunks > 1 and len(first_round) == chunks
        assert all(b > a for a, b in itertools.pairwise(first_round))


def key() -> str:
    """Return a new Fernet key."""
    return Fernet.generate_key().decode()


class TestSealer:
    def test_round_trip(self) -> None:
        sealer = Sealer([key()])
        sealed = sealer.seal("feed:kite", "secret-token")
        assert "secret-token" not in sealed
        assert sealer.open("feed:kite", sealed) == "secret-token"

    def test_sealing_twice_gives_different_ciphertexts(self) -> None:
        sealer = Sealer([key()])
        assert sealer.seal("feed:kite", "x") != sealer.seal("feed:kite", "x")

    def test_another_owner_is_refused(self) -> None:
        sealer = Sealer([key()])
        sealed = sealer.seal("feed:kite", "secret-token")
        with pytest.raises(SealBroken, match="another owner"):
            sealer.open("broker:42", sealed)

    def test_a_tampered_ciphertext_is_refused(self) -> None:
        sealer = Sealer([key()])
        sealed = sealer.seal("feed:kite", "secret-token")
        middle = len(sealed) // 2
        flipped = "A" if sealed[middle] != "A" else "B"
        with pytest.raises(SealBroken, match="cannot be decrypted"):
            sealer.open("feed:kite", sealed[:middle] + flipped + sealed[middle + 1 :])
        with pytest.raises(SealBroken):
            sealer.open("feed:kite", "not a ciphertext")

    def test_another_key_is_refused(self) -> None:
        sealed = Sealer([key()]).seal("feed:kite", "secret-token")
        with pytest.raises(SealBroken):
            Sealer([key()]).open("feed:kite", sealed)

    def test_rotation_to_a_new_key(self) -> None:
        old, new = key(), key()
        sealed = Sealer([old]).seal("feed:kite", "secret-token")
        both = Sealer([new, old])
        assert both.open("feed:kite", sealed) == "secret-token"  # old ciphertexts still open
        rotated = both.rotate(sealed)
        assert both.open("feed:kite", rotated) == "secret-token"
        assert Sealer([new]).open("feed:kite", rotated) == "secret-token"
        with pytest.raises(SealBroken):
            Sealer([new]).open("feed:kite", sealed)
        with pytest.raises(SealBroken):
            Sealer([old]).open("feed:kite", rotated)

    def test_no_key_is_refused(self) -> None:
        with pytest.raises(ValueError, match="at least one"):
            Sealer([])


TOKEN = "kite-access-token-0123456789"


async def operator(session: AsyncSession) -> Caller:
    """Insert an administrator and return them as a caller."""
    name = f"ops{next(_names)}"
    user = User(
        username=name,
        username_key=name,
        email=None,
        password_hash="not-a-hash",
        role="admin",
        is_active=True,
        created_at=OPEN,
    )
    session.add(user)
    await session.flush()
    return Caller(user=Identity.of(user), ip="198.51.100.4")


class TestKiteToken:
    async def test_only_ciphertext_is_stored(self, store: Store) -> None:
        wall = ManualClock(OPEN)
        sealer = Sealer([key()])
        expires = OPEN + timedelta(hours=20)
        async with store.sessions() as session:
            caller = await operator(session)
            await save_kite_token(
                session,
                wall,
                caller,
                sealer,
                access_token=TOKEN,
                account="AB1234",
                expires_at=expires,
            )
            await session.commit()
        async with store.sessions() as session:
            (row,) = (await session.scalars(select(FeedCredential))).all()
            entries = (await session.scalars(select(AuditEntry))).all()
        assert TOKEN not in row.sealed
        assert sealer.open("feed:kite", row.sealed) == TOKEN
        assert (row.provider, row.account, row.expires_at) == ("kite", "AB1234", expires)
        assert row.updated_by == caller.user.id and row.updated_at == OPEN
        (entry,) = [e for e in entries if e.action == "feed.kite.session"]
        assert entry.actor_id == caller.user.id and entry.ip == "198.51.100.4"
        assert entry.details["account"] == "AB1234"
        assert all(TOKEN not in repr(vars(e)) for e in entries)

    async def test_load_returns_the_token_until_it_expires(self, store: Store) -> None:
        wall = ManualClock(OPEN)
        sealer = Sealer([key()])
        expires = OPEN + timedelta(hours=20)
        async with store.sessions() as session:
            caller = await operator(session)
            await save_kite_token(
                session,
                wall,
                caller,
                sealer,
                access_token=TOKEN,
                account="AB1234",
                expires_at=expires,
            )
            await session.commit()
        async with store.sessions() as session:
            assert await load_kite_token(session, wall, sealer) == (TOKEN, expires)
            wall.advance(timedelta(hours=20) - timedelta(seconds=1))
            assert await load_kite_token(session, wall, sealer) == (TOKEN, expires)
            wall.advance(timedelta(seconds=1))
            assert await load_kite_token(session, wall, sealer) is None

    async def test_nothing_stored_loads_nothing(self, store: Store) -> None:
        async with store.sessions() as session:
            assert await load_kite_token(session, ManualClock(OPEN), Sealer([key()])) is None

    async def test_a_new_token_replaces_the_old_one(self, store: Store) -> None:
        wall = ManualClock(OPEN)
        sealer = Sealer([key()])
        async with store.sessions() as session:
            caller = await operator(session)
            for token, account in ((TOKEN, "AB1234"), ("second-token-987654", "CD5678")):
                await save_kite_token(
                    session,
                    wall,
                    caller,
                    sealer,
                    access_token=token,
                    account=account,
                    expires_at=OPEN + timedelta(hours=20),
                )
                await session.commit()
        async with store.sessions() as session:
            rows = (await session.scalars(select(FeedCredential))).all()
            assert [row.account for row in rows] == ["CD5678"]
            found = await load_kite_token(session, wall, sealer)
            assert found is not None and found[0] == "second-token-987654"
