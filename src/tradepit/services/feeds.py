"""Running the market feed: ticks into the quote book, closed bars into the database, and the
Kite login flow that renews the live feed's token every day."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tradepit.bus import Bus
from tradepit.domain.clock import Clock
from tradepit.domain.errors import InvalidInput
from tradepit.domain.instruments import Instrument
from tradepit.domain.market import Tick
from tradepit.market.feed import Feed
from tradepit.market.quotes import QuoteBook
from tradepit.services.callers import Caller
from tradepit.store import audit
from tradepit.store import candles as candle_store
from tradepit.store import feeds as feed_store
from tradepit.store.crypto import Sealer
from tradepit.store.feeds import FeedCredential

log = logging.getLogger("tradepit.feed")

KITE = "kite"
#: How much persisted history is loaded into memory at start-up, per interval.
WARM_SPAN = {
    "1m": timedelta(days=7),
    "5m": timedelta(days=30),
    "15m": timedelta(days=60),
    "1h": timedelta(days=180),
    "1d": timedelta(days=730),
}


class KiteAccessLike(Protocol):
    """What a Kite login answers."""

    @property
    def access_token(self) -> str:
        """The session's access token."""
        ...

    @property
    def user_id(self) -> str:
        """The Kite account."""
        ...

    @property
    def expires_at(self) -> datetime:
        """When the token stops working (06:00 IST next morning)."""
        ...


class KiteLogin(Protocol):
    """The Kite login flow (``tradepit.market.kite_feed.KiteSession``)."""

    def login_url(self) -> str:
        """Return the URL where the operator logs in to Kite."""
        ...

    async def exchange(self, request_token: str) -> KiteAccessLike:
        """Trade the request token from the redirect for an access token."""
        ...

    async def instruments(self, access_token: str) -> dict[str, int]:
        """Return our symbols mapped to Kite instrument tokens."""
        ...


class FeedNotConfigured(InvalidInput):
    """The operation needs a feed provider that is not configured."""

    code = "FEED_NOT_CONFIGURED"


