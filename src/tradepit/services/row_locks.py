"""Row locks of the shared accounts table: one editor per row.

A lock expires 15 minutes after the holder's last activity (locking again, or changing the
row); after releasing a row, the same user waits 15 s before locking it again (csv-accounts'
cooldown). Locks are rows in the database, so they survive a restart and hold across workers;
changes are published on the ``accounts`` topic as ``lock_status`` once they commit. Lock
timers run on wall time, never the simulated market clock.

A lock taken over a socket that closes is kept ``REJOIN_GRACE`` longer (``linger``): a page
that reconnects (csv-accounts' frontend reopens its socket whenever it starts editing) takes
it back by locking the row again.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.bus import Bus
from tradepit.domain.clock import Clock
from tradepit.domain.errors import Conflict, InvalidInput, TooManyAttempts
from tradepit.services.callers import Caller
from tradepit.store import row_locks as store
from tradepit.store.broker_accounts import BrokerAccount
from tradepit.store.db import after_commit

TOPIC = "accounts"
LOCK_TTL = timedelta(minutes=15)
COOLDOWN = timedelta(seconds=15)
#: How long a closed socket's locks wait for their page to reconnect.
REJOIN_GRACE = timedelta(seconds=30)


@dataclass(frozen=True)
class Held:
    """A lock just taken or renewed: when, and until when."""

    account_id: int
    acquired_at: datetime
    expires_at: datetime


class RowLocked(Conflict):
    """Someone else holds the row's lock."""

    code = "ROW_LOCKED"


class LockCooldown(TooManyAttempts):
    """The caller released this row moments ago."""

    code = "LOCK_COOLDOWN"


class NotLocked(InvalidInput):
    """The caller holds no lock on this row."""

    code = "NOT_LOCKED"


async def check_editable(
    session: AsyncSession, wall: Clock, caller: Caller, account: BrokerAccount
) -> None:
    """Refuse a change of a row locked by someone else (409 naming the holder); a change by
    the holder counts as activity and renews the lock."""
    now = wall.now()
    held = await store.holder(session, account.id, now)
    if held is None:
        return
    if held.user_id != caller.user.id:
        raise RowLocked(
            f"account {account.id} is locked by {held.username} until "
            f"{held.expires_at.isoformat(timespec='seconds')}"
        )
    await store.touch(session, account.id, caller.user.id, now + LOCK_TTL)


async def lock(
    session: AsyncSession, wall: Clock, bus: Bus, caller: Caller, account: BrokerAccount
) -> Held:
    """Lock the row for the caller (or renew their lock); return the lock."""
    now = wall.now()
    waiting = await store.cooldown(session, account.id, caller.user.id)
    if waiting is not None and waiting.until > now:
        seconds = math.ceil((waiting.until - now).total_seconds())
        raise LockCooldown(f"you released this row; wait {seconds} s to lock it again", seconds)
    user = caller.user
    if not await store.take(session, account.id, user.id, user.username, now, now + LOCK_TTL):
        held = await store.holder(session, account.id, now)
        name = held.username if held is not None else "another user"
        raise RowLocked(f"account {account.id} is locked by {name}")
    await announce(session, wall, bus)
    return Held(account.id, now, now + LOCK_TTL)


async def unlock(
    session: AsyncSession, wall: Clock, bus: Bus, caller: Caller, account: BrokerAccount
) -> None:
    """Release the caller's lock of the row and start their cooldown."""
    if not await store.release(session, account.id, caller.user.id):
        raise NotLocked("you do not hold this row's lock")
    until = wall.now() + COOLDOWN
    await store.start_cooldown(session, account.id, caller.user.id, until)
    cooldown = {"id": account.id, "user_id": caller.user.id, "until": until.isoformat()}
    await announce(session, wall, bus, [cooldown])


async def release_all(
    session: AsyncSession,
    wall: Clock,
    bus: Bus,
    user_id: int,
    account_ids: Collection[int] | None = None,
) -> None:
    """Drop the user's locks (of ``account_ids`` only, when given) without a cooldown: the
    holder is gone (their connection closed, or they were deactivated)."""
    if await store.release_all(session, user_id, account_ids):
        await announce(session, wall, bus)


async def linger(
    session: AsyncSession, wall: Clock, bus: Bus, user_id: int, held: Mapping[int, datetime]
) -> None:
    """Keep the locks a closed socket took (account id → when it took them) for
    ``REJOIN_GRACE`` more, then let them lapse; a lock taken again since (the page came back,
    on any worker) is left alone."""
    until = wall.now() + REJOIN_GRACE
    changed = False
    for account_id, acquired_at in held.items():
        changed |= await store.shorten(session, account_id, user_id, acquired_at, until)
    if changed:
        await announce(session, wall, bus)


async def cooldowns(session: AsyncSession, wall: Clock, user_id: int) -> list[dict[str, Any]]:
    """Return the user's running cooldowns: account id and until when."""
    return [
        {"id": c.account_id, "user_id": user_id, "until": c.until.isoformat()}
        for c in await store.cooldowns(session, user_id, wall.now())
    ]


async def status(session: AsyncSession, wall: Clock) -> list[dict[str, Any]]:
    """Return every live lock: account id, holder and expiry."""
    return [
        {"id": held.account_id, "user_id": held.user_id, "user": held.username,
         "expires_at": held.expires_at.isoformat()}
        for held in await store.live(session, wall.now())
    ]  # fmt: skip


async def announce(
    session: AsyncSession, wall: Clock, bus: Bus, cooling: list[dict[str, Any]] | None = None
) -> None:
    """Publish ``lock_status`` with every live lock (and the cooldowns an unlock started) once
    the transaction commits."""
    event = {"type": "lock_status", "locks": await status(session, wall),
             "cooldowns": cooling or []}  # fmt: skip
    after_commit(session, lambda: bus.publish(TOPIC, event))
