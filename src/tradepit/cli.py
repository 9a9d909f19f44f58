"""The ``tradepit`` command: serve, engine, migrate, create-admin, backup, rotate-keys, check,
version."""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Annotated, Any

import typer
import uvicorn
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from tradepit import __version__
from tradepit.api.middleware import request_id
from tradepit.app import access_log, auth_policy, create_app, starting_balances
from tradepit.domain.accounts import Role
from tradepit.domain.clock import SystemClock
from tradepit.domain.errors import DomainError
from tradepit.domain.money import plain
from tradepit.logs import configure
from tradepit.services import auth, books, encryption_keys
from tradepit.services.books import BooksReport
from tradepit.services.leadership import Shape, refusal, rivals
from tradepit.settings import Settings
from tradepit.store.crypto import SealBroken, Sealer
from tradepit.store.db import claim_embedded, commit, create_engine, create_sessionmaker
from tradepit.store.migrate import schema_problem, upgrade
from tradepit.store.secrets import Secrets
from tradepit.store.users import User

cli = typer.Typer(
    help="Tradepit: a self-hosted paper-trading backend.",
    no_args_is_help=True,
    add_completion=False,
)
ADMIN_PASSWORD_FILE = "admin-password.txt"  # noqa: S105 - a file name, not a password


def _settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


