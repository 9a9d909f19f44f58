"""Brute-force protection: failed logins lock an account, or an address, for a while."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.conftest import CLIENT_IP, client_for
from tests.factories import PASSWORD, admin_headers, register, unique_name
from tradepit.app import create_app
from tradepit.domain.clock import ManualClock
from tradepit.settings import Settings
from tradepit.store.audit import AuditEntry

OTHER_IP = "198.51.100.9"
WRONG = "wrongpass1"
LOCK_SECONDS = 15 * 60


@pytest.fixture
def clock() -> ManualClock:
    """Return the wall clock of the test app, which moves only when told to."""
    return ManualClock(datetime.now(UTC))


@pytest.fixture
async def app(settings: Settings, clock: ManualClock) -> AsyncIterator[FastAPI]:
    """Yield a fresh app whose security timers run on the manual ``clock``."""
    application = create_app(settings, wall=clock)
    yield application
    await application.state.wiring.engine.dispose()


async def attempt(
    client: httpx.AsyncClient, name: str, password: str = PASSWORD, field: str = "username"
) -> httpx.Response:
    """Try to log in as ``name``."""
    return await client.post("/api/login", json={field: name, "password": password})


async def fail(client: httpx.AsyncClient, name: str, times: int, field: str = "username") -> None:
    """Log in as ``name`` with a wrong password ``times`` times; each must be refused with 401."""
    for _ in range(times):
        response = await attempt(client, name, WRONG, field)
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "INVALID_CREDENTIALS"


def assert_locked(response: httpx.Response, at_most: int = LOCK_SECONDS + 1) -> int:
    """Check ``response`` is a lockout; return its Retry-After in seconds."""
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "ACCOUNT_LOCKED"
    assert "access_token" not in response.json()
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= at_most
    return retry_after


async def audit_rows(app: FastAPI, action: str) -> list[AuditEntry]:
    """Return the audit entries of ``action``, oldest first, straight from the database."""
    async with app.state.wiring.sessionmaker() as session:
        stmt = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list(await session.scalars(stmt))


async def me(client: httpx.AsyncClient, response: httpx.Response) -> dict[str, Any]:
    """Return ``GET /api/auth/me`` with the token of a login ``response``."""
    token = response.json()["access_token"]
    answer = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


class TestAccountLockout:
    async def test_five_wrong_passwords_are_each_401(self, client: httpx.AsyncClient) -> None:
        user = await register(client)
        await fail(client, user["username"], 5)

    async def test_sixth_attempt_is_429_even_with_the_right_password(
        self, client: httpx.AsyncClient
    ) -> None:
        user = await register(client)
        await fail(client, user["username"], 5)
        response = await attempt(client, user["username"])
        retry_after = assert_locked(response)
        assert retry_after >= LOCK_SECONDS - 60
        assert "try again later" in response.json()["message"]

    async def test_four_failures_do_not_lock(self, client: httpx.AsyncClient) -> None:
        user = await register(client)
        await fail(client, user["username"], 4)
        assert (await attempt(client, user["username"])).status_code == 200

    async def test_lock_keeps_refusing(self, client: httpx.AsyncClient) -> None:
        user = await register(client)
        await fail(client, user["username"], 5)
        for password in (PASSWORD, WRONG, PASSWORD):
            assert_locked(await attempt(client, user["username"], password))

    async def test_lock_is_per_account(self, client: httpx.AsyncClient) -> None:
        victim = await register(client)
        other = await register(client)
        await fail(client, victim["username"], 5)
        assert_locked(await attempt(client, victim["username"]))
        response = await attempt(client, other["username"])
        assert response.status_code == 200
        assert response.json()["username"] == other["username"]

    async def test_nobody_locks_the_owner_out_from_another_address(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        victim = await register(client)
        await fail(client, victim["username"], 5)  # the attacker's address
        assert_locked(await attempt(client, victim["username"]))
        async with client_for(app, OTHER_IP) as owner:
            response = await attempt(owner, victim["username"])
            assert response.status_code == 200, response.text
            assert (await me(owner, response))["username"] == victim["username"]
            await fail(owner, victim["username"], 4)  # the owner's own count is their own
            assert (await attempt(owner, victim["username"])).status_code == 200

    async def test_a_distributed_guess_meets_the_account_ceiling_but_not_the_owner(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        victim = await register(client)
        assert (await attempt(client, victim["username"])).status_code == 200  # a known address
        for n in range(25):  # 100 guesses, 4 from each address: under both other limits
            async with client_for(app, f"192.0.2.{n + 1}") as guesser:
                await fail(guesser, victim["username"], 4)
        async with client_for(app, OTHER_IP) as unknown:
            assert_locked(await attempt(unknown, victim["username"]))
        assert (await attempt(client, victim["username"])).status_code == 200
        lockouts = await audit_rows(app, "auth.lockout")
        assert [e.details["by"] for e in lockouts] == ["account"]

    async def test_failures_by_e_mail_and_username_count_together(
        self, client: httpx.AsyncClient
    ) -> None:
        name = unique_name("mixed")
        await register(client, name, email=f"{name}@example.com")
        await fail(client, name, 3)
        await fail(client, f"{name.upper()}@Example.com", 2, field="email")
        assert_locked(await attempt(client, f"@{name}", field="telegram"))

    async def test_unknown_account_locks_like_a_real_one(self, client: httpx.AsyncClient) -> None:
        await fail(client, "no_such_person", 5)
        assert_locked(await attempt(client, "no_such_person"))

    async def test_successful_login_starts_the_count_again(
        self, client: httpx.AsyncClient, clock: ManualClock
    ) -> None:
        user = await register(client)
        await fail(client, user["username"], 4)
        clock.advance(timedelta(seconds=1))
        assert (await attempt(client, user["username"])).status_code == 200
        clock.advance(timedelta(seconds=1))
        await fail(client, user["username"], 4)
        assert (await attempt(client, user["username"])).status_code == 200

    async def test_retry_after_counts_down(
        self, client: httpx.AsyncClient, clock: ManualClock
    ) -> None:
        user = await register(client)
        await fail(client, user["username"], 5)
        first = assert_locked(await attempt(client, user["username"]))
        clock.advance(timedelta(minutes=14))
        later = assert_locked(await attempt(client, user["username"]))
        assert later == first - 14 * 60

    async def test_right_password_works_after_the_lock_expires(
        self, client: httpx.AsyncClient, clock: ManualClock
    ) -> None:
        user = await register(client)
        await fail(client, user["username"], 5)
        assert_locked(await attempt(client, user["username"]))
        clock.advance(timedelta(minutes=16))
        response = await attempt(client, user["username"])
        assert response.status_code == 200
        # The token issued after the lock works: tokens are checked on the same wall clock.
        assert (await me(client, response))["id"] == user["id"]

    async def test_one_failure_after_expiry_does_not_lock_again(
        self, client: httpx.AsyncClient, clock: ManualClock
    ) -> None:
        user = await register(client)
        await fail(client, user["username"], 5)
        clock.advance(timedelta(minutes=16))
        await fail(client, user["username"], 1)
        assert (await attempt(client, user["username"])).status_code == 200

    async def test_lockout_is_audited(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        user = await register(client)
        await fail(client, user["username"], 5)
        assert_locked(await attempt(client, user["username"]))

        lockouts = await audit_rows(app, "auth.lockout")
        assert len(lockouts) == 1
        assert lockouts[0].actor == user["username"] and lockouts[0].ip == CLIENT_IP
        assert lockouts[0].result == "locked" and lockouts[0].details["by"] == "account+ip"

        logins = await audit_rows(app, "auth.login")
        assert [e.result for e in logins] == ["failure"] * 5 + ["locked"]
        refused = logins[-1]
        assert refused.actor_id == user["id"] and refused.ip == CLIENT_IP
        assert refused.details["by"] == "account+ip"
        assert all(PASSWORD not in str(e.details) for e in logins)

    async def test_admin_sees_the_lockout(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        user = await register(client)
        await fail(client, user["username"], 5)
        assert_locked(await attempt(client, user["username"]))
        assert_locked(await attempt(client, user["username"]))
        _, admin = await admin_headers(app, client)

        stats = await client.get("/api/admin/stats", headers=admin)
        assert stats.json()["logins_24h"] == {"success": 1, "failure": 5, "locked": 2}
        log = await client.get("/api/admin/audit-log?action=auth.lockout", headers=admin)
        assert log.status_code == 200 and log.json()["total"] == 1
        entry = log.json()["entries"][0]
        assert entry["actor"] == user["username"] and entry["ip"] == CLIENT_IP


class TestIpLockout:
    async def test_twenty_failures_across_usernames_lock_the_address(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user = await register(client)
        for i in range(20):
            await fail(client, f"guess_{i}", 1)
        # One failure per name locks no account, but the address is locked now.
        response = await attempt(client, user["username"])
        retry_after = assert_locked(response)
        assert retry_after >= LOCK_SECONDS - 60

        async with client_for(app, OTHER_IP) as elsewhere:
            other = await attempt(elsewhere, user["username"])
        assert other.status_code == 200
        assert other.json()["username"] == user["username"]

    async def test_nineteen_failures_do_not_lock_the_address(
        self, client: httpx.AsyncClient
    ) -> None:
        user = await register(client)
        for i in range(19):
            await fail(client, f"guess_{i}", 1)
        assert (await attempt(client, user["username"])).status_code == 200

    async def test_address_lock_expires(
        self, client: httpx.AsyncClient, clock: ManualClock
    ) -> None:
        user = await register(client)
        for i in range(20):
            await fail(client, f"guess_{i}", 1)
        assert_locked(await attempt(client, user["username"]))
        clock.advance(timedelta(minutes=16))
        response = await attempt(client, user["username"])
        assert response.status_code == 200
        assert (await me(client, response))["username"] == user["username"]

    async def test_address_lockout_is_audited(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user = await register(client)
        for i in range(20):
            await fail(client, f"guess_{i}", 1)
        assert_locked(await attempt(client, user["username"]))

        lockouts = await audit_rows(app, "auth.lockout")
        assert len(lockouts) == 1
        assert lockouts[0].ip == CLIENT_IP and lockouts[0].result == "locked"
        assert lockouts[0].details["by"] == "ip"

        refused = (await audit_rows(app, "auth.login"))[-1]
        assert refused.result == "locked" and refused.actor_id == user["id"]
        assert refused.ip == CLIENT_IP and refused.details["by"] == "ip"


class TestForwardedFor:
    """``X-Forwarded-For`` names the client only when a trusted proxy sends it."""

    async def test_an_untrusted_peer_cannot_pick_its_address(
        self, client: httpx.AsyncClient
    ) -> None:
        victim = await register(client)
        for n in range(5):  # each claims another address: all are CLIENT_IP's
            forged = {"X-Forwarded-For": f"192.0.2.{n + 1}"}
            body = {"username": victim["username"], "password": WRONG}
            assert (await client.post("/api/login", json=body, headers=forged)).status_code == 401
        assert_locked(await attempt(client, victim["username"]))

    async def test_a_trusted_proxy_names_the_client(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        victim = await register(client)
        async with client_for(app, "127.0.0.1") as proxy:
            attacker = {"X-Forwarded-For": "192.0.2.66"}
            for _ in range(5):
                body = {"username": victim["username"], "password": WRONG}
                response = await proxy.post("/api/login", json=body, headers=attacker)
                assert response.status_code == 401
            locked = await proxy.post(
                "/api/login",
                json={"username": victim["username"], "password": PASSWORD},
                headers=attacker,
            )
            assert_locked(locked)
            owner = {"X-Forwarded-For": OTHER_IP}
            body = {"username": victim["username"], "password": PASSWORD}
            assert (await proxy.post("/api/login", json=body, headers=owner)).status_code == 200
        entries = await audit_rows(app, "auth.lockout")
        assert [e.ip for e in entries] == ["192.0.2.66"]
