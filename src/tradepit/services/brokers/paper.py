"""The ``paper`` broker: the account owner's Tradepit paper account, traded through
``services.orders`` in the caller's unit of work (so copy trading works end to end here)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.domain.clock import Clock
from tradepit.domain.errors import DomainError
from tradepit.domain.fees import FeeSchedule
from tradepit.domain.lots import quantity_of
from tradepit.domain.orders import OrderType, Side
from tradepit.market.data import MarketData
from tradepit.schemas.orders import LegSpec, OrderCreate, OrderRead
from tradepit.services import orders, wallets
from tradepit.services.brokers import (
    AccountInfo,
    Adapter,
    BrokerRefused,
    Credentials,
    Placed,
    Ticket,
)
from tradepit.services.callers import Caller
from tradepit.services.identities import Identity
from tradepit.services.orders import Book
from tradepit.store import orders as order_store
from tradepit.store import users as user_store

#: The wallet a paper account reports when ``server`` names none.
DEFAULT_CURRENCY = "USD"
CURRENCIES = ("INR", "USDT", "USD")


def _placed(order: OrderRead) -> Placed:
    return Placed(str(order.id), order.status, order.average_price)


class PaperBroker:
    """Make ``paper`` adapters for one market."""

    def __init__(self, clock: Clock, market: MarketData, fees: FeeSchedule, book: Book) -> None:
        self.clock = clock
        self.market = market
        self.fees = fees
        self.book = book

    def __call__(self, credentials: Credentials, session: AsyncSession) -> Adapter:
        """Return the adapter of one account in ``session``."""
        return PaperAdapter(self, credentials, session)


class PaperAdapter:
    """The owner's paper account; every order runs in a savepoint, so a refusal undoes it."""

    def __init__(self, broker: PaperBroker, credentials: Credentials, session: AsyncSession):
        self.broker = broker
        self.credentials = credentials
        self.session = session
        server = (credentials.server or "").upper()
        self.currency = server if server in CURRENCIES else DEFAULT_CURRENCY

    async def _caller(self) -> Caller:
        user = await user_store.get_user(self.session, self.credentials.owner_id)
        if user is None or not user.is_active:
            raise BrokerRefused("the paper account's owner is not active")
        return Caller(user=Identity.of(user), ip="broker:paper")

    async def connect(self) -> AccountInfo:
        """Check that the owner can trade; return their wallet."""
        return await self.account_info()

    async def account_info(self) -> AccountInfo:
        """Return the owner's cash in the account's currency."""
        caller = await self._caller()
        balance = await wallets.balance_of(self.session, caller.user.id, self.currency)
        return AccountInfo(caller.user.username, self.currency, balance, balance)

    async def place_order(self, ticket: Ticket) -> Placed:
        """Place a MARKET order (with its stop-loss and take-profit legs)."""
        caller = await self._caller()
        try:
            instrument = self.broker.market.instrument(ticket.symbol)
            body = OrderCreate(
                symbol=instrument.symbol,
                order_type=OrderType.MARKET,
                order_side=Side(ticket.side),
                quantity=quantity_of(instrument, ticket.lots),
                client_order_id=ticket.client_id,
                stop_loss=LegSpec(price=ticket.stop_loss) if ticket.stop_loss else None,
                take_profit=LegSpec(price=ticket.take_profit) if ticket.take_profit else None,
            )
        except (DomainError, ValueError) as exc:
            raise BrokerRefused(str(exc)) from exc
        return _placed(await self._run(caller, body))

    async def _run(self, caller: Caller, body: OrderCreate) -> OrderRead:
        b = self.broker
        try:
            async with self.session.begin_nested():
                order, _ = await orders.place(
                    self.session, b.clock, b.market, b.fees, b.book, caller, body
                )
        except DomainError as exc:
            raise BrokerRefused(exc.message) from exc
        return order

    async def order_status(self, order_id: str) -> str:
        """Return the paper order's status."""
        caller = await self._caller()
        try:
            return (await orders.get(self.session, caller, int(order_id))).status
        except (DomainError, ValueError) as exc:
            raise BrokerRefused(f"no order {order_id}") from exc

    async def close_position(self, symbol: str, lots: Decimal | None = None) -> Placed:
        """Close the position, or ``lots`` of it, with a MARKET order."""
        caller = await self._caller()
        instrument = self.broker.market.instrument(symbol)
        rows = await order_store.positions_of(self.session, caller.user.id)
        held = sum((r.quantity for r in rows if r.symbol == instrument.symbol), Decimal(0))
        if held == 0:
            raise BrokerRefused(f"no open {instrument.symbol} position")
        quantity = abs(held)
        if lots is not None:
            quantity = min(quantity, quantity_of(instrument, lots))
        body = OrderCreate(
            symbol=instrument.symbol,
            order_type=OrderType.MARKET,
            order_side=Side.SELL if held > 0 else Side.BUY,
            quantity=quantity,
        )
        return _placed(await self._run(caller, body))
