"""paper-tournaments' wallet, and the ledger behind every balance."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from tradepit.api.deps import CallerDep, SessionDep, TradingDep
from tradepit.api.examples import example
from tradepit.schemas.wallets import LEDGER, WALLETS, Currency, LedgerPage, WalletRead
from tradepit.services import wallets

router = APIRouter(prefix="/api/paper-trading", tags=["paper trading"])

ERRORS: dict[int | str, dict[str, Any]] = {401: {"description": "Not logged in"}}


@router.get("/wallet", summary="My wallets", responses={**ERRORS, 200: example(WALLETS)})
async def wallet(caller: CallerDep, trading: TradingDep) -> list[WalletRead]:
    """Return cash, blocked (open-order holds and margin) and available money per currency."""
    return await wallets.wallets_of(trading, caller.user.id)


@router.get("/ledger", summary="My ledger entries", responses={**ERRORS, 200: example(LEDGER)})
async def ledger(
    caller: CallerDep,
    session: SessionDep,
    currency: Currency | None = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> LedgerPage:
    """Return the postings to my wallets, newest first; each shows the balance after it."""
    entries, total = await wallets.ledger_page(
        session, caller.user.id, currency=currency, page=page, limit=limit
    )
    return LedgerPage(entries=entries, page=page, limit=limit, total=total)
