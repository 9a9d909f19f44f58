"""``tradepit rotate-keys``: every sealed secret re-encrypted under a new key while a server
keeps running (it picks the new key up without a restart)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from fastapi import FastAPI
from sqlalchemy import select
from typer.testing import CliRunner, Result

from tests.api.test_broker_accounts import MT5, PASSWORD, FakeMt5
from tests.conftest import client_for, make_settings
from tests.factories import user_with_token
from tradepit.app import create_app
from tradepit.cli import cli
from tradepit.services.brokers.mt5 import Mt5Broker
from tradepit.store.audit import AuditEntry
from tradepit.store.broker_accounts import BrokerAccount, BrokerAccountVersion


@pytest.fixture
async def running(tmp_path: Path, db: str) -> AsyncIterator[tuple[FastAPI, Path]]:
    """Yield an app (the running server) and its data directory."""
    data = tmp_path / "data"
    app = create_app(make_settings(data, db))
    app.state.wiring.brokers.factories["mt5"] = Mt5Broker(FakeMt5)
    yield app, data
    await app.state.wiring.engine.dispose()


def rotate(data: Path, db: str) -> Result:
    """Run ``tradepit rotate-keys`` as an operator would, beside the server."""
    env = {"TRADEPIT_DATA_DIR": str(data), "TRADEPIT_DATABASE_URL": db}
    return CliRunner().invoke(cli, ["rotate-keys"], env=env)


async def sealed(app: FastAPI) -> list[str]:
    """Return every stored ciphertext: accounts and their versions."""
    async with app.state.wiring.sessionmaker() as session:
        accounts = list(await session.scalars(select(BrokerAccount)))
        versions = list(await session.scalars(select(BrokerAccountVersion)))
    return [a.password_sealed for a in accounts if a.password_sealed] + [
        v.snapshot["password_sealed"] for v in versions if v.snapshot.get("password_sealed")
    ]


async def test_rotate_keys_reseals_everything_without_a_restart(
    running: tuple[FastAPI, Path], db: str
) -> None:
    app, data = running
    async with client_for(app) as client:
        _, headers = await user_with_token(client)
        account = (await client.post("/api/accounts", json=MT5, headers=headers)).json()
        old_key = (data / "secrets" / "fernet_key").read_text().strip()
        before = await sealed(app)

        result = await asyncio.to_thread(rotate, data, db)
        assert result.exit_code == 0, result.output
        assert "re-encrypted 1 broker_accounts, 1 versions" in result.stdout
        new_key, kept = (data / "secrets" / "fernet_keys").read_text().split()
        assert kept == old_key
        after = await sealed(app)
        assert len(after) == len(before) == 2
        for ciphertext in after:
            assert PASSWORD in Fernet(new_key.encode()).decrypt(ciphertext.encode()).decode()

        # The running server opens the resealed secret and seals new ones with the new key.
        connected = await client.post(f"/api/accounts/{account['id']}/connect", headers=headers)
        assert connected.json()["status"] == "connected"
        await client.post("/api/accounts", json=MT5, headers=headers)
        newest = (await sealed(app))[1]
        Fernet(new_key.encode()).decrypt(newest.encode())
        with pytest.raises(InvalidToken):
            Fernet(old_key.encode()).decrypt(newest.encode())
        assert PASSWORD not in result.stdout

    async with app.state.wiring.sessionmaker() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "keys.rotate"))
    assert entry is not None
