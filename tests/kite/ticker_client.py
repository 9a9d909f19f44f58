"""Run the official ``KiteTicker`` against a server, in its own process (Twisted's reactor
runs once per process): ``python -m tests.kite.ticker_client ROOT API_KEY ACCESS_TOKEN MODE
SECONDS TOKEN...``. Prints ``connected`` once subscribed, then one JSON line with what it
received: ticks, order updates, errors and how it closed."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from kiteconnect import KiteTicker
from twisted.internet import reactor as twisted_reactor

#: Twisted's global reactor, untyped here (its interfaces are zope's, not mypy's).
reactor: Any = twisted_reactor


def main(argv: list[str]) -> None:
    """Connect, subscribe, collect for the given seconds, print what came, stop."""
    root, api_key, access_token, mode, seconds = argv[:5]
    tokens = [int(t) for t in argv[5:]]
    got: dict[str, Any] = {"ticks": [], "orders": [], "errors": [], "closed": None}
    ticker = KiteTicker(api_key, access_token, root=root, reconnect=False)
    lock = threading.Lock()

    def on_connect(ws: KiteTicker, response: Any) -> None:
        ws.subscribe(tokens)
        ws.set_mode(mode, tokens)
        print("connected", flush=True)

    def on_ticks(ws: KiteTicker, ticks: list[dict[str, Any]]) -> None:
        with lock:
            got["ticks"].extend(ticks)

    def on_order_update(ws: KiteTicker, data: dict[str, Any]) -> None:
        got["orders"].append(data)

    def on_error(ws: KiteTicker, code: Any, reason: Any) -> None:
        got["errors"].append([code, str(reason)])

    def on_close(ws: KiteTicker, code: Any, reason: Any) -> None:
        got["closed"] = [code, str(reason)]

    def finish() -> None:
        print(json.dumps(got, default=str), flush=True)
        reactor.stop()

    ticker.on_connect = on_connect
    ticker.on_ticks = on_ticks
    ticker.on_order_update = on_order_update
    ticker.on_error = on_error
    ticker.on_close = on_close
    reactor.callLater(float(seconds), finish)
    ticker.connect()


if __name__ == "__main__":
    main(sys.argv[1:])
