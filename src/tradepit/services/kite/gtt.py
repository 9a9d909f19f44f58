"""Kite's GTT (good-till-triggered) triggers: a ``single`` trigger places its LIMIT order when
the last price reaches its trigger value (from the side the price was on when it was set); a
``two-leg`` (OCO) trigger places its lower leg's order at or below the lower value, or its
upper leg's at or above the upper one. The order goes through ``services.orders`` like every
other; the trigger is then ``triggered``, with the order's result. Triggers expire after a
year.

``Watcher`` checks the active triggers against the last prices every second (a leadership
job): a trigger places an order, it does not fill one, so a second's delay is Kite's own
behaviour, not a fill at a stale price.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tradepit.domain.clock import Clock
from tradepit.domain.errors import DomainError, InvalidInput, NotFound
from tradepit.domain.fees import FeeSchedule
from tradepit.domain.kite import instrument_token, kite_time
from tradepit.domain.orders import OrderType, Product, Side
from tradepit.market.data import MarketData
from tradepit.schemas.orders import OrderCreate
from tradepit.services import orders
from tradepit.services.callers import Caller
from tradepit.services.desk import Desk
from tradepit.services.identities import Identities
from tradepit.services.kite.market import exchange_of, resolve
from tradepit.services.orders import Book
from tradepit.store import kite as store
from tradepit.store.db import commit
from tradepit.store.kite import KiteGtt

log = logging.getLogger("tradepit.kite.gtt")

LIFETIME = timedelta(days=365)
CHECK_EVERY = 1.0
MAX_ACTIVE = 250
Positive = Annotated[Decimal, Field(gt=0, max_digits=19, decimal_places=8, allow_inf_nan=False)]


class GttNotFound(NotFound):
    """No trigger of the caller has this id."""

    code = "KITE_GTT_NOT_FOUND"


class Condition(BaseModel):
    """When a trigger fires: its instrument, its trigger values, the price when it was set."""

    model_config = ConfigDict(extra="ignore")
    exchange: Literal["NSE", "BSE", "NFO", "BFO"]
    tradingsymbol: Annotated[str, Field(min_length=1, max_length=40)]
    trigger_values: Annotated[list[Positive], Field(min_length=1, max_length=2)]
    last_price: Positive


class LegOrder(BaseModel):
    """The LIMIT order a trigger places."""

    model_config = ConfigDict(extra="ignore")
    exchange: Literal["NSE", "BSE", "NFO", "BFO"]
    tradingsymbol: Annotated[str, Field(min_length=1, max_length=40)]
    transaction_type: Literal["BUY", "SELL"]
    quantity: Annotated[int, Field(ge=1, le=10**9)]
    order_type: Literal["LIMIT"] = "LIMIT"
    product: Literal["CNC", "MIS", "NRML"] = "CNC"
    price: Positive


@dataclass(frozen=True)
class GttForm:
    """A trigger as Kite's form sends it (``condition`` and ``orders`` are JSON text)."""

    kind: str
    condition: Condition
    legs: list[LegOrder]


def _json(text: str | None, field: str) -> Any:
    try:
        return json.loads(text or "")
    except ValueError as exc:
        raise InvalidInput(f"Invalid `{field}`: not JSON") from exc


def read_form(market: MarketData, fields: dict[str, str]) -> GttForm:
    """Return the trigger a form describes; refuse one Kite would refuse."""
    kind = fields.get("type", "")
    if kind not in ("single", "two-leg"):
        raise InvalidInput("Invalid `type`: single or two-leg")
    try:
        condition = Condition.model_validate(_json(fields.get("condition"), "condition"))
        raw = _json(fields.get("orders"), "orders")
        legs = [LegOrder.model_validate(leg) for leg in (raw if isinstance(raw, list) else [])]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InvalidInput(f"Invalid GTT: {where} {first.get('msg', 'invalid')}") from exc
    wanted = 1 if kind == "single" else 2
    values = condition.trigger_values
    if len(values) != wanted or len(legs) != wanted:
        raise InvalidInput(f"A {kind} GTT has {wanted} trigger value(s) and {wanted} order(s)")
    if kind == "two-leg" and not values[0] < condition.last_price < values[1]:
        raise InvalidInput("A two-leg GTT's trigger values lie below and above the last price")
    if kind == "single" and values[0] == condition.last_price:
        raise InvalidInput("The trigger value must differ from the last price")
    resolve(market, condition.exchange, condition.tradingsymbol)
    for leg in legs:
        if (leg.exchange, leg.tradingsymbol) != (condition.exchange, condition.tradingsymbol):
            raise InvalidInput("A GTT's orders trade its condition's instrument")
    return GttForm(kind, condition, legs)