async def _migrate(settings: Settings) -> None:
    # The data directory gets its generated secrets (0600) before anything uses it.
    Secrets(settings.data_dir)
    engine = create_engine(settings.db_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def _ready(settings: Settings) -> str | None:
    """Migrate the database if asked to (the embedded SQLite always), then return why this
    process cannot start on it (None: it can): the schema is not at this version's head, or
    a process of a shape that does not mix with this one runs there."""
    if settings.is_sqlite or settings.migrate_on_start:
        await _migrate(settings)
    engine = create_engine(settings.db_url)
    try:
        problem = await schema_problem(engine)
        if problem is None and engine.dialect.name == "postgresql" and settings.role != "api":
            shape: Shape = "engine" if settings.role == "engine" else "all"
            async with engine.connect() as connection:
                count = await rivals(connection, shape)
            problem = refusal(shape, count) if count else None
    except (OSError, SQLAlchemyError) as exc:
        where = make_url(settings.db_url).render_as_string(hide_password=True)
        return f"cannot use the database {where}: {type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        await engine.dispose()
    return problem


async def _create_user(
    settings: Settings, username: str, password: str, email: str | None, role: Role
) -> User:
    engine = create_engine(settings.db_url)
    policy = auth_policy(settings, Secrets(settings.data_dir))
    clock = SystemClock()
    try:
        async with create_sessionmaker(engine)() as session:
            user, _ = await auth.register(
                session,
                policy,
                clock,
                clock,
                starting_balances(settings),
                username=username,
                password=password,
                email=email,
                ip="cli",
                role=role,
            )
            await commit(session)
            return user
    finally:
        await engine.dispose()


async def _has_admin(settings: Settings) -> bool:
    engine = create_engine(settings.db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            stmt = select(User.id).where(User.role.in_([Role.ADMIN.value, Role.SUPERADMIN.value]))
            return (await session.scalar(stmt)) is not None
    finally:
        await engine.dispose()


def _bootstrap_admin(settings: Settings) -> str:
    """Create a superadmin 'admin' on first start; return how to log in."""
    password_file = settings.data_dir / ADMIN_PASSWORD_FILE
    if asyncio.run(_has_admin(settings)):
        if password_file.exists():
            return f"admin login: username 'admin', password in {password_file.resolve()}"
        return (
            "admin login: the administrator created earlier (tradepit create-admin makes another)"
        )
    password = secrets.token_urlsafe(12) + "7a"
    asyncio.run(_create_user(settings, "admin", password, None, Role.SUPERADMIN))
    fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(password + "\n")
    return (
        f"admin login: username 'admin', password '{password}' "
        f"(also saved in {password_file.resolve()})"
    )


RoleOption = Annotated[
    str | None,
    typer.Option(help="all (default), or api: HTTP and streams only, no feed [TRADEPIT_ROLE]"),
]


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind [TRADEPIT_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [TRADEPIT_PORT]")] = None,
    clock_speed: Annotated[
        float | None, typer.Option(help="Simulated seconds per second [TRADEPIT_CLOCK_SPEED]")
    ] = None,
    market_hours: Annotated[
        str | None, typer.Option(help="'exchange' or 'always' [TRADEPIT_MARKET_HOURS]")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Simulator seed [TRADEPIT_SEED]")] = None,
    feed: Annotated[
        str | None,
        typer.Option(help="simulator, replay:PATH (CSV), ccxt:okx or kite [TRADEPIT_FEED]"),
    ] = None,
    role: RoleOption = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes (PostgreSQL and Redis) [TRADEPIT_WORKERS]"),
    ] = None,
) -> None:
    """Start the server: API, docs and streams, on the embedded database unless configured.
    With --role api it serves HTTP and the streams only; `tradepit engine` runs the rest."""
    if role == "engine":
        typer.echo("error: start the engine with `tradepit engine`", err=True)
        raise typer.Exit(2)
    _run(
        host=host,
        port=port,
        clock_speed=clock_speed,
        market_hours=market_hours,
        seed=seed,
        feed=feed,
        role=role,
        workers=workers,
    )


@cli.command()
def engine(
    host: Annotated[str | None, typer.Option(help="Address to bind [TRADEPIT_HOST]")] = None,
    port: Annotated[
        int | None,
        typer.Option(help="Port of /health, /api/status and /metrics [TRADEPIT_PORT]"),
    ] = None,
    feed: Annotated[
        str | None,
        typer.Option(help="simulator, replay:PATH (CSV), ccxt:okx or kite [TRADEPIT_FEED]"),
    ] = None,
) -> None:
    """Run the feed, the order book and the schedulers for `tradepit serve --role api`
    workers (PostgreSQL and Redis). Migrate the database first (`tradepit migrate`, or
    TRADEPIT_MIGRATE_ON_START=true). A second engine waits as a standby and takes over if the
    leader stops; /health, /api/status and /metrics say which one leads."""
    _run(host=host, port=port, feed=feed, role="engine")


def _next_steps(settings: Settings) -> str:
    """Return where a new user goes next, and the two settings a demo wants."""
    hours = settings.market_hours
    speed = f"{settings.clock_speed:g}"
    return (
        "Next:\n"
        "  1. Open the console above in a browser: sign up and place an order (or log in as\n"
        "     admin). Or open the API docs: sign up with POST /api/auth/signup, press Authorize\n"
        "     with the access_token, then try POST /api/paper-trading/orders.\n"
        "  2. For a demo, restart with these settings (environment or a .env file):\n"
        f"     TRADEPIT_MARKET_HOURS=always  every simulated market trades around the clock"
        f" (now: {hours})\n"
        f"     TRADEPIT_CLOCK_SPEED=60       a market minute passes every second (now: {speed})"
    )


#: The embedded database's lock, held for the life of a ``serve`` process.
_CLAIMS: list[IO[bytes]] = []


def _run(**overrides: Any) -> None:
    try:
        settings = _settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        typer.echo(f"error: {problems}", err=True)
        raise typer.Exit(2) from exc
    configure(settings.log_level, request_id.get, access_log(settings))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.is_sqlite and settings.keeps_trading_state:
        claim = claim_embedded(settings.db_url)
        if claim is None:
            where = make_url(settings.db_url).database
            typer.echo(
                f"error: another `tradepit serve` already serves {where}: one process serves "
                "an embedded SQLite file (stop it, or start this one with another "
                "TRADEPIT_DATA_DIR)",
                err=True,
            )
            raise typer.Exit(2)
        _CLAIMS.append(claim)  # held until the process ends
    problem = asyncio.run(_ready(settings))
    if problem is not None:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2)
    base = f"http://{settings.host}:{settings.port}"
    if settings.role == "engine":
        login = "no API here: serve it with `tradepit serve --role api`"
        docs, console = "/health, /api/status, /metrics", ""
    else:
        login, docs = _bootstrap_admin(settings), f"{base}/docs  (ReDoc: {base}/redoc)"
        console = f"  console:   {base}/\n"
    typer.echo(
        f"Tradepit {__version__} on {base} (role {settings.role}, {settings.workers} worker(s))\n"
        f"{console}"
        f"  API docs:  {docs}\n"
        f"  data:      {settings.data_dir.resolve()}\n"
        f"  database:  {make_url(settings.db_url).render_as_string(hide_password=True)}\n"
        f"  {login}"
    )
    if settings.role != "engine":
        typer.echo(_next_steps(settings))
    try:
        app = create_app(settings)
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        # One access line per request, RequestContext's (TRADEPIT_ACCESS_LOG): none of uvicorn's.
        "access_log": False,
        # The app resolves X-Forwarded-* itself, from TRADEPIT_TRUSTED_PROXIES only.
        "proxy_headers": False,
        "ws": "websockets-sansio",
        # Ticks are small and many: compressing each frame for each client costs more CPU
        # than it saves bandwidth (docs/decisions.md).
        "ws_per_message_deflate": False,
    }
    if settings.workers == 1:
        uvicorn.run(app, **options)
        return
    # Each worker process builds its app from the environment: pass the options on.
    for name, value in overrides.items():
        if value is not None:
            os.environ[f"TRADEPIT_{name.upper()}"] = str(value)
    # A worker builds the app (market calendars, simulator) before it answers the
    # supervisor's first health check: give it more than uvicorn's 5 s on a busy machine.
    uvicorn.run("tradepit.app:app_from_environment", factory=True, workers=settings.workers,
                timeout_worker_healthcheck=60, **options)  # fmt: skip


