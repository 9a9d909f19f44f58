"""Users, their API keys, revoked tokens, login attempts and settings: models and queries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Table,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tradepit.store import rows
from tradepit.store.base import Base
from tradepit.store.db import run
from tradepit.store.types import UTCDateTime


class User(Base):
    """A person who logs in."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(32))
    username_key: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="user")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiKey(Base):
    """A long-lived credential; only its SHA-256 is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RevokedToken(Base):
    """A JWT id that no longer authenticates (logout); kept until the token would expire."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class LoginAttempt(Base):
    """One try to log in, counted per account and per address for lockouts."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username_key: Mapped[str] = mapped_column(String(254), index=True)
    ip: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    outcome: Mapped[str] = mapped_column(String(16))


class IdentityChange(Base):
    """A user's identity changed (role, status, API keys, a logout, a login): every process
    holding identities in memory reloads that user (``services/identities.py``)."""

    __tablename__ = "identity_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class UserSettings(Base):
    """A user's preferences (paper-tournaments' ``user_settings``)."""

    __tablename__ = "user_settings"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    default_product: Mapped[str] = mapped_column(String(8))
    default_quantity: Mapped[int] = mapped_column(Integer)
    watchlist: Mapped[list[str]] = mapped_column(JSON)
    notifications: Mapped[dict[str, Any]] = mapped_column(JSON)
    display: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    """Return the user with this id."""
    return await session.get(User, user_id)


async def find_by_login(session: AsyncSession, key: str) -> User | None:
    """Return the user whose username key or e-mail is ``key`` (lower-case)."""
    stmt = select(User).where(or_(User.username_key == key, User.email == key))
    return (await session.scalars(stmt)).first()


async def username_or_email_taken(
    session: AsyncSession, key: str, email: str | None
) -> tuple[bool, bool]:
    """Tell whether the username key, and the e-mail, are already in use."""
    name_taken = await session.scalar(select(User.id).where(User.username_key == key))
    email_taken = (
        await session.scalar(select(User.id).where(User.email == email)) if email else None
    )
    return name_taken is not None, email_taken is not None


async def search_users(
    session: AsyncSession, query: str | None, offset: int, limit: int
) -> tuple[list[User], int]:
    """Return one page of users matching ``query`` in username or e-mail, and the total."""
    stmt = select(User)
    if query:
        # autoescape: '%' and '_' in the query match themselves, not any text.
        part = query.lower()
        stmt = stmt.where(
            or_(
                User.username_key.contains(part, autoescape=True),
                User.email.contains(part, autoescape=True),
            )
        )
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = await session.scalars(stmt.order_by(User.id).offset(offset).limit(limit))
    return list(rows), total


async def count_users(session: AsyncSession) -> dict[str, int]:
    """Return counts of users in total, active, and per role."""
    total = await session.scalar(select(func.count(User.id))) or 0
    active = await session.scalar(select(func.count(User.id)).where(User.is_active)) or 0
    per_role = dict(
        (await session.execute(select(User.role, func.count(User.id)).group_by(User.role))).all()
    )
    return {
        "total": total,
        "active": active,
        **{f"role_{role}": int(n) for role, n in per_role.items()},
    }


async def token_holder(session: AsyncSession, user_id: int, jti: str) -> tuple[User | None, bool]:
    """Return the user a token names (None: no such user) and whether the token was revoked.
    A user already in the session (an earlier order of a group commit) is not read again."""
    user = await rows.get(session, User, user_id)
    if user is None:
        return None, False
    return user, bool(await run(session, _REVOKED, {"jti": jti}))


_REVOKED = select(RevokedToken.jti).where(RevokedToken.jti == bindparam("jti"))


async def recent_attempts(
    session: AsyncSession,
    *,
    since: datetime,
    username_key: str | None = None,
    ip: str | None = None,
    outcome: str = "failure",
) -> list[datetime]:
    """Return when attempts with ``outcome`` happened since ``since``, for an account or IP."""
    stmt = select(LoginAttempt.at).where(LoginAttempt.at >= since, LoginAttempt.outcome == outcome)
    if username_key is not None:
        stmt = stmt.where(LoginAttempt.username_key == username_key)
    if ip is not None:
        stmt = stmt.where(LoginAttempt.ip == ip)
    return list(await session.scalars(stmt))


async def last_success(
    session: AsyncSession, username_key: str, *, ip: str | None = None
) -> datetime | None:
    """Return the time of the account's last successful login (from ``ip``, when given)."""
    stmt = select(func.max(LoginAttempt.at)).where(
        LoginAttempt.username_key == username_key, LoginAttempt.outcome == "success"
    )
    if ip is not None:
        stmt = stmt.where(LoginAttempt.ip == ip)
    return await session.scalar(stmt)


