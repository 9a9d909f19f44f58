"""Row locks across workers and restarts: ``tradepit serve`` processes on one database and
one Redis bus."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from bench.server import TRADEPIT, serving
from websockets.asyncio.client import connect

from tests.conftest import REDIS_URL, make_settings, skip_or_fail
from tests.factories import PASSWORD, login, make_user, unique_name
from tests.realtime.conftest import receive_until
from tests.realtime.test_accounts_ws import send
from tradepit.app import create_app
from tradepit.domain.accounts import Role

pytestmark = pytest.mark.redis


async def people(data: Path, db: str) -> tuple[str, str]:
    """Create a user and a desk admin in ``db``; return their names."""
    probe = create_app(make_settings(data / "probe", db))
    try:
        names = unique_name("owner"), unique_name("desk")
        await make_user(probe, Role.USER, names[0])
        await make_user(probe, Role.ADMIN, names[1])
        return names
    finally:
        await probe.state.wiring.engine.dispose()


@pytest.mark.skipif(not TRADEPIT.exists(), reason=f"{TRADEPIT} is not installed")
async def test_locks_hold_across_workers_and_a_restart(tmp_path: Path, db: str) -> None:
    if not REDIS_URL:
        skip_or_fail("Redis tests need TRADEPIT_TEST_REDIS_URL (CI sets it)")
    env = {"TRADEPIT_REDIS_URL": REDIS_URL or "", "TRADEPIT_DATABASE_URL": db,
           "TRADEPIT_REDIS_PREFIX": f"test-{uuid.uuid4().hex[:8]}"}  # fmt: skip
    data = tmp_path / "data"
    owner, desk = await people(tmp_path, db)
    async with serving(data, "second", env) as second:
        async with httpx.AsyncClient(base_url=second.base_url, timeout=10) as http:
            alice = await login(http, owner, PASSWORD)
            admin = await login(http, desk, PASSWORD)
            headers = {"Authorization": f"Bearer {alice}"}
            added = await http.post("/api/add_csv", json={"broker": "paper"}, headers=headers)
            assert added.status_code == 201
        b_url = f"ws://127.0.0.1:{second.port}/api/ws?token={admin}"
        async with serving(data, "first", env) as first:
            a_url = f"ws://127.0.0.1:{first.port}/api/ws?token={alice}"
            async with connect(a_url) as a, connect(b_url) as b:
                await receive_until(a, "lock_status")
                await receive_until(b, "lock_status")
                await send(a, {"type": "lock", "index": 0})
                seen, _ = await receive_until(b, "lock_status", within=10)
                assert [lock["user"] for lock in seen["locks"]] == [owner]
                await send(b, {"type": "lock", "index": 0})
                refused, _ = await receive_until(b, "error")
                assert refused["code"] == "ROW_LOCKED"
                assert owner in refused["message"]
    # Every worker is gone; one started afresh still knows the lock.
    async with (
        serving(data, "third", env) as third,
        connect(f"ws://127.0.0.1:{third.port}/api/ws?token={admin}") as c,
    ):
        status, _ = await receive_until(c, "lock_status")
    assert [lock["user"] for lock in status["locks"]] == [owner]
