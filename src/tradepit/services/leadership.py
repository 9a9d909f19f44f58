"""One process at a time runs the schedulers (end of day, bet resolution, tournaments).

On PostgreSQL the leader is the process holding an advisory lock on a connection of its own;
the others wait and try again every ``poll`` seconds. If the leader dies, its connection and
with it the lock go away, and another process takes over. A leader that loses its connection
stops its jobs and waits like the others. On SQLite (one process per file) every process leads.

The jobs are exactly-once on their own (conditional updates, row locks); leadership only
stops several processes from doing the same work (and publishing the same leaderboards).

Shapes do not mix (docs/decisions.md, "Leadership you can see"): each process that takes part
holds a shared advisory lock of its shape (``tradepit engine``, or ``tradepit serve`` with
role all) for as long as it takes part. Neither starts while a process of the other shape
holds its own (``rivals``, checked by the command line), and a ``serve`` that started at the
same moment as an engine never takes the lead from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Literal

from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger("tradepit.leadership")

#: The advisory lock's key ("tradepit" in ASCII); locks are per database.
LOCK_KEY = 0x7472616465706974
#: The shapes that take part in the election, and the key of each one's shared lock.
Shape = Literal["engine", "all"]
SHAPE_KEYS: dict[Shape, int] = {"engine": LOCK_KEY + 1, "all": LOCK_KEY + 2}
#: What each shape is called on the command line.
COMMANDS: dict[Shape, str] = {"engine": "tradepit engine", "all": "tradepit serve"}
Job = Callable[[], Coroutine[Any, Any, None]]

_HELD_ELSEWHERE = text(
    "SELECT count(DISTINCT pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid <> pg_backend_pid() AND objsubid = 1"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND ((classid::bigint << 32) | objid::bigint) = :key"
)


def other_shape(shape: Shape) -> Shape:
    """Return the shape that ``shape`` does not mix with."""
    return "all" if shape == "engine" else "engine"


async def rivals(connection: AsyncConnection, shape: Shape) -> int:
    """Return how many other processes of the shape that does not mix with ``shape`` take
    part in the election on this database (PostgreSQL)."""
    key = SHAPE_KEYS[other_shape(shape)]
    found = await connection.scalar(_HELD_ELSEWHERE, {"key": key})
    await connection.commit()
    return int(found or 0)


def refusal(shape: Shape, count: int) -> str:
    """Return why a process of ``shape`` does not start beside ``count`` of the other."""
    other = COMMANDS[other_shape(shape)]
    if shape == "all":
        return (
            f"{count} `{other}` process(es) run on this database: beside an engine, run the API "
            "with `tradepit serve --role api` (docs/operations.md, Several processes)"
        )
    return (
        f"{count} `{other}` process(es) (role all) run on this database: stop them, or run "
        "them as `tradepit serve --role api` beside the engine (docs/operations.md)"
    )


class Leadership:
    """Run ``jobs`` while this process leads; see the module's docstring."""

    def __init__(
        self,
        engine: AsyncEngine,
        poll: float = 2.0,
        *,
        shape: Shape | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.engine = engine
        self.poll = poll
        #: Which shape this process is of (None: it does not check the others').
        self.shape = shape
        self.leading = asyncio.Event()
        self._gauge = (
            Gauge(
                "tradepit_engine_leader",
                "1 while this process leads (runs the feed, the order book and the schedulers)",
                registry=registry,
            )
            if registry is not None
            else None
        )
        self._refused = False

    def _set(self, leading: bool) -> None:
        if leading:
            self.leading.set()
        else:
            self.leading.clear()
        if self._gauge is not None:
            self._gauge.set(1 if leading else 0)

    async def run(self, jobs: Sequence[Job]) -> None:
        """Wait to lead, run the jobs while leading; until cancelled."""
        while True:
            try:
                if self.engine.dialect.name != "postgresql":
                    self._set(True)
                    await _all(jobs)
                    continue
                async with self.engine.connect() as connection:
                    try:
                        await self._join(connection)
                        waited = False
                        while not await self._acquire(connection):
                            if not waited:
                                log.info(
                                    "standby: another process leads; this one takes over "
                                    "when it stops (checked every %g s)",
                                    self.poll,
                                )
                                waited = True
                            await asyncio.sleep(self.poll)
                        await self._lead(connection, jobs, waited)
                    finally:
                        # Closed, not pooled: a pooled connection would keep the lock.
                        await connection.invalidate()
            except (OSError, DBAPIError, OperationalError) as exc:
                log.warning("leadership: database connection lost (%s)", type(exc).__name__)
            except Exception:  # a job gave up: lead again after a pause
                log.exception("leadership: a scheduled job failed")
            self._set(False)
            await asyncio.sleep(self.poll)

    async def _join(self, connection: AsyncConnection) -> None:
        """Say which shape this process is of, for as long as ``connection`` lasts."""
        if self.shape is not None:
            statement = text("SELECT pg_advisory_lock_shared(:key)")
            await connection.execute(statement, {"key": SHAPE_KEYS[self.shape]})
            await connection.commit()

    async def _acquire(self, connection: AsyncConnection) -> bool:
        if self.shape == "all":
            count = await rivals(connection, self.shape)
            if count:  # started at the same moment as an engine: the engine leads
                if not self._refused:
                    log.error("not leading: %s", refusal(self.shape, count))
                self._refused = True
                return False
            self._refused = False
        statement = text("SELECT pg_try_advisory_lock(:key)")
        acquired = bool(await connection.scalar(statement, {"key": LOCK_KEY}))
        await connection.commit()  # the lock is the session's: it outlives the transaction
        return acquired

    async def _lead(
        self, connection: AsyncConnection, jobs: Sequence[Job], waited: bool = False
    ) -> None:
        if waited:
            log.info("leading: the leader went away; this process took over")
        else:
            log.info("leading: this process holds the order book and runs the schedulers")
        self._set(True)
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
            self._set(False)
        work.result()  # a job that ended by itself ends the leadership: say why


async def _all(jobs: Sequence[Job]) -> None:
    """Run the jobs together; if one fails or this is cancelled, the others are cancelled and
    awaited (none outlives the leadership)."""
    async with asyncio.TaskGroup() as group:
        for job in jobs:
            group.create_task(job())
