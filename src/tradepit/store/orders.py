"""Orders, their fills and the positions they build: models and queries."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    bindparam,
    func,
    select,
    text,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from tradepit.domain.orders import RESTING
from tradepit.store import rows
from tradepit.store.base import Base
from tradepit.store.db import transaction_cache
from tradepit.store.types import ExactDecimal, UTCDateTime


class OrderRow(Base):
    """An order and where it is in its life."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("user_id", "client_order_id"),
        # A user's orders in one status (the open ones among thousands filled) without
        # reading the others.
        Index("ix_orders_user_id_status", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_order_id: Mapped[str | None] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(40), index=True)
    order_type: Mapped[str] = mapped_column(String(20))
    side: Mapped[str] = mapped_column(String(4))
    product: Mapped[str] = mapped_column(String(4))
    validity: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    filled_quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    price: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    trigger_price: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    average_price: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    charges: Mapped[Decimal] = mapped_column(ExactDecimal())
    #: Cash blocked in the wallet for the unfilled part of a resting buy.
    held: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))
    #: When a stop order's trigger was reached (it rests as a limit from then on).
    triggered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str | None] = mapped_column(String(255))
    tournament_id: Mapped[int | None] = mapped_column(Integer)
    #: A bracket leg's entry order, and which leg it is (take_profit, stop_loss).
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    leg: Mapped[str | None] = mapped_column(String(16))
    #: JSON: the legs an entry asked for; on a trailing stop leg, its distance.
    bracket: Mapped[str | None] = mapped_column(String(255))
    #: A trailing stop's best price since the entry.
    trail_extreme: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


def new_order(
    *,
    user_id: int,
    symbol: str,
    order_type: str,
    side: str,
    product: str,
    validity: str,
    quantity: Decimal,
    request_hash: str,
    at: datetime,
    status: str = "open",
    **fields: object,
) -> OrderRow:
    """Return a new order row: nothing filled, charged or held yet (``fields``: price,
    trigger_price, reason, client_order_id, tournament_id, bracket legs...)."""
    return OrderRow(
        user_id=user_id,
        symbol=symbol,
        order_type=order_type,
        side=side,
        product=product,
        validity=validity,
        quantity=quantity,
        request_hash=request_hash,
        status=status,
        filled_quantity=Decimal(0),
        average_price=None,
        charges=Decimal(0),
        held=Decimal(0),
        created_at=at,
        updated_at=at,
        **fields,
    )


