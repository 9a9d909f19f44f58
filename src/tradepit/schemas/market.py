"""Shapes of market data on the wire. Prices are JSON numbers (exact on the tick grid)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from tradepit.domain.instruments import Kind, Venue

T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    """The smd-options response envelope."""

    success: bool = True
    message: str
    timestamp: str
    data: T
    meta: dict[str, Any] = Field(default_factory=dict)


class InstrumentRead(BaseModel):
    """An instrument of the catalogue."""

    symbol: str
    name: str
    kind: Kind
    venue: Venue
    currency: str
    tick_size: float
    lot_size: float
    multiplier: float
    strike_step: float | None
    expiry_rule: str | None
    derivatives_venue: Venue | None
    aliases: list[str]
    has_options: bool
    tradable: bool


class QuoteRead(BaseModel):
    """A quote: last price, best bid/ask, the session's OHLC, change and volume."""

    symbol: str
    ltp: float
    bid: float
    ask: float
    bid_size: float
    ask_size: float
    open: float
    high: float
    low: float
    close: float = Field(description="The previous session's close")
    change: float
    change_percent: float
    volume: float
    oi: float | None
    session: date
    timestamp: datetime


class SpotRead(BaseModel):
    """smd-options spot price."""

    symbol: str
    spot_price: float
    change: float
    change_percent: float
    previous_close: float
    timestamp: datetime


class CandleRead(BaseModel):
    """An OHLC bar."""

    timestamp: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


class OptionRead(BaseModel):
    """One call or put of a chain: the live feed's quote, or the model's price."""

    tradingsymbol: str
    ltp: float
    bid: float
    ask: float
    change: float
    volume: float
    oi: float
    change_in_oi: float
    iv: float | None = Field(
        description="Implied volatility in percent; null when no volatility reproduces a live "
        "price (below intrinsic value, or at expiry)"
    )
    delta: float
    gamma: float
    theta: float = Field(description="Per calendar day")
    vega: float = Field(description="Per volatility point")
    rho: float = Field(description="Per percentage point of rate")
    label: str = Field(description="ATM, ITMn or OTMn")
    source: Literal["live", "model"] = Field(
        description="live: LTP, bid/ask, volume and OI from the feed, IV solved from its price "
        "and greeks at that IV; model: Black-Scholes on the simulator's smile"
    )


class StrikeRead(BaseModel):
    """A strike of a chain with its call (CE) and put (PE)."""

    strike: float
    label: str
    CE: OptionRead
    PE: OptionRead


class ChainRead(BaseModel):
    """An option chain of one underlying and expiry."""

    symbol: str
    expiry: date
    monthly: bool
    spot_price: float
    atm_strike: float
    days_to_expiry: float
    lot_size: float
    timestamp: datetime
    strikes: list[StrikeRead]


class ExpectedMoveRead(BaseModel):
    """The move priced by the ATM straddle."""

    strike: float
    move: float
    percent: float


class BuildupRead(BaseModel):
    """The build-up class of one strike's calls and puts."""

    strike: float
    CE: str
    PE: str


class DashboardRead(BaseModel):
    """Chain metrics, computed from the chain the chain route returns for the same instant."""

    symbol: str
    expiry: date
    spot_price: float
    timestamp: datetime
    pcr_oi: float | None
    pcr_volume: float | None
    max_pain: float | None
    total_ce_oi: float
    total_pe_oi: float
    ce_oi_change: float
    pe_oi_change: float
    atm_strike: float
    atm_iv: float | None = Field(description="Percent")
    iv_percentile: float | None
    support: float | None
    resistance: float | None
    expected_move: ExpectedMoveRead | None
    buildup: list[BuildupRead]


class VenueStatusRead(BaseModel):
    """A venue's session status."""

    venue: Venue
    phase: str
    is_open: bool
    reason: str
    local_time: datetime
    next_open: datetime | None
    next_close: datetime | None
    forced: bool


class MarketStatusRead(BaseModel):
    """Every venue's status; ``status``/``is_open`` are NSE's, as smd-options shows them."""

    status: str
    is_open: bool
    market_hours: str
    timestamp: datetime
    venues: list[VenueStatusRead]
