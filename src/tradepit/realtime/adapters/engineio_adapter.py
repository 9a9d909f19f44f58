"""Engine.IO under python-socketio, reached past python-socketio's API (the Socket.IO fast path;
``docs/decisions.md``, "Library adapters").

What this module uses of python-engineio, and nothing else in Tradepit does: its private table
of async drivers (``AsyncServer._async``), to install a websocket driver that registers each
connection's wire; the driver's contract (``engineio.async_drivers.asgi.WebSocket``, its
``handler`` bound to the ``AsyncSocket``); the sockets' queues and upgrade flags
(``AsyncServer.sockets``, ``socket.queue``, ``upgraded``, ``upgrading``, ``closed``). And the
python-socketio pieces that lead to them: the server's ``eio``, the manager's Engine.IO session
id of a client, and Socket.IO's packet encoder (a packet is encoded once for every client
instead of once per client by ``emit``).

``internals()`` tells whether the installed versions are the pinned ones and have that shape;
when they are not, ``EngineAccess.install`` gives nothing and the gateway uses python-socketio's
public API only (``emit`` to each client, no look at Engine.IO's queues).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import inspect
from collections.abc import Callable
from typing import Any

import engineio
import socketio

from tradepit.libraries import Internals, Pin, check_internals, require
from tradepit.realtime.adapters.uvicorn_adapter import Wire

engineio_asgi: Any = None
AsyncSocket: Any = None
with contextlib.suppress(ImportError, AttributeError):  # else the probe says what is gone
    engineio_asgi = importlib.import_module("engineio.async_drivers.asgi")
    AsyncSocket = importlib.import_module("engineio.async_socket").AsyncSocket

LIBRARY = "python-engineio"
#: What the code below was written against: pyproject.toml's pins, exactly.
PINS = (Pin("python-engineio", "4.15.1"), Pin("python-socketio", "5.18.1"))


def probe() -> None:
    """Build a server and a socket the way python-socketio does and look at what is used."""
    require(engineio_asgi is not None, "engineio.async_drivers.asgi is gone")
    require(AsyncSocket is not None, "engineio.async_socket.AsyncSocket is gone")
    sio = socketio.AsyncServer(async_mode="asgi", logger=False, engineio_logger=False)
    eio = getattr(sio, "eio", None)
    require(isinstance(eio, engineio.AsyncServer), "sio.eio is no engineio.AsyncServer")
    drivers = getattr(eio, "_async", None)
    require(isinstance(drivers, dict), "eio._async is no table of drivers")
    assert isinstance(drivers, dict)
    driver = drivers.get("websocket")
    require(driver is engineio_asgi.WebSocket, "eio._async['websocket'] is not asgi.WebSocket")
    init = list(inspect.signature(engineio_asgi.WebSocket.__init__).parameters)
    require(init == ["self", "handler", "server"], f"asgi.WebSocket({', '.join(init[1:])})")
    for method in ("__call__", "send", "wait", "close"):
        found = getattr(engineio_asgi.WebSocket, method, None)
        require(inspect.iscoroutinefunction(found), f"asgi.WebSocket.{method} is no coroutine")
    require(isinstance(getattr(eio, "sockets", None), dict), "eio.sockets is no dict")
    require(inspect.iscoroutinefunction(getattr(eio, "send", None)), "eio.send is gone")
    socket = AsyncSocket(eio, "probe")
    require(isinstance(socket.queue, asyncio.Queue), "socket.queue is no asyncio.Queue")
    for flag in ("upgraded", "upgrading", "closed"):
        require(getattr(socket, flag, None) is False, f"socket.{flag} is not a flag")
    ws = engineio_asgi.WebSocket(socket._websocket_handler, eio)
    require(getattr(ws.handler, "__self__", None) is socket, "the driver's handler is unbound")
    for name in ("asgi_receive", "asgi_send"):
        require(hasattr(ws, name), f"asgi.WebSocket.{name} is gone")
    eio_sid_from_sid = getattr(sio.manager, "eio_sid_from_sid", None)
    require(callable(eio_sid_from_sid), "sio.manager.eio_sid_from_sid is gone")
    encoded = socketio.packet.Packet(socketio.packet.EVENT, data=["e", {"a": 1}]).encode()
    require(encoded == '2["e",{"a":1}]', f"Socket.IO encodes an event as {encoded!r}")


@functools.cache
def internals() -> Internals:
    """Return whether the fast path may run (checked once; a WARNING when it may not)."""
    return check_internals(LIBRARY, PINS, probe)


class Link:
    """One Engine.IO websocket connection: its wire, and the ticks handed to Engine.IO for it
    that Engine.IO has not written yet."""

    def __init__(self, socket: Any, wire: Wire | None) -> None:
        self.socket = socket
        self.wire = wire
        self.pending = 0
        self.drained = asyncio.Event()
        self.drained.set()

    def handed(self) -> None:
        """Note one tick given to Engine.IO's queue."""
        self.pending += 1
        self.drained.clear()

    def written(self) -> None:
        """Note that Engine.IO wrote one of them."""
        self.pending = max(0, self.pending - 1)
        if not self.pending:
            self.drained.set()

    def clear(self) -> bool:
        """Return True when a frame written now keeps the order of packets: nothing of ours
        still in Engine.IO's hands, nothing of Engine.IO's queued, the websocket in use."""
        socket = self.socket
        return bool(
            self.wire is not None
            and not self.pending
            and socket.upgraded
            and not socket.upgrading
            and not socket.closed
            and socket.queue.empty()
        )

    def write(self, frame: bytes) -> bool:
        """Write a frame now, only when that keeps the order of packets and the connection
        takes it without blocking."""
        return self.clear() and self.wire is not None and self.wire.write(frame)

    async def write_all(self, frames: list[bytes]) -> bool:
        """Write a batch of frames at once, once the connection can take them; False (nothing
        written) when Engine.IO must send them to keep the order of packets."""
        if self.wire is None:
            return False
        await self.wire.writable()
        return self.write(b"".join(frames))


