"""Shapes of paper-tournaments' frontend's market calls under ``/api/candles``: bars by Kite
timeframe, the current price, and instruments as Kite's instrument dump lists them.

Prices are JSON numbers (the seed's and Kite's), converted from the exact values at the edge.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from tradepit.schemas.market import CHAIN, ChainRead, InstrumentRead


class BarRead(BaseModel):
    """One bar as the frontend's chart reads it: ``timestamp`` in epoch milliseconds."""

    timestamp: int = Field(description="The bar's start, epoch milliseconds")
    open: float
    high: float
    low: float
    close: float
    volume: float


class TokenBarsRead(BaseModel):
    """The bars of the instrument a token names (``GET /api/candles/{instrument_token}``)."""

    instrument_token: int
    symbol: str
    interval: str
    candles: list[BarRead]


class PriceRead(BaseModel):
    """The current price of a symbol (``GET /api/candles/current-price``)."""

    symbol: str
    price: float
    timestamp: datetime


class KiteInstrumentRead(InstrumentRead):
    """A row of ``GET /api/candles/instruments``: the catalogue's fields and Kite's."""

    instrument_token: int = Field(
        description="Kite's token where the catalogue records it, else derived from the symbol"
    )
    tradingsymbol: str
    exchange: str = Field(description="NSE, BSE, NFO, BFO (Kite's), or OKX, FX")
    segment: str = Field(description="Kite's segment: NSE, INDICES, NFO-OPT, BFO-OPT...")
    instrument_type: str = Field(description="Kite's: EQ (shares and indices), CE, PE")
    expiry: date | None = None
    strike: float = 0.0


class ChainOptionRead(BaseModel):
    """One option of ``ce_options`` / ``pe_options``, as the seed's Kite chain lists it."""

    strike: float = Field(description="The strike price")
    expiry: date = Field(description="The expiry date (YYYY-MM-DD)")
    instrument_token: int = Field(description="Kite-style token, derived from the symbol")
    tradingsymbol: str = Field(description="The option's trading symbol")
    ltp: float = Field(description="Last traded price: premium per unit")
    oi: float = Field(description="Open interest, in units")
    change: float = Field(description="ltp minus the previous session's close")
    volume: float = Field(description="The session's volume, in units")
    bid: float = Field(description="Best bid")
    ask: float = Field(description="Best ask")
    iv: float | None = Field(description="Implied volatility, %; null when none fits")


class PaperChainRead(ChainRead):
    """``GET /api/candles/options-chain/{symbol}``: the chain, and beside it the seed's lists
    of the same calls and puts (strike ascending) and its ``expiry_date``."""

    expiry_date: date = Field(description="The same as expiry (the seed's name)")
    ce_options: list[ChainOptionRead] = Field(description="The calls, strike ascending")
    pe_options: list[ChainOptionRead] = Field(description="The puts, strike ascending")


# The answer as /docs shows it (``api.examples``, one strike of 41); tests/api/test_reference.py
# checks it against its model.
PAPER_CHAIN: dict[str, Any] = {
    **CHAIN,
    "expiry_date": "2026-01-20",
    "ce_options": [
        {
            "strike": 29300.0,
            "expiry": "2026-01-20",
            "instrument_token": 7372385568,
            "tradingsymbol": "NIFTY2612029300CE",
            "ltp": 173.75,
            "oi": 3110770.0,
            "change": 86.15,
            "volume": 2186535.0,
            "bid": 173.05,
            "ask": 174.45,
            "iv": 9.74,
        }
    ],
    "pe_options": [
        {
            "strike": 29300.0,
            "expiry": "2026-01-20",
            "instrument_token": 7893871794,
            "tradingsymbol": "NIFTY2612029300PE",
            "ltp": 125.3,
            "oi": 4384250.0,
            "change": -108.0,
            "volume": 2936115.0,
            "bid": 124.8,
            "ask": 125.8,
            "iv": 9.74,
        }
    ],
}
