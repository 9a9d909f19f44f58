"""Credentials of live feeds (the Kite access token), stored encrypted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tradepit.store.base import Base
from tradepit.store.types import UTCDateTime


class FeedCredential(Base):
    """The current session token of one feed provider; ``sealed`` is Fernet ciphertext."""

    __tablename__ = "feed_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32), unique=True)
    sealed: Mapped[str] = mapped_column(Text)
    account: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[int | None] = mapped_column(Integer)


async def get(session: AsyncSession, provider: str) -> FeedCredential | None:
    """Return the stored credential of ``provider``."""
    return (
        await session.scalars(select(FeedCredential).where(FeedCredential.provider == provider))
    ).first()
