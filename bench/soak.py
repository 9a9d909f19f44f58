"""Soak one server: 1,000 WebSocket clients and a steady order and bet flow for 10 minutes.

Run with ``python -m bench.soak [seconds]`` (600 by default; it is not part of ``make bench``,
which it would lengthen tenfold). A real ``tradepit serve`` runs as a subprocess on loopback
(embedded SQLite in a temporary data directory, market always open). ``USERS`` traders each
hold ``CLIENTS // USERS`` ``/ws`` connections subscribed to one crypto symbol's ticks, and
read everything they are sent. Meanwhile the traders place ``ORDERS_PER_SECOND`` MARKET orders
(buys and sells in turn) and ``BETS_PER_SECOND`` one-minute bets, spread over the run.

What it checks, and prints:
- the server's resident memory (``VmRSS``), sampled every ``SAMPLE_EVERY`` s: growth from the
  end of the warm-up (the first quarter of the run) to the end must stay under 5 %;
- no private event lost: each connection's private events are numbered 1, 2, 3… per user
  (``seq``); every connection must see every number from the one after its greeting's
  ``last_seq`` to the user's newest, in order, with no gap and no repeat;
- no client dropped that kept reading: the server closes none of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn
import websockets
from websockets.asyncio.client import connect

from bench.server import Server, serving

CLIENTS = 1_000
USERS = 50
SECONDS = 600.0
ORDERS_PER_SECOND = 10.0
BETS_PER_SECOND = 2.0
SAMPLE_EVERY = 5.0
#: After the flow stops, how long before the users' newest events are read: the last bets
#: (one minute long) resolve meanwhile.
DRAIN = 75.0
#: Then how long the clients have to receive every event up to those.
CATCH_UP = 30.0
GROWTH_TARGET = 0.05
PASSWORD = "soak-password-1"
SYMBOLS = ("BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT")


@dataclass
class Reader:
    """One client connection's tally."""

    user: int
    greeted_seq: int = -1
    seqs: list[int] = field(default_factory=list)
    ticks: int = 0
    dropped: str | None = None


@dataclass
class Flow:
    """What the order and bet flow sent and how it was answered."""

    sent: dict[str, int] = field(default_factory=lambda: {"order": 0, "bet": 0})
    refused: dict[str, int] = field(default_factory=dict)


async def traders(http: httpx.AsyncClient) -> list[str]:
    """Register ``USERS`` traders; return their tokens."""
    tokens = []
    for n in range(USERS):
        name = f"soak{n:03d}"
        body = {"username": name, "password": PASSWORD}
        (await http.post("/api/register", json=body)).raise_for_status()
        answer = await http.post("/api/login", json=body)
        answer.raise_for_status()
        tokens.append(answer.json()["access_token"])
    return tokens


async def read(url: str, reader: Reader, done: asyncio.Event, ready: asyncio.Event) -> None:
    """Connect, subscribe to one symbol and read until ``done``."""
    symbol = SYMBOLS[reader.user % len(SYMBOLS)]
    try:
        async with connect(url, max_queue=256, open_timeout=120) as ws:
            greeting = json.loads(await ws.recv())
            reader.greeted_seq = int(greeting["last_seq"])
            await ws.send(json.dumps({"type": "subscribe", "symbols": [symbol]}))
            ready.set()
            while not done.is_set():
                try:
                    raw = str(await asyncio.wait_for(ws.recv(), 1.0))
                except TimeoutError:
                    continue
                if raw.startswith('{"type":"tick"'):
                    reader.ticks += 1
                    continue
                message = json.loads(raw)
                if "seq" in message:
                    reader.seqs.append(int(message["seq"]))
    except websockets.ConnectionClosed as exc:
        if not done.is_set():
            reader.dropped = f"closed {exc.rcvd.code if exc.rcvd else '-'}: " + (
                exc.rcvd.reason if exc.rcvd else "no close frame"
            )
    except OSError as exc:
        reader.dropped = f"{type(exc).__name__}: {exc}"


async def flow(http: httpx.AsyncClient, tokens: list[str], until: float, tally: Flow) -> None:
    """Place orders and bets at their steady rates until ``until`` (monotonic)."""
    per_second = ORDERS_PER_SECOND + BETS_PER_SECOND
    n = 0
    started = time.monotonic()
    while (now := time.monotonic()) < until:
        await asyncio.sleep(max(0.0, started + n / per_second - now))
        user = n % USERS
        headers = {"Authorization": f"Bearer {tokens[user]}"}
        if n % round(per_second) < BETS_PER_SECOND:
            kind, path = "bet", "/api/bet"
            body: dict[str, object] = {
                "telegram": f"soak{user:03d}", "amount": "1",
                "direction": "long" if n % 2 else "short", "time": 1,
            }  # fmt: skip
        else:
            kind, path = "order", "/api/paper-trading/orders"
            side = "BUY" if (n // USERS) % 2 == 0 else "SELL"
            body = {"symbol": "ITC", "order_type": "MARKET", "order_side": side,
                    "quantity": "1", "product": "MIS",
                    "client_order_id": f"soak-{n:08d}"}  # fmt: skip
        n += 1
        tally.sent[kind] += 1
        try:
            answer = await http.post(path, json=body, headers=headers)
        except httpx.TransportError as exc:
            key = f"{kind} {type(exc).__name__}"
            tally.refused[key] = tally.refused.get(key, 0) + 1
            continue
        if answer.status_code != 201:
            key = f"{kind} {answer.status_code} {answer.json().get('code', '')}"
            tally.refused[key] = tally.refused.get(key, 0) + 1


def rss_kib(pid: int) -> int:
    """Return a process's resident memory in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


async def sample(pid: int, done: asyncio.Event, samples: list[tuple[float, int]]) -> None:
    """Record (seconds since start, RSS KiB) every ``SAMPLE_EVERY`` s until ``done``."""
    started = time.monotonic()
    while not done.is_set():
        samples.append((time.monotonic() - started, rss_kib(pid)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), SAMPLE_EVERY)


async def newest_seqs(server: Server, tokens: list[str]) -> list[int]:
    """Return each trader's newest private event number (from a fresh connection's greeting)."""
    found = []
    for token in tokens:
        async with connect(f"ws://127.0.0.1:{server.port}/ws?token={token}") as ws:
            found.append(int(json.loads(await ws.recv())["last_seq"]))
    return found


def owed(reader: Reader, newest: int) -> list[int]:
    """Return the event numbers the reader must have received, in order."""
    return list(range(reader.greeted_seq + 1, newest + 1))


def gaps(reader: Reader, newest: int) -> tuple[list[int], list[int]]:
    """Return the events up to ``newest`` the reader missed, and those it got twice or out of
    order."""
    got = [seq for seq in reader.seqs if seq <= newest]
    missing = sorted(set(owed(reader, newest)) - set(got))
    wrong = [b for a, b in itertools.pairwise(got) if b != a + 1]
    return missing, wrong


async def caught_up(readers: list[Reader], newest: list[int]) -> None:
    """Wait until every reader received up to its user's newest event, or ``CATCH_UP`` s."""
    deadline = time.monotonic() + CATCH_UP
    while time.monotonic() < deadline:
        behind = [r for r in readers if not r.dropped and newest[r.user] > r.greeted_seq and (
            not r.seqs or r.seqs[-1] < newest[r.user])]  # fmt: skip
        if not behind:
            return
        await asyncio.sleep(0.5)


