"""The admin side of users: listing, activation, roles, platform stats and the audit log; a
check of the books."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from tradepit.api.deps import MAX_ID, AdminDep, IdPath, SessionDep, SuperadminDep, WiringDep
from tradepit.schemas.books import BooksRead
from tradepit.schemas.users import NO_NUL, AuditRead, RoleChange, UserRead
from tradepit.schemas.wallets import AdjustmentCreate, AdjustmentRead
from tradepit.services import books, users, wallets

router = APIRouter(prefix="/api/admin", tags=["admin"])

ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "Not an administrator (or target outranks the caller)"},
}
TARGET_ERRORS: dict[int | str, dict[str, Any]] = {
    **ADMIN_ERRORS,
    404: {"description": "No such user"},
    409: {"description": "Administrators cannot change their own account"},
}
Page = Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number")]
PageSize = Annotated[int, Query(ge=1, le=200)]


@router.get("/users", summary="List users", responses=ADMIN_ERRORS)
async def list_users(
    caller: AdminDep,
    session: SessionDep,
    q: Annotated[
        str | None,
        Query(max_length=100, pattern=NO_NUL, description="Part of a username or e-mail"),
    ] = None,
    page: Page = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    """Return one page of users, searchable by username or e-mail."""
    found, total = await users.list_users(session, q, page, page_size)
    return {
        "users": [UserRead.model_validate(u) for u in found],
        "total": total,
        "page": page,
        "page_size": page_size,
    }


@router.put("/users/{user_id}/activate", summary="Activate a user", responses=TARGET_ERRORS)
async def activate(
    user_id: IdPath, caller: AdminDep, session: SessionDep, wired: WiringDep
) -> UserRead:
    """Let a deactivated user log in again."""
    return UserRead.model_validate(
        await users.set_active(
            session, wired.identities, wired.wall, wired.bus, caller, user_id, active=True
        )
    )


@router.put("/users/{user_id}/deactivate", summary="Deactivate a user", responses=TARGET_ERRORS)
async def deactivate(
    user_id: IdPath, caller: AdminDep, session: SessionDep, wired: WiringDep
) -> UserRead:
    """Stop a user from logging in; their tokens and API keys stop working at once."""
    return UserRead.model_validate(
        await users.set_active(
            session, wired.identities, wired.wall, wired.bus, caller, user_id, active=False
        )
    )


@router.put(
    "/users/{user_id}/role", summary="Change a user's role (superadmin)", responses=TARGET_ERRORS
)
async def change_role(
    user_id: IdPath, body: RoleChange, caller: SuperadminDep, session: SessionDep, wired: WiringDep
) -> UserRead:
    """Make a user a user, admin or superadmin."""
    return UserRead.model_validate(
        await users.set_role(session, wired.identities, wired.wall, caller, user_id, body.role)
    )


@router.post(
    "/users/{user_id}/wallet-adjustments",
    status_code=201,
    summary="Credit or debit a user's wallet",
    responses={
        **ADMIN_ERRORS,
        404: {"description": "No such user or wallet"},
        409: {"description": "The debit would overdraw the wallet"},
    },
)
async def adjust_wallet(
    user_id: IdPath,
    body: AdjustmentCreate,
    caller: AdminDep,
    session: SessionDep,
    wired: WiringDep,
) -> AdjustmentRead:
    """Post a ledger transaction from the system capital; a negative amount debits. Audited."""
    return await wallets.adjust(session, wired.clock, wired.wall, caller, user_id, body)


@router.get("/stats", summary="Platform statistics", responses=ADMIN_ERRORS)
async def stats(caller: AdminDep, session: SessionDep, wired: WiringDep) -> dict[str, Any]:
    """Return user counts and login figures of the last 24 hours."""
    return await users.stats(session, wired.wall)


@router.get("/audit-log", summary="The audit log", responses=ADMIN_ERRORS)
async def audit_log(
    caller: AdminDep,
    session: SessionDep,
    action: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    actor_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    page: Page = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    """Return audit entries, newest first, filtered by action or actor."""
    entries, total = await users.audit_log(
        session, action=action, actor_id=actor_id, page=page, page_size=page_size
    )
    return {
        "entries": [AuditRead.model_validate(e) for e in entries],
        "total": total,
        "page": page,
        "page_size": page_size,
    }


@router.get("/books", summary="Check the books", responses=ADMIN_ERRORS)
async def check_books(caller: AdminDep, session: SessionDep) -> BooksRead:
    """Check that the ledger sums to zero per currency (and each transaction does), that every
    wallet's balance is the sum of its entries and every position's quantity and charges what
    its fills add up to; list each difference. Read only (`tradepit check` does the same)."""
    return BooksRead.model_validate(await books.check(session))
