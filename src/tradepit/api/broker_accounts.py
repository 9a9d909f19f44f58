"""mt5-copier's linked broker accounts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from tradepit.api.deps import CallerDep, IdPath, SessionDep, WiringDep
from tradepit.api.examples import example
from tradepit.schemas.broker_accounts import (
    ACCOUNT_CREATED,
    ACCOUNT_UPDATED,
    ACCOUNTS,
    CONNECTED,
    AccountCreate,
    AccountCreated,
    AccountRead,
    AccountsRead,
    AccountUpdate,
    ConnectRead,
)
from tradepit.services import broker_accounts

router = APIRouter(prefix="/api/accounts", tags=["broker accounts"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    404: {"description": "No such account of yours"},
    409: {"description": "The row is locked by another user (who holds it is in the message)"},
}


@router.get("", summary="My linked accounts", responses={**ERRORS, 200: example(ACCOUNTS)})
async def list_accounts(caller: CallerDep, session: SessionDep) -> AccountsRead:
    """Return my accounts (an admin: everyone's), secrets masked."""
    return AccountsRead(accounts=await broker_accounts.list_accounts(session, caller))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Link an account",
    responses={**ERRORS, 201: example(ACCOUNT_CREATED)},
)
async def create_account(
    body: AccountCreate, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> AccountCreated:
    """Link a broker account; its password and API secrets are stored encrypted and only
    ever shown masked. mt5-copier's MT5 broker company as ``broker`` (``Exness``, beside
    ``login`` and ``server``) links an mt5 account (``mt5:Exness``)."""
    row = await broker_accounts.create(session, wired.wall, wired.sealer, wired.bus, caller, body)
    return AccountCreated(
        **row.model_dump(), message="Account added successfully", account_id=row.id
    )


@router.put(
    "/{account_id}",
    summary="Change an account",
    responses={**ERRORS, 200: example(ACCOUNT_UPDATED)},
)
async def update_account(
    account_id: IdPath,
    body: AccountUpdate,
    caller: CallerDep,
    session: SessionDep,
    wired: WiringDep,
) -> AccountRead:
    """Change the fields given; a secret left out stays, an empty one is removed."""
    return await broker_accounts.update(
        session, wired.wall, wired.sealer, wired.bus, caller, account_id, body
    )


@router.delete(
    "/{account_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an account",
    responses=ERRORS,
)
async def delete_account(
    account_id: IdPath, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> Response:
    """Delete the account (its versions are kept: it can be restored)."""
    await broker_accounts.delete(session, wired.wall, wired.bus, caller, account_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{account_id}/connect",
    summary="Check an account's credentials",
    responses={**ERRORS, 200: example(CONNECTED)},
)
async def connect_account(
    account_id: IdPath, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> ConnectRead:
    """Log in to the broker with the stored credentials; answer connected (with balance and
    equity) or failed with the broker's reason, and a bearer token naming the account when it
    connected (``send_orders`` without ``accounts`` trades it)."""
    return await broker_accounts.connect(
        session, wired.wall, wired.sealer, wired.brokers, wired.auth, caller, account_id
    )
