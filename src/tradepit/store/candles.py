"""Candles closed by a live or replayed feed, kept so charts survive a restart."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Integer, String, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tradepit.domain.market import Candle
from tradepit.store.base import Base
from tradepit.store.types import ExactDecimal, UTCDateTime


class CandleRow(Base):
    """One closed bar."""

    __tablename__ = "candles"
    __table_args__ = (UniqueConstraint("symbol", "interval", "start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    symbol: Mapped[str] = mapped_column(String(40))
    interval: Mapped[str] = mapped_column(String(4))
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    open: Mapped[Decimal] = mapped_column(ExactDecimal())
    high: Mapped[Decimal] = mapped_column(ExactDecimal())
    low: Mapped[Decimal] = mapped_column(ExactDecimal())
    close: Mapped[Decimal] = mapped_column(ExactDecimal())
    volume: Mapped[Decimal] = mapped_column(ExactDecimal())


async def save(session: AsyncSession, bars: Sequence[Candle]) -> int:
    """Store closed bars; a bar stored before is left as it was (the past does not change)."""
    if not bars:
        return 0
    keys = {(b.symbol, b.interval, b.start) for b in bars}
    symbols = {b.symbol for b in bars}
    starts = [b.start for b in bars]
    existing = await session.execute(
        select(CandleRow.symbol, CandleRow.interval, CandleRow.start).where(
            CandleRow.symbol.in_(symbols),
            CandleRow.start >= min(starts),
            CandleRow.start <= max(starts),
        )
    )
    stored = {(s, i, t) for s, i, t in existing.all()}
    new = [b for b in bars if (b.symbol, b.interval, b.start) in keys - stored]
    session.add_all(
        CandleRow(
            symbol=b.symbol,
            interval=b.interval,
            start=b.start,
            open=b.open,
            high=b.high,
            low=b.low,
            close=b.close,
            volume=b.volume,
        )
        for b in new
    )
    return len(new)


async def recent(
    session: AsyncSession, symbol: str, interval: str, since: datetime
) -> list[Candle]:
    """Return the stored bars of ``symbol`` and ``interval`` since ``since``, oldest first."""
    rows = await session.scalars(
        select(CandleRow)
        .where(CandleRow.symbol == symbol, CandleRow.interval == interval, CandleRow.start >= since)
        .order_by(CandleRow.start)
    )
    return [
        Candle(r.symbol, r.interval, r.start, r.open, r.high, r.low, r.close, r.volume)
        for r in rows
    ]
