"""The composition root: settings in, a wired ASGI app out."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.low_level import Type
from fastapi import APIRouter, FastAPI
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from prometheus_client import CollectorRegistry, Gauge
from starlette.middleware.cors import CORSMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from tradepit import __version__
from tradepit.api import (
    accounts_table,
    admin,
    auth,
    broadcasts,
    broker_accounts,
    calculator,
    candles,
    console,
    docs_pages,
    errors,
    examples,
    feeds,
    health,
    market,
    orders,
    predictions,
    tournaments,
    users,
    wallets,
    websocket,
)
from tradepit.api.deps import Wiring, showing_security
from tradepit.api.dialects import DialectPrefix
from tradepit.api.kite import apps as kite_apps
from tradepit.api.kite import gtt as kite_gtt
from tradepit.api.kite import market as kite_market
from tradepit.api.kite import session as kite_session
from tradepit.api.kite import trading as kite_trading
from tradepit.api.middleware import (
    AUTH_PATHS,
    BodyLimit,
    RateLimit,
    RequestContext,
    SecurityHeaders,
    caller_identity,
    request_id,
)
from tradepit.bus import Bus, MemoryBus
from tradepit.bus.redis import RedisBus
from tradepit.domain.clock import Clock, SimulatedClock, SystemClock, make_clock
from tradepit.domain.instruments import Venue
from tradepit.domain.market import Tick
from tradepit.logs import AccessLog, configure
from tradepit.market.calendars import load_calendar
from tradepit.market.catalogue import Catalogue
from tradepit.market.data import MarketData, exchange_trading_minutes
from tradepit.market.fee_schedule import load_fee_schedule
from tradepit.market.feed import Feed
from tradepit.market.quotes import NoQuoteYet, QuoteBook
from tradepit.market.replay import ReplayFeed, read_ticks
from tradepit.market.simulated_feed import SimulatedFeed
from tradepit.market.simulator import Simulator
from tradepit.realtime import accounts_ws, kite_ticker, ws
from tradepit.realtime.adapters import engineio_adapter, uvicorn_adapter
from tradepit.realtime.sio import SocketIOGateway
from tradepit.services import broker_accounts as account_service
from tradepit.services import feeds as feed_service
from tradepit.services.accounts_table import RandomNumbers
from tradepit.services.auth import AuthPolicy
from tradepit.services.broadcast_queue import Worker
from tradepit.services.derivative_ticks import DerivativeTicks
from tradepit.services.desk import Desk
from tradepit.services.engine import Matcher
from tradepit.services.feeds import FeedRunner, KiteLogin
from tradepit.services.identities import Identities
from tradepit.services.journal import JournaledBus
from tradepit.services.kite.gtt import Watcher
from tradepit.services.kite.postbacks import PostbackPolicy, Postbacks
from tradepit.services.leaderboards import Recent
from tradepit.services.leadership import Leadership, Shape
from tradepit.services.predictions import BetRules, Resolver
from tradepit.services.realtime import Hub, Limits
from tradepit.services.tournament_runs import Scheduler
from tradepit.settings import Settings
from tradepit.store.crypto import Sealer
from tradepit.store.db import create_engine, create_sessionmaker
from tradepit.store.secrets import Secrets
from tradepit.trading.boards import Boards
from tradepit.trading.state import TradingState

if TYPE_CHECKING:
    from tradepit.market.kite_feed import OptionTokens

log = logging.getLogger("tradepit.app")

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


def starting_balances(settings: Settings) -> dict[str, Decimal]:
    """Return the balances a new user's wallets are funded with, per currency."""
    return {
        "INR": settings.starting_balance_inr,
        "USDT": settings.starting_balance_usdt,
        "USD": settings.starting_balance_usd,
    }


def bet_rules(settings: Settings) -> BetRules:
    """Return the rules of predictions (okx-bets) from ``settings``."""
    return BetRules(
        payout_ratio=settings.bet_payout_ratio,
        min_amount=settings.bet_min_amount,
        max_amount=settings.bet_max_amount,
        default_symbol=settings.bet_symbol,
    )


def access_log(settings: Settings) -> AccessLog:
    """Return which requests get an access line (``TRADEPIT_ACCESS_LOG*``)."""
    return AccessLog(
        settings.access_log,
        settings.access_log_sample_rate,
        frozenset(settings.access_log_quiet_paths),
    )


def auth_policy(settings: Settings, secrets: Secrets) -> AuthPolicy:
    """Return the authentication policy of ``settings``."""
    return AuthPolicy(
        jwt_secret=secrets.jwt_secret,
        token_ttl=timedelta(minutes=settings.jwt_ttl_minutes),
        hasher=password_hasher(settings),
    )


