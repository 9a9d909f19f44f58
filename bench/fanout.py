"""Fan-out: ticks of 10 symbols at 20 ticks/s each to 1,000 WebSocket clients of 2 symbols each.

Run with ``python -m bench.fanout``. Two servers run in turn as subprocesses on loopback, each
alone on the machine while measured:

- the baseline, a minimal ``websockets`` server that encodes each tick once and sends it with
  ``websockets.broadcast()`` to the symbol's subscribers;
- Tradepit's native ``/ws`` (the app under uvicorn, as ``tradepit serve`` runs it), its
  simulated feed stopped and the same ticks published on its bus instead.

Clients run in ``CLIENT_PROCESSES`` processes. Every tick carries the wall time it was
published, so a client measures tick-to-client latency directly (same machine, same clock).
Then the same ticks go to 1,000 Socket.IO clients (websocket transport) of a fresh server.
Both servers run on the event loop ``tradepit serve`` runs on (uvloop). The clients are as light
as they can be (a ``websockets`` connection each, JSON parsed for the sampled ticks only), the
same for the three servers, so that their processes keep up and the servers are measured.
Targets (issue 5): ``/ws`` at least 0.7x the baseline's messages/s, Socket.IO at least 0.4x,
p99 under 50 ms, no connection dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import socketio
import uvicorn
import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from bench.server import free_port

#: Ten symbols of Tradepit's catalogue (a symbol it does not know would be refused).
SYMBOLS = ["ITC", "SBIN", "INFY", "RELIANCE", "TCS", "LT", "HDFCBANK", "ICICIBANK", "AXISBANK",
           "BHARTIARTL"]  # fmt: skip
TICKS_PER_SECOND = 20
CLIENTS = 1_000
CLIENT_PROCESSES = 2
#: Seconds between the last client's subscription and the measured window.
WARMUP = 3.0
SUBSCRIBE_TIMEOUT = 60.0
MEASURE = 6.0
ROUNDS = 3
SAMPLES_PER_PROCESS = 20_000
TARGET = 0.7
SOCKETIO_TARGET = 0.4
P99_TARGET_MS = 50.0
PASSWORD = "bench-password-1"


def tick_message(symbol: str, n: int) -> dict[str, object]:
    """Return a tick shaped like Tradepit's, stamped with the wall time now."""
    price = 100 + n % 50
    return {"type": "tick", "symbol": symbol, "ltp": price, "bid": price - 0.05,
            "ask": price + 0.05, "volume": n, "oi": None, "change": 0.5,
            "timestamp": datetime.now(UTC).isoformat()}  # fmt: skip


async def every_tick(publish: object) -> None:
    """Call ``publish(symbol, n)`` for every symbol ``TICKS_PER_SECOND`` times a second."""
    assert callable(publish)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for n in range(10**9):
        for symbol in SYMBOLS:
            publish(symbol, n)
        await asyncio.sleep(max(0.0, started + (n + 1) / TICKS_PER_SECOND - loop.time()))


# -- servers (each runs in its own subprocess) ----------------------------------------------------


async def baseline_server(port: int) -> None:
    """Serve subscriptions and broadcast ticks with ``websockets.broadcast()``."""
    subscribers: dict[str, set[ServerConnection]] = {s: set() for s in SYMBOLS}

    async def handler(ws: ServerConnection) -> None:
        try:
            async for raw in ws:
                message = json.loads(raw)
                for symbol in message.get("symbols", []):
                    subscribers[symbol].add(ws)
        finally:
            for members in subscribers.values():
                members.discard(ws)

    def publish(symbol: str, n: int) -> None:
        text = json.dumps(tick_message(symbol, n), separators=(",", ":"))
        websockets.broadcast(subscribers[symbol], text)

    async with serve(handler, "127.0.0.1", port, max_queue=16, compression=None):
        print("ready", flush=True)
        await every_tick(publish)


async def tradepit_server(port: int, data_dir: Path) -> None:
    """Run the app under uvicorn; stop its feed and publish the bench's ticks on its bus."""
    from bench.__main__ import bench_settings  # noqa: PLC0415 - only in the server process
    from tradepit.app import create_app  # noqa: PLC0415
    from tradepit.domain.market import Tick  # noqa: PLC0415
    from tradepit.store.db import create_engine  # noqa: PLC0415
    from tradepit.store.migrate import upgrade  # noqa: PLC0415

    settings = bench_settings(data_dir).model_copy(update={"market_hours": "always"})
    engine = create_engine(settings.db_url)
    await upgrade(engine)
    await engine.dispose()
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                            log_level="warning", access_log=False,
                            ws="websockets-sansio", ws_per_message_deflate=False,
                            backlog=4096)  # fmt: skip
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn has no started event
        await asyncio.sleep(0.05)
    wired = app.state.wiring
    await wired.feeds.stop()
    hub = wired.hub

    def publish(symbol: str, n: int) -> None:
        price = Decimal(100 + n % 50)
        tick = Tick(symbol, datetime.now(UTC), price, price - Decimal("0.05"),
                    price + Decimal("0.05"), Decimal(100), Decimal(100), Decimal(n))  # fmt: skip
        hub.publish_ticks([tick])

    print("ready", flush=True)
    await every_tick(publish)
    await serving


