"""Tournaments and their entries: models and queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tradepit.store.base import Base
from tradepit.store.db import read_apart
from tradepit.store.orders import PositionRow
from tradepit.store.types import ExactDecimal, UTCDateTime
from tradepit.store.users import User
from tradepit.store.wallets import Wallet


class Tournament(Base):
    """A trading contest: its terms, rules and where it is in its life."""

    __tablename__ = "tournaments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(2000), default="")
    currency: Mapped[str] = mapped_column(String(8))
    start_time: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    end_time: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    starting_capital: Mapped[Decimal] = mapped_column(ExactDecimal())
    entry_fee: Mapped[Decimal] = mapped_column(ExactDecimal())
    prize_pool: Mapped[Decimal] = mapped_column(ExactDecimal())
    #: Percentages of the pool per rank, as decimal strings ("50", "30", "20").
    prize_split: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_participants: Mapped[int | None] = mapped_column(Integer)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TournamentEntry(Base):
    """One participant of a tournament: their isolated wallet, running figures, final rank."""

    __tablename__ = "tournament_entries"
    __table_args__ = (UniqueConstraint("tournament_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tournament_id: Mapped[int] = mapped_column(
        ForeignKey("tournaments.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    wallet_id: Mapped[int] = mapped_column(ForeignKey("wallets.id"))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())
    trades: Mapped[int] = mapped_column(Integer, default=0)
    closed_trades: Mapped[int] = mapped_column(Integer, default=0)
    winning_trades: Mapped[int] = mapped_column(Integer, default=0)
    #: The highest equity seen and the deepest fall from a peak (%), kept by the scheduler.
    peak_equity: Mapped[Decimal] = mapped_column(ExactDecimal())
    max_drawdown: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))
    #: Frozen at the end.
    rank: Mapped[int | None] = mapped_column(Integer)
    final_equity: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    prize: Mapped[Decimal | None] = mapped_column(ExactDecimal())


async def listing(session: AsyncSession, status: str | None) -> list[Tournament]:
    """Return tournaments (not cancelled ones unless asked), soonest start first."""
    stmt = select(Tournament)
    if status is None:
        stmt = stmt.where(Tournament.status != "cancelled")
    else:
        stmt = stmt.where(Tournament.status == status)
    return list(await session.scalars(stmt.order_by(Tournament.start_time, Tournament.id)))


async def entries(session: AsyncSession, tournament_id: int) -> list[TournamentEntry]:
    """Return a tournament's entries, first joined first."""
    stmt = (
        select(TournamentEntry)
        .where(TournamentEntry.tournament_id == tournament_id)
        .order_by(TournamentEntry.id)
    )
    return list(await session.scalars(stmt))


async def entry_of(
    session: AsyncSession, tournament_id: int, user_id: int
) -> TournamentEntry | None:
    """Return the user's entry in the tournament."""
    stmt = select(TournamentEntry).where(
        TournamentEntry.tournament_id == tournament_id, TournamentEntry.user_id == user_id
    )
    return (await session.scalars(stmt)).first()


async def entries_of_user(
    session: AsyncSession, user_id: int
) -> list[tuple[TournamentEntry, Tournament]]:
    """Return the user's entries with their tournaments, latest joined first."""
    stmt = (
        select(TournamentEntry, Tournament)
        .join(Tournament, Tournament.id == TournamentEntry.tournament_id)
        .where(TournamentEntry.user_id == user_id, Tournament.status != "cancelled")
        .order_by(TournamentEntry.id.desc())
    )
    return [(e, t) for e, t in (await session.execute(stmt)).all()]


async def entrants_from(session: AsyncSession, tournament_id: int, entry_id: int) -> list[int]:
    """Return the users whose entries in the tournament are ``entry_id`` or later."""
    stmt = select(TournamentEntry.user_id).where(
        TournamentEntry.tournament_id == tournament_id, TournamentEntry.id >= entry_id
    )
    return list(await session.scalars(stmt))


async def count_entries(session: AsyncSession, tournament_id: int) -> int:
    """Return how many have joined the tournament."""
    stmt = select(func.count()).where(TournamentEntry.tournament_id == tournament_id)
    return int(await session.scalar(stmt) or 0)


