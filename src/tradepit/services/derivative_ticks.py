"""Quotes of futures and options for the matching engine.

The feed sends ticks for catalogue symbols only; a future or option is quoted from its
underlying (``MarketData.tick``). ``DerivativeTicks`` wraps the engine's tick listener: when an
underlying ticks, the futures and options that have orders waiting are re-quoted and passed on
with the batch, so a resting LIMIT or stop order on a derivative fills on the tick that crosses
it, through the usual fill path. Which contracts have waiting orders is read from the database
(at most once per ``refresh`` wall seconds), so the engine's book needs no change.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tradepit.domain.errors import DomainError
from tradepit.domain.market import Tick
from tradepit.domain.orders import Status
from tradepit.market import derivatives
from tradepit.market.data import MarketData
from tradepit.store.orders import OrderRow

log = logging.getLogger("tradepit.derivative_ticks")

Listener = Callable[[Sequence[Tick]], Awaitable[None]]
_WAITING = (Status.OPEN.value, Status.PARTIALLY_FILLED.value, Status.AMO.value)
_ENDINGS = ("%FUT", "%CE", "%PE")


class DerivativeTicks:
    """A tick listener that adds the quotes of waiting derivatives to each batch."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        market: MarketData,
        listener: Listener,
        *,
        refresh: float = 1.0,
        wall: Callable[[], float] = time.monotonic,
        active: Callable[[], bool] = lambda: True,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.market = market
        self.listener = listener
        self.refresh = refresh
        self.wall = wall
        #: Whether ``listener`` wants ticks at all (the matcher only in the leading process):
        #: otherwise the waiting contracts are not even looked up.
        self.active = active
        self._loaded_at: float | None = None
        #: Contract symbol -> its underlying, for contracts with waiting orders.
        self.watched: dict[str, str] = {}

    async def __call__(self, batch: Sequence[Tick]) -> None:
        """Pass ``batch`` on with the quotes of the waiting contracts whose underlying ticked."""
        if not self.active():
            return
        now = self.wall()
        if self._loaded_at is None or now - self._loaded_at >= self.refresh:
            await self.load()
            self._loaded_at = now
        if self.watched:
            batch = [*batch, *self.quotes({tick.symbol for tick in batch})]
        await self.listener(batch)

    def quotes(self, moved: set[str]) -> list[Tick]:
        """Return the quotes of the watched contracts whose underlying is in ``moved``."""
        found = []
        at = self.market.clock.now()
        for symbol, underlying in self.watched.items():
            if underlying not in moved:
                continue
            try:
                instrument = self.market.instrument(symbol)
                if at >= derivatives.expiry_close(instrument):
                    continue  # expired: settled, its orders cancelled
                found.append(self.market.tick(symbol))
            except DomainError as exc:  # never let one contract stop the batch
                log.warning("no quote for %s: %s", symbol, exc)
        return found

    async def load(self) -> None:
        """Read which contracts have waiting orders."""
        stmt = (
            select(OrderRow.symbol)
            .where(OrderRow.status.in_(_WAITING))
            .where(or_(*(OrderRow.symbol.like(end) for end in _ENDINGS)))
            .distinct()
        )
        async with self.sessionmaker() as session:
            symbols = list(await session.scalars(stmt))
        watched = {}
        for symbol in symbols:
            try:
                underlying = self.market.instrument(symbol).underlying
            except DomainError:
                continue
            if underlying is not None:
                watched[symbol] = underlying
        self.watched = watched
