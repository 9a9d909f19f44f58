"""Running tournaments: start and end at the set times, the live leaderboard every second,
and at the end the final standings and the prizes, exactly once.

Each transition is one conditional update (``... WHERE status = 'running'``) in the same
transaction as what it does, so two schedulers (or an admin and a scheduler) racing get one
winner, and a crash half-way leaves the tournament as it was, to be done again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tradepit.bus import Bus
from tradepit.domain.clock import Clock, wall_seconds_until
from tradepit.domain.errors import NotFound
from tradepit.domain.ledger import Posting
from tradepit.domain.orders import Product
from tradepit.domain.positions import Position
from tradepit.domain.tournaments import TournamentStatus, final_order, split_prizes
from tradepit.market.data import MarketData
from tradepit.schemas.tournaments import LeaderboardRead, TournamentRead
from tradepit.services import leaderboards, orders, tournaments, wallets
from tradepit.services.callers import Caller
from tradepit.services.execution import cancel_rest
from tradepit.services.tournaments import ENDED, HOUSE, RUNNING, SCHEDULED, TournamentState
from tradepit.store import orders as order_store
from tradepit.store import tournaments as store
from tradepit.store import wallets as wallet_store
from tradepit.store.db import after_commit, commit
from tradepit.store.tournaments import Tournament, TournamentEntry
from tradepit.store.wallets import Wallet

log = logging.getLogger("tradepit.tournaments")


async def start(
    session: AsyncSession,
    clock: Clock,
    wall: Clock,
    tournament_id: int,
    caller: Caller | None = None,
) -> TournamentRead:
    """Start a scheduled tournament (now, when an admin asks before its start time)."""
    t = await tournaments.find(session, tournament_id, lock=True)
    if not await store.move(session, t.id, SCHEDULED, RUNNING):
        raise TournamentState(f"tournament {t.id} is {t.status}: only a scheduled one starts")
    now = clock.now()
    t.status, t.started_at = RUNNING, now
    if caller is not None:
        t.start_time = min(t.start_time, now)
        tournaments.audit_action(session, wall, caller, "admin.tournament.start", t)
    return await tournaments.read(session, t)


def final_price(market: MarketData, symbol: str, at: datetime) -> Decimal:
    """Return the price a position is marked at when the tournament ends at ``at``: the price
    source's price of that instant (the same after a restart), else the last price."""
    try:
        return market.source.price_at(symbol, at)
    except NotFound:
        return market.tick(symbol).ltp


async def finish(
    session: AsyncSession,
    clock: Clock,
    wall: Clock,
    market: MarketData,
    book: orders.Book,
    bus: Bus,
    tournament_id: int,
    caller: Caller | None = None,
) -> TournamentRead:
    """End a running tournament: cancel its resting orders, mark its positions at the final
    price, freeze the ranks and pay the prizes to the winners' main wallets, all at once; the
    final leaderboard is published once the transaction commits."""
    t = await tournaments.find(session, tournament_id, lock=True)
    entries = await store.entries(session, t.id)
    for user_id in sorted(e.user_id for e in entries):  # the lock order of every writer
        await wallet_store.lock_user(session, user_id)
    if not await store.move(session, t.id, RUNNING, ENDED):
        raise TournamentState(f"tournament {t.id} is {t.status}: only a running one ends")
    now = clock.now()
    at = min(now, t.end_time)
    t.status, t.ended_at, t.end_time = ENDED, now, at
    for order in await order_store.tournament_resting(session, t.id):
        instrument = market.instrument(order.symbol)
        await cancel_rest(session, clock, instrument, order, "the tournament ended")
        orders.announce(session, book, order, "canceled")
        after_commit(session, functools.partial(book.forget, order.id))
    equity = {e.id: await _final_equity(session, market, t, e, at) for e in entries}
    capital = t.starting_capital
    ranked = final_order([(e.id, (equity[e.id] - capital) / capital) for e in entries])
    prizes = split_prizes(t.prize_pool, [Decimal(p) for p in t.prize_split], len(ranked))
    by_id = {e.id: e for e in entries}
    for rank, entry_id in enumerate(ranked, start=1):
        entry = by_id[entry_id]
        entry.rank, entry.final_equity = rank, equity[entry_id]
        entry.prize = prizes[rank - 1] if rank <= len(prizes) else Decimal(0)
        if entry.final_equity < entry.peak_equity:
            fall = (entry.peak_equity - entry.final_equity) / entry.peak_equity * 100
            entry.max_drawdown = max(entry.max_drawdown, fall.quantize(Decimal("1e-8")))
        if entry.prize > 0:
            await _pay(session, clock, t, entry)
    if caller is not None:
        tournaments.audit_action(session, wall, caller, "admin.tournament.end", t)
    await session.flush()
    final = _event(
        (await leaderboards.leaderboard(session, clock, market, t.id)).model_dump(mode="json")
    )
    after_commit(session, lambda: bus.publish(tournaments.topic(t.id), final))
    return await tournaments.read(session, t)


