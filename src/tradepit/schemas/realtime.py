"""Shapes of the real-time streams (``docs/realtime.md``): ticks and gateway statistics."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class TickRead(BaseModel):
    """A price update: native ``/ws`` ``tick``, Socket.IO ``symbol_update``."""

    symbol: str
    ltp: float
    bid: float
    ask: float
    volume: float
    oi: float | None
    change: float | None = Field(description="Last price minus the previous session's close")
    timestamp: datetime


class WorkerStatsRead(BaseModel):
    """One worker's gateways."""

    worker: str
    connections: dict[str, int] = Field(description="Open connections per transport")
    subscriptions: dict[str, int] = Field(description="Subscribed connections per symbol")
    messages_sent: int
    messages_dropped: int = Field(description="Ticks replaced by a newer one (conflated)")
    slow_disconnects: int = Field(description="Clients closed for not reading private events")
    updated_at: datetime


class StatsRead(BaseModel):
    """Statistics of this worker and, with Redis, of every live worker."""

    worker: WorkerStatsRead
    workers: list[WorkerStatsRead]
    totals: WorkerStatsRead


class WebsocketTestRead(BaseModel):
    """The answer to smd-options' ``POST /api/websocket/test``."""

    test_signal_sent: bool = Field(
        description="Always false: Tradepit emits no test signal (smd-options' backend sent "
        "one to every connected client); connect and read connection_status instead"
    )
    connection_stats: StatsRead
