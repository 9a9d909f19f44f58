"""csv-accounts' ``/api/ws``: two users editing the shared table at once — locks, 409s,
expiry, cooldown, row broadcasts, random numbers — against a running server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import make_settings
from tests.factories import PASSWORD, login, make_user, unique_name
from tests.realtime.conftest import receive, receive_until, serving
from tradepit.app import create_app
from tradepit.domain.accounts import Role
from tradepit.domain.clock import ManualClock


@dataclass
class Desk:
    """A running app with a manual wall clock, its address and an HTTP client."""

    app: FastAPI
    address: str
    wall: ManualClock
    http: httpx.AsyncClient

    def url(self, token: str) -> str:
        """Return the /api/ws URL with ``token``."""
        return f"ws://{self.address}/api/ws?token={token}"

    async def person(self, role: Role = Role.USER) -> tuple[str, str, dict[str, str]]:
        """Create a user with ``role``; return their name, token and auth headers."""
        name = unique_name(role.value)
        await make_user(self.app, role, name)
        token = await login(self.http, name, PASSWORD)
        return name, token, {"Authorization": f"Bearer {token}"}


#: Seconds between two checks of an open socket's token in these tests.
RECHECK = 0.3


@pytest.fixture
async def desk(tmp_path: Path, db: str, request: pytest.FixtureRequest) -> AsyncIterator[Desk]:
    """Run an app whose wall clock moves only when told (tokens re-checked every
    ``RECHECK`` s, or as a test's ``recheck`` marker says)."""
    marker = request.node.get_closest_marker("recheck")
    recheck = marker.args[0] if marker else RECHECK
    wall = ManualClock(datetime.now(UTC))
    settings = make_settings(tmp_path / "data", db, ws_recheck_seconds=recheck)
    app = create_app(settings, wall=wall)
    try:
        async with (
            serving(app) as address,
            httpx.AsyncClient(base_url=f"http://{address}", timeout=10) as http,
        ):
            yield Desk(app, address, wall, http)
    finally:
        await app.state.wiring.engine.dispose()


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    """Send a JSON message."""
    await ws.send(json.dumps(message))


async def next_of(ws: ClientConnection, kind: str) -> dict[str, Any]:
    """Return the next message of type ``kind`` (random numbers and others skipped)."""
    message, _ = await receive_until(ws, kind)
    return message


class TestAccountsSocket:
    async def test_a_username_alone_is_refused(self, desk: Desk) -> None:
        async with connect(f"ws://{desk.address}/api/ws?username=alice") as ws:
            await send(ws, {"type": "lock", "index": 0})
            with pytest.raises(ConnectionClosed):
                await receive(ws)
        assert ws.close_code == 4401

    async def test_ping_and_bad_messages(self, desk: Desk) -> None:
        _, token, _ = await desk.person()
        async with connect(desk.url(token)) as ws:
            assert (await next_of(ws, "lock_status")) == {"type": "lock_status", "locks": []}
            await send(ws, {"type": "ping"})
            assert (await next_of(ws, "pong"))["timestamp"]
            await ws.send("not json")
            assert "JSON" in (await next_of(ws, "error"))["message"]
            await send(ws, {"type": "lock", "index": 5})
            assert (await next_of(ws, "error"))["code"] == "ROW_NOT_FOUND"

    async def test_random_numbers_are_broadcast(self, desk: Desk) -> None:
        _, token, _ = await desk.person()
        async with connect(desk.url(token)) as ws:
            message, _ = await receive_until(ws, "random_number", within=8)
        assert 0 <= message["value"] < 100
        assert datetime.fromisoformat(message["timestamp"])

    async def test_two_users_edit_the_table(self, desk: Desk) -> None:
        alice, alice_token, alice_h = await desk.person()
        admin, admin_token, admin_h = await desk.person(Role.ADMIN)
        row = (await desk.http.post(
            "/api/add_csv", json={"broker": "paper", "pnl": 1.5, "max_risk": 2}, headers=alice_h
        )).json()  # fmt: skip
        assert row["index"] == 0
        async with connect(desk.url(alice_token)) as a, connect(desk.url(admin_token)) as b:
            await next_of(a, "lock_status")
            await next_of(b, "lock_status")

            await send(a, {"type": "lock", "index": 0})
            for ws in (a, b):
                locks = (await next_of(ws, "lock_status"))["locks"]
                assert [(lock["index"], lock["id"], lock["user"]) for lock in locks] == [
                    (0, row["id"], alice)
                ]

            await send(b, {"type": "lock", "index": 0})
            refused = await next_of(b, "error")
            assert refused["code"] == "ROW_LOCKED"
            assert alice in refused["message"]
            for response in (
                await desk.http.put("/api/update_csv/0", json={"pnl": 9}, headers=admin_h),
                await desk.http.delete("/api/delete_csv/0", headers=admin_h),
                await desk.http.put(f"/api/accounts/{row['id']}", json={"pnl": 9}, headers=admin_h),
            ):
                assert response.status_code == 409
                assert response.json()["code"] == "ROW_LOCKED"
                assert alice in response.json()["message"]

            changed = await desk.http.put("/api/update_csv/0", json={"pnl": 5}, headers=alice_h)
            assert changed.status_code == 200
            for ws in (a, b):
                update = await next_of(ws, "csv_update")
                assert (update["action"], update["index"]) == ("updated", 0)
                assert update["row"]["pnl"] == "5"

            await send(a, {"type": "unlock", "index": 0})
            for ws in (a, b):
                assert (await next_of(ws, "lock_status"))["locks"] == []
            await send(a, {"type": "lock", "index": 0})
            cooling = await next_of(a, "error")
            assert cooling["code"] == "LOCK_COOLDOWN"
            desk.wall.advance(timedelta(seconds=16))
            await send(a, {"type": "lock", "index": 0})
            for ws in (a, b):
                assert [lock["user"] for lock in (await next_of(ws, "lock_status"))["locks"]] == [
                    alice
                ]

            # 15 minutes without activity: the lock lapses and the admin may take the row.
            desk.wall.advance(timedelta(minutes=15, seconds=1))
            await send(b, {"type": "lock", "index": 0})
            while alice in str(locks := (await next_of(a, "lock_status"))["locks"]):
                pass  # the sweep of the expired lock may come first
            assert [lock["user"] for lock in locks] == [admin]
            response = await desk.http.put("/api/update_csv/0", json={"pnl": 7}, headers=admin_h)
            assert response.status_code == 200
            assert (await desk.http.put(
                "/api/update_csv/0", json={"pnl": 8}, headers=alice_h
            )).status_code == 409  # fmt: skip


class TestRevokedSessions:
    """A socket whose token is revoked, or whose user is deactivated, holds and takes nothing."""

    async def test_logout_closes_the_socket_and_releases_its_locks(self, desk: Desk) -> None:
        alice, alice_token, alice_h = await desk.person()
        _, admin_token, admin_h = await desk.person(Role.ADMIN)
        row = (
            await desk.http.post("/api/add_csv", json={"broker": "paper"}, headers=alice_h)
        ).json()
        async with connect(desk.url(alice_token)) as a, connect(desk.url(admin_token)) as b:
            await next_of(a, "lock_status")
            await next_of(b, "lock_status")
            await send(a, {"type": "lock", "index": 0})
            assert [lock["user"] for lock in (await next_of(b, "lock_status"))["locks"]] == [alice]
            assert (await desk.http.post("/api/auth/logout", headers=alice_h)).status_code == 200
            with pytest.raises(ConnectionClosed):
                while True:  # closed within the re-check interval
                    await receive(a, within=RECHECK * 10)
            assert a.close_code == 4401
            assert (await next_of(b, "lock_status"))["locks"] == []
            edit = await desk.http.put(
                f"/api/accounts/{row['id']}", json={"pnl": 9}, headers=admin_h
            )
            assert edit.status_code == 200, edit.text

    @pytest.mark.recheck(60)
    async def test_a_lock_on_a_revoked_session_is_never_granted(self, desk: Desk) -> None:
        _, alice_token, alice_h = await desk.person()
        _, admin_token, admin_h = await desk.person(Role.ADMIN)
        await desk.http.post("/api/add_csv", json={"broker": "paper"}, headers=alice_h)
        async with connect(desk.url(alice_token)) as a:
            await next_of(a, "lock_status")
            assert (await desk.http.post("/api/auth/logout", headers=alice_h)).status_code == 200
            await send(a, {"type": "lock", "index": 0})  # long before the next re-check
            with pytest.raises(ConnectionClosed):
                while True:
                    await receive(a)
            assert a.close_code == 4401
        async with connect(desk.url(admin_token)) as b:
            assert (await next_of(b, "lock_status"))["locks"] == []
        edit = await desk.http.put("/api/update_csv/0", json={"pnl": 9}, headers=admin_h)
        assert edit.status_code == 200, edit.text

    @pytest.mark.recheck(60)
    async def test_deactivating_a_user_releases_their_locks_at_once(self, desk: Desk) -> None:
        _, alice_token, alice_h = await desk.person()
        _, admin_token, admin_h = await desk.person(Role.ADMIN)
        alice_id = (await desk.http.get("/api/auth/me", headers=alice_h)).json()["id"]
        await desk.http.post("/api/add_csv", json={"broker": "paper"}, headers=alice_h)
        async with connect(desk.url(alice_token)) as a, connect(desk.url(admin_token)) as b:
            await next_of(a, "lock_status")
            await next_of(b, "lock_status")
            await send(a, {"type": "lock", "index": 0})
            assert len((await next_of(b, "lock_status"))["locks"]) == 1
            off = await desk.http.put(f"/api/admin/users/{alice_id}/deactivate", headers=admin_h)
            assert off.status_code == 200, off.text
            assert (await next_of(b, "lock_status"))["locks"] == []
            edit = await desk.http.put("/api/update_csv/0", json={"pnl": 9}, headers=admin_h)
            assert edit.status_code == 200, edit.text
            await send(a, {"type": "lock", "index": 0})
            with pytest.raises(ConnectionClosed):
                while True:
                    await receive(a)
            assert a.close_code == 4401
