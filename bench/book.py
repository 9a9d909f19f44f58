"""Measure the trigger book: the cost of a tick that releases nothing, and ticks per second.

Run with ``python -m bench.book``. 100,000 resting LIMIT / STOP_LOSS / STOP_LOSS_MARKET orders
over 500 symbols (200 each, 1 to 400 ticks of 0.05 away from the market), then 1,000,000
deterministic ticks: one random walk per symbol in steps of one tick with rare gaps of up to
30, so most ticks release nothing and a gap releases many orders at once. The caller's part is
played as an engine would: an EXECUTABLE order is filled (gone), a TRIGGERED STOP_LOSS is
added back as the LIMIT it has become.

Baselines, measured in the same run from the same state (the book's live orders at that
point of the replay): the issue's "scan all open orders per tick", every one of the 100,000
orders checked on every tick; and a kinder one that scans only the ticking symbol's ~200
open orders. Each runs over a window of consecutive ticks and must release exactly what the
book released there, tick by tick. A row's ratio is the all-orders scan's median cost per
quiet tick over the row's, so higher is better. The book is also replayed from the same copy
over the all-orders window, right after the scans have flushed the CPU caches: a cold book
against a warm scan. Per-tick costs are timed one call at a time
with ``perf_counter_ns`` and include the timer's own overhead (printed).

Targets: a tick that releases nothing under 2 µs median; at least 100 times the all-orders scan.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import numpy as np

from tradepit.domain.book import Event, Release, Resting, TriggerBook
from tradepit.domain.money import to_units
from tradepit.domain.orders import OrderType, Side

ORDERS = 100_000
SYMBOLS = 500
TICKS = 1_000_000
SEED = 2026
TICK_UNITS = to_units(Decimal("0.05"))
MAX_DISTANCE = 400
GAP_RATE = 0.0005
MAX_GAP = 30
SCAN_ALL_START, SCAN_ALL_TICKS = 400_000, 1_000
SCAN_SYMBOL_START, SCAN_SYMBOL_TICKS = 600_000, 20_000

# symbol, bid, ask, ltp in integer units
Quote = tuple[str, int, int, int]


# Enum members bound once: looking one up on its class costs ~50 ns, more than the test itself.
LIMIT, STOP_LOSS, BUY = OrderType.LIMIT, OrderType.STOP_LOSS, Side.BUY
EXECUTABLE, TRIGGERED = Event.EXECUTABLE, Event.TRIGGERED


class Engine(Protocol):
    """What the replay needs of a book: rest an order, and release what a quote crosses."""

    def add(self, entry: Resting) -> None:
        """Rest ``entry``."""

    def on_tick(self, symbol: str, bid_units: int, ask_units: int, ltp_units: int) -> list[Release]:
        """Return and forget the orders the quote releases."""


class ScanAll:
    """The issue's baseline: every open order in one dict, all of them checked on every tick."""

    def __init__(self, entries: Iterable[Resting]) -> None:
        self.orders = {entry.order_id: entry for entry in entries}

    def add(self, entry: Resting) -> None:
        """Rest ``entry``."""
        self.orders[entry.order_id] = entry

    def on_tick(self, symbol: str, bid_units: int, ask_units: int, ltp_units: int) -> list[Release]:
        """Check every open order against the quote."""
        out = scan(self.orders.values(), symbol, bid_units, ask_units, ltp_units)
        for release in out:
            del self.orders[release.order_id]
        return out


class ScanSymbol:
    """A kinder baseline: open orders grouped by symbol, the ticking symbol's all checked."""

    def __init__(self, entries: Iterable[Resting]) -> None:
        self.orders: dict[str, dict[int, Resting]] = {}
        for entry in entries:
            self.add(entry)

    def add(self, entry: Resting) -> None:
        """Rest ``entry``."""
        self.orders.setdefault(entry.symbol, {})[entry.order_id] = entry

    def on_tick(self, symbol: str, bid_units: int, ask_units: int, ltp_units: int) -> list[Release]:
        """Check every open order of ``symbol`` against the quote."""
        orders = self.orders.get(symbol)
        if not orders:
            return []
        out = scan(orders.values(), symbol, bid_units, ask_units, ltp_units)
        for release in out:
            del orders[release.order_id]
        return out


def scan(orders: Iterable[Resting], symbol: str, bid: int, ask: int, ltp: int) -> list[Release]:
    """Return the releases of ``orders`` on this quote, the obvious way: look at each one."""
    out = []
    for entry in orders:
        if entry.symbol != symbol:
            continue
        kind = entry.order_type
        if kind is LIMIT:
            price = entry.price_units
            assert price is not None
            if ask <= price if entry.side is BUY else bid >= price:
                out.append(Release(entry.order_id, EXECUTABLE, entry))
            continue
        trigger = entry.trigger_units
        assert trigger is not None
        if ltp >= trigger if entry.side is BUY else ltp <= trigger:
            out.append(
                Release(entry.order_id, TRIGGERED if kind is STOP_LOSS else EXECUTABLE, entry)
            )
    return out


