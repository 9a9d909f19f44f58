"""Private events numbered per user and kept, so a client that reconnects misses nothing.

Every private event (an order, a fill, a balance, a bet, a broadcast target) is journaled by
the transaction that makes the change it describes (``record``: the outbox): the user's
events are numbered 1, 2, 3 ... and stored in that transaction, and published with their
``seq`` on ``user.<id>`` and ``user.<id>.seq`` (the topic the gateways read) only once it has
committed. Pub/sub may lose a message; the journal does not, so a gateway that sees a gap (or
a client resuming from ``last_seq``) reads it back. Nothing is journaled after the fact: an
event either committed with its change or does not exist.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tradepit.bus import Bus, Event, Subscription, sequenced_topic, user_topic
from tradepit.domain.clock import Clock
from tradepit.store import events as store
from tradepit.store.db import after_commit, before_commit
from tradepit.store.wallets import lock_user

OUTBOX = "event_outbox"
PRUNE_EVERY = timedelta(minutes=10)


class JournaledBus:
    """The app's bus: what ``record`` journaled is published once its transaction commits;
    journal rows older than ``retention`` are pruned now and then."""

    def __init__(self, inner: Bus, wall: Clock, retention: timedelta = timedelta(hours=24)) -> None:
        self.inner = inner
        self.wall = wall
        self.retention = retention
        self._pruned_at = wall.now()

    def publish(self, topic: str, event: Event) -> None:
        """Publish ``event`` (a private event goes through ``record`` instead)."""
        self.inner.publish(topic, event)

    def subscribe(self, topic: str, maxsize: int = 10_000) -> Subscription:
        """Subscribe to ``topic`` on the underlying bus."""
        return self.inner.subscribe(topic, maxsize)

    def unsubscribe(self, subscription: Subscription) -> None:
        """Unsubscribe on the underlying bus."""
        self.inner.unsubscribe(subscription)

    async def start(self) -> None:
        """Start the underlying bus."""
        await self.inner.start()

    async def close(self) -> None:
        """Stop the underlying bus."""
        await self.inner.close()

    async def prune(self, session: AsyncSession) -> None:
        """Delete, in ``session``'s transaction, journal rows older than the retention; at most
        every ``PRUNE_EVERY`` (the outbox calls it as it writes)."""
        now = self.wall.now()
        if now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            await store.prune(session, now - self.retention)

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
    await bus.prune(session)
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