# -- clients (each process runs a share of them) --------------------------------------------------


class Tally:
    """What one client process received in the measured window."""

    def __init__(self, clients: int) -> None:
        self.received = 0
        self.closed = 0
        #: Clients whose subscription was refused (they would receive nothing).
        self.refused = 0
        self.waiting = clients
        #: Set once every client is subscribed (or refused): the warm-up starts then.
        self.subscribed = asyncio.Event()
        self.latencies: list[float] = []
        self.measuring = asyncio.Event()
        self.done = asyncio.Event()

    def ready(self, accepted: bool) -> None:
        """Note that one client's subscription was answered."""
        self.refused += not accepted
        self.waiting -= 1
        if self.waiting == 0:
            self.subscribed.set()

    def count(self, stamp: str | None) -> None:
        """Count one tick; keep its latency for a sample of them."""
        if not self.measuring.is_set() or self.done.is_set():
            return
        self.received += 1
        if stamp is not None:
            sent = datetime.fromisoformat(stamp)
            self.latencies.append((datetime.now(UTC) - sent).total_seconds() * 1000)


def symbols_of(i: int) -> list[str]:
    """Return the two symbols client ``i`` subscribes to (200 clients per symbol)."""
    return [SYMBOLS[i % len(SYMBOLS)], SYMBOLS[(i + 1) % len(SYMBOLS)]]


async def ws_client(url: str, i: int, tally: Tally) -> None:
    """One native WebSocket client."""
    try:
        async with connect(url, max_queue=64, open_timeout=60) as ws:
            await ws.send(json.dumps({"type": "subscribe", "symbols": symbols_of(i)}))
            answered = False
            while not tally.done.is_set():
                raw = str(await ws.recv())
                if not answered and not raw.startswith('{"type":"connected"'):
                    answered = True  # the first message after the greeting answers
                    tally.ready(not raw.startswith('{"type":"error"'))
                # Both servers encode a tick as compact JSON starting with its type.
                if raw.startswith('{"type":"tick"'):
                    sample = random.random() < 0.05
                    tally.count(json.loads(raw)["timestamp"] if sample else None)
    except websockets.ConnectionClosed:
        if not tally.done.is_set():
            tally.closed += 1


async def socketio_client(url: str, i: int, tally: Tally) -> None:
    """One Socket.IO client (Engine.IO 4 over the websocket transport, no login): as light as
    the ``/ws`` client, so that the clients' processes keep up and the server is measured.

    It speaks the protocol itself: Engine.IO's open packet, CONNECT to the namespace ``/``,
    ``subscribe_symbol`` with an ack id, a pong for every ping, and each ``symbol_update``
    event is one message. ``socketio_library_client`` is python-socketio's ``AsyncClient``
    instead (``python -m bench.fanout clients python-socketio URL FIRST COUNT OUT``); its
    processes cannot read 40,000 events/s on two cores.
    """
    try:
        async with connect(url, max_queue=64, open_timeout=60) as ws:
            await ws.recv()  # Engine.IO open: 0{"sid", "pingInterval", ...}
            await ws.send("40")  # Socket.IO CONNECT to "/"
            symbols = symbols_of(i)
            acks: list[bool] = []
            connected = False
            while not tally.done.is_set():
                raw = str(await ws.recv())
                if raw.startswith('42["symbol_update",'):
                    sample = random.random() < 0.05
                    tally.count(json.loads(raw[2:])[1]["timestamp"] if sample else None)
                elif raw == "2":  # Engine.IO ping
                    await ws.send("3")
                elif raw.startswith("40") and not connected:
                    connected = True
                    for n, symbol in enumerate(symbols):
                        event = json.dumps(["subscribe_symbol", {"symbol": symbol}])
                        await ws.send(f"42{n}{event}")
                elif raw.startswith("43"):  # an ack: 43<id>[{"success": ...}]
                    acks.append('"success":true' in raw)
                    if len(acks) == len(symbols):
                        tally.ready(all(acks))
                elif raw.startswith("44"):  # CONNECT refused
                    tally.ready(False)
                    return
    except websockets.ConnectionClosed:
        if not tally.done.is_set():
            tally.closed += 1


