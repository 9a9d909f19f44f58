"""What routes depend on: the wired services, a database session per request, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPBearer
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.routing import BaseRoute

from tradepit.bus import Bus
from tradepit.domain.accounts import Role
from tradepit.domain.clock import Clock
from tradepit.domain.errors import DomainError, NotAuthenticated, PermissionDenied
from tradepit.domain.fees import FeeSchedule
from tradepit.market.data import MarketData
from tradepit.market.feed import Feed
from tradepit.services import auth, browser_sessions
from tradepit.services.auth import AuthPolicy
from tradepit.services.brokers import Brokers
from tradepit.services.callers import Caller
from tradepit.services.desk import Desk
from tradepit.services.engine import Matcher
from tradepit.services.feeds import FeedRunner, KiteLogin
from tradepit.services.identities import Identities
from tradepit.services.leaderboards import Recent
from tradepit.services.leadership import Leadership
from tradepit.services.predictions import BetRules, Resolver
from tradepit.services.realtime import Hub
from tradepit.store.crypto import Sealer
from tradepit.store.db import commit
from tradepit.trading.state import TradingState


@dataclass
class Wiring:
    """Everything the routes need, built once by the composition root (``tradepit.app``)."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    auth: AuthPolicy
    clock: Clock
    wall: Clock
    started_at: datetime
    version: str
    data_dir: str
    starting_balances: dict[str, Decimal]
    market: MarketData
    fees: FeeSchedule
    matcher: Matcher
    bus: Bus
    feeds: FeedRunner
    feed: Feed | None
    sealer: Sealer
    kite: KiteLogin | None
    bet_rules: BetRules
    resolver: Resolver
    hub: Hub
    brokers: Brokers
    #: Which process runs the schedulers (services.leadership).
    leadership: Leadership
    #: ``TRADEPIT_ROLE``: all, api or engine.
    role: str
    #: Group commit for order placement.
    desk: Desk
    #: Users, API keys and revocations, held in memory for every request's checks.
    identities: Identities
    #: Each user's wallets, positions and resting orders, for reads.
    trading: TradingState
    on_kite_token: Callable[[str], Awaitable[None]] | None = None
    redis_url: str | None = None
    metrics: CollectorRegistry = field(default_factory=CollectorRegistry)
    #: The bearer token that opens ``/metrics`` off loopback (``TRADEPIT_METRICS_TOKEN``).
    metrics_token: str | None = None
    #: The running tournaments' leaderboards the scheduler published last.
    leaderboards: Recent = field(default_factory=Recent)
    #: ``TRADEPIT_CORS_ORIGINS``: other origins whose pages may write with the session cookie.
    cors_origins: tuple[str, ...] = ()


# Dependencies are coroutines even when they do not wait: FastAPI runs a plain function in a
# worker thread, a round trip that cost more than the function itself on every request.


async def wiring(request: Request) -> Wiring:
    """Return the app's wiring."""
    found: Wiring = request.app.state.wiring
    return found


WiringDep = Annotated[Wiring, Depends(wiring)]


async def trading_state(request: Request) -> TradingState:
    """Return what users hold (kept in memory where this process is the only writer)."""
    return (await wiring(request)).trading


TradingDep = Annotated[TradingState, Depends(trading_state)]


async def market_reader(request: Request) -> MarketData:
    """Return the market data."""
    return (await wiring(request)).market


#: The largest row id: ids are 32-bit INTEGER columns (PostgreSQL refuses a larger value).
MAX_ID = 2**31 - 1
#: A row id in a path: positive and within its column.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield a session; commit when the route succeeds, roll back when it fails.

    A domain error whose failure is itself a fact (``commits``), such as a failed login,
    commits what was recorded before it propagates.
    """
    async with (await wiring(request)).sessionmaker() as session:
        try:
            yield session
        except DomainError as exc:
            if exc.commits:
                await commit(session)
            raise
        await commit(session)


SessionDep = Annotated[AsyncSession, Depends(db_session, scope="function")]


async def client_ip(request: Request) -> str:
    """Return the caller's address (uvicorn resolves trusted proxy headers)."""
    return request.client.host if request.client else "unknown"