def make_orders(
    rng: np.random.Generator, mids: np.ndarray[tuple[int], np.dtype[np.int64]]
) -> list[Resting]:
    """Return ORDERS resting orders, in creation order, 1 to MAX_DISTANCE ticks from the mid."""
    per_symbol = ORDERS // SYMBOLS
    symbol = rng.permutation(np.repeat(np.arange(SYMBOLS), per_symbol))
    kind = rng.choice(3, size=ORDERS, p=[0.5, 0.3, 0.2])  # LIMIT, STOP_LOSS, STOP_LOSS_MARKET
    buy = rng.random(ORDERS) < 0.5
    distance = rng.integers(1, MAX_DISTANCE + 1, ORDERS)
    slack = rng.integers(0, 5, ORDERS)
    mid = mids[symbol]
    # Limits rest on the far side of the market: buys below, sells above. Stops the other way.
    limit_at = np.where(buy, mid - distance, mid + distance)
    stop_at = np.where(buy, mid + distance, mid - distance)
    stop_limit = np.where(buy, stop_at + slack, stop_at - slack)
    names = symbol_names()
    types = (OrderType.LIMIT, OrderType.STOP_LOSS, OrderType.STOP_LOSS_MARKET)
    out = []
    rows = zip(
        symbol.tolist(),
        kind.tolist(),
        buy.tolist(),
        limit_at.tolist(),
        stop_at.tolist(),
        stop_limit.tolist(),
        strict=True,
    )
    for order_id, (s, k, b, at, trigger, price) in enumerate(rows, start=1):
        side = Side.BUY if b else Side.SELL
        if k == 0:
            out.append(Resting(order_id, names[s], side, types[k], at * TICK_UNITS, None))
        elif k == 1:
            out.append(
                Resting(
                    order_id, names[s], side, types[k], price * TICK_UNITS, trigger * TICK_UNITS
                )
            )
        else:
            out.append(Resting(order_id, names[s], side, types[k], None, trigger * TICK_UNITS))
    return out


def make_ticks(
    rng: np.random.Generator, mids: np.ndarray[tuple[int], np.dtype[np.int64]]
) -> list[Quote]:
    """Return TICKS quotes: each round, every symbol once in a random order, walking by a tick."""
    rounds = TICKS // SYMBOLS
    steps = rng.integers(-1, 2, size=(SYMBOLS, rounds))
    gaps = rng.random((SYMBOLS, rounds)) < GAP_RATE
    steps[gaps] = rng.integers(-MAX_GAP, MAX_GAP + 1, int(gaps.sum()))
    walk = mids[:, None] + np.cumsum(steps, axis=1)
    order = np.argsort(rng.random((rounds, SYMBOLS)), axis=1).ravel()
    ltp = walk[order, np.repeat(np.arange(rounds), SYMBOLS)]
    bid = ltp - rng.integers(0, 2, TICKS)
    ask = bid + rng.integers(1, 3, TICKS)
    names = symbol_names()
    return list(
        zip(
            [names[s] for s in order.tolist()],
            (bid * TICK_UNITS).tolist(),
            (ask * TICK_UNITS).tolist(),
            (ltp * TICK_UNITS).tolist(),
            strict=True,
        )
    )


def symbol_names() -> list[str]:
    """Return the symbols' names."""
    return [f"SYM{i:03d}" for i in range(SYMBOLS)]


def settle(engine: Engine, released: list[Release]) -> None:
    """Play the caller: fill what is executable, rest a triggered STOP_LOSS as its LIMIT."""
    for release in released:
        if release.event is Event.TRIGGERED:
            engine.add(release.entry.as_limit())


def throughput(entries: list[Resting], quotes: Sequence[Quote]) -> tuple[float, float]:
    """Return the seconds to rebuild the book and to replay every quote, untimed per tick."""
    started = time.perf_counter()
    book = TriggerBook(entries)
    built = time.perf_counter()
    on_tick = book.on_tick
    for symbol, bid, ask, ltp in quotes:
        released = on_tick(symbol, bid, ask, ltp)
        if released:
            settle(book, released)
    return built - started, time.perf_counter() - built


@dataclass
class Replay:
    """Per-tick costs (ns) of quiet and releasing ticks, and each releasing tick's releases."""

    quiet: list[int]
    busy: list[int]
    released: dict[int, list[Release]]


