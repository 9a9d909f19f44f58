"""Fuzz every route of the live OpenAPI schema with schemathesis: no input gives a 5xx.

Each operation is fuzzed twice: as an anonymous caller, and as a superadmin with a freshly
issued bearer token per case, so a fuzzed logout or deactivation never spoils later cases.
The fuzz app runs on its own migrated SQLite file in schemathesis's ASGI event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi

from tests.conftest import make_settings
from tradepit.app import create_app
from tradepit.domain.accounts import Role
from tradepit.domain.clock import SystemClock
from tradepit.services import auth
from tradepit.settings import Settings
from tradepit.store.db import create_engine, create_sessionmaker
from tradepit.store.migrate import upgrade
from tradepit.store.users import User

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@dataclass(frozen=True)
class FuzzTarget:
    """The app under fuzzing and the superadmin whose tokens authenticate the cases."""

    app: FastAPI
    superadmin: User

    def bearer(self) -> dict[str, str]:
        """Return headers with a bearer token issued now for the superadmin."""
        wired = self.app.state.wiring
        token, _ = auth.issue_token(wired.auth, self.superadmin, wired.wall.now())
        return {"Authorization": f"Bearer {token}"}


async def _prepare(settings: Settings) -> User:
    """Migrate a fresh database and create the superadmin, on an engine of this loop only."""
    engine = create_engine(settings.db_url)
    try:
        await upgrade(engine)
        hasher_app = create_app(settings)  # the app's policy hashes like the fuzzed app will
        wired = hasher_app.state.wiring
        await wired.engine.dispose()
        async with create_sessionmaker(engine)() as session:
            user, _ = await auth.register(
                session, wired.auth, SystemClock(), SystemClock(), wired.starting_balances,
                username="fuzzroot", password="password123", email="root@example.com",
                ip="fuzz", role=Role.SUPERADMIN,
            )
            await session.commit()
            return user
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FuzzTarget]:
    """Yield an app on a migrated SQLite file, with a superadmin to authenticate as."""
    data = tmp_path_factory.mktemp("fuzz")
    settings = make_settings(data / "data", f"sqlite+aiosqlite:///{data / 'fuzz.db'}")
    superadmin = await _prepare(settings)
    yield FuzzTarget(app=create_app(settings), superadmin=superadmin)
    # Runs the app's lifespan shutdown (engine disposal) in schemathesis's event loop.
    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def api_schema(fuzz_target: FuzzTarget) -> schemathesis.BaseSchema:
    """Return the app's live OpenAPI schema."""
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_target.app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@FUZZ
def test_anonymous_callers_get_no_server_error(case: schemathesis.Case) -> None:
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])


@schema.parametrize()
@FUZZ
def test_authenticated_callers_get_no_server_error(
    case: schemathesis.Case, fuzz_target: FuzzTarget
) -> None:
    headers = fuzz_target.bearer()
    response = case.call(headers=headers)
    case.validate_response(response, checks=[not_a_server_error], headers=headers)