class FillRow(Base):
    """One execution of an order."""

    __tablename__ = "fills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    price: Mapped[Decimal] = mapped_column(ExactDecimal())
    charges: Mapped[Decimal] = mapped_column(ExactDecimal())
    liquidity: Mapped[str] = mapped_column(String(5))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class PositionRow(Base):
    """A net position, stored as quantity and exact cost basis (the average is derived).

    Main positions have no ``tournament_id``; a tournament entry's positions are kept apart
    under its tournament's id."""

    __tablename__ = "positions"
    __table_args__ = (
        # NULLs are distinct in a unique constraint: main positions need their own index.
        UniqueConstraint("user_id", "tournament_id", "symbol", "product"),
        Index(
            "uq_positions_main",
            "user_id",
            "symbol",
            "product",
            unique=True,
            sqlite_where=text("tournament_id IS NULL"),
            postgresql_where=text("tournament_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    tournament_id: Mapped[int | None] = mapped_column(
        ForeignKey("tournaments.id", ondelete="CASCADE"), index=True
    )
    symbol: Mapped[str] = mapped_column(String(40))
    product: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    cost_basis: Mapped[Decimal] = mapped_column(ExactDecimal())
    realized_gross: Mapped[Decimal] = mapped_column(ExactDecimal())
    charges: Mapped[Decimal] = mapped_column(ExactDecimal())
    #: Cash blocked while the position is short: the sale proceeds and the margin.
    blocked: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


async def by_client_id(
    session: AsyncSession, user_id: int, client_order_id: str
) -> OrderRow | None:
    """Return the user's order placed with ``client_order_id``."""
    found = await rows.load(
        session, OrderRow, _BY_CLIENT_ID, {"user_id": user_id, "client_order_id": client_order_id}
    )
    return found[0] if found else None


async def page(
    session: AsyncSession,
    user_id: int,
    *,
    status: str | None,
    symbol: str | None,
    offset: int,
    limit: int,
    tournament_id: int | None = None,
) -> tuple[list[OrderRow], int]:
    """Return one page of the user's orders (all of them, or one tournament's), newest first,
    and the total."""
    stmt = select(OrderRow).where(OrderRow.user_id == user_id)
    if tournament_id is not None:
        stmt = stmt.where(OrderRow.tournament_id == tournament_id)
    if status is not None:
        stmt = stmt.where(OrderRow.status == status)
    if symbol is not None:
        stmt = stmt.where(OrderRow.symbol == symbol)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = await session.scalars(stmt.order_by(OrderRow.id.desc()).offset(offset).limit(limit))
    return list(rows), total


async def open_sell_quantity(
    session: AsyncSession, user_id: int, symbol: str, product: str, tournament_id: int | None = None
) -> Decimal:
    """Return the unfilled quantity of the user's open sell orders in ``symbol`` and
    ``product``, bracket legs left out: a leg only protects the position (it is cut to what
    is held when it fills, and cancelled once nothing is), so it puts nothing on sale."""
    unfilled = type_coerce(OrderRow.quantity - OrderRow.filled_quantity, ExactDecimal())
    stmt = select(func.sum(unfilled, type_=ExactDecimal())).where(
        OrderRow.user_id == user_id,
        OrderRow.symbol == symbol,
        OrderRow.product == product,
        OrderRow.side == "SELL",
        OrderRow.leg.is_(None),
        OrderRow.status.in_(RESTING),
        _same_tournament(OrderRow.tournament_id, tournament_id),
    )
    total = await session.scalar(stmt)
    return total if total is not None else Decimal(0)


async def resting(session: AsyncSession) -> list[OrderRow]:
    """Return every order waiting to fill (open, partially filled or after-market), oldest first."""
    stmt = select(OrderRow).where(OrderRow.status.in_(RESTING)).order_by(OrderRow.id)
    return list(await session.scalars(stmt))


async def legs_of(session: AsyncSession, parent_id: int) -> list[OrderRow]:
    """Return the bracket legs of an entry order, locked for update."""
    stmt = (
        select(OrderRow)
        .where(OrderRow.parent_id == parent_id)
        .order_by(OrderRow.id)
        .with_for_update()
    )
    return list(await session.scalars(stmt))


async def resting_legs(
    session: AsyncSession, user_id: int, symbol: str, product: str, tournament_id: int | None = None
) -> list[OrderRow]:
    """Return the user's bracket legs still waiting in ``symbol`` and ``product``, locked."""
    stmt = (
        select(OrderRow)
        .where(
            OrderRow.user_id == user_id,
            OrderRow.symbol == symbol,
            OrderRow.product == product,
            OrderRow.parent_id.is_not(None),
            OrderRow.status.in_(RESTING),
            _same_tournament(OrderRow.tournament_id, tournament_id),
        )
        .order_by(OrderRow.id)
        .with_for_update()
    )
    return list(await session.scalars(stmt))


async def open_positions(session: AsyncSession, product: str) -> list[PositionRow]:
    """Return every user's non-flat position in ``product``."""
    stmt = (
        select(PositionRow)
        .where(PositionRow.product == product, PositionRow.quantity != 0)
        .order_by(PositionRow.id)
    )
    return list(await session.scalars(stmt))


async def fills_of(session: AsyncSession, order_id: int, *, new: bool = False) -> list[FillRow]:
    """Return an order's fills, oldest first. ``new``: the order was created in this
    transaction, so its fills are the ones made here (``remember_fill``), no query needed."""
    if new:
        return list(transaction_cache(session, "fills").get(order_id, ()))
    stmt = select(FillRow).where(FillRow.order_id == order_id).order_by(FillRow.id)
    return list(await session.scalars(stmt))


def remember_fill(session: AsyncSession, row: FillRow) -> None:
    """Note a fill made in this transaction (``fills_of(..., new=True)``)."""
    transaction_cache(session, "fills").setdefault(row.order_id, []).append(row)


async def position(
    session: AsyncSession, user_id: int, symbol: str, product: str, tournament_id: int | None = None
) -> PositionRow | None:
    """Return the user's position row in ``symbol`` and ``product`` (in a tournament when
    ``tournament_id`` is given; loaded once per transaction: later changes go through the same
    object)."""
    known = transaction_cache(session, "positions")
    key = (user_id, symbol, product, tournament_id)
    if key in known:
        found: PositionRow | None = known[key]
        return found
    params = {"user_id": user_id, "symbol": symbol, "product": product}
    if tournament_id is None:
        loaded = await rows.load(session, PositionRow, _MAIN_POSITION, params)
    else:
        params["tournament_id"] = tournament_id
        loaded = await rows.load(session, PositionRow, _TOURNAMENT_POSITION, params)
    row = loaded[0] if loaded else None
    if row is not None:
        known[key] = row
    return row


# Built once (see ``store.rows.load``).
_BY_CLIENT_ID = rows.every_column(OrderRow).where(
    OrderRow.user_id == bindparam("user_id"),
    OrderRow.client_order_id == bindparam("client_order_id"),
)
_POSITION = rows.every_column(PositionRow).where(
    PositionRow.user_id == bindparam("user_id"),
    PositionRow.symbol == bindparam("symbol"),
    PositionRow.product == bindparam("product"),
)
_MAIN_POSITION = _POSITION.where(PositionRow.tournament_id.is_(None))
_TOURNAMENT_POSITION = _POSITION.where(PositionRow.tournament_id == bindparam("tournament_id"))


def remember_position(session: AsyncSession, row: PositionRow) -> None:
    """Remember a position row created in this transaction (see ``position``)."""
    key = (row.user_id, row.symbol, row.product, row.tournament_id)
    transaction_cache(session, "positions")[key] = row


async def positions_of(
    session: AsyncSession, user_id: int, tournament_id: int | None = None
) -> list[PositionRow]:
    """Return the user's main position rows (or those of one tournament)."""
    stmt = select(PositionRow).where(
        PositionRow.user_id == user_id, _same_tournament(PositionRow.tournament_id, tournament_id)
    )
    return list(await session.scalars(stmt.order_by(PositionRow.id)))


async def tournament_resting(session: AsyncSession, tournament_id: int) -> list[OrderRow]:
    """Return a tournament's orders still waiting to fill."""
    stmt = select(OrderRow).where(
        OrderRow.tournament_id == tournament_id,
        OrderRow.status.in_(RESTING),
    )
    return list(await session.scalars(stmt.order_by(OrderRow.id)))


def _same_tournament(column: Mapped[int | None], tournament_id: int | None) -> ColumnElement[bool]:
    return column.is_(None) if tournament_id is None else column == tournament_id
