"""One process at a time runs the schedulers; another takes over when the leader goes."""

from __future__ import annotations

import asyncio
import contextlib

from tradepit.services.leadership import Job, Leadership
from tradepit.store.db import create_engine


async def test_one_leader_at_a_time_and_a_follower_takes_over(db: str) -> None:
    first, second = create_engine(db), create_engine(db)
    runs: list[str] = []

    def job(name: str) -> Job:
        async def work() -> None:
            runs.append(name)
            await asyncio.Event().wait()  # a scheduler runs until cancelled

        return work

    one, two = Leadership(first, poll=0.05), Leadership(second, poll=0.05)
    leading = asyncio.create_task(one.run([job("one")]))
    await asyncio.wait_for(one.leading.wait(), 5)
    waiting = asyncio.create_task(two.run([job("two")]))
    try:
        if first.dialect.name == "postgresql":
            await asyncio.sleep(0.5)
            assert runs == ["one"] and not two.leading.is_set()
            leading.cancel()  # the leader stops (or dies): its connection and lock go
            with contextlib.suppress(asyncio.CancelledError):
                await leading
            await asyncio.wait_for(two.leading.wait(), 5)
            await asyncio.sleep(0.1)
            assert runs == ["one", "two"]
        else:  # one SQLite file has one process: each leads
            await asyncio.wait_for(two.leading.wait(), 5)
            await asyncio.sleep(0.1)
            assert sorted(runs) == ["one", "two"]
    finally:
        for task in (leading, waiting):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await first.dispose()
        await second.dispose()
