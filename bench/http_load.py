"""Measure a running ``tradepit serve`` from outside with ``wrk``, a C load generator.

Run with ``python -m bench.http_load [seconds per case] [rounds]``. A real ``tradepit serve``
runs as a subprocess on loopback (embedded SQLite in a temporary data directory, market always open,
cheap Argon2, rate limits that never trigger). For every case, ``wrk`` sends the same request
over ``CONNECTIONS`` keep-alive connections for a fixed time; the baseline, ``GET /health``,
touches no database and no identity, so each ratio says what a route costs the server beyond
answering HTTP at all. Cases run interleaved for ``ROUNDS`` rounds and each figure is the
median of its rounds (the machine is noisy).

A Python client caps ``GET /health`` near 1,000/s on two cores and would make the baseline
measure the client; ``wrk`` reaches the server's own ceiling. ``wrk`` is installed by
``make bench`` (Debian's ``wrk`` package) when it is missing.

Targets (issue 16): MARKET orders at least 0.3 times the baseline at 32 connections, order p99
under 15 ms at 4 connections, authenticated reads at least 0.5 times the baseline.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.server import serving

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


async def credentials(base_url: str) -> tuple[dict[str, str], dict[str, str]]:
    """Register the bench user; return bearer-token headers and API-key headers."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        body = {"username": "bench", "password": PASSWORD}
        (await http.post("/api/register", json=body)).raise_for_status()
        login = await http.post("/api/login", json=body)
        login.raise_for_status()
        bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
        key = await http.post("/api/auth/api-keys", json={"name": "bench"}, headers=bearer)
        key.raise_for_status()
        return bearer, {"X-API-Key": key.json()["key"]}


def cases(bearer: dict[str, str], api_key: dict[str, str]) -> list[Case]:
    """Return the baseline first, then every measured case."""
    json_body = bearer | {"Content-Type": "application/json"}
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
        Case("GET /api/auth/me, bearer token", "/api/auth/me", bearer),
        Case("GET /api/auth/me, API key", "/api/auth/me", api_key),
        Case("GET wallet", "/api/paper-trading/wallet", bearer),
        Case("GET positions", "/api/paper-trading/positions", bearer),
        Case("GET open orders", "/api/paper-trading/orders?status=open", bearer),
    ]


async def measure(seconds: int, rounds: int) -> dict[str, list[Run]]:
    """Start a server, then run every case ``rounds`` times, interleaved."""
    with tempfile.TemporaryDirectory(prefix="tradepit-bench-http-") as name:
        folder = Path(name)
        async with serving(folder / "data", "server") as server:
            bearer, api_key = await credentials(server.base_url)
            todo = cases(bearer, api_key)
            results: dict[str, list[Run]] = {case.name: [] for case in todo}
            for case in todo:  # warm up: code paths, caches, the first orders' rows
                await asyncio.to_thread(run_wrk, server.base_url, case, 1, folder, "warm")
            for number in range(rounds):
                for case in todo:
                    run = await asyncio.to_thread(
                        run_wrk, server.base_url, case, seconds, folder, f"r{number}"
                    )
                    results[case.name].append(run)
    return results


def main() -> None:
    """Print each case's median throughput, p50, p99 and ratio to the baseline."""
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else SECONDS
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else ROUNDS
    results = asyncio.run(measure(seconds, rounds))
    baseline = statistics.median(r.throughput for r in next(iter(results.values())))
    width = max(map(len, results))
    print(
        f"\nHTTP from outside: wrk ({THREADS} threads) against `tradepit serve` on loopback "
        f"(SQLite), {seconds} s per case, median of {rounds} interleaved rounds"
    )
    print(f"{'case':<{width}}  {'conns':>5}  {'req/s':>7}  {'p50 ms':>7}  {'p99 ms':>7}  {'×':>5}")
    connections = {c.name: c.connections for c in cases({}, {})}
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
