"""Broker adapters behind one protocol: connect, place_order, order_status, close_position,
account_info.

``paper`` trades the account owner's Tradepit paper account; ``kite`` (Kite Connect),
``ccxt:<exchange>`` and ``mt5`` (the MetaTrader5 package, Windows only) reach real brokers.
An adapter is opened for one account's credentials and one unit of work (the paper adapter
trades in that session; the others ignore it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.domain.errors import InvalidInput

#: ``mt5:<company>`` is the mt5 adapter with the MT5 broker company kept (``mt5:Exness``).
BROKER_PATTERN = (
    r"^(paper|mt5|kite|ccxt:[a-z][a-z0-9]{1,23}"
    r"|mt5:[A-Za-z0-9](?:[A-Za-z0-9 .&_\-]{0,34}[A-Za-z0-9.])?)$"
)
_BROKER = re.compile(BROKER_PATTERN)


class UnknownBroker(InvalidInput):
    """The broker is not one of paper, mt5, mt5:<company>, kite or ccxt:<exchange>."""

    code = "UNKNOWN_BROKER"


class BrokerRefused(Exception):
    """The broker refused or failed; ``reason`` is its message (safe to show), ``transient``
    says a retry may succeed (timeouts, rate limits, a broker restarting)."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason[:250]
        self.transient = transient


@dataclass(frozen=True)
class Credentials:
    """What an adapter needs to reach one account, secrets opened."""

    account_id: int
    owner_id: int
    broker: str
    login: str | None = None
    password: str | None = None
    api_key: str | None = None
    api_secret: str | None = None
    server: str | None = None
    account_type: str = "demo"

    @property
    def exchange(self) -> str:
        """Return the ccxt exchange id of ``ccxt:<exchange>`` ('' for other brokers)."""
        return self.broker.partition(":")[2]

    def secrets(self) -> list[str]:
        """Return the secrets, to scrub them from any message that leaves the adapter."""
        return [s for s in (self.password, self.api_key, self.api_secret) if s]


@dataclass(frozen=True)
class Ticket:
    """One order to send: ``lots`` of ``symbol``; ``client_id`` identifies it at the broker
    so a retry can be recognised."""

    symbol: str
    side: str
    lots: Decimal
    client_id: str
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None


@dataclass(frozen=True)
class Placed:
    """What the broker answered to an order."""

    order_id: str
    status: str
    price: Decimal | None = None


@dataclass(frozen=True)
class AccountInfo:
    """The account as the broker reports it."""

    login: str
    currency: str
    balance: Decimal
    equity: Decimal
    margin: Decimal = Decimal(0)


class Adapter(Protocol):
    """One broker account, reachable."""

    async def connect(self) -> AccountInfo:
        """Check the credentials; return the account."""
        ...

    async def account_info(self) -> AccountInfo:
        """Return the account's balance and equity."""
        ...

    async def place_order(self, ticket: Ticket) -> Placed:
        """Send a market order."""
        ...

    async def order_status(self, order_id: str) -> str:
        """Return the broker's status of an order."""
        ...

    async def close_position(self, symbol: str, lots: Decimal | None = None) -> Placed:
        """Close ``lots`` of the position in ``symbol`` (all of it when None)."""
        ...


AdapterFactory = Callable[[Credentials, AsyncSession], Adapter]


def check_broker(broker: str) -> str:
    """Return ``broker`` if it is paper, mt5, mt5:<company>, kite or ccxt:<exchange>."""
    if not _BROKER.fullmatch(broker):
        raise UnknownBroker("broker must be paper, mt5, mt5:<company>, kite or ccxt:<exchange>")
    return broker


class Brokers:
    """The adapters by broker kind (the part before ':')."""

    def __init__(self, factories: dict[str, AdapterFactory]) -> None:
        self.factories = dict(factories)

    def open(self, credentials: Credentials, session: AsyncSession) -> Adapter:
        """Return an adapter for ``credentials``; refuse a broker without one (the accounts
        table keeps any broker text, e.g. ``Zerodha``: such an account cannot connect)."""
        if not _BROKER.fullmatch(credentials.broker):
            raise BrokerRefused(
                f"broker {credentials.broker!r} names no adapter: set the account's broker to "
                "an adapter's name (as POST /api/accounts takes it) to connect it"
            )
        kind = credentials.broker.partition(":")[0]
        factory = self.factories.get(kind)
        if factory is None:
            raise BrokerRefused(f"no adapter for broker {credentials.broker!r} on this server")
        return factory(credentials, session)


def scrub(text: str, secrets: list[str]) -> str:
    """Return ``text`` with every secret replaced by a mask."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, mask(secret))
    return text


def mask(secret: str) -> str:
    """Return what a read shows of a secret: ``••••`` and its last 4 characters when it is
    long enough that they give little away (12 or more), else ``••••`` alone."""
    return "••••" + secret[-4:] if len(secret) >= 12 else "••••"
