"""Measure the tournament leaderboard: 10,000 participants x 20 positions each, recomputed.

Run with ``python -m bench.leaderboard``. Two parts:

- The numpy recompute (``domain.tournaments.standings``: mark every position, sum per
  participant, drawdown, rank by return then entry) against the same computation as a plain
  Python loop (``standings_loop``) on the same book. Target: under 50 ms median.
- The whole live leaderboard from the database (``services.leaderboards.live``: read, rank,
  the lines) on a SQLite file of 10,000 entries x 20 positions, built with ``executemany``,
  against copies of the earlier reads kept here as baselines: ORM objects (entries, names,
  balances and ``PositionRow`` objects, the first version), and the positions as one row of
  columns each (c58a4f8). Each run is its own session and transaction; the medians are over
  ``DB_REPEATS`` runs after a warm-up. Target: under 200 ms median. Also printed: the longest
  time the event loop waited for a turn during a recompute (median of the runs), what other
  requests and clients of the process wait at worst meanwhile.
- The same board from the entries kept in memory (``trading.boards``): with nothing changed
  (no query), and with 1 % of the entries read again each time; and the figures alone from
  memory (marks, sums, drawdowns, ranks: no lines). Targets (issue 16): the recompute under
  50 ms with no database read, the loop never stalled more than 5 ms.
"""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
from sqlalchemy import BigInteger, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.app import build_market
from tradepit.domain.clock import ManualClock
from tradepit.domain.money import SCALE
from tradepit.domain.tournaments import Book, standings, standings_loop, win_rate
from tradepit.market.data import MarketData
from tradepit.schemas.tournaments import Standing
from tradepit.services import leaderboards
from tradepit.settings import Settings
from tradepit.store import tournaments as store
from tradepit.store.db import create_engine, create_sessionmaker
from tradepit.store.migrate import upgrade
from tradepit.store.orders import PositionRow
from tradepit.store.tournaments import Tournament
from tradepit.trading.boards import Boards

PARTICIPANTS = 10_000
POSITIONS = 20
CAPITAL = 1_000_000.0
REPEATS = 15
LOOP_REPEATS = 3
TARGET_MS = 50.0
SEED = 11
DB_REPEATS = 5
DB_TARGET_MS = 200.0
STALL_TARGET_MS = 5.0
MEMORY = "kept in memory (trading.boards)"
MEMORY_CHANGED = "kept, 1 % of entries changed"
#: A Thursday noon in Mumbai: NSE open.
NOW = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)
#: Ten NSE equities, each held as delivery (CNC) and intraday (MIS): 20 positions each.
SYMBOLS = (
    "RELIANCE", "TCS", "INFY", "HDFCBANK", "ICICIBANK", "SBIN", "ITC", "LT", "BHARTIARTL",
    "AXISBANK",
)  # fmt: skip
UNITS = 10**SCALE


def make_book(participants: int = PARTICIPANTS, positions: int = POSITIONS) -> Book:
    """Return a random book: cash, peaks and ``positions`` positions per participant."""
    rng = np.random.default_rng(SEED)
    m = participants * positions
    quantity = rng.integers(-500, 500, m).astype(np.float64)
    mark = rng.uniform(50, 5000, m).round(2)
    return Book(
        entry_id=rng.permutation(participants).astype(np.int64) + 1,
        cash=rng.uniform(0, CAPITAL, participants).round(2),
        peak=np.full(participants, CAPITAL),
        max_drawdown=np.zeros(participants),
        owner=np.repeat(np.arange(participants, dtype=np.intp), positions),
        quantity=quantity,
        mark=mark,
        multiplier=np.ones(m),
        cost=quantity * mark * rng.uniform(0.9, 1.1, m),
        margined=rng.random(m) < 0.2,
    )


