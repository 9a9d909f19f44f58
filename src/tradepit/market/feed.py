"""Feeds: where ticks come from. Everything downstream consumes ticks the same way.

A feed runs as one task: it pushes batches of ticks into a sink until it is cancelled, and
reports its state for ``/api/status``. Implementations: the simulator (default), CSV replay,
and the live adapters (Kite Connect, ccxt) installed as optional extras.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from tradepit.domain.errors import InvalidInput
from tradepit.domain.market import Tick

#: Where a feed delivers ticks; awaited, so a slow consumer slows the feed down.
TickSink = Callable[[Sequence[Tick]], Awaitable[None]]


class FeedLoginRefused(InvalidInput):
    """The market-data provider refused a login step; the message is the provider's reason."""

    code = "FEED_LOGIN_REFUSED"


@dataclass
class FeedState:
    """What a feed reports about itself."""

    kind: str
    status: str = "starting"  # starting | running | reconnecting | stopped | failed
    detail: str = ""
    ticks: int = 0
    last_tick_at: datetime | None = None
    symbols: list[str] = field(default_factory=list)

    def saw(self, batch: Sequence[Tick]) -> None:
        """Count a delivered batch."""
        if batch:
            self.ticks += len(batch)
            self.last_tick_at = batch[-1].ts


class Feed(Protocol):
    """A source of ticks."""

    state: FeedState

    async def run(self, sink: TickSink) -> None:
        """Deliver ticks to ``sink`` until cancelled; reconnect on transient failures."""
        ...