def build_wiring(
    settings: Settings, *, clock: Clock | None = None, wall: Clock | None = None
) -> Wiring:
    """Create engine, secrets, clocks and policies from ``settings``."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secrets = Secrets(settings.data_dir)
    engine = create_engine(settings.db_url)
    wall = wall or SystemClock()
    market, book, feed = build_market(settings, clock)
    sessionmaker = create_sessionmaker(engine)
    fees = load_fee_schedule()
    inner: Bus = (
        RedisBus(settings.redis_url, settings.redis_prefix) if settings.redis_url else MemoryBus()
    )
    retention = timedelta(hours=settings.event_retention_hours)
    bus = JournaledBus(inner, wall, retention)
    matcher = Matcher(sessionmaker, market.clock, market, fees, bus)
    policy = auth_policy(settings, secrets)
    board = inner if isinstance(inner, RedisBus) else None
    identities = Identities(sessionmaker, wall, bus)
    hub = Hub(bus, market, sessionmaker, policy, wall, realtime_limits(settings), identities, board)
    metrics = CollectorRegistry()
    return Wiring(
        identities=identities,
        trading=TradingState(sessionmaker, keep=settings.keeps_trading_state),
        leaderboards=Recent(memory=Boards(sessionmaker) if settings.keeps_trading_state else None),
        role=settings.role,
        leadership=Leadership(engine, shape=_shape(settings), registry=metrics),
        # One SQLite connection serialises every writer: there, orders share transactions.
        desk=Desk(sessionmaker, together=engine.dialect.name == "sqlite", registry=metrics),
        metrics=metrics,
        engine=engine,
        sessionmaker=sessionmaker,
        auth=policy,
        clock=market.clock,
        wall=wall,
        started_at=wall.now(),
        version=__version__,
        data_dir=str(settings.data_dir.resolve()),
        starting_balances=starting_balances(settings),
        redis_url=settings.redis_url,
        metrics_token=settings.metrics_token.get_secret_value() if settings.metrics_token else None,
        cors_origins=tuple(settings.cors_origins),
        market=market,
        fees=fees,
        matcher=matcher,
        bus=bus,
        feeds=FeedRunner(
            book,
            sessionmaker,
            listeners=[
                DerivativeTicks(
                    sessionmaker, market, matcher.on_ticks, active=lambda: matcher.leading
                ),
                hub.on_ticks,
                # An engine shares a replay or live feed's ticks with the API workers' books.
                *([share_quotes(bus)] if settings.role == "engine" and book is not None else []),
            ],
        ),
        feed=feed,
        sealer=Sealer(secrets.encryption_keys, source=secrets.read_encryption_keys),
        kite=_kite_session(settings),
        bet_rules=bet_rules(settings),
        resolver=Resolver(sessionmaker, market.clock, market, bus),
        hub=hub,
        brokers=account_service.brokers(market.clock, market, fees, matcher, settings.kite_root),
    )


def _shape(settings: Settings) -> Shape | None:
    """Return the shape this process takes part in the election as (an API worker never)."""
    if settings.role == "api":
        return None
    return "engine" if settings.role == "engine" else "all"


def report_library_paths(enabled: bool, registry: CollectorRegistry) -> None:
    """Log which path each library adapter of the gateways takes, and show it on ``/metrics``
    (``tradepit_library_fast_path{library}``: 1 its internals, 0 its public API)."""
    gauge = Gauge(
        "tradepit_library_fast_path",
        "1 when the gateways use a library's internals (its fast path), 0 its public API",
        ["library"],
        registry=registry,
    )
    for found in (uvicorn_adapter.internals(), engineio_adapter.internals()):
        if enabled:
            log.info("library %s", found.describe())
        else:
            log.info("library %s: public path (TRADEPIT_LIBRARY_FAST_PATHS=0)", found.library)
        gauge.labels(found.library).set(1 if enabled and found.usable else 0)


def realtime_limits(settings: Settings) -> Limits:
    """Return the gateways' limits of ``settings``."""
    return Limits(
        max_connections=settings.ws_max_connections,
        max_connections_per_user=settings.ws_max_connections_per_user,
        max_subscriptions=settings.ws_max_subscriptions,
        max_message_bytes=settings.ws_max_message_bytes,
        messages_per_second=settings.ws_messages_per_second,
        queue_size=settings.ws_queue_size,
        tick_backlog=settings.ws_tick_backlog,
        auth_timeout=settings.ws_auth_timeout_seconds,
        public_market_data=settings.ws_public_market_data,
        recheck_every=settings.ws_recheck_seconds,
        origins=tuple(settings.cors_origins),
    )


