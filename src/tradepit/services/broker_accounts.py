"""Linked broker accounts: create, read, change, delete, connect; secrets sealed per row.

Every change keeps a version of the row (``store.broker_accounts``) and is audited without
its secrets; every change is published on the ``accounts`` topic once it commits. A user sees
and changes their own accounts; an admin (the desk admin) sees and changes every one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.bus import Bus
from tradepit.domain.accounts import Role
from tradepit.domain.clock import Clock
from tradepit.domain.errors import NotFound
from tradepit.domain.fees import FeeSchedule
from tradepit.domain.money import plain
from tradepit.market.data import MarketData
from tradepit.schemas.broker_accounts import (
    AccountCreate,
    AccountInfoRead,
    AccountRead,
    AccountUpdate,
    ConnectRead,
)
from tradepit.services import auth, row_locks
from tradepit.services.brokers import BrokerRefused, Brokers, Credentials, mask, scrub
from tradepit.services.brokers.ccxt import CcxtBroker
from tradepit.services.brokers.kite import KiteBroker
from tradepit.services.brokers.mt5 import Mt5Broker
from tradepit.services.brokers.paper import PaperBroker
from tradepit.services.callers import Caller
from tradepit.services.orders import Book
from tradepit.store import audit
from tradepit.store import broker_accounts as store
from tradepit.store import users as user_store
from tradepit.store.broker_accounts import SECRET_FIELDS, BrokerAccount
from tradepit.store.crypto import SealBroken, Sealer
from tradepit.store.db import after_commit

#: The bus topic of the shared accounts table (row changes, locks).
TOPIC = "accounts"
#: Longest wait for a broker to answer a connect.
CONNECT_TIMEOUT = 15.0


class AccountNotFound(NotFound):
    """No account with this id that the caller may see."""

    code = "ACCOUNT_NOT_FOUND"


def brokers(
    clock: Clock, market: MarketData, fees: FeeSchedule, book: Book, kite_root: str | None = None
) -> Brokers:
    """Return the adapters of every broker kind."""
    return Brokers(
        {
            "paper": PaperBroker(clock, market, fees, book),
            "kite": KiteBroker(market, kite_root),
            "ccxt": CcxtBroker(),
            "mt5": Mt5Broker(),
        }
    )


def sees_all(caller: Caller) -> bool:
    """Tell whether the caller is a desk admin (sees every account)."""
    return caller.role.includes(Role.ADMIN)


def read(account: BrokerAccount, owner: str) -> AccountRead:
    """Return the account as answers show it: secrets masked."""
    masks = account.masks or {}
    return AccountRead(
        id=account.id,
        user_id=account.user_id,
        user=owner,
        account_name=account.account_name,
        broker=account.broker,
        login=account.login,
        server=account.server,
        account_type=account.account_type,
        is_active=account.is_active,
        symbol_map=account.symbol_map or {},
        password=masks.get("password"),
        api_key=masks.get("api_key"),
        api_secret=masks.get("api_secret"),
        pnl=account.pnl,
        margin=account.margin,
        max_risk=account.max_risk,
        status=account.status,
        status_detail=account.status_detail,
        checked_at=account.checked_at,
        version=account.version,
        created_at=account.created_at,
        updated_at=account.updated_at,
    )


def seal_owner(account_id: int, field: str) -> str:
    """Return the owner a secret is sealed for: its row and field, so a ciphertext copied to
    another row or field is refused."""
    return f"broker_account:{account_id}:{field}"


def set_secret(sealer: Sealer, account: BrokerAccount, field: str, value: str | None) -> None:
    """Seal ``value`` into the account's ``field`` (an empty value removes the secret)."""
    masks = dict(account.masks or {})
    if value:
        setattr(account, f"{field}_sealed", sealer.seal(seal_owner(account.id, field), value))
        masks[field] = mask(value)
    else:
        setattr(account, f"{field}_sealed", None)
        masks.pop(field, None)
    account.masks = masks


def credentials(sealer: Sealer, account: BrokerAccount) -> Credentials:
    """Return the account's credentials with its secrets opened."""
    opened: dict[str, str | None] = {}
    for field in SECRET_FIELDS:
        sealed = getattr(account, f"{field}_sealed")
        try:
            opened[field] = sealer.open(seal_owner(account.id, field), sealed) if sealed else None
        except SealBroken as exc:
            raise BrokerRefused(f"the stored {field} cannot be decrypted: {exc}") from exc
    return Credentials(
        account_id=account.id,
        owner_id=account.user_id,
        broker=account.broker,
        login=account.login,
        server=account.server,
        account_type=account.account_type,
        **opened,
    )


def publish(session: AsyncSession, bus: Bus, action: str, row: AccountRead, caller: Caller) -> None:
    """Publish ``csv_update`` with the row as it now is and who changed it, once the
    transaction commits."""
    event = {"type": "csv_update", "action": action, "row": row.model_dump(mode="json"),
             "source": caller.user.username, "source_id": caller.user.id}  # fmt: skip
    after_commit(session, lambda: bus.publish(TOPIC, event))


def _audit(
    session: AsyncSession, wall: Clock, caller: Caller, action: str, account: BrokerAccount,
    result: str = "ok", **details: Any,
) -> None:  # fmt: skip
    audit.record(
        session,
        wall,
        action=action,
        result=result,
        actor_id=caller.user.id,
        actor=caller.user.username,
        target=f"broker_account:{account.id}",
        ip=caller.ip,
        details={"account_id": account.id, "owner_id": account.user_id, **details},
    )


async def owned(
    session: AsyncSession, caller: Caller, account_id: int, *, deleted: bool = False
) -> BrokerAccount:
    """Return the account if the caller may see it; 404 otherwise (another user's too)."""
    account = await store.get(session, account_id, deleted=deleted, lock=True)
    if account is None or not (sees_all(caller) or account.user_id == caller.user.id):
        raise AccountNotFound(f"no account {account_id}")
    return account


