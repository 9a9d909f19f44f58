"""Private events numbered per user and kept, so a client that reconnects misses nothing.

``JournaledBus`` is the app's bus. A private event published on ``user.<id>`` is delivered
there at once (in-process listeners), and queued: a writer task numbers each user's events
1, 2, 3 ... in the database, in batches, and then publishes them with their ``seq`` on
``user.<id>.seq``, the topic the gateways read. Pub/sub may lose a message; the journal does
not, so a gateway that sees a gap (or a client resuming from ``last_seq``) reads it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tradepit.bus import Bus, Event, Subscription, sequenced_topic, user_topic
from tradepit.domain.clock import Clock
from tradepit.store import events as store
from tradepit.store.db import after_commit, before_commit, commit
from tradepit.store.wallets import lock_user

log = logging.getLogger("tradepit.journal")

USER_PREFIX = "user."
OUTBOX = "event_outbox"
#: Events written per transaction at most.
BATCH = 500
PRUNE_EVERY = timedelta(minutes=10)


class JournaledBus:
    """A bus that also numbers, stores and re-publishes each user's private events."""

    def __init__(
        self,
        inner: Bus,
        sessionmaker: async_sessionmaker[AsyncSession],
        wall: Clock,
        retention: timedelta = timedelta(hours=24),
    ) -> None:
        self.inner = inner
        self.sessionmaker = sessionmaker
        self.wall = wall
        self.retention = retention
        self._pending: asyncio.Queue[tuple[int, Event]] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._pruned_at = wall.now()
        self._busy = False

    def publish(self, topic: str, event: Event) -> None:
        """Publish ``event``; journal it first when it is a user's private event."""
        self.inner.publish(topic, event)
        user = topic.removeprefix(USER_PREFIX)
        if topic.startswith(USER_PREFIX) and user.isdigit():
            self._pending.put_nowait((int(user), event))

    def subscribe(self, topic: str, maxsize: int = 10_000) -> Subscription:
        """Subscribe to ``topic`` on the underlying bus."""
        return self.inner.subscribe(topic, maxsize)

    def unsubscribe(self, subscription: Subscription) -> None:
        """Unsubscribe on the underlying bus."""
        self.inner.unsubscribe(subscription)

    async def start(self) -> None:
        """Start the bus and the journal writer."""
        await self.inner.start()
        self._writer = asyncio.create_task(self._write_loop(), name="journal")

    async def close(self) -> None:
        """Write what is queued, then stop."""
        if self._writer is not None:
            await self.flush()
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        await self.inner.close()

    async def flush(self) -> None:
        """Wait until every event published so far is journaled and re-published."""
        while not self._pending.empty() or self._busy:  # noqa: ASYNC110 - two conditions
            await asyncio.sleep(0.005)

    async def _write_loop(self) -> None:
        while True:
            batch = [await self._pending.get()]
            self._busy = True
            try:
                while not self._pending.empty() and len(batch) < BATCH:
                    batch.append(self._pending.get_nowait())
                await self._write(batch)
            finally:
                self._busy = False

    async def _write(self, batch: list[tuple[int, Event]]) -> None:
        """Number and store ``batch``, then publish it; retry when another worker numbered
        the same user's events at the same time, or the database was busy."""
        per_user: dict[int, list[Event]] = defaultdict(list)
        for user_id, event in batch:
            per_user[user_id].append(event)
        attempt = 0
        while True:
            try:
                numbered = await self._store(per_user)
                break
            except (IntegrityError, DBAPIError) as exc:
                attempt += 1
                log.warning("journal write retried (attempt %d): %s", attempt, type(exc).__name__)
                await asyncio.sleep(min(0.01 * attempt, 1.0))
        for user_id, events in numbered.items():
            for event in events:
                self.inner.publish(sequenced_topic(user_id), event)

    async def _store(self, per_user: dict[int, list[Event]]) -> dict[int, list[Event]]:
        now = self.wall.now()
        async with self.sessionmaker() as session:
            numbered = await number(session, per_user, now)
            if now - self._pruned_at >= PRUNE_EVERY:
                await store.prune(session, now - self.retention)
                self._pruned_at = now
            await commit(session)
        return numbered

    def publish_numbered(self, numbered: dict[int, list[Event]]) -> None:
        """Publish events journaled by a transaction's outbox, now that it has committed."""
        for user_id, events in numbered.items():
            for event in events:
                self.inner.publish(user_topic(user_id), event)
                self.inner.publish(sequenced_topic(user_id), event)


async def number(
    session: AsyncSession, per_user: dict[int, list[Event]], now: datetime
) -> dict[int, list[Event]]:
    """Number each user's events after their last ``seq`` and store them, in the session's
    transaction. The user's lock (``lock_user``) orders this against every other writer of
    that user's events, so numbers never collide on PostgreSQL either."""
    numbered: dict[int, list[Event]] = {}
    rows: list[dict[str, object]] = []
    for user_id, events in per_user.items():
        await lock_user(session, user_id)
        last = await store.last_seq(session, user_id)
        numbered[user_id] = [{**event, "seq": last + i} for i, event in enumerate(events, start=1)]
        rows.extend(
            {"user_id": user_id, "seq": event["seq"], "type": str(event.get("type", "")),
             "payload": event, "created_at": now}
            for event in numbered[user_id]
        )  # fmt: skip
    await store.add(session, rows)
    return numbered


def record(session: AsyncSession, bus: Bus, user_id: int, event: Event) -> None:
    """Journal a private event in the session's own transaction (the outbox: it commits with
    the order, fill or balance change it describes, or not at all) and publish it, numbered,
    once that transaction commits. On a bus without a journal it is only published."""
    if not isinstance(bus, JournaledBus):
        after_commit(session, functools.partial(bus.publish, user_topic(user_id), event))
        return
    outbox: list[tuple[int, Event]] | None = session.info.get(OUTBOX)
    if outbox is None:
        outbox = session.info[OUTBOX] = []
        before_commit(session, functools.partial(_write_outbox, session, bus))
    outbox.append((user_id, event))


async def _write_outbox(session: AsyncSession, bus: JournaledBus) -> None:
    per_user: dict[int, list[Event]] = defaultdict(list)
    for user_id, event in session.info.pop(OUTBOX, []):
        per_user[user_id].append(event)
    numbered = await number(session, per_user, bus.wall.now())
    after_commit(session, functools.partial(bus.publish_numbered, numbered))


async def last_seq(sessionmaker: async_sessionmaker[AsyncSession], user_id: int) -> int:
    """Return the user's newest event number (0 before any)."""
    async with sessionmaker() as session:
        return await store.last_seq(session, user_id)


async def since(
    sessionmaker: async_sessionmaker[AsyncSession], user_id: int, after: int, limit: int
) -> Sequence[Event]:
    """Return the user's events numbered above ``after``, oldest first, at most ``limit``."""
    async with sessionmaker() as session:
        return [row.payload for row in await store.since(session, user_id, after, limit)]
