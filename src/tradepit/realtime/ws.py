"""The native WebSocket ``/ws`` of paper-tournaments (protocol: ``docs/realtime.md``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.frames import Frame, Opcode

from tradepit.api.deps import Wiring
from tradepit.api.errors import error_response
from tradepit.domain.errors import DomainError, NotAuthenticated
from tradepit.domain.instruments import instrument_token
from tradepit.realtime.adapters.uvicorn_adapter import Wire, internals
from tradepit.services import browser_sessions
from tradepit.services.auth import InvalidToken
from tradepit.services.realtime import (
    Client,
    Hub,
    Outgoing,
    TooManyConnections,
    TooManySubscriptions,
    TooManyUserConnections,
)

PATH = "/ws"
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_LATER = 1013
CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_SLOW = 4408
#: Where a websocket scope keeps the server's own ``send`` (the router wraps the one it
#: passes on): Socket.IO writes its frames through it.
RAW_SEND = "tradepit.send"
#: Longest symbol name accepted in a message.
SYMBOL_MAX = 40
#: Longest room name of the seed frontend's ``join`` / ``leave``.
ROOM_MAX = 100


class BadMessage(DomainError):
    """A client message that is not JSON or not one of the protocol's."""

    code = "BAD_MESSAGE"


def _json(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), default=str)


def _error(code: str, message: str) -> str:
    return _json({"type": "error", "code": code, "message": message})


def _last_seq(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 19:
        return int(value)
    raise BadMessage("last_seq must be a whole number")


async def _credential(websocket: WebSocket, hub: Hub) -> tuple[str, int | None]:
    """Return the token (query, header or first message) and the ``last_seq`` to resume from."""
    query = websocket.query_params
    last_seq = _last_seq(query.get("last_seq"))
    bearer = websocket.headers.get("authorization", "")
    token = (
        query.get("token")
        or query.get("api_key")
        or websocket.headers.get("x-api-key")
        or (bearer[7:] if bearer.lower().startswith("bearer ") else "")
    )
    if token:
        return token, last_seq
    try:
        first = await asyncio.wait_for(websocket.receive_text(), hub.limits.auth_timeout)
    except TimeoutError as exc:
        raise InvalidToken("authentication timed out: send ?token= or an auth message") from exc
    if len(first) > hub.limits.max_message_bytes:
        raise BadMessage("message too large")
    try:
        message = json.loads(first)
    except ValueError as exc:
        raise BadMessage("the first message must be {'type': 'auth', 'token': ...}") from exc
    sent = message.get("token") if isinstance(message, dict) else None
    if not isinstance(sent, str) or not sent:
        raise InvalidToken("authentication required: send {'type': 'auth', 'token': ...}")
    return sent, _last_seq(message.get("last_seq", last_seq))


def text_frame(text: str) -> bytes:
    """Return a server's WebSocket text frame of ``text`` (unmasked, no extension): the same
    bytes for every connection that has no extension."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


def frame_of(message: Outgoing) -> bytes:
    """Return the ``/ws`` frame of ``message``, made once for all the clients that get it."""
    frame: bytes | None = message.encoded.get("ws")
    if frame is None:
        frame = message.encoded["ws"] = text_frame(message.text())
    return frame


@dataclass(frozen=True, slots=True)
class SeedView:
    """A symbol subscribed the paper-tournaments seed's way (``instrument_token`` in the
    message): its ticks go to this client as the seed sends them, ``{"type": "tick", "data":
    {...}}`` (its frontend hands ``data`` to its listeners), named as it subscribed."""

    symbol: str
    token: int


def _seed_view(client: Client, message: Outgoing) -> SeedView | None:
    if not client.views or message.kind != "tick":
        return None
    view = client.views.get(str(message.message.get("symbol")))
    return view if isinstance(view, SeedView) else None


def seed_text(message: Outgoing, view: SeedView) -> str:
    """Return the seed's tick message for ``view``: made once per tick and view."""
    key = f"seed:{view.token}:{view.symbol}"
    text: str | None = message.encoded.get(key)
    if text is None:
        tick = message.message
        stamp = datetime.fromisoformat(str(tick["timestamp"]))
        data = {
            "symbol": view.symbol,
            "instrument_token": view.token,
            "last_price": tick["ltp"],
            "price": tick["ltp"],
            "bid": tick["bid"],
            "ask": tick["ask"],
            "volume": tick["volume"],
            "oi": tick["oi"],
            "change": tick["change"],
            "timestamp": int(stamp.timestamp() * 1000),
        }
        text = message.encoded[key] = _json({"type": "tick", "data": data})
    return text