IpDep = Annotated[str, Depends(client_ip)]

_bearer = HTTPBearer(auto_error=False, description="JWT from a login route")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")
_cookie = APIKeyCookie(
    name=browser_sessions.SESSION_COOKIE,
    auto_error=False,
    description="The session cookie POST /api/login sets (the login's JWT) for browser pages "
    "that send no header; a write with it needs an Origin or Referer of this site",
)


async def current_user(request: Request) -> Caller:
    """Return the authenticated caller: from a bearer token, else an ``X-API-Key``, else the
    session cookie's token, checked against the identities held in memory (no database round
    trip); 401 without any, or when it is not one we signed, has expired, was revoked or is
    a deactivated user's. A write authenticated by the cookie alone must come from a page of
    this site or of ``TRADEPIT_CORS_ORIGINS`` (``browser_sessions.check_write``), else 403.

    One dependency that reads the three schemes itself (their own callables): as a tree of
    sub-dependencies FastAPI spent ~80 µs a request solving them. ``showing_security`` puts
    the schemes in the API document as FastAPI would have."""
    wired = await wiring(request)
    ip = await client_ip(request)
    bearer = await _bearer(request)
    if bearer is not None:
        return await auth.authenticate_token(
            wired.identities, wired.auth, wired.wall, bearer.credentials, ip
        )
    api_key = await _api_key(request)
    if api_key:
        return await auth.authenticate_api_key(wired.identities, wired.wall, api_key, ip)
    cookie = await _cookie(request)
    if cookie:
        auth.decode_token(wired.auth, cookie, wired.wall.now())
        if request.method in browser_sessions.WRITES:
            headers = request.headers
            own = browser_sessions.own_origin(request.url.scheme, headers.get("host"))
            browser_sessions.check_write(
                headers.get("origin"), headers.get("referer"), own, wired.cors_origins
            )
        return await auth.authenticate_token(wired.identities, wired.auth, wired.wall, cookie, ip)
    raise NotAuthenticated("authentication required: send 'Authorization: Bearer <token>'")


def showing_security(
    generate: Callable[[], dict[str, Any]], routes: Iterable[BaseRoute]
) -> Callable[[], dict[str, Any]]:
    """Return ``generate`` (an app's ``openapi``) with the bearer, API key and cookie schemes
    declared, and required by every operation whose route depends on ``current_user``."""
    schemes = (_bearer, _api_key, _cookie)
    guarded = [
        (route.path_format, method.lower())
        for route in routes
        if isinstance(route, APIRoute)
        and route.include_in_schema
        and _needs_caller(route.dependant)
        for method in route.methods or ()
    ]

    def openapi() -> dict[str, Any]:
        spec = generate()
        components = spec.setdefault("components", {}).setdefault("securitySchemes", {})
        for scheme in schemes:
            model = scheme.model.model_dump(mode="json", by_alias=True, exclude_none=True)
            components[scheme.scheme_name] = model
        for path, method in guarded:
            spec["paths"][path][method]["security"] = [{s.scheme_name: []} for s in schemes]
        return spec

    return openapi


def _needs_caller(dependant: Dependant) -> bool:
    return dependant.call is current_user or any(map(_needs_caller, dependant.dependencies))


CallerDep = Annotated[Caller, Depends(current_user)]


def _require(role: Role, caller: Caller) -> Caller:
    if not caller.role.includes(role):
        raise PermissionDenied(f"this needs the {role.value} role")
    return caller


async def current_admin(caller: CallerDep) -> Caller:
    """Return the caller if they are an admin or superadmin."""
    return _require(Role.ADMIN, caller)


async def current_superadmin(caller: CallerDep) -> Caller:
    """Return the caller if they are a superadmin."""
    return _require(Role.SUPERADMIN, caller)


AdminDep = Annotated[Caller, Depends(current_admin)]
SuperadminDep = Annotated[Caller, Depends(current_superadmin)]
