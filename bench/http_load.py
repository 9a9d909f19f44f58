"""Measure running Tradepit servers from outside with ``wrk``, a C load generator.

Run with ``python -m bench.http_load [seconds per case] [rounds] [shapes]``. Each deployment
shape (``SHAPES``: one ``tradepit serve`` on SQLite, one on PostgreSQL, and an engine with a
pool of two API workers on PostgreSQL and Redis; comma-separated, all by default) runs as real
subprocesses on loopback (a temporary data directory and a scratch PostgreSQL database, market
always open, cheap Argon2, rate limits that never trigger); a shape whose services are not
there is reported as not measured. For every case, ``wrk`` sends the same request
over ``CONNECTIONS`` keep-alive connections for a fixed time; the baseline, ``GET /health``,
touches no database and no identity, so each ratio says what a route costs the server beyond
answering HTTP at all; each shape is measured against its own baseline. Cases run
interleaved for ``ROUNDS`` rounds and each figure is the median of its rounds (the machine is
noisy).

A Python client caps ``GET /health`` near 1,000/s on two cores and would make the baseline
measure the client; ``wrk`` reaches the server's own ceiling. ``wrk`` is installed by
``make bench`` (Debian's ``wrk`` package) when it is missing.

Targets (issue 16): MARKET orders at least 0.3 times the baseline at 32 connections, order p99
under 15 ms at 4 connections, authenticated reads at least 0.5 times the baseline.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis.asyncio as redis

from bench.server import running, scratch_postgres, server_env, serving

CONNECTIONS = 32
FEW_CONNECTIONS = 4
THREADS = 2
SECONDS = 5
ROUNDS = 3
PASSWORD = "bench-password-1"

#: Prints one JSON line with what a run measured (wrk calls ``done`` once, after the run).
REPORT = """
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %f, "p50_us": %d, "p99_us": %d, "non_2xx": %d, '
    .. '"socket_errors": %d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
"""

#: MARKET buys of one share, each with its own ``client_order_id`` (per wrk thread and round).
ORDERS = """
local counter = 0
local thread_number = 0
local symbols = {"ITC", "SBIN", "TCS", "INFY"}
setup = function(thread)
  thread:set("number", thread_number)
  thread_number = thread_number + 1
end
init = function(args)
  prefix = args[1] .. "-" .. number
end
request = function()
  counter = counter + 1
  local body = string.format(
    '{"symbol": "%s", "order_type": "MARKET", "order_side": "BUY", "quantity": "1", '
    .. '"product": "MIS", "client_order_id": "%s-%d"}',
    symbols[counter % 4 + 1], prefix, counter)
  return wrk.format("POST", "/api/paper-trading/orders", nil, body)