def replay(engine: Engine, quotes: Sequence[Quote], start: int, stop: int, into: Replay) -> None:
    """Feed ``quotes[start:stop]`` to ``engine``, timing each call; record into ``into``."""
    clock = time.perf_counter_ns
    on_tick = engine.on_tick
    quiet, busy, log = into.quiet, into.busy, into.released
    for index in range(start, stop):
        symbol, bid, ask, ltp = quotes[index]
        before = clock()
        released = on_tick(symbol, bid, ask, ltp)
        after = clock()
        if released:
            busy.append(after - before)
            log[index] = released
            settle(engine, released)
        else:
            quiet.append(after - before)


def snapshot(book: TriggerBook) -> list[Resting]:
    """Return the book's live entries, each symbol's oldest first."""
    out = []
    for symbol in symbol_names():
        for order_id in book.open_ids(symbol):
            entry = book.get(order_id)
            assert entry is not None
            out.append(entry)
    return out


def outcome(released: list[Release]) -> list[tuple[int, str]]:
    """Return releases as sorted (id, event) pairs, to compare engines that order ties apart."""
    return sorted((r.order_id, r.event.value) for r in released)


def compare(name: str, window: range, expected: dict[int, list[Release]], got: Replay) -> int:
    """Return how many ticks of ``window`` released something else than ``expected``."""
    bad = 0
    for index in window:
        if outcome(expected.get(index, [])) != outcome(got.released.get(index, [])):
            bad += 1
    if bad:
        raise RuntimeError(f"{name}: {bad} ticks released other orders than the trigger book")
    return bad


def check_fills(released: Iterable[Release]) -> int:
    """Return the number of ids released twice for the same reason, or executed before
    triggering; a STOP_LOSS is released once TRIGGERED and at most once more as a LIMIT."""
    seen: dict[int, list[Event]] = {}
    for release in released:
        seen.setdefault(release.order_id, []).append(release.event)
    allowed = ([Event.EXECUTABLE], [Event.TRIGGERED], [Event.TRIGGERED, Event.EXECUTABLE])
    return sum(1 for events in seen.values() if events not in allowed)


def timer_overhead() -> float:
    """Return the median ns between two back-to-back ``perf_counter_ns`` calls."""
    clock = time.perf_counter_ns
    samples = []
    for _ in range(100_000):
        before = clock()
        samples.append(clock() - before)
    return statistics.median(samples)


@dataclass(frozen=True)
class Row:
    """A result line: per-tick cost of a quiet tick, its ticks per second and its ratio."""

    name: str
    median_ns: float
    p90_ns: float
    ticks_per_second: float
    ratio: float


@dataclass(frozen=True)
class Report:
    """Everything the benchmark measured and checked."""

    rows: list[Row]
    rebuild_seconds: float
    replay_seconds: float
    quiet_ticks: int
    releasing_ticks: int
    releases: int
    largest_release: int
    timer_ns: float
    checked_ticks: int
    mismatches: int
    double_fills: int


def percentiles(samples: list[int]) -> tuple[float, float]:
    """Return the median and the 90th percentile of ``samples``."""
    values = np.asarray(samples, dtype=np.int64)
    return float(np.median(values)), float(np.percentile(values, 90))


