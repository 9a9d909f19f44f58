"""The matching engine: resting orders wait in a price-indexed book and fill on the tick that
crosses them. Each fill is one transaction (order, fill, position, ledger, released hold); the
book changes only after the transaction is durable, and is rebuilt from the database at start.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tradepit.bus import Bus, MemoryBus
from tradepit.domain.book import Event, Release, Resting, TriggerBook
from tradepit.domain.brackets import Trail, tighter
from tradepit.domain.clock import Clock
from tradepit.domain.errors import DomainError
from tradepit.domain.fees import FeeSchedule
from tradepit.domain.fills import FILL_MODELS, FillPlan, Rest, limit_fill, market_fill
from tradepit.domain.instruments import Instrument
from tradepit.domain.market import Tick
from tradepit.domain.orders import OrderType, Product, Side, Status, Validity
from tradepit.domain.sessions import last_close, square_off_due
from tradepit.market.data import MarketData
from tradepit.services import brackets, execution, journal, orders, settlement
from tradepit.store import orders as store
from tradepit.store import wallets as wallet_store
from tradepit.store.db import after_commit, commit
from tradepit.store.orders import OrderRow

log = logging.getLogger("tradepit.engine")

#: Orders accepted by a process that does not hold the book, for the one that does.
BOOK_TOPIC = "engine.book"


class Matcher:
    """Watch resting orders and fill them from the feed's ticks."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        market: MarketData,
        fees: FeeSchedule,
        bus: Bus | None = None,
    ) -> None:
        self.bus: Bus = bus or MemoryBus()
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.market = market
        self.fees = fees
        self.book = TriggerBook()
        #: After-market MARKET orders, per symbol: they fill on the symbol's first tick.
        self.waiting: dict[str, list[int]] = defaultdict(list)
        #: Whether this process holds the book. True unless the app runs ``run_book`` under
        #: leadership: then only the leader does, and the others pass orders on to it.
        self.leading = True
        #: Trailing stop legs, per symbol: their trail and current trigger.
        self.trails: dict[str, dict[int, tuple[Trail, Decimal]]] = defaultdict(dict)

    def record(self, session: AsyncSession, user_id: int, message: dict[str, object]) -> None:
        """Journal a private message in the session's transaction, stamped with the market
        time; it is published on the user's topic once the transaction commits."""
        stamped = {**message, "timestamp": self.clock.now().isoformat()}
        journal.record(session, self.bus, user_id, stamped)

    def rest(self, order: OrderRow) -> None:
        """Start watching a committed order that is waiting to fill (in the process that
        holds the book: from any other, the order is passed on over the bus)."""
        if not self.leading:
            self.bus.publish(BOOK_TOPIC, {"op": "rest", "order_id": order.id})
            return
        self._rest(order)

    def forget(self, order_id: int) -> None:
        """Stop watching an order (cancelled)."""
        if not self.leading:
            self.bus.publish(BOOK_TOPIC, {"op": "forget", "order_id": order_id})
            return
        self._forget(order_id)

    def replace(self, order: OrderRow) -> None:
        """Watch a modified order's new prices (it keeps no time priority, as on an exchange)."""
        if not self.leading:
            self.bus.publish(BOOK_TOPIC, {"op": "rest", "order_id": order.id})
            return
        self._forget(order.id)
        self._rest(order)

    async def run_book(self) -> None:
        """Hold the book while this process leads (``services.leadership``): load every
        waiting order, then take the orders other processes accept, until cancelled."""
        subscription = self.bus.subscribe(BOOK_TOPIC)
        try:
            await subscription.ready.wait()  # first listen, then load: nothing falls between
            await self.rebuild()
            self.leading = True
            async for message in subscription:
                await self._take(message)
        finally:
            self.leading = False
            subscription.close()

    async def _take(self, message: dict[str, object]) -> None:
        order_id = message.get("order_id")
        if not isinstance(order_id, int):
            return
        self._forget(order_id)
        if message.get("op") != "rest":
            return
        async with self.sessionmaker() as session:
            order = await session.get(OrderRow, order_id)
        if order is not None and not Status(order.status).is_final:
            self._rest(order)

    def _rest(self, order: OrderRow) -> None:
        if OrderType(order.order_type) is OrderType.MARKET:
            self.waiting[order.symbol].append(order.id)
            return
        self.book.add(_entry(order))
        trail = brackets.trail_of(order)
        if trail is not None and order.trigger_price is not None:
            self.trails[order.symbol][order.id] = (trail, order.trigger_price)

    def _forget(self, order_id: int) -> None:
        if order_id in self.book:
            self.book.remove(order_id)
        for ids in self.waiting.values():
            if order_id in ids:
                ids.remove(order_id)
        for trails in self.trails.values():
            trails.pop(order_id, None)

    async def rebuild(self) -> int:
        """Load every waiting order from the database (at start-up); return how many."""
        async with self.sessionmaker() as session:
            rows = await store.resting(session)
        self.book.rebuild(
            _entry(r) for r in rows if OrderType(r.order_type) is not OrderType.MARKET
        )
        self.waiting.clear()
        self.trails.clear()
        for row in rows:
            if OrderType(row.order_type) is OrderType.MARKET:
                self.waiting[row.symbol].append(row.id)
            trail = brackets.trail_of(row)
            if trail is not None and row.trigger_price is not None:
                self.trails[row.symbol][row.id] = (trail, row.trigger_price)
        return len(rows)

    async def on_ticks(self, batch: Sequence[Tick]) -> None:
        """Fill what each tick makes executable; a failure of one order never stops the rest.
        Only the process holding the book does."""
        if not self.leading:
            return
        for tick in batch:
            waiting = self.waiting.pop(tick.symbol, None)
            for order_id in waiting or ():
                await self._execute(order_id, tick, market=True)
            if self.trails.get(tick.symbol):
                await self._trail(tick)
            for release in self.book.on_quote(tick):
                await self._release(release, tick)

    async def _trail(self, tick: Tick) -> None:
        """Move trailing stops after a new best price; the trigger only ever tightens."""
        trails = self.trails[tick.symbol]
        tick_size = self.market.instrument(tick.symbol).tick_size
        for order_id, (trail, trigger) in list(trails.items()):
            moved = trail.seen(tick.ltp)
            if moved is trail:
                continue
            new = moved.trigger(tick_size)
            trails[order_id] = (moved, trigger)
            if not tighter(moved.entry_side, new, trigger):
                continue
            try:
                async with self.sessionmaker() as session:
                    order = await lock_order(session, order_id)
                    if order is None or Status(order.status).is_final:
                        continue
                    order.trigger_price, order.trail_extreme = new, moved.extreme
                    order.updated_at = self.clock.now()
                    orders.announce(session, self, order, "replaced")
                    await commit(session)
            except DomainError:
                log.exception("trailing stop %s could not move", order_id)
                continue
            self.replace(order)

    async def _release(self, release: Release, tick: Tick) -> None:
        if release.event is Event.TRIGGERED:
            await self._execute(release.order_id, tick, market=False, triggered=True)
            return
        is_market = release.entry.order_type is OrderType.STOP_LOSS_MARKET
        await self._execute(release.order_id, tick, market=is_market)

    async def _execute(
        self, order_id: int, tick: Tick, *, market: bool, triggered: bool = False
    ) -> None:
        try:
            async with self.sessionmaker() as session:
                order = await lock_order(session, order_id)
                if order is None or Status(order.status).is_final:
                    return
                rest_again = await self._fill(
                    session, order, tick, market=market, triggered=triggered
                )
                await commit(session)
        except DomainError as exc:
            await self._reject(order_id, str(exc))
            return
        if rest_again is not None:
            self.book.add(rest_again)

    async def _fill(
        self, session: AsyncSession, order: OrderRow, tick: Tick, *, market: bool, triggered: bool
    ) -> Resting | None:
        """Fill what the tick allows; return the entry to rest again, if any."""
        instrument = self.market.instrument(order.symbol)
        if order.leg is not None:  # a leg fills for no more than the position it protects
            event = await brackets.fit_leg(session, self.clock, instrument, order)
            if event is not None:
                orders.announce(session, self, order, event)
            if Status(order.status).is_final:
                after_commit(session, functools.partial(self.forget, order.id))
                return None
        side, validity = Side(order.side), Validity(order.validity)
        remaining = order.quantity - order.filled_quantity
        model = FILL_MODELS[instrument.venue]
        if triggered and order.triggered_at is None:
            order.triggered_at = self.clock.now()
        plan: FillPlan | None
        if market:
            plan = market_fill(side, remaining, tick, instrument, model, validity)
        else:
            assert order.price is not None
            plan = limit_fill(
                side,
                order.price,
                remaining,
                tick,
                instrument,
                model,
                validity,
                resting=not triggered,
            )
        if plan is not None and plan.rest is Rest.REJECT:
            raise execution.OrderRejected(plan.reason or "cannot be filled")
        if plan is not None and plan.price is not None and plan.filled > 0:
            await execution.execute(session, self.clock, self.fees, instrument, order, plan)
            await orders.after_trade(session, self.clock, self, order, instrument)
        if Status(order.status).is_final:
            return None
        if validity is Validity.IOC:
            await execution.cancel_rest(
                session,
                self.clock,
                instrument,
                order,
                "immediate-or-cancel: the rest was cancelled",
            )
            orders.announce(session, self, order, "canceled")
            return None
        if market:
            self.waiting[order.symbol].append(order.id)
            return None
        entry = _entry(order)
        return (
            entry.as_limit()
            if entry.order_type is OrderType.STOP_LOSS and order.triggered_at
            else entry
        )

    async def end_of_day(self) -> tuple[int, int]:
        """Expire DAY orders whose session has closed and square off due MIS positions.

        Decided from each venue's session (the last close, the 15:20 IST square-off), not
        from when a row was written, so a restart after the close still does it. Returns
        (orders expired, positions squared off).
        """
        now = self.clock.now()
        calendar = self.market.calendar
        expired: list[int] = []
        squared = 0
        async with self.sessionmaker() as session:
            for found in await store.resting(session):
                instrument = self.market.instrument(found.symbol)
                if Validity(found.validity) is not Validity.DAY or self._forced(instrument):
                    continue
                if found.created_at >= last_close(instrument.venue, now, calendar):
                    continue
                order = await lock_order(session, found.id)
                if order is not None and not Status(order.status).is_final:
                    await execution.expire(session, self.clock, instrument, order)
                    orders.announce(session, self, order, "expired")
                    expired.append(order.id)
            for row in await store.open_positions(session, Product.MIS.value):
                instrument = self.market.instrument(row.symbol)
                if (
                    self._forced(instrument)
                    or square_off_due(instrument.venue, now, calendar) is None
                ):
                    continue
                await wallet_store.lock_user(session, row.user_id)
                await session.refresh(row)
                if row.quantity == 0:
                    continue
                tick = self.market.tick(row.symbol)
                squared_order = await execution.square_off(
                    session, self.clock, self.fees, instrument, row, tick
                )
                orders.announce(session, self, squared_order, "new")
                await orders.after_trade(session, self.clock, self, squared_order, instrument)
                squared += 1
            await commit(session)
        await settlement.settle_expired(self.sessionmaker, self.clock, self.market, self)
        for order_id in expired:
            self.forget(order_id)
        if expired or squared:
            log.info(
                "end of day: %d orders expired, %d MIS positions squared off", len(expired), squared
            )
        return len(expired), squared

    def _forced(self, instrument: Instrument) -> bool:
        # Under market_hours=always a demo trades at any hour: nothing closes, nothing squares off.
        return self.market.always_open

    async def run_housekeeping(self, interval: float = 5.0) -> None:
        """Run ``end_of_day`` every ``interval`` wall seconds until cancelled."""
        while True:
            try:
                await self.end_of_day()
            except Exception:  # one bad row must not stop the schedule
                log.exception("end-of-day housekeeping failed")
            await asyncio.sleep(interval)

    async def _reject(self, order_id: int, reason: str) -> None:
        async with self.sessionmaker() as session:
            order = await lock_order(session, order_id)
            if order is None or Status(order.status).is_final:
                return
            instrument = self.market.instrument(order.symbol)
            await execution.cancel_rest(
                session, self.clock, instrument, order, f"cancelled: {reason}"
            )
            orders.announce(session, self, order, "canceled")
            await commit(session)
        log.info("order %s cancelled by the engine: %s", order_id, reason)


async def lock_order(session: AsyncSession, order_id: int) -> OrderRow | None:
    """Lock the order's owner, then the order (the order every writer takes locks in)."""
    order = await session.get(OrderRow, order_id)
    if order is None:
        return None
    await wallet_store.lock_user(session, order.user_id)
    return await session.get(OrderRow, order_id, with_for_update=True, populate_existing=True)


def _entry(order: OrderRow) -> Resting:
    kind = OrderType(order.order_type)
    if kind is OrderType.STOP_LOSS and order.triggered_at is not None:
        kind = OrderType.LIMIT
    return Resting.of(
        order.id,
        order.symbol,
        Side(order.side),
        kind,
        order.price,
        None if kind is OrderType.LIMIT else order.trigger_price,
    )