end
"""

#: The same orders from ``TRADERS`` users in turn (``tokens`` is defined before it).
ORDERS_OF_MANY = ORDERS.replace(
    'wrk.format("POST", "/api/paper-trading/orders", nil, body)',
    'wrk.format("POST", "/api/paper-trading/orders", {["Content-Type"] = "application/json", '
    '["Authorization"] = "Bearer " .. tokens[counter % #tokens + 1]}, body)',
)
#: Users placing orders at once in the many-users case: on PostgreSQL one user's orders
#: apply one at a time (the user's lock), different users' concurrently.
TRADERS = 32


@dataclass(frozen=True)
class Case:
    """One request ``wrk`` repeats: its name, path, headers, connections and Lua script."""

    name: str
    path: str
    headers: dict[str, str]
    connections: int = CONNECTIONS
    script: str = ""


@dataclass(frozen=True)
class Run:
    """What one ``wrk`` run measured."""

    requests: int
    seconds: float
    p50_us: int
    p99_us: int
    non_2xx: int
    socket_errors: int

    @property
    def throughput(self) -> float:
        """Return requests per second."""
        return self.requests / self.seconds


def wrk_path() -> str:
    """Return the ``wrk`` executable, or exit saying how to get it."""
    found = shutil.which("wrk")
    if found is None:
        sys.exit("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    return found


def run_wrk(base_url: str, case: Case, seconds: int, folder: Path, tag: str) -> Run:
    """Run ``wrk`` for ``case``; refuse a run with any non-2xx answer or socket error."""
    script = folder / f"{abs(hash(case.name))}.lua"
    script.write_text(case.script + REPORT)
    command = [wrk_path(), f"-t{THREADS}", f"-c{case.connections}", f"-d{seconds}s",
               "--timeout", "10s", "-s", str(script)]  # fmt: skip
    for name, value in case.headers.items():
        command += ["-H", f"{name}: {value}"]
    command += [base_url + case.path, "--", tag]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    line = done.stdout.strip().splitlines()[-1]
    run = Run(**json.loads(line))
    if run.non_2xx or run.socket_errors:
        raise RuntimeError(f"{case.name}: {run} (wrk said: {done.stdout})")
    return run


@dataclass(frozen=True)
class Logins:
    """The bench user's bearer-token and API-key headers, and the other traders' tokens."""

    bearer: dict[str, str]
    api_key: dict[str, str]
    traders: list[str]


async def credentials(base_url: str) -> Logins:
    """Register the bench user (with an API key) and ``TRADERS`` traders; log them in."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:

        async def token(name: str) -> str:
            body = {"username": name, "password": PASSWORD}
            (await http.post("/api/register", json=body)).raise_for_status()
            login = await http.post("/api/login", json=body)
            login.raise_for_status()
            found: str = login.json()["access_token"]
            return found

        bearer = {"Authorization": f"Bearer {await token('bench')}"}
        key = await http.post("/api/auth/api-keys", json={"name": "bench"}, headers=bearer)
        key.raise_for_status()
        traders = [await token(f"trader{n}") for n in range(TRADERS)]
        return Logins(bearer, {"X-API-Key": key.json()["key"]}, traders)


def cases(logins: Logins) -> list[Case]:
    """Return the baseline first, then every measured case."""
    bearer = logins.bearer
    json_body = bearer | {"Content-Type": "application/json"}
    many = "local tokens = {" + ", ".join(f'"{t}"' for t in logins.traders) + "}\n"
    return [
        Case("GET /health (baseline)", "/health", {}),
        Case("POST MARKET order, filled + committed", "/", json_body, script=ORDERS),
        Case(
            "POST MARKET order, 4 connections",
            "/",
            json_body,
            connections=FEW_CONNECTIONS,
            script=ORDERS,
        ),
        Case(f"POST MARKET order, {TRADERS} users", "/", {}, script=many + ORDERS_OF_MANY),
        Case("GET /api/auth/me, bearer token", "/api/auth/me", bearer),
        Case("GET /api/auth/me, API key", "/api/auth/me", logins.api_key),
        Case("GET wallet", "/api/paper-trading/wallet", bearer),
        Case("GET positions", "/api/paper-trading/positions", bearer),
        Case("GET open orders", "/api/paper-trading/orders?status=open", bearer),
    ]


