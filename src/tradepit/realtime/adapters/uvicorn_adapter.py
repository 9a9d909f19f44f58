"""uvicorn's ``websockets-sansio`` connection, written to directly (the ``/ws`` and Socket.IO
fast path; ``docs/decisions.md``, "Library adapters").

Everything here reads uvicorn's ``WebSocketsSansIOProtocol`` (a non-public module) and the
``websockets`` ``ServerProtocol`` it wraps: the transport, its write flow control and the
connection state. Nothing else in Tradepit does. ``internals()`` tells whether the installed
uvicorn and websockets are the pinned ones and have the shape used here; when they are not,
``Wire.of`` gives no wire and the gateways send every message as the ASGI ``websocket.send``
it is (the public path: the same bytes on the wire, framed per client).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import socket
from typing import Any

import uvicorn
from starlette.types import Receive, Scope, Send
from websockets.protocol import State
from websockets.server import ServerProtocol

from tradepit.libraries import Internals, Pin, check_internals, require

_Protocol: type[Any] | None
try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import (
        WebSocketsSansIOProtocol as _Protocol,
    )
    from uvicorn.server import ServerState
except ImportError:  # moved or gone: the probe reports it, the public path runs
    _Protocol = None

LIBRARY = "uvicorn"
#: What the code below was written against: pyproject.toml's pins, exactly.
PINS = (Pin("uvicorn", "0.54.0"), Pin("websockets", "17.4"))
#: The kernel's send buffer of a websocket connection (Linux doubles it), and the most its
#: transport holds beyond that before it counts as unwritable: ample for live ticks (2 frames
#: per 50 ms here), small enough that a client that stops reading is conflated soon.
SEND_BUFFER = 32 * 1024
WRITE_HIGH_WATER = 16 * 1024


async def _no_app(scope: Scope, receive: Receive, send: Send) -> None:  # pragma: no cover
    """The app of the probe's throw-away protocol (never called)."""


def probe() -> None:
    """Build a connection the way uvicorn's server does and look at what ``Wire`` uses."""
    require(_Protocol is not None, "uvicorn.protocols...websockets_sansio_impl is gone")
    assert _Protocol is not None
    require(inspect.iscoroutinefunction(_Protocol.send), "protocol.send is not a coroutine")
    for hook in ("pause_writing", "resume_writing", "connection_lost"):
        require(callable(getattr(_Protocol, hook, None)), f"protocol.{hook} is gone")
    config = uvicorn.Config(
        _no_app, ws="websockets-sansio", ws_per_message_deflate=False, log_config=None
    )
    config.load()
    loop = asyncio.new_event_loop()
    try:
        protocol = _Protocol(config, ServerState(), {}, _loop=loop)
    finally:
        loop.close()
    require(isinstance(protocol.writable, asyncio.Event), "protocol.writable is no Event")
    require(protocol.writable.is_set(), "protocol.writable starts cleared")
    require(hasattr(protocol, "transport"), "protocol.transport is gone")
    for flag in ("handshake_complete", "close_sent", "disconnected"):
        require(getattr(protocol, flag, None) is False, f"protocol.{flag} is not a flag")
    conn = getattr(protocol, "conn", None)
    require(isinstance(conn, ServerProtocol), "protocol.conn is no websockets ServerProtocol")
    assert isinstance(conn, ServerProtocol)
    require(conn.extensions == [], "conn.extensions is not a list")
    require(isinstance(conn.state, State), "conn.state is no websockets State")
    require(conn.expect_continuation_frame is False, "conn.expect_continuation_frame is gone")


@functools.cache
def internals() -> Internals:
    """Return whether the fast path may run (checked once; a WARNING when it may not)."""
    return check_internals(LIBRARY, PINS, probe)


class Wire:
    """Ready-made frames written straight to a connection of uvicorn's ``websockets-sansio``
    implementation (the one ``tradepit serve`` runs), as ``websockets.broadcast()`` does:
    no ASGI message, no framing per client. Only while the connection is open, negotiated no
    extension (frames are then the same for every client) and its write buffer is below the
    high-water mark; the caller otherwise queues the message for the ordinary ASGI send."""

    __slots__ = ("protocol",)

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol

    @classmethod
    def of(cls, send: Send) -> Wire | None:
        """Return the wire under an ASGI ``send``; None for another server, with
        permessage-deflate negotiated, or when the internals are not the pinned ones."""
        protocol = getattr(send, "__self__", None)
        if _Protocol is None or not isinstance(protocol, _Protocol):
            return None
        if protocol.conn.extensions or not internals().usable:
            return None
        return cls(protocol)

    def limit_buffers(self) -> None:
        """Keep little in flight for this client: a client that stops reading soon makes the
        connection unwritable, and its ticks are then conflated (it gets the latest price when
        it reads again, after at most about ``SEND_BUFFER * 2 + WRITE_HIGH_WATER`` bytes of
        older ones), instead of the kernel buffering megabytes of stale ticks for it."""
        transport = self.protocol.transport
        with contextlib.suppress(OSError, AttributeError):
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        with contextlib.suppress(NotImplementedError, AttributeError):
            transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)

    def ready(self) -> bool:
        """Return True when a frame written now goes out in order without blocking."""
        protocol = self.protocol
        return bool(
            protocol.writable.is_set()
            and protocol.handshake_complete
            and not protocol.close_sent
            and not protocol.disconnected
            and protocol.conn.state is State.OPEN
            and not protocol.conn.expect_continuation_frame
            and not protocol.transport.is_closing()
        )

    async def writable(self) -> None:
        """Wait until the connection's write buffer is below the high-water mark (or it is
        lost: ``write`` then refuses)."""
        await self.protocol.writable.wait()

    def write(self, frame: bytes) -> bool:
        """Write ``frame`` now and return True, or return False when the wire is not ready."""
        if not self.ready():
            return False
        self.protocol.transport.write(frame)
        return True
