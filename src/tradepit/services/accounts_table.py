"""csv-accounts' shared table over the linked accounts: rows by index or id, CSV export and
all-or-nothing import, versions and restore, and the random-number stream.

A row's index is its position in the caller's view (their own rows, or every row for the desk
admin), oldest first; ``by_id`` addresses the stable id instead.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tradepit.bus import Bus
from tradepit.domain import csv_cells
from tradepit.domain.clock import Clock
from tradepit.domain.errors import Conflict, NotFound, PermissionDenied
from tradepit.domain.money import as_float
from tradepit.schemas.broker_accounts import (
    SEED_NAMES,
    AccountCreate,
    AccountUpdate,
    CsvChange,
    CsvEntry,
    CsvRow,
    CsvRowAdded,
    CsvRowSaved,
    ImportReport,
    RowErrors,
    VersionRead,
    is_new_secret,
)
from tradepit.services import broker_accounts as accounts
from tradepit.services import row_locks
from tradepit.services.callers import Caller
from tradepit.store import audit
from tradepit.store import broker_accounts as store
from tradepit.store import row_locks as lock_store
from tradepit.store import users as user_store
from tradepit.store.broker_accounts import BrokerAccount
from tradepit.store.crypto import Sealer
from tradepit.store.db import after_commit, commit
from tradepit.store.row_locks import RandomNumber

log = logging.getLogger("tradepit.accounts")

COLUMNS = ["user", "broker", "API_key", "API_secret", "pnl", "margin", "max_risk", "account_name"]
#: Columns an imported file may also use: the seed's CSV header names the secrets so.
SEED_COLUMNS = set(SEED_NAMES.values())
MAX_IMPORT_ROWS = 5000
#: Seconds between two random numbers (csv-accounts broadcasts one every few seconds).
RANDOM_EVERY = 5.0
#: How long stored random numbers are kept.
RANDOM_KEPT = timedelta(days=1)


class RowNotFound(NotFound):
    """No row at this index (or id) in the caller's view."""

    code = "ROW_NOT_FOUND"


class VersionNotFound(NotFound):
    """The row has no such version."""

    code = "VERSION_NOT_FOUND"


class VersionConflict(Conflict):
    """Another user changed the row since the version the client sent."""

    code = "VERSION_CONFLICT"


class RowMoved(Conflict):
    """The index names another row than the id the client sent (the table changed)."""

    code = "ROW_MOVED"


def csv_row(index: int, account: BrokerAccount, owner: str) -> CsvRow:
    """Return the table's view of one account."""
    masks = account.masks or {}
    key, secret = masks.get("api_key", ""), masks.get("api_secret", "")
    return CsvRow(
        index=index,
        id=account.id,
        user=owner,
        broker=account.broker,
        API_key=key,
        API_secret=secret,
        API_key_spaced=key,
        API_secret_spaced=secret,
        pnl=as_float(account.pnl),
        margin=as_float(account.margin),
        max_risk=as_float(account.max_risk),
        account_name=account.account_name,
        version=account.version,
    )


async def view(session: AsyncSession, caller: Caller) -> list[tuple[BrokerAccount, str]]:
    """Return the rows the caller sees, in index order."""
    return await store.visible(session, None if accounts.sees_all(caller) else caller.user.id)


async def fetch(session: AsyncSession, caller: Caller) -> list[CsvRow]:
    """Return the caller's table."""
    return [csv_row(i, a, owner) for i, (a, owner) in enumerate(await view(session, caller))]


async def row_at(
    session: AsyncSession, caller: Caller, ref: int, *, by_id: bool = False
) -> tuple[int, BrokerAccount]:
    """Return the index and account of ``ref`` (an index, or an id with ``by_id``)."""
    rows = await view(session, caller)
    for index, (account, _) in enumerate(rows):
        if (account.id == ref) if by_id else (index == ref):
            locked = await store.get(session, account.id, lock=True)
            assert locked is not None
            return index, locked
    raise RowNotFound(f"no row {'id ' if by_id else ''}{ref} in your table")


async def _owner_id(session: AsyncSession, caller: Caller, name: str) -> int:
    if not name or name.lower() == caller.user.username.lower():
        return caller.user.id
    if not accounts.sees_all(caller):
        raise PermissionDenied("only the desk admin adds rows for other users")
    found = await user_store.find_by_login(session, name.strip().lower())
    if found is None:
        raise RowNotFound(f"no user {name!r}")
    return found.id


def _keep(secret: str) -> str | None:
    """Return a secret to store, or None to keep the stored one (empty or sent back masked)."""
    return secret if is_new_secret(secret) else None


