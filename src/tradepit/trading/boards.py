"""Each running tournament's entries and positions, kept in memory for its leaderboard.

A running leaderboard is recomputed every second. Read from the database, 10,000 entries of
20 positions each cost ~340 ms of queries per recompute. Kept here instead (in the process
that is its database's only writer, like ``trading.state``): a tournament's entries and
positions are read once, when its board is first asked for, and afterwards only the entries
of users a transaction changed are read again (``store.db.on_users_changed``: two queries for
those users alone). A recompute with nothing changed reads no database at all.

Positions live in flat arrays of slots (owner, kind, quantity, cost basis). An entry read
again frees its slots (quantity and cost zero: they weigh nothing) and takes free ones, so a
change costs what it changes and a recompute is a few numpy passes over every slot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tradepit.domain.money import SCALE
from tradepit.domain.tournaments import Book
from tradepit.market.data import MarketData
from tradepit.store import tournaments as store
from tradepit.store.db import on_users_changed
from tradepit.store.tournaments import BoardRow

_UNIT: Final = 10.0**-SCALE
#: Entries put in memory per event-loop turn (~2 ms for 20 positions each).
ENTRIES_PER_TURN: Final = 200
#: Each user's (symbol, product, quantity, cost basis), in raw 10⁻⁸ units.
Holdings = dict[int, list[tuple[str, str, int, int]]]
#: More changed users than this in one tournament: it is read again whole (one query).
MOST_READ_APART: Final = 2_000


@dataclass
class Entries:
    """One running tournament's entries (``rows``, first joined first) and their non-flat
    positions, as the database last held them."""

    tournament_id: int
    rows: list[BoardRow] = field(default_factory=list)
    index: dict[int, int] = field(default_factory=dict)  # user id -> entry
    by_entry: dict[int, int] = field(default_factory=dict)  # entry id -> entry
    kinds: dict[tuple[str, str], int] = field(default_factory=dict)  # (symbol, product)
    held: list[int] = field(default_factory=list)  # live slots per kind
    slots: dict[int, list[int]] = field(default_factory=dict)  # user id -> their slots
    free: list[int] = field(default_factory=list)
    entry_id: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: Per entry: cash, peak equity and max drawdown (the book's floats).
    money: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 3)))
    owner: NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    kind: NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    quantity: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    cost: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    used: int = 0
    newest: int = 0  # the latest entry kept

    def put(self, rows: Iterable[BoardRow], mine: Holdings) -> None:
        """Replace what is kept of the entries in ``rows`` (their positions: ``mine``)."""
        for row in rows:
            i = self.index.get(row.user_id)
            if i is None:
                i = self.index[row.user_id] = self.by_entry[row.entry_id] = len(self.rows)
                self.rows.append(row)
                if i == len(self.entry_id):
                    size = max(64, 2 * i)
                    self.entry_id, self.money = (
                        _grown(self.entry_id, size),
                        _grown(self.money, size),
                    )
            else:
                self.rows[i] = row
            self.entry_id[i] = row.entry_id
            self.newest = max(self.newest, row.entry_id)
            self.money[i] = (row.cash * _UNIT, row.peak_equity * _UNIT, row.max_drawdown * _UNIT)
            self._release(row.user_id)
            self.slots[row.user_id] = [
                self._take(i, self._kind(symbol, product), quantity, cost)
                for symbol, product, quantity, cost in mine.get(row.user_id, ())
            ]

    def _kind(self, symbol: str, product: str) -> int:
        k = self.kinds.get((symbol, product))
        if k is None:
            k = self.kinds[(symbol, product)] = len(self.kinds)
            self.held.append(0)
        return k

    def _release(self, user_id: int) -> None:
        for slot in self.slots.pop(user_id, ()):
            self.held[int(self.kind[slot])] -= 1
            self.quantity[slot] = self.cost[slot] = 0.0
            self.free.append(slot)

    def _take(self, owner: int, kind: int, quantity: int, cost: int) -> int:
        if self.free:
            slot = self.free.pop()
        else:
            if self.used == len(self.owner):
                size = max(64, 2 * self.used)
                self.owner, self.kind = _grown(self.owner, size), _grown(self.kind, size)
                self.quantity, self.cost = _grown(self.quantity, size), _grown(self.cost, size)
            slot = self.used
            self.used += 1
        self.owner[slot], self.kind[slot] = owner, kind
        self.quantity[slot], self.cost[slot] = quantity * _UNIT, cost * _UNIT
        self.held[kind] += 1
        return slot

    def marked(self, market: MarketData) -> Marked:
        """Return a copy of the entries and positions with each held instrument's price now
        (``Marked.book`` makes the arrays from it later, while this goes on changing).

        Raises ``NotFound`` when a held instrument has no price (the board waits for one)."""
        k = len(self.kinds)
        mark, multiplier, rate = np.zeros(k), np.ones(k), np.ones(k)
        margined_long, margined_short = np.zeros(k, np.bool_), np.zeros(k, np.bool_)
        for (symbol, product), j in self.kinds.items():
            if not self.held[j]:
                continue  # nobody holds it any more: whatever its price, it weighs nothing
            instrument = market.instrument(symbol)
            mark[j] = float(market.tick(symbol).ltp)
            if instrument.settles_in_base:
                rate[j] = mark[j]
            multiplier[j] = float(instrument.multiplier) / rate[j]
            margined_long[j] = instrument.margined(product, True)
            margined_short[j] = instrument.margined(product, False)
        n, used = len(self.rows), self.used
        return Marked(
            rows=list(self.rows),
            entry_id=self.entry_id[:n].copy(),
            money=self.money[:n].copy(),
            owner=self.owner[:used].copy(),
            kind=self.kind[:used].copy(),
            quantity=self.quantity[:used].copy(),
            cost=self.cost[:used].copy(),
            mark=mark,
            multiplier=multiplier,
            rate=rate,
            margined_long=margined_long,
            margined_short=margined_short,
        )

    def holding(self, user_id: int) -> tuple[BoardRow, list[tuple[str, str, float, float]]] | None:
        """Return a user's entry and positions (sorted), or None if they have not joined."""
        i = self.index.get(user_id)
        if i is None:
            return None
        names = {k: key for key, k in self.kinds.items()}
        positions = [
            (*names[int(self.kind[slot])], float(self.quantity[slot]), float(self.cost[slot]))
            for slot in self.slots.get(user_id, ())
        ]
        return self.rows[i], sorted(positions)

    def keep_extremes(self, changes: Iterable[tuple[int, Decimal, Decimal]]) -> None:
        """Note new (entry id, peak equity, max drawdown) figures as the board has just
        written them (``store.tournaments.keep_extremes``)."""
        for entry_id, peak, drawdown in changes:
            i = self.by_entry.get(entry_id)
            if i is not None:
                row = self.rows[i]._replace(
                    peak_equity=int(peak.scaleb(SCALE)), max_drawdown=int(drawdown.scaleb(SCALE))
                )
                self.rows[i] = row
                self.money[i, 1:] = (row.peak_equity * _UNIT, row.max_drawdown * _UNIT)


