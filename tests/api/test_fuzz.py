"""Fuzz every route of the live OpenAPI schema with schemathesis: no input gives a 5xx.

Each operation is fuzzed as an anonymous caller, and as a superadmin with a bearer token
issued afresh for each case (so a fuzzed logout never spoils later cases), on SQLite and on
PostgreSQL.

The apps are built at import time, because schemathesis parametrizes tests while pytest
collects them (its fixture-based lazy loader does not work with pytest 9). Each runs on its own
database, migrated by a module fixture, and is served in schemathesis's own event loop; its
engine is never used from pytest's loop, so its pooled connections stay on one loop.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL, make_settings, postgres_database
from tests.factories import admin_headers, user_with_token
from tradepit.app import create_app
from tradepit.domain.accounts import Role
from tradepit.services import auth
from tradepit.store.db import create_engine, create_sessionmaker
from tradepit.store.migrate import upgrade
from tradepit.store.users import User

if TYPE_CHECKING:
    from schemathesis.specs.openapi.schemas import OpenApiCase

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)

_DATA = Path(tempfile.mkdtemp(prefix="tradepit-fuzz-"))
atexit.register(shutil.rmtree, _DATA, ignore_errors=True)


@dataclass(frozen=True)
class Backend:
    """One app under fuzzing, the database it runs on and its OpenAPI schema."""

    name: str
    url: str
    app: FastAPI
    schema: schemathesis.BaseSchema

    @classmethod
    def build(cls, name: str, url: str) -> Backend:
        """Build the app for ``url``; nothing connects to the database yet.

        The schema comes straight from the app: loading it over ASGI would start the app's
        lifespan (feed, engine rebuild) before the fixtures have migrated the database.
        """
        app = create_app(make_settings(_DATA / name, url))
        schema = schemathesis.openapi.from_dict(app.openapi())
        schema.app = app
        return cls(name, url, app, schema)


_PG_NAME = f"tradepit_fuzz_{uuid.uuid4().hex[:12]}"
SQLITE = Backend.build("sqlite", f"sqlite+aiosqlite:///{_DATA / 'fuzz.db'}")
POSTGRES = Backend.build(
    "postgresql",
    make_url(POSTGRES_URL).set(database=_PG_NAME).render_as_string(hide_password=False)
    if POSTGRES_URL
    else "postgresql+asyncpg://postgres@unconfigured.invalid/none",
)


async def _superadmin(backend: Backend) -> User:
    """Migrate the backend's database and create a superadmin in it.

    This uses an engine of pytest's loop, never the app's, whose connections belong to the
    loop that serves the app.
    """
    wired = backend.app.state.wiring
    engine = create_engine(backend.url)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine)() as session:
            user, _ = await auth.register(
                session,
                wired.auth,
                wired.wall,
                wired.clock,
                wired.starting_balances,
                username="fuzzroot",
                password="password123",
                email="root@example.com",
                ip="fuzz",
                role=Role.SUPERADMIN,
            )
            await session.commit()
            return user
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def sqlite_superadmin() -> AsyncIterator[User]:
    """Yield the superadmin of the migrated SQLite fuzz database."""
    yield await _superadmin(SQLITE)
    # The apps' lifespans dispose their engines, in the loop that serves them.
    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
async def postgres_superadmin() -> AsyncIterator[User]:
    """Create and migrate a PostgreSQL fuzz database; yield its superadmin; drop it."""
    async with postgres_database("tradepit_fuzz", _PG_NAME):
        yield await _superadmin(POSTGRES)
        asgi.shutdown_lifespans()


def _bearer(backend: Backend, user: User) -> dict[str, str]:
    """Return headers with a bearer token for ``user``, issued now."""
    wired = backend.app.state.wiring
    token, _ = auth.issue_token(wired.auth, user, wired.wall.now())
    return {"Authorization": f"Bearer {token}"}


def _anonymous(case: OpenApiCase) -> None:
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])


def _authenticated(case: OpenApiCase, backend: Backend, user: User) -> None:
    headers = _bearer(backend, user)
    response = case.call(headers=headers)
    case.validate_response(response, checks=[not_a_server_error], headers=headers)


# Anonymous tests use the superadmin fixtures too: they migrate the database.


@SQLITE.schema.parametrize()
@FUZZ
def test_sqlite_anonymous(case: OpenApiCase, sqlite_superadmin: User) -> None:
    _anonymous(case)


@SQLITE.schema.parametrize()
@FUZZ
def test_sqlite_superadmin(case: OpenApiCase, sqlite_superadmin: User) -> None:
    _authenticated(case, SQLITE, sqlite_superadmin)


@POSTGRES.schema.parametrize()
@FUZZ
def test_postgresql_anonymous(case: OpenApiCase, postgres_superadmin: User) -> None:
    _anonymous(case)


@POSTGRES.schema.parametrize()
@FUZZ
def test_postgresql_superadmin(case: OpenApiCase, postgres_superadmin: User) -> None:
    _authenticated(case, POSTGRES, postgres_superadmin)


NUL = "a\x00b"


class TestFuzzFindings:
    """Inputs that gave a 500 on PostgreSQL: NUL in text, over-long values, 64-bit ids."""

    async def test_nul_in_user_search_is_422(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        _, headers = await admin_headers(app, client)
        response = await client.get("/api/admin/users", params={"q": NUL}, headers=headers)
        assert response.status_code == 422
        assert response.json()["code"] == "VALIDATION_ERROR"

    async def test_nul_in_audit_action_filter_is_422(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        _, headers = await admin_headers(app, client)
        response = await client.get("/api/admin/audit-log", params={"action": NUL}, headers=headers)
        assert response.status_code == 422
        assert response.json()["code"] == "VALIDATION_ERROR"

    @pytest.mark.parametrize("field", ["telegram", "username", "email"])
    async def test_nul_in_login_is_422(self, client: httpx.AsyncClient, field: str) -> None:
        response = await client.post("/api/login", json={field: NUL, "password": "password123"})
        assert response.status_code == 422
        assert response.json()["detail"][0]["field"] == f"body.{field}"

    async def test_nul_in_api_key_name_is_422(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        response = await client.post("/api/auth/api-keys", json={"name": NUL}, headers=headers)
        assert response.status_code == 422
        listed = await client.get("/api/auth/api-keys", headers=headers)
        assert listed.json()["api_keys"] == []

    async def test_id_beyond_32_bits_is_422(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        response = await client.delete(f"/api/auth/api-keys/{2**31}", headers=headers)
        assert response.status_code == 422
        assert response.json()["detail"][0]["field"] == "path.key_id"

    async def test_largest_id_is_simply_not_found(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        response = await client.delete(f"/api/auth/api-keys/{2**31 - 1}", headers=headers)
        assert response.status_code == 404

    async def test_actor_filter_beyond_32_bits_is_422(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        _, headers = await admin_headers(app, client)
        response = await client.get(
            "/api/admin/audit-log", params={"actor_id": 2**31}, headers=headers
        )
        assert response.status_code == 422

    async def test_login_that_grows_when_lower_cased_is_a_plain_failure(
        self, client: httpx.AsyncClient
    ) -> None:
        # 254 characters are allowed; lower-cased, 'İ' becomes two, past the stored key's width.
        response = await client.post(
            "/api/login", json={"username": "\u0130" * 254, "password": "password123"}
        )
        assert response.status_code == 401
        assert response.json()["code"] == "INVALID_CREDENTIALS"
