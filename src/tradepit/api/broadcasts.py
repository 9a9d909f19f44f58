"""mt5-copier's sending and broadcasting of orders (copy trading)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status

from tradepit.api.deps import (
    MAX_ID,
    CallerDep,
    IdPath,
    SessionDep,
    SuperadminDep,
    WiringDep,
)
from tradepit.schemas.broadcasts import (
    BroadcastCreate,
    BroadcastCreated,
    BroadcastStatus,
    BroadcastStatusRead,
    CloseShare,
    SendOrders,
)
from tradepit.services import broadcasts

router = APIRouter(prefix="/api", tags=["copy trading"])

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "No active account matches the targets (NO_TARGETS); send_orders "
        "without accounts and a token that names none (NO_ACCOUNT)"
    },
    401: {"description": "Not logged in"},
    403: {"description": "Broadcasting needs the superadmin role"},
    404: {"description": "Unknown symbol, account or broadcast"},
    409: {"description": "Nothing to close, or an Idempotency-Key reused for another request"},
}


@router.post("/send_orders", summary="Send an order to my accounts", responses=ERRORS)
async def send_orders(
    body: SendOrders,
    response: Response,
    caller: CallerDep,
    session: SessionDep,
    wired: WiringDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=64,
            pattern=r"^[!-~]+$",
            description="Any string of yours (printable ASCII, up to 64): a retry with the "
            "same key and body gets the first answer and sends nothing again; another body "
            "with the key is 409",
        ),
    ] = None,
) -> dict[str, Any]:
    """Size the order for each listed account of mine, or the one my token names (fixed
    lots, or riskPercent of portfolioSize or of the account's balance) and send it through
    its broker now; answer per account."""
    answer, replayed = await broadcasts.send(
        session,
        wired.wall,
        wired.sealer,
        wired.brokers,
        wired.market,
        caller,
        body,
        idempotency_key,
    )
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return answer


@router.post(
    "/broadcast_orders",
    status_code=status.HTTP_201_CREATED,
    summary="Broadcast an order (superadmin)",
    responses=ERRORS,
)
async def broadcast_orders(
    body: BroadcastCreate, caller: SuperadminDep, session: SessionDep, wired: WiringDep
) -> BroadcastCreated:
    """Queue the order for every active account (or the users or accounts listed); the
    queue sends it to each, with retries, and reports progress."""
    return await broadcasts.create(session, wired.wall, wired.market, wired.bus, caller, body)


@router.get("/broadcast_status", summary="Broadcasts and their progress", responses=ERRORS)
async def broadcast_status(
    caller: CallerDep,
    session: SessionDep,
    wired: WiringDep,
    broadcast_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> BroadcastStatusRead:
    """A superadmin sees every broadcast; a user sees their own targets. With mt5-copier's
    statistics of the last 24 hours and the users a broadcast reaches."""
    return await broadcasts.status_report(session, wired.wall, caller, broadcast_id, limit)


@router.post("/broadcasts/{broadcast_id}/retry", summary="Retry failed targets", responses=ERRORS)
async def retry(
    broadcast_id: IdPath, caller: SuperadminDep, session: SessionDep, wired: WiringDep
) -> BroadcastStatus:
    """Queue the broadcast's failed targets again; executed targets are never resent."""
    return await broadcasts.retry(session, wired.wall, wired.bus, caller, broadcast_id)


@router.post(
    "/broadcasts/{broadcast_id}/close",
    status_code=status.HTTP_201_CREATED,
    summary="Close a share of a broadcast",
    responses=ERRORS,
)
async def close(
    broadcast_id: IdPath,
    body: CloseShare,
    caller: SuperadminDep,
    session: SessionDep,
    wired: WiringDep,
) -> BroadcastStatus:
    """Close ``fraction`` of every account's executed lots of the broadcast, proportionally,
    never more than is left of what it opened (409 when nothing is left anywhere)."""
    return await broadcasts.close(
        session, wired.wall, wired.market, wired.bus, caller, broadcast_id, body.fraction
    )
