"""One process at a time runs the schedulers (end of day, bet resolution, tournaments).

On PostgreSQL the leader is the process holding an advisory lock on a connection of its own;
the others wait and try again every ``poll`` seconds. If the leader dies, its connection and
with it the lock go away, and another process takes over. A leader that loses its connection
stops its jobs and waits like the others. On SQLite (one process per file) every process leads.

The jobs are exactly-once on their own (conditional updates, row locks); leadership only
stops several processes from doing the same work (and publishing the same leaderboards).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger("tradepit.leadership")

#: The advisory lock's key ("tradepit" in ASCII); locks are per database.
LOCK_KEY = 0x7472616465706974
Job = Callable[[], Coroutine[Any, Any, None]]


class Leadership:
    """Run ``jobs`` while this process leads; see the module's docstring."""

    def __init__(self, engine: AsyncEngine, poll: float = 2.0) -> None:
        self.engine = engine
        self.poll = poll
        self.leading = asyncio.Event()

    async def run(self, jobs: Sequence[Job]) -> None:
        """Wait to lead, run the jobs while leading; until cancelled."""
        while True:
            try:
                if self.engine.dialect.name != "postgresql":
                    self.leading.set()
                    await _all(jobs)
                    continue
                async with self.engine.connect() as connection:
                    try:
                        while not await self._acquire(connection):  # noqa: ASYNC110
                            await asyncio.sleep(self.poll)
                        await self._lead(connection, jobs)
                    finally:
                        # Closed, not pooled: a pooled connection would keep the lock.
                        await connection.invalidate()
            except (OSError, DBAPIError, OperationalError) as exc:
                log.warning("leadership: database connection lost (%s)", type(exc).__name__)
            except Exception:  # a job gave up: lead again after a pause
                log.exception("leadership: a scheduled job failed")
            self.leading.clear()
            await asyncio.sleep(self.poll)

    async def _acquire(self, connection: AsyncConnection) -> bool:
        statement = text("SELECT pg_try_advisory_lock(:key)")
        acquired = bool(await connection.scalar(statement, {"key": LOCK_KEY}))
        await connection.commit()  # the lock is the session's: it outlives the transaction
        return acquired

    async def _lead(self, connection: AsyncConnection, jobs: Sequence[Job]) -> None:
        log.info("leading: this process runs the schedulers")
        self.leading.set()
        work = asyncio.create_task(_all(jobs), name="scheduled-jobs")
        try:
            while not work.done():  # the lock lasts as long as this connection answers
                await asyncio.wait({work}, timeout=self.poll)
                await connection.scalar(text("SELECT 1"))
                await connection.commit()
        finally:
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
            self.leading.clear()
        work.result()  # a job that ended by itself ends the leadership: say why


async def _all(jobs: Sequence[Job]) -> None:
    """Run the jobs together; if one fails or this is cancelled, the others are cancelled and
    awaited (none outlives the leadership)."""
    async with asyncio.TaskGroup() as group:
        for job in jobs:
            group.create_task(job())
