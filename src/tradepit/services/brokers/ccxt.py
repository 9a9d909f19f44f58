"""The ``ccxt:<exchange>`` broker: any exchange ccxt supports (``ccxt``, an optional extra).

``api_key``, ``api_secret`` and ``password`` (OKX's passphrase) are the exchange's API
credentials; ``account_type`` demo turns on the exchange's sandbox where ccxt has one.
Orders are market orders of the ticket's lots in the base currency, with its id as
``clientOrderId``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.services.brokers import (
    AccountInfo,
    Adapter,
    BrokerRefused,
    Credentials,
    Placed,
    Ticket,
)

TIMEOUT_MS = 10_000


def _exchange(credentials: Credentials, api_root: str | None) -> Any:
    import ccxt.async_support as ccxt  # noqa: PLC0415 - optional extra

    kind = getattr(ccxt, credentials.exchange, None)
    if kind is None:
        raise BrokerRefused(f"ccxt has no exchange {credentials.exchange!r}")
    exchange = kind(
        {
            "apiKey": credentials.api_key,
            "secret": credentials.api_secret,
            "password": credentials.password,
            "timeout": TIMEOUT_MS,
            "enableRateLimit": True,
        }
    )
    if api_root is not None:
        exchange.urls["api"] = {"rest": api_root}
    elif credentials.account_type == "demo" and "test" in exchange.urls:
        exchange.set_sandbox_mode(True)
    return exchange


class CcxtBroker:
    """Make ``ccxt:<exchange>`` adapters; ``api_root`` overrides the REST root (tests)."""

    def __init__(
        self,
        api_root: str | None = None,
        make: Callable[[Credentials, str | None], Any] = _exchange,
    ) -> None:
        self.api_root = api_root
        self.make = make

    def __call__(self, credentials: Credentials, session: AsyncSession) -> Adapter:
        """Return the adapter of one account."""
        return CcxtAdapter(self, credentials)


def _symbol(symbol: str) -> str:
    return symbol.replace("-", "/") if "/" not in symbol else symbol


class CcxtAdapter:
    """One exchange account; each call opens and closes ccxt's HTTP session."""

    def __init__(self, broker: CcxtBroker, credentials: Credentials) -> None:
        self.broker = broker
        self.credentials = credentials

    async def _call(self, method: str, *args: Any) -> Any:
        exchange = self.broker.make(self.credentials, self.broker.api_root)
        try:
            return await getattr(exchange, method)(*args)
        except BrokerRefused:
            raise
        except Exception as exc:  # ccxt's errors: NetworkError is the retryable family
            import ccxt.async_support as ccxt  # noqa: PLC0415 - optional extra

            transient = isinstance(exc, ccxt.NetworkError)
            raise BrokerRefused(f"{self.credentials.exchange}: {exc}", transient=transient) from exc
        finally:
            await exchange.close()

    async def connect(self) -> AccountInfo:
        """Fetch the balance (checks the key)."""
        return await self.account_info()

    async def account_info(self) -> AccountInfo:
        """Return the USDT balance."""
        balance = await self._call("fetch_balance")
        usdt = balance.get("USDT") or {}
        free = Decimal(str(usdt.get("free") or 0))
        total = Decimal(str(usdt.get("total") or 0))
        return AccountInfo(self.credentials.login or "", "USDT", free, total)

    async def place_order(self, ticket: Ticket) -> Placed:
        """Send a market order."""
        params = {"clientOrderId": ticket.client_id.replace("-", "")[:32]}
        order = await self._call(
            "create_order",
            _symbol(ticket.symbol),
            "market",
            ticket.side.lower(),
            float(ticket.lots),
            None,
            params,
        )
        return Placed(str(order["id"]), str(order.get("status") or "sent"))

    async def order_status(self, order_id: str) -> str:
        """Return the exchange's status of the order."""
        order = await self._call("fetch_order", order_id)
        return str(order.get("status"))

    async def close_position(self, symbol: str, lots: Decimal | None = None) -> Placed:
        """Sell ``lots`` of the base currency (spot has no positions: all that is free)."""
        base = _symbol(symbol).split("/")[0]
        if lots is None:
            balance = await self._call("fetch_balance")
            lots = Decimal(str((balance.get(base) or {}).get("free") or 0))
        if lots <= 0:
            raise BrokerRefused(f"no {base} to sell")
        return await self.place_order(Ticket(symbol, "SELL", lots, f"close-{base}"))
