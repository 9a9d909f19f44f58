"""Real-time delivery shared by the gateways (native ``/ws`` and Socket.IO).

The hub keeps one bus subscription per topic that a local client needs (``tick.<symbol>``,
``user.<id>.seq``, ``market_status``) and fans each event out to the clients' queues. A client's
queue is bounded: ticks are conflated per symbol (a slow client gets the latest price, not a
backlog); private events are never dropped: a client that lets them pile up is closed with a
reason. A tick goes straight to a client's connection when nothing waits for it and the
connection takes it without blocking (the gateway's ``Client.direct``); otherwise it is queued
for the client's writer. Either way a slow client delays nobody else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tradepit.bus import MARKET_STATUS_TOPIC, Bus, Event, Subscription, sequenced_topic, tick_topic
from tradepit.domain.accounts import username_key
from tradepit.domain.clock import Clock
from tradepit.domain.errors import (
    DomainError,
    InvalidInput,
    NotAuthenticated,
    PermissionDenied,
    TooManyAttempts,
)
from tradepit.domain.market import Tick
from tradepit.market.data import MarketData
from tradepit.schemas.realtime import StatsRead, TickRead, WorkerStatsRead
from tradepit.services import auth, journal, market, tournaments, wallets
from tradepit.services.auth import AuthPolicy
from tradepit.services.callers import Caller
from tradepit.services.identities import Identities

log = logging.getLogger("tradepit.realtime")

#: Seconds between two looks at the venues' session phases.
STATUS_EVERY = 1.0
#: Most missed private events replayed to one client at once.
MAX_REPLAY = 10_000
#: Seconds between two shares of a worker's statistics; three missed shares retire a worker.
REPORT_EVERY = 2.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TooManyConnections(TooManyAttempts):
    """This worker already serves its maximum of connections."""

    code = "TOO_MANY_CONNECTIONS"


class TooManyUserConnections(TooManyConnections):
    """This user already holds their maximum of open sockets on this worker."""

    code = "TOO_MANY_USER_CONNECTIONS"


class TooManySubscriptions(InvalidInput):
    """A connection asked for more symbols than allowed."""

    code = "TOO_MANY_SUBSCRIPTIONS"


class NotYours(PermissionDenied):
    """A client asked for another user's private data."""

    code = "FORBIDDEN"


@dataclass(frozen=True)
class Limits:
    """Per-worker and per-connection limits (settings ``TRADEPIT_WS_*``)."""

    max_connections: int = 10_000
    #: Open sockets of one user on this worker, all gateways together.
    max_connections_per_user: int = 20
    max_subscriptions: int = 100
    max_message_bytes: int = 4096
    messages_per_second: float = 20
    queue_size: int = 1000
    #: Unsent ticks a client may have queued, in order, before only the newest per symbol is
    #: kept: a reader that pauses briefly (a scheduling hiccup) still gets every tick.
    tick_backlog: int = 64
    auth_timeout: float = 10
    public_market_data: bool = True
    #: Seconds between two checks that a connection's token is still valid (not revoked).
    recheck_every: float = 30
    #: The browser origins whose pages may open a socket (the CORS allow-list; ``*``: any).
    origins: tuple[str, ...] = ("http://localhost:3000",)

    def allows_origin(self, origin: str | None) -> bool:
        """Tell whether a handshake that sent ``origin`` may go on: the one rule of every
        gateway. A handshake without an ``Origin`` (a bot, a server) is not a browser page's:
        nothing to refuse; a browser always sends it, so a foreign page never gets through."""
        return not origin or "*" in self.origins or origin in self.origins


class Outgoing:
    """One message for clients; its JSON text is encoded once, however many receive it."""

    __slots__ = ("_text", "encoded", "message")

    def __init__(self, message: Event) -> None:
        self.message = message
        self._text: str | None = None
        #: Transports' encodings of the same message, made once for all the clients that get
        #: it (the WebSocket frame, Socket.IO's packet and its frame).
        self.encoded: dict[str, Any] = {}

    @property
    def kind(self) -> str:
        """Return the message type (``tick``, ``order``, ``balance``...)."""
        return str(self.message.get("type", ""))

    def text(self) -> str:
        """Return the message as compact JSON."""
        if self._text is None:
            self._text = json.dumps(self.message, separators=(",", ":"), default=str)
        return self._text


