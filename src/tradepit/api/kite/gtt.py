"""Kite Connect's GTT routes: ``/gtt/triggers``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from tradepit.api.deps import SessionDep, WiringDep
from tradepit.api.kite.deps import FieldsDep, KiteCallerDep, success
from tradepit.services.kite import gtt

router = APIRouter(include_in_schema=False)

TriggerId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("/gtt/triggers")
async def place(
    fields: FieldsDep, caller: KiteCallerDep, session: SessionDep, wired: WiringDep
) -> JSONResponse:
    """Set a trigger; answer its ``trigger_id``."""
    form = gtt.read_form(wired.market, fields)
    return success(await gtt.create(session, wired.wall, wired.market, caller, form))


@router.get("/gtt/triggers")
async def listed(caller: KiteCallerDep, session: SessionDep, wired: WiringDep) -> JSONResponse:
    """Return my triggers, newest first."""
    return success(await gtt.listed(session, wired.market, caller))


@router.get("/gtt/triggers/{trigger_id}")
async def one(
    trigger_id: TriggerId, caller: KiteCallerDep, session: SessionDep, wired: WiringDep
) -> JSONResponse:
    """Return one of my triggers."""
    return success(await gtt.one(session, wired.market, caller, trigger_id))


@router.put("/gtt/triggers/{trigger_id}")
async def modify(
    trigger_id: TriggerId,
    fields: FieldsDep,
    caller: KiteCallerDep,
    session: SessionDep,
    wired: WiringDep,
) -> JSONResponse:
    """Change an active trigger."""
    form = gtt.read_form(wired.market, fields)
    return success(await gtt.modify(session, wired.wall, wired.market, caller, trigger_id, form))


@router.delete("/gtt/triggers/{trigger_id}")
async def delete(
    trigger_id: TriggerId, caller: KiteCallerDep, session: SessionDep, wired: WiringDep
) -> JSONResponse:
    """Delete a trigger."""
    return success(await gtt.delete(session, wired.wall, caller, trigger_id))