def measure() -> Report:
    """Run the replay, the baselines and the checks; see the module's docstring."""
    rng = np.random.default_rng(SEED)
    mids = rng.integers(1_000, 100_000, SYMBOLS)  # 50.00 to 5,000.00 in ticks of 0.05
    entries = make_orders(rng, mids)
    quotes = make_ticks(rng, mids)

    rebuild_seconds, replay_seconds = throughput(entries, quotes)

    # The timed replay, paused at the start of each baseline's window to copy the book.
    book = TriggerBook(entries)
    main = Replay([], [], {})
    replay(book, quotes, 0, SCAN_ALL_START, main)
    at_scan_all = snapshot(book)
    replay(book, quotes, SCAN_ALL_START, SCAN_SYMBOL_START, main)
    at_scan_symbol = snapshot(book)
    replay(book, quotes, SCAN_SYMBOL_START, TICKS, main)

    scan_all_window = range(SCAN_ALL_START, SCAN_ALL_START + SCAN_ALL_TICKS)
    scan_all = Replay([], [], {})
    replay(ScanAll(at_scan_all), quotes, scan_all_window.start, scan_all_window.stop, scan_all)
    scan_symbol_window = range(SCAN_SYMBOL_START, SCAN_SYMBOL_START + SCAN_SYMBOL_TICKS)
    scan_symbol = Replay([], [], {})
    replay(
        ScanSymbol(at_scan_symbol),
        quotes,
        scan_symbol_window.start,
        scan_symbol_window.stop,
        scan_symbol,
    )
    # The book again on the all-orders window, from the same copy: like against like.
    copy = Replay([], [], {})
    replay(TriggerBook(at_scan_all), quotes, scan_all_window.start, scan_all_window.stop, copy)

    mismatches = compare("scan of all orders", scan_all_window, main.released, scan_all)
    mismatches += compare("scan of the symbol", scan_symbol_window, main.released, scan_symbol)
    mismatches += compare("book from a copy", scan_all_window, main.released, copy)
    every_release = [r for index in sorted(main.released) for r in main.released[index]]
    double_fills = check_fills(every_release)
    if double_fills:
        raise RuntimeError(f"{double_fills} orders were released twice")

    base_median, base_p90 = percentiles(scan_all.quiet)

    def row(name: str, samples: list[int], rate: float | None = None) -> Row:
        median, p90 = percentiles(samples)
        per_second = rate if rate is not None else 1e9 / float(np.mean(samples))
        return Row(name, median, p90, per_second, base_median / median)

    rows = [
        row("trigger book: quiet tick (releases nothing)", main.quiet),
        row("trigger book: tick releasing orders", main.busy),
        row(
            "trigger book: any tick (ticks/s: untimed replay)",
            main.quiet + main.busy,
            TICKS / replay_seconds,
        ),
        row(f"trigger book: quiet tick, all-orders window, cold ({SCAN_ALL_TICKS:,})", copy.quiet),
        row(
            f"scan the symbol's open orders: quiet tick ({SCAN_SYMBOL_TICKS:,})",
            scan_symbol.quiet,
        ),
        Row(
            f"scan all {ORDERS:,} open orders: quiet tick ({SCAN_ALL_TICKS:,}) (baseline)",
            base_median,
            base_p90,
            1e9 / float(np.mean(scan_all.quiet)),
            1.0,
        ),
    ]
    return Report(
        rows=rows,
        rebuild_seconds=rebuild_seconds,
        replay_seconds=replay_seconds,
        quiet_ticks=len(main.quiet),
        releasing_ticks=len(main.busy),
        releases=len(every_release),
        largest_release=max(len(r) for r in main.released.values()),
        timer_ns=timer_overhead(),
        checked_ticks=len(scan_all_window) * 2 + len(scan_symbol_window),
        mismatches=mismatches,
        double_fills=double_fills,
    )


def run() -> list[tuple[str, float, float]]:
    """Return (name, median seconds per tick, speed-up over the all-orders scan) for each case."""
    return [(r.name, r.median_ns / 1e9, r.ratio) for r in measure().rows]


def main() -> None:
    """Print the table of per-tick medians, tick rates and ratios, and the checks."""
    started = time.perf_counter()
    report = measure()
    rows = report.rows
    width = max(len(r.name) for r in rows)
    print(
        f"\nTrigger book, one core: {ORDERS:,} resting orders over {SYMBOLS} symbols, "
        f"{TICKS:,} ticks (ratio: the all-orders scan's median over the row's)"
    )
    print(f"{'case':<{width}}  {'median':>10}  {'p90':>10}  {'ticks/s':>11}  {'ratio':>9}")
    for r in rows:
        print(
            f"{r.name:<{width}}  {r.median_ns / 1e3:>7.2f} µs  {r.p90_ns / 1e3:>7.2f} µs  "
            f"{r.ticks_per_second:>11,.0f}  {r.ratio:>8,.0f}×"
        )
    print(
        f"\nrebuild (heapify) of {ORDERS:,} orders {report.rebuild_seconds * 1e3:.0f} ms; "
        f"replay {report.replay_seconds:.2f} s; {report.quiet_ticks:,} quiet ticks, "
        f"{report.releasing_ticks:,} releasing {report.releases:,} orders "
        f"(up to {report.largest_release} at once); timer overhead "
        f"{report.timer_ns:.0f} ns per timed call (included above)"
    )
    print(
        f"checked {report.checked_ticks:,} ticks against the scans: "
        f"{report.mismatches} missed or extra releases; "
        f"{report.double_fills} orders released twice over the whole replay"
    )
    quiet, base = rows[0], rows[-1]
    print(
        f"targets: quiet tick < 2 µs → {quiet.median_ns / 1e3:.2f} µs; "
        f"≥ 100× the all-orders scan → {quiet.ratio:,.0f}×  "
        f"(total {time.perf_counter() - started:.1f} s; baseline {base.median_ns / 1e3:,.0f} µs)"
    )


if __name__ == "__main__":
    main()
