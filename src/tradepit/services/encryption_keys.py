"""Key rotation: every sealed secret re-encrypted under the newest key, in one transaction.

``tradepit rotate-keys`` first adds a new key (the previous one stays for reading), then calls
``reseal``. Running servers read the key file before each use, so they decrypt and encrypt with
the new key as soon as it exists: no restart, no downtime.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import InvalidToken
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.domain.clock import Clock
from tradepit.store import audit
from tradepit.store import broker_accounts as account_store
from tradepit.store import kite as kite_store
from tradepit.store.broker_accounts import SECRET_FIELDS
from tradepit.store.crypto import SealBroken, Sealer
from tradepit.store.feeds import FeedCredential


def _rotate(sealer: Sealer, sealed: str | None, where: str) -> str | None:
    if not sealed:
        return sealed
    try:
        return sealer.rotate(sealed)
    except InvalidToken as exc:
        raise SealBroken(f"{where} cannot be decrypted with the configured keys") from exc


async def reseal(session: AsyncSession, sealer: Sealer, wall: Clock) -> dict[str, int]:
    """Re-encrypt every sealed value under the newest key; return how many per kind."""
    counts = {"broker_accounts": 0, "versions": 0, "feed_credentials": 0, "kite_apps": 0}
    for account in await account_store.all_sealed(session):
        for field in SECRET_FIELDS:
            name = f"{field}_sealed"
            setattr(account, name, _rotate(sealer, getattr(account, name), f"account {account.id}"))
        counts["broker_accounts"] += 1
    for version in await account_store.all_versions(session):
        snapshot: dict[str, Any] = dict(version.snapshot)
        for field in SECRET_FIELDS:
            name = f"{field}_sealed"
            snapshot[name] = _rotate(sealer, snapshot.get(name), f"version {version.id}")
        version.snapshot = snapshot
        counts["versions"] += 1
    for credential in await session.scalars(select(FeedCredential)):
        rotated = _rotate(sealer, credential.sealed, f"feed credential {credential.provider}")
        credential.sealed = rotated or credential.sealed
        counts["feed_credentials"] += 1
    for app in await kite_store.all_apps(session):
        rotated = _rotate(sealer, app.secret_sealed, f"Kite app {app.id}")
        app.secret_sealed = rotated or app.secret_sealed
        counts["kite_apps"] += 1
    audit.record(session, wall, action="keys.rotate", actor="cli", details=counts)
    return counts
