"""kiteconnect's ticker, opened with certificate verification (``docs/decisions.md``, "Library
adapters").

``KiteTicker.connect()`` builds its autobahn factory with the private ``_create_connection``
and ``_user_agent``, then opens the TLS connection with Twisted's ``ClientContextFactory``,
which verifies nothing, though the access token travels in the URL. ``open_ticker`` builds the
factory the same way and connects with ``optionsForClientTLS`` (the certificate and the host
name are checked). Those two private methods are the only kiteconnect internals Tradepit uses,
and only here.

When the installed kiteconnect is not the pinned one or its ticker has another shape, a
``ws://`` root (a local stand-in) connects by the public ``KiteTicker.connect()``, and a
``wss://`` root is refused (``UnverifiedTicker``): the public path would send the access token
to a server whose certificate nobody checked.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from autobahn.twisted.websocket import connectWS
from kiteconnect import KiteTicker
from twisted.internet.ssl import optionsForClientTLS

from tradepit.libraries import Internals, Pin, check_internals, require

LIBRARY = "kiteconnect"
#: What the code below was written against: pyproject.toml's pin, exactly.
PINS = (Pin("kiteconnect", "5.2.2"),)
#: The header ``KiteTicker.connect`` sends (Kite's API version).
HEADERS = {"X-Kite-Version": "3"}


class UnverifiedTicker(Exception):
    """The ticker cannot be opened with certificate verification (kiteconnect's internals are
    not the pinned ones) and will not be opened without it."""


def probe() -> None:
    """Build a factory the way ``open_ticker`` does, for a root that is never contacted."""
    create = getattr(KiteTicker, "_create_connection", None)
    user_agent = getattr(KiteTicker, "_user_agent", None)
    require(callable(create), "KiteTicker._create_connection is gone")
    require(callable(user_agent), "KiteTicker._user_agent is gone")
    params = inspect.signature(KiteTicker._create_connection).parameters
    require(list(params)[:2] == ["self", "url"], "KiteTicker._create_connection(url, ...)")
    ticker = KiteTicker("probe", "probe", root="wss://probe.invalid")
    agent = ticker._user_agent()
    require(isinstance(agent, str) and agent, "KiteTicker._user_agent() is no text")
    ticker._create_connection(ticker.socket_url, useragent=agent, proxy=None, headers=HEADERS)
    factory: Any = getattr(ticker, "factory", None)
    require(factory is not None, "KiteTicker._create_connection made no factory")
    require(factory.isSecure is True, "the factory does not see wss:// as secure")
    require(factory.host == "probe.invalid", "the factory's host is not the URL's")
    require(callable(getattr(factory, "clientConnectionFailed", None)), "no clientConnectionFailed")
    require(isinstance(ticker.connect_timeout, int | float), "KiteTicker.connect_timeout is gone")


@functools.cache
def internals() -> Internals:
    """Return whether the verified path may run (checked once; a WARNING when it may not)."""
    return check_internals(LIBRARY, PINS, probe)


def _on_failure(factory: Any, connection_failed: Callable[[Any, Any], None]) -> None:
    """Call ``connection_failed(connector, reason)`` before the factory's own handler."""
    failed = factory.clientConnectionFailed

    def both(connector: Any, reason: Any) -> None:
        connection_failed(connector, reason)
        failed(connector, reason)

    factory.clientConnectionFailed = both


def open_ticker(ticker: Any, connection_failed: Callable[[Any, Any], None]) -> None:
    """Open ``ticker``'s connection; call in the reactor thread (which must run).

    ``connection_failed(connector, reason)`` is told of each failed attempt to connect, before
    the ticker's own retry. Raises ``UnverifiedTicker`` for a ``wss://`` root when only the
    public path is left.
    """
    if internals().usable:
        ticker._create_connection(
            ticker.socket_url, useragent=ticker._user_agent(), proxy=None, headers=HEADERS
        )
        factory = ticker.factory
        _on_failure(factory, connection_failed)
        tls = optionsForClientTLS(factory.host) if factory.isSecure else None
        connectWS(factory, contextFactory=tls, timeout=ticker.connect_timeout)
        return
    if urlsplit(str(ticker.socket_url)).scheme == "wss":
        raise UnverifiedTicker(
            f"kiteconnect's ticker is not the pinned one ({internals().problem}): its public "
            "connect would not verify Kite's certificate; install kiteconnect=="
            f"{PINS[0].version}"
        )
    ticker.connect(threaded=True)  # the reactor runs: connect() only opens the connection
    _on_failure(ticker.factory, connection_failed)
