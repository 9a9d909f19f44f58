"""Who may call, kept in memory: users, their live API keys and their revoked tokens.

A request that proves itself with a token or an API key is checked here, with no database
round trip. A user is read from the database the first time one of their credentials is
seen, then kept current three ways:

- a change made in this process (``changed``, called by every service that changes a user's
  role, status, API keys or tokens, in the same transaction) is applied the moment its
  transaction commits, before the request that made it is answered;
- every such change is also a row of ``identity_changes`` and an event on the bus, and every
  process reloads the user the event names at once;
- ``run`` reads ``identity_changes`` every ``SYNC_EVERY`` seconds, so a change the bus lost
  (Redis pub/sub is at most once) or that another program made (``tradepit create-admin``)
  reaches this process within that bound.

When an API key was last used is written in batches by ``run`` (every ``KEY_USE_EVERY``),
not by each request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tradepit.bus import Bus, Subscription
from tradepit.domain.clock import Clock
from tradepit.store import users as store
from tradepit.store.db import after_commit
from tradepit.store.users import User

log = logging.getLogger("tradepit.identities")

TOPIC = "identities"
SYNC_EVERY = 1.0
KEY_USE_EVERY = timedelta(seconds=60)
#: Changes are read again this far back: a transaction that took a lower id but committed
#: after a higher one is not missed.
OVERLAP = 1_000
#: How long ``identity_changes`` rows are kept.
KEEP_CHANGES = timedelta(days=1)
PRUNE_EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class Identity:
    """A user as the checks of every request see them."""

    id: int
    username: str
    username_key: str
    email: str | None
    role: str
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: User) -> Identity:
        """Return the identity of a user row, as it is now."""
        return cls(
            id=user.id,
            username=user.username,
            username_key=user.username_key,
            email=user.email,
            role=user.role,
            is_active=user.is_active,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
        )


@dataclass(frozen=True)
class Held:
    """What this process knows of one user: who they are, their live API keys (hash → key
    id) and their revoked, unexpired token ids."""

    identity: Identity
    api_keys: dict[str, int] = field(default_factory=dict)
    revoked: frozenset[str] = frozenset()


async def load(session: AsyncSession, user_id: int, now: datetime) -> Held | None:
    """Return what to hold of ``user_id``, read in ``session`` (None: no such user)."""
    user = await store.get_user(session, user_id)
    if user is None:
        return None
    keys = {key.key_hash: key.id for key in await store.live_api_keys(session, user_id)}
    revoked = frozenset(await store.revoked_jtis(session, user_id, now))
    return Held(Identity.of(user), keys, revoked)


class Identities:
    """The users this process has seen, their API keys and revocations, kept current."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], wall: Clock, bus: Bus
    ) -> None:
        self.sessionmaker = sessionmaker
        self.wall = wall
        self.bus = bus
        #: Who publishes this process's changes (it skips its own when they come back).
        self.name = uuid.uuid4().hex
        self._held: dict[int, Held] = {}
        self._by_key: dict[str, int] = {}
        self._key_use: dict[int, datetime] = {}
        #: How many times each user was put: a reload that raced a put does not undo it.
        self._versions: dict[int, int] = {}
        self._seen: set[int] = set()
        self._last = 0

    # -- reads ---------------------------------------------------------------------------------

    async def user(self, user_id: int) -> Held | None:
        """Return what is held of ``user_id``, reading it the first time."""
        held = self._held.get(user_id)
        if held is None:
            held = await self._reload(user_id)
        return held

    async def api_key(self, key_hash: str) -> tuple[Held, int] | None:
        """Return the holder of the live API key with this hash and the key's id."""
        user_id = self._by_key.get(key_hash)
        if user_id is None:
            async with self.sessionmaker() as session:
                found = await store.find_api_key(session, key_hash)
            if found is None:
                return None
            user_id = found.user_id
        held = await self.user(user_id)
        if held is None or key_hash not in held.api_keys:
            return None
        return held, held.api_keys[key_hash]

    def note_key_use(self, key_id: int, at: datetime) -> None:
        """Remember that API key ``key_id`` was used at ``at`` (written by ``run``)."""
        self._key_use[key_id] = at

    # -- changes -------------------------------------------------------------------------------

    async def changed(self, session: AsyncSession, user_id: int) -> None:
        """Record in ``session``'s transaction that ``user_id``'s identity changed; once it
        commits, hold the user as the transaction left them and tell the other processes."""
        now = self.wall.now()
        store.record_identity_change(session, user_id, now)
        held = await load(session, user_id, now)

        def apply() -> None:
            self._put(user_id, held)
            self.bus.publish(TOPIC, {"user_id": user_id, "from": self.name})

        after_commit(session, apply)

    async def _reload(self, user_id: int) -> Held | None:
        version = self._versions.get(user_id, 0)
        async with self.sessionmaker() as session:
            held = await load(session, user_id, self.wall.now())
        if self._versions.get(user_id, 0) != version:
            # A change committed while this read was on its way: the read may predate it.
            return self._held.get(user_id)
        self._put(user_id, held)
        return held

    def _put(self, user_id: int, held: Held | None) -> None:
        self._versions[user_id] = self._versions.get(user_id, 0) + 1
        before = self._held.pop(user_id, None)
        if before is not None:
            for key_hash in before.api_keys:
                self._by_key.pop(key_hash, None)
        if held is not None:
            self._held[user_id] = held
            for key_hash in held.api_keys:
                self._by_key[key_hash] = user_id

    # -- keeping current -----------------------------------------------------------------------

    async def run(self) -> None:
        """Follow the bus and ``identity_changes``; write API keys' last use. Runs until
        cancelled; a failed round is logged and tried again."""
        subscription = self.bus.subscribe(TOPIC)
        listening = asyncio.create_task(self._listen(subscription), name="identities:bus")
        written = pruned = self.wall.now()
        try:
            async with self.sessionmaker() as session:
                self._last = await store.last_identity_change(session)
            while True:
                await asyncio.sleep(SYNC_EVERY)
                try:
                    await self.sync()
                    now = self.wall.now()
                    if now - written >= KEY_USE_EVERY:
                        written = now
                        await self.write_key_use()
                    if now - pruned >= PRUNE_EVERY:
                        pruned = now
                        async with self.sessionmaker() as session:
                            await store.forget_identity_changes(session, now - KEEP_CHANGES)
                            await session.commit()
                except Exception:
                    log.exception("keeping identities current failed; trying again")
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
            self.bus.unsubscribe(subscription)
            with contextlib.suppress(Exception):
                await self.write_key_use()

    async def _listen(self, subscription: Subscription) -> None:
        async for event in subscription:
            user_id = event.get("user_id")
            mine = event.get("from") == self.name
            if not mine and isinstance(user_id, int) and user_id in self._held:
                try:
                    await self._reload(user_id)
                except Exception:
                    log.exception("reloading user %s failed; the next sync does", user_id)

    async def sync(self) -> None:
        """Reload the held users that ``identity_changes`` names since the last sync."""
        async with self.sessionmaker() as session:
            found = await store.identity_changes(session, max(0, self._last - OVERLAP))
        new = [(change, user) for change, user in found if change not in self._seen]
        for change, user_id in new:
            self._seen.add(change)
            if user_id in self._held:
                await self._reload(user_id)
        if found:
            self._last = max(self._last, found[-1][0])
        self._seen = {change for change in self._seen if change > self._last - OVERLAP}

    async def write_key_use(self) -> None:
        """Write when the API keys used since the last write were last used."""
        used, self._key_use = self._key_use, {}
        if used:
            async with self.sessionmaker() as session:
                await store.note_api_key_use(session, used)
                await session.commit()
