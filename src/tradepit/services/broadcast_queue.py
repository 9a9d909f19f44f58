"""The broadcast queue's worker: claim due targets, size them, send them, record the result.

A target is claimed with a conditional update (one worker wins). Paper orders run in the
claim's transaction, so a target executes exactly once; for external brokers the claim commits
before the send, so a crash can leave a target ``sent`` but never sends it twice (such targets
are failed after ``STALE_AFTER`` for a person to check). Transient broker errors are retried
with exponential backoff, at most ``MAX_ATTEMPTS`` times.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tradepit.bus import Bus
from tradepit.domain.clock import Clock
from tradepit.market.data import MarketData
from tradepit.schemas.broadcasts import BroadcastCreate
from tradepit.services import broker_accounts as accounts
from tradepit.services.broadcasts import (
    BATCH,
    INTERNAL_ERROR,
    MAX_ATTEMPTS,
    NO_ANSWER,
    NO_OUTCOME,
    SEND_TIMEOUT,
    STALE_AFTER,
    announce,
    backoff,
    size,
    ticket,
)
from tradepit.services.brokers import Adapter, BrokerRefused, Brokers, scrub
from tradepit.store import broadcasts as store
from tradepit.store import broker_accounts as account_store
from tradepit.store.broadcasts import EXECUTED, FAILED, PENDING, Broadcast, BroadcastTarget
from tradepit.store.crypto import Sealer
from tradepit.store.db import commit

log = logging.getLogger("tradepit.broadcasts")


class Worker:
    """Work the broadcast queue: claim due targets, size them, send them, record the result."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        wall: Clock,
        sealer: Sealer,
        registry: Brokers,
        market: MarketData,
        bus: Bus,
        every: float = 1.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.wall = wall
        self.sealer = sealer
        self.registry = registry
        self.market = market
        self.bus = bus
        self.every = every

    async def run(self) -> None:
        """Work the queue until cancelled."""
        while True:
            try:
                await self.work_once()
            except Exception:  # the queue must outlive a busy database
                log.exception("broadcast queue pass failed")
            await asyncio.sleep(self.every)

    async def work_once(self) -> int:
        """Fail stale sends, then work every due target; return how many were worked."""
        async with self.sessionmaker() as session:
            for target in await store.stale_sent(session, self.wall.now() - STALE_AFTER):
                target.status = FAILED
                target.error_message = NO_OUTCOME
                await announce(session, self.bus, target)
            ids = await store.due(session, self.wall.now(), BATCH)
            await commit(session)
        for target_id in ids:
            await self.work(target_id)
        return len(ids)

    async def work(self, target_id: int) -> None:
        """Send one target if this worker wins its claim."""
        async with self.sessionmaker() as session:
            target = await store.claim(session, target_id, self.wall.now())
            if target is None:
                return
            try:
                await self._send(session, target)
            except Exception as exc:  # a bug must fail the target, not loop on it
                log.exception("broadcast target %s failed", target_id)
                target.status, target.error_message = FAILED, INTERNAL_ERROR + type(exc).__name__
            target.updated_at = self.wall.now()
            await announce(session, self.bus, target)
            await commit(session)

    async def _send(self, session: AsyncSession, target: BroadcastTarget) -> None:
        broadcast = await session.get(Broadcast, target.broadcast_id)
        account = await account_store.get(session, target.account_id)
        assert broadcast is not None
        secrets: list[str] = []
        try:
            if account is None or not account.is_active:
                raise BrokerRefused("the account was deleted or deactivated")
            opened = accounts.credentials(self.sealer, account)
            secrets = opened.secrets()
            adapter = self.registry.open(opened, session)
            if account.broker != "paper":
                await commit(session)  # the claim is durable before anything leaves
            async with asyncio.timeout(SEND_TIMEOUT):
                await self._place(adapter, broadcast, target)
        except BrokerRefused as exc:
            target.error_message = scrub(exc.reason, secrets)
            if exc.transient and target.attempts < MAX_ATTEMPTS:
                target.status = PENDING
                target.next_attempt_at = self.wall.now() + backoff(target.attempts)
            else:
                target.status = FAILED
        except TimeoutError:
            target.status = FAILED
            target.error_message = NO_ANSWER

    async def _place(self, adapter: Adapter, broadcast: Broadcast, target: BroadcastTarget) -> None:
        if broadcast.kind == "close":
            placed = await adapter.close_position(target.symbol, target.lots)
        else:
            plan = BroadcastCreate.model_validate(broadcast.order)
            override = plan.overrides.get(str(target.account_id))
            instrument = self.market.instrument(broadcast.symbol)
            target.lots = await size(adapter, instrument, plan, override)
            key = f"tp-b{broadcast.id}-a{target.account_id}"
            placed = await adapter.place_order(ticket(plan, target.symbol, target.lots, key))
        target.status = EXECUTED
        target.broker_order_id = placed.order_id[:64]
        target.executed_at = self.wall.now()
        target.error_message = None
