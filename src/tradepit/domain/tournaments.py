"""Tournaments: the lifecycle, prize splits and the leaderboard's arithmetic.

The live leaderboard is analytics (it moves no money): it is computed with numpy in float64
over every participant's cash and positions at once. The final standings that decide prizes
are computed exactly (``Decimal``) once, at the end. Both rank the same way: by return %
(highest first), then by entry id (who joined first), so ties are broken deterministically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from tradepit.domain.errors import InvalidInput
from tradepit.domain.money import plain, quote_to_base

_UNIT = Decimal("1e-8")


class TournamentStatus(StrEnum):
    """Where a tournament is in its life: scheduled -> running -> ended (or cancelled)."""

    SCHEDULED = "scheduled"
    RUNNING = "running"
    ENDED = "ended"
    CANCELLED = "cancelled"


class InvalidPrizeSplit(InvalidInput):
    """The prize split is not a list of positive percentages summing to at most 100."""

    code = "INVALID_PRIZE_SPLIT"


class RuleBroken(InvalidInput):
    """An order breaks one of the tournament's rules (named first in the message)."""

    code = "TOURNAMENT_RULE"


@dataclass(frozen=True)
class PositionLimits:
    """The rules that bound an entry's position in one instrument: whether it may go short,
    and its largest value as a % of the starting capital (None: no limit)."""

    allow_shorts: bool
    max_position_pct: Decimal | None
    starting_capital: Decimal


def reduces(held: Decimal, after: Decimal) -> bool:
    """Tell whether going from ``held`` to ``after`` only reduces the position (toward flat,
    never past it)."""
    return held != 0 and after * held >= 0 and abs(after) <= abs(held)


def check_position(
    limits: PositionLimits,
    held: Decimal,
    change: Decimal,
    price: Decimal,
    multiplier: Decimal,
    *,
    settles_in_base: bool = False,
) -> None:
    """Refuse a trade of ``change`` (signed: + buys, - sells) at ``price`` that would leave the
    position ``held`` short without ``allow_shorts``, or worth more than ``max_position_pct``
    of the starting capital. A trade that only reduces the position is never refused: these
    rules are checked when an order is placed or modified (for what is left of it) and again
    at each of its fills, and a position must always be closable. ``settles_in_base``: the
    worth is converted at ``price`` (``Instrument.settles_in_base``)."""
    after = held + change
    if reduces(held, after):
        return
    if after < 0 and not limits.allow_shorts:
        raise RuleBroken(f"allow_shorts: short selling is not allowed (you hold {plain(held)})")
    if limits.max_position_pct is not None:
        limit = limits.starting_capital * limits.max_position_pct / 100
        size = abs(after) * price * multiplier
        if settles_in_base:
            size = quote_to_base(size, price)
        if size > limit:
            raise RuleBroken(
                f"max_position_pct: the position would be worth {plain(size)}, above "
                f"{plain(limits.max_position_pct)}% of the starting capital ({plain(limit)})"
            )


def split_prizes(pool: Decimal, split: Sequence[Decimal], places: int) -> list[Decimal]:
    """Return the prize of each of the first ``places`` ranks: ``pool x split[i] / 100``
    rounded down to 10⁻⁸, so the prizes never add up to more than the pool."""
    if any(p <= 0 for p in split) or sum(split, Decimal(0)) > 100:
        raise InvalidPrizeSplit("prize_split must be positive percentages summing to at most 100")
    return [(pool * p / 100).quantize(_UNIT, ROUND_DOWN) for p in split[:places]]


def win_rate(closed: int, won: int) -> Decimal:
    """Return the % of closed trades with a positive net P&L (0 with none closed)."""
    if closed == 0:
        return Decimal(0)
    return (Decimal(100) * won / closed).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Book:
    """Every participant's money and positions, as arrays.

    Per participant ``i``: ``cash[i]`` (the tournament wallet's balance), ``peak[i]`` and
    ``max_drawdown[i]`` (% so far), ``entry_id[i]``. Per position ``j``: the participant
    ``owner[j]``, ``quantity[j]``, ``mark[j]``, ``multiplier[j]`` and ``cost[j]``, with
    ``margined[j]`` when it is carried on margin (valued at its unrealized P&L).
    """

    entry_id: NDArray[np.int64]
    cash: NDArray[np.float64]
    peak: NDArray[np.float64]
    max_drawdown: NDArray[np.float64]
    owner: NDArray[np.intp]
    quantity: NDArray[np.float64]
    mark: NDArray[np.float64]
    multiplier: NDArray[np.float64]
    cost: NDArray[np.float64]
    margined: NDArray[np.bool_]


