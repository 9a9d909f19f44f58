"""csv-accounts' WebSocket ``/api/ws``: row locks, row changes and the random numbers.

A token is required (``?token=``, ``Authorization: Bearer``, ``X-API-Key``, the session
cookie ``/api/login`` sets, or a first message ``{"type": "auth", "token"}``);
the seed's ``?username=`` alone proves nothing, and when given it must name the token's user.
Client messages: ``{"type": "lock", "index": 0}``, ``{"type": "unlock", "index": 0}``
(``"id"`` instead of ``"index"`` names a row by id), the seed frontend's ``lock_row`` /
``unlock_row`` / ``verify_lock`` with ``"row_index"``, and ``{"type": "ping"}``. Server
messages: ``lock_status``, ``csv_update``, ``random_number``, ``pong``, ``error`` and, to the
seed's messages, ``lock_confirmation``, ``lock_denied`` and ``lock_restored``. Each connection
sees the rows of its user's table (the desk admin: all), with indexes of that table.

Each message carries Tradepit's shape and the seed's together: a ``lock_status`` has the
snapshot ``locks`` and, when one row's lock changed, that row's ``row_index``, ``status``,
``locked_by``, ``expires_at`` and ``message`` (one message per changed row); a ``csv_update``
has ``action``, ``index`` and ``row`` and the seed's ``data`` (the caller's whole table),
``source`` and ``timestamp``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from starlette.websockets import WebSocket, WebSocketDisconnect

from tradepit.api.deps import Wiring
from tradepit.bus import Event
from tradepit.domain.errors import DomainError, NotAuthenticated
from tradepit.realtime.ws import refused_origin
from tradepit.services import accounts_table, row_locks
from tradepit.services.broker_accounts import sees_all
from tradepit.services.browser_sessions import SESSION_COOKIE
from tradepit.services.callers import Caller
from tradepit.services.realtime import TooManyConnections
from tradepit.services.row_locks import LockCooldown, RowLocked
from tradepit.store.broker_accounts import BrokerAccount
from tradepit.store.db import commit

CLOSE_POLICY = 1008
CLOSE_UNAUTHORIZED = 4401
AUTH_TIMEOUT = 10.0
MAX_MESSAGE = 4096
#: Client messages about one row: Tradepit's, then the seed frontend's.
ROW_MESSAGES = ("lock", "unlock", "lock_row", "unlock_row", "verify_lock")


router = APIRouter()
log = logging.getLogger(__name__)


def _text(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), default=str)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


def _row_ref(message: dict[str, Any]) -> tuple[int, bool] | None:
    """Return the row a message names (``id``, ``index`` or the seed's ``row_index``) and
    whether by id, or None."""
    for key, by_id in (("id", True), ("index", False), ("row_index", False)):
        if key in message:
            value = message[key]
            if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31:
                return value, by_id
            return None
    return None


async def _token(websocket: WebSocket) -> str:
    query = websocket.query_params
    bearer = websocket.headers.get("authorization", "")
    token = (
        query.get("token")
        or query.get("api_key")
        or websocket.headers.get("x-api-key")
        or (bearer[7:] if bearer.lower().startswith("bearer ") else "")
        or websocket.cookies.get(SESSION_COOKIE)
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


def _page_name(websocket: WebSocket, caller: Caller) -> str:
    """Return the name the page calls its user by: the seed's ``?username=`` when it is the
    caller's (in any case), else the caller's username; refuse another user's name."""
    given = websocket.query_params.get("username", "").strip()
    if not given:
        return caller.user.username
    if given.lstrip("@").casefold() != caller.user.username.casefold():
        raise NotAuthenticated("?username= is not the user of this token: log in again")
    return given


class Desk:
    """One connection: its caller, its view of the table, and what it sends."""

    def __init__(
        self, websocket: WebSocket, wired: Wiring, caller: Caller, credential: str, name: str
    ) -> None:
        self.websocket = websocket
        self.wired = wired
        self.caller = caller
        self.credential = credential
        #: The caller's name as the page knows it (the seed compares ``locked_by`` and
        #: ``source`` with what its user typed at login).
        self.name = name
        #: Row id → index in this caller's table.
        self.indexes: dict[int, int] = {}
        #: Row id → the lock this connection last showed of it.
        self.seen: dict[int, dict[str, Any]] = {}
        #: Rows this connection locked → when; kept a while for the page when it closes.
        self.held: dict[int, datetime] = {}

    async def refresh(self) -> list[tuple[BrokerAccount, str]]:
        """Reload which rows the caller sees, and their indexes; return the rows."""
        async with self.wired.sessionmaker() as session:
            rows = await accounts_table.view(session, self.caller)
        self.indexes = {account.id: i for i, (account, _) in enumerate(rows)}
        return rows

    def _who(self, user_id: object, username: str) -> str:
        return self.name if user_id == self.caller.user.id else username

    def _row(
        self, index: int, lock: dict[str, Any] | None, until: str | None = None
    ) -> dict[str, Any]:
        """Return the seed's fields of one row's lock state."""
        if lock is not None:
            who = self._who(lock["user_id"], lock["user"])
            state = {"status": "editing", "locked_by": who, "expires_at": lock["expires_at"]}
            return {"row_index": index, **state, "message": f"{who} is editing this row"}
        if until is not None:
            state = {"status": "cooldown", "locked_by": self.name, "expires_at": until}
            note = "you released this row: you may lock it again at expires_at"
            return {"row_index": index, **state, "message": note}
        state = {"status": "available", "locked_by": None, "expires_at": None}
        return {"row_index": index, **state, "message": "Row is now available for editing"}

    def _shown(self, locks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {**lock, "index": self.indexes[lock["id"]]}
            for lock in locks
            if lock["id"] in self.indexes
        ]

    def locks(
        self, locks: list[dict[str, Any]], cooling: list[dict[str, Any]], *, hello: bool = False
    ) -> list[dict[str, Any]]:
        """Return ``lock_status`` for the rows this caller sees: the snapshot, once per row
        whose lock changed since the last one this connection sent (with that row's seed
        fields; a row the caller just released shows their cooldown), or once alone. The
        first (``hello``) also shows the caller's running cooldowns."""
        shown = self._shown(locks)
        now = {lock["id"]: lock for lock in shown}
        mine = {c["id"]: c["until"] for c in cooling if c["user_id"] == self.caller.user.id}
        changed = [row_id for row_id, lock in now.items() if self.seen.get(row_id) != lock]
        freed = [row_id for row_id in self.seen if row_id not in now]
        if hello:
            freed += [row_id for row_id in mine if row_id not in now]
        self.seen = now
        base = {"type": "lock_status", "locks": shown}
        messages = [{**base, **self._row(now[row_id]["index"], now[row_id])} for row_id in changed]
        messages += [
            {**base, **self._row(self.indexes[row_id], None, mine.get(row_id))}
            for row_id in freed
            if row_id in self.indexes
        ]
        return messages or [base]

    async def outgoing(self, event: Event) -> list[dict[str, Any]]:
        """Return what this caller receives of a bus event."""
        kind = event.get("type")
        if kind == "lock_status":
            return self.locks(event["locks"], event.get("cooldowns", []))
        if kind == "csv_update":
            row = event["row"]
            if not (sees_all(self.caller) or row["user_id"] == self.caller.user.id):
                return []
            before = self.indexes.get(row["id"])
            rows = await self.refresh()
            index = self.indexes.get(row["id"], before)
            data = [
                accounts_table.csv_row(i, account, owner).model_dump(mode="json", by_alias=True)
                for i, (account, owner) in enumerate(rows)
            ]
            source = self._who(event.get("source_id"), event.get("source", ""))
            return [{"type": "csv_update", "action": event["action"], "index": index, "row": row,
                     "data": data, "source": source,
                     "timestamp": self.wired.wall.now().isoformat()}]  # fmt: skip
        return [event]

    async def handle(self, raw: str) -> dict[str, Any] | None:
        """Answer one client message."""
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            return _error("BAD_MESSAGE", "messages are JSON objects with a 'type'")
        kind = message.get("type")
        if kind == "ping":
            return {"type": "pong", "timestamp": self.wired.wall.now().isoformat()}
        if kind not in ROW_MESSAGES:
            return _error("BAD_MESSAGE", f"unknown type: use {', '.join(ROW_MESSAGES)} or ping")
        named = _row_ref(message)
        if named is None:
            return _error("BAD_MESSAGE", "give the row's 'index' ('row_index') or 'id'")
        try:
            return await self._act(str(kind), *named)
        except NotAuthenticated:
            raise
        except DomainError as exc:
            if kind == "lock_row":
                sent = message.get("row_index", message.get("index", message.get("id")))
                return {"type": "lock_denied", "row_index": sent, "code": exc.code,
                        "message": exc.message}  # fmt: skip
            return _error(exc.code, exc.message)

    async def _act(self, kind: str, ref: int, by_id: bool) -> dict[str, Any] | None:
        w = self.wired
        # A revoked token, or a deactivated user, is never granted a lock (NotAuthenticated
        # closes the connection).
        await w.hub.authenticate(self.credential, self.caller.ip)
        async with w.sessionmaker() as session:
            index, account = await accounts_table.row_at(session, self.caller, ref, by_id=by_id)
            if kind in ("unlock", "unlock_row"):
                await row_locks.unlock(session, w.wall, w.bus, self.caller, account)
                await commit(session)
                self.held.pop(account.id, None)
                return None
            renewed = account.id in self.held
            try:
                held = await row_locks.lock(session, w.wall, w.bus, self.caller, account)
            except (RowLocked, LockCooldown):
                if kind != "verify_lock":
                    raise
                # The page edits a row it no longer holds: tell it who does (or nobody).
                locks = await row_locks.status(session, w.wall)
                lock = next((lock for lock in locks if lock["id"] == account.id), None)
                return {"type": "lock_status", "locks": self._shown(locks),
                        **self._row(index, lock)}  # fmt: skip
            await commit(session)
        self.held[account.id] = held.acquired_at
        seed = {"row_index": index, "id": account.id, "status": "editing",
                "expires_at": held.expires_at.isoformat()}  # fmt: skip
        if kind == "lock_row":
            done = "refreshed" if renewed else "acquired"
            return {"type": "lock_confirmation", **seed, "message": f"Lock {done} successfully"}
        if kind == "verify_lock":
            return {"type": "lock_restored", **seed, "message": "Your lock has been restored"}
        return None

    async def release(self, code: int) -> None:
        """Let go of the locks this connection holds (it is closing): at once when its token
        was refused, else after ``row_locks.REJOIN_GRACE`` unless the page comes back."""
        if not self.held:
            return
        w = self.wired
        async with w.sessionmaker() as session:
            if code == CLOSE_UNAUTHORIZED:
                user_id = self.caller.user.id
                await row_locks.release_all(session, w.wall, w.bus, user_id, set(self.held))
            else:
                await row_locks.linger(session, w.wall, w.bus, self.caller.user.id, self.held)
            await commit(session)
        self.held.clear()

    async def hello(self) -> None:
        """Send the current locks (and the caller's cooldowns)."""
        await self.refresh()
        w = self.wired
        async with w.sessionmaker() as session:
            locks = await row_locks.status(session, w.wall)
            cooling = await row_locks.cooldowns(session, w.wall, self.caller.user.id)
        for message in self.locks(locks, cooling, hello=True):
            await self.websocket.send_text(_text(message))


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
        name = _page_name(websocket, caller)
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
    desk = Desk(websocket, wired, caller, credential, name)
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
            await desk.release(code)
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
            for message in await desk.outgoing(await subscription.get()):
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