@dataclass(frozen=True)
class Marked:
    """A copy of a tournament's entries (``rows``, per-entry arrays) and position slots,
    with each kind's mark, multiplier, conversion rate and margining now."""

    rows: list[BoardRow]
    entry_id: NDArray[np.int64]
    money: NDArray[np.float64]
    owner: NDArray[np.intp]
    kind: NDArray[np.intp]
    quantity: NDArray[np.float64]
    cost: NDArray[np.float64]
    mark: NDArray[np.float64]
    multiplier: NDArray[np.float64]
    rate: NDArray[np.float64]
    margined_long: NDArray[np.bool_]
    margined_short: NDArray[np.bool_]

    def book(self) -> Book:
        """Return the arrays ``domain.tournaments.standings`` ranks. A pair settled in its
        base currency (USDJPY) is valued in that currency converted at the mark
        (``Instrument.in_settlement``): its multiplier and cost are divided by the mark."""
        kind = self.kind
        return Book(
            entry_id=self.entry_id,
            cash=self.money[:, 0],
            peak=self.money[:, 1],
            max_drawdown=self.money[:, 2],
            owner=self.owner,
            quantity=self.quantity,
            mark=self.mark[kind],
            multiplier=self.multiplier[kind],
            cost=self.cost / self.rate[kind],
            margined=np.where(
                self.quantity > 0, self.margined_long[kind], self.margined_short[kind]
            ),
        )