def frame_for(client: Client, message: Outgoing) -> bytes:
    """Return the frame ``client`` gets for ``message``: the one every client gets, or the
    seed's tick for a symbol it subscribed the seed's way (made once per tick and view)."""
    view = _seed_view(client, message)
    if view is None:
        return frame_of(message)
    key = f"seed-frame:{view.token}:{view.symbol}"
    frame: bytes | None = message.encoded.get(key)
    if frame is None:
        frame = message.encoded[key] = text_frame(seed_text(message, view))
    return frame


def text_for(client: Client, message: Outgoing) -> str:
    """Return the text ``client`` gets for ``message`` (``frame_for``'s, unframed)."""
    view = _seed_view(client, message)
    return message.text() if view is None else seed_text(message, view)


class Gateway:
    """Serve ``/ws`` ahead of the router: every message then goes straight to the server,
    without the exception handlers' wrappers (they serve HTTP routes; this endpoint closes
    with a code instead).

    With ``fast_paths`` (``TRADEPIT_LIBRARY_FAST_PATHS``) and the pinned uvicorn, queued
    messages are written as ready-made frames straight to the connection
    (``adapters/uvicorn_adapter``); otherwise each is an ASGI ``websocket.send``."""

    def __init__(self, app: ASGIApp, fast_paths: bool = True) -> None:
        self.app = app
        self.fast = fast_paths and internals().usable

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == PATH:
            await endpoint(WebSocket(scope, receive, send), send, fast=self.fast)
            return
        if scope["type"] == "websocket":  # Socket.IO's, behind the router's wrappers
            scope[RAW_SEND] = send
        await self.app(scope, receive, send)


def own_page(websocket: WebSocket) -> bool:
    """Tell whether the handshake comes from a page of this server's own origin (the web
    console at ``/``), as Socket.IO accepts it."""
    own = browser_sessions.own_origin(websocket.url.scheme, websocket.headers.get("host"))
    return own is not None and browser_sessions.origin_of(websocket.headers.get("origin")) == own


async def refused_origin(websocket: WebSocket, hub: Hub) -> bool:
    """Refuse the handshake of a page whose ``Origin`` is outside the allow-list (the rule:
    ``Limits.allows_origin``) and not this server's own: HTTP 403 in the API's error shape,
    or a 1008 close from a server that cannot answer a handshake with HTTP. True when
    refused."""
    if hub.limits.allows_origin(websocket.headers.get("origin")) or own_page(websocket):
        return False
    message = "this origin may not open a socket (TRADEPIT_CORS_ORIGINS)"
    try:
        denial = error_response(websocket.url.path, 403, "ORIGIN_NOT_ALLOWED", message)
        await websocket.send_denial_response(denial)
    except RuntimeError:
        await _close(websocket, CLOSE_POLICY, message)
    return True


async def endpoint(websocket: WebSocket, send: Send | None = None, *, fast: bool = False) -> None:
    """Authenticate, then stream ticks, private events and market status to one client
    (``fast``: as frames straight to the server's connection under ``send``, when it can)."""
    wired: Wiring = websocket.app.state.wiring
    hub = wired.hub
    if await refused_origin(websocket, hub):
        return
    await websocket.accept()
    ip = websocket.client.host if websocket.client else "unknown"
    try:
        credential, last_seq = await _credential(websocket, hub)
        caller = await hub.authenticate(credential, ip)
    except NotAuthenticated as exc:
        await _close(websocket, CLOSE_UNAUTHORIZED, exc.message)
        return
    except BadMessage as exc:
        await _close(websocket, CLOSE_POLICY, exc.message)
        return
    except WebSocketDisconnect:
        return
    client = hub.client("ws", caller)
    try:
        current = await hub.attach(client, last_seq)
    except TooManyConnections as exc:
        hub.detach(client)
        await websocket.send_text(_error(exc.code, exc.message))
        mine = isinstance(exc, TooManyUserConnections)  # the user's own doing, not the server's
        await _close(websocket, CLOSE_POLICY if mine else CLOSE_TRY_LATER, exc.message)
        return
    try:
        hello = {"type": "connected", "user_id": caller.user.id, "username": caller.user.username}
        await websocket.send_text(_json({**hello, "last_seq": current}))
        code, reason = await _serve(websocket, send, hub, client, credential, fast)
    except (WebSocketDisconnect, OSError, RuntimeError):
        code, reason = CLOSE_NORMAL, ""
    finally:
        hub.detach(client)
    await _close(websocket, code, reason)


