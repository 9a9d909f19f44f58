"""The composition root: settings in, a wired ASGI app out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.low_level import Type
from fastapi import FastAPI
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from starlette.middleware.cors import CORSMiddleware

from tradepit import __version__
from tradepit.api import admin, auth, candles, errors, health, market, users
from tradepit.api.deps import Wiring
from tradepit.api.middleware import BodyLimit, RateLimit, RequestContext, caller_identity
from tradepit.domain.clock import Clock, SystemClock, make_clock
from tradepit.market.data import create_market
from tradepit.services.auth import AuthPolicy
from tradepit.settings import Settings
from tradepit.store.db import create_engine, create_sessionmaker
from tradepit.store.secrets import Secrets

DESCRIPTION = """
Paper trading against a simulated or live market, option chains with analytics, fixed-time
predictions, tournaments, linked broker accounts and real-time streams.

Authenticate with `Authorization: Bearer <token>` from a login route, or `X-API-Key`.
Error shapes: smd-options routes use its envelope; all others answer
`{"success": false, "message", "detail", "code"}`. See `docs/api.md`.
"""


def password_hasher(settings: Settings) -> PasswordHasher:
    """Return the Argon2id hasher configured by the settings."""
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_cost_kib,
        parallelism=settings.argon2_parallelism,
        type=Type.ID,
    )


def build_wiring(
    settings: Settings, *, clock: Clock | None = None, wall: Clock | None = None
) -> Wiring:
    """Create engine, secrets, clocks and policies from ``settings``."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secrets = Secrets(settings.data_dir)
    engine = create_engine(settings.db_url)
    wall = wall or SystemClock()
    clock = clock or make_clock(settings.clock_speed)
    return Wiring(
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        auth=AuthPolicy(
            jwt_secret=secrets.jwt_secret,
            token_ttl=timedelta(minutes=settings.jwt_ttl_minutes),
            hasher=password_hasher(settings),
        ),
        clock=clock,
        wall=wall,
        started_at=wall.now(),
        version=__version__,
        data_dir=str(settings.data_dir.resolve()),
        starting_balances={
            "INR": settings.starting_balance_inr,
            "USDT": settings.starting_balance_usdt,
            "USD": settings.starting_balance_usd,
        },
        redis_url=settings.redis_url,
        market=create_market(
            clock, seed=settings.seed, always_open=settings.market_hours == "always"
        ),
    )


def _rate_limit_storage(settings: Settings) -> Storage:
    if settings.redis_url:
        return RedisStorage(
            settings.redis_url,
            implementation="redispy",
            key_prefix=f"{settings.redis_prefix}:limits",
        )
    return MemoryStorage()


def create_app(
    settings: Settings, *, clock: Clock | None = None, wall: Clock | None = None
) -> FastAPI:
    """Return the ASGI app for ``settings``. The database must already be migrated."""
    wired = build_wiring(settings, clock=clock, wall=wall)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await wired.engine.dispose()

    app = FastAPI(
        title="Tradepit",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url="/redoc",
    )
    app.state.wiring = wired
    errors.install(app)
    for module in (health, auth, users, admin, market, candles):
        app.include_router(module.router)

    allow_any = "*" in settings.cors_origins
    app.add_middleware(
        RateLimit,
        storage=_rate_limit_storage(settings),
        general=settings.rate_limit,
        auth=settings.auth_rate_limit,
        identify=caller_identity(wired.auth.jwt_secret),
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        # Never '*' with credentials: a wildcard allow-list serves anonymous requests only.
        allow_credentials=not allow_any,
        allow_methods=["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
        expose_headers=["X-Request-ID", "Retry-After"],
    )
    app.add_middleware(RequestContext, registry=wired.metrics)
    return app
