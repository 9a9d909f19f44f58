"""Socket.IO ``/socket.io``: okx-bets' balance events and smd-options' market events.

Events and payloads: ``docs/realtime.md``. Every client has the same bounded queue as a native
``/ws`` client (``services/realtime.Client``), fed by the same bus, so the transports cannot
drift; across workers the bus carries the events (python-socketio's own Redis manager is not
used: one mechanism, not two).

A client's messages reach it by one of two paths. The fast one (the default, with the pinned
python-socketio and python-engineio: ``adapters/engineio_adapter``) encodes a message once for
every client, hands it to Engine.IO as it is or writes its frame straight to the websocket, and
paces the client by what Engine.IO still holds for it. The public one
(``TRADEPIT_LIBRARY_FAST_PATHS=0``, or other versions) ``emit``s each message to each client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import date
from typing import Any

import socketio
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradepit.domain.errors import DomainError, NotAuthenticated
from tradepit.realtime.adapters.engineio_adapter import EngineAccess
from tradepit.realtime.ws import RAW_SEND, text_frame
from tradepit.services import browser_sessions, market, wallets
from tradepit.services.callers import Caller
from tradepit.services.realtime import Client, Hub, Outgoing, TooManyConnections

#: Engine.IO packets waiting for one client beyond which its writer waits (ticks conflate).
BACKLOG = 64
NAMESPACE = "/"
#: How a tick's Engine.IO packet begins (MESSAGE, then Socket.IO's EVENT in namespace "/").
TICK_PACKET = '42["symbol_update",'


def _is_tick(packet: str | bytes) -> bool:
    """Tell whether an Engine.IO packet is a tick (``symbol_update``)."""
    return isinstance(packet, str) and packet.startswith(TICK_PACKET)


def _app_cors_only(app: ASGIApp) -> ASGIApp:
    """Drop the ``Access-Control-*`` headers Engine.IO adds to its HTTP answers once it checks
    origins: the app's CORS middleware adds its own, and two ``Access-Control-Allow-Origin``
    headers (Engine.IO's are not lower case, so the middleware cannot replace them) make a
    browser refuse the answer."""

    async def served(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def without_own_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                kept = [(k, v) for k, v in headers if not k.lower().startswith(b"access-control-")]
                message = {**message, "headers": kept}
            await send(message)

        await app(scope, receive, without_own_cors)

    return served


class BadRequest(DomainError):
    """A Socket.IO event with missing or malformed data."""

    code = "VALIDATION_ERROR"


def _text(data: object, key: str, longest: int = 40) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, str) or not 0 < len(value) <= longest:
        raise BadRequest(f"'{key}' is required: a string of 1 to {longest} characters")
    return value


def _expiry(data: object) -> date | None:
    value = data.get("expiry") if isinstance(data, dict) else None
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise BadRequest("'expiry' must be a date YYYY-MM-DD") from exc


def _payload(message: Outgoing) -> dict[str, Any]:
    return {k: v for k, v in message.message.items() if k != "type"}


class SocketIOGateway:
    """The Socket.IO server's event handlers, one ``Client`` per connection."""

    def __init__(self, hub: Hub, max_message_bytes: int, fast_paths: bool = True) -> None:
        self.hub = hub
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            # Engine.IO refuses a handshake (polling or websocket) whose Origin the gateways'
            # one rule refuses, unless it is this server's own (``_allows_origin``); no Origin
            # (a bot, a server) passes. The CORS headers of its answers are the app's CORS
            # middleware's alone (``_app_cors_only``).
            cors_allowed_origins=self._allows_origin,
            max_http_buffer_size=max_message_bytes,
            logger=False,
            engineio_logger=False,
        )
        self.clients: dict[str, Client] = {}
        self.writers: dict[str, asyncio.Task[None]] = {}
        #: Engine.IO past python-socketio's API (the fast path); None on the public path.
        self.engine = EngineAccess.install(self.sio, _is_tick, RAW_SEND) if fast_paths else None
        handlers = {
            "connect": self.connect,
            "disconnect": self.disconnect,
            "subscribe_symbol": self.subscribe_symbol,
            "unsubscribe_symbol": self.unsubscribe_symbol,
            "get_option_chain": self.get_option_chain,
            "get_dashboard_data": self.get_dashboard_data,
            "request_balance": self.request_balance,
            "ping": self.ping,
        }
        for event, handler in handlers.items():
            self.sio.on(event, handler)

    async def close(self) -> None:
        """Stop Engine.IO's background task (its ping checks; started with the first
        connection): it would otherwise outlive the app, and keep it."""
        await self.sio.shutdown()

    def asgi(self) -> ASGIApp:
        """Return the ASGI app to mount at ``/socket.io``."""
        return _app_cors_only(socketio.ASGIApp(self.sio, socketio_path="socket.io"))

    def _allows_origin(self, origin: str | None, environ: dict[str, Any]) -> bool:
        """Tell whether a handshake from a page of ``origin`` may go on: the gateways' one
        rule, or a page of this server's own origin (okx-bets' page, served with the API,
        calls ``io()`` on its own origin)."""
        if self.hub.limits.allows_origin(origin):
            return True
        scope = environ.get("asgi.scope") or {}
        own = browser_sessions.own_origin(str(scope.get("scheme", "")), environ.get("HTTP_HOST"))
        return own is not None and browser_sessions.origin_of(origin) == own

    async def _cookie_caller(self, environ: dict[str, Any], ip: str) -> tuple[Caller, str] | None:
        """Return the caller the handshake's session cookie proves, with its token; None when
        it has none or a stale one (the page then connects without a login, as with none)."""
        cookies = cookie_parser(str(environ.get("HTTP_COOKIE", "")))
        token = cookies.get(browser_sessions.SESSION_COOKIE)
        if not token:
            return None
        try:
            return await self.hub.authenticate(token, ip), token
        except NotAuthenticated:
            return None

    async def connect(self, sid: str, environ: dict[str, Any], auth: object = None) -> None:
        """Authenticate with the ``auth`` payload's token, else the handshake's session cookie
        (okx-bets' page sends no token); optional for market data. With ``last_seq`` too,
        first deliver the private events numbered after it."""
        given = auth if isinstance(auth, dict) else {}
        token = given.get("token") or given.get("api_key")
        caller = None
        ip = str(environ.get("REMOTE_ADDR", "unknown"))
        if isinstance(token, str) and token:
            try:
                caller = await self.hub.authenticate(token, ip)
            except NotAuthenticated as exc:
                raise socketio.exceptions.ConnectionRefusedError(
                    {"code": exc.code, "message": exc.message}
                ) from exc
        elif (found := await self._cookie_caller(environ, ip)) is not None:
            caller, token = found
        elif not self.hub.limits.public_market_data:
            raise socketio.exceptions.ConnectionRefusedError(
                {"code": "NOT_AUTHENTICATED", "message": "send your token in the auth payload"}
            )
        client = self.hub.client("socketio", caller)
        last_seq = given.get("last_seq")
        resume = last_seq if type(last_seq) is int and last_seq >= 0 else None
        try:
            await self.hub.attach(client, resume)
        except TooManyConnections as exc:
            self.hub.detach(client)
            raise socketio.exceptions.ConnectionRefusedError(
                {"code": exc.code, "message": exc.message}
            ) from exc
        self.clients[sid] = client
        status = {
            "type": "connection_status",
            "status": "connected",
            "message": "Connected to Tradepit",
            "sid": sid,
            "client_id": sid,
            "authenticated": caller is not None,
            "username": caller.user.username if caller else None,
            "timestamp": self.hub.wall.now().isoformat(),
        }
        client.offer(Outgoing(status))
        if self.engine is not None:
            client.direct = self._direct(self.engine, sid, client)
        self.writers[sid] = asyncio.create_task(
            self._serve(sid, client, token if caller else None), name=f"sio:{sid}"
        )

    async def disconnect(self, sid: str, reason: object = None) -> None:
        """Forget the connection."""
        client = self.clients.pop(sid, None)
        writer = self.writers.pop(sid, None)
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()
        if client is not None:
            self.hub.detach(client)

    async def _serve(self, sid: str, client: Client, credential: str | None) -> None:
        """Write to the client until it goes, or its token stops being valid."""
        if credential is None or client.caller is None:
            await self._write(sid, client)
            return
        writer = asyncio.create_task(self._write(sid, client))
        check = asyncio.create_task(self.hub.still_valid(credential, client.caller.ip))
        try:
            await asyncio.wait([writer, check], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (writer, check):
                task.cancel()
        if check.done() and not check.cancelled() and check.exception() is None:
            await self._error(sid, "INVALID_TOKEN", check.result())
            await self.sio.disconnect(sid)

    def _direct(self, engine: EngineAccess, sid: str, client: Client) -> Callable[[Outgoing], bool]:
        """Return the client's immediate write of a tick: its frame (made once per tick) goes
        straight to the websocket when nothing of the client's waits in Engine.IO."""
        eio_sid = engine.eio_sid(sid, NAMESPACE)

        def direct(message: Outgoing) -> bool:
            link = engine.link(eio_sid)
            if link is None or link.wire is None:
                return False
            if message.kind != "tick":
                return False
            frame = self._frame(client, message)
            return frame is not None and link.write(frame)

        return direct

    async def _write(self, sid: str, client: Client) -> None:
        """Send the client's queue until it goes or falls too far behind."""
        engine = self.engine
        eio_sid = engine.eio_sid(sid, NAMESPACE) if engine is not None else None
        while True:
            batch = await client.take()
            if client.closing is not None:
                await self._error(sid, "TOO_SLOW", client.closing)
                await self.sio.disconnect(sid)
                return
            if engine is None or eio_sid is None:
                await self._emit(sid, client, batch)
            else:
                await self._hand(engine, eio_sid, client, batch)

    async def _emit(self, sid: str, client: Client, batch: list[Outgoing]) -> None:
        """The public path: ``emit`` each message to the client (python-socketio encodes it
        for this client and queues it in Engine.IO)."""
        for message in batch:
            event = self._event(client, message)
            if event is not None:
                await self.sio.emit(event[0], event[1], to=sid)

    async def _hand(
        self, engine: EngineAccess, eio_sid: str, client: Client, batch: list[Outgoing]
    ) -> None:
        """The fast path: the batch's frames go straight to the websocket when nothing of the
        client's waits in Engine.IO; else each message, encoded once for every client that gets
        it, is handed to Engine.IO as it is (``emit`` would encode it once per client). The
        next batch waits until Engine.IO has written this batch's ticks: meanwhile newer ticks
        are conflated in the client's queue instead of piling up in Engine.IO's."""
        link = engine.link(eio_sid)
        if link is not None and link.clear():
            frames = [self._frame(client, m) for m in batch]
            if await link.write_all([f for f in frames if f is not None]):
                return
        for message in batch:
            packet = self._packet(client, message)
            if packet is None:
                continue
            if link is not None and message.kind == "tick":
                link.handed()
            await engine.send(eio_sid, packet)
        if link is not None:
            await link.drained.wait()
        while engine.backlog(eio_sid) > BACKLOG:  # noqa: ASYNC110 - Engine.IO has no drain event
            await asyncio.sleep(0.02)

    def _frame(self, client: Client, message: Outgoing) -> bytes | None:
        """Return the websocket frame of ``message``'s Engine.IO packet for ``client``."""
        frame: bytes | None = message.encoded.get("socketio-frame")
        if frame is None:
            packet = self._packet(client, message)
            if packet is None:
                return None
            frame = text_frame("4" + packet)
            if message.kind != "balance":  # the same for every client
                message.encoded["socketio-frame"] = frame
        return frame

    def _packet(self, client: Client, message: Outgoing) -> str | None:
        """Return the Socket.IO packet of ``message`` for ``client``, None if it gets none."""
        packet = message.encoded.get("socketio")
        if packet is None:
            event = self._event(client, message)
            if event is None:
                return None
            packet = EngineAccess.packet(*event)
            if message.kind != "balance":  # the same for every client
                message.encoded["socketio"] = packet
        return packet

    def _event(self, client: Client, message: Outgoing) -> tuple[str, dict[str, Any]] | None:
        kind = message.kind
        if kind == "tick":
            return "symbol_update", _payload(message)
        if kind in {"market_status", "connection_status", "subscription_status"}:
            return kind, _payload(message)
        if kind == "bet_result" and client.caller is not None:
            return kind, _payload(message)
        balance = message.message.get("balance")
        if kind == "balance" and client.caller is not None and isinstance(balance, dict):
            if balance.get("currency") != wallets.BET_CURRENCY:
                return None
            name = client.caller.user.username
            update: dict[str, Any] = {"telegram_username": name, "balance": float(balance["cash"])}
            if "seq" in message.message:  # for resuming with last_seq
                update["seq"] = message.message["seq"]
            return "balance_update", update
        return None

    async def _error(self, sid: str, code: str, message: str) -> None:
        await self.sio.emit("error", {"code": code, "message": message}, to=sid)

    async def _guard(self, sid: str) -> Client | None:
        """Return the sender's client, or None after closing it for flooding."""
        client = self.clients.get(sid)
        if client is None:
            return None
        if not client.allow():
            await self._error(sid, "RATE_LIMITED", "too many messages")
            await self.sio.disconnect(sid)
            return None
        return client

    def _subscription(self, client: Client, symbol: str, status: str) -> None:
        """Queue ``subscription_status`` (smd-options' backend's answer to both messages)."""
        now = self.hub.wall.now().isoformat()
        event = {"type": "subscription_status", "symbol": symbol, "status": status}
        client.offer(Outgoing({**event, "timestamp": now}))

    async def _refuse_subscription(self, sid: str, exc: DomainError) -> dict[str, Any]:
        """Send ``error`` and smd-options' ``subscription_error``; return the ack."""
        await self._error(sid, exc.code, exc.message)
        refusal = {"error": exc.message, "code": exc.code}
        await self.sio.emit("subscription_error", refusal, to=sid)
        return {"success": False, "error": exc.code}

    async def subscribe_symbol(self, sid: str, data: object = None) -> dict[str, Any]:
        """Start ``symbol_update`` for ``{"symbol"}``; answer (ack) with the symbol, then
        ``subscription_status``."""
        client = await self._guard(sid)
        if client is None:
            return {"success": False}
        try:
            names = await self.hub.subscribe(client, [_text(data, "symbol")])
        except DomainError as exc:
            return await self._refuse_subscription(sid, exc)
        for name in names:  # queued: the writer sends them after the ack
            self._subscription(client, name, "subscribed")
            with contextlib.suppress(DomainError, LookupError):
                client.offer_tick(name, self.hub.tick_now(name), at_once=False)
        return {"success": True, "symbol": names[0]}

    async def unsubscribe_symbol(self, sid: str, data: object = None) -> dict[str, Any]:
        """Stop ``symbol_update`` for ``{"symbol"}``; ``subscription_status`` follows the ack."""
        client = await self._guard(sid)
        if client is None:
            return {"success": False}
        try:
            symbol = self.hub.market.instrument(_text(data, "symbol")).symbol
        except DomainError as exc:
            return await self._refuse_subscription(sid, exc)
        self.hub.unsubscribe(client, [symbol])
        self._subscription(client, symbol, "unsubscribed")
        return {"success": True, "symbol": symbol}

    async def get_option_chain(self, sid: str, data: object = None) -> None:
        """Answer ``option_chain_data`` for ``{"symbol", "expiry"}``."""
        if await self._guard(sid) is None:
            return
        try:
            chain = market.option_chain(self.hub.market, _text(data, "symbol"), _expiry(data))
        except DomainError as exc:
            await self._error(sid, exc.code, exc.message)
            return
        await self.sio.emit("option_chain_data", chain.model_dump(mode="json"), to=sid)

    async def get_dashboard_data(self, sid: str, data: object = None) -> None:
        """Answer ``dashboard_data`` (PCR, max pain, OI...) for ``{"symbol", "expiry"}``."""
        if await self._guard(sid) is None:
            return
        try:
            metrics = market.dashboard(self.hub.market, _text(data, "symbol"), _expiry(data))
        except DomainError as exc:
            await self._error(sid, exc.code, exc.message)
            return
        await self.sio.emit("dashboard_data", metrics.model_dump(mode="json"), to=sid)

    async def request_balance(self, sid: str, data: object = None) -> None:
        """Answer ``balance_update`` with the caller's own balance; another user's is refused."""
        client = await self._guard(sid)
        if client is None:
            return
        if client.caller is None:
            await self._error(sid, "NOT_AUTHENTICATED", "send your token in the auth payload")
            return
        try:
            balance = await self.hub.bet_balance(client.caller, _text(data, "telegram_username"))
        except DomainError as exc:
            await self._error(sid, exc.code, exc.message)
            return
        await self.sio.emit("balance_update", balance, to=sid)

    async def ping(self, sid: str, data: object = None) -> None:
        """Answer ``pong``."""
        if await self._guard(sid) is not None:
            await self.sio.emit("pong", {"timestamp": self.hub.wall.now().isoformat()}, to=sid)
