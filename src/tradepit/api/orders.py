"""paper-tournaments' paper trading: orders, positions and the portfolio."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.api.deps import (
    CallerDep,
    IdPath,
    SessionDep,
    TradingDep,
    WiringDep,
    market_reader,
)
from tradepit.api.dialects import SeedShapedRoute
from tradepit.api.examples import example
from tradepit.domain.orders import Product, Status
from tradepit.market.data import MarketData
from tradepit.schemas.orders import (
    ORDER_CANCELLED,
    ORDER_CLOSING,
    ORDER_FILLED,
    ORDER_MODIFIED,
    ORDERS,
    PNL,
    PORTFOLIO,
    POSITION,
    OrderCreate,
    OrderModify,
    OrderRead,
    PnlRead,
    PortfolioRead,
    PositionRead,
)
from tradepit.services import orders
from tradepit.services import portfolio as holdings

#: Orders and positions answer paper-tournaments' shapes under its prefix (api/dialects.py).
router = APIRouter(prefix="/api/paper-trading", tags=["paper trading"], route_class=SeedShapedRoute)
#: The paper-tournaments frontend's P&L widget asks ``/api/paper/pnl``.
paper_router = APIRouter(prefix="/api/paper", tags=["paper trading"])
#: The header that counts a list's items in every page.
TOTAL_COUNT = "X-Total-Count"

MarketDep = Annotated[MarketData, Depends(market_reader)]
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid order (lot size, tick, not tradable, not supported yet)"},
    401: {"description": "Not logged in"},
    404: {"description": "Unknown symbol or order"},
    409: {"description": "Insufficient funds, market closed, or client_order_id reused"},
}
CANCELLED: dict[int | str, dict[str, Any]] = {**ERRORS, 200: example(ORDER_CANCELLED)}


@router.post(
    "/orders",
    status_code=status.HTTP_201_CREATED,
    summary="Place a paper order",
    responses={**ERRORS, 201: example(ORDER_FILLED)},
)
async def place_order(
    body: OrderCreate, response: Response, caller: CallerDep, wired: WiringDep
) -> OrderRead:
    """Place an order. A MARKET order fills at once at the ask (buy) or bid (sell) plus
    slippage, with its charges; LIMIT and stop orders rest (a buy blocks its cash) and fill on
    the tick that crosses them; on a closed venue the order is after-market (status ``amo``).
    A retry with the same client_order_id and body returns the first order (200); the same id
    with another body is 409."""

    async def work(session: AsyncSession) -> tuple[OrderRead, bool]:
        return await orders.place(
            session, wired.clock, wired.market, wired.fees, wired.matcher, caller, body
        )

    # Orders placed at the same moment share one transaction (group commit).
    order, created = await wired.desk.submit(work)
    if not created:
        response.status_code = status.HTTP_200_OK
    return order


@router.get(
    "/orders",
    summary="My orders",
    responses={
        **ERRORS,
        200: example(ORDERS, headers={TOTAL_COUNT: {"description": "Orders in all pages"}}),
    },
)
async def list_orders(
    caller: CallerDep,
    trading: TradingDep,
    response: Response,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    symbol: Annotated[str | None, Query(max_length=40)] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[OrderRead]:
    """Return my orders (a bare list, as the paper-tournaments frontend reads it), newest
    first, filtered by status and symbol; ``X-Total-Count`` counts every page."""
    # No ``SessionDep``: a read has nothing to commit, and the open orders come from memory
    # without a session (the dependency cost ~120 µs a request).
    found, total = await orders.history(
        trading,
        caller,
        status=status_.value if status_ else None,
        symbol=symbol,
        page=page,
        limit=limit,
    )
    response.headers[TOTAL_COUNT] = str(total)
    return found


@router.get(
    "/orders/{order_id}",
    summary="One of my orders with its fills",
    responses={**ERRORS, 200: example(ORDER_FILLED)},
)
async def get_order(order_id: IdPath, caller: CallerDep, session: SessionDep) -> OrderRead:
    """Return the order and its fills; another user's order is 404."""
    return await orders.get(session, caller, order_id)


@router.put(
    "/orders/{order_id}",
    summary="Modify an open order",
    responses={**ERRORS, 200: example(ORDER_MODIFIED)},
)
async def modify_order(
    order_id: IdPath, body: OrderModify, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> OrderRead:
    """Change the price, quantity or trigger of an open LIMIT or stop order."""
    return await orders.modify(
        session, wired.clock, wired.market, wired.fees, wired.matcher, caller, order_id, body
    )


@router.delete("/orders/{order_id}", summary="Cancel an open order", responses=CANCELLED)
@router.post("/orders/{order_id}/cancel", summary="Cancel an open order", responses=CANCELLED)
async def cancel_order(
    order_id: IdPath, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> OrderRead:
    """Cancel an open order; a filled, cancelled or rejected one is 409. ``POST
    .../cancel`` is the paper-tournaments frontend's way of saying the same."""
    return await orders.cancel(session, wired.clock, wired.market, wired.matcher, caller, order_id)


@router.get("/positions", summary="My positions", responses={**ERRORS, 200: example([POSITION])})
async def positions(caller: CallerDep, trading: TradingDep, data: MarketDep) -> list[PositionRead]:
    """Return my net positions per symbol and product (a bare list, as the paper-tournaments
    frontend reads it), marked to the last price."""
    return await holdings.positions(trading, data, caller)


@router.post(
    "/positions/{symbol}/close",
    summary="Close one of my positions",
    responses={**ERRORS, 200: example(ORDER_CLOSING)},
)
async def close_position(
    symbol: Annotated[
        str, Path(min_length=1, max_length=40, description="A symbol, or a position's id")
    ],
    caller: CallerDep,
    session: SessionDep,
    wired: WiringDep,
    product: Product | None = None,
) -> OrderRead:
    """Close the position in ``symbol`` (and ``product``, if several) with a MARKET order;
    all digits name the position by its ``id`` (the paper-tournaments frontend's way)."""
    if symbol.isascii() and symbol.isdigit() and len(symbol) < 10:
        return await orders.close_position_by_id(
            session, wired.clock, wired.market, wired.fees, wired.matcher, caller, int(symbol)
        )
    return await orders.close_position(
        session, wired.clock, wired.market, wired.fees, wired.matcher, caller, symbol, product
    )


@router.get("/portfolio", summary="My portfolio", responses={**ERRORS, 200: example(PORTFOLIO)})
async def portfolio(caller: CallerDep, trading: TradingDep, data: MarketDep) -> PortfolioRead:
    """Return cash, positions value, equity, realized and unrealized P&L per currency, and the
    INR summary the paper-tournaments frontend reads (``total_value``, ``cash_balance``,
    ``positions_value``, ``total_pnl``)."""
    return await holdings.portfolio(trading, data, caller)


@paper_router.get(
    "/pnl", summary="My P&L (paper-tournaments frontend)", responses={**ERRORS, 200: example(PNL)}
)
async def pnl(caller: CallerDep, trading: TradingDep, data: MarketDep) -> PnlRead:
    """Return the P&L of my INR positions: unrealised, realised (net of charges) and total."""
    return await holdings.pnl(trading, data, caller)
