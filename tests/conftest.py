"""Shared fixtures: a migrated database per backend and run, a fresh app per test.

Every test that touches the database runs on SQLite, and on PostgreSQL too when
``TRADEPIT_TEST_POSTGRES_URL`` is set. Each run creates its own PostgreSQL database and drops
it afterwards; tables are emptied after each test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
from bench.server import scratch_postgres
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from tests.books import assert_books_balance
from tradepit.app import create_app
from tradepit.domain.clock import ManualClock
from tradepit.settings import Settings
from tradepit.store.db import create_engine
from tradepit.store.migrate import upgrade
from tradepit.store.models import metadata

# CI explores the same examples on every run, so a red build is reproducible; local runs
# explore new ones (and keep failures in .hypothesis/).
hypothesis.settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI") == "true":
    hypothesis.settings.load_profile("ci")

POSTGRES_URL = os.environ.get("TRADEPIT_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("TRADEPIT_TEST_REDIS_URL")
REQUIRE_SERVICES = os.environ.get("TRADEPIT_TEST_REQUIRE_SERVICES") == "1"
CLIENT_IP = "203.0.113.7"


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``, or fail when CI requires the services to be there."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """Yield the URL of a database migrated with Alembic for this run."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        yield url
        return
    async with postgres_database("tradepit_test") as url:
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        yield url


@asynccontextmanager
async def postgres_database(prefix: str, name: str | None = None) -> AsyncIterator[str]:
    """Create a PostgreSQL database for this run, yield its URL and drop it afterwards.

    Skips (or, in CI, fails) when ``TRADEPIT_TEST_POSTGRES_URL`` is unset or unreachable.
    """
    if not POSTGRES_URL:
        skip_or_fail("PostgreSQL tests need TRADEPIT_TEST_POSTGRES_URL (CI sets it)")
    assert POSTGRES_URL is not None
    name = name or f"{prefix}_{uuid.uuid4().hex[:12]}"
    async with AsyncExitStack() as stack:
        try:
            url = await stack.enter_async_context(scratch_postgres(POSTGRES_URL, name))
        except OSError as exc:
            skip_or_fail(f"PostgreSQL at {POSTGRES_URL} is unreachable: {exc}")
        yield url


@pytest.fixture(scope="session")
async def cleaner(database_url: str) -> AsyncIterator[AsyncEngine]:
    """Yield an engine used to empty the tables after each test."""
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def empty_tables(engine: AsyncEngine) -> None:
    """Delete every row of every table."""
    tables = list(reversed(metadata.sorted_tables))
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(table.delete())


@pytest.fixture
async def db(
    request: pytest.FixtureRequest, database_url: str, cleaner: AsyncEngine
) -> AsyncIterator[str]:
    """Yield the database URL. When the test ends, check the books it left (every currency
    of the ledger sums to zero, each wallet equals its entries, each position its fills),
    then empty the tables. A test that breaks the books on purpose says so with
    ``@pytest.mark.books_broken_on_purpose``."""
    yield database_url
    try:
        if request.node.get_closest_marker("books_broken_on_purpose") is None:
            await assert_books_balance(async_sessionmaker(cleaner, expire_on_commit=False))
    finally:
        await empty_tables(cleaner)


def make_settings(data_dir: Path, database_url: str, **overrides: object) -> Settings:
    """Return settings for a test app: fast Argon2, generous rate limits, no .env file."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "argon2_time_cost": 1,
        "argon2_memory_cost_kib": 1024,
        "argon2_parallelism": 1,
        "rate_limit": "100000/minute",
        "auth_rate_limit": "100000/minute",
        # Many apps start in one test process: what one built must stay collectable.
        "gc_freeze": False,
        # Kept in memory on both databases, so that the check after each test covers both.
        "trading_state_in_memory": True,
        **overrides,
    }
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings(tmp_path: Path, db: str) -> Settings:
    """Return the settings of the test app."""
    return make_settings(tmp_path / "data", db)


@asynccontextmanager
async def app_at(
    data_dir: Path, database_url: str, clock: ManualClock, **overrides: object
) -> AsyncIterator[FastAPI]:
    """Yield an app whose market clock is ``clock`` (it moves only when told to)."""
    application = create_app(make_settings(data_dir, database_url, **overrides), clock=clock)
    try:
        yield application
        await assert_memory_current(application)
    finally:
        await application.state.wiring.engine.dispose()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """Yield a fresh app on the test database."""
    application = create_app(settings)
    try:
        yield application
        await assert_memory_current(application)
    finally:
        await application.state.wiring.engine.dispose()


async def assert_memory_current(application: FastAPI) -> None:
    """Assert that what the app keeps in memory of users' wallets, positions and resting
    orders, and of running tournaments' entries, is what the database holds: every writer
    told it of the users it wrote."""
    wired = application.state.wiring
    problems = await wired.trading.stale()
    if wired.leaderboards.memory is not None:
        problems += await wired.leaderboards.memory.stale()
    assert not problems, "\n".join(problems)


def client_for(app: FastAPI, ip: str = CLIENT_IP) -> httpx.AsyncClient:
    """Return an HTTP client that talks to ``app`` in process, from address ``ip``."""
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Yield an HTTP client for the test app."""
    async with client_for(app) as http:
        yield http
