"""Tournament leaderboards: marked to market while running, frozen once ended.

While a tournament runs, every entry is marked to the last price with numpy in one pass
(``domain.tournaments.standings``); the figures are analytics (they move no money). Once it has
ended, the exact final standings written by ``services.tournament_runs.finish`` are shown.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.domain.clock import Clock
from tradepit.domain.tournaments import Book, TournamentStatus, standings, win_rate
from tradepit.market.data import MarketData
from tradepit.schemas.tournaments import LeaderboardRead, MyRankRead, MyTournament, Standing
from tradepit.services.callers import Caller
from tradepit.services.tournaments import ENDED, NotJoined, find, read
from tradepit.store import orders as order_store
from tradepit.store import tournaments as store
from tradepit.store.tournaments import Tournament, TournamentEntry


def _money(value: float, places: int = 2) -> Decimal:
    return Decimal(repr(round(value, places))) + 0  # + 0: no "-0"


async def live(
    session: AsyncSession, market: MarketData, t: Tournament
) -> list[tuple[TournamentEntry, Standing, float, float]]:
    """Mark every entry to market now; return, from rank 1 down, each entry with its standing,
    peak equity and max drawdown (floats: the leaderboard moves no money)."""
    entries = await store.entries(session, t.id)
    if not entries:
        return []
    names = await store.usernames(session, [e.user_id for e in entries])
    cash = await store.balances(session, [e.wallet_id for e in entries])
    index = {e.user_id: i for i, e in enumerate(entries)}
    rows = await order_store.tournament_positions(session, t.id)
    marks: dict[str, float] = {}
    for row in rows:
        if row.symbol not in marks:
            marks[row.symbol] = float(market.tick(row.symbol).ltp)
    instruments = {s: market.instrument(s) for s in marks}
    book = Book(
        entry_id=np.array([e.id for e in entries], dtype=np.int64),
        cash=np.array([float(cash[e.wallet_id]) for e in entries]),
        peak=np.array([float(e.peak_equity) for e in entries]),
        max_drawdown=np.array([float(e.max_drawdown) for e in entries]),
        owner=np.array([index[r.user_id] for r in rows], dtype=np.intp),
        quantity=np.array([float(r.quantity) for r in rows]),
        mark=np.array([marks[r.symbol] for r in rows]),
        multiplier=np.array([float(instruments[r.symbol].multiplier) for r in rows]),
        cost=np.array([float(r.cost_basis) for r in rows]),
        margined=np.array(
            [instruments[r.symbol].margined(r.product, long=r.quantity > 0) for r in rows],
            dtype=np.bool_,
        ),
    )
    result = standings(book, float(t.starting_capital))
    board = []
    for i in result.order():
        e = entries[int(i)]
        line = Standing(
            rank=int(result.rank[i]),
            user_id=e.user_id,
            username=names.get(e.user_id, ""),
            equity=_money(float(result.equity[i])),
            pnl=_money(float(result.pnl[i])),
            roi=_money(float(result.roi[i]), 4),
            win_rate=win_rate(e.closed_trades, e.winning_trades),
            trades=e.trades,
            max_drawdown=_money(float(result.max_drawdown[i]), 4),
        )
        board.append((e, line, float(result.peak[i]), float(result.max_drawdown[i])))
    return board


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
    session: AsyncSession, clock: Clock, market: MarketData, tournament_id: int
) -> LeaderboardRead:
    """Return the ranking: marked to market now while the tournament runs, frozen once ended."""
    t = await find(session, tournament_id)
    if t.status == ENDED:
        entries = await frozen(session, t)
    else:
        entries = [line for _, line, _, _ in await live(session, market, t)]
    return LeaderboardRead(
        tournament_id=t.id,
        status=TournamentStatus(t.status),
        as_of=t.ended_at if t.status == ENDED and t.ended_at else clock.now(),
        final=t.status == ENDED,
        entries=entries,
    )


async def my_rank(
    session: AsyncSession, clock: Clock, market: MarketData, caller: Caller, tournament_id: int
) -> MyRankRead:
    """Return the caller's line of the leaderboard."""
    board = await leaderboard(session, clock, market, tournament_id)
    for line in board.entries:
        if line.user_id == caller.user.id:
            return MyRankRead(
                tournament_id=tournament_id, participants=len(board.entries), standing=line
            )
    raise NotJoined(f"you have not joined tournament {tournament_id}")


async def mine(
    session: AsyncSession, clock: Clock, market: MarketData, caller: Caller
) -> list[MyTournament]:
    """Return the tournaments the caller joined, latest first, with their standing."""
    found = []
    for _, t in await store.entries_of_user(session, caller.user.id):
        board = await leaderboard(session, clock, market, t.id)
        line = next((s for s in board.entries if s.user_id == caller.user.id), None)
        found.append(MyTournament(tournament=await read(session, t), standing=line))
    return found
