"""One process at a time runs the schedulers; another takes over when the leader goes; a
`tradepit serve` (role all) and a `tradepit engine` do not share a database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from typer.testing import CliRunner

from tradepit.cli import cli
from tradepit.services.leadership import SHAPE_KEYS, Job, Leadership, rivals
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


async def test_a_serve_and_an_engine_do_not_share_a_database(
    db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if not db.startswith("postgresql"):
        pytest.skip("one SQLite file has one process: there is no election")
    engines = [create_engine(db) for _ in range(3)]
    registry = CollectorRegistry()
    serve = Leadership(engines[0], poll=0.05, shape="all")
    engine = Leadership(engines[1], poll=0.05, shape="engine", registry=registry)

    def gauge() -> float | None:
        return registry.get_sample_value("tradepit_engine_leader")

    tasks = [asyncio.create_task(serve.run([forever]))]
    try:
        await asyncio.wait_for(serve.leading.wait(), 5)
        # The command line refuses an engine beside a `tradepit serve` (role all) ...
        async with engines[2].connect() as connection:
            assert await rivals(connection, "engine") == 1
            assert await rivals(connection, "all") == 0
        env = {"TRADEPIT_DATABASE_URL": db, "TRADEPIT_REDIS_URL": "redis://127.0.0.1:1/0",
               "TRADEPIT_DATA_DIR": str(tmp_path)}  # fmt: skip
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        try:
            result = await asyncio.to_thread(CliRunner().invoke, cli, ["engine"], env=env)
        finally:
            root.handlers[:], root.level = handlers, level
        assert result.exit_code == 2, result.output
        assert "error: 1 `tradepit serve` process(es) (role all) run on this database" in (
            result.output
        )
        # ... and one that started at the same moment waits; it leads once the serve stops.
        tasks.append(asyncio.create_task(engine.run([forever])))
        await asyncio.sleep(0.3)
        assert not engine.leading.is_set() and gauge() == 0
        await stop(tasks.pop(0))
        await asyncio.wait_for(engine.leading.wait(), 5)
        assert gauge() == 1
        await stop(tasks.pop(0))
        # A serve never takes the lead while an engine takes part, even a waiting one.
        async with engines[2].connect() as waiting:
            key = {"key": SHAPE_KEYS["engine"]}
            await waiting.execute(text("SELECT pg_advisory_lock_shared(:key)"), key)
            with caplog.at_level(logging.INFO, "tradepit.leadership"):
                tasks.append(asyncio.create_task(serve.run([forever])))
                await asyncio.sleep(0.3)
                assert not serve.leading.is_set()
            await waiting.execute(text("SELECT pg_advisory_unlock_shared(:key)"), key)
            await waiting.commit()
        await asyncio.wait_for(serve.leading.wait(), 5)
        refusals = [r.message for r in caplog.records if r.levelno == logging.ERROR]
        assert refusals == [
            "not leading: 1 `tradepit engine` process(es) run on this database: beside an "
            "engine, run the API with `tradepit serve --role api` (docs/operations.md, "
            "Several processes)"
        ]
    finally:
        for task in tasks:
            await stop(task)
        for engine_ in engines:
            await engine_.dispose()


async def forever() -> None:
    """A scheduled job: runs until cancelled."""
    await asyncio.Event().wait()


async def stop(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait for it."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
