"""Operating the split shape as an operator would, with real `tradepit` processes on PostgreSQL
and Redis: an unmigrated database is refused at start (or migrated, when asked), who leads
shows on /health, /api/status and /metrics, a standby publishes nothing until it takes over,
and a `tradepit serve` (role all) does not join an engine's database."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from bench.server import TRADEPIT, Server, free_port, running, server_env
from redis.asyncio import Redis
from typer.testing import CliRunner

from tests.conftest import REDIS_URL, postgres_database, skip_or_fail
from tradepit.cli import cli
from tradepit.store.db import create_engine
from tradepit.store.migrate import upgrade

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not TRADEPIT.exists(), reason=f"{TRADEPIT} is not installed"),
]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of the processes, without a database yet."""
    if not REDIS_URL:
        skip_or_fail("the split shape needs Redis: TRADEPIT_TEST_REDIS_URL (CI sets it)")
    assert REDIS_URL is not None
    return server_env(tmp_path / "data") | {
        "TRADEPIT_REDIS_URL": REDIS_URL,
        "TRADEPIT_REDIS_PREFIX": f"engines{free_port()}",
        "TRADEPIT_LOG_LEVEL": "INFO",
    }


async def refused(command: list[str], env: dict[str, str]) -> str:
    """Run ``tradepit <command>``, which must refuse to start, in this process (a process
    costs seconds to start); return its one error line."""
    tradepit = {k: v for k, v in env.items() if k.startswith("TRADEPIT_")}
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        result = await asyncio.to_thread(CliRunner().invoke, cli, command, env=tradepit)
    finally:  # the command logged to the runner's stream, closed now: log where we did
        root.handlers[:], root.level = handlers, level
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    return errors[0]


async def leadership(process: Server) -> tuple[bool, bool, float]:
    """Return what ``process`` says of its lead: /health, /api/status and the gauge."""
    async with httpx.AsyncClient(base_url=process.base_url, timeout=5) as http:
        health = (await http.get("/health")).json()["data"]
        status = (await http.get("/api/status")).json()
        metrics = (await http.get("/metrics")).text
    assert health["role"] == status["role"] == "engine"
    gauge = next(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("tradepit_engine_leader ")
    )
    return health["leading"], status["leading"], gauge


async def ticks_on_the_bus(prefix: str, seconds: float) -> Counter[tuple[str, str]]:
    """Return how often each tick (symbol, time) of INFY was published in ``seconds``."""
    assert REDIS_URL is not None
    seen: Counter[tuple[str, str]] = Counter()
    async with Redis.from_url(REDIS_URL) as redis, redis.pubsub() as pubsub:
        await pubsub.subscribe(f"{prefix}:bus:tick.INFY")
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
            if message is not None:
                tick = json.loads(message["data"])
                seen[(tick["symbol"], tick["timestamp"])] += 1
    return seen


async def test_an_unmigrated_database_is_refused_unless_migrating_at_start(
    tmp_path: Path, env: dict[str, str]
) -> None:
    async with postgres_database("tradepit_unmigrated") as url:
        env = env | {"TRADEPIT_DATABASE_URL": url}
        for command in (["engine"], ["serve", "--role", "api"], ["serve"]):
            assert await refused(command, env) == (
                "error: the database has no schema yet: run `tradepit migrate` first "
                "(or set TRADEPIT_MIGRATE_ON_START=true to migrate at start)"
            )
        migrating = env | {"TRADEPIT_MIGRATE_ON_START": "true"}
        async with running(["engine"], migrating, tmp_path / "engine.log") as engine:
            assert (await leadership(engine))[0] is True


async def test_one_engine_leads_visibly_and_a_standby_takes_over_silently_until_then(
    tmp_path: Path, env: dict[str, str]
) -> None:
    async with postgres_database("tradepit_engines") as url:
        env = env | {"TRADEPIT_DATABASE_URL": url}
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        async with (
            running(["engine"], env, tmp_path / "first.log") as first,
            running(["engine"], env, tmp_path / "second.log") as second,
        ):
            assert await leadership(first) == (True, True, 1.0)
            assert await leadership(second) == (False, False, 0.0)
            assert "standby: another process leads" in second.output()
            async with httpx.AsyncClient(base_url=second.base_url) as http:
                feed = (await http.get("/api/status")).json()["feed"]
            assert feed["status"] == "not_started"
            # Every tick is on the bus once: the standby runs no feed.
            seen = await ticks_on_the_bus(env["TRADEPIT_REDIS_PREFIX"], 2.0)
            assert seen and set(seen.values()) == {1}, seen
            # A `tradepit serve` (role all) does not join an engine's database.
            said = await refused(["serve"], env)
            assert said.startswith("error: 2 `tradepit engine` process(es) run on this database")

            first.process.send_signal(signal.SIGKILL)
            await first.process.wait()
            began = time.monotonic()
            while (await leadership(second))[0] is False:
                assert time.monotonic() - began < 10, second.output()
                await asyncio.sleep(0.1)
            took = time.monotonic() - began
            assert await leadership(second) == (True, True, 1.0)
            assert "leading: the leader went away; this process took over" in second.output()
            seen = await ticks_on_the_bus(env["TRADEPIT_REDIS_PREFIX"], 1.5)
            assert seen and set(seen.values()) == {1}, seen
        print(f"the standby led {took:.2f} s after the leader was killed")
