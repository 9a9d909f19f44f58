"""The ``kite`` broker: Zerodha Kite Connect (``kiteconnect``, an optional extra).

An account's ``api_key`` is the Kite app's key and ``api_secret`` the day's access token
(Kite tokens expire at 06:00 IST; the owner stores a fresh one each day). Orders are MARKET
orders of whole exchange lots, tagged with the ticket's id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.domain.errors import DomainError
from tradepit.domain.lots import quantity_of
from tradepit.market.data import MarketData
from tradepit.services.brokers import (
    AccountInfo,
    Adapter,
    BrokerRefused,
    Credentials,
    Placed,
    Ticket,
)

#: Kite's error types a retry may get past (its gateway or our connection failed).
TRANSIENT = {"NetworkException", "DataException"}
TIMEOUT = 10


def _client(api_key: str, access_token: str, root: str | None) -> Any:
    from kiteconnect import KiteConnect  # noqa: PLC0415 - optional extra

    return KiteConnect(api_key, access_token=access_token, root=root, timeout=TIMEOUT)


class KiteBroker:
    """Make ``kite`` adapters; ``root`` overrides Kite's API root (tests, proxies)."""

    def __init__(
        self,
        market: MarketData,
        root: str | None = None,
        client: Callable[[str, str, str | None], Any] = _client,
    ) -> None:
        self.market = market
        self.root = root
        self.client = client

    def __call__(self, credentials: Credentials, session: AsyncSession) -> Adapter:
        """Return the adapter of one account."""
        return KiteAdapter(self, credentials)


class KiteAdapter:
    """One Kite account; kiteconnect is synchronous, so each call runs in a thread."""

    def __init__(self, broker: KiteBroker, credentials: Credentials) -> None:
        self.broker = broker
        self.credentials = credentials

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        c = self.credentials
        if not (c.api_key and c.api_secret):
            raise BrokerRefused("kite needs api_key and the day's access token as api_secret")
        client = self.broker.client(c.api_key, c.api_secret, self.broker.root)
        try:
            return await asyncio.to_thread(getattr(client, method), *args, **kwargs)
        except Exception as exc:  # kiteconnect raises its own and requests' exceptions
            kind = type(exc).__name__
            transient = kind in TRANSIENT or "Connection" in kind or "Timeout" in kind
            raise BrokerRefused(f"kite: {exc}", transient=transient) from exc

    async def connect(self) -> AccountInfo:
        """Read the profile (checks the token), then the equity margins."""
        await self._call("profile")
        return await self.account_info()

    async def account_info(self) -> AccountInfo:
        """Return the equity segment's cash and net."""
        margins = await self._call("margins", "equity")
        cash = Decimal(str(margins.get("available", {}).get("cash", 0)))
        net = Decimal(str(margins.get("net", cash)))
        used = Decimal(str(margins.get("utilised", {}).get("debits", 0)))
        return AccountInfo(self.credentials.login or "", "INR", cash, net, used)

    async def place_order(self, ticket: Ticket) -> Placed:
        """Send a MARKET order for the ticket's lots."""
        try:
            instrument = self.broker.market.instrument(ticket.symbol)
        except DomainError as exc:
            raise BrokerRefused(exc.message) from exc
        if not instrument.exchange_listed:  # paper trading's index contract: no exchange has it
            raise BrokerRefused(
                f"kite: {instrument.symbol} is an index: no exchange lists it; trade its "
                "futures or options (or the index contract in a paper account)"
            )
        venue = instrument.derivatives_venue or instrument.venue
        exchange = venue.value if instrument.is_derivative else instrument.venue.value
        order_id = await self._call(
            "place_order",
            variety="regular",
            exchange=exchange,
            tradingsymbol=instrument.symbol,
            transaction_type=ticket.side,
            quantity=int(quantity_of(instrument, ticket.lots)),
            product="NRML" if instrument.is_derivative else "MIS",
            order_type="MARKET",
            tag=ticket.client_id[-20:],
        )
        return Placed(str(order_id), "sent")

    async def order_status(self, order_id: str) -> str:
        """Return the order's latest status (COMPLETE, REJECTED, OPEN...)."""
        history = await self._call("order_history", order_id)
        return str(history[-1]["status"]) if history else "UNKNOWN"

    async def close_position(self, symbol: str, lots: Decimal | None = None) -> Placed:
        """Square off the net position (or ``lots`` of it) with a MARKET order."""
        positions = await self._call("positions")
        net = [p for p in positions.get("net", []) if p.get("tradingsymbol") == symbol]
        quantity = sum(int(p.get("quantity", 0)) for p in net)
        if quantity == 0:
            raise BrokerRefused(f"no open {symbol} position")
        side = "SELL" if quantity > 0 else "BUY"
        ticket = Ticket(symbol, side, lots if lots is not None else Decimal(0), f"close-{symbol}")
        if lots is None:
            instrument = self.broker.market.instrument(symbol)
            ticket = Ticket(symbol, side, abs(quantity) / instrument.lot_size, ticket.client_id)
        return await self.place_order(ticket)
