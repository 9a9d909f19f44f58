"""Rows written and read without the unit of work behave as the ORM's own would: durable, the
session's single copy of each row, nothing left pending, nothing stale after a rollback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tradepit.store import rows
from tradepit.store.db import before_commit, commit, create_engine, create_sessionmaker
from tradepit.store.users import User

NOW = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
BY_KEY = rows.every_column(User).where(User.username_key == bindparam("key"))


@pytest.fixture
async def sessions(db: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(db)
    yield create_sessionmaker(engine)
    await engine.dispose()


def someone(name: str) -> User:
    return User(username=name, username_key=name, password_hash="x", created_at=NOW)


async def test_added_and_written_rows_are_durable_and_leave_nothing_to_flush(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        user = someone("ada")
        await rows.add(session, user)
        await rows.write(session, user, username="Ada", last_login_at=NOW)
        assert user.id > 0
        assert user.role == "user"  # the column's default, written and known
        assert not session.new and not session.dirty
        assert await rows.get(session, User, user.id) is user
        await commit(session)
    async with sessions() as session:
        stored = await session.scalar(select(User).where(User.id == user.id))
    assert stored is not None
    assert (stored.username, stored.last_login_at, stored.role) == ("Ada", NOW, "user")


async def test_load_writes_rows_added_but_not_yet_written_first(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        pending = someone("bo")
        session.add(pending)
        assert await rows.load(session, User, BY_KEY, {"key": "bo"}) == [pending]
        assert await rows.load(session, User, BY_KEY, {"key": "nobody"}) == []


async def test_a_row_expired_by_a_rollback_is_read_again(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        user = someone("cy")
        await rows.add(session, user)
        user_id = user.id
        savepoint = await session.begin_nested()
        user.username = "changed"
        await session.flush()
        await savepoint.rollback()  # the change is gone, and the attribute expired
        again = await rows.get(session, User, user_id)
        assert again is user
        assert again.username == "cy"
        loaded = await rows.load(session, User, BY_KEY, {"key": "cy"})
        assert loaded == [user]


async def test_a_plain_commit_with_work_waiting_for_the_commit_is_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Work that must run inside the transaction before it commits (the event outbox) would be
    lost by ``session.commit()``: it is refused, and nothing of the transaction is kept."""
    ran: list[str] = []

    async def prepare() -> None:
        ran.append("prepared")

    async with sessions() as session:
        await rows.add(session, someone("grace"))
        before_commit(session, prepare)
        with pytest.raises(RuntimeError, match=r"use store\.db\.commit"):
            await session.commit()
    async with sessions() as session:
        assert (await rows.load(session, User, BY_KEY, {"key": "grace"})) == []
        await rows.add(session, someone("grace"))
        before_commit(session, prepare)
        await commit(session)
    assert ran == ["prepared"]
    async with sessions() as session:
        assert len(await rows.load(session, User, BY_KEY, {"key": "grace"})) == 1
