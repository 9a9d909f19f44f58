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
from tradepit.services.row_locks import REJOIN_GRACE


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


async def row_status(ws: ClientConnection, index: int, within: float = 5.0) -> dict[str, Any]:
    """Return the next ``lock_status`` about row ``index`` (the seed's per-row fields)."""
    while True:
        message, _ = await receive_until(ws, "lock_status", within)
        if message.get("row_index") == index:
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
            error = await next_of(ws, "error")
            assert (error["code"], "JSON" in error["message"]) == ("BAD_MESSAGE", True)
            for wrong in ({"type": "dance"}, {"type": "lock_row"}, {"type": "lock", "index": -1}):
                await send(ws, wrong)
                assert (await next_of(ws, "error"))["code"] == "BAD_MESSAGE", wrong
            await send(ws, {"type": "lock", "index": 5})
            assert (await next_of(ws, "error"))["code"] == "ROW_NOT_FOUND"
            await send(ws, {"type": "unlock_row", "row_index": 5})
            assert (await next_of(ws, "error"))["code"] == "ROW_NOT_FOUND"
            await send(ws, {"type": "lock_row", "row_index": 5})
            denied = await next_of(ws, "lock_denied")
            assert (denied["row_index"], denied["code"]) == (5, "ROW_NOT_FOUND")

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


#: A new row as csv-accounts' frontend sends it (Dashboard.js handleSaveNew).
FRONTEND_ROW = {"user": "", "broker": "Zerodha", "API key": "kite-key-000011112222",
                "API secret": "", "pnl": 12.5, "margin": 0, "max_risk": 0}  # fmt: skip


