"""Row locks of the shared accounts table, their cooldowns, and the stored random numbers."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Integer, String, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tradepit.store.base import Base
from tradepit.store.types import ExactDecimal, UTCDateTime


class RowLock(Base):
    """Who edits an account row, until when (renewed by the holder's activity)."""

    __tablename__ = "row_locks"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("broker_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(32))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class LockCooldown(Base):
    """A user who released a row may lock it again only after ``until``."""

    __tablename__ = "row_lock_cooldowns"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("broker_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    until: Mapped[datetime] = mapped_column(UTCDateTime())


class RandomNumber(Base):
    """A value of csv-accounts' random-number stream."""

    __tablename__ = "random_numbers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    value: Mapped[Decimal] = mapped_column(ExactDecimal())


async def holder(session: AsyncSession, account_id: int, now: datetime) -> RowLock | None:
    """Return the live lock of the row, if any."""
    stmt = select(RowLock).where(RowLock.account_id == account_id, RowLock.expires_at > now)
    return (await session.scalars(stmt)).first()


async def take(
    session: AsyncSession, account_id: int, user_id: int, username: str, now: datetime,
    until: datetime,
) -> bool:  # fmt: skip
    """Lock the row for the user (or renew their lock) unless someone else holds it; return
    whether the user holds it now. Two workers racing get one winner."""
    renewed = await session.execute(
        update(RowLock)
        .where(
            RowLock.account_id == account_id,
            (RowLock.user_id == user_id) | (RowLock.expires_at <= now),
        )
        .values(user_id=user_id, username=username, acquired_at=now, expires_at=until)
    )
    if renewed.rowcount:  # type: ignore[attr-defined]
        return True
    try:
        async with session.begin_nested():
            session.add(RowLock(account_id=account_id, user_id=user_id, username=username,
                                acquired_at=now, expires_at=until))  # fmt: skip
    except IntegrityError:
        return False
    return True


async def touch(session: AsyncSession, account_id: int, user_id: int, until: datetime) -> None:
    """Renew the user's lock of the row (activity)."""
    await session.execute(
        update(RowLock)
        .where(RowLock.account_id == account_id, RowLock.user_id == user_id)
        .values(expires_at=until)
    )


async def release(session: AsyncSession, account_id: int, user_id: int) -> bool:
    """Drop the user's lock of the row; return whether there was one."""
    result = await session.execute(
        delete(RowLock).where(RowLock.account_id == account_id, RowLock.user_id == user_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release_all(
    session: AsyncSession, user_id: int, account_ids: Collection[int] | None = None
) -> int:
    """Drop the user's locks (of ``account_ids`` only, when given); return how many."""
    stmt = delete(RowLock).where(RowLock.user_id == user_id)
    if account_ids is not None:
        stmt = stmt.where(RowLock.account_id.in_(list(account_ids)))
    result = await session.execute(stmt)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def shorten(
    session: AsyncSession, account_id: int, user_id: int, acquired_at: datetime, until: datetime
) -> bool:
    """Make the user's lock of the row end at ``until`` (if later), unless it was taken again
    since ``acquired_at``; return whether it changed."""
    result = await session.execute(
        update(RowLock)
        .where(
            RowLock.account_id == account_id,
            RowLock.user_id == user_id,
            RowLock.acquired_at == acquired_at,
            RowLock.expires_at > until,
        )
        .values(expires_at=until)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def cooldown(session: AsyncSession, account_id: int, user_id: int) -> LockCooldown | None:
    """Return the user's cooldown on the row."""
    return await session.get(LockCooldown, (account_id, user_id))


async def start_cooldown(
    session: AsyncSession, account_id: int, user_id: int, until: datetime
) -> None:
    """Refuse the user the row until ``until``."""
    found = await cooldown(session, account_id, user_id)
    if found is None:
        session.add(LockCooldown(account_id=account_id, user_id=user_id, until=until))
    else:
        found.until = until


async def cooldowns(session: AsyncSession, user_id: int, now: datetime) -> list[LockCooldown]:
    """Return the user's running cooldowns."""
    stmt = select(LockCooldown).where(LockCooldown.user_id == user_id, LockCooldown.until > now)
    return list(await session.scalars(stmt.order_by(LockCooldown.account_id)))


async def live(session: AsyncSession, now: datetime) -> list[RowLock]:
    """Return every live lock."""
    stmt = select(RowLock).where(RowLock.expires_at > now).order_by(RowLock.account_id)
    return list(await session.scalars(stmt))


async def expire(session: AsyncSession, now: datetime) -> int:
    """Delete expired locks and cooldowns; return how many locks expired."""
    result = await session.execute(delete(RowLock).where(RowLock.expires_at <= now))
    await session.execute(delete(LockCooldown).where(LockCooldown.until <= now))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def prune_numbers(session: AsyncSession, before: datetime) -> None:
    """Forget random numbers older than ``before``."""
    await session.execute(delete(RandomNumber).where(RandomNumber.timestamp < before))