@dataclass
class Counters:
    """What one worker's gateways did."""

    sent: int = 0
    dropped: int = 0
    slow_disconnects: int = 0


class Client:
    """One connection's outgoing queue and subscriptions."""

    def __init__(
        self,
        transport: str,
        caller: Caller | None,
        limits: Limits,
        counters: Counters,
        replay: Callable[[int, int, int], Awaitable[Sequence[Event]]],
    ) -> None:
        self.transport = transport
        self.caller = caller
        self.limits = limits
        self.counters = counters
        self.replay = replay
        self.symbols: set[str] = set()
        self.tournaments: set[int] = set()
        #: Unsent ticks (and leaderboards, keyed by tournament topic) in order, with their
        #: symbol; past ``limits.tick_backlog`` of them, only the newest per symbol is kept.
        self.ticks: list[tuple[str, Outgoing]] = []
        self._room = limits.tick_backlog
        self.events: deque[Outgoing] = deque()
        self.wake = asyncio.Event()
        #: The transport's immediate write, set by the gateway: write a tick at once and
        #: return True, or return False when the connection cannot take it now (not writable,
        #: closing, earlier messages still on their way) and the tick must be queued.
        self.direct: Callable[[Outgoing], bool] | None = None
        #: True while the gateway's writer holds a batch it has not finished sending.
        self.busy = False
        self.last_seq: int | None = None
        #: Why the gateway must close this connection (set when it falls too far behind).
        self.closing: str | None = None
        #: How the gateway presents a symbol's ticks to this client, by catalogue symbol, when
        #: not as its own ``tick`` (``/ws``: the paper-tournaments seed's messages).
        self.views: dict[str, Any] = {}
        self._allowance = limits.messages_per_second
        self._checked = time.monotonic()

    @property
    def user_id(self) -> int | None:
        """Return the authenticated user's id (None for anonymous market data)."""
        return self.caller.user.id if self.caller else None

    def offer_tick(self, symbol: str, message: Outgoing, at_once: bool = True) -> None:
        """Send a tick at once when nothing else waits for this client and its connection
        takes it (``at_once``); otherwise queue it for the gateway's writer, in order, up to
        ``limits.tick_backlog`` of them; past that only the newest of each symbol is kept."""
        if at_once and self._sent_now(message):
            return
        ticks = self.ticks
        ticks.append((symbol, message))
        if len(ticks) > self._room:
            newest = dict(ticks)
            self.counters.dropped += len(ticks) - len(newest)
            self.ticks = list(newest.items())
            self._room = len(newest) + self.limits.tick_backlog
        self.wake.set()

    def offer_latest(self, key: str, message: Outgoing) -> None:
        """Send a message of which only the newest matters (a leaderboard) at once, or queue
        it in place of an unsent older one of the same ``key``."""
        if self._sent_now(message):
            return
        kept = [(name, queued) for name, queued in self.ticks if name != key]
        self.counters.dropped += len(self.ticks) - len(kept)
        kept.append((key, message))
        self.ticks = kept
        self.wake.set()

    def _sent_now(self, message: Outgoing) -> bool:
        """Write ``message`` straight to the connection when nothing else waits for this
        client and the connection takes it; True when it did."""
        if (
            self.direct is not None
            and not self.busy
            and not self.ticks
            and not self.events
            and self.closing is None
            and self.direct(message)
        ):
            self.counters.sent += 1
            return True
        return False

    def forget(self, symbol: str) -> None:
        """Drop the unsent ticks of ``symbol`` (unsubscribed)."""
        self.ticks = [(name, message) for name, message in self.ticks if name != symbol]

    def offer(self, message: Outgoing) -> None:
        """Queue a message that must not be lost; close the client if its queue is full."""
        if len(self.events) >= self.limits.queue_size:
            self.close_for("too slow: private events would be lost; reconnect with last_seq")
            return
        self.events.append(message)
        self.wake.set()

    def close_for(self, reason: str) -> None:
        """Ask the gateway to close this connection with ``reason``."""
        if self.closing is None:
            self.closing = reason
            self.counters.slow_disconnects += 1
        self.wake.set()

    def allow(self) -> bool:
        """Take one incoming message from the rate budget; False when it is spent."""
        now = time.monotonic()
        rate = self.limits.messages_per_second
        self._allowance = min(rate, self._allowance + (now - self._checked) * rate)
        self._checked = now
        if self._allowance < 1:
            return False
        self._allowance -= 1
        return True

    async def take(self) -> list[Outgoing]:
        """Wait for messages; return them in order, private events first, gaps filled from
        the journal and duplicates left out. Empty when the client must be closed.

        The client counts as busy (ticks are queued, not sent at once) from the moment this
        returns a batch until the writer asks for the next one: nothing overtakes a batch."""
        self.busy = False
        await self.wake.wait()
        self.busy = True
        self.wake.clear()
        if self.closing is not None:
            return []
        batch: list[Outgoing] = []
        while self.events:
            message = self.events.popleft()
            seq = message.message.get("seq")
            if isinstance(seq, int):
                if self.last_seq is not None and seq <= self.last_seq:
                    continue
                if self.last_seq is not None and seq > self.last_seq + 1:
                    assert self.user_id is not None
                    missed = await self.replay(self.user_id, self.last_seq, seq - 1)
                    batch.extend(Outgoing(m) for m in missed)
                self.last_seq = seq
            batch.append(message)
        batch.extend(message for _, message in self.ticks)
        self.ticks = []
        self._room = self.limits.tick_backlog
        self.counters.sent += len(batch)
        return batch


