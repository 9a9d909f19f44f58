"""Tournament leaderboards: marked to market while running, frozen once ended.

While a tournament runs, every entry is marked to the last price with numpy in one pass
(``domain.tournaments.standings``); the figures are analytics (they move no money). Once it has
ended, the exact final standings written by ``services.tournament_runs.finish`` are shown.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

import numpy as np
from numpy.typing import NDArray
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.domain.clock import Clock
from tradepit.domain.errors import NotFound
from tradepit.domain.money import SCALE
from tradepit.domain.orders import Product
from tradepit.domain.tournaments import Book, TournamentStatus, standings, win_rate
from tradepit.market.data import MarketData
from tradepit.schemas.tournaments import (
    LeaderboardLine,
    LeaderboardRead,
    MyRankRead,
    MyTournament,
    ParticipantStatusRead,
    ParticipationRead,
    Standing,
)
from tradepit.services.callers import Caller
from tradepit.services.tournaments import ENDED, RUNNING, NotJoined, find, my_entry, read
from tradepit.store import tournaments as store
from tradepit.store.tournaments import Tournament
from tradepit.trading.boards import Boards

_UNIT = 10.0**-SCALE
_ZERO = Decimal(0)


class Recent:
    """The running leaderboards this process published last (the scheduler's), served to
    readers for ``max_age`` wall seconds instead of recomputing one per request, and only
    while the database says the tournament runs (``leaderboard`` reads its status first);
    and ``memory``, the entries boards are recomputed from where they are kept in memory."""

    def __init__(self, max_age: float = 2.0, memory: Boards | None = None) -> None:
        self.max_age = max_age
        self.memory = memory
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
        """Drop the tournament's board and entries (it has ended)."""
        self._boards.pop(tournament_id, None)
        if self.memory is not None:
            self.memory.forget(tournament_id)


@dataclass(frozen=True)
class Live:
    """A running tournament's leaderboard, rank 1 first, and each entry's new extremes."""

    lines: list[Standing]
    #: (entry id, peak equity, max drawdown) of the entries whose figures moved.
    extremes: list[tuple[int, Decimal, Decimal]]


async def live(
    session: AsyncSession, market: MarketData, t: Tournament, memory: Boards | None = None
) -> Live:
    """Mark every entry to market now (floats: the leaderboard moves no money).

    With ``memory`` (``trading.boards``) and the tournament running, the entries and
    positions come from there: no query unless some changed. Otherwise one query returns each
    entry with its cash, figures and the value of its positions in the catalogue's instruments
    at their marks, summed by the database (``store.board_rows``): 10,000 rows instead of the
    200,000 positions. Only the positions of entries holding something else (a future, an
    option) are read as rows and valued here."""
    if memory is not None and t.status == RUNNING:  # kept while it runs, late entries too
        marked = (await memory.entries(session, t.id)).marked(market)
        await asyncio.sleep(0)  # each step below is a loop turn of ~3 ms at 10,000 entries
        return await _ranked(marked.rows, marked.book(), float(t.starting_capital))
    rows = await store.board_rows(session, t.id, marks(market, t.currency))
    if not rows:
        return Live([], [])
    unpriced = [row.user_id for row in rows if row.held is None]
    positions = await store.open_positions(session, t.id, unpriced) if unpriced else []
    return await _ranked(rows, _book(market, rows, positions), float(t.starting_capital))


def marks(market: MarketData, currency: str) -> store.Marks:
    """Return the marks the board query values positions at: every tradable catalogue
    instrument in ``currency`` (the only ones a tournament in it trades, with their futures
    and options) with a price now (mark x multiplier), and which of their (product, side)
    are margined. A pair settled in its base currency (USDJPY) is left out: its P&L is
    converted at the mark, which the query does not do, so its holders are valued as rows."""
    price: dict[str, float] = {}
    margined: dict[tuple[str, bool], list[str]] = {}
    for instrument in market.catalogue:
        if not instrument.tradable or instrument.currency != currency:
            continue
        if instrument.settles_in_base:
            continue
        try:
            ltp = market.tick(instrument.symbol).ltp
        except NotFound:  # no quote yet: priced as a row, which fails as it always has
            continue
        price[instrument.symbol] = float(ltp) * float(instrument.multiplier)
        for product in Product:
            for long in (True, False):
                if instrument.margined(product.value, long):
                    margined.setdefault((product.value, long), []).append(instrument.symbol)
    return store.Marks(price, margined)


def _book(
    market: MarketData, rows: list[store.BoardRow], positions: list[tuple[int, str, str, int, int]]
) -> Book:
    """Return the arrays of the entries and their positions: one line per priced entry holding
    its positions' summed value (quantity 1 at that mark), then the rows of the others (user,
    symbol, product, quantity, cost basis), their figures looked up once per symbol and
    product. A pair settled in its base currency (USDJPY) is valued in that currency: its
    multiplier and cost basis are divided by the mark (``Instrument.in_settlement`` in
    floats), so quantity x mark x multiplier - cost is its P&L converted at the mark."""
    held = [row.held for row in rows]
    priced = np.array([h is not None for h in held], dtype=np.bool_)
    value = np.array([h or 0.0 for h in held], dtype=np.float64) * _UNIT
    index = {row.user_id: i for i, row in enumerate(rows)}
    keys = [(symbol, product) for _, symbol, product, _, _ in positions]
    kinds = {key: k for k, key in enumerate(sorted(set(keys)))}
    instruments = {s: market.instrument(s) for s, _ in kinds}
    mark = np.array([float(market.tick(s).ltp) for s, _ in kinds], dtype=np.float64)
    in_base = np.array([instruments[s].settles_in_base for s, _ in kinds], dtype=np.bool_)
    rate = np.where(in_base, mark, 1.0)
    multiplier = np.array([float(instruments[s].multiplier) for s, _ in kinds], dtype=np.float64)
    multiplier = multiplier / rate
    margined_long = np.array([instruments[s].margined(p, True) for s, p in kinds], dtype=np.bool_)
    margined_short = np.array([instruments[s].margined(p, False) for s, p in kinds], dtype=np.bool_)
    kind = np.array([kinds[key] for key in keys], dtype=np.intp)
    quantity = np.array([p[3] for p in positions], dtype=np.float64) * _UNIT
    cost = np.array([p[4] for p in positions], dtype=np.float64) * _UNIT / rate[kind]
    owners = np.flatnonzero(priced)
    m = len(owners)
    return Book(
        entry_id=np.array([row.entry_id for row in rows], dtype=np.int64),
        cash=np.array([row.cash for row in rows], dtype=np.float64) * _UNIT,
        peak=np.array([row.peak_equity for row in rows], dtype=np.float64) * _UNIT,
        max_drawdown=np.array([row.max_drawdown for row in rows], dtype=np.float64) * _UNIT,
        owner=np.concatenate([owners, np.array([index[p[0]] for p in positions], dtype=np.intp)]),
        quantity=np.concatenate([np.ones(m), quantity]),
        mark=np.concatenate([value[owners], mark[kind]]),
        multiplier=np.concatenate([np.ones(m), multiplier[kind]]),
        cost=np.concatenate([np.zeros(m), cost]),
        margined=np.concatenate(
            [
                np.zeros(m, dtype=np.bool_),
                np.where(quantity > 0, margined_long[kind], margined_short[kind]),
            ]
        ),
    )


def _moneys(values: NDArray[np.float64], places: int) -> list[Decimal]:
    """Return ``values`` rounded to ``places`` as Decimals, never "-0": whole numbers of
    units scaled (half the cost of formatting each float) while they fit in 64 bits."""
    units = np.rint(values * 10.0**places)
    if len(units) and not np.abs(units).max() < 2.0**62:
        spec = f".{places}f"
        return [Decimal(format(v, spec)) or _ZERO for v in values.tolist()]
    return [Decimal(unit).scaleb(-places) for unit in units.astype(np.int64).tolist()]


#: Lines a board builds per event-loop turn (~2 ms): a board of 10,000 entries holds no other
#: request or client of the process for longer than that.
LINES_PER_TURN: Final = 100


async def _ranked(rows: list[store.BoardRow], book: Book, capital: float) -> Live:
    """Rank the book, then build its lines ``LINES_PER_TURN`` at a time. (In a worker
    thread, the loop would wait for the interpreter lock up to its 5 ms switch interval.)"""
    await asyncio.sleep(0)
    result = standings(book, capital)
    order = result.order()
    ranks = result.rank.tolist()
    rates: dict[tuple[int, int], Decimal] = {}
    lines: list[Standing] = []
    for start in range(0, len(order), LINES_PER_TURN):
        await asyncio.sleep(0)
        chunk = order[start : start + LINES_PER_TURN]
        columns = zip(
            chunk.tolist(),
            _moneys(result.equity[chunk], 2),
            _moneys(result.pnl[chunk], 2),
            _moneys(result.roi[chunk], 4),
            _moneys(result.max_drawdown[chunk], 4),
            strict=True,
        )
        for i, equity, pnl, roi, drawdown in columns:
            row = rows[i]
            played = (row.closed_trades, row.winning_trades)
            rate = rates.get(played)
            if rate is None:
                rate = rates[played] = win_rate(*played)
            lines.append(
                Standing(
                    rank=ranks[i],
                    user_id=row.user_id,
                    username=row.username,
                    equity=equity,
                    pnl=pnl,
                    roi=roi,
                    win_rate=rate,
                    trades=row.trades,
                    max_drawdown=drawdown,
                    prize=None,
                    closed_trades=row.closed_trades,
                    winning_trades=row.winning_trades,
                )
            )
    moved = np.flatnonzero(
        (result.peak > book.peak + 1e-6) | (result.max_drawdown > book.max_drawdown + 1e-6)
    )
    extremes: list[tuple[int, Decimal, Decimal]] = []
    for start in range(0, len(moved), LINES_PER_TURN):
        await asyncio.sleep(0)
        chunk = moved[start : start + LINES_PER_TURN]
        extremes += zip(
            [rows[i].entry_id for i in chunk.tolist()],
            _moneys(result.peak[chunk], 8),
            _moneys(result.max_drawdown[chunk], 8),
            strict=True,
        )
    return Live(lines, extremes)


async def dumped(board: LeaderboardRead) -> dict[str, object]:
    """Return the board as JSON values, its lines dumped ``LINES_PER_TURN`` per loop turn."""
    entries: list[object] = []
    for start in range(0, len(board.entries), LINES_PER_TURN):
        await asyncio.sleep(0)
        entries += _LINES.dump_python(board.entries[start : start + LINES_PER_TURN], mode="json")
    fields: dict[str, object] = board.model_dump(mode="json", exclude={"entries"})
    fields["entries"] = entries
    return {name: fields[name] for name in LeaderboardRead.model_fields}  # in the fields' order


_LINES: Final = TypeAdapter(list[Standing])


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
                closed_trades=e.closed_trades,
                winning_trades=e.winning_trades,
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
    published in the last ``recent.max_age`` seconds, if any), frozen once ended.

    The tournament's status is read first, from the database: once an end has committed (in
    this process or any other), every reader gets the final board, never a running one a
    process kept."""
    t = await find(session, tournament_id)
    if recent is not None:
        if t.status != RUNNING:
            recent.forget(t.id)  # a board kept while it ran is of no use any more
        elif (found := recent.get(t.id)) is not None:
            return found
    if t.status == ENDED:
        entries = await frozen(session, t)
    else:
        entries = (await live(session, market, t, recent.memory if recent else None)).lines
    return LeaderboardRead(
        tournament_id=t.id,
        status=TournamentStatus(t.status),
        as_of=t.ended_at if t.status == ENDED and t.ended_at else clock.now(),
        final=t.status == ENDED,
        entries=entries,
        total=len(entries),
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


async def _my_boards(
    session: AsyncSession,
    clock: Clock,
    market: MarketData,
    caller: Caller,
    recent: Recent | None,
) -> list[tuple[Tournament, LeaderboardRead]]:
    """Return each tournament the caller joined, latest first, with its board."""
    return [
        (t, await leaderboard(session, clock, market, t.id, recent))
        for _, t in await store.entries_of_user(session, caller.user.id)
    ]


async def mine(
    session: AsyncSession,
    clock: Clock,
    market: MarketData,
    caller: Caller,
    recent: Recent | None = None,
) -> list[MyTournament]:
    """Return the tournaments the caller joined, latest first, with their standing."""
    found = []
    for t, board in await _my_boards(session, clock, market, caller, recent):
        line = next((s for s in board.entries if s.user_id == caller.user.id), None)
        found.append(MyTournament(tournament=await read(session, t), standing=line))
    return found


def lines(board: LeaderboardRead) -> list[LeaderboardLine]:
    """Return the board's entries with the paper-tournaments frontend's fields."""
    return [LeaderboardLine.of(board.tournament_id, e, board.as_of) for e in board.entries]


async def my_rankings(
    session: AsyncSession,
    clock: Clock,
    market: MarketData,
    caller: Caller,
    recent: Recent | None = None,
) -> list[LeaderboardLine]:
    """Return the caller's line of every tournament they joined, latest joined first."""
    return [
        line
        for _, board in await _my_boards(session, clock, market, caller, recent)
        for line in lines(board)
        if line.user_id == caller.user.id
    ]