async def count_attempts(session: AsyncSession, since: datetime) -> dict[str, int]:
    """Return the number of login attempts per outcome since ``since``."""
    stmt = (
        select(LoginAttempt.outcome, func.count(LoginAttempt.id))
        .where(LoginAttempt.at >= since)
        .group_by(LoginAttempt.outcome)
    )
    return {outcome: int(n) for outcome, n in (await session.execute(stmt)).all()}


async def find_api_key(session: AsyncSession, key_hash: str) -> ApiKey | None:
    """Return the live API key with this hash."""
    stmt = select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    return (await session.scalars(stmt)).first()


async def list_api_keys(session: AsyncSession, user_id: int) -> list[ApiKey]:
    """Return a user's API keys, newest first."""
    stmt = select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.id.desc())
    return list(await session.scalars(stmt))


async def get_settings(session: AsyncSession, user_id: int) -> UserSettings | None:
    """Return a user's settings row."""
    return await session.get(UserSettings, user_id)


async def live_api_keys(session: AsyncSession, user_id: int) -> list[ApiKey]:
    """Return a user's API keys that are not revoked."""
    stmt = select(ApiKey).where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
    return list(await session.scalars(stmt))


async def revoked_jtis(session: AsyncSession, user_id: int, now: datetime) -> set[str]:
    """Return the ids of a user's revoked tokens that have not expired yet."""
    stmt = select(RevokedToken.jti).where(
        RevokedToken.user_id == user_id, RevokedToken.expires_at > now
    )
    return set(await session.scalars(stmt))


def record_identity_change(session: AsyncSession, user_id: int, now: datetime) -> None:
    """Note in the transaction that ``user_id``'s identity changed."""
    session.add(IdentityChange(user_id=user_id, changed_at=now))


async def identity_changes(session: AsyncSession, after: int) -> list[tuple[int, int]]:
    """Return ``(change id, user id)`` of the changes after ``after``, oldest first."""
    stmt = (
        select(IdentityChange.id, IdentityChange.user_id)
        .where(IdentityChange.id > after)
        .order_by(IdentityChange.id)
    )
    return [(change, user) for change, user in (await session.execute(stmt)).all()]


async def last_identity_change(session: AsyncSession) -> int:
    """Return the id of the newest identity change (0: none)."""
    return await session.scalar(select(func.max(IdentityChange.id))) or 0


async def forget_identity_changes(session: AsyncSession, before: datetime) -> None:
    """Delete the identity changes older than ``before``."""
    await session.execute(delete(IdentityChange).where(IdentityChange.changed_at < before))


async def note_api_key_use(session: AsyncSession, used: dict[int, datetime]) -> None:
    """Record when each API key in ``used`` was last used."""
    if used:
        table = ApiKey.__table__
        assert isinstance(table, Table)
        stmt = update(table).where(table.c.id == bindparam("key_id"))
        connection = await session.connection()  # Core executemany, not an ORM bulk update
        await connection.execute(
            stmt.values(last_used_at=bindparam("used_at")),
            [{"key_id": key, "used_at": at} for key, at in used.items()],
        )
