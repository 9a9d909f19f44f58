"""Runtime settings, read from ``TRADEPIT_*`` environment variables and an optional ``.env``."""

from __future__ import annotations

import ipaddress
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from limits import parse_many
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator can set. Secrets are not here: they live in the data directory."""

    model_config = SettingsConfigDict(
        env_prefix="TRADEPIT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    data_dir: Path = Path("./data")
    database_url: str | None = None
    redis_url: str | None = None
    # Deployment shape (docs/operations.md): "all" runs everything in each process; "api"
    # serves HTTP and the streams only (no feed, never the book or the schedulers); "engine"
    # runs the feed, the book and the schedulers (the leading engine; a standby waits), and
    # serves only health, status and metrics.
    role: Literal["all", "api", "engine"] = "all"
    workers: int = Field(default=1, ge=1, le=64)
    #: Migrate the schema before starting (``tradepit migrate`` first otherwise); the embedded
    #: SQLite database is always migrated at start.
    migrate_on_start: bool = False
    #: Keep each user's wallets, positions and resting orders in memory for reads. Only a
    #: process that is its database's only writer may: unset, it is on with the embedded SQLite
    #: file and no Redis (one process), off with PostgreSQL or Redis (several processes).
    trading_state_in_memory: bool | None = None
    redis_prefix: str = Field(default="tradepit", pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")
    cors_origins: Annotated[list[str], NoDecode] = ["http://localhost:3000"]
    #: Addresses (or networks) of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto
    #: are believed; '*' trusts every peer.
    trusted_proxies: Annotated[list[str], NoDecode] = ["127.0.0.1", "::1"]
    jwt_ttl_minutes: int = Field(default=24 * 60, ge=1, le=30 * 24 * 60)
    rate_limit: str = "120/minute"
    auth_rate_limit: str = "20/minute"
    clock_speed: float = Field(default=1.0, gt=0, le=10_000)
    market_hours: Literal["exchange", "always"] = "exchange"
    seed: int = 42
    feed: str = Field(
        default="simulator", pattern=r"^(simulator|replay:.+|ccxt(:[a-z0-9]+)?|kite)$"
    )
    kite_api_key: str | None = None
    kite_api_secret: str | None = None
    kite_root: str | None = None
    kite_ws_root: str | None = None
    #: Networks (CIDRs or addresses) that Kite postbacks may go to besides public addresses
    #: (loopback and private ranges are refused unless listed here): docs/kite.md.
    kite_postback_allow: Annotated[list[str], NoDecode] = []
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    #: The bearer token that opens ``/metrics`` to a scraper off this host (unset: loopback
    #: clients only). Long enough that trying tokens (``/metrics`` is not rate limited) is futile.
    metrics_token: SecretStr | None = Field(default=None, min_length=16)
    log_level: str = "INFO"
    #: Which requests get an access line: all, errors (400 and above), sampled (every error
    #: and ``access_log_sample_rate`` of the rest) or off (docs/operations.md, Logs).
    access_log: Literal["all", "errors", "sampled", "off"] = "all"
    access_log_sample_rate: float = Field(default=0.01, ge=0, le=1)
    #: Paths whose successful requests are never logged (health checks, metrics scrapes).
    access_log_quiet_paths: Annotated[list[str], NoDecode] = ["/health", "/api/health", "/metrics"]
    #: Freeze what startup built out of the garbage collector's full passes (docs/operations.md).
    gc_freeze: bool = True
    # Predictions (okx-bets): what a win pays per unit staked, stake limits in USDT, the symbol.
    bet_payout_ratio: Decimal = Field(default=Decimal("1.8"), gt=0, le=100, decimal_places=8)
    bet_min_amount: Decimal = Field(default=Decimal("1"), gt=0, decimal_places=8)
    bet_max_amount: Decimal = Field(default=Decimal("10000"), gt=0, le=10**9, decimal_places=8)
    bet_symbol: str = "BTC-USDT"
    starting_balance_inr: Decimal = Decimal("100000")
    starting_balance_usdt: Decimal = Decimal("0")
    starting_balance_usd: Decimal = Decimal("0")
    # Real time (docs/realtime.md): limits per worker and per connection.
    ws_max_connections: int = Field(default=10_000, ge=1)
    #: Open sockets (``/ws``, Socket.IO, ``/api/ws``) one user may hold on one worker.
    ws_max_connections_per_user: int = Field(default=20, ge=1)
    ws_max_subscriptions: int = Field(default=100, ge=1)
    ws_max_message_bytes: int = Field(default=4096, ge=64)
    ws_messages_per_second: float = Field(default=20, gt=0)
    ws_queue_size: int = Field(default=1000, ge=1)
    ws_tick_backlog: int = Field(default=64, ge=0, le=10_000)
    ws_auth_timeout_seconds: float = Field(default=10, gt=0)
    ws_public_market_data: bool = True
    ws_recheck_seconds: float = Field(default=30, gt=0)
    #: The gateways' fast paths under uvicorn and Engine.IO (docs/decisions.md, "Library
    #: adapters"). Off, or with library versions other than the pinned ones, the gateways use
    #: the libraries' public API only: the same messages, sent more slowly.
    library_fast_paths: bool = True
    event_retention_hours: int = Field(default=24, ge=1)
    # Argon2id cost. The defaults are argon2-cffi's (RFC 9106 low-memory profile).
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)

    @field_validator(
        "cors_origins",
        "trusted_proxies",
        "access_log_quiet_paths",
        "kite_postback_allow",
        mode="before",
    )
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("kite_postback_allow")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"{network!r} is not an address or a CIDR network") from exc
        return value

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("rate_limit", "auth_rate_limit")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit like '120/minute': {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _bet_range(self) -> Settings:
        if self.bet_min_amount > self.bet_max_amount:
            raise ValueError("bet_min_amount must not exceed bet_max_amount")
        return self

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if self.database_url is None:
            self.database_url = f"sqlite+aiosqlite:///{(self.data_dir / 'tradepit.db').resolve()}"
        return self

    @model_validator(mode="after")
    def _scale_out(self) -> Settings:
        if self.role == "all" and self.workers == 1:
            return self
        shape = f"role {self.role}" if self.workers == 1 else f"{self.workers} workers"
        if self.is_sqlite:
            raise ValueError(
                f"{shape} needs PostgreSQL (TRADEPIT_DATABASE_URL): "
                "one process serves an embedded SQLite file"
            )
        if not self.redis_url:
            raise ValueError(f"{shape} needs Redis (TRADEPIT_REDIS_URL) to share the bus")
        if self.role == "engine" and self.workers > 1:
            raise ValueError("the engine is one process (a second one waits to take over)")
        return self

    @property
    def db_url(self) -> str:
        """Return the database URL (always set after validation)."""
        assert self.database_url is not None
        return self.database_url

    @property
    def keeps_trading_state(self) -> bool:
        """Tell whether reads of the trading state are answered from memory."""
        if self.trading_state_in_memory is not None:
            return self.trading_state_in_memory
        return self.is_sqlite and not self.redis_url

    @property
    def is_sqlite(self) -> bool:
        """Tell whether the database is the embedded SQLite file."""
        return self.db_url.startswith("sqlite")