async def participation(
    session: AsyncSession,
    clock: Clock,
    market: MarketData,
    caller: Caller,
    tournament_id: int,
    recent: Recent | None = None,
) -> ParticipationRead:
    """Return the caller's entry with its standing (equity, P&L, rank) on the board now."""
    t, entry = await my_entry(session, caller, tournament_id)
    board = await leaderboard(session, clock, market, t.id, recent)
    line = next((e for e in board.entries if e.user_id == caller.user.id), None)
    equity = line.equity if line is not None else t.starting_capital
    pnl = float(equity - t.starting_capital)
    return ParticipationRead(
        id=entry.id,
        tournament_id=t.id,
        user_id=caller.user.id,
        joined_at=entry.joined_at,
        is_active=t.status != ENDED,
        initial_balance=float(t.starting_capital),
        current_balance=float(equity),
        total_pnl=pnl,
        pnl=pnl,
        rank=line.rank if line is not None else None,
    )


async def participant_status(
    session: AsyncSession,
    clock: Clock,
    market: MarketData,
    caller: Caller,
    tournament_id: int,
    recent: Recent | None = None,
) -> ParticipantStatusRead:
    """Return whether the caller joined the tournament, and their entry if so."""
    me = str(caller.user.id)
    try:
        entry = await participation(session, clock, market, caller, tournament_id, recent)
    except NotJoined:
        return ParticipantStatusRead(joined=False, userId=me)
    return ParticipantStatusRead(joined=True, userId=me, participant=entry)
