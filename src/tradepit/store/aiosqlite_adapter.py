"""aiosqlite past its public API: statements on the event loop's own thread (the fast path).

Pinned to aiosqlite 0.22.1 (pyproject.toml). ``internals()`` checks the version and probes
the private names used here (``Connection._execute``, ``_conn``, ``_connection``,
``_running``, ``_thread``) once; when either fails it logs one WARNING and ``connect``
returns a plain ``aiosqlite.connect`` connection (every statement on aiosqlite's thread,
the busy timeout on), slower and otherwise the same.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import aiosqlite

from tradepit.libraries import Internals, Pin, check_internals, require

log = logging.getLogger(__name__)

LIBRARY = "aiosqlite"
PINS = (Pin("aiosqlite", "0.22.1"),)
SQLITE_BUSY_TIMEOUT_MS = 5000


def probe() -> None:
    """Build (never start) a connection and look for what ``_InlineConnection`` uses."""
    require(inspect.iscoroutinefunction(aiosqlite.Connection._execute), "Connection._execute")
    connection = aiosqlite.Connection(lambda: sqlite3.connect(":memory:"), iter_chunk_size=64)
    for name in ("_running", "_connection", "_thread"):
        require(hasattr(connection, name), f"Connection.{name} is gone")
    require(isinstance(connection._thread, threading.Thread), "Connection._thread")
    require(isinstance(getattr(aiosqlite.Connection, "_conn", None), property), "Connection._conn")


@functools.cache
def internals() -> Internals:
    """Return whether the fast path may run (checked once; a WARNING when it may not)."""
    return check_internals(LIBRARY, PINS, probe)


def inline_statements() -> bool:
    """Tell whether statements run on the event loop's thread (the fast path)."""
    return internals().usable


def connect(path: str) -> aiosqlite.Connection:
    """Return a connection to the SQLite file ``path`` (awaited by SQLAlchemy to open it)."""

    def connector() -> sqlite3.Connection:
        # No timeout here: the pragmas set the busy timeout (``store.db._sqlite_pragmas``).
        return sqlite3.connect(path, check_same_thread=False)

    if not inline_statements():
        return aiosqlite.Connection(connector, iter_chunk_size=64)
    connection = _InlineConnection(connector)
    connection._thread.daemon = True
    return connection


class _InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection that runs statements on the event loop's own thread.

    aiosqlite sends every statement to its worker thread and back; each return waits for a
    turn of the event loop and a thread switch, so a 20-statement order spent most of its time
    queued behind other requests while holding the only write connection. A SQLite statement
    on a local file takes microseconds, less than that round trip, so statements run inline,
    and so do BEGIN IMMEDIATE and COMMIT when they cannot wait:

    - The connection's busy timeout is 0, so an inline BEGIN IMMEDIATE that meets another
      process's write lock fails at once; it is then retried on the worker thread, which
      waits up to ``SQLITE_BUSY_TIMEOUT_MS`` for the lock while the loop goes on.
    - In WAL mode with ``synchronous=NORMAL`` a COMMIT appends to the WAL without syncing.
      The sync happens at a checkpoint, so automatic checkpoints are off and every
      ``CHECKPOINT_EVERY`` commits a passive checkpoint runs on the worker thread.
    - Closing goes through the worker thread.

    While anything is queued for the thread, the next operations queue behind it: the sqlite3
    connection is never used by two threads at once, even when the awaiting task was cancelled
    and the thread is still finishing its work."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._queued = 0
        self._queued_lock = threading.Lock()
        self._commits = 0
        self._checkpointing: asyncio.Future[Any] | None = None

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        with self._queued_lock:
            inline = self._queued == 0 and fn != self._conn.close
            if not inline:
                self._queued += 1
        if not inline:
            return await self._on_thread(fn, *args, **kwargs)
        if fn == self._conn.commit:
            fn(*args, **kwargs)
            self._commits += 1
            if self._commits % CHECKPOINT_EVERY == 0:
                # Nobody waits for it; the next operations queue behind it on the thread.
                with self._queued_lock:
                    self._queued += 1
                # Held here, or the task could be collected before it ran.
                self._checkpointing = asyncio.ensure_future(
                    self._on_thread(_checkpoint, self._conn)
                )
                self._checkpointing.add_done_callback(_report_checkpoint)
            return None
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if not _begins(fn, args) or "locked" not in str(exc):
                raise
        with self._queued_lock:  # another process holds the write lock: wait on the thread
            self._queued += 1
        return await self._on_thread(_waiting, self._conn, fn, *args, **kwargs)

    async def _on_thread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await super()._execute(self._in_thread, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    def _in_thread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            with self._queued_lock:
                self._queued -= 1


#: Commits between two passive WAL checkpoints (each commit of an order adds a few pages).
CHECKPOINT_EVERY = 200


def _begins(fn: Callable[..., Any], args: tuple[Any, ...]) -> bool:
    name = getattr(fn, "__name__", "")
    return name == "execute" and bool(args) and str(args[0]).lstrip()[:5].upper() == "BEGIN"


def _waiting(
    connection: sqlite3.Connection, fn: Callable[..., Any], *args: Any, **kwargs: Any
) -> Any:
    """Run ``fn`` with the busy timeout on (on the worker thread), then turn it off again."""
    connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    try:
        return fn(*args, **kwargs)
    finally:
        connection.execute("PRAGMA busy_timeout=0")


def _report_checkpoint(done: asyncio.Future[Any]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.warning("WAL checkpoint failed (retried after the next commits): %s", done.exception())


def _checkpoint(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
