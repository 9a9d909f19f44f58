"""Who is calling is checked in memory: an authenticated read needs no database round trip for
the caller's identity, and a change made anywhere (this process, another process on the same
database) reaches every process's checks: at once here, within the sync interval elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from tests.conftest import client_for, make_settings
from tests.factories import admin_headers, login, register
from tradepit.app import create_app
from tradepit.domain.accounts import Role
from tradepit.services import identities

#: How long another process may take to see a change: the sync interval and some slack.
ELSEWHERE = identities.SYNC_EVERY * 3 + 2


@asynccontextmanager
async def statements(app: FastAPI) -> AsyncIterator[list[str]]:
    """Yield the list of SQL statements the app's engine runs meanwhile."""
    seen: list[str] = []
    sync_engine = app.state.wiring.engine.sync_engine

    def note(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(sync_engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(sync_engine, "before_cursor_execute", note)


@asynccontextmanager
async def following(app: FastAPI) -> AsyncIterator[None]:
    """Run the app's identity sync (its lifespan runs it in a server)."""
    task = asyncio.create_task(app.state.wiring.identities.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def eventually(check: Callable[[], Awaitable[bool]], within: float) -> float:
    """Wait until ``check`` holds; return how long it took, fail after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not await check():
        if loop.time() - started > within:
            pytest.fail(f"not seen within {within} s")
        await asyncio.sleep(0.05)
    return loop.time() - started


async def api_key(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[int, str]:
    """Create an API key; return its id and the key."""
    response = await client.post("/api/auth/api-keys", json={"name": "bot"}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["key"]


class TestNoRoundTrip:
    @pytest.mark.parametrize("by", ["token", "api key"])
    async def test_a_known_caller_is_checked_without_the_database(
        self, app: FastAPI, client: httpx.AsyncClient, by: str
    ) -> None:
        user = await register(client)
        headers = {"Authorization": f"Bearer {await login(client, user['username'])}"}
        if by == "api key":
            headers = {"X-API-Key": (await api_key(client, headers))[1]}
        assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
        async with statements(app) as seen:
            answer = await client.get("/api/auth/me", headers=headers)
        assert answer.status_code == 200 and answer.json()["username"] == user["username"]
        assert seen == []

    async def test_an_api_keys_last_use_is_written_in_a_batch(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        user = await register(client)
        headers = {"Authorization": f"Bearer {await login(client, user['username'])}"}
        key_id, key = await api_key(client, headers)
        assert (await client.get("/api/auth/me", headers={"X-API-Key": key})).status_code == 200
        await app.state.wiring.identities.write_key_use()
        listed = (await client.get("/api/auth/api-keys", headers=headers)).json()
        keys = listed if isinstance(listed, list) else listed["api_keys"]
        [row] = [k for k in keys if k["id"] == key_id]
        assert row["last_used_at"] is not None


class TestHere:
    """A change answered by this process holds for this process's next request."""

    async def test_logout_refuses_the_token_at_once(self, client: httpx.AsyncClient) -> None:
        user = await register(client)
        headers = {"Authorization": f"Bearer {await login(client, user['username'])}"}
        assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
        assert (await client.post("/api/auth/logout", headers=headers)).status_code in (200, 204)
        assert (await client.get("/api/auth/me", headers=headers)).status_code == 401

    async def test_a_revoked_api_key_is_refused_at_once(self, client: httpx.AsyncClient) -> None:
        user = await register(client)
        headers = {"Authorization": f"Bearer {await login(client, user['username'])}"}
        key_id, key = await api_key(client, headers)
        assert (await client.get("/api/auth/me", headers={"X-API-Key": key})).status_code == 200
        revoked = await client.delete(f"/api/auth/api-keys/{key_id}", headers=headers)
        assert revoked.status_code == 200, revoked.text
        assert (await client.get("/api/auth/me", headers={"X-API-Key": key})).status_code == 401

    async def test_a_new_role_shows_at_once(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        _, boss = await admin_headers(app, client, Role.SUPERADMIN)
        user = await register(client)
        headers = {"Authorization": f"Bearer {await login(client, user['username'])}"}
        assert (await client.get("/api/admin/stats", headers=headers)).status_code == 403
        changed = await client.put(
            f"/api/admin/users/{user['id']}/role", json={"role": "admin"}, headers=boss
        )
        assert changed.status_code == 200, changed.text
        assert (await client.get("/api/admin/stats", headers=headers)).status_code == 200


@pytest.fixture
async def other(tmp_path: Path, db: str) -> AsyncIterator[FastAPI]:
    """Yield a second app on the same database, as another process would be (its own bus)."""
    application = create_app(make_settings(tmp_path / "data", db))  # same secrets
    try:
        async with following(application):
            yield application
    finally:
        await application.state.wiring.engine.dispose()


class TestElsewhere:
    """A change answered by one process reaches another on the same database."""

    async def test_a_deactivation(
        self, app: FastAPI, client: httpx.AsyncClient, other: FastAPI
    ) -> None:
        _, boss = await admin_headers(app, client)
        user = await register(client)
        headers = {"Authorization": f"Bearer {await login(client, user['username'])}"}
        async with client_for(other) as there:
            assert (await there.get("/api/auth/me", headers=headers)).status_code == 200
            off = await client.put(f"/api/admin/users/{user['id']}/deactivate", headers=boss)
            assert off.status_code == 200, off.text

            async def refused() -> bool:
                return (await there.get("/api/auth/me", headers=headers)).status_code == 401

            await eventually(refused, ELSEWHERE)

    async def test_a_logout_and_a_revoked_key(
        self, app: FastAPI, client: httpx.AsyncClient, other: FastAPI
    ) -> None:
        user = await register(client)
        headers = {"Authorization": f"Bearer {await login(client, user['username'])}"}
        key_id, key = await api_key(client, headers)
        async with client_for(other) as there:
            for sent in (headers, {"X-API-Key": key}):
                assert (await there.get("/api/auth/me", headers=sent)).status_code == 200
            revoked = await client.delete(f"/api/auth/api-keys/{key_id}", headers=headers)
            assert revoked.status_code == 200
            assert (await client.post("/api/auth/logout", headers=headers)).status_code in (
                200,
                204,
            )

            async def both_refused() -> bool:
                for sent in (headers, {"X-API-Key": key}):
                    if (await there.get("/api/auth/me", headers=sent)).status_code != 401:
                        return False
                return True

            await eventually(both_refused, ELSEWHERE)