async def move(session: AsyncSession, tournament_id: int, before: str, after: str) -> bool:
    """Move a tournament from ``before`` to ``after``; False if it was not ``before`` (another
    process moved it first): the one conditional update each transition goes through."""
    stmt = (
        update(Tournament)
        .where(Tournament.id == tournament_id, Tournament.status == before)
        .values(status=after)
        .execution_options(synchronize_session=False)
    )
    return bool((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


async def due(session: AsyncSession, status: str, field: str, now: datetime) -> list[int]:
    """Return the ids of tournaments in ``status`` whose ``field`` time has come."""
    column = Tournament.start_time if field == "start" else Tournament.end_time
    stmt = select(Tournament.id).where(Tournament.status == status, column <= now)
    return list(await session.scalars(stmt.order_by(Tournament.id)))


async def next_change(session: AsyncSession) -> datetime | None:
    """Return the earliest start of a scheduled or end of a running tournament."""
    starts = select(func.min(Tournament.start_time)).where(Tournament.status == "scheduled")
    ends = select(func.min(Tournament.end_time)).where(Tournament.status == "running")
    found = [t for t in (await session.scalar(starts), await session.scalar(ends)) if t]
    return min(found) if found else None


async def running(session: AsyncSession) -> list[Tournament]:
    """Return the running tournaments."""
    stmt = select(Tournament).where(Tournament.status == "running").order_by(Tournament.id)
    return list(await session.scalars(stmt))


async def record_fill(
    session: AsyncSession, tournament_id: int, user_id: int, *, closed: bool, won: bool
) -> None:
    """Count a fill of a tournament order: a trade, and when it closed something, a closed
    trade (a won one when its net P&L was positive)."""
    stmt = (
        update(TournamentEntry)
        .where(TournamentEntry.tournament_id == tournament_id, TournamentEntry.user_id == user_id)
        .values(
            trades=TournamentEntry.trades + 1,
            closed_trades=TournamentEntry.closed_trades + int(closed),
            winning_trades=TournamentEntry.winning_trades + int(closed and won),
        )
        .execution_options(synchronize_session=False)
    )
    await session.execute(stmt)


async def usernames(session: AsyncSession, user_ids: list[int]) -> dict[int, str]:
    """Return the usernames of ``user_ids``."""
    rows = await session.execute(select(User.id, User.username).where(User.id.in_(user_ids)))
    return {user_id: name for user_id, name in rows}


async def balances(session: AsyncSession, wallet_ids: list[int]) -> dict[int, Decimal]:
    """Return the balances of ``wallet_ids``."""
    rows = await session.execute(select(Wallet.id, Wallet.balance).where(Wallet.id.in_(wallet_ids)))
    return {wallet_id: balance for wallet_id, balance in rows}


async def open_positions(
    session: AsyncSession, tournament_id: int, user_ids: list[int] | None = None
) -> list[tuple[int, str, str, int, int]]:
    """Return a tournament's non-flat positions (of ``user_ids`` only, when given) as (user,
    symbol, product, quantity, cost basis), amounts in raw 10⁻⁸ units: columns, not objects.
    Like ``board_rows``, on SQLite it reads the last committed state apart from the session."""
    stmt = select(
        PositionRow.user_id,
        PositionRow.symbol,
        PositionRow.product,
        type_coerce(PositionRow.quantity, BigInteger),
        type_coerce(PositionRow.cost_basis, BigInteger),
    ).where(PositionRow.tournament_id == tournament_id, PositionRow.quantity != 0)
    if user_ids is not None:
        stmt = stmt.where(PositionRow.user_id.in_(user_ids))
    return [(u, s, p, q, c) for u, s, p, q, c in await read_apart(session, stmt)]


@dataclass(frozen=True)
class Marks:
    """What ``board_rows`` values positions at, decided by the caller: per symbol its mark
    times its multiplier, and per (product, long) the symbols whose positions of that side are
    carried on margin (valued at their unrealized P&L: the cost basis is taken off)."""

    price: dict[str, float]
    margined: dict[tuple[str, bool], list[str]]


class BoardRow(NamedTuple):
    """What the leaderboard needs of one entry; amounts in raw 10⁻⁸ units.

    ``held`` is the value of the entry's positions at the ``Marks`` (a float, the leaderboard
    is analytics), or None when it holds a symbol the marks do not price: those entries'
    positions are then read as rows (``open_positions``)."""

    entry_id: int
    user_id: int
    username: str
    trades: int
    closed_trades: int
    winning_trades: int
    cash: int
    peak_equity: int
    max_drawdown: int
    held: float | None


def _held(marks: Marks) -> ColumnElement[float]:
    """Return, for the entry of the enclosing query, the sum over its non-flat positions of
    quantity x price, less the cost basis of the margined ones; NULL if any is unpriced."""
    quantity = type_coerce(PositionRow.quantity, BigInteger)
    cost = type_coerce(PositionRow.cost_basis, BigInteger)
    price: ColumnElement[Any] = (
        case({s: literal(p, Float) for s, p in marks.price.items()}, value=PositionRow.symbol)
        if marks.price
        else null()
    )
    margined = or_(
        false(),
        *(
            and_(
                PositionRow.product == product,
                quantity > 0 if long else quantity < 0,
                PositionRow.symbol.in_(symbols),
            )
            for (product, long), symbols in marks.margined.items()
            if symbols
        ),
    )
    value = quantity * price - case((margined, cost), else_=0)
    unpriced = case((PositionRow.symbol.in_(list(marks.price)), 0), else_=1)
    total = case(
        (func.sum(unpriced) > 0, null()),
        else_=func.coalesce(func.sum(value), literal(0.0, Float)),
    )
    return type_coerce(
        select(total)
        .where(
            PositionRow.user_id == TournamentEntry.user_id,
            PositionRow.tournament_id == TournamentEntry.tournament_id,
            PositionRow.quantity != 0,
        )
        .scalar_subquery(),
        Float,
    )


async def board_rows(
    session: AsyncSession,
    tournament_id: int,
    marks: Marks | None,
    user_ids: list[int] | None = None,
) -> list[BoardRow]:
    """Return every entry of a tournament (of ``user_ids`` only, when given) with its
    username, wallet balance and the value of its positions at ``marks`` (None without
    marks), first joined first: one query, one row per entry (the positions are summed by the
    database through the (user, tournament, ...) unique index instead of coming back as one
    row each). On SQLite it reads the last committed state apart from the session
    (``db.read_apart``)."""
    held = _held(marks) if marks is not None else cast(null(), Float)
    stmt = (
        select(
            TournamentEntry.id,
            TournamentEntry.user_id,
            User.username,
            TournamentEntry.trades,
            TournamentEntry.closed_trades,
            TournamentEntry.winning_trades,
            type_coerce(Wallet.balance, BigInteger),
            type_coerce(TournamentEntry.peak_equity, BigInteger),
            type_coerce(TournamentEntry.max_drawdown, BigInteger),
            held,
        )
        .join(User, User.id == TournamentEntry.user_id)
        .join(Wallet, Wallet.id == TournamentEntry.wallet_id)
        .where(TournamentEntry.tournament_id == tournament_id)
        .order_by(TournamentEntry.id)
    )
    if user_ids is not None:
        stmt = stmt.where(TournamentEntry.user_id.in_(user_ids))
    return [BoardRow._make(row) for row in await read_apart(session, stmt)]


async def keep_extremes(session: AsyncSession, changes: list[tuple[int, Decimal, Decimal]]) -> None:
    """Store new (entry id, peak equity, max drawdown) figures, in one statement."""
    if not changes:
        return
    table = Base.metadata.tables["tournament_entries"]
    stmt = (
        update(table)
        .where(table.c.id == bindparam("entry_id"))
        .values(
            peak_equity=bindparam("peak", type_=ExactDecimal()),
            max_drawdown=bindparam("drawdown", type_=ExactDecimal()),
        )
    )
    rows = [{"entry_id": e, "peak": p, "drawdown": d} for e, p, d in changes]
    await session.execute(stmt, rows)
