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


#: The envelope's own keys: where a route repeats its data's fields at the top level (for
#: smd-options' frontend, which reads them there), these keep the envelope's meaning.
ENVELOPE_KEYS = frozenset(Envelope.model_fields)


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
    quote_currency: str | None = Field(
        default=None,
        description=(
            "The currency of the price when it differs from currency: a pair settled in its "
            "base currency (USDJPY: priced in JPY, P&L and margin in USD, converted at the "
            "pair's price); null when the price is in currency"
        ),
    )


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


class SpotFields(BaseModel):
    """A spot price's figures."""

    symbol: str
    spot_price: float
    price: float = Field(
        description="The same as spot_price, under the name smd-options' spot route answered"
    )
    change: float
    change_percent: float
    previous_close: float


class SpotRead(SpotFields):
    """smd-options spot price."""

    timestamp: datetime


class SpotEnvelope(Envelope[SpotRead], SpotFields):
    """The envelope, with the spot's figures also at the top level (smd-options' frontend reads
    ``body.spot_price || body.price``, ``body.change``, ``body.change_percent``)."""


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


class DashboardFields(BaseModel):
    """Chain metrics, computed from the chain the chain route returns for the same instant."""

    symbol: str
    expiry: date
    spot_price: float
    change: float = Field(description="The spot's change from the previous close")
    change_percent: float
    total_ce_volume: float
    total_pe_volume: float
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


class DashboardRead(DashboardFields):
    """Chain metrics, computed from the chain the chain route returns for the same instant."""

    timestamp: datetime


class DashboardEnvelope(Envelope[DashboardRead], DashboardFields):
    """The envelope, with the metrics also at the top level, where smd-options' dashboard
    route answered them."""


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


class MarketStatusFields(BaseModel):
    """Every venue's status; ``status``/``is_open`` are NSE's, as smd-options shows them."""

    status: str
    is_open: bool
    market_hours: str
    venues: list[VenueStatusRead]
    market_open: bool = Field(description="The same as is_open, smd-options' backend's name")
    market_status: str = Field(description="The same as status, smd-options' backend's name")
    next_open: datetime | None = Field(description="NSE's next open")
    next_close: datetime | None = Field(description="NSE's next close")


class MarketStatusRead(MarketStatusFields):
    """Every venue's status; ``status``/``is_open`` are NSE's, as smd-options shows them."""

    timestamp: datetime


class MarketStatusEnvelope(Envelope[MarketStatusRead], MarketStatusFields):
    """The envelope, with the status also at the top level, and the three names smd-options'
    frontend reads from ``/api/market_status``."""

    isOpen: bool = Field(description="NSE is open")  # noqa: N815 - the frontend's name
    phase: str = Field(description="NSE's phase: pre_open, open, post_close or closed")
    nextChange: str = Field(  # noqa: N815 - the frontend's name
        description="NSE's next close while open, else its next open (ISO 8601)"
    )


class DayOhlcRead(BaseModel):
    """One session's open, high, low, close (the last price while it trades) and volume."""

    date: date
    open: float
    high: float
    low: float
    close: float
    volume: float


class SessionOhlcFields(BaseModel):
    """An underlying's session and the one before it, as smd-options' OHLC routes answer."""

    symbol: str
    current_day: DayOhlcRead
    previous_day: DayOhlcRead | None = Field(description="null for a future or an option")
    live_price: float
    reference_price: float = Field(description="The previous session's close")


class SessionOhlcRead(SessionOhlcFields):
    """An underlying's session and the one before it."""

    timestamp: datetime


class SessionOhlcEnvelope(Envelope[SessionOhlcRead], SessionOhlcFields):
    """``/api/underlying_ohlc``: the envelope, and its data again at the top level, where
    smd-options' frontend reads it."""


class OhlcDataEnvelope(Envelope[QuoteRead | list[CandleRead]], SessionOhlcFields):
    """``/api/ohlc_data``: the quote in the envelope (the bars when ``interval``, ``from`` or
    ``to`` is given), and the sessions at the top level, where smd-options' frontend reads them."""


