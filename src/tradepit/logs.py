"""Structured JSON logs, each line with the request id it belongs to.

Everything goes to stderr: Tradepit writes no log file of its own (whatever runs it, journald,
Docker's log driver or a redirect, keeps and rotates the stream; docs/operations.md, Logs).
Which requests get an access line is the :class:`AccessLog` policy's choice.
"""

from __future__ import annotations

import logging
import random
import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

AccessMode = Literal["all", "errors", "sampled", "off"]
#: Health checks and metrics scrapes: polled every few seconds, not worth a line when they pass.
QUIET_PATHS = frozenset({"/health", "/api/health", "/metrics"})


@dataclass(frozen=True)
class AccessLog:
    """Which requests get an access line (``TRADEPIT_ACCESS_LOG``).

    ``all``: every request; ``errors``: answers of 400 and above; ``sampled``: every error and
    a ``sample_rate`` share of the rest; ``off``: none. A request to one of ``quiet_paths``
    that succeeds (below 400) is never logged; its failures follow the mode.
    """

    mode: AccessMode = "all"
    sample_rate: float = 0.01
    quiet_paths: Collection[str] = field(default=QUIET_PATHS)
    chance: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def wants(self, path: str, status: int) -> bool:
        """Tell whether the request to ``path`` answered ``status`` gets an access line."""
        if self.mode == "off":
            return False
        failed = status >= 400
        if not failed and path in self.quiet_paths:
            return False
        if self.mode == "all" or failed:
            return True
        return self.mode == "sampled" and self.chance() < self.sample_rate


class _RequestIdFilter(logging.Filter):
    def __init__(self, current: Callable[[], str]) -> None:
        super().__init__()
        self.current = current

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = self.current()
        return True


class _HideQueryString(logging.Filter):
    """Cut the query string from uvicorn's WebSocket lines: a token may be there."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "WebSocket %s" in str(record.msg) and isinstance(record.args, tuple):
            record.args = tuple(
                a.split("?", 1)[0] if isinstance(a, str) else a for a in record.args
            )
        return True


class _WebSocketAccess(logging.Filter):
    """Apply the access policy to uvicorn's one line per WebSocket handshake (``"WebSocket
    /ws" [accepted]``, ``403``, or another refusal's status): the streams' access lines."""

    def __init__(self, policy: AccessLog) -> None:
        super().__init__()
        self.policy = policy

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if not message.startswith('%s - "WebSocket %s"') or not isinstance(record.args, tuple):
            return True
        path = str(record.args[1]).split("?", 1)[0] if len(record.args) > 1 else ""
        status = 403 if message.endswith(" 403") else 101  # "[accepted]": switching protocols
        if message.endswith("%d") and len(record.args) > 2:
            status = int(str(record.args[2]))
        return self.policy.wants(path, status)


def configure(level: str, request_id: Callable[[], str], access: AccessLog | None = None) -> None:
    """Send JSON lines to stderr for our loggers and uvicorn's; WebSocket handshakes are
    logged as ``access`` says (HTTP access lines are ``api/middleware.RequestContext``'s)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_RequestIdFilter(request_id))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # One line per migration step at every start is noise before the banner; DEBUG keeps it.
    if root.level > logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    uvicorn_error = logging.getLogger("uvicorn.error")
    uvicorn_error.filters = [_WebSocketAccess(access or AccessLog()), _HideQueryString()]
