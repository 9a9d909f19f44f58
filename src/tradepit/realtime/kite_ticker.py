"""Kite Connect's ticker, ``/kite/ws?api_key=&access_token=``, as the official ``KiteTicker``
speaks it: text messages ``{"a": "subscribe" | "unsubscribe" | "mode", "v": ...}`` in,
binary frames of ticks (ltp, quote or full packets) and text order updates
(``{"type": "order", "data": ...}``) out, fed from the hub like every other gateway."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from tradepit.api.deps import Wiring
from tradepit.api.kite.deps import kite_login
from tradepit.domain.errors import DomainError, NotAuthenticated
from tradepit.domain.kite import frame
from tradepit.realtime.ws import refused_origin
from tradepit.services.callers import Caller
from tradepit.services.kite import market, ticker
from tradepit.services.realtime import Client, Hub, Outgoing, TooManyConnections

log = logging.getLogger("tradepit.kite.ticker")

PATH = "/kite/ws"
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_TOO_SLOW = 4408
CLOSE_UNAUTHORIZED = 4401
#: Longest text message a client may send (a subscription of many tokens).
MAX_MESSAGE = 65_536
#: Kite's one-byte heartbeat, sent when nothing else was for this long (seconds).
HEARTBEAT_EVERY = 1.0

router = APIRouter()


@dataclass
class Subscriptions:
    """One connection's instruments: catalogue symbol -> (token, mode)."""

    by_symbol: dict[str, tuple[int, str]] = field(default_factory=dict)


def _error(message: str) -> str:
    return json.dumps({"type": "error", "data": message})