class ChainRowRead(BaseModel):
    """One strike of a chain in smd-options' flat shape: each CE figure as ``ce_<name>``, each
    PE figure as ``pe_<name>``. ``open``/``high``/``low`` and ``prev_*`` are the model re-priced
    at the underlying's levels of the session and of the one before; ``close`` is the last
    price; ``prev_close`` is ``ltp - change``; ``oi_change`` and ``change_in_oi`` are the same
    figure under the two names the frontend reads; ``bid_qty``/``ask_qty`` are 50 lots."""

    strike_price: float
    ce_tradingsymbol: str
    ce_label: str
    ce_source: Literal["live", "model"]
    ce_ltp: float
    ce_bid: float
    ce_ask: float
    ce_bid_qty: float
    ce_ask_qty: float
    ce_volume: float
    ce_oi: float
    ce_oi_change: float
    ce_change_in_oi: float
    ce_change: float
    ce_change_percent: float
    ce_iv: float | None
    ce_delta: float
    ce_gamma: float
    ce_theta: float
    ce_vega: float
    ce_rho: float
    ce_open: float
    ce_high: float
    ce_low: float
    ce_close: float
    ce_prev_open: float
    ce_prev_high: float
    ce_prev_low: float
    ce_prev_close: float
    ce_intrinsic: float
    ce_time_val: float
    pe_tradingsymbol: str
    pe_label: str
    pe_source: Literal["live", "model"]
    pe_ltp: float
    pe_bid: float
    pe_ask: float
    pe_bid_qty: float
    pe_ask_qty: float
    pe_volume: float
    pe_oi: float
    pe_oi_change: float
    pe_change_in_oi: float
    pe_change: float
    pe_change_percent: float
    pe_iv: float | None
    pe_delta: float
    pe_gamma: float
    pe_theta: float
    pe_vega: float
    pe_rho: float
    pe_open: float
    pe_high: float
    pe_low: float
    pe_close: float
    pe_prev_open: float
    pe_prev_high: float
    pe_prev_low: float
    pe_prev_close: float
    pe_intrinsic: float
    pe_time_val: float


class FlatChainRead(BaseModel):
    """A chain as smd-options' ``/api/real-data/option-chain`` answers it: the rows flat, with
    the totals, PCR and max pain computed from them."""

    symbol: str
    expiry: date
    monthly: bool
    spot_price: float
    previous_close: float
    change: float
    change_percent: float
    atm_strike: float
    days_to_expiry: float
    lot_size: float
    total_ce_oi: float
    total_pe_oi: float
    total_ce_volume: float
    total_pe_volume: float
    pcr_oi: float | None
    pcr_volume: float | None
    max_pain: float | None
    timestamp: datetime
    option_chain: list[ChainRowRead]


class ExpiryDatesRead(BaseModel):
    """An underlying's listed expiries."""

    expiry_dates: list[date]
    monthly: list[date] = Field(description="Which of them are monthly expiries")


class SymbolListsRead(BaseModel):
    """The catalogue in smd-options' symbol lists."""

    indices: list[str] = Field(description="Indices with option chains")
    stocks: list[str] = Field(description="Every NSE and BSE stock of the catalogue")
    commodities: list[str] = Field(description="Always empty: Tradepit lists no MCX contracts")
    stocks_with_options: list[str]
    all: list[str]
    total_indices: int
    total_stocks: int
    total_commodities: int
    total_stocks_with_options: int
    total_symbols: int
    last_updated: datetime


class FeedCheckRead(BaseModel):
    """Whether market data is flowing: always on the simulator (it needs no connection), while
    the feed runs on a live or replayed one."""

    success: bool
    feed: str | None
    status: str
    detail: str
    timestamp: datetime


class PingRead(BaseModel):
    """The answer to a ping."""

    pong: bool = True