class Boards:
    """The entries of the running tournaments whose boards this process recomputes, kept in
    memory. Only for a process that is its database's only writer (the app makes one only
    then; elsewhere a board reads the database, ``services.leaderboards.live``)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._kept: dict[int, Entries] = {}
        self._changed: dict[int, set[int]] = {}  # tournament -> users changed since read
        self._outsiders: set[int] = set()  # tournaments someone not kept may have joined
        on_users_changed(sessionmaker, self.changed)

    def changed(self, user_ids: set[int]) -> None:
        """Note that a transaction that wrote ``user_ids``' trading state has ended: those
        who have entered a kept tournament are read again. Anyone else may have just joined
        it late: the next recompute looks for entries newer than those kept (one query)
        rather than reading every outsider who trades (while a tournament is first read,
        every user is noted)."""
        for tournament_id, users in self._changed.items():
            kept = self._kept.get(tournament_id)
            if kept is None:
                users.update(user_ids)
                continue
            entrants = user_ids & kept.index.keys()
            users.update(entrants)
            if len(entrants) < len(user_ids):
                self._outsiders.add(tournament_id)

    def keep_extremes(
        self, tournament_id: int, changes: Iterable[tuple[int, Decimal, Decimal]]
    ) -> None:
        """Note the new peaks and drawdowns a board has just written."""
        kept = self._kept.get(tournament_id)
        if kept is not None:
            kept.keep_extremes(changes)

    def forget(self, tournament_id: int) -> None:
        """Drop what is kept of a tournament (it no longer runs)."""
        self._kept.pop(tournament_id, None)
        self._changed.pop(tournament_id, None)
        self._outsiders.discard(tournament_id)

    async def stale(self) -> list[str]:
        """Return how the entries kept differ from the database, leaving out the users whose
        change is noted and not yet read again: the check the tests run after each one."""
        problems = []
        for tournament_id, kept in list(self._kept.items()):
            async with self._sessionmaker() as session:
                now = await _read(session, tournament_id)
            if self._kept.get(tournament_id) is not kept:
                continue  # read again meanwhile
            pending = self._changed.get(tournament_id, set())
            joined = tournament_id in self._outsiders  # entries not kept are looked for
            for user_id in now.index.keys() | kept.index.keys():
                if user_id in pending or (joined and user_id not in kept.index):
                    continue
                mine, theirs = kept.holding(user_id), now.holding(user_id)
                if mine != theirs:
                    problems.append(
                        f"tournament {tournament_id}, user {user_id} in memory: {mine}; "
                        f"in the database: {theirs}"
                    )
        return problems

    async def entries(self, session: AsyncSession, tournament_id: int) -> Entries:
        """Return the tournament's entries and positions as the database holds them now
        (committed): those kept, with the changed users' read again."""
        kept = self._kept.get(tournament_id)
        changed = self._changed.get(tournament_id, set())
        joined = tournament_id in self._outsiders
        if kept is not None and not changed and not joined:
            return kept
        # What changes from here on is read again next time.
        self._changed[tournament_id] = set()
        self._outsiders.discard(tournament_id)
        try:
            if kept is not None and joined:
                late = await store.entrants_from(session, tournament_id, kept.newest)
                changed |= set(late) - kept.index.keys()
                if not changed:
                    return kept
            if kept is None or len(changed) > MOST_READ_APART:
                kept = self._kept[tournament_id] = await _read(session, tournament_id)
                return kept
            users = sorted(changed)
            rows = await store.board_rows(session, tournament_id, None, users)
            positions = await store.open_positions(session, tournament_id, users)
            gone = set(users) - {row.user_id for row in rows}
            if any(user in kept.index for user in gone):
                # An entry is gone (its user was deleted): the whole tournament is read again.
                kept = self._kept[tournament_id] = await _read(session, tournament_id)
                return kept
            await _put(kept, rows, positions)
        except BaseException:
            self._kept.pop(tournament_id, None)  # read whole next time
            raise
        return kept


def _grown(array: NDArray[Any], size: int) -> NDArray[Any]:
    """Return ``array`` lengthened to ``size`` rows of zeros."""
    extra = np.zeros((size - len(array), *array.shape[1:]), dtype=array.dtype)
    return np.concatenate([array, extra])


async def _read(session: AsyncSession, tournament_id: int) -> Entries:
    found = Entries(tournament_id)
    await _put(
        found,
        await store.board_rows(session, tournament_id, None),
        await store.open_positions(session, tournament_id),
    )
    return found


async def _put(
    entries: Entries, rows: list[BoardRow], positions: list[tuple[int, str, str, int, int]]
) -> None:
    """Put ``rows`` and their positions in ``entries``, ``ENTRIES_PER_TURN`` per loop turn."""
    mine: Holdings = {}
    for user_id, symbol, product, quantity, cost in positions:
        mine.setdefault(user_id, []).append((symbol, product, quantity, cost))
    for start in range(0, len(rows), ENTRIES_PER_TURN):
        await asyncio.sleep(0)
        entries.put(rows[start : start + ENTRIES_PER_TURN], mine)
