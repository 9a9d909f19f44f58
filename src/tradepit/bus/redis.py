"""The bus across worker processes: Redis pub/sub, one channel per topic.

A worker subscribes to a topic's channel only while one of its subscribers wants it, so it
never receives (or decodes) what no local client needs. Every delivery, local ones too, goes
through Redis, so all workers see one order per topic. Pub/sub is at most once: private events
are also journaled with a sequence number (``services/journal.py``) and replayed from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import defaultdict

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from tradepit.bus import Event, Subscription

log = logging.getLogger("tradepit.bus")

#: Events waiting to be published; beyond this a burst is dropped (and counted), never blocks.
OUTBOX_SIZE = 100_000


def encode(event: Event) -> bytes:
    """Return the wire form of an event."""
    return json.dumps(event, separators=(",", ":"), default=str).encode()


class RedisBus:
    """Publish and subscribe through Redis; same interface as ``MemoryBus``."""

    def __init__(self, url: str, prefix: str) -> None:
        self.redis: Redis = Redis.from_url(url)
        self.prefix = f"{prefix}:bus:"
        self.published = 0
        self.dropped = 0
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self._confirmed: set[str] = set()
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(OUTBOX_SIZE)
        self._pubsub: PubSub | None = None
        self._tasks: list[asyncio.Task[None]] = []
        #: A channel of this worker's own, so the pub/sub connection is always subscribed.
        self._control = f"{self.prefix}_worker.{uuid.uuid4().hex}"

    def channel(self, topic: str) -> str:
        """Return the Redis channel of ``topic``."""
        return self.prefix + topic

    def publish(self, topic: str, event: Event) -> None:
        """Queue ``event`` for Redis; a full outbox drops it and counts it."""
        try:
            self._outbox.put_nowait((self.channel(topic), encode(event)))
            self.published += 1
        except asyncio.QueueFull:
            self.dropped += 1

    def subscribe(self, topic: str, maxsize: int = 10_000) -> Subscription:
        """Return a subscription; its ``ready`` is set once Redis confirmed the channel."""
        subscription = Subscription(self, topic, maxsize)
        first = not self._subscribers[topic]
        self._subscribers[topic].add(subscription)
        if topic in self._confirmed:
            subscription.ready.set()
        elif first:
            self._command("subscribe", topic)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget ``subscription``; leave the channel when it was the topic's last."""
        subscribers = self._subscribers.get(subscription.topic)
        if subscribers is None:
            return
        subscribers.discard(subscription)
        if not subscribers:
            del self._subscribers[subscription.topic]
            self._confirmed.discard(subscription.topic)
            self._command("unsubscribe", subscription.topic)

    def _command(self, verb: str, topic: str) -> None:
        if self._pubsub is None:
            return  # sent for every wanted topic when the bus starts
        task = asyncio.create_task(self._send(verb, topic), name=f"bus:{verb}")
        self._tasks.append(task)
        task.add_done_callback(self._tasks.remove)

    async def _send(self, verb: str, topic: str) -> None:
        assert self._pubsub is not None
        try:
            await getattr(self._pubsub, verb)(self.channel(topic))
        except RedisError as exc:
            log.warning("bus %s %s failed: %s", verb, topic, exc)

    async def start(self) -> None:
        """Connect, subscribe to what is wanted already, and start publishing and reading."""
        self._pubsub = self.redis.pubsub()
        await self._pubsub.subscribe(self._control, *map(self.channel, self._subscribers))
        self._tasks.append(asyncio.create_task(self._publish_loop(), name="bus:publish"))
        self._tasks.append(asyncio.create_task(self._read_loop(), name="bus:read"))

    async def close(self) -> None:
        """Stop the tasks and disconnect."""
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._pubsub is not None:
            with contextlib.suppress(RedisError):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self.redis.aclose()

    async def report(self, worker: str, stats: str) -> None:
        """Share one worker's statistics with the others."""
        await self.redis.hset(self.prefix + "_stats", worker, stats)

    async def forget(self, worker: str) -> None:
        """Remove a stopped worker's statistics."""
        await self.redis.hdel(self.prefix + "_stats", worker)

    async def reports(self) -> list[str]:
        """Return every worker's last shared statistics."""
        found = await self.redis.hvals(self.prefix + "_stats")
        return [v.decode() if isinstance(v, bytes) else str(v) for v in found]

    async def _publish_loop(self) -> None:
        while True:
            batch = [await self._outbox.get()]
            while not self._outbox.empty() and len(batch) < 1000:
                batch.append(self._outbox.get_nowait())
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for channel, data in batch:
                        pipe.publish(channel, data)
                    await pipe.execute()
            except RedisError as exc:
                self.dropped += len(batch)
                log.warning("bus lost %d events: %s", len(batch), exc)
                await asyncio.sleep(0.5)

    async def _read_loop(self) -> None:
        assert self._pubsub is not None
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except RedisError as exc:
                log.warning("bus read failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            if message is not None:
                self._deliver(message)

    def _deliver(self, message: dict[str, object]) -> None:
        channel = message["channel"]
        assert isinstance(channel, bytes)
        topic = channel.decode().removeprefix(self.prefix)
        subscribers = self._subscribers.get(topic)
        if not subscribers:
            return
        if message["type"] == "subscribe":
            self._confirmed.add(topic)
            for subscription in subscribers:
                subscription.ready.set()
        elif message["type"] == "message":
            data = message["data"]
            assert isinstance(data, bytes)
            event = json.loads(data)
            for subscription in tuple(subscribers):
                subscription.offer(event)
