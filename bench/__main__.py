"""Measure request latencies against ``GET /health`` and exact-decimal conversions against floats.

Everything runs in this process: the app behind ``httpx.ASGITransport`` on a temporary SQLite
file, with cheap Argon2 settings and rate limits that never trigger. No network is used.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx

from bench import book, fanout, leaderboard, options, orders, simulator
from tradepit.app import create_app
from tradepit.domain.money import MAX_UNITS, from_units, to_units
from tradepit.settings import Settings
from tradepit.store.db import create_engine
from tradepit.store.migrate import upgrade

REQUESTS = 300
WARMUP = 30
CONVERSIONS = 20_000
ROUNDS = 5
PASSWORD = "bench-password-1"


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


async def credentials(http: httpx.AsyncClient) -> tuple[dict[str, str], dict[str, str]]:
    """Register a user; return headers with a bearer token and with an API key."""
    response = await http.post("/api/register", json={"username": "bench", "password": PASSWORD})
    response.raise_for_status()
    response = await http.post("/api/login", json={"username": "bench", "password": PASSWORD})
    response.raise_for_status()
    bearer = {"Authorization": f"Bearer {response.json()['access_token']}"}
    response = await http.post("/api/auth/api-keys", json={"name": "bench"}, headers=bearer)
    response.raise_for_status()
    return bearer, {"X-API-Key": response.json()["key"]}


async def time_requests(
    cases: dict[str, Callable[[], Awaitable[httpx.Response]]], count: int
) -> dict[str, list[float]]:
    """Run every case ``count`` times, interleaved; return each one's latencies in µs."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(count):
        for name, call in cases.items():
            started = time.perf_counter_ns()
            response = await call()
            elapsed = time.perf_counter_ns() - started
            if response.status_code != 200:
                raise RuntimeError(f"{name} answered {response.status_code}: {response.text}")
            samples[name].append(elapsed / 1000)
    return samples


def summarize(samples: dict[str, list[float]], baseline: str) -> list[Row]:
    """Return a row per case with its median, 90th percentile and the baseline's median."""
    base = statistics.median(samples[baseline])
    return [
        Row(name, statistics.median(values), statistics.quantiles(values, n=10)[-1], base)
        for name, values in samples.items()
    ]


async def bench_requests() -> list[Row]:
    """Measure authenticated requests against the unauthenticated health check."""
    with tempfile.TemporaryDirectory(prefix="tradepit-bench-") as folder:
        settings = bench_settings(Path(folder))
        engine = create_engine(settings.db_url)
        await upgrade(engine)
        await engine.dispose()
        app = create_app(settings)
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                bearer, api_key = await credentials(http)
                cases: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
                    "GET /health (baseline)": lambda: http.get("/health"),
                    "GET /api/auth/me, bearer token": lambda: http.get(
                        "/api/auth/me", headers=bearer
                    ),
                    "GET /api/auth/me, API key": lambda: http.get("/api/auth/me", headers=api_key),
                }
                await time_requests(cases, WARMUP)
                samples = await time_requests(cases, REQUESTS)
        finally:
            await app.state.wiring.engine.dispose()
    return summarize(samples, "GET /health (baseline)")


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
    rows = asyncio.run(bench_requests())
    print_table(f"HTTP in process, {REQUESTS} requests each (after {WARMUP} warm-up)", "µs", rows)
    conversions = bench_conversions()
    print_table(f"Amount conversions, {CONVERSIONS} values × {ROUNDS} rounds", "ns", conversions)
    options.main()
    simulator.main()
    book.main()
    orders.main()
    fanout.main()
    leaderboard.main()
    print(f"\ntotal {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