@cli.command()
def migrate() -> None:
    """Create or upgrade the database schema to the latest version."""
    settings = _settings()
    asyncio.run(_migrate(settings))
    typer.echo(f"migrated {make_url(settings.db_url).render_as_string(hide_password=True)}")


@cli.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Option(help="Login name")],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="Password")
    ],
    email: Annotated[str | None, typer.Option(help="E-mail (optional)")] = None,
    superadmin: Annotated[bool, typer.Option(help="Create a superadmin")] = False,
) -> None:
    """Create an administrator account from the shell."""
    settings = _settings()
    if settings.is_sqlite:
        asyncio.run(_migrate(settings))
    role = Role.SUPERADMIN if superadmin else Role.ADMIN
    try:
        user = asyncio.run(_create_user(settings, username, password, email, role))
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"created {role.value} '{user.username}' (id {user.id})")


@cli.command()
def backup(
    output: Annotated[Path | None, typer.Option(help="File to write")] = None,
) -> None:
    """Write a consistent copy of the live SQLite database, or say how to back up PostgreSQL."""
    settings = _settings()
    url = make_url(settings.db_url)
    if not settings.is_sqlite:
        typer.echo(
            "PostgreSQL: back up with pg_dump, for example\n"
            f"  pg_dump --format=custom --file=tradepit.dump "
            f"'{url.set(drivername='postgresql').render_as_string(hide_password=True)}'"
        )
        return
    source = Path(url.database or "")
    if not source.exists():
        typer.echo(f"error: no database at {source}", err=True)
        raise typer.Exit(1)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = output or settings.data_dir / "backups" / f"tradepit-{stamp}.db"
    target.parent.mkdir(parents=True, exist_ok=True)

    def progress(_status: int, remaining: int, total: int) -> None:
        done = total - remaining
        typer.echo(f"backup: {done}/{total} pages ({100 * done // max(total, 1)}%)")

    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst, pages=256, progress=progress)
    typer.echo(f"backup written to {target.resolve()}")


async def _reseal(settings: Settings, sealer: Sealer) -> dict[str, int]:
    engine = create_engine(settings.db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            counts = await encryption_keys.reseal(session, sealer, SystemClock())
            await session.commit()
            return counts
    finally:
        await engine.dispose()


@cli.command("rotate-keys")
def rotate_keys() -> None:
    """Add a new encryption key and re-encrypt every stored secret under it (broker account
    secrets, their versions, feed tokens). The previous key stays for reading; running servers
    pick the new key up without a restart."""
    settings = _settings()
    keys = Secrets(settings.data_dir).add_encryption_key()
    try:
        counts = asyncio.run(_reseal(settings, Sealer(keys)))
    except SealBroken as exc:
        typer.echo(f"error: {exc}; the new key is in place, nothing was re-encrypted", err=True)
        raise typer.Exit(1) from exc
    done = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    typer.echo(f"new key in {settings.data_dir / 'secrets' / 'fernet_keys'}; re-encrypted {done}")


async def _check_books(settings: Settings) -> BooksReport:
    engine = create_engine(settings.db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return await books.check(session)
    finally:
        await engine.dispose()


@cli.command()
def check() -> None:
    """Check the books: the ledger sums to zero per currency, every wallet equals its entries,
    every position its fills. Exits 1 and lists each difference when something does not
    balance (2 when the database cannot be read)."""
    settings = _settings()
    url = make_url(settings.db_url)
    where = url.render_as_string(hide_password=True)
    if settings.is_sqlite and not Path(url.database or "").exists():
        typer.echo(f"error: no database at {url.database}", err=True)
        raise typer.Exit(2)
    try:
        report = asyncio.run(_check_books(settings))
    except (OSError, SQLAlchemyError) as exc:
        problem = f"{type(exc).__name__}: {exc}".splitlines()[0]
        typer.echo(f"error: cannot read the books in {where}: {problem}", err=True)
        raise typer.Exit(2) from exc
    for currency in report.currencies:
        typer.echo(f"ledger {currency.currency}: entries sum to {plain(currency.total)}")
    typer.echo(f"checked {report.wallets_checked} wallets and {report.positions_checked} positions")
    if report.balanced:
        typer.echo("the books balance")
        return
    for line in report.problems:
        typer.echo(line)
    typer.echo("error: the books do not balance", err=True)
    raise typer.Exit(1)


@cli.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    """Run the command line."""
    cli()
