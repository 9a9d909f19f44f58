"""smd-options market routes, in its envelope: symbols, expiries, spot, chains, dashboard."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from tradepit.api.deps import market_reader
from tradepit.api.errors import timestamp
from tradepit.market.data import MarketData
from tradepit.schemas.market import (
    CandleRead,
    ChainRead,
    DashboardRead,
    Envelope,
    InstrumentRead,
    MarketStatusRead,
    QuoteRead,
    SpotRead,
)
from tradepit.services import market

router = APIRouter(tags=["market data (smd-options)"])

MarketDep = Annotated[MarketData, Depends(market_reader)]
SymbolPath = Annotated[str, Path(min_length=1, max_length=40, examples=["NIFTY"])]
SymbolQuery = Annotated[str, Query(min_length=1, max_length=40, examples=["NIFTY"])]
ExpiryQuery = Annotated[
    date | None, Query(description="YYYY-MM-DD; the nearest expiry when left out")
]
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad parameters (VALIDATION_ERROR, fields listed)"},
    404: {"description": "Unknown symbol or expiry (NOT_FOUND)"},
}


def envelope(data: Any, message: str, **meta: Any) -> Envelope[Any]:
    """Wrap ``data`` in the smd-options envelope."""
    return Envelope(message=message, timestamp=timestamp(), data=data, meta=meta)


@router.get("/api", summary="API root (smd-options)")
async def api_root() -> Envelope[dict[str, Any]]:
    """List the market-data endpoints."""
    endpoints = [
        "/api/symbols",
        "/api/expiries/{symbol}",
        "/api/spot_price/{symbol}",
        "/api/option_chain?symbol=&expiry=",
        "/api/dashboard_data?symbol=&expiry=",
        "/api/market-status",
        "/api/historical-data/{symbol}?timeframe=&days=",
        "/api/ohlc_data/{symbol}",
        "/api/websocket/stats",
        "/api/health",
    ]
    return envelope({"name": "Tradepit", "docs": "/docs", "endpoints": endpoints}, "Tradepit API")


@router.get("/api/symbols", summary="Symbols with option chains", responses=ERRORS)
async def symbols(data: MarketDep) -> Envelope[list[InstrumentRead]]:
    """Return the underlyings that have option chains (NIFTY, BANKNIFTY, ...)."""
    found = market.option_symbols(data)
    return envelope(found, "Symbols retrieved", count=len(found))


@router.get("/api/expiries/{symbol}", summary="Option expiries of a symbol", responses=ERRORS)
async def expiries(symbol: SymbolPath, data: MarketDep) -> Envelope[list[date]]:
    """Return the next expiries, holiday-adjusted; ``meta.monthly`` lists the monthly ones."""
    listed, monthly = market.expiries(data, symbol)
    name = data.instrument(symbol).symbol
    return envelope(listed, "Expiries retrieved", symbol=name, monthly=monthly)


@router.get("/api/spot_price/{symbol}", summary="Spot price", responses=ERRORS)
async def spot_price(symbol: SymbolPath, data: MarketDep) -> Envelope[SpotRead]:
    """Return the last price with the change from the previous close."""
    spot = market.spot(data, symbol)
    return envelope(spot, "Spot price retrieved", symbol=spot.symbol)


@router.get("/api/option_chain", summary="Option chain", responses=ERRORS)
async def option_chain(
    symbol: SymbolQuery, data: MarketDep, expiry: ExpiryQuery = None
) -> Envelope[ChainRead]:
    """Return CE/PE for each strike with LTP, bid/ask, volume, OI, change in OI, IV, greeks."""
    chain = market.option_chain(data, symbol, expiry)
    return envelope(chain, "Option chain retrieved", symbol=chain.symbol, expiry=chain.expiry)


@router.get("/api/dashboard_data", summary="Option-chain dashboard metrics", responses=ERRORS)
async def dashboard_data(
    symbol: SymbolQuery, data: MarketDep, expiry: ExpiryQuery = None
) -> Envelope[DashboardRead]:
    """Return PCR, max pain, OI totals and changes, ATM IV and percentile, support/resistance,
    build-up per strike and the expected move, from the chain of the same instant."""
    metrics = market.dashboard(data, symbol, expiry)
    return envelope(
        metrics, "Dashboard data retrieved", symbol=metrics.symbol, expiry=metrics.expiry
    )


@router.get("/api/market-status", summary="Market status")
async def market_status(data: MarketDep) -> Envelope[MarketStatusRead]:
    """Return each venue's session phase, with NSE's as ``status``/``is_open``."""
    return envelope(market.market_status(data), "Market status retrieved")


@router.get("/api/historical-data/{symbol}", summary="Historical OHLC", responses=ERRORS)
async def historical_data(
    symbol: SymbolPath,
    data: MarketDep,
    timeframe: Annotated[str, Query(max_length=16, examples=["5m"])] = "1d",
    days: Annotated[int, Query(ge=1, le=3650)] = 30,
) -> Envelope[list[CandleRead]]:
    """Return bars of ``timeframe`` (1m, 5m, 15m, 1h, 1d) over the last ``days`` days."""
    interval, bars = market.history_days(data, symbol, timeframe, days)
    return envelope(
        bars,
        "Historical data retrieved",
        symbol=data.instrument(symbol).symbol,
        timeframe=interval,
        count=len(bars),
    )


@router.get("/api/ohlc_data/{symbol}", summary="Current session OHLC", responses=ERRORS)
async def ohlc_data(symbol: SymbolPath, data: MarketDep) -> Envelope[QuoteRead]:
    """Return the session's open, high, low, last price and the previous close."""
    quote = market.quote(data, symbol)
    return envelope(quote, "OHLC data retrieved", symbol=quote.symbol)
