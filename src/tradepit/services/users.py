"""User settings and the admin side of users: listing, activation, roles, stats, audit log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.bus import Bus
from tradepit.domain.accounts import Role
from tradepit.domain.clock import Clock
from tradepit.domain.errors import Conflict, NotFound, PermissionDenied
from tradepit.schemas.users import SettingsUpdate
from tradepit.services import row_locks
from tradepit.services.callers import Caller
from tradepit.services.identities import Identities
from tradepit.store import audit
from tradepit.store import users as store
from tradepit.store.audit import AuditEntry
from tradepit.store.users import User, UserSettings


class UserNotFound(NotFound):
    """No user has this id."""

    code = "USER_NOT_FOUND"


class CannotChangeSelf(Conflict):
    """An administrator may not deactivate or demote their own account."""

    code = "CANNOT_CHANGE_SELF"


class OutranksCaller(PermissionDenied):
    """The target's role is above what the caller may change."""

    code = "OUTRANKS_CALLER"


async def get_settings(session: AsyncSession, caller: Caller) -> UserSettings:
    """Return the caller's settings."""
    found = await store.get_settings(session, caller.user.id)
    if found is None:  # pragma: no cover - created at sign-up in the same transaction
        raise NotFound("settings not found")
    return found


async def update_settings(
    session: AsyncSession, wall: Clock, caller: Caller, update: SettingsUpdate
) -> UserSettings:
    """Change the fields given in ``update``; nested groups merge with what is stored."""
    current = await get_settings(session, caller)
    changes = update.model_dump(exclude_unset=True, exclude_none=True)
    for name, value in changes.items():
        merged = {**getattr(current, name), **value} if isinstance(value, dict) else value
        setattr(current, name, merged)
    current.updated_at = wall.now()
    audit.record(
        session,
        wall,
        action="settings.update",
        actor_id=caller.user.id,
        actor=caller.user.username,
        target=f"user:{caller.user.id}",
        ip=caller.ip,
        details={"fields": sorted(changes)},
    )
    return current


async def list_users(
    session: AsyncSession, query: str | None, page: int, page_size: int
) -> tuple[list[User], int]:
    """Return one page of users matching ``query``, and the total."""
    return await store.search_users(session, query, (page - 1) * page_size, page_size)


async def _target(session: AsyncSession, caller: Caller, user_id: int) -> User:
    user = await store.get_user(session, user_id)
    if user is None:
        raise UserNotFound(f"user {user_id} not found")
    if user.id == caller.user.id:
        raise CannotChangeSelf("you cannot change your own account's status or role")
    if Role(user.role).rank >= caller.role.rank and caller.role is not Role.SUPERADMIN:
        raise OutranksCaller("only a superadmin may change another administrator")
    return user


async def set_active(
    session: AsyncSession,
    identities: Identities,
    wall: Clock,
    bus: Bus,
    caller: Caller,
    user_id: int,
    *,
    active: bool,
) -> User:
    """Activate or deactivate a user; a deactivated user's tokens stop working and their row
    locks are released at once."""
    user = await _target(session, caller, user_id)
    user.is_active = active
    await identities.changed(session, user.id)
    if not active:
        await row_locks.release_all(session, wall, bus, user.id)
    audit.record(
        session,
        wall,
        action="admin.user.activate" if active else "admin.user.deactivate",
        actor_id=caller.user.id,
        actor=caller.user.username,
        target=f"user:{user.id}",
        ip=caller.ip,
    )
    return user


async def set_role(
    session: AsyncSession,
    identities: Identities,
    wall: Clock,
    caller: Caller,
    user_id: int,
    role: Role,
) -> User:
    """Change a user's role (superadmin only, enforced by the route)."""
    user = await _target(session, caller, user_id)
    before, user.role = user.role, role.value
    await identities.changed(session, user.id)
    audit.record(
        session,
        wall,
        action="admin.user.role",
        actor_id=caller.user.id,
        actor=caller.user.username,
        target=f"user:{user.id}",
        ip=caller.ip,
        details={"from": before, "to": role.value},
    )
    return user


async def stats(session: AsyncSession, wall: Clock) -> dict[str, Any]:
    """Return platform figures for the admin dashboard."""
    now = wall.now()
    users = await store.count_users(session)
    logins = await store.count_attempts(session, now - timedelta(hours=24))
    return {
        "users": users,
        "logins_24h": {
            "success": logins.get("success", 0),
            "failure": logins.get("failure", 0),
            "locked": logins.get("locked", 0),
        },
        "generated_at": now,
    }


async def audit_log(
    session: AsyncSession, *, action: str | None, actor_id: int | None, page: int, page_size: int
) -> tuple[list[AuditEntry], int]:
    """Return one page of the audit log, newest first."""
    return await audit.page(
        session, action=action, actor_id=actor_id, offset=(page - 1) * page_size, limit=page_size
    )
