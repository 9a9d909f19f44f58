"""Kite Connect's trading routes: user margins, orders, trades, positions and holdings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.api.deps import SessionDep, TradingDep, WiringDep
from tradepit.api.kite.deps import FieldsDep, KiteCallerDep, parse, success
from tradepit.domain.errors import InvalidInput
from tradepit.schemas.kite import KiteModifyForm, KiteOrderForm
from tradepit.services.kite import trading

router = APIRouter(include_in_schema=False)

Variety = Annotated[str, Path(max_length=16)]
OrderId = Annotated[str, Path(max_length=40)]


@router.get("/user/margins")
async def margins(caller: KiteCallerDep, state: TradingDep) -> JSONResponse:
    """Return the equity (INR wallet) and commodity margins."""
    return success(await trading.margins(state, caller))


@router.get("/user/margins/{segment}")
async def segment_margins(
    segment: Annotated[str, Path(max_length=16)], caller: KiteCallerDep, state: TradingDep
) -> JSONResponse:
    """Return one segment's margins."""
    return success(await trading.margins(state, caller, segment))


@router.post("/orders/{variety}")
async def place_order(
    variety: Variety, fields: FieldsDep, caller: KiteCallerDep, wired: WiringDep
) -> JSONResponse:
    """Place an order (a paper order on the INR wallet); answer its ``order_id``."""
    form = parse(KiteOrderForm, fields)

    async def work(session: AsyncSession) -> dict[str, str]:
        return await trading.place(
            session, wired.clock, wired.market, wired.fees, wired.matcher, caller, variety, form
        )

    # Orders placed at the same moment share one transaction (group commit).
    return success(await wired.desk.submit(work))


@router.put("/orders/{variety}/{order_id}")
async def modify_order(
    variety: Variety,
    order_id: OrderId,
    fields: FieldsDep,
    caller: KiteCallerDep,
    session: SessionDep,
    wired: WiringDep,
) -> JSONResponse:
    """Change an open order's quantity, price or trigger price."""
    form = parse(KiteModifyForm, fields)
    changed = await trading.modify(
        session, wired.clock, wired.market, wired.fees, wired.matcher, caller, variety, order_id,
        form,
    )  # fmt: skip
    return success(changed)


@router.delete("/orders/{variety}/{order_id}")
async def cancel_order(
    variety: Variety, order_id: OrderId, caller: KiteCallerDep, session: SessionDep,
    wired: WiringDep,
) -> JSONResponse:  # fmt: skip
    """Cancel an open order."""
    cancelled = await trading.cancel(
        session, wired.clock, wired.market, wired.matcher, caller, variety, order_id
    )
    return success(cancelled)


@router.get("/orders")
async def order_book(caller: KiteCallerDep, session: SessionDep, wired: WiringDep) -> JSONResponse:
    """Return today's orders and every pending one, oldest first."""
    return success(await trading.order_book(session, wired.clock, wired.market, caller))


@router.get("/orders/{order_id}")
async def order_history(
    order_id: OrderId, caller: KiteCallerDep, session: SessionDep, wired: WiringDep
) -> JSONResponse:
    """Return an order's states, oldest first."""
    return success(await trading.order_history(session, wired.market, caller, order_id))


@router.get("/orders/{order_id}/trades")
async def order_trades(
    order_id: OrderId, caller: KiteCallerDep, session: SessionDep, wired: WiringDep
) -> JSONResponse:
    """Return an order's trades."""
    return success(await trading.order_trades(session, wired.market, caller, order_id))


@router.get("/trades")
async def trade_book(caller: KiteCallerDep, session: SessionDep, wired: WiringDep) -> JSONResponse:
    """Return today's trades, oldest first."""
    return success(await trading.trade_book(session, wired.clock, wired.market, caller))


@router.get("/portfolio/positions")
async def positions(caller: KiteCallerDep, wired: WiringDep) -> JSONResponse:
    """Return the positions (``net`` and ``day``)."""
    return success(await trading.positions(wired.trading, wired.market, caller))


@router.put("/portfolio/positions")
async def convert_position(caller: KiteCallerDep) -> JSONResponse:
    """Refuse a product conversion: Tradepit's engine does not convert positions."""
    raise InvalidInput(
        "Position conversion is not supported on Tradepit: close the position and open it "
        "again in the other product"
    )


@router.get("/portfolio/holdings")
async def portfolio_holdings(caller: KiteCallerDep, wired: WiringDep) -> JSONResponse:
    """Return the delivery (CNC) shares held."""
    return success(await trading.portfolio_holdings(wired.trading, wired.market, caller))
