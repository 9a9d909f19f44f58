"""Tournament leaderboards: marked to market while running, frozen once ended.

While a tournament runs, every entry is marked to the last price with numpy in one pass
(``domain.tournaments.standings``); the figures are analytics (they move no money). Once it has
ended, the exact final standings written by ``services.tournament_runs.finish`` are shown.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.domain.clock import Clock
from tradepit.domain.money import SCALE
from tradepit.domain.tournaments import Book, TournamentStatus, standings, win_rate
from tradepit.market.data import MarketData
from tradepit.schemas.tournaments import LeaderboardRead, MyRankRead, MyTournament, Standing
from tradepit.services.callers import Caller
from tradepit.services.tournaments import ENDED, NotJoined, find, read
from tradepit.store import tournaments as store
from tradepit.store.tournaments import Tournament

_UNIT = 10.0**-SCALE


class Recent:
    """The running leaderboards this process published last (the scheduler's), served to
    readers for ``max_age`` wall seconds instead of recomputing one per request."""

    def __init__(self, max_age: float = 2.0) -> None:
        self.max_age = max_age
        self._boards: dict[int, tuple[float, LeaderboardRead]] = {}

    def put(self, board: LeaderboardRead) -> None:
        """Keep ``board`` as its tournament's latest."""
        self._boards[board.tournament_id] = (time.monotonic(), board)

    def get(self, tournament_id: int) -> LeaderboardRead | None:
        """Return the tournament's latest board if it is recent enough."""
        found = self._boards.get(tournament_id)
        if found is None or time.monotonic() - found[0] > self.max_age:
            return None
        return found[1]

    def forget(self, tournament_id: int) -> None:
        """Drop the tournament's board (it has ended)."""
        self._boards.pop(tournament_id, None)


def _money(value: float, places: int = 2) -> Decimal:
    return Decimal(repr(round(value, places))) + 0  # + 0: no "-0"


@dataclass(frozen=True)
class Live:
    """A running tournament's leaderboard, rank 1 first, and each entry's new extremes."""

    lines: list[Standing]
    #: (entry id, peak equity, max drawdown) of the entries whose figures moved.
    extremes: list[tuple[int, Decimal, Decimal]]


async def live(session: AsyncSession, market: MarketData, t: Tournament) -> Live:
    """Mark every entry to market now, in one pass over columns in raw units (floats: the
    leaderboard moves no money)."""
    rows = await store.board_rows(session, t.id)
    if not rows:
        return Live([], [])
    positions = await store.open_positions(session, t.id)
    return _ranked(rows, _book(market, rows, positions), float(t.starting_capital))


def _book(
    market: MarketData, rows: list[store.BoardRow], positions: list[tuple[int, str, str, int, int]]
) -> Book:
    """Return the arrays of the entries and their positions (user, symbol, product, quantity,
    cost basis); per-instrument figures are looked up once per symbol and product."""
    index = {row.user_id: i for i, row in enumerate(rows)}
    keys = [(symbol, product) for _, symbol, product, _, _ in positions]
    kinds = {key: k for k, key in enumerate(sorted(set(keys)))}
    instruments = {s: market.instrument(s) for s, _ in kinds}
    mark = np.array([float(market.tick(s).ltp) for s, _ in kinds], dtype=np.float64)
    multiplier = np.array([float(instruments[s].multiplier) for s, _ in kinds], dtype=np.float64)
    margined_long = np.array([instruments[s].margined(p, True) for s, p in kinds], dtype=np.bool_)
    margined_short = np.array([instruments[s].margined(p, False) for s, p in kinds], dtype=np.bool_)
    kind = np.array([kinds[key] for key in keys], dtype=np.intp)
    quantity = np.array([p[3] for p in positions], dtype=np.float64) * _UNIT
    return Book(
        entry_id=np.array([row.entry_id for row in rows], dtype=np.int64),
        cash=np.array([row.cash for row in rows], dtype=np.float64) * _UNIT,
        peak=np.array([row.peak_equity for row in rows], dtype=np.float64) * _UNIT,
        max_drawdown=np.array([row.max_drawdown for row in rows], dtype=np.float64) * _UNIT,
        owner=np.array([index[p[0]] for p in positions], dtype=np.intp),
        quantity=quantity,
        mark=mark[kind],
        multiplier=multiplier[kind],
        cost=np.array([p[4] for p in positions], dtype=np.float64) * _UNIT,
        margined=np.where(quantity > 0, margined_long[kind], margined_short[kind]),
    )


def _ranked(rows: list[store.BoardRow], book: Book, capital: float) -> Live:
    result = standings(book, capital)
    lines = []
    for i in result.order().tolist():
        row = rows[i]
        lines.append(
            Standing.model_construct(
                rank=int(result.rank[i]),
                user_id=row.user_id,
                username=row.username,
                equity=_money(float(result.equity[i])),
                pnl=_money(float(result.pnl[i])),
                roi=_money(float(result.roi[i]), 4),
                win_rate=win_rate(row.closed_trades, row.winning_trades),
                trades=row.trades,
                max_drawdown=_money(float(result.max_drawdown[i]), 4),
                prize=None,
            )
        )
    moved = (result.peak > book.peak + 1e-6) | (result.max_drawdown > book.max_drawdown + 1e-6)
    extremes = [
        (
            rows[i].entry_id,
            _money(float(result.peak[i]), 8),
            _money(float(result.max_drawdown[i]), 8),
        )
        for i in np.flatnonzero(moved).tolist()
    ]
    return Live(lines, extremes)


async def frozen(session: AsyncSession, t: Tournament) -> list[Standing]:
    """Return the final standings of an ended tournament."""
    entries = sorted(await store.entries(session, t.id), key=lambda e: e.rank or 0)
    names = await store.usernames(session, [e.user_id for e in entries])
    board = []
    for e in entries:
        equity = e.final_equity if e.final_equity is not None else t.starting_capital
        pnl = equity - t.starting_capital
        board.append(
            Standing(
                rank=e.rank or 0,
                user_id=e.user_id,
                username=names.get(e.user_id, ""),
                equity=equity,
                pnl=pnl,
                roi=(pnl / t.starting_capital * 100).quantize(Decimal("0.0001")),
                win_rate=win_rate(e.closed_trades, e.winning_trades),
                trades=e.trades,
                max_drawdown=e.max_drawdown.quantize(Decimal("0.0001")),
                prize=e.prize,
            )
        )
    return board


async def leaderboard(
    session: AsyncSession,
    clock: Clock,
    market: MarketData,
    tournament_id: int,
    recent: Recent | None = None,
) -> LeaderboardRead:
    """Return the ranking: marked to market while the tournament runs (the one the scheduler
    published in the last ``recent.max_age`` seconds, if any), frozen once ended."""
    found = recent.get(tournament_id) if recent is not None else None
    if found is not None:
        return found
    t = await find(session, tournament_id)
    if t.status == ENDED:
        entries = await frozen(session, t)
    else:
        entries = (await live(session, market, t)).lines
    return LeaderboardRead(
        tournament_id=t.id,
        status=TournamentStatus(t.status),
        as_of=t.ended_at if t.status == ENDED and t.ended_at else clock.now(),
        final=t.status == ENDED,
        entries=entries,
    )


async def my_rank(
    session: AsyncSession,
    clock: Clock,
    market: MarketData,
    caller: Caller,
    tournament_id: int,
    recent: Recent | None = None,
) -> MyRankRead:
    """Return the caller's line of the leaderboard."""
    board = await leaderboard(session, clock, market, tournament_id, recent)
    for line in board.entries:
        if line.user_id == caller.user.id:
            return MyRankRead(
                tournament_id=tournament_id, participants=len(board.entries), standing=line
            )
    raise NotJoined(f"you have not joined tournament {tournament_id}")


async def mine(
    session: AsyncSession,
    clock: Clock,
    market: MarketData,
    caller: Caller,
    recent: Recent | None = None,
) -> list[MyTournament]:
    """Return the tournaments the caller joined, latest first, with their standing."""
    found = []
    for _, t in await store.entries_of_user(session, caller.user.id):
        board = await leaderboard(session, clock, market, t.id, recent)
        line = next((s for s in board.entries if s.user_id == caller.user.id), None)
        found.append(MyTournament(tournament=await read(session, t), standing=line))
    return found
