"""The event bus: every state change is published on a topic (``user.<id>``, ``tick.<symbol>``,
``market_status``).

In-process by default (``MemoryBus``); ``tradepit.bus.redis.RedisBus`` carries the same topics
across worker processes. ``publish`` never blocks the caller: it is called after a transaction
commits, from synchronous code too.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any, Protocol

Event = dict[str, Any]

#: Session phase changes of any venue.
MARKET_STATUS_TOPIC = "market_status"


class Bus(Protocol):
    """Publish events on topics; subscribe to topics."""

    def publish(self, topic: str, event: Event) -> None:
        """Deliver ``event`` to the topic's subscribers without waiting."""
        ...

    def subscribe(self, topic: str, maxsize: int = 10_000) -> Subscription:
        """Start receiving the topic's events."""
        ...

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop delivering to ``subscription``."""
        ...

    async def start(self) -> None:
        """Connect (a no-op in process)."""
        ...

    async def close(self) -> None:
        """Disconnect and stop the bus's tasks."""
        ...


class Subscription:
    """A subscriber's queue of one topic's events. ``overflowed`` says events were lost.

    ``ready`` is set once events published from now on are sure to arrive (at once in
    process; on the Redis bus when Redis confirmed the channel subscription).
    """

    def __init__(self, bus: Bus, topic: str, maxsize: int) -> None:
        self.bus = bus
        self.topic = topic
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=maxsize)
        self.overflowed = False
        self.ready = asyncio.Event()

    def offer(self, event: Event) -> None:
        """Queue ``event``; a full queue marks the subscription overflowed (the gateway then
        disconnects the client rather than hide a gap in private events)."""
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True

    async def get(self) -> Event:
        """Wait for the next event."""
        return await self.queue.get()

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            yield await self.queue.get()

    def close(self) -> None:
        """Stop receiving."""
        self.bus.unsubscribe(self)


class MemoryBus:
    """The in-process bus."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self.published = 0

    def publish(self, topic: str, event: Event) -> None:
        """Deliver ``event`` to the topic's current subscribers."""
        self.published += 1
        for subscription in tuple(self._subscribers.get(topic, ())):
            subscription.offer(event)

    def subscribe(self, topic: str, maxsize: int = 10_000) -> Subscription:
        """Return a new subscription to ``topic``."""
        subscription = Subscription(self, topic, maxsize)
        subscription.ready.set()
        self._subscribers[topic].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget ``subscription``."""
        subscribers = self._subscribers.get(subscription.topic)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscribers[subscription.topic]

    async def start(self) -> None:
        """Nothing to connect."""

    async def close(self) -> None:
        """Nothing to disconnect."""


def user_topic(user_id: int) -> str:
    """Return the topic of one user's private events, as they are committed."""
    return f"user.{user_id}"


def sequenced_topic(user_id: int) -> str:
    """Return the topic of one user's private events once journaled with their ``seq``."""
    return f"user.{user_id}.seq"


def tick_topic(symbol: str) -> str:
    """Return the topic of one symbol's ticks."""
    return f"tick.{symbol}"
