"""Run every benchmark under ``bench/`` and print medians and ratios to a baseline measured in
the same run: exact-decimal conversions against floats here, then the option analytics, the
simulator, the trigger book, HTTP from outside with ``wrk`` (``bench.http_load``), WebSocket
fan-out and leaderboards.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bench import book, fanout, http_load, leaderboard, options, simulator
from tradepit.domain.money import MAX_UNITS, from_units, to_units
from tradepit.settings import Settings

CONVERSIONS = 20_000
ROUNDS = 5


@dataclass(frozen=True)
class Row:
    """One line of a result table: a name, its median and its baseline."""

    name: str
    median: float
    p90: float
    baseline: float

    @property
    def ratio(self) -> float:
        """Return the median relative to the baseline's median."""
        return self.median / self.baseline


def bench_settings(data_dir: Path) -> Settings:
    """Return settings like the tests': fast Argon2, rate limits that never trigger."""
    return Settings(
        _env_file=None,
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'bench.db'}",
        argon2_time_cost=1,
        argon2_memory_cost_kib=1024,
        argon2_parallelism=1,
        rate_limit="10000000/minute",
        auth_rate_limit="10000000/minute",
    )


def summarize(samples: dict[str, list[float]], baseline: str) -> list[Row]:
    """Return a row per case with its median, 90th percentile and the baseline's median."""
    base = statistics.median(samples[baseline])
    return [
        Row(name, statistics.median(values), statistics.quantiles(values, n=10)[-1], base)
        for name, values in samples.items()
    ]


def per_call_ns(func: Callable[[], object], rounds: int = ROUNDS) -> list[float]:
    """Run ``func`` (which loops over CONVERSIONS items) ``rounds`` times; return ns per item."""
    results = []
    for _ in range(rounds):
        started = time.perf_counter_ns()
        func()
        results.append((time.perf_counter_ns() - started) / CONVERSIONS)
    return results


def bench_conversions() -> list[Row]:
    """Measure exact unit conversions against float conversions of the same amounts."""
    rng = random.Random(42)
    units = [rng.randint(-MAX_UNITS // 1000, MAX_UNITS // 1000) for _ in range(CONVERSIONS)]
    amounts = [from_units(u) for u in units]
    floats = [float(a) for a in amounts]
    reprs = [repr(f) for f in floats]

    def decimal_to_float() -> object:
        return [float(a) for a in amounts]

    def float_to_decimal() -> object:
        return [Decimal(r) for r in reprs]

    def decimal_to_units() -> object:
        return [to_units(a) for a in amounts]

    def units_to_decimal() -> object:
        return [from_units(u) for u in units]

    def round_trip() -> object:
        return [from_units(to_units(a)) for a in amounts]

    samples = {
        "float(Decimal) (baseline)": per_call_ns(decimal_to_float),
        "Decimal(repr(float))": per_call_ns(float_to_decimal),
        "to_units(Decimal)": per_call_ns(decimal_to_units),
        "from_units(int)": per_call_ns(units_to_decimal),
        "from_units(to_units(Decimal))": per_call_ns(round_trip),
    }
    exact = sum(from_units(to_units(a)) == a for a in amounts)
    float_exact = sum(Decimal(f) == a for f, a in zip(floats, amounts, strict=True))
    float_repr = sum(Decimal(r) == a for r, a in zip(reprs, amounts, strict=True))
    print(
        f"\nexactness over {CONVERSIONS} amounts: units round-trip {exact} equal; "
        f"the float holds {float_exact} exactly, its repr gives back {float_repr}"
    )
    return summarize(samples, "float(Decimal) (baseline)")


def print_table(title: str, unit: str, rows: Sequence[Row]) -> None:
    """Print rows as an aligned table of medians, 90th percentiles and ratios."""
    width = max(len(row.name) for row in rows)
    print(f"\n{title}")
    print(f"{'case':<{width}}  {'median ' + unit:>12}  {'p90 ' + unit:>12}  {'× baseline':>10}")
    for row in rows:
        print(f"{row.name:<{width}}  {row.median:>12.1f}  {row.p90:>12.1f}  {row.ratio:>10.2f}")


def main() -> None:
    """Run every benchmark and print the tables."""
    started = time.perf_counter()
    conversions = bench_conversions()
    print_table(f"Amount conversions, {CONVERSIONS} values × {ROUNDS} rounds", "ns", conversions)
    options.main()
    simulator.main()
    book.main()
    http_load.main()
    fanout.main()
    leaderboard.main()
    print(f"\ntotal {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