@dataclass(frozen=True)
class Standings:
    """The leaderboard's figures per participant (same order as the book) and the ranks."""

    equity: NDArray[np.float64]
    pnl: NDArray[np.float64]
    roi: NDArray[np.float64]
    peak: NDArray[np.float64]
    max_drawdown: NDArray[np.float64]
    rank: NDArray[np.int64]

    def order(self) -> NDArray[np.intp]:
        """Return the participants' indexes from rank 1 down."""
        return np.argsort(self.rank, kind="stable")


def standings(book: Book, capital: float) -> Standings:
    """Mark every position, sum per participant, and rank by return %."""
    value = book.quantity * book.mark * book.multiplier - np.where(book.margined, book.cost, 0.0)
    held = np.bincount(book.owner, weights=value, minlength=len(book.cash))
    equity = book.cash + held
    pnl = equity - capital
    roi = pnl / capital * 100.0 if capital > 0 else np.zeros_like(pnl)
    peak = np.maximum(book.peak, equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        drawdown = np.where(peak > 0, (peak - equity) / peak * 100.0, 0.0)
    return Standings(
        equity=equity,
        pnl=pnl,
        roi=roi,
        peak=peak,
        max_drawdown=np.maximum(book.max_drawdown, drawdown),
        rank=ranks(roi, book.entry_id),
    )


def ranks(roi: NDArray[np.float64], entry_id: NDArray[np.int64]) -> NDArray[np.int64]:
    """Return each participant's rank: highest return first, then the earlier entry."""
    order = np.lexsort((entry_id, -roi))
    rank = np.empty(len(roi), dtype=np.int64)
    rank[order] = np.arange(1, len(roi) + 1)
    return rank


def standings_loop(book: Book, capital: float) -> Standings:
    """The same as ``standings`` with plain Python lists and loops (the benchmark's baseline)."""
    owner, quantity, mark = book.owner.tolist(), book.quantity.tolist(), book.mark.tolist()
    multiplier, cost, margined = (
        book.multiplier.tolist(),
        book.cost.tolist(),
        book.margined.tolist(),
    )
    cash, peaks, drawdowns = book.cash.tolist(), book.peak.tolist(), book.max_drawdown.tolist()
    held = [0.0] * len(cash)
    for j, i in enumerate(owner):
        held[i] += quantity[j] * mark[j] * multiplier[j] - (cost[j] if margined[j] else 0.0)
    equity, pnl, roi, peak, dd = [], [], [], [], []
    for i, money in enumerate(cash):
        e = money + held[i]
        p = max(peaks[i], e)
        equity.append(e)
        pnl.append(e - capital)
        roi.append((e - capital) / capital * 100.0 if capital > 0 else 0.0)
        peak.append(p)
        dd.append(max(drawdowns[i], (p - e) / p * 100.0 if p > 0 else 0.0))
    ids = book.entry_id.tolist()
    rank = [0] * len(cash)
    for place, i in enumerate(sorted(range(len(cash)), key=lambda i: (-roi[i], ids[i])), 1):
        rank[i] = place
    return Standings(
        equity=np.array(equity),
        pnl=np.array(pnl),
        roi=np.array(roi),
        peak=np.array(peak),
        max_drawdown=np.array(dd),
        rank=np.array(rank, dtype=np.int64),
    )


def final_order(returns: Sequence[tuple[int, Decimal]]) -> list[int]:
    """Return the entry ids of exact final ``(entry_id, roi)`` pairs from rank 1 down."""
    return [entry for entry, _ in sorted(returns, key=lambda r: (-r[1], r[0]))]