class FeedRunner:
    """Own the feed task: start it, replace it (after a token renewal), stop it."""

    def __init__(
        self,
        book: QuoteBook | None,
        sessionmaker: async_sessionmaker[AsyncSession],
        listeners: Sequence[Callable[[Sequence[Tick]], Awaitable[None]]] = (),
    ) -> None:
        self.book = book
        self.sessionmaker = sessionmaker
        self.listeners = list(listeners)
        self.feed: Feed | None = None
        self._task: asyncio.Task[None] | None = None

    async def sink(self, batch: Sequence[Tick]) -> None:
        """Take a batch: update the book, persist the bars it closed, tell the listeners."""
        if self.book is not None:
            closed = self.book.apply(batch)
            if closed:
                async with self.sessionmaker() as session:
                    await candle_store.save(session, closed)
                    await session.commit()
        for listener in self.listeners:
            await listener(batch)

    def start(self, feed: Feed) -> None:
        """Run ``feed`` in the background, replacing the running one."""
        self.feed = feed
        self._task = asyncio.create_task(self._run(feed), name=f"feed:{feed.state.kind}")

    async def replace(self, feed: Feed) -> None:
        """Stop the running feed and start ``feed``."""
        await self.stop()
        self.start(feed)

    async def stop(self) -> None:
        """Cancel the feed task and wait for it."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, feed: Feed) -> None:
        try:
            await feed.run(self.sink)
        except asyncio.CancelledError:
            feed.state.status = "stopped"
            raise
        except Exception as exc:  # a feed bug must not take the server down
            feed.state.status = "failed"
            feed.state.detail = f"{type(exc).__name__}: {exc}"
            log.exception("feed %s failed", feed.state.kind)


#: The bus topic on which an engine shares every tick of a replay or live feed, so that API
#: workers (which run no feed) keep the same quote book.
QUOTES_TOPIC = "quotes"
_TICK_FIELDS = ("ltp", "bid", "ask", "bid_size", "ask_size", "volume")


def quotes_event(batch: Sequence[Tick]) -> dict[str, object]:
    """Return a feed batch as a bus event (exact amounts as strings)."""
    rows = []
    for t in batch:
        amounts = [str(getattr(t, name)) for name in _TICK_FIELDS]
        rows.append([t.symbol, t.ts.isoformat(), *amounts, None if t.oi is None else str(t.oi)])
    return {"ticks": rows}


def ticks_of(event: dict[str, object]) -> list[Tick]:
    """Return the ticks of a ``quotes_event``."""
    rows = event.get("ticks")
    assert isinstance(rows, list)
    ticks = []
    for symbol, ts, *amounts, oi in rows:
        fields = dict(zip(_TICK_FIELDS, map(Decimal, amounts), strict=True))
        oi_value = None if oi is None else Decimal(oi)
        ticks.append(Tick(symbol=symbol, ts=datetime.fromisoformat(ts), oi=oi_value, **fields))
    return ticks


async def mirror_quotes(bus: Bus, book: QuoteBook) -> None:
    """Keep ``book`` up to date from an engine's ``QUOTES_TOPIC`` (in an API worker; the
    engine persists the bars, so the bars closed here are not saved again)."""
    subscription = bus.subscribe(QUOTES_TOPIC)
    try:
        async for event in subscription:
            book.apply(ticks_of(event))
    finally:
        subscription.close()


async def warm(
    book: QuoteBook,
    sessionmaker: async_sessionmaker[AsyncSession],
    instruments: Sequence[Instrument],
    now: datetime,
) -> int:
    """Load the bars persisted before this start into the quote book; return how many."""
    loaded = 0
    async with sessionmaker() as session:
        for instrument in instruments:
            for interval, span in WARM_SPAN.items():
                bars = await candle_store.recent(session, instrument.symbol, interval, now - span)
                book.load(bars)
                loaded += len(bars)
    return loaded


async def save_kite_token(
    session: AsyncSession,
    wall: Clock,
    caller: Caller,
    sealer: Sealer,
    *,
    access_token: str,
    account: str,
    expires_at: datetime,
) -> FeedCredential:
    """Store the Kite access token encrypted, and audit the change without the token."""
    now = wall.now()
    row = await feed_store.get(session, KITE)
    if row is None:
        row = FeedCredential(provider=KITE, sealed="", updated_at=now)
        session.add(row)
    row.sealed = sealer.seal(f"feed:{KITE}", access_token)
    row.account = account
    row.expires_at = expires_at
    row.updated_at = now
    row.updated_by = caller.user.id
    audit.record(
        session,
        wall,
        action="feed.kite.session",
        actor_id=caller.user.id,
        actor=caller.user.username,
        target=f"feed:{KITE}",
        ip=caller.ip,
        details={"account": account, "expires_at": expires_at.isoformat()},
    )
    return row


def kite_login_url(kite: KiteLogin | None) -> str:
    """Return where the operator logs in to Kite to start today's session."""
    if kite is None:
        raise FeedNotConfigured(
            "Kite is not configured: set TRADEPIT_KITE_API_KEY and TRADEPIT_KITE_API_SECRET"
        )
    return kite.login_url()


async def renew_kite_session(
    session: AsyncSession,
    wall: Clock,
    caller: Caller,
    sealer: Sealer,
    kite: KiteLogin | None,
    request_token: str,
    on_token: Callable[[str], Awaitable[None]] | None = None,
) -> FeedCredential:
    """Trade Kite's request token for today's access token, store it sealed, restart the feed.

    A refusal by Kite (``FeedLoginRefused``) carries Kite's own reason.
    """
    if kite is None:
        kite_login_url(kite)
    assert kite is not None
    access = await kite.exchange(request_token)
    row = await save_kite_token(
        session,
        wall,
        caller,
        sealer,
        access_token=access.access_token,
        account=access.user_id,
        expires_at=access.expires_at,
    )
    if on_token is not None:
        await on_token(access.access_token)
    return row


def feed_state(runner: FeedRunner) -> dict[str, object]:
    """Return the running feed's state for the admin side."""
    feed = runner.feed
    if feed is None:
        return {"kind": None, "status": "not_started", "detail": "", "ticks": 0}
    state = feed.state
    return {
        "kind": state.kind,
        "status": state.status,
        "detail": state.detail,
        "ticks": state.ticks,
        "last_tick_at": state.last_tick_at,
        "symbols": state.symbols,
    }


async def load_kite_token(
    session: AsyncSession, wall: Clock, sealer: Sealer
) -> tuple[str, datetime] | None:
    """Return the stored Kite access token and its expiry, if one is stored and still valid."""
    row = await feed_store.get(session, KITE)
    if row is None or row.expires_at is None or row.expires_at <= wall.now():
        return None
    return sealer.open(f"feed:{KITE}", row.sealed), row.expires_at