async def socketio_library_client(url: str, i: int, tally: Tally) -> None:
    """One python-socketio ``AsyncClient`` (websocket transport), reading market data without
    a login."""
    client = socketio.AsyncClient(reconnection=False)

    async def on_update(data: dict[str, object]) -> None:
        tally.count(str(data["timestamp"]) if random.random() < 0.05 else None)

    async def on_disconnect(*_: object) -> None:
        if not tally.done.is_set():
            tally.closed += 1

    client.on("symbol_update", on_update)
    client.on("disconnect", on_disconnect)
    server = urlsplit(url)._replace(scheme="http", path="", query="").geturl()
    await client.connect(server, transports=["websocket"], wait_timeout=60)
    acks = [await client.call("subscribe_symbol", {"symbol": s}, timeout=60) for s in symbols_of(i)]
    tally.ready(all(isinstance(a, dict) and a.get("success") for a in acks))
    await tally.done.wait()
    await client.disconnect()


async def run_clients(kind: str, url: str, first: int, count: int) -> dict[str, object]:
    """Connect ``count`` clients, count ticks over the measured window (it starts ``WARMUP``
    seconds after every client is subscribed), sample latencies."""
    tally = Tally(count)
    run = {"ws": ws_client, "socketio": socketio_client,
           "python-socketio": socketio_library_client}[kind]  # fmt: skip
    tasks = [asyncio.create_task(run(url, first + i, tally)) for i in range(count)]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(tally.subscribed.wait(), SUBSCRIBE_TIMEOUT)
    await asyncio.sleep(WARMUP)
    tally.measuring.set()
    await asyncio.sleep(MEASURE)
    tally.done.set()
    await asyncio.wait(tasks, timeout=10)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    random.shuffle(tally.latencies)
    return {"received": tally.received, "seconds": MEASURE, "closed": tally.closed,
            "refused": tally.refused + tally.waiting,
            "latencies": tally.latencies[:SAMPLES_PER_PROCESS]}  # fmt: skip


# -- orchestration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """One server's fan-out: messages per second, latency percentiles, dropped connections."""

    name: str
    per_second: float
    p50_ms: float
    p99_ms: float
    closed: int
    #: Clients whose subscription was refused or not answered before the measure began.
    refused: int


