"""Shapes of paper-tournaments' frontend's market calls under ``/api/candles``: bars by Kite
timeframe, the current price, and instruments as Kite's instrument dump lists them.

Prices are JSON numbers (the seed's and Kite's), converted from the exact values at the edge.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from tradepit.schemas.market import ChainRead, InstrumentRead


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

    strike: float
    expiry: date
    instrument_token: int
    tradingsymbol: str
    ltp: float
    oi: float
    change: float
    volume: float
    bid: float
    ask: float
    iv: float | None


class PaperChainRead(ChainRead):
    """``GET /api/candles/options-chain/{symbol}``: the chain, and beside it the seed's lists
    of the same calls and puts (strike ascending) and its ``expiry_date``."""

    expiry_date: date
    ce_options: list[ChainOptionRead]
    pe_options: list[ChainOptionRead]
