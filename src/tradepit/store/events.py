"""The journal of private events: each user's events numbered 1, 2, 3 ... for resuming."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tradepit.store.base import Base
from tradepit.store.db import run, run_many
from tradepit.store.types import UTCDateTime


class UserEventRow(Base):
    """One private event as it was delivered, with its per-user sequence number."""

    __tablename__ = "user_events"
    __table_args__ = (UniqueConstraint("user_id", "seq", name="uq_user_events_user_id_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


async def last_seq(session: AsyncSession, user_id: int) -> int:
    """Return the user's newest sequence number (0 before their first event)."""
    found = await run(session, _LAST_SEQ, {"user_id": user_id})
    return int(found[0][0] or 0)


async def add(session: AsyncSession, rows: Sequence[dict[str, object]]) -> None:
    """Insert numbered events in one statement (executemany)."""
    await run_many(session, _NEW_EVENT, rows)


# Built once (see ``store.db.run``).
_LAST_SEQ = select(func.max(UserEventRow.seq)).where(UserEventRow.user_id == bindparam("user_id"))
_NEW_EVENT = insert(cast(Table, UserEventRow.__table__))


async def since(
    session: AsyncSession, user_id: int, after: int, limit: int
) -> Sequence[UserEventRow]:
    """Return the user's events numbered above ``after``, oldest first, at most ``limit``."""
    rows = await session.scalars(
        select(UserEventRow)
        .where(UserEventRow.user_id == user_id, UserEventRow.seq > after)
        .order_by(UserEventRow.seq)
        .limit(limit)
    )
    return rows.all()


async def prune(session: AsyncSession, before: datetime) -> None:
    """Forget events older than ``before``."""
    await session.execute(delete(UserEventRow).where(UserEventRow.created_at < before))
