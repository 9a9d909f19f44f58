"""Kite postbacks: each order update of a user is POSTed (JSON) to the ``postback_url`` of
each of their apps, with Kite's checksum, sha256(order_id + order_timestamp + api_secret).

Updates are read from the journal of private events (the one the sockets resume from), so
every process's orders are seen by the one that runs this job (a leadership job). Only an
address the operator allows is posted to: a public address, or one inside
``TRADEPIT_KITE_POSTBACK_ALLOW`` (loopback and private ranges are refused unless listed
there). A failed post (an error, or an answer other than 2xx) is tried again after 1, 2, 4
and 8 seconds, then given up with a log line. Updates journaled while no process runs the
job are not posted afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tradepit.domain.kite import postback_checksum
from tradepit.market.data import MarketData
from tradepit.services.kite.ticker import order_update
from tradepit.store import kite as store
from tradepit.store.crypto import SealBroken, Sealer
from tradepit.store.users import User

log = logging.getLogger("tradepit.kite.postbacks")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Sends one POST (url, JSON body) and returns the answer's status.
Send = Callable[[str, bytes], Awaitable[int]]
POLL_EVERY = 0.5
BATCH = 500
TIMEOUT = 5.0


@dataclass(frozen=True)
class PostbackPolicy:
    """Where postbacks may go, and how hard to try."""

    allowed: tuple[Network, ...] = ()
    attempts: int = 5
    first_delay: float = 1.0

    @classmethod
    def of(cls, networks: list[str]) -> PostbackPolicy:
        """Return the policy allowing ``networks`` (CIDRs or addresses) besides public ones."""
        return cls(tuple(ipaddress.ip_network(n.strip(), strict=False) for n in networks))

    def allows(self, address: str) -> bool:
        """Tell whether a post may go to ``address``: public, or inside an allowed network."""
        ip = ipaddress.ip_address(address.split("%", maxsplit=1)[0])
        return ip.is_global or any(ip in network for network in self.allowed)


async def destination_allowed(policy: PostbackPolicy, url: str) -> bool:
    """Tell whether every address ``url``'s host resolves to is allowed (none: no)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError:
        return False
    addresses = {str(info[4][0]) for info in found}
    return bool(addresses) and all(policy.allows(a) for a in addresses)


def _post(url: str, body: bytes) -> int:
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked: http(s) only
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


async def post(url: str, body: bytes) -> int:
    """POST ``body`` as JSON to ``url`` (the standard library's client, in a thread)."""
    return await asyncio.to_thread(_post, url, body)


def payload(
    market: MarketData, username: str, app_key: str, secret: str, event: dict[str, Any]
) -> dict[str, Any] | None:
    """Return the postback of an order event (None: not a main-account order)."""
    data = order_update(market, username, event)
    if data is None:
        return None
    stamp = str(data["order_timestamp"])
    return {
        **data,
        "app_id": app_key,
        "checksum": postback_checksum(str(data["order_id"]), stamp, secret),
    }


@dataclass
class Postbacks:
    """The job that posts order updates to apps' postback URLs."""

    sessionmaker: async_sessionmaker[AsyncSession]
    sealer: Sealer
    market: MarketData
    policy: PostbackPolicy
    send: Send = post
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self) -> None:
        """Post every order update journaled from now on, until cancelled."""
        async with self.sessionmaker() as session:
            cursor = await store.last_event_id(session)
        try:
            while True:
                cursor = await self._once(cursor)
                await asyncio.sleep(POLL_EVERY)
        finally:
            for task in list(self._tasks):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _once(self, cursor: int) -> int:
        async with self.sessionmaker() as session:
            found = await store.order_events_after(session, cursor, BATCH)
            users = {event.user_id for event, _ in found}
            names = {u: (await session.get(User, u)) for u in users}
        for event, app in found:
            cursor = max(cursor, event.id)
            user = names.get(event.user_id)
            if user is None or app.postback_url is None:
                continue
            try:
                secret = self.sealer.open(f"kite_app:{app.api_key}", app.secret_sealed)
            except SealBroken:
                log.warning("postback of Kite app %s skipped: its secret cannot be opened", app.id)
                continue
            body = payload(self.market, user.username, app.api_key, secret, event.payload)
            if body is None:
                continue
            task = asyncio.create_task(self.deliver(app.postback_url, body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return cursor

    async def deliver(self, url: str, body: dict[str, Any]) -> None:
        """POST ``body`` to ``url``, trying again with backoff; never to a refused address."""
        data = json.dumps(body, default=str).encode()
        delay = self.policy.first_delay
        for attempt in range(1, self.policy.attempts + 1):
            if not await destination_allowed(self.policy, url):
                log.warning(
                    "postback to %s refused: not an allowed address", urlsplit(url).hostname
                )
                return
            try:
                status = await self.send(url, data)
            except (OSError, ValueError) as exc:
                status, why = 0, str(exc)
            else:
                why = f"status {status}"
            if 200 <= status < 300:
                return
            if attempt < self.policy.attempts:
                await self.sleep(delay)
                delay *= 2
        log.warning("postback to %s given up after %s tries: %s", urlsplit(url).hostname,
                    self.policy.attempts, why)  # fmt: skip
