"""Health and status: ``/health`` and ``/api/health`` (smd-options envelope), ``/api/status``."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from tradepit.api.deps import WiringDep
from tradepit.api.errors import timestamp
from tradepit.services import feeds

router = APIRouter(tags=["health"])


def _health(wired: WiringDep) -> dict[str, Any]:
    uptime = (wired.wall.now() - wired.started_at).total_seconds()
    data = {"status": "healthy", "version": wired.version, "uptime_seconds": round(uptime, 3)}
    return {
        "success": True,
        "message": "Service is healthy",
        "timestamp": timestamp(),
        "data": data,
        "status": "healthy",
    }


@router.get("/health", summary="Liveness (smd-options envelope)")
async def health(wired: WiringDep) -> dict[str, Any]:
    """Answer while the process is alive."""
    return _health(wired)


@router.get("/api/health", summary="Liveness under /api (smd-options envelope)")
async def api_health(wired: WiringDep) -> dict[str, Any]:
    """Answer while the process is alive."""
    return _health(wired)


async def _database_ok(wired: WiringDep) -> bool:
    try:
        async with wired.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError):
        return False
    return True


async def _redis_status(url: str | None) -> str:
    if url is None:
        return "not_configured"
    client: Redis = Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        await asyncio.wait_for(client.ping(), timeout=2)
    except (RedisError, OSError, TimeoutError):
        return "unreachable"
    finally:
        await client.aclose()
    return "ok"


@router.get("/api/status", summary="Server status (mt5-copier)")
async def status(wired: WiringDep) -> dict[str, Any]:
    """Return version, uptime, database and Redis reachability, feed and clock."""
    database_ok = await _database_ok(wired)
    redis_status = await _redis_status(wired.redis_url)
    healthy = database_ok and redis_status != "unreachable"
    return {
        "status": "ok" if healthy else "degraded",
        "version": wired.version,
        "uptime_seconds": round((wired.wall.now() - wired.started_at).total_seconds(), 3),
        "database": {"ok": database_ok, "backend": wired.engine.dialect.name},
        "redis": redis_status,
        "feed": feeds.feed_state(wired.feeds),
        "clock": {"speed": wired.clock.speed, "now": wired.clock.now().isoformat()},
    }


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(wired: WiringDep) -> Response:
    """Return request counts and latencies per route in Prometheus text format."""
    return Response(generate_latest(wired.metrics), media_type=CONTENT_TYPE_LATEST)


@router.get("/", summary="API information")
async def root(wired: WiringDep) -> dict[str, Any]:
    """Return the name, version and where the docs are."""
    return {"name": "Tradepit", "version": wired.version, "docs": "/docs", "redoc": "/redoc"}
