"""What routes depend on: the wired services, a database session per request, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Path, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

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


async def trading_state(wired: WiringDep) -> TradingState:
    """Return what users hold (kept in memory where this process is the only writer)."""
    return wired.trading


TradingDep = Annotated[TradingState, Depends(trading_state)]


async def market_reader(wired: WiringDep) -> MarketData:
    """Return the market data."""
    return wired.market


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


@dataclass(frozen=True)
class Credentials:
    """What a request offers to prove who it is, not yet checked."""

    ip: str
    bearer: str | None = None
    api_key: str | None = None
    #: The bearer token came from the session cookie, not from a header.
    cookie: bool = False


async def credentials(
    request: Request,
    wired: WiringDep,
    ip: IpDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    api_key: Annotated[str | None, Security(_api_key)],
    cookie: Annotated[str | None, Security(_cookie)],
) -> Credentials:
    """Return the request's bearer token or ``X-API-Key``, else its session cookie's token;
    401 when it has none, or when the token is not one we signed or has expired (revocation
    and the user are checked by ``authenticate``, in the database). A write authenticated by
    the cookie alone must come from a page of this site or of ``TRADEPIT_CORS_ORIGINS``
    (``browser_sessions.check_write``), else 403."""
    if bearer is not None:
        auth.decode_token(wired.auth, bearer.credentials, wired.wall.now())
        return Credentials(ip, bearer=bearer.credentials)
    if api_key:
        return Credentials(ip, api_key=api_key)
    if cookie:
        auth.decode_token(wired.auth, cookie, wired.wall.now())
        if request.method in browser_sessions.WRITES:
            headers = request.headers
            own = browser_sessions.own_origin(request.url.scheme, headers.get("host"))
            browser_sessions.check_write(
                headers.get("origin"), headers.get("referer"), own, wired.cors_origins
            )
        return Credentials(ip, bearer=cookie, cookie=True)
    raise NotAuthenticated("authentication required: send 'Authorization: Bearer <token>'")


CredentialsDep = Annotated[Credentials, Depends(credentials)]


async def current_user(wired: WiringDep, offered: CredentialsDep) -> Caller:
    """Return the authenticated caller, from a bearer token or an ``X-API-Key`` (checked
    against the identities held in memory: no database round trip)."""
    if offered.bearer is not None:
        return await auth.authenticate_token(
            wired.identities, wired.auth, wired.wall, offered.bearer, offered.ip
        )
    assert offered.api_key is not None
    return await auth.authenticate_api_key(
        wired.identities, wired.wall, offered.api_key, offered.ip
    )


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