async def own(session: AsyncSession, caller: Caller, account_id: int) -> BrokerAccount:
    """Return the account if it is the caller's own; 404 otherwise, whatever the caller's role.

    Acting with an account's credentials (connecting, sending orders) is its owner's alone: a
    desk admin edits other users' rows but never trades on them, and reaching other users'
    accounts is what a superadmin broadcast is for.
    """
    account = await store.get(session, account_id, lock=True)
    if account is None or account.user_id != caller.user.id:
        raise AccountNotFound(f"no account {account_id} of yours")
    return account


async def owner_name(session: AsyncSession, caller: Caller, account: BrokerAccount) -> str:
    """Return the username of the account's owner."""
    if account.user_id == caller.user.id:
        return caller.user.username
    owner = await user_store.get_user(session, account.user_id)
    return owner.username if owner is not None else str(account.user_id)


async def list_accounts(session: AsyncSession, caller: Caller) -> list[AccountRead]:
    """Return the accounts the caller may see, oldest first."""
    rows = await store.visible(session, None if sees_all(caller) else caller.user.id)
    return [read(account, owner) for account, owner in rows]


async def create(
    session: AsyncSession,
    wall: Clock,
    sealer: Sealer,
    bus: Bus,
    caller: Caller,
    body: AccountCreate,
    owner_id: int | None = None,
) -> AccountRead:
    """Link a broker account to the caller (or, for an admin, to ``owner_id``)."""
    now = wall.now()
    account = BrokerAccount(
        user_id=owner_id or caller.user.id,
        **body.model_dump(exclude={"password", "api_key", "api_secret"}),
        masks={},
        status="new",
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(account)
    await session.flush()
    for field in SECRET_FIELDS:
        set_secret(sealer, account, field, getattr(body, field))
    store.add_version(session, account, "created", caller.user.id, now)
    _audit(session, wall, caller, "account.create", account, broker=account.broker)
    row = read(account, await owner_name(session, caller, account))
    publish(session, bus, "created", row, caller)
    return row


async def update(
    session: AsyncSession,
    wall: Clock,
    sealer: Sealer,
    bus: Bus,
    caller: Caller,
    account_id: int,
    body: AccountUpdate,
) -> AccountRead:
    """Change the given fields of an account; keep the previous version."""
    account = await owned(session, caller, account_id)
    await row_locks.check_editable(session, wall, caller, account)
    return await apply_update(session, wall, sealer, bus, caller, account, body)


async def apply_update(
    session: AsyncSession,
    wall: Clock,
    sealer: Sealer,
    bus: Bus,
    caller: Caller,
    account: BrokerAccount,
    body: AccountUpdate,
) -> AccountRead:
    """Change ``account`` as ``body`` says (the caller may see it)."""
    changes = body.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if field in SECRET_FIELDS:
            set_secret(sealer, account, field, value)
        elif value is not None:
            setattr(account, field, value)
    now = wall.now()
    account.version += 1
    account.updated_at = now
    store.add_version(session, account, "updated", caller.user.id, now)
    _audit(session, wall, caller, "account.update", account, fields=sorted(changes))
    row = read(account, await owner_name(session, caller, account))
    publish(session, bus, "updated", row, caller)
    return row


async def delete(
    session: AsyncSession, wall: Clock, bus: Bus, caller: Caller, account_id: int
) -> None:
    """Delete an account (its versions stay, so it can be restored)."""
    account = await owned(session, caller, account_id)
    await row_locks.check_editable(session, wall, caller, account)
    await remove(session, wall, bus, caller, account)


async def remove(
    session: AsyncSession, wall: Clock, bus: Bus, caller: Caller, account: BrokerAccount
) -> None:
    """Mark ``account`` deleted and keep that as a version."""
    now = wall.now()
    account.deleted_at = now
    account.version += 1
    account.updated_at = now
    store.add_version(session, account, "deleted", caller.user.id, now)
    _audit(session, wall, caller, "account.delete", account)
    row = read(account, await owner_name(session, caller, account))
    publish(session, bus, "deleted", row, caller)


async def connect(
    session: AsyncSession,
    wall: Clock,
    sealer: Sealer,
    registry: Brokers,
    policy: auth.AuthPolicy,
    caller: Caller,
    account_id: int,
) -> ConnectRead:
    """Check the account's credentials through its broker; record and report the outcome.

    The answer carries a bearer token of the caller's login (mt5-copier's page trades with
    it): naming this account when it connected, no account when it failed."""
    account = await own(session, caller, account_id)
    info = None
    secrets: list[str] = []
    try:
        opened = credentials(sealer, account)
        secrets = opened.secrets()
        async with asyncio.timeout(CONNECT_TIMEOUT):
            info = await registry.open(opened, session).connect()
        status, message = "connected", f"connected: {info.currency} {plain(info.balance)}"
    except BrokerRefused as exc:
        status, message = "failed", scrub(exc.reason, secrets)
    except TimeoutError:
        status, message = "failed", f"the broker did not answer within {CONNECT_TIMEOUT:g} s"
    account.status = status
    account.status_detail = message[:255]
    account.checked_at = wall.now()
    result = "ok" if status == "connected" else "failed"
    _audit(session, wall, caller, "account.connect", account, result, broker=account.broker)
    connected = status == "connected"
    return ConnectRead(
        success=connected,
        id=account.id,
        status=status,
        message=message,
        account=AccountInfoRead(**vars(info)) if info is not None else None,
        account_id=account.id,
        token=auth.account_token(policy, caller, wall.now(), account.id if connected else None),
    )
