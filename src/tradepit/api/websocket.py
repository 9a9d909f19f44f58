"""smd-options' ``GET /api/websocket/stats`` (the real-time gateways' statistics) and
``POST /api/websocket/test``."""

from __future__ import annotations

from fastapi import APIRouter

from tradepit.api.deps import WiringDep
from tradepit.api.market import envelope
from tradepit.schemas.market import Envelope
from tradepit.schemas.realtime import StatsRead, WebsocketTestRead

router = APIRouter(tags=["real time"])


@router.get("/api/websocket/stats", summary="WebSocket and Socket.IO statistics")
async def websocket_stats(wired: WiringDep) -> Envelope[StatsRead]:
    """Return connections per transport, subscriptions per symbol and messages sent and
    dropped (conflated ticks), for this worker and, with Redis, every live worker and totals."""
    return envelope(await wired.hub.all_stats(), "WebSocket statistics retrieved")


@router.post("/api/websocket/test", summary="WebSocket test (smd-options' frontend)")
async def websocket_test(wired: WiringDep) -> Envelope[WebsocketTestRead]:
    """Return the statistics; no test signal is sent (``test_signal_sent`` is false)."""
    stats = await wired.hub.all_stats()
    found = WebsocketTestRead(test_signal_sent=False, connection_stats=stats)
    return envelope(found, "No test signal sent: Tradepit emits none; statistics attached")
