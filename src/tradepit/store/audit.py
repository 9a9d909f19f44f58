"""The audit log: who did what, when, from where, with what result."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tradepit.domain.clock import Clock
from tradepit.store.base import Base
from tradepit.store.types import UTCDateTime


class AuditEntry(Base):
    """One audited action. Never holds a secret."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor: Mapped[str | None] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(128))
    ip: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(16))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def record(
    session: AsyncSession,
    wall: Clock,
    *,
    action: str,
    result: str = "ok",
    actor_id: int | None = None,
    actor: str | None = None,
    target: str | None = None,
    ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the session's transaction, stamped with wall time (``wall``: never
    the simulated market clock)."""
    entry = AuditEntry(
        at=wall.now(),
        action=action,
        result=result,
        actor_id=actor_id,
        actor=actor,
        target=target,
        ip=ip,
        details=details or {},
    )
    session.add(entry)
    return entry


async def page(
    session: AsyncSession, *, action: str | None, actor_id: int | None, offset: int, limit: int
) -> tuple[list[AuditEntry], int]:
    """Return one page of entries, newest first, and the total matching."""
    stmt = select(AuditEntry)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if actor_id is not None:
        stmt = stmt.where(AuditEntry.actor_id == actor_id)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = await session.scalars(stmt.order_by(AuditEntry.id.desc()).offset(offset).limit(limit))
    return list(rows), total
