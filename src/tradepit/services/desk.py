"""Group commit: units of work that arrive together share one transaction.

Placing an order is a short transaction whose fixed costs (a connection, BEGIN, the user's
lock, numbering the user's events, COMMIT) weigh as much as the order itself. The desk runs
the units of work that are waiting, one after another, in one session, and commits once. No
unit's result is handed back before that commit: an order is acknowledged only once durable.

Only where one connection serialises every writer anyway (SQLite) do units share
transactions; on PostgreSQL each runs in its own transaction as it comes, concurrently with the
others, since a batch would queue them behind one another.

If any unit of a batch fails, or the commit does, the whole transaction rolls back and each
unit of the batch runs again alone, in its own transaction, exactly as it would have without
the desk; so one bad order never costs another its fill, and errors reach only their own
caller. A unit of work must therefore touch nothing outside its session before the commit
(``store.db.after_commit`` is the place for that), which is how every service here is written.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Histogram
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tradepit.domain.errors import DomainError
from tradepit.store.db import commit

T = TypeVar("T")
Work = Callable[[AsyncSession], Awaitable[Any]]

log = logging.getLogger(__name__)

#: The most units of work in one transaction.
MAX_BATCH = 32


class Desk:
    """Run units of work in shared transactions, one batch at a time (``together``), or each
    in its own transaction, concurrently, as they come (not ``together``)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        together: bool,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.together = together
        self.sizes = Histogram(
            "tradepit_order_batch_size",
            "Orders committed together (SQLite group commit)",
            buckets=(1, 2, 4, 8, 16, 32),
            registry=registry,
        )
        self._waiting: deque[tuple[Work, asyncio.Future[Any]]] = deque()
        self._runner: asyncio.Task[None] | None = None

    async def submit(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``work`` in a transaction (maybe shared); return its result once committed, or
        raise what it raised when run alone."""
        if not self.together:
            result: T = await self._alone(work)
            return result
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((work, done))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._drain())
        # A caller that stops waiting (a client gone) cancels ``done``; the work still runs.
        return await done

    async def _drain(self) -> None:
        while self._waiting:
            batch = [self._waiting.popleft() for _ in range(min(MAX_BATCH, len(self._waiting)))]
            self.sizes.observe(len(batch))
            if len(batch) > 1 and await self._together(batch):
                continue
            for work, done in batch:
                try:
                    result = await self._alone(work)
                except Exception as exc:
                    if not done.done():
                        done.set_exception(exc)
                else:
                    if not done.done():
                        done.set_result(result)

    async def _together(self, batch: list[tuple[Work, asyncio.Future[Any]]]) -> bool:
        """Run the batch in one transaction; False (nothing committed) if any part failed."""
        try:
            async with self.sessionmaker() as session:
                results = [await work(session) for work, _ in batch]
                await commit(session)
        except Exception as exc:  # each runs again alone, and meets its own error there
            log.debug("a batch of %d rolled back (%s); running each alone", len(batch), exc)
            return False
        for (_, done), result in zip(batch, results, strict=True):
            if not done.done():
                done.set_result(result)
        return True

    async def _alone(self, work: Work) -> Any:
        async with self.sessionmaker() as session:
            try:
                result = await work(session)
            except DomainError as exc:
                if exc.commits:  # a failure that is itself a fact to record
                    await commit(session)
                raise
            await commit(session)
        return result
