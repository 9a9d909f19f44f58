"""The current user's settings (paper-tournaments' ``user_settings``)."""

from __future__ import annotations

from fastapi import APIRouter

from tradepit.api.deps import CallerDep, SessionDep, WiringDep
from tradepit.schemas.users import SettingsRead, SettingsUpdate
from tradepit.services import users

router = APIRouter(prefix="/api/users", tags=["users"])


@router.get(
    "/me/settings", summary="My settings", responses={401: {"description": "Not logged in"}}
)
async def get_settings(caller: CallerDep, session: SessionDep) -> SettingsRead:
    """Return the caller's settings (defaults are created at sign-up)."""
    return SettingsRead.model_validate(await users.get_settings(session, caller))


@router.put(
    "/me/settings",
    summary="Change my settings",
    responses={401: {"description": "Not logged in"}, 422: {"description": "Invalid value"}},
)
async def put_settings(
    body: SettingsUpdate, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> SettingsRead:
    """Change the given fields; fields left out, and keys left out of a group, keep their value."""
    return SettingsRead.model_validate(
        await users.update_settings(session, wired.wall, caller, body)
    )