async def add(
    session: AsyncSession, wall: Clock, sealer: Sealer, bus: Bus, caller: Caller, entry: CsvEntry
) -> CsvRowAdded:
    """Add a row; answer it with the caller's whole table after it (as the seed does)."""
    owner = await _owner_id(session, caller, entry.user)
    # ``entry`` is validated; its broker is the table's free text, which AccountCreate (the
    # linked-accounts route's body: adapter names only) would refuse.
    body = AccountCreate.model_construct(
        account_name=entry.account_name or entry.broker or "account",
        broker=entry.broker,
        api_key=_keep(entry.API_key),
        api_secret=_keep(entry.API_secret),
        pnl=entry.pnl,
        margin=entry.margin,
        max_risk=entry.max_risk,
    )
    created = await accounts.create(session, wall, sealer, bus, caller, body, owner)
    table = await fetch(session, caller)
    row = next(row for row in table if row.id == created.id)
    return CsvRowAdded(**dict(row), message="Entry added successfully", data=table)


async def _row_of(session: AsyncSession, caller: Caller, account_id: int) -> CsvRow:
    index, account = await row_at(session, caller, account_id, by_id=True)
    owner = await accounts.owner_name(session, caller, account)
    return csv_row(index, account, owner)


async def change(
    session: AsyncSession,
    wall: Clock,
    sealer: Sealer,
    bus: Bus,
    caller: Caller,
    ref: int,
    entry: CsvChange,
    fields: set[str],
    *,
    by_id: bool = False,
) -> CsvRowSaved:
    """Change the row at ``ref`` (the fields the caller sent); 409 if someone else holds its
    lock, if ``entry.id`` is another row than the one at ``ref``, or if another user changed
    the row since ``entry.version``."""
    _, account = await row_at(session, caller, ref, by_id=by_id)
    await row_locks.check_editable(session, wall, caller, account)
    if "id" in fields and entry.id is not None and entry.id != account.id:
        raise RowMoved(
            f"row {ref} of your table is account {account.id} now, not account {entry.id}: "
            "fetch the table again"
        )
    if "version" in fields and entry.version is not None:
        await _check_version(session, caller, account, entry.version)
    values: dict[str, Any] = {
        name: getattr(entry, name)
        for name in ("broker", "pnl", "margin", "max_risk", "account_name")
        if name in fields and getattr(entry, name) is not None
    }
    for field, name in (("api_key", "API_key"), ("api_secret", "API_secret")):
        if name in fields and _keep(getattr(entry, name)) is not None:
            values[field] = getattr(entry, name)
    if "user" in fields and entry.user:
        account.user_id = await _owner_id(session, caller, entry.user)
    # Validated by CsvChange; the broker is the table's free text (see ``add``).
    body = AccountUpdate.model_construct(set(values), **values)
    await accounts.apply_update(session, wall, sealer, bus, caller, account, body)
    row = await _row_of(session, caller, account.id)
    return CsvRowSaved(**dict(row), message="Entry updated successfully")


async def _check_version(
    session: AsyncSession, caller: Caller, account: BrokerAccount, sent: int
) -> None:
    """Refuse a change based on ``sent`` if another user changed the row since. The caller's
    own later changes do not count: a page that saves a row twice without fetching it again
    (csv-accounts' frontend keeps the row it fetched) does not conflict with itself."""
    if sent == account.version:
        return
    if sent > account.version:
        raise VersionConflict(
            f"account {account.id} is at version {account.version}, not {sent}: fetch it again"
        )
    later = [v for v in await store.versions(session, account.id) if v.version > sent]
    if all(v.changed_by == caller.user.id for v in later):
        return
    raise VersionConflict(
        f"account {account.id} is at version {account.version}: another user changed it since "
        f"version {sent}; fetch it again and repeat your change"
    )


async def remove(
    session: AsyncSession, wall: Clock, bus: Bus, caller: Caller, ref: int, *, by_id: bool = False
) -> None:
    """Delete the row at ``ref``; 409 if someone else holds its lock."""
    _, account = await row_at(session, caller, ref, by_id=by_id)
    await row_locks.check_editable(session, wall, caller, account)
    await accounts.remove(session, wall, bus, caller, account)


def export(rows: list[CsvRow]) -> str:
    """Return the rows as CSV text, secrets masked, safe to open in a spreadsheet: a text cell
    that starts like a formula gets a quote in front, every text cell is quoted, numbers are
    bare (``domain.csv_cells``)."""
    return csv_cells.write(COLUMNS, (row.model_dump() for row in rows))


def _refused(problems: list[csv_cells.Problem]) -> ImportReport:
    return ImportReport(
        success=False,
        imported=0,
        errors=[RowErrors(row=p.row, line=p.line, errors=[str(p)]) for p in problems],
    )


def _errors(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors()]


