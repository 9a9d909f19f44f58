"""Kite Connect apps and their one-time request tokens: models and queries; and Kite's views
of a user's orders and fills (the day's order book and trade book)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tradepit.domain.orders import RESTING
from tradepit.store.base import Base
from tradepit.store.events import UserEventRow
from tradepit.store.orders import FillRow, OrderRow
from tradepit.store.types import UTCDateTime


class KiteApp(Base):
    """A user's Kite-style app: its public key, its sealed secret and where logins return."""

    __tablename__ = "kite_apps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    api_key: Mapped[str] = mapped_column(String(32), unique=True)
    secret_sealed: Mapped[str] = mapped_column(Text)
    redirect_url: Mapped[str] = mapped_column(String(500))
    postback_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class KiteRequestToken(Base):
    """A login's request token (only its SHA-256), exchanged once for an access token."""

    __tablename__ = "kite_request_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("kite_apps.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


async def app_by_key(session: AsyncSession, api_key: str) -> KiteApp | None:
    """Return the live (not deleted) app whose key is ``api_key``."""
    found: KiteApp | None = await session.scalar(
        select(KiteApp).where(KiteApp.api_key == api_key, KiteApp.deleted_at.is_(None))
    )
    return found


async def apps_of(session: AsyncSession, user_id: int) -> list[KiteApp]:
    """Return the user's live apps, oldest first."""
    found = await session.scalars(
        select(KiteApp)
        .where(KiteApp.user_id == user_id, KiteApp.deleted_at.is_(None))
        .order_by(KiteApp.id)
    )
    return list(found)


async def all_apps(session: AsyncSession) -> list[KiteApp]:
    """Return every app, deleted ones included (their secrets are re-sealed on rotation)."""
    return list(await session.scalars(select(KiteApp).order_by(KiteApp.id)))


async def request_token(session: AsyncSession, token_hash: str) -> KiteRequestToken | None:
    """Return the request token row, locked for the exchange."""
    found: KiteRequestToken | None = await session.get(
        KiteRequestToken, token_hash, with_for_update=True
    )
    return found


async def day_orders(session: AsyncSession, user_id: int, since: datetime) -> list[OrderRow]:
    """Return the user's main orders (no tournament's) placed since ``since`` or still
    pending, oldest first (Kite's order book)."""
    stmt = select(OrderRow).where(
        OrderRow.user_id == user_id,
        OrderRow.tournament_id.is_(None),
        or_(OrderRow.created_at >= since, OrderRow.status.in_(RESTING)),
    )
    return list(await session.scalars(stmt.order_by(OrderRow.id)))


async def day_fills(
    session: AsyncSession, user_id: int, since: datetime, order_id: int | None = None
) -> list[tuple[FillRow, OrderRow]]:
    """Return the fills of the user's main orders since ``since`` (or every fill of
    ``order_id``), oldest first, each with its order."""
    stmt = (
        select(FillRow, OrderRow)
        .join(OrderRow, FillRow.order_id == OrderRow.id)
        .where(OrderRow.user_id == user_id, OrderRow.tournament_id.is_(None))
    )
    if order_id is not None:
        stmt = stmt.where(OrderRow.id == order_id)
    else:
        stmt = stmt.where(FillRow.at >= since)
    found = await session.execute(stmt.order_by(FillRow.id))
    return [(fill, order) for fill, order in found]


async def last_event_id(session: AsyncSession) -> int:
    """Return the newest journaled private event's id (0 before the first)."""
    found = await session.scalar(select(func.max(UserEventRow.id)))
    return int(found or 0)


async def order_events_after(
    session: AsyncSession, after: int, limit: int
) -> list[tuple[UserEventRow, KiteApp]]:
    """Return the order events journaled after event ``after``, oldest first, each with a live
    app of its user that has a postback URL (an event twice for a user with two)."""
    stmt = (
        select(UserEventRow, KiteApp)
        .join(KiteApp, KiteApp.user_id == UserEventRow.user_id)
        .where(
            UserEventRow.id > after,
            UserEventRow.type == "order",
            KiteApp.deleted_at.is_(None),
            KiteApp.postback_url.is_not(None),
        )
        .order_by(UserEventRow.id, KiteApp.id)
        .limit(limit)
    )
    return [(event, app) for event, app in await session.execute(stmt)]


class KiteGtt(Base):
    """A good-till-triggered trigger: when the last price crosses a trigger value, its order
    is placed (Kite's GTT, ``single`` or ``two-leg``)."""

    __tablename__ = "kite_gtts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), index=True)
    symbol: Mapped[str] = mapped_column(String(40))
    condition: Mapped[dict[str, Any]] = mapped_column(JSON)
    orders: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


async def gtts_of(session: AsyncSession, user_id: int) -> list[KiteGtt]:
    """Return the user's triggers (deleted ones left out), newest first."""
    found = await session.scalars(
        select(KiteGtt)
        .where(KiteGtt.user_id == user_id, KiteGtt.status != "deleted")
        .order_by(KiteGtt.id.desc())
    )
    return list(found)


async def active_gtts(session: AsyncSession) -> list[KiteGtt]:
    """Return every active trigger, oldest first."""
    found = await session.scalars(
        select(KiteGtt).where(KiteGtt.status == "active").order_by(KiteGtt.id)
    )
    return list(found)


async def gtt(session: AsyncSession, gtt_id: int, *, lock: bool = False) -> KiteGtt | None:
    """Return one trigger (locked for a change, when asked)."""
    found: KiteGtt | None = await session.get(KiteGtt, gtt_id, with_for_update=lock)
    return found