def kite_gtt(market: MarketData, username: str, row: KiteGtt) -> dict[str, Any]:
    """Return a trigger in Kite's shape."""
    instrument = market.instrument(row.symbol)
    condition = dict(row.condition)
    return {
        "id": row.id,
        "user_id": username,
        "parent_trigger": None,
        "type": row.kind,
        "created_at": kite_time(row.created_at),
        "updated_at": kite_time(row.updated_at),
        "expires_at": kite_time(row.expires_at),
        "status": row.status,
        "condition": {
            "exchange": exchange_of(instrument),
            "tradingsymbol": condition["tradingsymbol"],
            "instrument_token": instrument_token(instrument),
            "trigger_values": [float(v) for v in condition["trigger_values"]],
            "last_price": float(condition["last_price"]),
        },
        "orders": [dict(leg) for leg in row.orders],
        "meta": {},
    }


def _stored(form: GttForm) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    condition = form.condition.model_dump(mode="json")
    legs = [
        {**leg.model_dump(mode="json"), "price": float(leg.price), "result": None}
        for leg in form.legs
    ]
    return condition, legs


async def create(
    session: AsyncSession, wall: Clock, market: MarketData, caller: Caller, form: GttForm
) -> dict[str, int]:
    """Set a trigger; return its ``trigger_id``."""
    if len(await store.gtts_of(session, caller.user.id)) >= MAX_ACTIVE:
        raise InvalidInput(f"At most {MAX_ACTIVE} GTTs")
    instrument = resolve(market, form.condition.exchange, form.condition.tradingsymbol)
    condition, legs = _stored(form)
    now = wall.now()
    row = KiteGtt(
        user_id=caller.user.id,
        kind=form.kind,
        status="active",
        symbol=instrument.symbol,
        condition=condition,
        orders=legs,
        created_at=now,
        updated_at=now,
        expires_at=now + LIFETIME,
    )
    session.add(row)
    await session.flush()
    return {"trigger_id": row.id}


async def _mine(session: AsyncSession, caller: Caller, gtt_id: int, lock: bool) -> KiteGtt:
    row = await store.gtt(session, gtt_id, lock=lock)
    if row is None or row.user_id != caller.user.id or row.status == "deleted":
        raise GttNotFound(f"Invalid trigger_id: {gtt_id}")
    return row


async def listed(session: AsyncSession, market: MarketData, caller: Caller) -> list[dict[str, Any]]:
    """Return the caller's triggers, newest first."""
    rows = await store.gtts_of(session, caller.user.id)
    return [kite_gtt(market, caller.user.username, row) for row in rows]


async def one(
    session: AsyncSession, market: MarketData, caller: Caller, gtt_id: int
) -> dict[str, Any]:
    """Return one of the caller's triggers."""
    return kite_gtt(market, caller.user.username, await _mine(session, caller, gtt_id, False))


async def modify(
    session: AsyncSession, wall: Clock, market: MarketData, caller: Caller, gtt_id: int,
    form: GttForm,
) -> dict[str, int]:  # fmt: skip
    """Change an active trigger's condition and orders."""
    row = await _mine(session, caller, gtt_id, True)
    if row.status != "active":
        raise InvalidInput(f"A {row.status} GTT cannot be modified")
    instrument = resolve(market, form.condition.exchange, form.condition.tradingsymbol)
    row.kind, row.symbol = form.kind, instrument.symbol
    row.condition, row.orders = _stored(form)
    row.updated_at = wall.now()
    return {"trigger_id": row.id}


