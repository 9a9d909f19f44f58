"""Broadcast orders (copy trading) and their queue: one target row per account."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

from tradepit.store.base import Base
from tradepit.store.broker_accounts import BrokerAccount
from tradepit.store.types import ExactDecimal, UTCDateTime
from tradepit.store.users import User

PENDING, SENT, EXECUTED, FAILED = "pending", "sent", "executed", "failed"


class Broadcast(Base):
    """An order a superadmin sent to many accounts (``kind`` open), or a partial close of
    one (``kind`` close, ``parent_id`` the opening broadcast). ``order`` is validated JSON."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    admin_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8), default="open")
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), index=True
    )
    symbol: Mapped[str] = mapped_column(String(40))
    side: Mapped[str] = mapped_column(String(4))
    order: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class BroadcastTarget(Base):
    """One account's share of a broadcast: pending → sent → executed | failed."""

    __tablename__ = "broadcast_targets"
    __table_args__ = (UniqueConstraint("broadcast_id", "account_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), index=True
    )
    target_user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("broker_accounts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    symbol: Mapped[str] = mapped_column(String(40))
    lots: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    #: On an opening target: the lots its close broadcasts have taken (queued, sent, executed,
    #: or failed and kept for a retry of that close); never more than ``lots`` (``take``).
    closed_lots: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    error_message: Mapped[str | None] = mapped_column(String(255))
    broker_order_id: Mapped[str | None] = mapped_column(String(64))
    executed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


async def due(session: AsyncSession, now: datetime, limit: int) -> list[int]:
    """Return the ids of pending targets whose time has come, oldest first."""
    stmt = (
        select(BroadcastTarget.id)
        .where(BroadcastTarget.status == PENDING, BroadcastTarget.next_attempt_at <= now)
        .order_by(BroadcastTarget.id)
        .limit(limit)
    )
    return list(await session.scalars(stmt))


async def claim(session: AsyncSession, target_id: int, now: datetime) -> BroadcastTarget | None:
    """Move a pending target to sent (one worker wins); return it, or None if taken."""
    result = await session.execute(
        update(BroadcastTarget)
        .where(BroadcastTarget.id == target_id, BroadcastTarget.status == PENDING)
        .values(status=SENT, attempts=BroadcastTarget.attempts + 1, updated_at=now)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    return await session.get(BroadcastTarget, target_id, populate_existing=True)


async def take(session: AsyncSession, target: BroadcastTarget, wanted: Decimal) -> Decimal:
    """Add up to ``wanted`` lots to what closes have taken of the opening ``target``, never
    past its ``lots``; return the lots taken (0 when nothing is left).

    A compare-and-set on ``closed_lots`` in the database (a conditional UPDATE of the value
    just read; on no match, read again), so concurrent closes in any number of processes never
    take more than was opened, on SQLite and PostgreSQL alike. The updated row stays locked
    until the transaction ends; a taker blocked on it then finds the value changed and reads
    the new one."""
    while True:
        read = select(BroadcastTarget.lots, BroadcastTarget.closed_lots).where(
            BroadcastTarget.id == target.id
        )
        lots, closed = (await session.execute(read)).one()
        amount = min(wanted, (lots or Decimal(0)) - closed)
        if amount <= 0:
            set_committed_value(target, "closed_lots", closed)
            return Decimal(0)
        result = await session.execute(
            update(BroadcastTarget)
            .where(BroadcastTarget.id == target.id, BroadcastTarget.closed_lots == closed)
            .values(closed_lots=closed + amount)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            set_committed_value(target, "closed_lots", closed + amount)
            return amount


async def stale_sent(session: AsyncSession, before: datetime) -> list[BroadcastTarget]:
    """Return targets left in ``sent`` since before ``before`` (a worker died mid-send)."""
    stmt = select(BroadcastTarget).where(
        BroadcastTarget.status == SENT, BroadcastTarget.updated_at < before
    )
    return list(await session.scalars(stmt))


async def targets_of(session: AsyncSession, broadcast_ids: list[int]) -> list[BroadcastTarget]:
    """Return the targets of the broadcasts, by id."""
    stmt = (
        select(BroadcastTarget)
        .where(BroadcastTarget.broadcast_id.in_(broadcast_ids))
        .order_by(BroadcastTarget.id)
    )
    return list(await session.scalars(stmt))


async def targets_of_user(session: AsyncSession, user_id: int, limit: int) -> list[BroadcastTarget]:
    """Return a user's targets, newest first."""
    stmt = (
        select(BroadcastTarget)
        .where(BroadcastTarget.target_user_id == user_id)
        .order_by(BroadcastTarget.id.desc())
        .limit(limit)
    )
    return list(await session.scalars(stmt))


async def recent(session: AsyncSession, limit: int) -> list[Broadcast]:
    """Return the newest broadcasts."""
    stmt = select(Broadcast).order_by(Broadcast.id.desc()).limit(limit)
    return list(await session.scalars(stmt))


async def by_ids(session: AsyncSession, ids: list[int]) -> list[Broadcast]:
    """Return the broadcasts with these ids, newest first."""
    stmt = select(Broadcast).where(Broadcast.id.in_(ids)).order_by(Broadcast.id.desc())
    return list(await session.scalars(stmt))


async def counts(session: AsyncSession, broadcast_id: int) -> dict[str, int]:
    """Return how many targets of the broadcast are in each state."""
    stmt = (
        select(BroadcastTarget.status, func.count())
        .where(BroadcastTarget.broadcast_id == broadcast_id)
        .group_by(BroadcastTarget.status)
    )
    return {status: int(n) for status, n in await session.execute(stmt)}


async def statistics(
    session: AsyncSession, since: datetime, user_id: int | None
) -> list[tuple[str, int, datetime]]:
    """Return, by state, how many targets the broadcasts created since ``since`` have (only
    ``user_id``'s targets unless None) and when the newest of those broadcasts was created."""
    stmt = (
        select(BroadcastTarget.status, func.count(), func.max(Broadcast.created_at))
        .join(Broadcast, Broadcast.id == BroadcastTarget.broadcast_id)
        .where(Broadcast.created_at >= since)
        .group_by(BroadcastTarget.status)
        .order_by(BroadcastTarget.status)
    )
    if user_id is not None:
        stmt = stmt.where(BroadcastTarget.target_user_id == user_id)
    return [(status, int(n), latest) for status, n, latest in await session.execute(stmt)]


async def reached_users(session: AsyncSession, user_id: int | None) -> list[User]:
    """Return the users a broadcast to every active account reaches, the owners of active,
    live linked accounts (only ``user_id`` unless None), by username."""
    owners = select(BrokerAccount.user_id).where(
        BrokerAccount.deleted_at.is_(None), BrokerAccount.is_active.is_(True)
    )
    stmt = select(User).where(User.id.in_(owners)).order_by(User.username_key)
    if user_id is not None:
        stmt = stmt.where(User.id == user_id)
    return list(await session.scalars(stmt))


class SendRequest(Base):
    """A ``send_orders`` request made with an Idempotency-Key, and the answer it got: a retry
    with the same key gets that answer again instead of sending the orders twice."""

    __tablename__ = "send_requests"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


async def send_request(session: AsyncSession, user_id: int, key: str) -> SendRequest | None:
    """Return the user's request made with Idempotency-Key ``key``."""
    stmt = select(SendRequest).where(SendRequest.user_id == user_id, SendRequest.key == key)
    return (await session.scalars(stmt)).first()