class TestSeedFrontend:
    """csv-accounts' own frontend, message by message: it opens ``/api/ws?username=`` with no
    token (the session cookie ``/api/login`` sets authenticates it), locks with ``lock_row``,
    reopens its socket when editing starts and sends ``verify_lock``, reads ``lock_status``
    row by row and ``csv_update``'s ``data`` and ``source``."""

    async def test_the_logins_cookie_opens_the_pages_socket_for_its_user_only(
        self, desk: Desk
    ) -> None:
        name = unique_name("page")
        await make_user(desk.app, Role.USER, name)
        # AuthContext.js: POST /login {username, password}, reads access_token; the browser
        # keeps the cookie and sends it with the socket's handshake.
        response = await desk.http.post(
            "/api/login", json={"username": name.upper(), "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        assert response.json()["access_token"]
        cookie = {"Cookie": f"tradepit_session={response.cookies['tradepit_session']}"}
        url = f"ws://{desk.address}/api/ws?username={name.upper()}"
        async with connect(url, additional_headers=cookie) as ws:
            assert (await next_of(ws, "lock_status"))["locks"] == []
        _, other_token, _ = await desk.person()
        other = {"Cookie": f"tradepit_session={other_token}"}
        async with connect(url, additional_headers=other) as ws:
            with pytest.raises(ConnectionClosed):
                await receive(ws)
        assert ws.close_code == 4401

    async def test_the_frontend_edits_a_row(self, desk: Desk) -> None:
        alice, alice_token, alice_h = await desk.person()
        _, admin_token, admin_h = await desk.person(Role.ADMIN)
        page = alice.upper()  # as alice typed it at login; the page compares names with it
        added = await desk.http.post("/api/add_csv", json=FRONTEND_ROW, headers=alice_h)
        assert added.status_code == 201, added.text
        cookie = {"Cookie": f"tradepit_session={alice_token}"}
        page_url = f"ws://{desk.address}/api/ws?username={page}"
        async with connect(desk.url(admin_token)) as b:
            await next_of(b, "lock_status")
            async with connect(page_url, additional_headers=cookie) as a:
                await next_of(a, "lock_status")
                await send(a, {"type": "lock_row", "row_index": 0})
                confirmed = await next_of(a, "lock_confirmation")
                assert (confirmed["row_index"], confirmed["status"], confirmed["message"]) == (
                    0, "editing", "Lock acquired successfully"
                )  # fmt: skip
                seen = await row_status(b, 0)
                assert (seen["locked_by"], seen["status"], seen["expires_at"]) == (
                    alice, "editing", confirmed["expires_at"]
                )  # fmt: skip
                assert [lock["user"] for lock in seen["locks"]] == [alice]
                await send(b, {"type": "lock_row", "row_index": 0})
                denied = await next_of(b, "lock_denied")
                assert (denied["row_index"], denied["code"]) == (0, "ROW_LOCKED")
                assert alice in denied["message"]
            # Editing started: the page closes its socket and opens another; the lock waits.
            waiting = await row_status(b, 0)
            assert waiting["locked_by"] == alice
            until = datetime.fromisoformat(waiting["expires_at"])
            assert until == desk.wall.now() + REJOIN_GRACE
            desk.wall.advance(timedelta(seconds=1))
            async with connect(page_url, additional_headers=cookie) as a:
                hello = await row_status(a, 0)
                assert (hello["locked_by"], hello["status"]) == (page, "editing")
                await send(a, {"type": "verify_lock", "row_index": 0})
                restored = await next_of(a, "lock_restored")
                assert (restored["row_index"], restored["message"]) == (
                    0, "Your lock has been restored"
                )  # fmt: skip
                expires = datetime.fromisoformat(restored["expires_at"])
                assert expires == desk.wall.now() + timedelta(minutes=15)
                assert (await row_status(b, 0))["expires_at"] == restored["expires_at"]
                refused = await desk.http.put("/api/update_csv/0", json={"pnl": 1}, headers=admin_h)
                assert refused.status_code == 409
                # Save: the fetched row, edited, is PUT back whole; then unlock_row.
                row = (await desk.http.get("/api/fetch_csv", headers=alice_h)).json()[0]
                saved = await desk.http.put(
                    "/api/update_csv/0", json={**row, "pnl": 99.5}, headers=alice_h
                )
                assert saved.status_code == 200, saved.text
                theirs = await next_of(b, "csv_update")
                assert (theirs["source"], theirs["action"], theirs["index"]) == (
                    alice, "updated", 0
                )  # fmt: skip
                assert [(r["user"], r["pnl"], r["API key"]) for r in theirs["data"]] == [
                    (alice, 99.5, "••••2222")
                ]
                assert datetime.fromisoformat(theirs["timestamp"])
                mine = await next_of(a, "csv_update")
                assert mine["source"] == page  # the page skips its own change
                await send(a, {"type": "unlock_row", "row_index": 0})
                freed = await row_status(b, 0)
                assert (freed["locked_by"], freed["status"], freed["locks"]) == (
                    None, "available", []
                )  # fmt: skip
                cooling = await row_status(a, 0)
                assert (cooling["locked_by"], cooling["status"]) == (page, "cooldown")
            # Editing ended: the page reopens its socket once more and still sees its cooldown.
            async with connect(page_url, additional_headers=cookie) as a:
                assert (await row_status(a, 0))["status"] == "cooldown"
                await send(a, {"type": "lock_row", "row_index": 0})
                assert (await next_of(a, "lock_denied"))["code"] == "LOCK_COOLDOWN"

    async def test_a_closed_pages_lock_lapses_after_the_grace(self, desk: Desk) -> None:
        alice, alice_token, alice_h = await desk.person()
        _, admin_token, admin_h = await desk.person(Role.ADMIN)
        await desk.http.post("/api/add_csv", json={"broker": "paper"}, headers=alice_h)
        async with connect(desk.url(admin_token)) as b:
            await next_of(b, "lock_status")
            async with connect(desk.url(alice_token)) as a:
                await next_of(a, "lock_status")
                await send(a, {"type": "lock_row", "row_index": 0})
                await next_of(a, "lock_confirmation")
                assert (await row_status(b, 0))["locked_by"] == alice
            assert (await row_status(b, 0))["locked_by"] == alice  # kept for the page
            edit = await desk.http.put("/api/update_csv/0", json={"pnl": 1}, headers=admin_h)
            assert edit.status_code == 409
            desk.wall.advance(REJOIN_GRACE + timedelta(seconds=1))
            freed = await row_status(b, 0, within=10)  # the sweep runs every 5 s
            assert (freed["status"], freed["locked_by"]) == ("available", None)
            edit = await desk.http.put("/api/update_csv/0", json={"pnl": 1}, headers=admin_h)
            assert edit.status_code == 200, edit.text

    async def test_verify_lock_tells_the_page_who_holds_its_row(self, desk: Desk) -> None:
        _, alice_token, alice_h = await desk.person()
        admin, admin_token, _ = await desk.person(Role.ADMIN)
        await desk.http.post("/api/add_csv", json={"broker": "paper"}, headers=alice_h)
        async with connect(desk.url(admin_token)) as b, connect(desk.url(alice_token)) as a:
            await next_of(a, "lock_status")
            await next_of(b, "lock_status")
            await send(b, {"type": "lock", "index": 0})
            assert (await row_status(a, 0))["locked_by"] == admin
            await send(a, {"type": "verify_lock", "row_index": 0})
            told = await row_status(a, 0)
            assert (told["locked_by"], told["status"]) == (admin, "editing")
            await send(b, {"type": "unlock", "index": 0})
            assert (await row_status(a, 0))["status"] == "available"
            await send(a, {"type": "verify_lock", "row_index": 0})  # a free row is taken again
            assert (await next_of(a, "lock_restored"))["row_index"] == 0
            assert (await row_status(b, 0))["status"] == "editing"