class StatsBoard(Protocol):
    """Where workers share their statistics (Redis; none in a single process)."""

    async def report(self, worker: str, stats: str) -> None:
        """Share this worker's statistics."""
        ...

    async def forget(self, worker: str) -> None:
        """Remove this worker's statistics."""
        ...

    async def reports(self) -> list[str]:
        """Return every worker's statistics."""
        ...


@dataclass
class _Topic:
    subscription: Subscription
    pump: asyncio.Task[None]
    clients: set[Client] = field(default_factory=set)
    #: The newest tick delivered (ticks of a topic only move forward in time).
    last: Outgoing | None = None
    newest: datetime = EPOCH


class Hub:
    """Fan bus events out to this worker's clients; publish ticks and market status."""

    def __init__(
        self,
        bus: Bus,
        market_data: MarketData,
        sessionmaker: async_sessionmaker[AsyncSession],
        policy: AuthPolicy,
        wall: Clock,
        limits: Limits,
        identities: Identities,
        board: StatsBoard | None = None,
    ) -> None:
        self.identities = identities
        self.bus = bus
        self.board = board
        self.market = market_data
        self.sessionmaker = sessionmaker
        self.policy = policy
        self.wall = wall
        self.limits = limits
        self.counters = Counters()
        self.worker = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.clients: set[Client] = set()
        #: Open sockets per user id, every gateway's (``take_slot``).
        self._slots: dict[int, int] = {}
        self._topics: dict[str, _Topic] = {}
        self._previous_close: dict[str, tuple[date, Decimal | None]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect the bus and start watching the market's session phases."""
        await self.bus.start()
        self._tasks.append(asyncio.create_task(self._watch_status(), name="market-status"))
        if self.board is not None:
            self._tasks.append(asyncio.create_task(self._report(self.board), name="ws-stats"))

    async def stop(self) -> None:
        """Stop the pumps, the status watcher and the bus."""
        for task in [*self._tasks, *(t.pump for t in self._topics.values())]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._topics.clear()
        if self.board is not None:
            with contextlib.suppress(Exception):
                await self.board.forget(self.worker)
        await self.bus.close()

    # -- clients -------------------------------------------------------------------------------

    async def authenticate(self, credential: str, ip: str) -> Caller:
        """Return the caller a JWT or an API key proves; refuse revoked or unknown ones."""
        if credential.startswith(auth.API_KEY_PREFIX):
            return await auth.authenticate_api_key(self.identities, self.wall, credential, ip)
        return await auth.authenticate_token(
            self.identities, self.policy, self.wall, credential, ip
        )

    async def still_valid(self, credential: str, ip: str) -> str:
        """Wait until ``credential`` is revoked, expires or its user is deactivated (checked
        every ``recheck_every`` seconds); return why."""
        while True:
            await asyncio.sleep(self.limits.recheck_every)
            try:
                await self.authenticate(credential, ip)
            except NotAuthenticated as exc:
                return exc.message
            except Exception as exc:  # the database away: check again next round
                log.warning("token re-check failed: %s", type(exc).__name__)

    def client(self, transport: str, caller: Caller | None) -> Client:
        """Return a new client of ``transport`` for ``caller``, not yet attached."""
        return Client(transport, caller, self.limits, self.counters, self._replay)

    def take_slot(self, user_id: int) -> None:
        """Count one more open socket of ``user_id`` (``free_slot`` when it closes); refuse
        the one past ``limits.max_connections_per_user``."""
        held = self._slots.get(user_id, 0)
        if held >= self.limits.max_connections_per_user:
            most = self.limits.max_connections_per_user
            raise TooManyUserConnections(
                f"at most {most} open connections per user: close one first", retry_after=5
            )
        self._slots[user_id] = held + 1

    def free_slot(self, user_id: int) -> None:
        """Count one open socket of ``user_id`` fewer."""
        held = self._slots.pop(user_id, 0) - 1
        if held > 0:
            self._slots[user_id] = held

    def sockets_of(self, user_id: int) -> int:
        """Return how many sockets ``user_id`` holds open on this worker."""
        return self._slots.get(user_id, 0)

    async def attach(self, client: Client, last_seq: int | None = None) -> int | None:
        """Start delivering market status and, with a user, their private events after
        ``last_seq`` (from now when None). Return the user's current event number."""
        if len(self.clients) >= self.limits.max_connections:
            raise TooManyConnections("this server has its maximum of connections", retry_after=5)
        if client.user_id is not None:
            self.take_slot(client.user_id)
        self.clients.add(client)
        try:
            return await self._start(client, last_seq)
        except BaseException:  # not attached after all: its slot and topics are freed
            self.detach(client)
            raise

    async def _start(self, client: Client, last_seq: int | None) -> int | None:
        await self._watch(client, MARKET_STATUS_TOPIC)
        if client.user_id is None:
            return None
        await self._watch(client, sequenced_topic(client.user_id))
        current = await journal.last_seq(self.sessionmaker, client.user_id)
        client.last_seq = current if last_seq is None else min(last_seq, current)
        if client.last_seq < current:
            for event in await self._replay(client.user_id, client.last_seq, current):
                client.offer(Outgoing(event))
        return current

    def detach(self, client: Client) -> None:
        """Forget ``client`` and its subscriptions."""
        if client in self.clients:
            self.clients.discard(client)
            if client.user_id is not None:
                self.free_slot(client.user_id)
        for topic in [t for t, entry in self._topics.items() if client in entry.clients]:
            self._unwatch(client, topic)

    async def subscribe(self, client: Client, symbols: Iterable[str]) -> list[str]:
        """Subscribe ``client`` to the symbols' ticks; return their catalogue names."""
        names = [self.market.instrument(s).symbol for s in symbols]
        if len(client.symbols | set(names)) > self.limits.max_subscriptions:
            raise TooManySubscriptions(
                f"at most {self.limits.max_subscriptions} symbols per connection"
            )
        for name in names:
            client.symbols.add(name)
            await self._watch(client, tick_topic(name))
        return names

    async def follow(self, client: Client, tournament_ids: Iterable[int]) -> list[int]:
        """Deliver the tournaments' live leaderboards to ``client`` (an unsent older board is
        replaced by the newer one, as ticks are); an unknown tournament is not found."""
        wanted = list(dict.fromkeys(tournament_ids))
        if len(client.tournaments | set(wanted)) > self.limits.max_subscriptions:
            raise TooManySubscriptions(
                f"at most {self.limits.max_subscriptions} tournaments per connection"
            )
        async with self.sessionmaker() as session:
            for tournament_id in wanted:
                await tournaments.find(session, tournament_id)
        for tournament_id in wanted:
            client.tournaments.add(tournament_id)
            await self._watch(client, tournaments.topic(tournament_id))
        return wanted

    def unfollow(self, client: Client, tournament_ids: Iterable[int]) -> list[int]:
        """Stop the tournaments' leaderboards for ``client``; return those it followed."""
        gone = [t for t in tournament_ids if t in client.tournaments]
        for tournament_id in gone:
            client.tournaments.discard(tournament_id)
            client.forget(tournaments.topic(tournament_id))
            self._unwatch(client, tournaments.topic(tournament_id))
        return gone

    def unsubscribe(self, client: Client, symbols: Iterable[str]) -> list[str]:
        """Stop the symbols' ticks for ``client``; return the names it was subscribed to."""
        gone = [s for s in symbols if s in client.symbols]
        for name in gone:
            client.symbols.discard(name)
            client.forget(name)
            self._unwatch(client, tick_topic(name))
        return gone

    def tick_now(self, symbol: str) -> Outgoing:
        """Return the latest tick of a subscribed ``symbol`` (sent on subscription); later
        ticks are never older than it."""
        entry = self._topics[tick_topic(symbol)]
        if entry.last is None:
            tick = self.market.tick(symbol)
            entry.last, entry.newest = Outgoing(self._tick_event(tick)), tick.ts
        return entry.last

    # -- private data ----------------------------------------------------------------------------

    async def bet_balance(self, caller: Caller, telegram_username: str) -> Event:
        """Return okx-bets' balance of the caller; refuse another user's."""
        if username_key(telegram_username) != caller.user.username_key:
            raise NotYours("you can only ask for your own balance")
        async with self.sessionmaker() as session:
            balance = await wallets.balance_of(session, caller.user.id, wallets.BET_CURRENCY)
        return {"telegram_username": caller.user.username, "balance": float(balance)}

    # -- publishing ------------------------------------------------------------------------------

    async def on_ticks(self, batch: Sequence[Tick]) -> None:
        """Publish each tick of the feed's batch on ``tick.<symbol>`` (a feed listener)."""
        self.publish_ticks(batch)

    def publish_ticks(self, batch: Sequence[Tick]) -> None:
        """Publish each tick on ``tick.<symbol>``."""
        for tick in batch:
            self.bus.publish(tick_topic(tick.symbol), self._tick_event(tick))

    def _tick_event(self, tick: Tick) -> Event:
        previous = self._previous(tick)
        read = TickRead(
            symbol=tick.symbol,
            ltp=float(tick.ltp),
            bid=float(tick.bid),
            ask=float(tick.ask),
            volume=float(tick.volume),
            oi=float(tick.oi) if tick.oi is not None else None,
            change=float(tick.ltp - previous) if previous is not None else None,
            timestamp=tick.ts,
        )
        return {"type": "tick", **read.model_dump(mode="json")}

    def _previous(self, tick: Tick) -> Decimal | None:
        day = tick.ts.date()
        cached = self._previous_close.get(tick.symbol)
        if cached is None or cached[0] != day:
            try:
                previous: Decimal | None = self.market.quote(tick.symbol).previous_close
            except (DomainError, LookupError, ValueError):
                previous = None
            cached = (day, previous)
            self._previous_close[tick.symbol] = cached
        return cached[1]

    def market_status_event(self) -> Event:
        """Return the market status as a message."""
        status = market.market_status(self.market).model_dump(mode="json")
        return {"type": "market_status", **status}

    async def _watch_status(self) -> None:
        phases: list[str] | None = None
        while True:
            try:
                now = [f"{s.venue.value}:{s.phase.value}" for s in self.market.statuses()]
                if now != phases:
                    if phases is not None:
                        self.bus.publish(MARKET_STATUS_TOPIC, self.market_status_event())
                    phases = now
            except Exception:  # a calendar bug must not stop the watcher
                log.exception("market status failed")
            await asyncio.sleep(STATUS_EVERY)

    # -- statistics -------------------------------------------------------------------------------

    def stats(self) -> WorkerStatsRead:
        """Return this worker's connections, subscriptions and message counts."""
        connections: dict[str, int] = {"ws": 0, "socketio": 0}
        for client in self.clients:
            connections[client.transport] = connections.get(client.transport, 0) + 1
        subscriptions = {
            topic.removeprefix("tick."): len(entry.clients)
            for topic, entry in sorted(self._topics.items())
            if topic.startswith("tick.")
        }
        return WorkerStatsRead(
            worker=self.worker,
            connections=connections,
            subscriptions=subscriptions,
            messages_sent=self.counters.sent,
            messages_dropped=self.counters.dropped,
            slow_disconnects=self.counters.slow_disconnects,
            updated_at=self.wall.now(),
        )

    async def all_stats(self) -> StatsRead:
        """Return this worker's statistics, every live worker's, and their totals."""
        mine = self.stats()
        workers = [mine]
        if self.board is not None:
            fresh = self.wall.now() - timedelta(seconds=REPORT_EVERY * 3)
            shared = [WorkerStatsRead.model_validate_json(r) for r in await self.board.reports()]
            workers += [w for w in shared if w.worker != mine.worker and w.updated_at >= fresh]
        totals = WorkerStatsRead(
            worker="all",
            connections=_sum(w.connections for w in workers),
            subscriptions=_sum(w.subscriptions for w in workers),
            messages_sent=sum(w.messages_sent for w in workers),
            messages_dropped=sum(w.messages_dropped for w in workers),
            slow_disconnects=sum(w.slow_disconnects for w in workers),
            updated_at=mine.updated_at,
        )
        return StatsRead(worker=mine, workers=workers, totals=totals)

    async def _report(self, board: StatsBoard) -> None:
        while True:
            try:
                await board.report(self.worker, self.stats().model_dump_json())
            except Exception as exc:  # Redis away: try again on the next round
                log.warning("sharing statistics failed: %s", exc)
            await asyncio.sleep(REPORT_EVERY)

    # -- topics ----------------------------------------------------------------------------------

    async def _watch(self, client: Client, topic: str) -> None:
        entry = self._topics.get(topic)
        if entry is None:
            subscription = self.bus.subscribe(topic)
            pump = asyncio.create_task(self._pump(topic, subscription), name=f"pump:{topic}")
            entry = self._topics[topic] = _Topic(subscription, pump)
        entry.clients.add(client)
        await entry.subscription.ready.wait()

    def _unwatch(self, client: Client, topic: str) -> None:
        entry = self._topics.get(topic)
        if entry is None:
            return
        entry.clients.discard(client)
        if not entry.clients:
            del self._topics[topic]
            entry.subscription.close()
            entry.pump.cancel()

    async def _pump(self, topic: str, subscription: Subscription) -> None:
        status: Any = None
        async for event in subscription:
            entry = self._topics.get(topic)
            if entry is None:
                return
            message = Outgoing(event)
            kind = message.kind
            if kind == "tick":
                # Several workers may run a feed: a tick no newer than the last one is a copy.
                stamp = datetime.fromisoformat(str(event["timestamp"]))
                if stamp <= entry.newest:
                    continue
                entry.last, entry.newest = message, stamp
                symbol = str(event["symbol"])
                for client in entry.clients:
                    client.offer_tick(symbol, message)
                continue
            if kind == "leaderboard":  # only the newest board matters
                for client in entry.clients:
                    client.offer_latest(topic, message)
                continue
            if kind == "market_status":
                # Each worker announces a change: deliver it once.
                phases = [(v.get("venue"), v.get("phase")) for v in event.get("venues", ())]
                if phases == status:
                    continue
                status = phases
            for client in tuple(entry.clients):
                client.offer(message)

    async def _replay(self, user_id: int, after: int, through: int) -> Sequence[Event]:
        limit = min(through - after, MAX_REPLAY)
        return await journal.since(self.sessionmaker, user_id, after, limit)


def _sum(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for count in counts:
        for key, value in count.items():
            total[key] = total.get(key, 0) + value
    return dict(sorted(total.items()))