@router.websocket(PATH)
async def kite_ticker(websocket: WebSocket) -> None:
    """Stream ticks and order updates to a Kite ticker."""
    wired: Wiring = websocket.app.state.wiring
    hub = wired.hub
    if await refused_origin(websocket, hub):
        return
    ip = websocket.client.host if websocket.client else "unknown"
    query = websocket.query_params
    api_key, access_token = query.get("api_key", "")[:64], query.get("access_token", "")[:4096]
    try:
        caller = await kite_login(wired, api_key, access_token, ip)
    except NotAuthenticated as exc:
        await websocket.accept()
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            await websocket.send_text(_error(exc.message))
        await _close(websocket, CLOSE_UNAUTHORIZED, exc.message)
        return
    await websocket.accept()
    client = hub.client("kite", caller)
    try:
        await hub.attach(client, None)
    except TooManyConnections as exc:
        hub.detach(client)
        await websocket.send_text(_error(exc.message))
        await _close(websocket, CLOSE_POLICY, exc.message)
        return
    subscriptions = Subscriptions()
    tasks = [
        asyncio.create_task(_write(websocket, wired, caller, client, subscriptions)),
        asyncio.create_task(_read(websocket, wired, hub, client, subscriptions)),
        asyncio.create_task(_recheck(wired, client, api_key, access_token)),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        hub.detach(client)
    finished = done.pop()
    code, reason = CLOSE_NORMAL, ""
    if not finished.cancelled() and finished.exception() is None:
        code, reason = finished.result()
    await _close(websocket, code, reason)


async def _write(
    websocket: WebSocket, wired: Wiring, caller: Caller, client: Client, subs: Subscriptions
) -> tuple[int, str]:
    """Send the client's queue: the ticks of a batch in one binary frame, order updates as
    text; a heartbeat byte when a second passes with nothing to send."""
    taking: asyncio.Task[list[Outgoing]] | None = None
    try:
        while True:
            if taking is None:
                taking = asyncio.create_task(client.take())
            done, _ = await asyncio.wait({taking}, timeout=HEARTBEAT_EVERY)
            if not done:
                await websocket.send_bytes(b"\x00")
                continue
            batch, taking = taking.result(), None
            await _send(websocket, wired, caller, client, subs, batch)
            if client.closing is not None:
                return CLOSE_TOO_SLOW, client.closing
    finally:
        if taking is not None:
            taking.cancel()


async def _send(
    websocket: WebSocket,
    wired: Wiring,
    caller: Caller,
    client: Client,
    subs: Subscriptions,
    batch: list[Outgoing],
) -> None:
    """Send one batch: its ticks as one binary frame, its order updates as text."""
    if client.closing is not None:
        return
    packets: list[bytes] = []
    for message in batch:
        if message.kind == "tick":
            symbol = str(message.message.get("symbol"))
            held = subs.by_symbol.get(symbol)
            if held is None:
                continue
            token, mode = held
            key = f"kite:{mode}:{token}"
            packed: bytes | None = message.encoded.get(key)
            if packed is None:
                packed = ticker.packet(wired.market, message.message, token, mode)
                message.encoded[key] = packed
            packets.append(packed)
        elif message.kind == "order":
            update = ticker.order_update(wired.market, caller.user.username, message.message)
            if update is not None:
                await websocket.send_text(json.dumps({"type": "order", "data": update}))
    if packets:
        await websocket.send_bytes(frame(packets))


async def _recheck(
    wired: Wiring, client: Client, api_key: str, access_token: str
) -> tuple[int, str]:
    """Wait until the session ends (logged out, expired, the user deactivated, or the app
    deleted), checked every ``recheck_every`` seconds like ``/ws``; return the close."""
    assert client.caller is not None
    while True:
        await asyncio.sleep(wired.hub.limits.recheck_every)
        try:
            await kite_login(wired, api_key, access_token, client.caller.ip)
        except NotAuthenticated as exc:
            return CLOSE_UNAUTHORIZED, exc.message
        except Exception as exc:  # the database away: check again next round
            log.warning("Kite session re-check failed: %s", type(exc).__name__)


def _tokens(value: Any) -> list[int]:
    if not isinstance(value, list) or not all(type(t) is int and 0 < t < 2**32 for t in value):
        raise ValueError("instrument tokens are a list of whole numbers")
    return list(dict.fromkeys(value))


async def _read(
    websocket: WebSocket, wired: Wiring, hub: Hub, client: Client, subs: Subscriptions
) -> tuple[int, str]:
    """Apply the client's subscribe, unsubscribe and mode messages."""
    while True:
        received = await websocket.receive()
        if received["type"] == "websocket.disconnect":
            return CLOSE_NORMAL, ""
        raw = received.get("text")
        if raw is None:
            raw = (received.get("bytes") or b"").decode("utf-8", errors="replace")
        if len(raw) > MAX_MESSAGE:
            return CLOSE_POLICY, "message too large"
        if not client.allow():
            await websocket.send_text(_error("too many messages"))
            return CLOSE_POLICY, "too many messages"
        try:
            await _handle(wired, hub, client, subs, raw)
        except (ValueError, DomainError) as exc:
            text = exc.message if isinstance(exc, DomainError) else str(exc)
            await websocket.send_text(_error(text))


async def _handle(wired: Wiring, hub: Hub, client: Client, subs: Subscriptions, raw: str) -> None:
    message = json.loads(raw)
    if not isinstance(message, dict):
        raise ValueError("messages are {'a': action, 'v': value}")
    action, value = message.get("a"), message.get("v")
    if action == "subscribe":
        await _subscribe(wired, hub, client, subs, _tokens(value), None)
    elif action == "unsubscribe":
        wanted = set(_tokens(value))
        gone = [s for s, (token, _) in subs.by_symbol.items() if token in wanted]
        hub.unsubscribe(client, gone)
        for symbol in gone:
            del subs.by_symbol[symbol]
    elif action == "mode":
        if not isinstance(value, list) or len(value) != 2 or value[0] not in ticker.MODES:
            raise ValueError("mode is {'a': 'mode', 'v': ['ltp' | 'quote' | 'full', [tokens]]}")
        await _subscribe(wired, hub, client, subs, _tokens(value[1]), str(value[0]))
    else:
        raise ValueError("unknown action: use subscribe, unsubscribe or mode")


async def _subscribe(
    wired: Wiring,
    hub: Hub,
    client: Client,
    subs: Subscriptions,
    tokens: list[int],
    mode: str | None,
) -> None:
    """Subscribe to the instruments ``tokens`` name (in ``mode``, or the one they have,
    quote for a new one); unknown tokens are ignored, as Kite does."""
    found = market.tokens(wired.market, tokens)
    names = await hub.subscribe(client, [i.symbol for i in found.values()])
    for name, token in zip(names, found, strict=True):
        current = subs.by_symbol.get(name)
        subs.by_symbol[name] = (token, mode or (current[1] if current else "quote"))
        with contextlib.suppress(DomainError, LookupError):
            client.offer_tick(name, hub.tick_now(name), at_once=False)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
        await websocket.close(code=code, reason=reason[:120])
