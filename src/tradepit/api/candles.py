"""paper-tournaments market routes under ``/api/candles`` (login required, as documented)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from tradepit.api.deps import CallerDep, market_reader
from tradepit.api.examples import example
from tradepit.domain import csv_cells
from tradepit.domain.instruments import Kind, Venue
from tradepit.market.data import MarketData
from tradepit.schemas.candles import (
    PAPER_CHAIN,
    BarRead,
    PaperChainRead,
    PriceRead,
    TokenBarsRead,
)
from tradepit.schemas.market import InstrumentRead, QuoteRead
from tradepit.services import candles, market

router = APIRouter(prefix="/api/candles", tags=["market data (paper-tournaments)"])

MarketDep = Annotated[MarketData, Depends(market_reader)]
SymbolPath = Annotated[str, Path(min_length=1, max_length=40, examples=["NIFTY 50"])]
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad parameters"},
    401: {"description": "Not logged in"},
    404: {"description": "Unknown symbol or expiry"},
}


@router.get("/historical/{symbol}", summary="Historical candles", responses=ERRORS)
async def historical(
    symbol: SymbolPath,
    caller: CallerDep,
    data: MarketDep,
    interval: Annotated[str, Query(max_length=16, examples=["5m"])] = "5m",
    from_: Annotated[
        datetime | None, Query(alias="from", description="ISO 8601 with offset")
    ] = None,
    to: Annotated[datetime | None, Query(description="ISO 8601 with offset")] = None,
) -> dict[str, Any]:
    """Return bars of ``interval`` (1m, 5m, 15m, 1h, 1d) in [from, to)."""
    name, bars = market.history(data, symbol, interval, from_, to)
    return {"symbol": data.instrument(symbol).symbol, "interval": name, "candles": bars}


@router.get("/quote/{symbol}", summary="Quote", responses=ERRORS)
async def quote(symbol: SymbolPath, caller: CallerDep, data: MarketDep) -> QuoteRead:
    """Return LTP, bid/ask, session OHLC, change and volume."""
    return market.quote(data, symbol)


@router.get("/ltp/{symbol}", summary="Last traded price", responses=ERRORS)
async def ltp(symbol: SymbolPath, caller: CallerDep, data: MarketDep) -> dict[str, Any]:
    """Return the last traded price."""
    found = market.quote(data, symbol)
    return {"symbol": found.symbol, "ltp": found.ltp, "timestamp": found.timestamp}


@router.get(
    "/options-chain/{symbol}",
    summary="Options chain",
    responses={**ERRORS, 200: example(PAPER_CHAIN)},
)
async def options_chain(
    symbol: SymbolPath,
    caller: CallerDep,
    data: MarketDep,
    expiry: Annotated[date | None, Query(description="YYYY-MM-DD; nearest when left out")] = None,
    expiry_date: Annotated[
        date | None, Query(description="The same as expiry (the paper-tournaments frontend's)")
    ] = None,
) -> PaperChainRead:
    """Return the option chain with greeks for ``expiry``, and the same calls and puts as the
    seed lists them (``ce_options``, ``pe_options``)."""
    return candles.paper_chain(data, symbol, expiry or expiry_date)


@router.get(
    "/instruments",
    summary="Instrument list",
    responses=ERRORS,
    description="JSON by default; CSV with `Accept: text/csv`.",
)
async def instruments(
    request: Request,
    caller: CallerDep,
    data: MarketDep,
    venue: Venue | None = None,
    kind: Annotated[Kind | None, Query(alias="type")] = None,
    exchange: Annotated[
        str | None,
        Query(
            max_length=8,
            description="Kite's exchange: NSE or BSE (shares and indices), NFO or BFO (the "
            "option contracts of their indices, or of the underlying ``name``), MCX (none)",
        ),
    ] = None,
    name: Annotated[
        str | None,
        Query(max_length=40, description="With NFO or BFO: one underlying's options"),
    ] = None,
) -> Any:
    """Return the instrument catalogue, filtered by venue and type, each with Kite's fields
    (``instrument_token``, ``tradingsymbol``, ``exchange``, ``segment``, ``instrument_type``);
    with ``exchange``, what that exchange lists."""
    if "text/csv" in request.headers.get("accept", ""):
        return Response(_csv(market.instruments(data, venue, kind)), media_type="text/csv")
    found = candles.kite_instruments(data, exchange, venue, kind, name)
    return {"instruments": found, "count": len(found)}


@router.get("/current-price", summary="Current price", responses=ERRORS)
async def current_price(
    caller: CallerDep,
    data: MarketDep,
    symbol: Annotated[str, Query(min_length=1, max_length=40, examples=["NIFTY 50"])],
) -> PriceRead:
    """Return the last price of a symbol (an index, a share, a future or an option)."""
    return candles.current_price(data, symbol)


@router.get("", summary="Last bars (paper-tournaments frontend)", responses=ERRORS)
@router.get("/", summary="Last bars (paper-tournaments frontend)", responses=ERRORS)
async def last_bars(
    caller: CallerDep,
    data: MarketDep,
    symbol: Annotated[str, Query(min_length=1, max_length=40, examples=["NIFTY 50"])],
    timeframe: Annotated[
        str, Query(max_length=16, description="Kite's (minute, 5minute, day...) or 1m, 5m, 1D, 1w")
    ] = "5minute",
    limit: Annotated[int, Query(ge=1, le=candles.MAX_LIMIT)] = 200,
    instrument_token: Annotated[
        int | None, Query(ge=0, description="Accepted; the symbol names the instrument")
    ] = None,
) -> list[BarRead]:
    """Return the last ``limit`` bars of ``symbol`` in ``timeframe``, oldest first, as a bare
    list with ``timestamp`` in epoch milliseconds."""
    return candles.bars(data, symbol, timeframe, limit)


@router.get("/{instrument_token:int}", summary="Last bars by instrument token", responses=ERRORS)
async def token_bars(
    instrument_token: int,
    caller: CallerDep,
    data: MarketDep,
    interval: Annotated[str, Query(max_length=16, examples=["day"])] = "day",
    limit: Annotated[int, Query(ge=1, le=candles.MAX_LIMIT)] = 200,
) -> TokenBarsRead:
    """Return the last ``limit`` bars of the catalogue instrument ``instrument_token`` names."""
    return candles.token_bars(data, instrument_token, interval, limit)


def _csv(rows: list[InstrumentRead]) -> str:
    """The catalogue as CSV; text cells neutralised like every CSV export (``csv_cells``)."""
    values = [row.model_dump(mode="json") for row in rows]
    for row in values:
        row["aliases"] = "|".join(row["aliases"])
    return csv_cells.write(list(InstrumentRead.model_fields), values)
