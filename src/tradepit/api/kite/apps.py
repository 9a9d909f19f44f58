"""Kite Connect apps: ``/api/kite/apps`` (Tradepit's JSON API and error shape)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from tradepit.api.deps import CallerDep, IdPath, SessionDep, WiringDep
from tradepit.api.examples import example
from tradepit.schemas.kite import KiteAppCreate, KiteAppCreated, KiteAppRead
from tradepit.services.kite import apps

router = APIRouter(prefix="/api/kite/apps", tags=["kite connect"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    404: {"description": "No such app of yours"},
    422: {"description": "Invalid name or URL"},
}
APP: dict[str, Any] = {
    "id": 1,
    "name": "my bot",
    "api_key": "3f1c0d2e9a8b7c6d5e4f3a2b1c0d9e8f",
    "redirect_url": "http://127.0.0.1:5000/kite/callback",
    "postback_url": None,
    "login_url": "/kite/connect/login?api_key=3f1c0d2e9a8b7c6d5e4f3a2b1c0d9e8f&v=3",
    "created_at": "2026-12-07T06:30:00Z",
}
APP_CREATED: dict[str, Any] = {**APP, "api_secret": "9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b"}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a Kite Connect app",
    responses={**ERRORS, 201: example(APP_CREATED)},
)
async def create_app(
    body: KiteAppCreate, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> KiteAppCreated:
    """Create an app for a Kite Connect bot: its ``api_key``, and its ``api_secret``, shown
    only in this answer and stored encrypted. A login at ``login_url`` returns to
    ``redirect_url`` with a request token (``docs/kite.md``)."""
    return await apps.create(session, wired.sealer, wired.wall, caller, body)


@router.get("", summary="My Kite Connect apps", responses={**ERRORS, 200: example([APP])})
async def list_apps(caller: CallerDep, session: SessionDep) -> list[KiteAppRead]:
    """Return my apps (their secrets are never shown again)."""
    return await apps.list_apps(session, caller)


@router.delete(
    "/{app_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a Kite Connect app",
    responses=ERRORS,
)
async def delete_app(
    app_id: IdPath, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> Response:
    """Delete one of my apps: its key and every session opened with it stop working."""
    await apps.delete(session, wired.wall, caller, app_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