async def _serve(
    websocket: WebSocket,
    send: Send | None,
    hub: Hub,
    client: Client,
    credential: str,
    fast: bool,
) -> tuple[int, str]:
    """Run the reader, the writer and the credential check until one ends; return the close
    code and reason."""
    wire = Wire.of(send) if send is not None and fast else None
    if wire is not None:
        wire.limit_buffers()
        client.direct = lambda message: wire.write(frame_for(client, message))
    tasks = [
        asyncio.create_task(_write(send or websocket.send, client, wire)),
        asyncio.create_task(_read(websocket, hub, client)),
        asyncio.create_task(_recheck(hub, client, credential)),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        client.direct = None
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    finished = done.pop()
    if finished.cancelled() or finished.exception() is not None:
        return CLOSE_NORMAL, ""
    return finished.result()


async def _write(send: Send, client: Client, wire: Wire | None) -> tuple[int, str]:
    """Send what the client's queue holds: as ready-made frames in one write once the
    connection takes them, or else through the ASGI ``send`` itself (Starlette's wrapper adds
    nothing here but time)."""
    while True:
        batch = await client.take()
        if client.closing is not None:
            return CLOSE_TOO_SLOW, client.closing
        if wire is not None:
            await wire.writable()
            if wire.write(b"".join(frame_for(client, message) for message in batch)):
                continue
        for message in batch:
            await send({"type": "websocket.send", "text": text_for(client, message)})


async def _recheck(hub: Hub, client: Client, credential: str) -> tuple[int, str]:
    assert client.caller is not None
    return CLOSE_UNAUTHORIZED, await hub.still_valid(credential, client.caller.ip)


async def _read(websocket: WebSocket, hub: Hub, client: Client) -> tuple[int, str]:
    limits = hub.limits
    #: Subscribe messages answered already on this connection, as sent. The same text again
    #: changes nothing (subscribing is idempotent): it is not answered and not counted against
    #: the message rate. paper-tournaments' frontend re-sends its subscriptions on every
    #: render, and every answer made it render again.
    settled: set[str] = set()
    while True:
        received = await websocket.receive()
        if received["type"] == "websocket.disconnect":
            return CLOSE_NORMAL, ""
        raw = received.get("text")
        if raw is None:
            raw = (received.get("bytes") or b"").decode("utf-8", errors="replace")
        if len(raw) > limits.max_message_bytes:
            await websocket.send_text(_error("MESSAGE_TOO_LARGE", "message too large"))
            return CLOSE_TOO_BIG, "message too large"
        if raw in settled:
            continue
        if not client.allow():
            await websocket.send_text(_error("RATE_LIMITED", "too many messages"))
            return CLOSE_POLICY, "too many messages"
        try:
            reply = await _handle(hub, client, raw)
        except TooManySubscriptions as exc:
            await websocket.send_text(_error(exc.code, exc.message))
            return CLOSE_POLICY, exc.message
        except DomainError as exc:
            reply = {"type": "error", "code": exc.code, "message": exc.message}
        answered = reply.get("type") if reply is not None else None
        if answered == "subscribed" and len(settled) < limits.max_subscriptions:
            settled.add(raw)
        elif answered == "unsubscribed":
            settled.clear()
        if reply is not None:
            await websocket.send_text(_json(reply))


def _symbols(message: dict[str, Any]) -> list[str]:
    found = message.get("symbols", [message.get("symbol")] if "symbol" in message else None)
    if not isinstance(found, list) or not found:
        raise BadMessage("give 'symbol' or a non-empty list 'symbols'")
    if not all(isinstance(s, str) and 0 < len(s) <= SYMBOL_MAX for s in found):
        raise BadMessage(f"symbols are strings of 1 to {SYMBOL_MAX} characters")
    return list(dict.fromkeys(found))


def _wants_tournaments(message: dict[str, Any]) -> bool:
    return "tournament" in message or "tournaments" in message


def _ids(message: dict[str, Any]) -> list[int]:
    found = message.get("tournaments", [message.get("tournament")])
    if not isinstance(found, list) or not found:
        raise BadMessage("give 'tournament' or a non-empty list 'tournaments'")
    if not all(type(i) is int and 0 < i < 2**31 for i in found):
        raise BadMessage("tournament ids are positive integers")
    return list(dict.fromkeys(found))


async def _handle(hub: Hub, client: Client, raw: str) -> dict[str, Any] | None:
    """Answer one client message; a bad one gets an error and the connection stays up."""
    try:
        message = json.loads(raw)
    except ValueError as exc:
        raise BadMessage("messages are JSON objects with a 'type'") from exc
    if not isinstance(message, dict):
        raise BadMessage("messages are JSON objects with a 'type'")
    kind = message.get("type")
    if kind == "ping":
        return {"type": "pong", "timestamp": hub.wall.now().isoformat()}
    if kind == "pong":
        return None
    if kind == "subscribe" and _wants_tournaments(message):
        return {"type": "subscribed", "tournaments": await hub.follow(client, _ids(message))}
    if kind == "unsubscribe" and _wants_tournaments(message):
        return {"type": "unsubscribed", "tournaments": hub.unfollow(client, _ids(message))}
    if kind == "subscribe":
        asked = _symbols(message)
        names = await hub.subscribe(client, asked)
        seed = _seed_subscription(client, message, asked, names)
        for name in names:  # queued: the writer sends them after the answer
            with contextlib.suppress(DomainError, LookupError):
                client.offer_tick(name, hub.tick_now(name), at_once=False)
        return {"type": "subscribed", "symbols": names, **seed}
    if kind == "unsubscribe":
        gone = hub.unsubscribe(client, [_catalogue_name(hub, s) for s in _symbols(message)])
        for name in gone:
            client.views.pop(name, None)
        return {"type": "unsubscribed", "symbols": gone}
    if kind in ("join", "leave"):  # the seed frontend's rooms: no events are sent to rooms
        data = message.get("data")
        room = data.get("room") if isinstance(data, dict) else None
        if not isinstance(room, str) or not 0 < len(room) <= ROOM_MAX:
            raise BadMessage(f"give 'data': {{'room': a name of 1 to {ROOM_MAX} characters}}")
        return {"type": "joined" if kind == "join" else "left", "room": room}
    raise BadMessage("unknown message type: use subscribe, unsubscribe or ping")


def _catalogue_name(hub: Hub, symbol: str) -> str:
    """Return the catalogue's name of ``symbol`` (``NIFTY 50`` is ``NIFTY``); an unknown one
    as it is (nothing is subscribed under it)."""
    try:
        return hub.market.instrument(symbol).symbol
    except DomainError:
        return symbol


def _seed_subscription(
    client: Client, message: dict[str, Any], asked: list[str], names: list[str]
) -> dict[str, Any]:
    """Present the subscribed symbols the seed's way when the message names an
    ``instrument_token`` (its frontend's subscribe), else the way they were (the catalogue's
    ``tick``); return what the seed's answer adds to ``subscribed``."""
    if "instrument_token" not in message:
        for name in names:
            client.views.pop(name, None)
        return {}
    token = message["instrument_token"]
    if token is not None and (type(token) is not int or not 0 <= token < 2**53):
        raise BadMessage("instrument_token is a whole number")
    for given, name in zip(asked, names, strict=True):
        known = token if token is not None and len(names) == 1 else None
        client.views[name] = SeedView(given, instrument_token(name, known))
    first = client.views[names[0]]
    return {
        "symbol": first.symbol,
        "message": f"Subscribed to {first.symbol}",
        "data": {"symbol": first.symbol, "instrument_token": first.token},
    }


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
        await websocket.close(code=code, reason=reason[:120])
