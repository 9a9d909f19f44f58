"""Sending orders to linked accounts, and broadcasting them to many (copy trading).

A broadcast is queued: one target row per account, pending → sent → executed | failed; the
worker (``services.broadcast_queue``) claims a pending target (one worker wins), sizes it (fixed
lots, the master's lots times a multiplier, or a risk percent of the account's balance through
the calculator), and sends it through the account's adapter. Paper orders run in the claim's
transaction, so a target executes exactly once; for external brokers the claim commits before
the send, so a crash can leave a target ``sent`` but never sends it twice (such targets are
failed after ``STALE_AFTER`` for a person to check). Transient broker errors are retried with
exponential backoff; a retry of a broadcast re-queues only its failed targets.

A close never closes more than its broadcast opened on an account: each opening target keeps
in the database the lots its closes have taken (``closed_lots``, a conditional update), a
close takes only what is left, and a retry never resends a close whose order may have
executed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.bus import Bus
from tradepit.domain import lots as sizing
from tradepit.domain.clock import Clock
from tradepit.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from tradepit.domain.instruments import Instrument
from tradepit.domain.money import plain
from tradepit.market.data import MarketData
from tradepit.schemas.broadcasts import (
    BroadcastCreate,
    BroadcastCreated,
    BroadcastRead,
    BroadcastStatistic,
    BroadcastStatus,
    BroadcastStatusRead,
    BroadcastUser,
    OrderPlan,
    SendOrders,
    SendResult,
    Sizing,
    TargetRead,
)
from tradepit.services import broker_accounts as accounts
from tradepit.services import journal
from tradepit.services.brokers import Adapter, BrokerRefused, Brokers, Ticket, scrub
from tradepit.services.callers import Caller
from tradepit.store import audit
from tradepit.store import broadcasts as store
from tradepit.store import broker_accounts as account_store
from tradepit.store.broadcasts import (
    EXECUTED,
    FAILED,
    PENDING,
    Broadcast,
    BroadcastTarget,
    SendRequest,
)
from tradepit.store.broker_accounts import BrokerAccount
from tradepit.store.crypto import Sealer
from tradepit.store.db import after_commit

log = logging.getLogger("tradepit.broadcasts")

TOPIC = "broadcasts"
MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(seconds=2)
BACKOFF_MAX = timedelta(minutes=1)
STALE_AFTER = timedelta(minutes=5)
#: How far back ``broadcast_status``'s statistics look (mt5-copier's window).
STATISTICS_WINDOW = timedelta(hours=24)
SEND_TIMEOUT = 30.0
BATCH = 50


class NoTargets(InvalidInput):
    """No active account matches the broadcast's targets."""

    code = "NO_TARGETS"


class NoAccountToTrade(InvalidInput):
    """send_orders lists no accounts and the token names none."""

    code = "NO_ACCOUNT"


class BroadcastNotFound(NotFound):
    """No broadcast with this id."""

    code = "BROADCAST_NOT_FOUND"


class NotClosable(Conflict):
    """Only an opening broadcast with executed targets can be closed."""

    code = "NOT_CLOSABLE"


class NothingLeftToClose(Conflict):
    """Closes of the broadcast have already taken every lot it opened."""

    code = "NOTHING_LEFT_TO_CLOSE"


#: Why a target failed when its order may still have gone through: a retry sends a close
#: that failed so never again (it could close twice); a person checks it at the broker.
NO_OUTCOME = "no outcome recorded: check the order at the broker"
NO_ANSWER = "no answer in time: check the order at the broker"
INTERNAL_ERROR = "internal error: "


def outcome_unknown(target: BroadcastTarget) -> bool:
    """Tell whether a failed target's order may have executed all the same."""
    reason = target.error_message or ""
    return reason in (NO_OUTCOME, NO_ANSWER) or reason.startswith(INTERNAL_ERROR)


def backoff(attempts: int) -> timedelta:
    """Return the wait before attempt ``attempts + 1``: 2 s, 4 s, 8 s… at most a minute."""
    return min(BACKOFF_BASE * (1 << max(attempts - 1, 0)), BACKOFF_MAX)