async def delete(session: AsyncSession, wall: Clock, caller: Caller, gtt_id: int) -> dict[str, int]:
    """Delete a trigger (an active one no longer fires)."""
    row = await _mine(session, caller, gtt_id, True)
    row.status, row.updated_at = "deleted", wall.now()
    return {"trigger_id": row.id}


def fired_leg(row: KiteGtt, ltp: Decimal) -> int | None:
    """Return the index of the leg ``ltp`` fires, or None."""
    values = [Decimal(str(v)) for v in row.condition["trigger_values"]]
    if row.kind == "single":
        above = values[0] > Decimal(str(row.condition["last_price"]))
        return 0 if (ltp >= values[0] if above else ltp <= values[0]) else None
    if ltp <= values[0]:
        return 0
    return 1 if ltp >= values[1] else None


@dataclass
class Watcher:
    """The job that fires triggers (a leadership job)."""

    sessionmaker: async_sessionmaker[AsyncSession]
    desk: Desk
    identities: Identities
    clock: Clock
    wall: Clock
    market: MarketData
    fees: FeeSchedule
    book: Book

    async def run(self) -> None:
        """Check the active triggers every second, until cancelled."""
        while True:
            try:
                await self.check()
            except Exception:  # the next round tries again
                log.exception("GTT check failed")
            await asyncio.sleep(CHECK_EVERY)

    async def check(self) -> None:
        """Fire every active trigger the last price has reached; expire the old ones."""
        async with self.sessionmaker() as session:
            rows = await store.active_gtts(session)
        now = self.wall.now()
        for row in rows:
            if row.expires_at <= now:
                await self._finish(row.id, "expired", None, None)
                continue
            try:
                ltp = self.market.tick(row.symbol).ltp
            except (DomainError, LookupError):
                continue
            leg = fired_leg(row, ltp)
            if leg is not None:
                await self._fire(row, leg)

    async def _fire(self, row: KiteGtt, leg: int) -> None:
        held = await self.identities.user(row.user_id)
        if held is None or not held.identity.is_active:
            await self._finish(row.id, "disabled", None, None)
            return
        caller = Caller(user=held.identity, ip="gtt")
        spec = row.orders[leg]
        body = OrderCreate(
            symbol=row.symbol,
            order_type=OrderType.LIMIT,
            order_side=Side(spec["transaction_type"]),
            quantity=Decimal(spec["quantity"]),
            price=Decimal(str(spec["price"])),
            product=Product(spec["product"]),
        )

        async def work(session: AsyncSession) -> None:
            # The order and the trigger's change commit together: a trigger fires once.
            found = await store.gtt(session, row.id, lock=True)
            if found is None or found.status != "active":
                return
            placed, _ = await orders.place(
                session, self.clock, self.market, self.fees, self.book, caller, body
            )
            self._mark(found, "triggered", leg, {"status": "success", "order_id": str(placed.id)})

        try:
            await self.desk.submit(work)
        except DomainError as exc:
            failed = {"status": "failed", "rejection_reason": exc.message}
            await self._finish(row.id, "triggered", leg, failed)

    def _mark(
        self, row: KiteGtt, status: str, leg: int | None, result: dict[str, Any] | None
    ) -> None:
        row.status, row.updated_at = status, self.wall.now()
        if leg is not None:
            legs = [dict(o) for o in row.orders]
            at = kite_time(self.wall.now())
            legs[leg]["result"] = {"order_result": result, "timestamp": at, "triggered_at": at}
            row.orders = legs

    async def _finish(
        self, gtt_id: int, status: str, leg: int | None, result: dict[str, Any] | None
    ) -> None:
        async with self.sessionmaker() as session:
            row = await store.gtt(session, gtt_id, lock=True)
            if row is not None and row.status == "active":
                self._mark(row, status, leg, result)
            await commit(session)
