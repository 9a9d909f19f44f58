"""Health and status: ``/health`` and ``/api/health`` (smd-options envelope), ``/api/status``."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from tradepit.api import console
from tradepit.api.deps import WiringDep
from tradepit.api.errors import timestamp
from tradepit.domain.errors import PermissionDenied
from tradepit.services import feeds

router = APIRouter(tags=["health"])


def _leadership(wired: WiringDep) -> dict[str, Any]:
    """Return this process's role and whether it leads (holds the order book and runs the
    schedulers, and an engine the feed); an API worker never leads."""
    return {"role": wired.role, "leading": wired.leadership.leading.is_set()}


def _health(wired: WiringDep) -> dict[str, Any]:
    uptime = (wired.wall.now() - wired.started_at).total_seconds()
    data = {
        "status": "healthy",
        "version": wired.version,
        "uptime_seconds": round(uptime, 3),
        **_leadership(wired),
    }
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
        "timestamp": timestamp(),
        "version": wired.version,
        "uptime_seconds": round((wired.wall.now() - wired.started_at).total_seconds(), 3),
        **_leadership(wired),
        "database": {"ok": database_ok, "backend": wired.engine.dialect.name},
        "redis": redis_status,
        "feed": feeds.feed_state(wired.feeds),
        "clock": {"speed": wired.clock.speed, "now": wired.clock.now().isoformat()},
    }


def _loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # "unknown", or a name a test transport made up
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


async def metrics_reader(request: Request, wired: WiringDep) -> None:
    """Let a loopback client, or anyone with ``Authorization: Bearer <TRADEPIT_METRICS_TOKEN>``,
    read the metrics; 403 for everyone else. The client address is the one a trusted proxy
    reported (``TRADEPIT_TRUSTED_PROXIES``), so a proxied caller is not taken for loopback."""
    if request.client is not None and _loopback(request.client.host):
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    token = wired.metrics_token
    if (
        token
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given.strip().encode(), token.encode())
    ):
        return
    raise PermissionDenied(
        "metrics are served to loopback clients, or with the bearer token TRADEPIT_METRICS_TOKEN"
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics (loopback, or the metrics bearer token)",
    response_class=Response,
    dependencies=[Depends(metrics_reader)],
    responses={403: {"description": "neither a loopback client nor the metrics token"}},
)
async def metrics(wired: WiringDep) -> Response:
    """Return request counts and latencies per route in Prometheus text format."""
    return Response(generate_latest(wired.metrics), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/",
    summary="API information (the web console to a browser)",
    response_model=dict[str, Any],
    responses={200: {"content": {"text/html": {}}}},
)
async def root(request: Request, wired: WiringDep) -> Response | dict[str, Any]:
    """Return the name, version and where the docs are; to a request that accepts HTML (a
    browser), the web console's page instead (``docs/console.md``)."""
    if wired.role != "engine" and console.wants_page(request):
        return console.page()
    return {
        "name": "Tradepit",
        "version": wired.version,
        "docs": "/docs",
        "redoc": "/redoc",
        "console": "/",
    }
