"""Helpers for tests that run a feed against a local stand-in of a provider's server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

import uvicorn
from starlette.types import ASGIApp

from tradepit.domain.market import Tick
from tradepit.market.feed import Feed


@contextlib.asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[int]:
    """Run ``app`` under uvicorn on a free port of 127.0.0.1; yield the port."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, http="h11", ws="none", lifespan="off",
        log_level="warning", access_log=False, timeout_graceful_shutdown=2,
    )  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


class Collector:
    """A sink that keeps every batch."""

    def __init__(self) -> None:
        self.batches: list[list[Tick]] = []

    async def __call__(self, batch: Sequence[Tick]) -> None:
        self.batches.append(list(batch))

    @property
    def ticks(self) -> list[Tick]:
        """Return every tick received, in order."""
        return [tick for batch in self.batches for tick in batch]

    def latest(self) -> dict[str, Tick]:
        """Return the latest tick of each symbol."""
        return {tick.symbol: tick for tick in self.ticks}


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Wait until ``condition()`` holds (polled: feed state is a plain dataclass)."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def running(feed: Feed, sink: Collector) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``feed`` in a task; cancel it and wait for it on the way out."""
    task = asyncio.create_task(feed.run(sink))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