def build_market(
    settings: Settings, clock: Clock | None = None
) -> tuple[MarketData, QuoteBook | None, Feed | None]:
    """Return the market data, the quote book a feed fills (None for the simulator) and the
    feed to start (None for Kite, which starts once an access token is stored)."""
    kind, _, argument = settings.feed.partition(":")
    catalogue = Catalogue.load()
    calendar = load_calendar()
    always = settings.market_hours == "always"
    if kind == "simulator":
        clock = clock or make_clock(settings.clock_speed)
        hours = exchange_trading_minutes(calendar)
        # market_hours=always: every venue trades round the clock, on the same daily model.
        simulator = Simulator(catalogue, settings.seed, hours, around_the_clock=always)
        market = MarketData(
            catalogue, calendar, simulator, clock, seed=settings.seed, always_open=always
        )
        return market, None, SimulatedFeed(simulator, clock)
    book = QuoteBook(catalogue)
    feed: Feed | None
    if kind == "replay":
        ticks = read_ticks(Path(argument), {i.symbol: i for i in catalogue})
        clock = clock or SimulatedClock(settings.clock_speed, start=ticks[0].ts)
        feed = ReplayFeed(ticks, clock, argument)
    elif kind == "ccxt":
        from tradepit.market.ccxt_feed import CcxtFeed  # noqa: PLC0415 - optional extra

        clock = clock or SystemClock()
        feed = CcxtFeed(argument or "okx", catalogue.select(venue=Venue.OKX))
    elif kind == "kite":
        clock = clock or SystemClock()
        feed = None
    else:
        raise ValueError(
            f"unknown feed {settings.feed!r}: use simulator, replay:PATH, ccxt:EXCHANGE or kite"
        )
    market = MarketData(catalogue, calendar, book, clock, seed=settings.seed, always_open=always)
    return market, book, feed


def _kite_session(settings: Settings) -> KiteLogin | None:
    if not (settings.kite_api_key and settings.kite_api_secret):
        return None
    from tradepit.market.kite_feed import KiteSession  # noqa: PLC0415 - optional extra

    return KiteSession(settings.kite_api_key, settings.kite_api_secret, root=settings.kite_root)


def share_quotes(bus: Bus) -> Callable[[Sequence[Tick]], Awaitable[None]]:
    """Return a feed listener that shares every tick with the API workers (an engine's)."""

    async def share(batch: Sequence[Tick]) -> None:
        bus.publish(feed_service.QUOTES_TOPIC, feed_service.quotes_event(batch))

    return share


async def warm_quotes(wired: Wiring) -> None:
    """Load the bars persisted before this start into the quote book."""
    assert wired.feeds.book is not None
    instruments = list(wired.market.catalogue)
    await feed_service.warm(wired.feeds.book, wired.sessionmaker, instruments, wired.clock.now())


async def start_feed(wired: Wiring, settings: Settings) -> None:
    """Load persisted bars and start the configured feed (Kite: when a
    valid token is stored)."""
    if wired.feeds.book is not None:
        await warm_quotes(wired)
    if wired.feed is not None:
        if isinstance(wired.feed, SimulatedFeed):
            wired.feed.warm()
        wired.feeds.start(wired.feed)
        return
    if settings.feed != "kite" or wired.kite is None:
        return
    kite = wired.kite

    async def on_kite_token(access_token: str) -> None:
        tokens = await kite.instruments(access_token)
        instruments = {i.symbol: i for i in wired.market.catalogue if i.symbol in tokens}
        from tradepit.market.kite_feed import KiteFeed  # noqa: PLC0415 - optional extra

        book = wired.feeds.book
        if book is not None:
            options = await kite_options(kite, access_token, wired.market, book, len(tokens))
            if options is not None:
                book.track(options.instruments.values())
                tokens = {**tokens, **options.tokens}
                instruments.update(options.instruments)
        api_key = settings.kite_api_key or ""
        feed = KiteFeed(api_key, access_token, tokens, instruments, root=settings.kite_ws_root)
        await wired.feeds.replace(feed)

    wired.on_kite_token = on_kite_token
    async with wired.sessionmaker() as session:
        stored = await feed_service.load_kite_token(session, wired.wall, wired.sealer)
    if stored is not None:
        await on_kite_token(stored[0])