async def _final_equity(
    session: AsyncSession, market: MarketData, t: Tournament, entry: TournamentEntry, at: datetime
) -> Decimal:
    wallet = await session.get(Wallet, entry.wallet_id, populate_existing=True)
    assert wallet is not None
    equity = wallet.balance
    for row in await order_store.positions_of(session, entry.user_id, t.id):
        if row.quantity == 0:
            continue
        instrument = market.instrument(row.symbol)
        position = Position(
            row.user_id, row.symbol, Product(row.product), quantity=row.quantity,
            cost_basis=row.cost_basis, realized_gross=row.realized_gross, charges=row.charges,
        )  # fmt: skip
        mark = final_price(market, row.symbol, at)
        if instrument.margined(row.product, long=row.quantity > 0):
            equity += position.unrealized(
                mark, instrument.multiplier, settles_in_base=instrument.settles_in_base
            )
        else:
            equity += position.market_value(mark, instrument.multiplier)
    return equity


async def _pay(session: AsyncSession, clock: Clock, t: Tournament, entry: TournamentEntry) -> None:
    assert entry.prize is not None
    main = await wallet_store.find_wallet(session, entry.user_id, wallets.CASH, t.currency)
    if main is None:
        log.warning("user %s has no %s wallet for their prize", entry.user_id, t.currency)
        return
    house = await wallet_store.system_wallet_id(session, HOUSE, t.currency, clock.now())
    await wallets.post(
        session,
        clock,
        kind="tournament_prize",
        reference=f"tournament:{t.id}",
        memo=f"rank {entry.rank}",
        postings=[
            Posting(house, t.currency, -entry.prize),
            Posting(main.id, t.currency, entry.prize),
        ],
    )


class Scheduler:
    """Start and end tournaments at their times; recompute and publish running leaderboards
    every ``interval`` wall seconds."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        market: MarketData,
        bus: Bus,
        book: orders.Book,
        *,
        wall: Clock,
        interval: float = 1.0,
        recent: leaderboards.Recent | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.wall = wall
        self.market = market
        self.bus = bus
        self.book = book
        self.interval = interval
        #: Where readers find the leaderboards published last (``leaderboards.leaderboard``).
        self.recent = recent if recent is not None else leaderboards.Recent()

    async def run(self) -> None:
        """Run until cancelled."""
        while True:
            try:
                await self.step()
                delay = await self.seconds_to_next()
            except Exception:  # one bad tournament must not stop the schedule
                log.exception("tournament scheduler failed")
                delay = self.interval
            await asyncio.sleep(delay)

    async def seconds_to_next(self) -> float:
        """Return the wall seconds until the next start or end, at most ``interval``."""
        async with self.sessionmaker() as session:
            at = await store.next_change(session)
        if at is None:
            return self.interval
        seconds = wall_seconds_until(self.clock, at)
        return max(0.0, min(seconds, self.interval))

    async def step(self) -> None:
        """Start what is due, end what is due, then publish every running leaderboard."""
        now = self.clock.now()
        async with self.sessionmaker() as session:
            starting = await store.due(session, SCHEDULED, "start", now)
            ending = await store.due(session, RUNNING, "end", now)
            running = [t.id for t in await store.running(session)]
        # Each tournament on its own: one that fails (logged, retried next time) stops no other.
        for what, ids in (("start", starting), ("end", ending), ("publish", running)):
            for tournament_id in ids:
                try:
                    await self._once(tournament_id, what)
                except Exception:
                    log.exception("tournament %s: %s failed", tournament_id, what)

    async def _once(self, tournament_id: int, what: str) -> None:
        if what == "publish":
            await self.publish(tournament_id)
            return
        async with self.sessionmaker() as session:
            try:
                if what == "start":
                    await start(session, self.clock, self.wall, tournament_id)
                else:
                    await finish(
                        session,
                        self.clock,
                        self.wall,
                        self.market,
                        self.book,
                        self.bus,
                        tournament_id,
                    )
            except (TournamentState, NotFound):
                return  # another scheduler (or an admin) did it first
            await commit(session)
        if what != "publish":
            log.info("tournament %s: %s", tournament_id, what)

    async def publish(self, tournament_id: int) -> None:
        """Recompute a running leaderboard, keep each entry's peak and drawdown, publish.

        The board is read outside a transaction: on SQLite it is read apart from the pool's
        only connection (``db.read_apart``), which orders and the rest use meanwhile."""
        async with self.sessionmaker() as session:
            t = await session.get(Tournament, tournament_id)
            if t is None or t.status != RUNNING:
                self.recent.forget(tournament_id)
                return
            await session.commit()  # nothing written: hands the connection back meanwhile
            board = await leaderboards.live(session, self.market, t, self.recent.memory)
            read = LeaderboardRead(
                tournament_id=t.id,
                status=TournamentStatus(t.status),
                as_of=self.clock.now(),
                final=False,
                entries=board.lines,
                total=len(board.lines),
            )
            message = _event(await leaderboards.dumped(read))
            # The short transaction that keeps the extremes begins, the tournament's row locked
            # as an end locks it: an end under way is waited for, and an ended tournament's
            # final board stays the last one published and kept (never followed by this one).
            t = await tournaments.find(session, tournament_id, lock=True)
            if t.status != RUNNING:  # ended meanwhile: its final board is the one that counts
                return
            await store.keep_extremes(session, board.extremes)
            after_commit(session, lambda: self.recent.put(read))
            if self.recent.memory is not None:
                kept = self.recent.memory
                after_commit(session, lambda: kept.keep_extremes(t.id, board.extremes))
            after_commit(session, lambda: self.bus.publish(tournaments.topic(t.id), message))
            await commit(session)


def _event(board: dict[str, object]) -> dict[str, object]:
    return {"type": "leaderboard", **board}
