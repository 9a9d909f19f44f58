"""Measure MARKET order placement over HTTP, end to end, against ``GET /health``.

Run with ``python -m bench.orders``. A real ``tradepit serve`` runs as a subprocess on
loopback (embedded SQLite in a temporary data directory, market always open, cheap Argon2,
rate limits that never trigger). ``WORKERS`` concurrent clients first send ``REQUESTS``
health checks, the baseline (a bare GET that touches no database), then ``REQUESTS`` MARKET
buys, each filled and committed (order, fill, position, ledger) before it is answered, then,
for scale only, ``REQUESTS`` logged-in reads of the wallet (token, user, one query).

Target: order throughput at least 0.35 of the health check's.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.server import serving

REQUESTS = 1_500
WARMUP = 50
WORKERS = 8
#: A phase stops early after this many seconds, to keep the whole run under a minute.
PHASE_LIMIT = 25.0
TARGET = 0.35
PASSWORD = "bench-password-1"


@dataclass(frozen=True)
class Result:
    """One phase: how many requests, in how long, and their latencies in seconds."""

    name: str
    latencies: list[float]
    seconds: float

    @property
    def throughput(self) -> float:
        """Return requests per second over the phase's wall time."""
        return len(self.latencies) / self.seconds

    @property
    def p50(self) -> float:
        """Return the median latency in seconds."""
        return statistics.median(self.latencies)

    @property
    def p99(self) -> float:
        """Return the 99th-percentile latency in seconds."""
        return statistics.quantiles(self.latencies, n=100)[-1]


async def login(http: httpx.AsyncClient) -> dict[str, str]:
    """Register the bench user; return bearer-token headers."""
    response = await http.post("/api/register", json={"username": "bench", "password": PASSWORD})
    response.raise_for_status()
    response = await http.post("/api/login", json={"username": "bench", "password": PASSWORD})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def phase(
    name: str, call: Callable[[int], Awaitable[httpx.Response]], expect: int, count: int
) -> Result:
    """Send ``count`` requests from ``WORKERS`` concurrent workers; time each one."""
    numbers: Iterator[int] = itertools.count()
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + PHASE_LIMIT

    async def worker() -> None:
        for number in numbers:
            if number >= count or time.perf_counter() > deadline:
                return
            sent = time.perf_counter()
            response = await call(number)
            latencies.append(time.perf_counter() - sent)
            if response.status_code != expect:
                raise RuntimeError(f"{name} answered {response.status_code}: {response.text}")

    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return Result(name, latencies, time.perf_counter() - started)


async def bench(base_url: str) -> list[Result]:
    """Measure health checks, then MARKET orders, on the running server."""
    limits = httpx.Limits(max_connections=WORKERS, max_keepalive_connections=WORKERS)
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0, limits=limits) as http:
        headers = await login(http)

        def health(_: int) -> Awaitable[httpx.Response]:
            return http.get("/health")

        def order(number: int) -> Awaitable[httpx.Response]:
            symbol = ("ITC", "SBIN", "TCS", "INFY")[number % 4]
            body = {
                "symbol": symbol,
                "order_type": "MARKET",
                "order_side": "BUY",
                "quantity": "1",
                "product": "MIS",
                "client_order_id": f"bench-{number:07d}",
            }
            return http.post("/api/paper-trading/orders", json=body, headers=headers)

        def wallet(_: int) -> Awaitable[httpx.Response]:
            return http.get("/api/paper-trading/wallet", headers=headers)

        await phase("warm-up health", health, 200, WARMUP)
        await phase("warm-up orders", lambda n: order(REQUESTS + n), 201, WARMUP)
        baseline = await phase("GET /health (baseline)", health, 200, REQUESTS)
        orders = await phase("POST MARKET order, filled + committed", order, 201, REQUESTS)
        # For scale, not a target: a logged-in read (token, user, one query, JSON answer).
        read = await phase("GET wallet (logged-in read, for scale)", wallet, 200, REQUESTS)
    return [baseline, orders, read]


async def run_server() -> list[Result]:
    """Start ``tradepit serve`` in a temporary data directory, bench it, stop it."""
    with tempfile.TemporaryDirectory(prefix="tradepit-bench-orders-") as folder:
        async with serving(Path(folder) / "data", "server") as server:
            return await bench(server.base_url)


def run() -> list[Result]:
    """Return the baseline's, the orders' and the logged-in read's results."""
    return asyncio.run(run_server())


def main() -> None:
    """Print throughput, p50 and p99 of both phases and the orders/health ratio."""
    baseline, orders, read = run()
    width = max(len(r.name) for r in (baseline, orders, read))
    print(
        f"\nHTTP end to end against `tradepit serve` on loopback (SQLite), {WORKERS} workers, "
        f"{REQUESTS:,} requests each"
    )
    print(f"{'case':<{width}}  {'requests':>8}  {'req/s':>8}  {'p50 ms':>8}  {'p99 ms':>8}")
    for r in (baseline, orders, read):
        print(
            f"{r.name:<{width}}  {len(r.latencies):>8}  {r.throughput:>8.0f}  "
            f"{r.p50 * 1e3:>8.2f}  {r.p99 * 1e3:>8.2f}"
        )
    ratio = orders.throughput / baseline.throughput
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(f"\ntarget: orders/health throughput ≥ {TARGET} → {ratio:.3f} ({verdict})")
    print(f"for scale: logged-in read/health {read.throughput / baseline.throughput:.3f}")


if __name__ == "__main__":
    main()