async def run_feed(wired: Wiring, settings: Settings) -> None:
    """Run the feed while this process leads (an engine's leadership job): start it on taking
    the lead, stop it on losing the lead."""
    try:
        await start_feed(wired, settings)
        await asyncio.Event().wait()  # until the leadership ends
    finally:
        await wired.feeds.stop()


async def kite_options(
    kite: KiteLogin, access_token: str, market: MarketData, book: QuoteBook, subscribed: int
) -> OptionTokens | None:
    """Return the options for the Kite feed to stream besides ``subscribed`` instruments.

    Strikes centre on each underlying's last price in the quote book (none before its first
    tick or stored bar). None when ``kite`` cannot look options up or Kite refuses: the feed
    then streams the catalogue alone and chains stay the model's.
    """
    from tradepit.market.kite_feed import (  # noqa: PLC0415 - optional extra
        MAX_TOKENS_PER_CONNECTION,
        KiteError,
        KiteSession,
    )

    if not isinstance(kite, KiteSession):
        return None
    underlyings = market.catalogue.with_options()
    now = market.clock.now()
    spot: dict[str, Decimal] = {}
    for underlying in underlyings:
        with contextlib.suppress(NoQuoteYet):
            spot[underlying.symbol] = book.price_at(underlying.symbol, now)
    try:
        return await kite.option_tokens(
            access_token, underlyings, spot, limit=MAX_TOKENS_PER_CONNECTION - subscribed
        )
    except KiteError as exc:
        log.warning("no Kite options streamed: %s", exc)
        return None


def _rate_limit_storage(settings: Settings) -> Storage:
    if settings.redis_url:
        return RedisStorage(
            settings.redis_url,
            implementation="redispy",
            key_prefix=f"{settings.redis_prefix}:limits",
        )
    return MemoryStorage()


async def _close_storage(storage: Storage) -> None:
    """Close the rate limiter's Redis connections (``limits`` has no public close)."""
    client = getattr(getattr(storage, "bridge", None), "storage", None)
    close = getattr(client, "aclose", None)
    if close is not None:
        await close()


