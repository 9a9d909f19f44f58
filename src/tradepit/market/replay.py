"""CSV replay: recorded ticks or bars played at clock speed.

Tick files have the columns ``timestamp,symbol,ltp`` and optionally ``bid,ask,bid_size,
ask_size,volume,oi``; bar files ``timestamp,symbol,open,high,low,close`` and optionally
``volume`` (each bar plays as four ticks: open, high or low first as the bar moved, the other,
close). Timestamps are ISO 8601 with an offset. The market clock starts at the file's first
instant (``first_instant``), so the replayed day is the market's day.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from tradepit.domain.clock import Clock
from tradepit.domain.errors import InvalidInput
from tradepit.domain.instruments import Instrument
from tradepit.domain.market import Tick
from tradepit.market.feed import FeedState, TickSink

WALL_INTERVAL = 0.1


class BadReplayFile(InvalidInput):
    """The replay file cannot be read; the message names the line."""

    code = "BAD_REPLAY_FILE"


@dataclass(frozen=True)
class _Row:
    line: int
    values: Mapping[str, str]


def _decimal(row: _Row, column: str, default: str | None = None) -> Decimal:
    raw = row.values.get(column) or default
    if raw is None:
        raise BadReplayFile(f"line {row.line}: column '{column}' is empty")
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise BadReplayFile(f"line {row.line}: '{raw}' in '{column}' is not a number") from exc
    if not value.is_finite() or value < 0:
        raise BadReplayFile(f"line {row.line}: '{raw}' in '{column}' must be a number ≥ 0")
    return value


def _timestamp(row: _Row) -> datetime:
    raw = row.values.get("timestamp", "")
    try:
        ts = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise BadReplayFile(f"line {row.line}: '{raw}' is not an ISO 8601 timestamp") from exc
    if ts.tzinfo is None:
        raise BadReplayFile(f"line {row.line}: timestamp '{raw}' needs an offset (e.g. +05:30)")
    return ts.astimezone(UTC)


def _tick(row: _Row, instrument: Instrument, ts: datetime, ltp: Decimal, volume: Decimal) -> Tick:
    bid = _decimal(row, "bid", str(ltp)) if "bid" in row.values else ltp
    ask = _decimal(row, "ask", str(ltp)) if "ask" in row.values else ltp
    if bid > ask:
        raise BadReplayFile(f"line {row.line}: bid {bid} is above ask {ask}")
    oi = row.values.get("oi")
    return Tick(
        symbol=instrument.symbol,
        ts=ts,
        ltp=ltp,
        bid=bid,
        ask=ask,
        bid_size=_decimal(row, "bid_size", "0"),
        ask_size=_decimal(row, "ask_size", "0"),
        volume=volume,
        oi=_decimal(row, "oi") if oi else None,
    )


def read_ticks(path: Path, instruments: Mapping[str, Instrument]) -> list[Tick]:
    """Read a tick or bar file into ticks in time order; refuse it whole on any bad line."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise BadReplayFile(f"cannot open {path}: {exc.strerror}") from exc
    with handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or ())
        bars = {"open", "high", "low", "close"} <= columns
        if not ({"timestamp", "symbol"} <= columns and (bars or "ltp" in columns)):
            raise BadReplayFile(
                f"{path}: needs the columns timestamp,symbol and ltp (ticks) "
                "or open,high,low,close (bars)"
            )
        rows = [_Row(number, values) for number, values in enumerate(reader, start=2)]
    ticks: list[Tick] = []
    cumulative: dict[tuple[str, str], Decimal] = {}
    for row in rows:
        name = row.values.get("symbol", "").strip().upper()
        instrument = instruments.get(name)
        if instrument is None:
            raise BadReplayFile(f"line {row.line}: unknown symbol '{row.values.get('symbol')}'")
        ts = _timestamp(row)
        if not bars:
            volume = _decimal(row, "volume", "0")
            ticks.append(_tick(row, instrument, ts, _decimal(row, "ltp"), volume))
            continue
        ticks.extend(_bar_ticks(row, instrument, ts, cumulative))
    ticks.sort(key=lambda t: t.ts)
    return ticks


def _bar_ticks(
    row: _Row, instrument: Instrument, ts: datetime, cumulative: dict[tuple[str, str], Decimal]
) -> Iterable[Tick]:
    o, h, low, c = (_decimal(row, k) for k in ("open", "high", "low", "close"))
    if not (low <= min(o, c) and max(o, c) <= h):
        raise BadReplayFile(f"line {row.line}: OHLC is inconsistent (low ≤ open, close ≤ high)")
    key = (instrument.symbol, ts.date().isoformat())
    before = cumulative.get(key, Decimal(0))
    total = cumulative[key] = before + _decimal(row, "volume", "0")
    path = (o, low, h, c) if c >= o else (o, h, low, c)
    for i, price in enumerate(path):
        volume = total if i == len(path) - 1 else before
        yield _tick(row, instrument, ts + timedelta(seconds=15 * i), price, volume)


class ReplayFeed:
    """Play recorded ticks when the market clock reaches their time."""

    def __init__(self, ticks: list[Tick], clock: Clock, source: str) -> None:
        if not ticks:
            raise BadReplayFile(f"{source} holds no rows")
        self.ticks = ticks
        self.clock = clock
        self.state = FeedState(kind=f"replay:{source}", symbols=sorted({t.symbol for t in ticks}))

    @property
    def first_instant(self) -> datetime:
        """Return the time of the first recorded tick (where the market clock should start)."""
        return self.ticks[0].ts

    async def run(self, sink: TickSink) -> None:
        """Deliver the ticks as the clock passes them; report 'finished' at the end."""
        self.state.status = "running"
        position = 0
        while position < len(self.ticks):
            now = self.clock.now()
            end = position
            while end < len(self.ticks) and self.ticks[end].ts <= now:
                end += 1
            if end > position:
                batch = self.ticks[position:end]
                position = end
                self.state.saw(batch)
                await sink(batch)
            await asyncio.sleep(WALL_INTERVAL)
        self.state.status = "finished"
        self.state.detail = f"replayed {len(self.ticks)} ticks"