def _websocket_driver(
    links: dict[str, Link], counted: Callable[[str | bytes], bool], raw_send: str
) -> type[engineio_asgi.WebSocket]:
    """Return Engine.IO's ASGI websocket driver that registers each connection's ``Link``
    (by Engine.IO session id) and counts the packets Engine.IO writes that ``counted``
    picks (the ticks)."""

    class WebSocket(engineio_asgi.WebSocket):  # type: ignore[misc]
        link: Link | None = None

        async def __call__(self, environ: dict[str, Any]) -> str:
            # The server's own send when the gateway passed it on (Starlette's exception
            # wrapper serves HTTP responses; it only slows a websocket's every message).
            send = environ["asgi.scope"].get(raw_send) or environ["asgi.send"]
            self.asgi_receive = environ["asgi.receive"]
            self.asgi_send = send
            socket = getattr(self.handler, "__self__", None)
            if socket is not None:
                wire = Wire.of(send)
                if wire is not None:
                    wire.limit_buffers()
                self.link = links[socket.sid] = Link(socket, wire)
            try:
                await self.asgi_send({"type": "websocket.accept"})
                await self.handler(self)
            finally:
                if socket is not None and links.get(socket.sid) is self.link:
                    del links[socket.sid]
            return ""

        async def send(self, message: str | bytes) -> None:
            await super().send(message)
            if self.link is not None and counted(message):
                self.link.written()

    return WebSocket


class EngineAccess:
    """Engine.IO under one python-socketio server: each websocket connection's ``Link``, a
    client's Engine.IO session, packets encoded once and handed to Engine.IO as they are, and
    how many packets Engine.IO still holds for a client."""

    def __init__(
        self, sio: socketio.AsyncServer, counted: Callable[[str | bytes], bool], raw_send: str
    ) -> None:
        self.sio = sio
        self.eio: Any = sio.eio
        #: Websocket connections by Engine.IO session id.
        self.links: dict[str, Link] = {}
        drivers = dict(self.eio._async)
        drivers["websocket"] = _websocket_driver(self.links, counted, raw_send)
        self.eio._async = drivers

    @classmethod
    def install(
        cls, sio: socketio.AsyncServer, counted: Callable[[str | bytes], bool], raw_send: str
    ) -> EngineAccess | None:
        """Install the websocket driver on ``sio``'s Engine.IO and return the access; None
        (nothing installed) when the internals are not the pinned ones.

        ``counted`` picks the packets whose writing ``Link.written`` notes; ``raw_send`` is
        the ASGI scope's key of the server's own ``send``, when the app put it there."""
        return cls(sio, counted, raw_send) if internals().usable else None

    def eio_sid(self, sid: str, namespace: str) -> str | None:
        """Return the Engine.IO session of the Socket.IO client ``sid``."""
        found = self.sio.manager.eio_sid_from_sid(sid, namespace)
        return str(found) if found is not None else None

    def link(self, eio_sid: str | None) -> Link | None:
        """Return the websocket connection of an Engine.IO session, None before the upgrade
        or on polling."""
        return self.links.get(eio_sid) if eio_sid is not None else None

    @staticmethod
    def packet(event: str, data: Any) -> str:
        """Return the Socket.IO packet of ``event`` with ``data`` (namespace ``/``)."""
        encoded = socketio.packet.Packet(socketio.packet.EVENT, data=[event, data]).encode()
        return str(encoded)

    async def send(self, eio_sid: str, packet: str) -> None:
        """Hand an encoded packet to Engine.IO for one session."""
        await self.eio.send(eio_sid, packet)

    def backlog(self, eio_sid: str | None) -> int:
        """Return the packets Engine.IO still holds for a session (0 once it is gone)."""
        socket = self.eio.sockets.get(eio_sid) if eio_sid is not None else None
        return int(socket.queue.qsize()) if socket is not None else 0
