"""Structured JSON logs, each line with the request id it belongs to."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from pythonjsonlogger.json import JsonFormatter


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


def configure(level: str, request_id: Callable[[], str]) -> None:
    """Send JSON lines to stderr for our loggers and uvicorn's."""
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
    logging.getLogger("uvicorn.error").addFilter(_HideQueryString())
