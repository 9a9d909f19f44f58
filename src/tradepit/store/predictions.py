"""Fixed-time bets (okx-bets): model and queries."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tradepit.store.base import Base
from tradepit.store.types import ExactDecimal, UTCDateTime

ACTIVE = "active"


class Bet(Base):
    """A stake on a price rising (long) or falling (short) by its expiry."""

    __tablename__ = "bets"
    __table_args__ = (
        Index("ix_bets_status_expires_at", "status", "expires_at"),
        # One bet per client id and user, whatever the races (``by_client_id``).
        UniqueConstraint("user_id", "client_bet_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    symbol: Mapped[str] = mapped_column(String(40))
    direction: Mapped[str] = mapped_column(String(5))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal())
    #: The payout ratio in force when the bet was placed; a later change of setting keeps it.
    payout_ratio: Mapped[Decimal] = mapped_column(ExactDecimal())
    duration_minutes: Mapped[int] = mapped_column(Integer)
    entry_price: Mapped[Decimal] = mapped_column(ExactDecimal())
    #: The feed's price at ``expires_at``, recorded when the bet resolves.
    exit_price: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(10))
    payout: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The client's id for the bet, so that a retry finds it instead of betting again.
    client_bet_id: Mapped[str | None] = mapped_column(String(64))


async def by_client_id(session: AsyncSession, user_id: int, client_bet_id: str) -> Bet | None:
    """Return the user's bet placed with ``client_bet_id``."""
    stmt = select(Bet).where(Bet.user_id == user_id, Bet.client_bet_id == client_bet_id)
    found: Bet | None = (await session.scalars(stmt)).first()
    return found


async def of_user(session: AsyncSession, user_id: int, limit: int) -> list[Bet]:
    """Return the user's latest bets, newest first."""
    stmt = select(Bet).where(Bet.user_id == user_id).order_by(Bet.id.desc()).limit(limit)
    return list(await session.scalars(stmt))


async def of_user_like(
    session: AsyncSession,
    user_id: int,
    direction: str,
    duration_minutes: int,
    symbol: str | None,
    limit: int,
) -> list[Bet]:
    """Return the user's latest bets of ``direction`` and ``duration_minutes`` (and
    ``symbol`` when given), newest first."""
    stmt = select(Bet).where(
        Bet.user_id == user_id,
        Bet.direction == direction,
        Bet.duration_minutes == duration_minutes,
    )
    if symbol is not None:
        stmt = stmt.where(Bet.symbol == symbol)
    return list(await session.scalars(stmt.order_by(Bet.id.desc()).limit(limit)))


async def due(session: AsyncSession, now: datetime, limit: int) -> list[int]:
    """Return the ids of active bets that expired at or before ``now``, oldest expiry first."""
    stmt = (
        select(Bet.id)
        .where(Bet.status == ACTIVE, Bet.expires_at <= now)
        .order_by(Bet.expires_at, Bet.id)
        .limit(limit)
    )
    return list(await session.scalars(stmt))


async def next_expiry(session: AsyncSession) -> datetime | None:
    """Return the earliest expiry of an active bet."""
    expiry: datetime | None = await session.scalar(
        select(func.min(Bet.expires_at)).where(Bet.status == ACTIVE)
    )
    return expiry


async def settle(
    session: AsyncSession,
    bet_id: int,
    *,
    status: str,
    exit_price: Decimal,
    payout: Decimal,
    at: datetime,
) -> bool:
    """Mark an active bet resolved; return False if it was not active any more (another
    resolver got there first). The one place a bet leaves ``active``."""
    stmt = (
        update(Bet)
        .where(Bet.id == bet_id, Bet.status == ACTIVE)
        .values(status=status, exit_price=exit_price, payout=payout, resolved_at=at)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]
