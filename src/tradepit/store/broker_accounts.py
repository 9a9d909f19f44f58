"""Broker accounts linked to users (the shared accounts table) and every version of each row."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tradepit.store.base import Base
from tradepit.store.types import ExactDecimal, UTCDateTime
from tradepit.store.users import User

#: The sealed columns: Fernet ciphertexts, each bound to its row and field.
SECRET_FIELDS = ("password", "api_key", "api_secret")


class BrokerAccount(Base):
    """A broker account of a user. Secrets are sealed; ``masks`` holds what reads show."""

    __tablename__ = "broker_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    account_name: Mapped[str] = mapped_column(String(100))
    broker: Mapped[str] = mapped_column(String(40))
    login: Mapped[str | None] = mapped_column(String(64))
    server: Mapped[str | None] = mapped_column(String(100))
    account_type: Mapped[str] = mapped_column(String(8), default="demo")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_sealed: Mapped[str | None] = mapped_column(Text)
    api_key_sealed: Mapped[str | None] = mapped_column(Text)
    api_secret_sealed: Mapped[str | None] = mapped_column(Text)
    masks: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    #: Our symbol → this account's symbol at its broker (``EURUSD`` → ``EURUSD.vip``).
    symbol_map: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    pnl: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))
    margin: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))
    max_risk: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))
    status: Mapped[str] = mapped_column(String(16), default="new")
    status_detail: Mapped[str | None] = mapped_column(String(255))
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class BrokerAccountVersion(Base):
    """One version of an account row as it was after a change (secrets stay sealed)."""

    __tablename__ = "broker_account_versions"
    __table_args__ = (UniqueConstraint("account_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("broker_accounts.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    change: Mapped[str] = mapped_column(String(16))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    changed_by: Mapped[int | None] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


#: The columns a version keeps and a restore puts back.
VERSIONED = (
    "account_name", "broker", "login", "server", "account_type", "is_active", "password_sealed",
    "api_key_sealed", "api_secret_sealed", "masks", "symbol_map", "pnl", "margin", "max_risk",
    "deleted_at",
)  # fmt: skip


def snapshot(account: BrokerAccount) -> dict[str, Any]:
    """Return the versioned columns of ``account`` as JSON values."""
    values: dict[str, Any] = {}
    for name in VERSIONED:
        value = getattr(account, name)
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        values[name] = value
    return values


def apply_snapshot(account: BrokerAccount, values: dict[str, Any]) -> None:
    """Put the versioned columns of ``values`` back on ``account``."""
    for name in VERSIONED:
        value = values.get(name)
        if name in ("pnl", "margin", "max_risk"):
            value = Decimal(value or 0)
        elif name in ("masks", "symbol_map"):
            value = value or {}
        elif name == "deleted_at" and value is not None:
            value = datetime.fromisoformat(value)
        setattr(account, name, value)


def add_version(
    session: AsyncSession, account: BrokerAccount, change: str, by: int | None, at: datetime
) -> None:
    """Keep the row as it now is as its current version."""
    session.add(
        BrokerAccountVersion(
            account_id=account.id,
            version=account.version,
            change=change,
            snapshot=snapshot(account),
            changed_by=by,
            changed_at=at,
        )
    )


async def visible(
    session: AsyncSession, user_id: int | None, *, lock: bool = False
) -> list[tuple[BrokerAccount, str]]:
    """Return the live accounts of ``user_id`` (None: everyone's) with their owners' names,
    oldest first: the order of the shared table's indexes."""
    stmt = (
        select(BrokerAccount, User.username)
        .join(User, User.id == BrokerAccount.user_id)
        .where(BrokerAccount.deleted_at.is_(None))
        .order_by(BrokerAccount.id)
    )
    if user_id is not None:
        stmt = stmt.where(BrokerAccount.user_id == user_id)
    if lock:
        stmt = stmt.with_for_update(of=BrokerAccount)
    return [(account, name) for account, name in await session.execute(stmt)]


async def get(
    session: AsyncSession, account_id: int, *, deleted: bool = False, lock: bool = False
) -> BrokerAccount | None:
    """Return the account ``account_id`` (a deleted one only when ``deleted``)."""
    stmt = select(BrokerAccount).where(BrokerAccount.id == account_id)
    if not deleted:
        stmt = stmt.where(BrokerAccount.deleted_at.is_(None))
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def version(
    session: AsyncSession, account_id: int, number: int
) -> BrokerAccountVersion | None:
    """Return version ``number`` of the account."""
    stmt = select(BrokerAccountVersion).where(
        BrokerAccountVersion.account_id == account_id, BrokerAccountVersion.version == number
    )
    return (await session.scalars(stmt)).first()


async def versions(session: AsyncSession, account_id: int) -> list[BrokerAccountVersion]:
    """Return every version of the account, oldest first."""
    stmt = (
        select(BrokerAccountVersion)
        .where(BrokerAccountVersion.account_id == account_id)
        .order_by(BrokerAccountVersion.version)
    )
    return list(await session.scalars(stmt))


async def all_sealed(session: AsyncSession) -> list[BrokerAccount]:
    """Return every account, deleted ones too (key rotation re-encrypts them all)."""
    return list(await session.scalars(select(BrokerAccount).order_by(BrokerAccount.id)))


async def all_versions(session: AsyncSession) -> list[BrokerAccountVersion]:
    """Return every version of every account."""
    return list(await session.scalars(select(BrokerAccountVersion)))


async def active(
    session: AsyncSession, user_ids: list[int] | None, account_ids: list[int] | None
) -> list[BrokerAccount]:
    """Return the active, live accounts of ``user_ids`` or with ``account_ids`` (None: any)."""
    stmt = select(BrokerAccount).where(
        BrokerAccount.deleted_at.is_(None), BrokerAccount.is_active.is_(True)
    )
    if user_ids is not None:
        stmt = stmt.where(BrokerAccount.user_id.in_(user_ids))
    if account_ids is not None:
        stmt = stmt.where(BrokerAccount.id.in_(account_ids))
    return list(await session.scalars(stmt.order_by(BrokerAccount.id)))
