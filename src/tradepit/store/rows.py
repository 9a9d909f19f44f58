"""Writing and reading rows without the ORM's unit of work and query machinery.

A flush costs a few hundred microseconds even for one row, an ORM query about as much, and a
MARKET order used to flush three times (the order, its fill, its position). On the hot path a
row is written with one prebuilt INSERT or UPDATE instead, and the session's copy of the row
takes the written values as loaded: there is nothing left for a flush to do. Rows are read
with a prebuilt SELECT into the session's objects (``load``, ``get``), so the rest of the
code, which uses the ORM, sees the same objects.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar, cast

from sqlalchemy import Insert, Select, Table, Update, bindparam, insert, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from tradepit.store.base import Base
from tradepit.store.db import run, touch, transaction_cache

M = TypeVar("M", bound=Base)


async def add(session: AsyncSession, row: Base) -> None:
    """Insert a new (transient) ``row`` and make it the session's persistent copy: every
    column is written, as set on the row or else its default; the id is the database's."""
    table = _table(row)
    values: dict[str, Any] = {}
    for column in table.columns:
        if column.primary_key:
            continue
        if column.key not in row.__dict__:
            setattr(row, column.key, _default(table, column.key))
        values[column.key] = row.__dict__[column.key]
    touch(session, values.get("user_id"))
    row.id = (await run(session, _insert(table), values))[0][0]  # type: ignore[attr-defined]
    make_transient_to_detached(row)
    session.add(row)
    _hold(session, row)


async def write(session: AsyncSession, row: Base, **values: Any) -> None:
    """Write ``values`` to the columns of the persistent ``row`` with one UPDATE by id; the
    session's copy takes them as loaded."""
    statement = _update(_table(row), tuple(sorted(values)))
    params = {f"new_{name}": value for name, value in values.items()}
    touch(session, getattr(row, "user_id", None))
    await run(session, statement, {"row_id": row.id, **params})  # type: ignore[attr-defined]
    for name, value in values.items():
        set_committed_value(row, name, value)


async def load(
    session: AsyncSession, model: type[M], statement: Select[Any], params: dict[str, Any]
) -> list[M]:
    """Return the rows of ``model`` that ``statement`` (``every_column(model)`` filtered)
    finds, as the session's persistent objects. As with an ORM query: rows added to the
    session and not yet written are written first; an object already in the session is
    returned as it is there, its expired attributes (after a rollback) loaded again."""
    if session.new:
        await session.flush()
    keys = _table_of(model).c.keys()
    found: list[M] = []
    for values in await run(session, statement, params):
        known = session.identity_map.get(identity_key(model, values[0]))
        if known is None:
            known = model(**dict(zip(keys, values, strict=True)))
            make_transient_to_detached(known)
            session.add(known)
            _hold(session, known)
        else:
            expired = inspect(known).expired_attributes
            for key, value in zip(keys, values, strict=True):
                if key in expired:
                    set_committed_value(known, key, value)
        found.append(known)
    return found


def in_session(session: AsyncSession, model: type[M], row_id: int) -> M | None:
    """Return the session's copy of the ``model`` row with id ``row_id``, if it has one."""
    known: M | None = session.identity_map.get(identity_key(model, row_id))
    return known


async def get(session: AsyncSession, model: type[M], row_id: int) -> M | None:
    """Return the ``model`` row with id ``row_id``: the session's copy if it has one, else
    loaded as ``load`` does."""
    known = in_session(session, model, row_id)
    if known is not None and not inspect(known).expired_attributes:
        return known
    found = await load(session, model, _by_id(_table_of(model)), {"row_id": row_id})
    return found[0] if found else None


def _hold(session: AsyncSession, row: Base) -> None:
    """Keep ``row`` until the transaction ends: the session's identity map only holds weak
    references, so a row nobody holds any more would be read again by the next ``get``."""
    transaction_cache(session, "rows").setdefault(identity_key(instance=row), row)


def every_column(model: type[Base]) -> Select[Any]:
    """Return a SELECT of all of ``model``'s columns, id first, for ``load``."""
    return select(*_table_of(model).c)


def _default(table: Table, name: str) -> Any:
    default: Any = table.c[name].default
    if default is None:
        return None
    if not default.is_scalar:
        raise ValueError(f"set {table.name}.{name}: its default is not a constant")
    return default.arg


def _table(row: Base) -> Table:
    return _table_of(type(row))


def _table_of(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


@functools.cache
def _by_id(table: Table) -> Select[Any]:
    return select(*table.c).where(table.c.id == bindparam("row_id"))  # as every_column


@functools.cache
def _insert(table: Table) -> Insert:
    return insert(table).returning(table.c.id)


@functools.cache
def _update(table: Table, columns: tuple[str, ...]) -> Update:
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({name: bindparam(f"new_{name}", type_=table.c[name].type) for name in columns})
    )