def median_ms(func: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Return the median and 90th percentile wall time of ``func`` in ms, after a warm-up."""
    func()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.9 * (len(samples) - 1))]


def fill(path: Path, participants: int = PARTICIPANTS, positions: int = POSITIONS) -> None:
    """Write a running tournament of ``participants`` entries with ``positions`` positions
    each (longs and shorts, delivery and intraday) straight into the migrated SQLite file."""
    rng = np.random.default_rng(SEED)
    now = NOW.replace(tzinfo=None).isoformat(sep=" ")
    capital = 1_000_000 * UNITS
    users = range(1, participants + 1)
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO tournaments (id, name, description, currency, start_time, end_time,"
            " starting_capital, entry_fee, prize_pool, prize_split, rules, status, created_at)"
            " VALUES (1, 'bench', '', 'INR', ?, ?, ?, 0, 0, '[]', '{}', 'running', ?)",
            (now, now, capital, now),
        )
        db.executemany(
            "INSERT INTO users (id, username, username_key, password_hash, role, is_active,"
            " created_at) VALUES (?, ?, ?, 'x', 'user', 1, ?)",
            [(u, f"trader{u}", f"trader{u}", now) for u in users],
        )
        cash = rng.integers(0, capital, participants).tolist()
        db.executemany(
            "INSERT INTO wallets (id, user_id, name, currency, balance, blocked, allow_negative,"
            " created_at) VALUES (?, ?, 'tournament:1', 'INR', ?, 0, 0, ?)",
            [(u, u, cash[u - 1], now) for u in users],
        )
        trades = rng.integers(0, 200, participants).tolist()
        db.executemany(
            "INSERT INTO tournament_entries (id, tournament_id, user_id, wallet_id, joined_at,"
            " trades, closed_trades, winning_trades, peak_equity, max_drawdown)"
            " VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, 0)",
            [(u, u, u, now, trades[u - 1], trades[u - 1] // 2, trades[u - 1] // 4, capital)
             for u in users],
        )  # fmt: skip
        quantity = rng.integers(-50, 51, (participants, positions)) * UNITS
        price = rng.uniform(100, 5000, (participants, positions))
        cost = (quantity * price).astype(np.int64).tolist()
        held = quantity.tolist()
        db.executemany(
            "INSERT INTO positions (user_id, tournament_id, symbol, product, quantity,"
            " cost_basis, realized_gross, charges, blocked, updated_at)"
            " VALUES (?, 1, ?, ?, ?, ?, 0, 0, 0, ?)",
            [
                (u, SYMBOLS[k % len(SYMBOLS)], "CNC" if k < len(SYMBOLS) else "MIS",
                 held[u - 1][k], cost[u - 1][k], now)
                for u in users
                for k in range(positions)
            ],
        )  # fmt: skip


def _money(value: float, places: int = 2) -> Decimal:
    return Decimal(repr(round(value, places))) + 0


async def live_objects(session: AsyncSession, market: MarketData, t: Tournament) -> list[Standing]:
    """The first live leaderboard (baseline): entries, names, balances and every position
    read as ORM objects, a Decimal per value."""
    entries = await store.entries(session, t.id)
    names = await store.usernames(session, [e.user_id for e in entries])
    cash = await store.balances(session, [e.wallet_id for e in entries])
    index = {e.user_id: i for i, e in enumerate(entries)}
    stmt = select(PositionRow).where(PositionRow.tournament_id == t.id, PositionRow.quantity != 0)
    rows = list(await session.scalars(stmt.order_by(PositionRow.id)))
    marks = {s: float(market.tick(s).ltp) for s in {r.symbol for r in rows}}
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
        board.append(
            Standing(
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
        )
    return board


async def live_position_rows(
    session: AsyncSession, market: MarketData, t: Tournament
) -> list[Standing]:
    """The read of the second live leaderboard (c58a4f8): every position as one row of
    columns (user, symbol, product, quantity, cost basis) in raw units, the entries in another
    query; the arrays and the lines are today's."""
    stmt = select(
        PositionRow.user_id,
        PositionRow.symbol,
        PositionRow.product,
        type_coerce(PositionRow.quantity, BigInteger),
        type_coerce(PositionRow.cost_basis, BigInteger),
    ).where(PositionRow.tournament_id == t.id, PositionRow.quantity != 0)
    positions = [(u, s, p, q, c) for u, s, p, q, c in await session.execute(stmt)]
    # Entries with nothing priced by the query: every position goes through the rows.
    rows = await store.board_rows(session, t.id, store.Marks({}, {}))
    book = leaderboards._book(market, rows, positions)
    return (await leaderboards._ranked(rows, book, float(t.starting_capital))).lines


async def live_now(session: AsyncSession, market: MarketData, t: Tournament) -> list[Standing]:
    """Today's live leaderboard: one query, positions summed by the database."""
    return (await leaderboards.live(session, market, t)).lines


class Stalls:
    """While entered, note the longest time the event loop did not get a turn: what every
    other request and client of the process waits at worst meanwhile."""

    def __init__(self) -> None:
        self.longest_ms = 0.0
        self._last = time.perf_counter()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Stalls:
        self._task = asyncio.create_task(self._watch())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self._turn()

    async def _watch(self) -> None:
        self._last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            self._turn()

    def _turn(self) -> None:
        now = time.perf_counter()
        self.longest_ms = max(self.longest_ms, (now - self._last) * 1000)
        self._last = now


async def database() -> tuple[dict[str, tuple[float, float, float]], tuple[float, float]]:
    """Build the tournament on a SQLite file and time each way of computing its leaderboard
    from the database; check they agree. Returns name -> (median, p90, median longest loop
    stall) in ms, and the median and p90 of the figures alone from memory (marks, sums,
    drawdowns, ranks: no lines)."""
    ways: dict[str, Callable[..., Awaitable[list[Standing]]]] = {
        "ORM objects (baseline)": live_objects,
        "position rows (c58a4f8 read)": live_position_rows,
        "one query, summed in SQL": live_now,
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "leaderboard.db"
        url = f"sqlite+aiosqlite:///{path}"
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        started = time.perf_counter()
        fill(path)
        print(f"\nbuilt {PARTICIPANTS} entries x {POSITIONS} positions in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        settings = Settings(_env_file=None, data_dir=Path(tmp), database_url=url)
        market, _, _ = build_market(settings, ManualClock(NOW))
        gc.collect()
        gc.freeze()  # as a started server does (TRADEPIT_GC_FREEZE)
        engine = create_engine(url)
        sessionmaker = create_sessionmaker(engine)
        kept = Boards(sessionmaker)

        async def memory(
            session: AsyncSession, market: MarketData, t: Tournament
        ) -> list[Standing]:
            return (await leaderboards.live(session, market, t, kept)).lines

        async def memory_changed(
            session: AsyncSession, market: MarketData, t: Tournament
        ) -> list[Standing]:
            kept.changed(set(range(1, PARTICIPANTS + 1, 100)))  # 1 % of the entrants traded
            return await memory(session, market, t)

        ways[MEMORY] = memory
        ways[MEMORY_CHANGED] = memory_changed
        boards: dict[str, list[Standing]] = {}
        timings: dict[str, tuple[float, float, float]] = {}
        try:
            for name, way in ways.items():
                samples = []
                stalls = []
                for run in range(DB_REPEATS + 1):
                    gc.collect()  # no run pays for the garbage of the one before
                    watch = Stalls()
                    async with sessionmaker() as session, watch:
                        started = time.perf_counter()
                        t = await session.get(Tournament, 1)
                        assert t is not None
                        boards[name] = await way(session, market, t)
                        if run:  # the first is a warm-up
                            samples.append((time.perf_counter() - started) * 1000)
                    if run:
                        stalls.append(watch.longest_ms)
                samples.sort()
                timings[name] = (
                    statistics.median(samples),
                    samples[int(0.9 * (len(samples) - 1))],
                    statistics.median(stalls),
                )
            async with sessionmaker() as session:
                entries = await kept.entries(session, 1)  # nothing changed: no query
            figures = median_ms(lambda: standings(entries.marked(market).book(), CAPITAL), REPEATS)
        finally:
            await engine.dispose()
    _agree(boards)
    return timings, figures


def _agree(boards: dict[str, list[Standing]]) -> None:
    """Check every way gives the same ranking, equities within a cent (float sums)."""
    first, *others = boards.values()
    assert len(first) == PARTICIPANTS
    for other in others:
        assert [s.user_id for s in other] == [s.user_id for s in first], "rankings differ"
        worst = max(abs(a.equity - b.equity) for a, b in zip(first, other, strict=True))
        assert worst <= Decimal("0.01"), f"equities differ by {worst}"


def main() -> None:
    """Print the numpy recompute against the loop baseline, then the database read."""
    book = make_book()
    fast = standings(book, CAPITAL)
    slow = standings_loop(book, CAPITAL)
    assert (fast.rank == slow.rank).all(), "numpy and the loop disagree on ranks"
    base, base_p90 = median_ms(lambda: standings_loop(book, CAPITAL), LOOP_REPEATS)
    numpy_ms, numpy_p90 = median_ms(lambda: standings(book, CAPITAL), REPEATS)
    print(f"\nLeaderboard recompute, {PARTICIPANTS} participants x {POSITIONS} positions")
    print(f"{'case':<28}  {'median ms':>10}  {'p90 ms':>10}  {'x baseline':>10}")
    print(f"{'Python loop (baseline)':<28}  {base:>10.1f}  {base_p90:>10.1f}  {1.0:>10.2f}")
    print(f"{'numpy':<28}  {numpy_ms:>10.1f}  {numpy_p90:>10.1f}  {numpy_ms / base:>10.3f}")
    verdict = "under" if numpy_ms < TARGET_MS else "OVER"
    print(f"numpy is {base / numpy_ms:.0f}x faster; {verdict} the {TARGET_MS:.0f} ms target")
    timings, (figures, figures_p90) = asyncio.run(database())
    print(f"\nLive leaderboard from SQLite (read + rank + lines), {PARTICIPANTS} x {POSITIONS}")
    print(f"{'case':<28}  {'median ms':>10}  {'p90 ms':>10}  {'x baseline':>10}  "
          f"{'loop stall ms':>13}")  # fmt: skip
    base = next(iter(timings.values()))[0]
    for name, (median, p90, stall) in timings.items():
        print(f"{name:<28}  {median:>10.1f}  {p90:>10.1f}  {median / base:>10.3f}  {stall:>13.1f}")
    now = timings["one query, summed in SQL"][0]
    verdict = "under" if now < DB_TARGET_MS else "OVER"
    print(f"{base / now:.1f}x faster than the baseline; {verdict} the {DB_TARGET_MS:.0f} ms target")
    verdict = "under" if figures < TARGET_MS else "OVER"
    print(f"\nFrom memory, the figures alone (marks, sums, drawdowns, ranks; no query, no lines):"
          f" median {figures:.1f} ms, p90 {figures_p90:.1f} ms; {verdict} the {TARGET_MS:.0f} ms"
          " target")  # fmt: skip
    for name in (MEMORY, MEMORY_CHANGED):
        median, _, stall = timings[name]
        verdict = "under" if median < TARGET_MS and stall < STALL_TARGET_MS else "OVER"
        print(f"{name}: {base / median:.0f}x faster than the baseline; {verdict} the "
              f"{TARGET_MS:.0f} ms and {STALL_TARGET_MS:.0f} ms loop stall targets")  # fmt: skip


if __name__ == "__main__":
    main()
