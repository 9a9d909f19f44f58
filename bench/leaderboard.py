"""Measure the tournament leaderboard: 10,000 participants x 20 positions each, recomputed.

Run with ``python -m bench.leaderboard``. The numpy recompute (``domain.tournaments.standings``:
mark every position, sum per participant, drawdown, rank by return then entry) is timed
against the same computation as a plain Python loop (``standings_loop``) on the same book.
Target: under 50 ms median for the numpy recompute.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from tradepit.domain.tournaments import Book, standings, standings_loop

PARTICIPANTS = 10_000
POSITIONS = 20
CAPITAL = 1_000_000.0
REPEATS = 15
LOOP_REPEATS = 3
TARGET_MS = 50.0
SEED = 11


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


def main() -> None:
    """Print the numpy recompute against the loop baseline."""
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


if __name__ == "__main__":
    main()