def start(*args: str) -> subprocess.Popen[str]:
    """Start ``python -m bench.fanout ARGS``; return once it printed 'ready'."""
    process = subprocess.Popen([sys.executable, "-m", "bench.fanout", *args],
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    if line.strip() != "ready":
        process.kill()
        raise RuntimeError(f"server {args[0]} did not start: {line!r}")
    return process


def measure(name: str, kind: str, url: str) -> Result:
    """Run the client processes of ``kind`` against ``url``; merge their results."""
    share = CLIENTS // CLIENT_PROCESSES
    command = [sys.executable, "-m", "bench.fanout", "clients", kind, url]
    with tempfile.TemporaryDirectory() as folder:
        outs = [Path(folder) / f"clients-{i}.json" for i in range(CLIENT_PROCESSES)]
        workers = [
            subprocess.Popen([*command, str(i * share), str(share), str(out)])
            for i, out in enumerate(outs)
        ]
        for worker in workers:
            if worker.wait() != 0:
                raise RuntimeError(f"clients exited with {worker.returncode}")
        results = [json.loads(out.read_text()) for out in outs]
    latencies = sorted(x for r in results for x in r["latencies"])
    seconds = max(r["seconds"] for r in results)
    return Result(
        name=name,
        per_second=sum(r["received"] for r in results) / seconds,
        p50_ms=statistics.median(latencies) if latencies else float("nan"),
        p99_ms=statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else float("nan"),
        closed=sum(r["closed"] for r in results),
        refused=sum(r["refused"] for r in results),
    )


def token(base: str) -> str:
    """Register the bench user on the Tradepit server; return a bearer token."""
    with httpx.Client(base_url=base, timeout=30) as http:
        body = {"username": "fanout", "password": PASSWORD}
        http.post("/api/register", json=body).raise_for_status()
        response = http.post("/api/login", json=body)
        response.raise_for_status()
        found: str = response.json()["access_token"]
        return found


def stop(process: subprocess.Popen[str]) -> None:
    """Terminate a server subprocess and reap it."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def one_round(folder: str, number: int) -> tuple[Result, Result, Result]:
    """Measure the baseline, Tradepit's /ws and its Socket.IO, each on a fresh server."""
    port = free_port()
    baseline = start("baseline-server", str(port))
    try:
        base = measure("websockets.broadcast() (baseline)", "ws", f"ws://127.0.0.1:{port}")
    finally:
        stop(baseline)
    port = free_port()
    server = start("tradepit-server", str(port), f"{folder}/ws-{number}")
    try:
        bearer = token(f"http://127.0.0.1:{port}")
        ours = measure("Tradepit /ws", "ws", f"ws://127.0.0.1:{port}/ws?token={bearer}")
    finally:
        stop(server)
    port = free_port()
    server = start("tradepit-server", str(port), f"{folder}/socketio-{number}")
    try:
        url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
        sio = measure("Tradepit Socket.IO", "socketio", url)
    finally:
        stop(server)
    return base, ours, sio


def median_row(rows: list[Result]) -> Result:
    """Return the round with the median throughput (its latencies come with it)."""
    return sorted(rows, key=lambda r: r.per_second)[len(rows) // 2]


def main() -> None:
    """Measure ``ROUNDS`` rounds of the three servers, interleaved so that a busy machine
    slows all three alike; print the median round of each with its ratio to the baseline."""
    expected = len(SYMBOLS) * TICKS_PER_SECOND * CLIENTS * 2 // len(SYMBOLS)
    with tempfile.TemporaryDirectory(prefix="tradepit-fanout-") as folder:
        rounds = [one_round(folder, n) for n in range(ROUNDS)]
    base, ours, sio = (median_row([r[i] for r in rounds]) for i in range(3))
    ratios = [(r[1].per_second / r[0].per_second, r[2].per_second / r[0].per_second)
              for r in rounds]  # fmt: skip
    print(f"\nFan-out: {len(SYMBOLS)} symbols x {TICKS_PER_SECOND} ticks/s to {CLIENTS} clients "
          f"of 2 symbols ({expected} messages/s offered), "
          f"{ROUNDS} rounds of {MEASURE:.0f} s")  # fmt: skip
    print(f"{'server (median round)':<36} {'msg/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'closed':>8} "
          f"{'refused':>8} {'x base':>7}")  # fmt: skip
    for row in (base, ours, sio):
        ratio = row.per_second / base.per_second if base.per_second else float("nan")
        print(f"{row.name:<36} {row.per_second:>9.0f} {row.p50_ms:>8.1f} {row.p99_ms:>8.1f} "
              f"{row.closed:>8} {row.refused:>8} {ratio:>7.2f}")  # fmt: skip
    print("rounds (msg/s, p99 ms): " + "; ".join(
        " ".join(f"{r.per_second:.0f}/{r.p99_ms:.0f}" for r in row) for row in rounds))  # fmt: skip
    print("ratios per round (/ws, Socket.IO): "
          + ", ".join(f"{w:.2f}/{s:.2f}" for w, s in ratios))  # fmt: skip
    for row, target in ((ours, TARGET), (sio, SOCKETIO_TARGET)):
        ratio = row.per_second / base.per_second if base.per_second else 0.0
        met = ratio >= target and row.p99_ms < P99_TARGET_MS and not row.closed + row.refused
        print(f"{row.name} target: >= {target}x the baseline, p99 < {P99_TARGET_MS:.0f} ms, "
              f"no drop: {'met' if met else 'NOT met'}")  # fmt: skip


def serve_forever(server: Coroutine[object, object, None]) -> None:
    """Run a server on the event loop ``tradepit serve`` runs on (``uvicorn.run``'s default,
    uvloop when installed): both servers then run on the same loop as production."""
    with asyncio.Runner(loop_factory=uvicorn.Config(app="").get_loop_factory()) as runner:
        runner.run(server)


def _entry() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "main"
    if command == "baseline-server":
        serve_forever(baseline_server(int(sys.argv[2])))
    elif command == "tradepit-server":
        Path(sys.argv[3]).mkdir(parents=True, exist_ok=True)
        serve_forever(tradepit_server(int(sys.argv[2]), Path(sys.argv[3])))
    elif command == "clients":
        # The clients run on uvloop too, the lightest loop, so that they keep up. Results go
        # to a file: under uvloop, a write of more than a pipe's buffer to stdout was cut short.
        kind, url, first, count, out = sys.argv[2:7]
        with asyncio.Runner(loop_factory=uvicorn.Config(app="").get_loop_factory()) as runner:
            result = runner.run(run_clients(kind, url, int(first), int(count)))
        Path(out).write_text(json.dumps(result))
    else:
        main()


if __name__ == "__main__":
    _entry()
