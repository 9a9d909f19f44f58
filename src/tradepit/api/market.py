"""smd-options market routes, in its envelope: symbols, expiries, spot, chains, dashboard.

Its own frontend (``LUCKYAI1199/Frontend``) reads some answers' fields at the top level of the
body and calls routes its README does not list (``/api/real-data/*``, ``/api/market_status``,
``/api/underlying_ohlc``, ``/api/ping``): those answer the envelope and what it reads.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel

from tradepit.api.deps import WiringDep, market_reader
from tradepit.api.errors import timestamp
from tradepit.api.examples import example
from tradepit.market.data import MarketData
from tradepit.schemas.market import (
    CHAIN_ENVELOPE,
    ENVELOPE_KEYS,
    FLAT_CHAIN_ENVELOPE,
    CandleRead,
    ChainRead,
    DashboardEnvelope,
    Envelope,
    ExpiryDatesRead,
    FeedCheckRead,
    FlatChainRead,
    InstrumentRead,
    MarketStatusEnvelope,
    OhlcDataEnvelope,
    PingRead,
    SessionOhlcEnvelope,
    SpotEnvelope,
    SymbolListsRead,
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


E = TypeVar("E", bound=Envelope[Any])


def envelope(data: Any, message: str, **meta: Any) -> Envelope[Any]:
    """Wrap ``data`` in the smd-options envelope."""
    return Envelope(message=message, timestamp=timestamp(), data=data, meta=meta)


def flat_envelope(
    shape: type[E],
    data: Any,
    message: str,
    meta: dict[str, Any],
    fields: BaseModel | None = None,
    **extra: Any,
) -> E:
    """Wrap ``data`` in the envelope ``shape``, with the fields of ``fields`` (``data`` by
    default) and ``extra`` again at the top level; the envelope's own keys keep their
    meaning (``timestamp`` is the answer's)."""
    source = data if fields is None else fields
    assert isinstance(source, BaseModel)
    top = {name: value for name, value in source if name not in ENVELOPE_KEYS}
    body = {**top, **extra, "message": message, "timestamp": timestamp(), "data": data}
    return shape.model_validate({**body, "meta": meta})


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
        "/api/market_status",
        "/api/underlying_ohlc/{symbol}",
        "/api/real-data/all-symbols",
        "/api/real-data/expiries/{symbol}",
        "/api/real-data/option-chain/{symbol}?expiry=",
        "/api/real-data/test-connection",
        "/api/ping",
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
async def spot_price(symbol: SymbolPath, data: MarketDep) -> SpotEnvelope:
    """Return the last price with the change from the previous close, in ``data`` and again
    at the top level."""
    spot = market.spot(data, symbol)
    return flat_envelope(SpotEnvelope, spot, "Spot price retrieved", {"symbol": spot.symbol})


@router.get(
    "/api/option_chain",
    summary="Option chain",
    responses={**ERRORS, 200: example(CHAIN_ENVELOPE)},
)
async def option_chain(
    symbol: SymbolQuery, data: MarketDep, expiry: ExpiryQuery = None
) -> Envelope[ChainRead]:
    """Return CE/PE for each strike with LTP, bid/ask, volume, OI, change in OI, IV, greeks."""
    chain = market.option_chain(data, symbol, expiry)
    return envelope(chain, "Option chain retrieved", symbol=chain.symbol, expiry=chain.expiry)


@router.get("/api/dashboard_data", summary="Option-chain dashboard metrics", responses=ERRORS)
async def dashboard_data(
    symbol: SymbolQuery, data: MarketDep, expiry: ExpiryQuery = None
) -> DashboardEnvelope:
    """Return PCR, max pain, OI totals and changes, ATM IV and percentile, support/resistance,
    build-up per strike and the expected move, from the chain of the same instant; in
    ``data`` and again at the top level."""
    metrics = market.dashboard(data, symbol, expiry)
    meta = {"symbol": metrics.symbol, "expiry": metrics.expiry}
    return flat_envelope(DashboardEnvelope, metrics, "Dashboard data retrieved", meta)


def _market_status(data: MarketData) -> MarketStatusEnvelope:
    status = market.market_status(data)
    upcoming = status.next_close if status.is_open else status.next_open
    return flat_envelope(
        MarketStatusEnvelope,
        status,
        "Market status retrieved",
        {},
        isOpen=status.is_open,
        phase=status.status,
        nextChange=upcoming.isoformat() if upcoming else "",
    )


@router.get("/api/market-status", summary="Market status")
async def market_status(data: MarketDep) -> MarketStatusEnvelope:
    """Return each venue's session phase, with NSE's as ``status``/``is_open``; in ``data`` and
    again at the top level, with ``isOpen``, ``phase`` and ``nextChange``."""
    return _market_status(data)


@router.get("/api/market_status", summary="Market status (smd-options' frontend's path)")
async def market_status_alias(data: MarketDep) -> MarketStatusEnvelope:
    """The same answer as ``/api/market-status``: the frontend reads ``isOpen``, ``phase`` and
    ``nextChange`` at the top level."""
    return _market_status(data)


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
async def ohlc_data(
    symbol: SymbolPath,
    data: MarketDep,
    interval: Annotated[
        str | None, Query(max_length=16, description="With it, data is the bars (1m ... 1d)")
    ] = None,
    start: Annotated[
        date | datetime | None,
        Query(alias="from", description="First bar's day, or instant with offset"),
    ] = None,
    end: Annotated[
        date | datetime | None, Query(alias="to", description="Last bar's day, or instant")
    ] = None,
) -> OhlcDataEnvelope:
    """Return the session's open, high, low, last price and the previous close in ``data``;
    ``current_day``, ``previous_day``, ``live_price`` and ``reference_price`` at the top level.
    With ``interval``, ``from`` or ``to``, ``data`` is the bars instead (``interval`` 1d by
    default)."""
    quote = market.quote(data, symbol)
    sessions = market.session_ohlc(data, symbol)
    found: Any = quote
    if interval is not None or start is not None or end is not None:
        found = market.ohlc_bars(data, symbol, interval or "1d", start, end)
    meta = {"symbol": quote.symbol}
    return flat_envelope(OhlcDataEnvelope, found, "OHLC data retrieved", meta, fields=sessions)


@router.get(
    "/api/underlying_ohlc/{symbol}",
    summary="The session's and the previous session's OHLC (smd-options' frontend)",
    responses=ERRORS,
)
async def underlying_ohlc(symbol: SymbolPath, data: MarketDep) -> SessionOhlcEnvelope:
    """Return ``current_day`` (closing at the last price), ``previous_day``, ``live_price`` and
    ``reference_price`` (the previous close), in ``data`` and again at the top level."""
    sessions = market.session_ohlc(data, symbol)
    meta = {"symbol": sessions.symbol}
    return flat_envelope(SessionOhlcEnvelope, sessions, "OHLC data retrieved", meta)


@router.get(
    "/api/real-data/all-symbols",
    summary="Symbol lists: indices, stocks, stocks with options (smd-options' frontend)",
)
async def all_symbols(data: MarketDep) -> Envelope[SymbolListsRead]:
    """Return the catalogue as smd-options' frontend lists it."""
    lists = market.symbol_lists(data)
    return envelope(
        lists,
        "All symbols retrieved",
        total_indices=lists.total_indices,
        total_stocks=lists.total_stocks,
        total_stocks_with_options=lists.total_stocks_with_options,
    )


@router.get(
    "/api/real-data/expiries/{symbol}",
    summary="Option expiries of a symbol (smd-options' frontend)",
    responses=ERRORS,
)
async def real_expiries(symbol: SymbolPath, data: MarketDep) -> Envelope[ExpiryDatesRead]:
    """Return ``data.expiry_dates``, the same expiries as ``/api/expiries/{symbol}``."""
    found = market.expiry_dates(data, symbol)
    name = data.instrument(symbol).symbol
    return envelope(found, "Expiry dates retrieved", symbol=name, count=len(found.expiry_dates))


@router.get(
    "/api/real-data/option-chain/{symbol}",
    summary="Option chain in flat rows (smd-options' frontend)",
    responses={**ERRORS, 200: example(FLAT_CHAIN_ENVELOPE)},
)
async def real_option_chain(
    symbol: SymbolPath,
    data: MarketDep,
    expiry: ExpiryQuery = None,
    include_all_strikes: Annotated[
        bool, Query(description="Accepted and ignored: a chain lists 41 strikes around the ATM")
    ] = True,
) -> Envelope[FlatChainRead]:
    """Return the chain of ``/api/option_chain`` with one flat row per strike (``ce_ltp``,
    ``pe_oi``...), its totals, PCR and max pain."""
    chain = market.flat_chain(data, symbol, expiry)
    strikes = len(chain.option_chain)
    meta = {"symbol": chain.symbol, "expiry": chain.expiry, "total_strikes": strikes}
    return envelope(chain, "Option chain retrieved", **meta)


@router.get(
    "/api/real-data/test-connection",
    summary="Is market data flowing? (smd-options' frontend)",
    responses={503: {"description": "The live or replayed feed is not running (UNAVAILABLE)"}},
)
async def test_connection(wired: WiringDep) -> Envelope[FeedCheckRead]:
    """Answer 200 while market data flows (always on the simulator), else 503 with the feed's
    state."""
    check = market.feed_check(wired.feeds, wired.feed, wired.wall.now())
    if not check.success:
        reason = f": {check.detail}" if check.detail else ""
        raise HTTPException(503, f"market data is not flowing: the feed is {check.status}{reason}")
    return envelope(check, "Market data is flowing")


@router.get("/api/ping", summary="Ping (smd-options' frontend)")
async def ping() -> Envelope[PingRead]:
    """Answer at once: the frontend measures the round trip."""
    return envelope(PingRead(), "pong")