def _floor(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


def _mode(
    plan: OrderPlan, override: Sizing | None
) -> tuple[Decimal | None, Decimal, Decimal | None]:
    """Return (lots, multiplier, risk percent): an override's lots or risk percent win, an
    override's multiplier applies to the master's lots."""
    one = Decimal(1)
    if override is not None and override.lots is not None:
        return override.lots, override.multiplier or one, None
    if override is not None and override.risk_percent is not None:
        return None, one, override.risk_percent
    multiplier = (override.multiplier if override else None) or plan.multiplier or one
    return plan.lots, multiplier, plan.risk_percent


async def size(
    adapter: Adapter, instrument: Instrument, plan: OrderPlan, override: Sizing | None
) -> Decimal:
    """Return the lots one account trades, on the lot step and within the clamps. A risk
    percent is of the plan's ``portfolioSize`` when it gives one, else of the account's
    balance at its broker."""
    rules = sizing.lot_rules(instrument)
    fixed, multiplier, risk = _mode(plan, override)
    if risk is not None:
        if plan.stop_loss is None or not plan.entries:
            raise BrokerRefused("riskPercent needs stopLoss and an entry price")
        balance = plan.portfolio_size
        if balance is None:
            info = await adapter.account_info()
            if info.balance <= 0:
                raise BrokerRefused(
                    f"the account's balance is {plain(info.balance)} {info.currency}"
                )
            balance = info.balance
        try:
            lots = sizing.size(balance, risk, plan.stop_loss, plan.entries, rules).total_lots
        except DomainError as exc:
            raise BrokerRefused(exc.message) from exc
    else:
        assert fixed is not None
        lots = fixed * multiplier
    low = max(rules.min_lot, plan.min_lot or rules.min_lot)
    high = min(rules.max_lot, plan.max_lot or rules.max_lot)
    return min(max(_floor(lots, rules.step), low), high)


def broker_symbol(instrument: Instrument, account: BrokerAccount, override: Sizing | None) -> str:
    """Return the account's symbol for ``instrument``: the broadcast's override, else the
    account's symbol map, else ours."""
    mapped = (account.symbol_map or {}).get(instrument.symbol)
    return (override.symbol if override else None) or mapped or instrument.symbol


def ticket(plan: OrderPlan, symbol: str, lots: Decimal, key: str) -> Ticket:
    """Return the market order of ``lots`` of ``symbol`` the plan asks for."""
    return Ticket(symbol, plan.order_side, lots, key, plan.stop_loss, plan.take_profit)


def target_read(target: BroadcastTarget) -> TargetRead:
    """Return the target as answers and events show it."""
    return TargetRead.model_validate(target, from_attributes=True)


def _broadcast_read(broadcast: Broadcast, progress: dict[str, int]) -> BroadcastRead:
    full = {s: progress.get(s, 0) for s in (PENDING, "sent", EXECUTED, FAILED)}
    full["total"] = sum(progress.values())
    return BroadcastRead(
        id=broadcast.id,
        admin_user_id=broadcast.admin_user_id,
        kind=broadcast.kind,
        parent_id=broadcast.parent_id,
        symbol=broadcast.symbol,
        side=broadcast.side,
        order=broadcast.order,
        created_at=broadcast.created_at,
        progress=full,
    )


async def announce(session: AsyncSession, bus: Bus, target: BroadcastTarget) -> None:
    await session.flush()
    progress = await store.counts(session, target.broadcast_id)
    shown = target_read(target).model_dump(mode="json")
    event = {
        "type": "broadcast_progress",
        "broadcast_id": target.broadcast_id,
        "progress": progress,
        "target": shown,
    }
    private = {"type": "broadcast_target", "target": shown}
    after_commit(session, lambda: bus.publish(TOPIC, event))
    journal.record(session, bus, target.target_user_id, private)


def _audit(
    session: AsyncSession,
    wall: Clock,
    caller: Caller,
    action: str,
    target: str,
    details: dict[str, Any],
) -> None:
    audit.record(
        session,
        wall,
        action=action,
        actor_id=caller.user.id,
        actor=caller.user.username,
        target=target,
        ip=caller.ip,
        details=details,
    )


async def create(
    session: AsyncSession,
    wall: Clock,
    market: MarketData,
    bus: Bus,
    caller: Caller,
    body: BroadcastCreate,
) -> BroadcastCreated:
    """Queue the order for every matching active account; the worker sends it."""
    instrument = market.instrument(body.symbol)
    targets = await account_store.active(session, body.target_users, body.target_accounts)
    if not targets:
        raise NoTargets("no active account matches the broadcast's targets")
    now = wall.now()
    order = body.model_dump(mode="json", exclude={"target_users", "target_accounts"})
    broadcast = Broadcast(
        admin_user_id=caller.user.id,
        kind="open",
        symbol=instrument.symbol,
        side=body.order_side,
        order=order,
        created_at=now,
    )
    session.add(broadcast)
    await session.flush()
    rows = []
    for account in targets:
        override = body.overrides.get(str(account.id))
        symbol = broker_symbol(instrument, account, override)
        rows.append(
            BroadcastTarget(
                broadcast_id=broadcast.id,
                target_user_id=account.user_id,
                account_id=account.id,
                status=PENDING,
                symbol=symbol,
                attempts=0,
                next_attempt_at=now,
                updated_at=now,
            )
        )
    session.add_all(rows)
    await session.flush()
    _audit(
        session,
        wall,
        caller,
        "broadcast.create",
        f"broadcast:{broadcast.id}",
        {
            "broadcast_id": broadcast.id,
            "symbol": instrument.symbol,
            "side": body.order_side,
            "accounts": [t.account_id for t in rows],
        },
    )
    for row in rows:
        await announce(session, bus, row)
    users = len({row.target_user_id for row in rows})
    return BroadcastCreated(
        broadcasts=[_broadcast_read(broadcast, {PENDING: len(rows)})],
        targets=[target_read(t) for t in rows],
        message=f"Broadcast queued for {len(rows)} accounts of {users} users",
        target_users=users,
        executed_successfully=0,
        timestamp=now,
    )


async def retry(
    session: AsyncSession, wall: Clock, bus: Bus, caller: Caller, broadcast_id: int
) -> BroadcastStatus:
    """Queue the broadcast's failed targets again; executed ones are never sent again. A
    close's failed target is sent again only with lots to close and when its order surely
    did not execute (its lots stay taken from the opening target meanwhile)."""
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise BroadcastNotFound(f"no broadcast {broadcast_id}")
    now = wall.now()
    again = [
        t
        for t in await store.targets_of(session, [broadcast_id])
        if t.status == FAILED
        and (broadcast.kind == "open" or ((t.lots or 0) > 0 and not outcome_unknown(t)))
    ]
    for target in again:
        target.status, target.attempts, target.next_attempt_at = PENDING, 0, now
        target.error_message, target.updated_at = None, now
        await announce(session, bus, target)
    _audit(
        session,
        wall,
        caller,
        "broadcast.retry",
        f"broadcast:{broadcast_id}",
        {"broadcast_id": broadcast_id, "targets": [t.id for t in again]},
    )
    return await status(session, caller, broadcast_id)


async def close(
    session: AsyncSession,
    wall: Clock,
    market: MarketData,
    bus: Bus,
    caller: Caller,
    broadcast_id: int,
    fraction: Decimal,
) -> BroadcastStatus:
    """Queue a close of ``fraction`` of every executed target's lots (rounded down to the
    lot step), as a broadcast of kind close; never more than is left of what the broadcast
    opened on the account.

    Each share is taken from the opening target's ``closed_lots`` first (``store.take``, a
    conditional update, so retries and concurrent closes in any process never take a lot
    twice); an account with nothing left gets a failed target saying so, and when no account
    has anything left the close is refused (409 ``NOTHING_LEFT_TO_CLOSE``), writing nothing.
    """
    parent = await session.get(Broadcast, broadcast_id)
    if parent is None:
        raise BroadcastNotFound(f"no broadcast {broadcast_id}")
    done = [t for t in await store.targets_of(session, [broadcast_id]) if t.status == EXECUTED]
    if parent.kind != "open" or not done:
        raise NotClosable("only an opening broadcast with executed targets can be closed")
    step = sizing.lot_rules(market.instrument(parent.symbol)).step
    shares: list[tuple[BroadcastTarget, Decimal, str | None]] = []
    for target in done:
        opened = target.lots or Decimal(0)
        taken = await store.take(session, target, _floor(opened * fraction, step))
        if taken > 0:
            shares.append((target, taken, None))
        elif target.closed_lots < opened:
            shares.append((target, Decimal(0), "the share is below one lot step"))
        else:
            spent = f"nothing left to close: closes of this broadcast took all its {opened} lots"
            shares.append((target, Decimal(0), spent))
    if all(t.closed_lots >= (t.lots or 0) and lots == 0 for t, lots, _ in shares):
        raise NothingLeftToClose(
            f"closes of broadcast {broadcast_id} have already taken every lot it opened"
        )
    now = wall.now()
    side = "SELL" if parent.side == "BUY" else "BUY"
    child = Broadcast(
        admin_user_id=caller.user.id,
        kind="close",
        parent_id=parent.id,
        symbol=parent.symbol,
        side=side,
        order={"fraction": str(fraction)},
        created_at=now,
    )
    session.add(child)
    await session.flush()
    for target, lots, why in shares:
        row = BroadcastTarget(
            broadcast_id=child.id,
            target_user_id=target.target_user_id,
            account_id=target.account_id,
            status=PENDING if why is None else FAILED,
            symbol=target.symbol,
            lots=lots,
            attempts=0,
            next_attempt_at=now,
            error_message=why,
            updated_at=now,
        )
        session.add(row)
        await announce(session, bus, row)
    _audit(
        session,
        wall,
        caller,
        "broadcast.close",
        f"broadcast:{child.id}",
        {
            "broadcast_id": child.id,
            "parent_id": parent.id,
            "fraction": str(fraction),
            "lots": {str(target.account_id): str(lots) for target, lots, _ in shares},
        },
    )
    return await status(session, caller, child.id)


async def status(
    session: AsyncSession, caller: Caller, broadcast_id: int | None = None, limit: int = 50
) -> BroadcastStatus:
    """Return broadcasts with their targets: a superadmin sees all, a user their targets."""
    if _sees_every_broadcast(caller):
        found = (
            await store.by_ids(session, [broadcast_id])
            if broadcast_id is not None
            else await store.recent(session, limit)
        )
        targets = await store.targets_of(session, [b.id for b in found])
    else:
        targets = await store.targets_of_user(session, caller.user.id, limit * 20)
        if broadcast_id is not None:
            targets = [t for t in targets if t.broadcast_id == broadcast_id]
        found = await store.by_ids(session, sorted({t.broadcast_id for t in targets}))
    return BroadcastStatus(
        broadcasts=[_broadcast_read(b, await store.counts(session, b.id)) for b in found],
        targets=[target_read(t) for t in targets],
    )


async def status_report(
    session: AsyncSession,
    wall: Clock,
    caller: Caller,
    broadcast_id: int | None = None,
    limit: int = 50,
) -> BroadcastStatusRead:
    """Return ``status``, with mt5-copier's statistics of the last 24 hours' targets by state
    and the users a broadcast to every active account reaches (a user: only themselves)."""
    found = await status(session, caller, broadcast_id, limit)
    now = wall.now()
    mine = None if _sees_every_broadcast(caller) else caller.user.id
    counted = await store.statistics(session, now - STATISTICS_WINDOW, mine)
    reached = await store.reached_users(session, mine)
    return BroadcastStatusRead(
        broadcasts=found.broadcasts,
        targets=found.targets,
        broadcast_statistics=[
            BroadcastStatistic(status=state, count=count, latest=latest)
            for state, count, latest in counted
        ],
        broadcast_users=[
            BroadcastUser(
                id=user.id,
                username=user.username,
                last_login=user.last_login_at,
                is_active=user.is_active,
            )
            for user in reached
        ],
        timestamp=now,
    )


def _sees_every_broadcast(caller: Caller) -> bool:
    return accounts.sees_all(caller) and caller.role.value == "superadmin"


class IdempotencyKeyReused(Conflict):
    """The Idempotency-Key was used before for a different request."""

    code = "IDEMPOTENCY_KEY_REUSED"


async def send(
    session: AsyncSession,
    wall: Clock,
    sealer: Sealer,
    registry: Brokers,
    market: MarketData,
    caller: Caller,
    body: SendOrders,
    key: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Send the order to each of the caller's listed accounts now; return the answer (per
    account) and whether it is a replay.

    With an Idempotency-Key, the first request's answer is kept with it: a retry with the same
    key and body gets that answer and sends nothing; another body is 409. Two requests with
    one key at once: the second waits for the first's row (unique index) and replays it. The
    orders carry a broker-side key derived from the Idempotency-Key, so a retry after a crash
    between sending and answering is recognised by brokers that honour client order ids.

    Without ``accounts`` the order goes to the account the caller's token names (mt5-copier's
    connect); 400 ``NO_ACCOUNT`` when it names none.
    """
    body = _with_accounts(body, caller)
    if key is None:
        results = await _send(session, wall, sealer, registry, market, caller, body)
        return _answer(results, body, wall), False
    digest = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    found = await store.send_request(session, caller.user.id, key)
    row = SendRequest(
        user_id=caller.user.id, key=key, request_hash=digest, response=None, created_at=wall.now()
    )
    if found is None:
        try:
            async with session.begin_nested():
                session.add(row)
        except IntegrityError:  # the same key, committed meanwhile by a concurrent request
            found = await store.send_request(session, caller.user.id, key)
    if found is not None:
        if found.request_hash != digest or found.response is None:
            raise IdempotencyKeyReused(f"Idempotency-Key '{key}' was used for a different request")
        return found.response, True
    batch = hashlib.sha256(f"{caller.user.id}:{key}".encode()).hexdigest()[:12]
    results = await _send(session, wall, sealer, registry, market, caller, body, batch)
    row.response = _answer(results, body, wall)
    return row.response, False


def _with_accounts(body: SendOrders, caller: Caller) -> SendOrders:
    """Return ``body`` with its accounts: those it lists, else the one the token names."""
    if body.accounts:
        return body
    if caller.account_id is None:
        raise NoAccountToTrade(
            "no account to send to: list 'accounts' (ids of your accounts), or connect one "
            "(POST /api/accounts/{id}/connect) and send with the token that answers"
        )
    return body.model_copy(update={"accounts": [caller.account_id]})


def _answer(results: list[SendResult], body: SendOrders, wall: Clock) -> dict[str, Any]:
    failed = sum(r.status != "executed" for r in results)
    return {
        "success": not failed,
        "results": [r.model_dump(mode="json") for r in results],
        # mt5-copier's answer: one account (the connected one), a message and the time.
        "message": "Orders sent successfully"
        if not failed
        else f"{failed} of {len(results)} orders failed: see results",
        "account_id": results[0].account_id if len(results) == 1 else None,
        "timestamp": wall.now().isoformat(),
    }


async def _send(
    session: AsyncSession,
    wall: Clock,
    sealer: Sealer,
    registry: Brokers,
    market: MarketData,
    caller: Caller,
    body: SendOrders,
    batch: str | None = None,
) -> list[SendResult]:
    instrument = market.instrument(body.symbol)
    owned = [await accounts.own(session, caller, i) for i in dict.fromkeys(body.accounts or [])]
    batch = batch or uuid.uuid4().hex[:12]
    results: list[SendResult] = []
    for account in owned:
        secrets: list[str] = []
        lots: Decimal | None = None
        try:
            opened = accounts.credentials(sealer, account)
            secrets = opened.secrets()
            adapter = registry.open(opened, session)
            async with asyncio.timeout(SEND_TIMEOUT):
                lots = await size(adapter, instrument, body, None)
                key = f"tp-s{batch}-a{account.id}"
                placed = await adapter.place_order(
                    ticket(body, broker_symbol(instrument, account, None), lots, key)
                )
            results.append(
                SendResult(
                    account_id=account.id,
                    status="executed",
                    symbol=instrument.symbol,
                    lots=lots,
                    order_id=placed.order_id,
                    error_message=None,
                )
            )
        except (BrokerRefused, TimeoutError) as exc:
            reason = scrub(exc.reason, secrets) if isinstance(exc, BrokerRefused) else "timeout"
            results.append(
                SendResult(
                    account_id=account.id,
                    status="failed",
                    symbol=instrument.symbol,
                    lots=lots,
                    order_id=None,
                    error_message=reason,
                )
            )
    _audit(
        session,
        wall,
        caller,
        "orders.send",
        f"user:{caller.user.id}",
        {
            "symbol": instrument.symbol,
            "side": body.order_side,
            "results": [{"account_id": r.account_id, "status": r.status} for r in results],
        },
    )
    return results
