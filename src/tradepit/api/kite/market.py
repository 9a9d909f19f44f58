"""Kite Connect's market routes: quotes, LTP, OHLC, the instrument dump and candles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from tradepit.api.deps import WiringDep
from tradepit.api.kite.deps import KiteCallerDep, success
from tradepit.services.kite import market

router = APIRouter(include_in_schema=False)


def _keys(request: Request) -> list[str]:
    return request.query_params.getlist("i")


@router.get("/quote")
async def quote(request: Request, _: KiteCallerDep, wired: WiringDep) -> JSONResponse:
    """Return full quotes of ``i=EXCHANGE:SYMBOL`` (repeated)."""
    return success(market.quote(wired.market, _keys(request)))


@router.get("/quote/ohlc")
async def ohlc(request: Request, _: KiteCallerDep, wired: WiringDep) -> JSONResponse:
    """Return OHLC quotes."""
    return success(market.ohlc(wired.market, _keys(request)))


@router.get("/quote/ltp")
async def ltp(request: Request, _: KiteCallerDep, wired: WiringDep) -> JSONResponse:
    """Return last prices."""
    return success(market.ltp(wired.market, _keys(request)))


@router.get("/instruments")
async def instruments(_: KiteCallerDep, wired: WiringDep) -> Response:
    """Return the instrument dump (CSV with Kite's header)."""
    return Response(market.instruments_csv(wired.market, None), media_type="text/csv")


@router.get("/instruments/{exchange}")
async def exchange_instruments(
    exchange: Annotated[str, Path(max_length=8)], _: KiteCallerDep, wired: WiringDep
) -> Response:
    """Return one exchange's instruments (CSV)."""
    return Response(market.instruments_csv(wired.market, exchange), media_type="text/csv")


@router.get("/instruments/historical/{instrument_token}/{interval}")
async def historical(
    instrument_token: Annotated[int, Path(ge=0, le=2**32 - 1)],
    interval: Annotated[str, Path(max_length=16)],
    _: KiteCallerDep,
    wired: WiringDep,
    start: Annotated[str, Query(alias="from", max_length=32)],
    end: Annotated[str, Query(alias="to", max_length=32)],
    oi: Annotated[int, Query(ge=0, le=1)] = 0,
    continuous: Annotated[int, Query(ge=0, le=1)] = 0,
) -> JSONResponse:
    """Return candles ``[time, open, high, low, close, volume(, oi)]``, oldest first
    (``continuous`` is accepted and changes nothing: contracts have no candles here)."""
    found = market.historical(wired.market, instrument_token, interval, start, end, bool(oi))
    return success(found)
