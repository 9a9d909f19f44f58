"""The default feed: the simulator's ticks on a fixed grid of market time, at clock speed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from operator import attrgetter

import numpy as np

from tradepit.domain.clock import Clock
from tradepit.market.feed import FeedState, TickSink
from tradepit.market.simulator import GRID_US, Simulator

#: Market time between two ticks of an instrument: the simulator's quote grid.
STEP_US = GRID_US
#: Wall seconds between two deliveries.
WALL_INTERVAL = 0.25
#: Grid points delivered at most per round (a very fast clock skips ahead instead).
MAX_POINTS = 400
#: Instruments computed between two turns of the event loop: a round of the whole catalogue
#: takes ~10 ms, which every request waiting meanwhile would add to its latency.
CHUNK = 16


class SimulatedFeed:
    """Deliver every trading instrument's tick on each 250 ms point of market time."""

    def __init__(self, simulator: Simulator, clock: Clock) -> None:
        self.simulator = simulator
        self.clock = clock
        self.symbols = [i.symbol for i in simulator.instruments]
        self.state = FeedState(kind="simulator", symbols=self.symbols)

    def warm(self) -> None:
        """Build every instrument's path for now, before the server takes connections.

        The first round would otherwise build them on the event loop (about 2 s for the whole
        catalogue), and the rounds after it would deliver the ticks of those seconds at once.
        """
        self.simulator.tick_batch(self.symbols, [self.clock.now()], trading_only=False)

    def points(self, after_us: int, until: datetime) -> np.ndarray:
        """Return the grid instants in (after_us, until], at most ``MAX_POINTS`` of the latest."""
        until_us = int((until - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1e6)
        first = (after_us // STEP_US + 1) * STEP_US
        grid = np.arange(first, until_us + 1, STEP_US, dtype=np.int64)
        return grid[-MAX_POINTS:]

    async def run(self, sink: TickSink) -> None:
        """Deliver ticks until cancelled."""
        start = self.clock.now()
        last_us = int((start - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1e6)
        self.state.status = "running"
        while True:
            await asyncio.sleep(WALL_INTERVAL)
            grid = self.points(last_us, self.clock.now())
            if grid.size == 0:
                continue
            last_us = int(grid[-1])
            batch = []
            for first in range(0, len(self.symbols), CHUNK):
                chunk = self.symbols[first : first + CHUNK]
                batch += self.simulator.tick_batch(chunk, grid).to_ticks()
                await asyncio.sleep(0)  # the loop serves what waits between two chunks
            if grid.size > 1:  # time-major, as one batch of every instrument would be
                batch.sort(key=attrgetter("ts"))
            self.state.saw(batch)
            await sink(batch)