def _decoded(data: bytes) -> str:
    """Return the file as text (UTF-8, a byte order mark allowed), or raise ``Malformed``."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise csv_cells.Malformed([csv_cells.Problem(0, line, "not UTF-8")]) from exc


async def import_rows(
    session: AsyncSession, wall: Clock, sealer: Sealer, bus: Bus, caller: Caller, data: bytes
) -> ImportReport:
    """Add every row of a CSV file, or none.

    A malformed file (not UTF-8, an unterminated quote, a record with more or fewer cells
    than the header, a repeated or empty column name, an unknown column) is refused as a
    whole with the line of each problem; so is a file with any invalid row (or unknown
    user), with each row's errors. A cell's leading quote in front of ``= + - @``, a tab, a
    carriage return or a quote is the mark the export adds: it is taken off
    (``csv_cells.restore``), so an exported file imports back to the same values.
    """
    try:
        header, records = csv_cells.read(_decoded(data), MAX_IMPORT_ROWS)
    except csv_cells.Malformed as exc:
        return _refused(exc.problems)
    unknown = [name for name in header if name not in COLUMNS and name not in SEED_COLUMNS]
    if unknown:
        return _refused([csv_cells.Problem(0, 1, f"unknown columns {sorted(unknown)}")])
    if "broker" not in header:
        return _refused([csv_cells.Problem(0, 1, "no 'broker' column")])
    entries: list[tuple[int, CsvEntry]] = []
    errors: list[RowErrors] = []
    for record in records:
        if record.row > MAX_IMPORT_ROWS:
            too_many = [f"at most {MAX_IMPORT_ROWS} rows"]
            errors.append(RowErrors(row=record.row, line=record.line, errors=too_many))
            break
        values = {k: csv_cells.restore(v) for k, v in record.values.items() if v != ""}
        try:
            entries.append((record.line, CsvEntry.model_validate(values)))
        except ValidationError as exc:
            errors.append(RowErrors(row=record.row, line=record.line, errors=_errors(exc)))
    if not errors:
        for number, (line, entry) in enumerate(entries, start=1):
            try:
                await _owner_id(session, caller, entry.user)
            except (NotFound, PermissionDenied) as exc:
                errors.append(RowErrors(row=number, line=line, errors=[f"user: {exc.message}"]))
    if errors:
        return ImportReport(success=False, imported=0, errors=errors)
    for _, entry in entries:
        await add(session, wall, sealer, bus, caller, entry)
    return ImportReport(success=True, imported=len(entries), errors=[])


def _masked(snapshot: dict[str, Any]) -> dict[str, object]:
    shown = {k: v for k, v in snapshot.items() if not k.endswith("_sealed") and k != "masks"}
    masks = snapshot.get("masks") or {}
    return {**shown, **{field: masks.get(field) for field in ("password", "api_key", "api_secret")}}


async def history(session: AsyncSession, caller: Caller, account_id: int) -> list[VersionRead]:
    """Return every kept version of an account the caller may see (deleted ones too)."""
    await accounts.owned(session, caller, account_id, deleted=True)
    return [
        VersionRead(
            version=v.version,
            change=v.change,
            changed_by=v.changed_by,
            changed_at=v.changed_at,
            row=_masked(v.snapshot),
        )
        for v in await store.versions(session, account_id)
    ]


async def restore(
    session: AsyncSession, wall: Clock, bus: Bus, caller: Caller, account_id: int, number: int
) -> dict[str, Any]:
    """Put version ``number`` of the account back (undeleting it if it was deleted then)."""
    account = await accounts.owned(session, caller, account_id, deleted=True)
    await row_locks.check_editable(session, wall, caller, account)
    kept = await store.version(session, account_id, number)
    if kept is None:
        raise VersionNotFound(f"account {account_id} has no version {number}")
    store.apply_snapshot(account, kept.snapshot)
    now = wall.now()
    account.version += 1
    account.updated_at = now
    store.add_version(session, account, "restored", caller.user.id, now)
    audit.record(
        session, wall, action="account.restore", actor_id=caller.user.id,
        actor=caller.user.username, target=f"broker_account:{account.id}", ip=caller.ip,
        details={"account_id": account.id, "version": number},
    )  # fmt: skip
    row = accounts.read(account, await accounts.owner_name(session, caller, account))
    accounts.publish(session, bus, "restored", row, caller)
    return row.model_dump(mode="json")


class RandomNumbers:
    """Store a random number every few seconds and broadcast it; expire stale row locks."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        wall: Clock,
        bus: Bus,
        every: float = RANDOM_EVERY,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.wall = wall
        self.bus = bus
        self.every = every

    async def tick(self) -> None:
        """Store and publish one number; publish ``lock_status`` if a lock expired."""
        now = self.wall.now()
        value = Decimal(secrets.randbelow(10_000)) / 100
        async with self.sessionmaker() as session:
            session.add(RandomNumber(timestamp=now, value=value))
            await lock_store.prune_numbers(session, now - RANDOM_KEPT)
            if await lock_store.expire(session, now):
                await row_locks.announce(session, self.wall, self.bus)
            event = {"type": "random_number", "value": float(value), "timestamp": now.isoformat()}
            after_commit(session, lambda: self.bus.publish(row_locks.TOPIC, event))
            await commit(session)

    async def run(self) -> None:
        """Tick until cancelled; a failed tick is logged and the next one tried."""
        while True:
            try:
                await self.tick()
            except Exception:  # the stream must outlive a busy database
                log.exception("random number tick failed")
            await asyncio.sleep(self.every)
