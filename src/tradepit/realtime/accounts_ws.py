"""csv-accounts' WebSocket ``/api/ws``: row locks, row changes and the random numbers.

A token is required (``?token=``, ``Authorization: Bearer``, ``X-API-Key``, or a first
message ``{"type": "auth", "token"}``); the seed's ``?username=`` alone proves nothing.
Client messages: ``{"type": "lock", "index": 0}``, ``{"type": "unlock", "index": 0}``
(``"id"`` instead of ``"index"`` names a row by id), ``{"type": "ping"}``. Server messages:
``lock_status``, ``csv_update``, ``random_number``, ``pong`` and ``error``. Each connection
sees the rows of its user's table (the desk admin: all), with indexes of that table.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter
from starlette.websockets import WebSocket, WebSocketDisconnect

from tradepit.api.deps import Wiring
from tradepit.bus import Event
from tradepit.domain.errors import DomainError, NotAuthenticated
from tradepit.realtime.ws import refused_origin
from tradepit.services import accounts_table, row_locks
from tradepit.services.broker_accounts import sees_all
from tradepit.services.callers import Caller
from tradepit.services.realtime import TooManyConnections
from tradepit.store.db import commit

CLOSE_POLICY = 1008
CLOSE_UNAUTHORIZED = 4401
AUTH_TIMEOUT = 10.0
MAX_MESSAGE = 4096


router = APIRouter()
log = logging.getLogger(__name__)


def _text(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), default=str)


async def _token(websocket: WebSocket) -> str:
    query = websocket.query_params
    bearer = websocket.headers.get("authorization", "")
    token = (
        query.get("token")
        or query.get("api_key")
        or websocket.headers.get("x-api-key")
        or (bearer[7:] if bearer.lower().startswith("bearer ") else "")
    )
    if token:
        return token
    try:
        first = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT)
        message = json.loads(first[:MAX_MESSAGE])
    except (TimeoutError, ValueError) as exc:
        raise NotAuthenticated("send ?token= or a first message {'type': 'auth'}") from exc
    sent = message.get("token") if isinstance(message, dict) else None
    if not isinstance(sent, str) or not sent:
        raise NotAuthenticated("authentication required: a token, not a username")
    return sent


class Desk:
    """One connection: its caller, its view of the table, and what it sends."""

    def __init__(
        self, websocket: WebSocket, wired: Wiring, caller: Caller, credential: str
    ) -> None:
        self.websocket = websocket
        self.wired = wired
        self.caller = caller
        self.credential = credential
        #: Row id → index in this caller's table.
        self.indexes: dict[int, int] = {}
        #: Rows this connection locked; released when it closes.
        self.held: set[int] = set()

    async def refresh(self) -> None:
        """Reload which rows the caller sees, and their indexes."""
        async with self.wired.sessionmaker() as session:
            rows = await accounts_table.view(session, self.caller)
        self.indexes = {account.id: i for i, (account, _) in enumerate(rows)}

    def locks(self, locks: list[dict[str, Any]]) -> dict[str, Any]:
        """Return ``lock_status`` for the rows this caller sees."""
        shown = [
            {**lock, "index": self.indexes[lock["id"]]}
            for lock in locks
            if lock["id"] in self.indexes
        ]
        return {"type": "lock_status", "locks": shown}

    async def outgoing(self, event: Event) -> dict[str, Any] | None:
        """Return what this caller receives of a bus event, or None."""
        kind = event.get("type")
        if kind == "lock_status":
            return self.locks(event["locks"])
        if kind == "csv_update":
            row = event["row"]
            if not (sees_all(self.caller) or row["user_id"] == self.caller.user.id):
                return None
            before = self.indexes.get(row["id"])
            await self.refresh()
            index = self.indexes.get(row["id"], before)
            return {"type": "csv_update", "action": event["action"], "index": index, "row": row}
        return event

    async def handle(self, raw: str) -> dict[str, Any] | None:
        """Answer one client message."""
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            return {"type": "error", "message": "messages are JSON objects with a 'type'"}
        kind = message.get("type")
        if kind == "ping":
            return {"type": "pong", "timestamp": self.wired.wall.now().isoformat()}
        if kind not in ("lock", "unlock"):
            return {"type": "error", "message": "unknown type: use lock, unlock or ping"}
        by_id = "id" in message
        ref = message.get("id" if by_id else "index")
        if not isinstance(ref, int) or isinstance(ref, bool) or not 0 <= ref < 2**31:
            return {"type": "error", "message": "give the row's 'index' (or 'id')"}
        try:
            await self._lock(kind, ref, by_id)
        except NotAuthenticated:
            raise
        except DomainError as exc:
            return {"type": "error", "code": exc.code, "message": exc.message}
        return None

    async def _lock(self, kind: str, ref: int, by_id: bool) -> None:
        w = self.wired
        # A revoked token, or a deactivated user, is never granted a lock (NotAuthenticated
        # closes the connection).
        await w.hub.authenticate(self.credential, self.caller.ip)
        async with w.sessionmaker() as session:
            _, account = await accounts_table.row_at(session, self.caller, ref, by_id=by_id)
            change = row_locks.lock if kind == "lock" else row_locks.unlock
            await change(session, w.wall, w.bus, self.caller, account)
            await commit(session)
        if kind == "lock":
            self.held.add(account.id)
        else:
            self.held.discard(account.id)

    async def release(self) -> None:
        """Release the locks this connection holds (it is closing)."""
        if not self.held:
            return
        w = self.wired
        async with w.sessionmaker() as session:
            await row_locks.release_all(session, w.wall, w.bus, self.caller.user.id, self.held)
            await commit(session)
        self.held.clear()

    async def hello(self) -> None:
        """Send the current locks."""
        await self.refresh()
        async with self.wired.sessionmaker() as session:
            locks = await row_locks.status(session, self.wired.wall)
        await self.websocket.send_text(_text(self.locks(locks)))


@router.websocket("/api/ws")
async def endpoint(websocket: WebSocket) -> None:
    """Authenticate, then relay lock, row and random-number events and take lock requests."""
    wired: Wiring = websocket.app.state.wiring
    if await refused_origin(websocket, wired.hub):
        return
    await websocket.accept()
    ip = websocket.client.host if websocket.client else "unknown"
    try:
        credential = await _token(websocket)
        caller = await wired.hub.authenticate(credential, ip)
    except NotAuthenticated as exc:
        await _close(websocket, CLOSE_UNAUTHORIZED, exc.message)
        return
    except WebSocketDisconnect:
        return
    try:  # counts against the user's cap of open sockets, with /ws and Socket.IO
        wired.hub.take_slot(caller.user.id)
    except TooManyConnections as exc:
        await _close(websocket, CLOSE_POLICY, exc.message)
        return
    desk = Desk(websocket, wired, caller, credential)
    subscription = wired.bus.subscribe(row_locks.TOPIC)
    code, reason = 1000, ""
    try:
        await desk.hello()
        code, reason = await _serve(desk, subscription)
    except NotAuthenticated as exc:
        code, reason = CLOSE_UNAUTHORIZED, exc.message
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass
    finally:
        wired.hub.free_slot(caller.user.id)
        subscription.close()
        try:
            await desk.release()
        except Exception as exc:  # the database away: the locks expire on their own
            log.warning("releasing a closed connection's row locks failed: %r", exc)
    await _close(websocket, code, reason)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
        await websocket.close(code=code, reason=reason[:120])


async def _serve(desk: Desk, subscription: Any) -> tuple[int, str]:
    """Serve the connection until it ends; return the close code and reason."""

    async def pump() -> None:
        while True:
            message = await desk.outgoing(await subscription.get())
            if message is not None:
                await desk.websocket.send_text(_text(message))

    async def read() -> tuple[int, str]:
        while True:
            raw = await desk.websocket.receive_text()
            if len(raw) > MAX_MESSAGE:
                return CLOSE_POLICY, "message too large"
            reply = await desk.handle(raw)
            if reply is not None:
                await desk.websocket.send_text(_text(reply))

    async def recheck() -> tuple[int, str]:
        return CLOSE_UNAUTHORIZED, await desk.wired.hub.still_valid(desk.credential, desk.caller.ip)

    tasks = [asyncio.create_task(c) for c in (pump(), read(), recheck())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    ended = done.pop()
    if ended.cancelled() or ended.exception() is not None:
        error = None if ended.cancelled() else ended.exception()
        if isinstance(error, NotAuthenticated):
            return CLOSE_UNAUTHORIZED, error.message
        return 1000, ""
    result = ended.result()
    return result if result is not None else (1000, "")
