"""okx-bets' routes: place a bet, read the balance and the bets, how a bet ended, the
operations history, coin prices and payment methods."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from tradepit.api.deps import CallerDep, SessionDep, WiringDep
from tradepit.api.examples import example
from tradepit.schemas.predictions import (
    BALANCE,
    BET_COMPLETED,
    BET_PLACED,
    BETS,
    COIN_PRICES,
    OPERATIONS,
    PAYMENT_METHOD,
    BalanceRead,
    BetCompleted,
    BetCompletion,
    BetCreate,
    BetPlaced,
    BetsRead,
    CoinPricesRead,
    OperationsRead,
    PaymentMethodRead,
    PaymentMethodsRead,
)
from tradepit.schemas.users import NO_NUL
from tradepit.services import predictions

router = APIRouter(prefix="/api", tags=["predictions"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "Not the caller's telegram handle"},
}


@router.post(
    "/bet",
    status_code=status.HTTP_201_CREATED,
    summary="Place a bet (okx-bets)",
    responses={
        **ERRORS,
        400: {
            "description": "Amount or time out of range, unknown symbol, market closed, "
            "insufficient balance"
        },
        201: example(BET_PLACED),
        200: example(
            BET_PLACED,
            description="A retry: the bet first placed with this client_bet_id",
            model=BetPlaced,
        ),
        409: {"description": "client_bet_id used before for a different bet"},
        422: {"description": "Malformed body"},
    },
)
async def place_bet(
    body: BetCreate, response: Response, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> BetPlaced:
    """Stake ``amount`` USDT that the price of ``symbol`` (default BTC-USDT) is higher
    (``long``) or lower (``short``) in ``time`` minutes. The stake is debited at once; a win
    pays the payout ratio times the stake, a tie refunds it. A retry with the same
    client_bet_id and body returns the first bet (200) and debits nothing; the same id with
    another body is 409."""
    placed, created = await predictions.place(
        session, wired.clock, wired.market, wired.bus, wired.bet_rules, caller, body
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return placed


@router.get(
    "/balance/{telegram_username}",
    summary="My USDT balance (okx-bets)",
    responses={**ERRORS, 200: example(BALANCE)},
)
async def get_balance(
    telegram_username: Annotated[str, Path(max_length=64, pattern=NO_NUL)],
    caller: CallerDep,
    session: SessionDep,
) -> BalanceRead:
    """Return the caller's USDT balance; another user's is 403."""
    balance = await predictions.balance(session, caller, telegram_username)
    return BalanceRead(telegram_username=caller.user.username, balance=balance)


@router.get(
    "/bets",
    summary="My bets and their outcomes (okx-bets)",
    responses={**ERRORS, 200: example(BETS)},
)
async def list_bets(
    caller: CallerDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> BetsRead:
    """Return my latest bets, newest first: active, won, lost or refunded."""
    return BetsRead(bets=await predictions.history(session, caller, limit))


@router.post(
    "/complete-bet",
    summary="How my bet ended (okx-bets)",
    responses={
        **ERRORS,
        404: {"description": "No bet of yours like the one named (BET_NOT_FOUND)"},
        409: {
            "description": "The bet is still active (BET_NOT_RESOLVED) after the wait for "
            "the resolver, or expires later: ask again later"
        },
        422: {"description": "Malformed body, or a field the page may not send (a result)"},
        200: example(BET_COMPLETED),
    },
)
async def complete_bet(
    body: BetCompletion, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> BetCompleted:
    """okx-bets' page calls this when its timer for a bet runs out. The server has resolved
    the bet at the market price of its expiry: this answers the outcome (``win``, ``loss``,
    ``refund`` for a tie), ``reward`` (won over the stake), ``payout`` and the balance now, and
    changes nothing. The bet is named by ``direction``, ``amount``, ``time`` (and ``symbol``)
    as placed, the one of those expiring nearest now, or by ``bet_id``. A bet expiring now (the
    page's timer may run out a second before the expiry) is waited for until the resolver has
    settled it, up to 5 s past its expiry; still active then, or expiring later: 409."""
    return await predictions.complete(session, wired.clock, wired.market, caller, body)


@router.get(
    "/operations/{telegram_username}",
    summary="My operations history (okx-bets)",
    responses={**ERRORS, 200: example(OPERATIONS)},
)
async def get_operations(
    telegram_username: Annotated[str, Path(max_length=64, pattern=NO_NUL)],
    caller: CallerDep,
    session: SessionDep,
) -> OperationsRead:
    """Return my latest 50 bets as okx-bets' operations, newest first; another user's is
    403."""
    return await predictions.operations(session, caller, telegram_username)


@router.get("/coin-prices", summary="Coin prices (okx-bets)", responses={200: example(COIN_PRICES)})
async def coin_prices(wired: WiringDep) -> CoinPricesRead:
    """Return every USDT pair's last price and 24-hour change under okx-bets' names
    (``BTCUSDT``), from the feed. Public, like the market data."""
    return predictions.coin_prices(wired.market)


@router.get(
    "/payment-methods",
    summary="Payment methods (okx-bets)",
    responses={200: example({"success": True, "methods": [PAYMENT_METHOD]})},
)
async def payment_methods() -> PaymentMethodsRead:
    """Return the ways to fund a balance: paper money only (balances are virtual)."""
    return predictions.payment_methods()


@router.get(
    "/payment-methods/{method_id}",
    summary="One payment method (okx-bets)",
    responses={
        404: {"description": "No such payment method"},
        200: example({"success": True, "method": PAYMENT_METHOD}),
    },
)
async def payment_method(
    method_id: Annotated[str, Path(max_length=64, pattern=NO_NUL)],
) -> PaymentMethodRead:
    """Return one payment method with its details."""
    return predictions.payment_method(method_id)