#: Where the PostgreSQL and split shapes create their scratch database, and the split shape's bus.
POSTGRES_URL = os.environ.get(
    "TRADEPIT_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TRADEPIT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

#: The deployment shapes measured, each against its own baseline.
SHAPES = {
    "sqlite": "one `tradepit serve` on the embedded SQLite file",
    "postgresql": "one `tradepit serve` on PostgreSQL",
    "split": "`tradepit engine` + `tradepit serve --role api --workers 2` on PostgreSQL and Redis",
}


class Unavailable(Exception):
    """A shape's services are not there to measure it."""


@asynccontextmanager
async def deployed(shape: str, folder: Path) -> AsyncIterator[str]:
    """Start ``shape`` on loopback and yield the root URL its clients use."""
    if shape == "sqlite":
        async with serving(folder / "data", "server") as server:
            yield server.base_url
        return
    async with AsyncExitStack() as stack:
        name = f"tradepit_bench_{os.getpid()}"
        try:
            url = await stack.enter_async_context(scratch_postgres(POSTGRES_URL, name))
        except OSError as exc:
            raise Unavailable(f"PostgreSQL at {POSTGRES_URL} is unreachable: {exc}") from exc
        env = server_env(folder / "data") | {
            "TRADEPIT_DATABASE_URL": url,
            "TRADEPIT_MIGRATE_ON_START": "true",
        }
        if shape == "postgresql":
            server = await stack.enter_async_context(running(["serve"], env, folder / "s.log"))
            yield server.base_url
            return
        await reachable_redis()
        env |= {"TRADEPIT_REDIS_URL": REDIS_URL, "TRADEPIT_REDIS_PREFIX": f"bench{os.getpid()}"}
        await stack.enter_async_context(running(["engine"], env, folder / "engine.log"))
        api = ["serve", "--role", "api", "--workers", "2"]
        pool = await stack.enter_async_context(running(api, env, folder / "api.log"))
        yield pool.base_url


async def reachable_redis() -> None:
    """Raise ``Unavailable`` unless Redis answers at ``REDIS_URL``."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except redis.RedisError as exc:
        raise Unavailable(f"Redis at {REDIS_URL} is unreachable: {exc}") from exc
    finally:
        await client.aclose()


async def measure(seconds: int, rounds: int, shape: str) -> dict[str, list[Run]]:
    """Start ``shape``, then run every case ``rounds`` times, interleaved."""
    with tempfile.TemporaryDirectory(prefix="tradepit-bench-http-") as name:
        folder = Path(name)
        async with deployed(shape, folder) as base_url:
            todo = cases(await credentials(base_url))
            results: dict[str, list[Run]] = {case.name: [] for case in todo}
            for case in todo:  # warm up: code paths, caches, the first orders' rows
                await asyncio.to_thread(run_wrk, base_url, case, 1, folder, "warm")
            for number in range(rounds):
                for case in todo:
                    run = await asyncio.to_thread(
                        run_wrk, base_url, case, seconds, folder, f"r{number}"
                    )
                    results[case.name].append(run)
    return results


def main() -> None:
    """For each shape, print each case's median throughput, p50, p99 and ratio to the
    baseline measured against the same shape in the same run."""
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else SECONDS
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else ROUNDS
    shapes = sys.argv[3].split(",") if len(sys.argv) > 3 else list(SHAPES)
    for shape in shapes:
        try:
            results = asyncio.run(measure(seconds, rounds, shape))
        except Unavailable as exc:
            print(f"\nHTTP from outside, {SHAPES[shape]}: not measured ({exc})")
            continue
        report(results, seconds, rounds, SHAPES[shape])


def report(results: dict[str, list[Run]], seconds: int, rounds: int, shape: str) -> None:
    """Print one shape's table."""
    baseline = statistics.median(r.throughput for r in next(iter(results.values())))
    width = max(map(len, results))
    print(
        f"\nHTTP from outside: wrk ({THREADS} threads) against {shape}, on loopback, "
        f"{seconds} s per case, median of {rounds} interleaved rounds"
    )
    print(f"{'case':<{width}}  {'conns':>5}  {'req/s':>7}  {'p50 ms':>7}  {'p99 ms':>7}  {'×':>5}")
    connections = {c.name: c.connections for c in cases(Logins({}, {}, []))}
    for name, runs in results.items():
        throughput = statistics.median(r.throughput for r in runs)
        p50 = statistics.median(r.p50_us for r in runs) / 1000
        p99 = statistics.median(r.p99_us for r in runs) / 1000
        print(
            f"{name:<{width}}  {connections[name]:>5}  {throughput:>7.0f}  {p50:>7.2f}  "
            f"{p99:>7.2f}  {throughput / baseline:>5.2f}"
        )


if __name__ == "__main__":
    main()
