"""The ``mt5`` broker: a MetaTrader 5 terminal through the ``MetaTrader5`` package.

The package runs on Windows beside a terminal (``docs/operations.md``). A terminal holds one
account at a time, so calls are serialised: each logs in to the account, works, and the next
call may log in to another. The module is loaded when first used; where it is missing every
call is refused with that reason.
"""

from __future__ import annotations

import asyncio
import importlib
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

DONE = 10009
#: Return codes a retry may get past: requote, price changed, no prices, too many requests,
#: no connection, price off, timeout.
TRANSIENT = {10004, 10020, 10021, 10024, 10031, 10015, 10012}
DEVIATION = 20
MAGIC = 770077


def _load() -> Any:
    try:
        return importlib.import_module("MetaTrader5")
    except ImportError as exc:
        raise BrokerRefused("MetaTrader5 is not installed on this server (Windows only)") from exc


class Mt5Broker:
    """Make ``mt5`` adapters that share one terminal."""

    def __init__(self, load: Callable[[], Any] = _load) -> None:
        self.load = load
        self.lock = asyncio.Lock()

    def __call__(self, credentials: Credentials, session: AsyncSession) -> Adapter:
        """Return the adapter of one account."""
        return Mt5Adapter(self, credentials)


class Mt5Adapter:
    """One MT5 account on the shared terminal."""

    def __init__(self, broker: Mt5Broker, credentials: Credentials) -> None:
        self.broker = broker
        self.credentials = credentials

    async def _run(self, work: Callable[[Any], Any]) -> Any:
        async with self.broker.lock:
            mt5 = self.broker.load()
            return await asyncio.to_thread(self._logged_in, mt5, work)

    def _logged_in(self, mt5: Any, work: Callable[[Any], Any]) -> Any:
        c = self.credentials
        if not (c.login and c.login.isdigit() and c.password and c.server):
            raise BrokerRefused("mt5 needs a numeric login, the password and the server")
        if not mt5.initialize(login=int(c.login), password=c.password, server=c.server):
            code, message = mt5.last_error()
            raise BrokerRefused(f"mt5 login failed: {message} ({code})", transient=code == -10005)
        return work(mt5)

    async def connect(self) -> AccountInfo:
        """Log in and read the account."""
        return await self.account_info()

    async def account_info(self) -> AccountInfo:
        """Return balance, equity and margin."""

        def read(mt5: Any) -> AccountInfo:
            info = mt5.account_info()
            if info is None:
                raise BrokerRefused(f"mt5: {mt5.last_error()[1]}")
            return AccountInfo(
                str(info.login),
                str(info.currency),
                Decimal(str(info.balance)),
                Decimal(str(info.equity)),
                Decimal(str(info.margin)),
            )

        result: AccountInfo = await self._run(read)
        return result

    async def place_order(self, ticket: Ticket) -> Placed:
        """Send a market deal with its stop loss and take profit."""

        def send(mt5: Any) -> Placed:
            return _deal(mt5, ticket.symbol, ticket.side, ticket.lots, ticket, None)

        result: Placed = await self._run(send)
        return result

    async def order_status(self, order_id: str) -> str:
        """Return whether the order is in the history (filled) or still open."""

        def status(mt5: Any) -> str:
            if mt5.history_orders_get(ticket=int(order_id)):
                return "executed"
            return "open" if mt5.orders_get(ticket=int(order_id)) else "unknown"

        result: str = await self._run(status)
        return result

    async def close_position(self, symbol: str, lots: Decimal | None = None) -> Placed:
        """Close the symbol's positions (or ``lots`` of the first)."""

        def close(mt5: Any) -> Placed:
            positions = mt5.positions_get(symbol=symbol) or ()
            if not positions:
                raise BrokerRefused(f"no open {symbol} position")
            position = positions[0]
            side = "SELL" if position.type == mt5.POSITION_TYPE_BUY else "BUY"
            volume = Decimal(str(position.volume)) if lots is None else lots
            return _deal(mt5, symbol, side, volume, None, position.ticket)

        result: Placed = await self._run(close)
        return result


def _deal(
    mt5: Any, symbol: str, side: str, lots: Decimal, ticket: Ticket | None, position: int | None
) -> Placed:
    quote = mt5.symbol_info_tick(symbol)
    if quote is None:
        raise BrokerRefused(f"mt5: no price for {symbol}", transient=True)
    buy = side == "BUY"
    request: dict[str, Any] = {
        "action": mt5.TRADE_ACTION_DEAL,
        "symbol": symbol,
        "volume": float(lots),
        "type": mt5.ORDER_TYPE_BUY if buy else mt5.ORDER_TYPE_SELL,
        "price": quote.ask if buy else quote.bid,
        "deviation": DEVIATION,
        "magic": MAGIC,
        "type_time": mt5.ORDER_TIME_GTC,
        "type_filling": mt5.ORDER_FILLING_IOC,
    }
    if ticket is not None:
        request["comment"] = ticket.client_id[-31:]
        if ticket.stop_loss is not None:
            request["sl"] = float(ticket.stop_loss)
        if ticket.take_profit is not None:
            request["tp"] = float(ticket.take_profit)
    if position is not None:
        request["position"] = position
    result = mt5.order_send(request)
    if result is None:
        raise BrokerRefused(f"mt5: {mt5.last_error()[1]}", transient=True)
    if result.retcode != DONE:
        raise BrokerRefused(
            f"mt5 refused ({result.retcode}): {result.comment}",
            transient=result.retcode in TRANSIENT,
        )
    return Placed(str(result.order), "executed", Decimal(str(result.price)))
