"""The admin side of market data: the feed's state and Kite's daily login."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, StringConstraints

from tradepit.api.deps import AdminDep, SessionDep, WiringDep
from tradepit.services import feeds

router = APIRouter(prefix="/api/admin/feeds", tags=["admin"])

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Kite not configured, or Kite refused the request token"},
    401: {"description": "Not logged in"},
    403: {"description": "Not an administrator"},
}


class KiteSessionCreate(BaseModel):
    """The request token Kite appended to the redirect URL after the operator logged in."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"request_token": "Xy12abCD34efGH56"}]}
    )
    request_token: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9]{6,64}$")
    ]


@router.get("", summary="The market feed's state", responses=ERRORS)
async def state(caller: AdminDep, wired: WiringDep) -> dict[str, Any]:
    """Return which feed runs, its status, tick count and last tick time."""
    return feeds.feed_state(wired.feeds)


@router.get("/kite/login-url", summary="Kite login URL", responses=ERRORS)
async def kite_login_url(caller: AdminDep, wired: WiringDep) -> dict[str, str]:
    """Return the URL where the operator logs in to Kite (once a day: tokens expire 06:00 IST)."""
    return {"login_url": feeds.kite_login_url(wired.kite)}


@router.post("/kite/session", summary="Store today's Kite session", responses=ERRORS)
async def kite_session(
    body: KiteSessionCreate, caller: AdminDep, session: SessionDep, wired: WiringDep
) -> dict[str, Any]:
    """Trade the request token for an access token, store it encrypted, restart the Kite feed."""
    row = await feeds.renew_kite_session(
        session,
        wired.wall,
        caller,
        wired.sealer,
        wired.kite,
        body.request_token,
        on_token=wired.on_kite_token,
    )
    return {"success": True, "account": row.account, "expires_at": row.expires_at}
