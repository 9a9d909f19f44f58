"""Measure the market simulator: unthrottled ticks per second and candle history per symbol.

Run with ``python -m bench.simulator``. Baselines, measured in the same run: a naive pure-Python
random walk, one ``random.gauss`` step per tick, rounded to the tick; once producing bare
tuples of floats and once producing ``Tick`` objects with ``Decimal`` prices (what a feed
hands on). A tick row's ratio is its ticks per second over the matching baseline's, so higher
is better. The candle row's ratio is its budget (1 s) over its median: above 1 is within it.

Targets: at least 100,000 ticks per second on one core; 30 days of 1-minute bars plus a year of
daily bars for one symbol, from a cold start, well under a second.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np

from tradepit.domain.market import Tick
from tradepit.market.catalogue import Catalogue
from tradepit.market.simulator import Simulator

REPEATS = 5
SEED = 42
# A weekday hour when every venue trades (NSE 11:30-12:30 IST).
START = datetime(2026, 3, 4, 6, 0, tzinfo=UTC)
STEP_US = 250_000
HOUR_STEPS = 3600 * 1_000_000 // STEP_US
ITERATOR_SPAN = timedelta(minutes=10)
CANDLE_SYMBOL = "BTC-USDT"
CANDLE_BUDGET = 1.0
BASELINE_TICKS = 200_000


def median_seconds(func: Callable[[int], object], repeats: int = REPEATS) -> float:
    """Return the median wall time of ``func(round)`` over ``repeats`` rounds, after a warm-up."""
    func(0)
    samples = []
    for round_ in range(1, repeats + 1):
        started = time.perf_counter()
        func(round_)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def naive_walk(
    symbols: list[str], prices: list[float], ticks: list[float], count: int, objects: bool
) -> list[object]:
    """Return ``count`` ticks of a per-tick Gaussian random walk over ``symbols``, naively."""
    rng = random.Random(SEED)
    level = list(prices)
    sigma = 0.5 / math.sqrt(365 * 86_400 * 4)
    stamp = START
    step = timedelta(microseconds=STEP_US)
    out: list[object] = []
    n = len(symbols)
    decimals = [Decimal(str(t)) for t in ticks]
    for k in range(count):
        i = k % n
        if i == 0:
            stamp += step
        level[i] *= 1.0 + sigma * rng.gauss(0.0, 1.0)
        units = round(level[i] / ticks[i])
        if objects:
            price = units * decimals[i]
            out.append(
                Tick(
                    symbols[i],
                    stamp,
                    price,
                    price - decimals[i],
                    price + decimals[i],
                    *[Decimal(1)] * 3,
                )
            )
        else:
            out.append((symbols[i], stamp, units * ticks[i]))
    return out


def run() -> list[tuple[str, float, float]]:
    """Return (name, median seconds, ratio) for each case; see the module's docstring."""
    return [(name, seconds, ratio) for name, seconds, ratio, _ in measure()]


def measure() -> list[tuple[str, float, float, int]]:
    """Return (name, median seconds, ratio, ticks per run or 0) for each case."""
    catalogue = Catalogue.load()
    sim = Simulator(catalogue, SEED)
    instruments = sim.instruments
    symbols = [i.symbol for i in instruments]
    prices = [float(i.price) for i in instruments]
    tick_sizes = [float(i.tick_size) for i in instruments]
    base_us = int(START.timestamp()) * 1_000_000 + np.arange(HOUR_STEPS, dtype=np.int64) * STEP_US

    def window(round_: int) -> np.ndarray[tuple[int], np.dtype[np.int64]]:
        # Successive minutes of the same trading day: the day's path is cached, as when live.
        return base_us + (round_ % 3) * 60_000_000

    per_batch = len(sim.tick_batch(symbols, window(0)))
    numeric = median_seconds(lambda r: sim.tick_batch(symbols, window(r)))
    objects = median_seconds(lambda r: sim.tick_batch(symbols, window(r)).to_ticks())

    iterated = 0

    def iterate(round_: int) -> None:
        nonlocal iterated
        begin = START + timedelta(minutes=10 * round_)
        iterated = sum(1 for _ in sim.ticks(begin, begin + ITERATOR_SPAN))

    iterator = median_seconds(iterate)

    def cold(round_: int) -> None:
        fresh = Simulator(catalogue, SEED + round_)
        fresh.tick_batch(symbols, window(0)).to_ticks()

    cold_seconds = median_seconds(cold)

    def candles(round_: int) -> None:
        fresh = Simulator(catalogue, SEED + round_)
        end = START + timedelta(days=round_)
        fresh.candles(CANDLE_SYMBOL, "1m", end - timedelta(days=30), end)
        fresh.candles(CANDLE_SYMBOL, "1d", end - timedelta(days=365), end)

    candle_seconds = median_seconds(candles)

    floats = median_seconds(
        lambda _: naive_walk(symbols, prices, tick_sizes, BASELINE_TICKS, objects=False)
    )
    naive_objects = median_seconds(
        lambda _: naive_walk(symbols, prices, tick_sizes, BASELINE_TICKS, objects=True)
    )
    float_rate = BASELINE_TICKS / floats
    object_rate = BASELINE_TICKS / naive_objects
    n = len(symbols)
    return [
        (
            f"tick_batch: {n} instruments x 1 h at 250 ms, arrays",
            numeric,
            per_batch / numeric / float_rate,
            per_batch,
        ),
        (
            f"tick_batch + to_ticks: {n} instruments x 1 h, Tick objects",
            objects,
            per_batch / objects / object_rate,
            per_batch,
        ),
        (
            f"ticks(): {n} instruments x 10 min, Tick objects",
            iterator,
            iterated / iterator / object_rate,
            iterated,
        ),
        (
            "cold start: new simulator, then the 1 h of Tick objects",
            cold_seconds,
            per_batch / cold_seconds / object_rate,
            per_batch,
        ),
        (
            f"candles {CANDLE_SYMBOL}, cold: 30 d of 1m + 1 y of 1d (ratio: 1 s / median)",
            candle_seconds,
            CANDLE_BUDGET / candle_seconds,
            0,
        ),
        ("naive random.gauss walk, float tuples (baseline)", floats, 1.0, BASELINE_TICKS),
        ("naive random.gauss walk, Tick objects (baseline)", naive_objects, 1.0, BASELINE_TICKS),
    ]


def main() -> None:
    """Print the table of medians, tick rates and ratios."""
    results = measure()
    width = max(len(name) for name, _, _, _ in results)
    print("\nMarket simulator, one core (ratio: ticks/s over the matching naive walk's)")
    print(f"{'case':<{width}}  {'median':>11}  {'ticks/s':>11}  {'ratio':>7}")
    for name, seconds, ratio, count in results:
        rate = f"{count / seconds:,.0f}" if count else "-"
        print(f"{name:<{width}}  {seconds * 1e3:>8.1f} ms  {rate:>11}  {ratio:>6.2f}x")
    print("\ntargets: >= 100,000 ticks/s; candles for one symbol well under 1 s")


if __name__ == "__main__":
    main()