def _lifespan(
    wired: Wiring,
    settings: Settings,
    limits_storage: Storage,
    on_stop: list[Callable[[], Awaitable[None]]],
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """Return the app's lifespan: what runs besides the routes, per role; ``on_stop`` (which
    the app fills as it builds its gateways) runs first when it stops."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await wired.hub.start()
        # The book is held by the leading process (Matcher.run_book, below); until then,
        # and in every other process, resting orders are passed on over the bus.
        wired.matcher.leading = False
        background = [asyncio.create_task(wired.identities.run(), name="identities")]
        if settings.role == "api":  # no feed: ticks and quotes come from the engine
            if wired.feeds.book is not None:
                await warm_quotes(wired)
                mirror = feed_service.mirror_quotes(wired.bus, wired.feeds.book)
                background.append(asyncio.create_task(mirror, name="quotes"))
        elif settings.role == "all":  # every process of this shape runs a feed of its own
            await start_feed(wired, settings)
        contests = Scheduler(
            wired.sessionmaker,
            wired.clock,
            wired.market,
            wired.bus,
            wired.matcher,
            wall=wired.wall,
            recent=wired.leaderboards,
        )
        queue = Worker(
            wired.sessionmaker, wired.wall, wired.sealer, wired.brokers, wired.market, wired.bus
        )
        ticker = RandomNumbers(wired.sessionmaker, wired.wall, wired.bus)
        postbacks = Postbacks(
            wired.sessionmaker,
            wired.sealer,
            wired.market,
            PostbackPolicy.of(settings.kite_postback_allow),
        )
        triggers = Watcher(
            wired.sessionmaker,
            wired.desk,
            wired.identities,
            wired.clock,
            wired.wall,
            wired.market,
            wired.fees,
            wired.matcher,
        )
        # The order book, end of day, bet resolution, tournaments, the broadcast queue, the
        # random-number stream (which also expires stale row locks), Kite postbacks and GTT
        # triggers run in one process at a time.
        jobs = [wired.matcher.run_book, wired.matcher.run_housekeeping, wired.resolver.run,
                contests.run, queue.run, ticker.run, postbacks.run, triggers.run]  # fmt: skip
        if settings.role == "engine":  # the leading engine alone runs the feed; a standby waits
            jobs.append(lambda: run_feed(wired, settings))
        if settings.role != "api":  # an API worker never runs them
            background.append(asyncio.create_task(wired.leadership.run(jobs), name="schedulers"))
        if settings.gc_freeze:
            # What startup built (the catalogue, the app, the wiring) lives as long as the
            # process: the garbage collector's full passes skip it from now on. A full pass
            # over it stalled the loop ~200 ms during a 10,000-entry leaderboard's recompute.
            gc.collect()
            gc.freeze()
        yield
        for stop in on_stop:
            await stop()
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await wired.feeds.stop()
        await wired.hub.stop()
        await _close_storage(limits_storage)
        await wired.engine.dispose()

    return lifespan


def documented_routers() -> list[APIRouter]:
    """Return the API's routers in the order its document lists them."""
    return [
        *(m.router for m in (auth, users, wallets, orders, admin, feeds, market, candles)),
        orders.paper_router,
        predictions.router,
        tournaments.router,
        calculator.router,
        broker_accounts.router,
        accounts_table.router,
        accounts_ws.router,
        broadcasts.router,
        websocket.router,
        kite_apps.router,
        # Kite Connect at the origin's root: the official client drops any path of its root.
        kite_session.router,
        kite_trading.router,
        kite_market.router,
        kite_gtt.router,
        kite_ticker.router,
    ]


def busiest_first(routers: list[APIRouter]) -> list[APIRouter]:
    """Return ``routers`` in the order the app includes them: the busiest first.

    A request walks the routes in the order they were included, 1.5 to 2 µs each (a Kite
    bot's request, last in the document, walked ~175 µs of them before it was answered).
    No two routers answer the same request (``tests/api/test_routing.py``), so the order
    changes nothing but speed; the document keeps ``documented_routers``' order."""
    busiest = [
        orders.router,
        wallets.router,
        auth.router,
        kite_trading.router,
        kite_market.router,
        kite_session.router,
        market.router,
    ]
    return [*busiest, *(router for router in routers if router not in busiest)]


def create_app(
    settings: Settings, *, clock: Clock | None = None, wall: Clock | None = None
) -> FastAPI:
    """Return the ASGI app for ``settings``. The database must already be migrated."""
    wired = build_wiring(settings, clock=clock, wall=wall)
    limits_storage = _rate_limit_storage(settings)

    on_stop: list[Callable[[], Awaitable[None]]] = []
    lifespan = _lifespan(wired, settings, limits_storage, on_stop)

    app = FastAPI(
        title="Tradepit",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by api/docs_pages.py, assets included
        redoc_url=None,
    )
    app.state.wiring = wired
    errors.install(app)
    app.include_router(health.router)
    app.include_router(docs_pages.router)
    app.mount(docs_pages.ASSETS_URL, docs_pages.assets(), name="docs-assets")
    docs = docs_pages.PAGES
    if settings.role == "engine":  # feed, book and schedulers: health, status and metrics only
        app.add_middleware(SecurityHeaders, docs_paths=docs, private_paths=AUTH_PATHS)
        app.add_middleware(RequestContext, registry=wired.metrics, access=access_log(settings))
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
        return app
    routers = documented_routers()
    for router in busiest_first(routers):
        app.include_router(router)
    app.mount(console.ASSETS_URL, console.assets(), name="console")
    # FastAPI's way to adjust the document it generates (its docs, "Extending OpenAPI").
    app.openapi = examples.as_declared(  # type: ignore[method-assign]
        showing_security(app.openapi, [r for router in routers for r in router.routes]),
        routers,
    )
    fast = settings.library_fast_paths
    app.add_middleware(ws.Gateway, fast_paths=fast)
    sio = SocketIOGateway(wired.hub, settings.ws_max_message_bytes, fast_paths=fast)
    app.mount("/socket.io", sio.asgi())
    on_stop.append(sio.close)
    report_library_paths(fast, wired.metrics)

    allow_any = "*" in settings.cors_origins
    app.add_middleware(
        RateLimit,
        storage=limits_storage,
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
    # Every answer, a CORS preflight's and an error's included, gets the security headers.
    app.add_middleware(
        SecurityHeaders, docs_paths=docs, private_paths=AUTH_PATHS, console_paths=console.PAGES
    )
    app.add_middleware(RequestContext, registry=wired.metrics, access=access_log(settings))
    # Everything inside sees /paper-tournaments/<path> as /<path> (api/dialects.py).
    app.add_middleware(DialectPrefix)
    # Outermost: everything inside sees the client address a trusted proxy reported.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app


def app_from_environment() -> FastAPI:
    """Return the app configured by the ``TRADEPIT_*`` environment (uvicorn's factory for
    ``tradepit serve --workers N``)."""
    settings = Settings()
    # A worker process starts unconfigured.
    configure(settings.log_level, request_id.get, access_log(settings))
    return create_app(settings)