async def soak(server: Server, seconds: float) -> bool:
    """Run the soak against ``server``; print the figures; return whether every target held."""
    # One connection: the flow is sequential, so it is never idle long enough for the server
    # to close it as a request goes out.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, limits=limits) as http:
        tokens = await traders(http)
        done = asyncio.Event()
        readers = [Reader(user=i % USERS) for i in range(CLIENTS)]
        ready = [asyncio.Event() for _ in readers]
        base = f"ws://127.0.0.1:{server.port}/ws?token="
        tasks = [
            asyncio.create_task(read(base + tokens[r.user], r, done, ready[i]))
            for i, r in enumerate(readers)
        ]
        opened = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), 300)
        print(f"{CLIENTS} clients connected in {time.monotonic() - opened:.1f} s", flush=True)
        samples: list[tuple[float, int]] = []
        sampling = asyncio.create_task(sample(server.process.pid, done, samples))
        tally = Flow()
        await flow(http, tokens, time.monotonic() + seconds, tally)
        await asyncio.sleep(DRAIN)
        newest = await newest_seqs(server, tokens)
        await caught_up(readers, newest)
        done.set()
        await asyncio.gather(*tasks, sampling)

    warm = [kib for at, kib in samples if at >= seconds / 4]
    start_rss, end_rss = statistics.median(warm[:6]), statistics.median(warm[-6:])
    growth = (end_rss - start_rss) / start_rss
    dropped = [r.dropped for r in readers if r.dropped]
    found = [(i, *gaps(r, newest[r.user])) for i, r in enumerate(readers)]
    bad = [(i, missing[:5], wrong[:5]) for i, missing, wrong in found if missing or wrong]
    lost = sum(len(missing) + len(wrong) for _, missing, wrong in found)
    private = sum(len(r.seqs) for r in readers)
    ticks = sum(r.ticks for r in readers)
    print(f"flow: {tally.sent['order']} orders, {tally.sent['bet']} bets in {seconds:.0f} s; "
          f"refused: {tally.refused or 'none'}")  # fmt: skip
    print(f"delivered: {private} private events, {ticks} ticks to {CLIENTS} clients")
    print(
        f"RSS MiB: start {samples[0][1] / 1024:.0f}, after warm-up {start_rss / 1024:.1f}, "
        f"end {end_rss / 1024:.1f}, max {max(k for _, k in samples) / 1024:.1f}; "
        f"growth after warm-up {growth * 100:+.2f} % (target < {GROWTH_TARGET * 100:.0f} %)"
    )
    print(f"private events lost, repeated or out of order: {lost} (target 0) "
          f"on {len(bad)} clients {bad[:3]}")  # fmt: skip
    print(f"clients dropped while reading: {len(dropped)} (target 0) {dropped[:3]}")
    met = growth < GROWTH_TARGET and lost == 0 and not dropped and not tally.refused
    print(f"soak targets: {'met' if met else 'NOT met'}")
    return met


async def run(seconds: float) -> bool:
    """Start ``tradepit serve`` in a temporary data directory, soak it, stop it."""
    env = {
        "TRADEPIT_STARTING_BALANCE_USDT": "1000000",
        "TRADEPIT_WS_MAX_CONNECTIONS_PER_USER": str(CLIENTS),
        "TRADEPIT_WS_QUEUE_SIZE": "1000",
    }
    with tempfile.TemporaryDirectory(prefix="tradepit-soak-") as folder:
        async with serving(Path(folder) / "data", "server", env) as server:
            return await soak(server, seconds)


def main() -> None:
    """Soak for ``argv[1]`` seconds (``SECONDS`` by default); exit 1 if a target failed."""
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else SECONDS
    print(f"Soak: {CLIENTS} /ws clients ({USERS} users), {ORDERS_PER_SECOND:g} orders/s and "
          f"{BETS_PER_SECOND:g} bets/s for {seconds:.0f} s", flush=True)  # fmt: skip
    with asyncio.Runner(loop_factory=uvicorn.Config(app="").get_loop_factory()) as runner:
        met = runner.run(run(seconds))
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
