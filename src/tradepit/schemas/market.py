"""Shapes of market data on the wire. Prices are JSON numbers (exact on the tick grid)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from tradepit.domain.instruments import Kind, Venue

T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    """The smd-options response envelope."""

    success: bool = Field(default=True, description="true (a refusal is an error answer)")
    message: str = Field(description="What was done, in words")
    timestamp: str = Field(description="When the answer was made (UTC, ISO 8601)")
    data: T = Field(description="The answer")
    meta: dict[str, Any] = Field(
        default_factory=dict, description="Facts about the data: symbol, expiry, counts"
    )


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

    tradingsymbol: str = Field(description="The option's trading symbol (NIFTY2612029300CE)")
    ltp: float = Field(description="Last traded price: premium per unit, in the currency")
    bid: float = Field(description="Best bid")
    ask: float = Field(description="Best ask")
    change: float = Field(description="ltp minus the previous session's close")
    volume: float = Field(description="The session's volume, in units (lots × lot size)")
    oi: float = Field(description="Open interest, in units")
    change_in_oi: float = Field(description="Open interest change since the previous session")
    iv: float | None = Field(
        description="Implied volatility in percent; null when no volatility reproduces a live "
        "price (below intrinsic value, or at expiry)"
    )
    delta: float = Field(description="Change of ltp per 1 of the underlying's price")
    gamma: float = Field(description="Change of delta per 1 of the underlying's price")
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

    strike: float = Field(description="The strike price")
    label: str = Field(description="ATM, or ITMn / OTMn for the call, n strikes away")
    CE: OptionRead = Field(description="The call")
    PE: OptionRead = Field(description="The put")


class ChainRead(BaseModel):
    """An option chain of one underlying and expiry."""

    symbol: str = Field(description="The underlying (NIFTY, BANKNIFTY, RELIANCE...)")
    expiry: date = Field(description="The expiry date (YYYY-MM-DD, the venue's calendar)")
    monthly: bool = Field(description="Whether it is the month's last expiry")
    spot_price: float = Field(description="The underlying's last price, in its currency (INR)")
    atm_strike: float = Field(description="The strike nearest the spot")
    days_to_expiry: float = Field(description="Calendar days to the expiry instant, fractional")
    lot_size: float = Field(description="Units per lot (NIFTY 65)")
    timestamp: datetime = Field(description="The instant priced (market clock, UTC)")
    strikes: list[StrikeRead] = Field(description="41 strikes around the ATM, ascending")


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


def _ce(text: str) -> Any:
    """Return a field of the call (CE) side of a flat chain row, described as ``text``."""
    return Field(description=f"Call (CE): {text}")


def _pe(text: str) -> Any:
    """Return a field of the put (PE) side of a flat chain row, described as ``text``."""
    return Field(description=f"Put (PE): {text}")


class ChainRowRead(BaseModel):
    """One strike of a chain in smd-options' flat shape: each CE figure as ``ce_<name>``, each
    PE figure as ``pe_<name>``. ``open``/``high``/``low`` and ``prev_*`` are the model re-priced
    at the underlying's levels of the session and of the one before; ``close`` is the last
    price; ``prev_close`` is ``ltp - change``; ``oi_change`` and ``change_in_oi`` are the same
    figure under the two names the frontend reads; ``bid_qty``/``ask_qty`` are 50 lots."""

    strike_price: float = Field(description="The strike, in the underlying's currency")
    ce_tradingsymbol: str = _ce("the option's trading symbol")
    ce_label: str = _ce("ATM, ITMn or OTMn")
    ce_source: Literal["live", "model"] = _ce("live (the feed's quote) or model (Black-Scholes)")
    ce_ltp: float = _ce("last traded price, premium per unit")
    ce_bid: float = _ce("best bid")
    ce_ask: float = _ce("best ask")
    ce_bid_qty: float = _ce("bid quantity in units (50 lots)")
    ce_ask_qty: float = _ce("ask quantity in units (50 lots)")
    ce_volume: float = _ce("the session's volume, in units")
    ce_oi: float = _ce("open interest, in units")
    ce_oi_change: float = _ce("open interest change since the previous session")
    ce_change_in_oi: float = _ce("the same as oi_change")
    ce_change: float = _ce("ltp - prev_close")
    ce_change_percent: float = _ce("change in % of prev_close")
    ce_iv: float | None = _ce(
        "implied volatility, %; null when no volatility reproduces a live price"
    )
    ce_delta: float = _ce("delta")
    ce_gamma: float = _ce("gamma")
    ce_theta: float = _ce("theta, per calendar day")
    ce_vega: float = _ce("vega, per volatility point")
    ce_rho: float = _ce("rho, per percentage point of rate")
    ce_open: float = _ce("the session's open")
    ce_high: float = _ce("the session's high")
    ce_low: float = _ce("the session's low")
    ce_close: float = _ce("the last price")
    ce_prev_open: float = _ce("the previous session's open")
    ce_prev_high: float = _ce("the previous session's high")
    ce_prev_low: float = _ce("the previous session's low")
    ce_prev_close: float = _ce("the previous session's close (ltp - change)")
    ce_intrinsic: float = _ce("intrinsic value at the spot price")
    ce_time_val: float = _ce("ltp - intrinsic: the time value")
    pe_tradingsymbol: str = _pe("the option's trading symbol")
    pe_label: str = _pe("ATM, ITMn or OTMn")
    pe_source: Literal["live", "model"] = _pe("live (the feed's quote) or model (Black-Scholes)")
    pe_ltp: float = _pe("last traded price, premium per unit")
    pe_bid: float = _pe("best bid")
    pe_ask: float = _pe("best ask")
    pe_bid_qty: float = _pe("bid quantity in units (50 lots)")
    pe_ask_qty: float = _pe("ask quantity in units (50 lots)")
    pe_volume: float = _pe("the session's volume, in units")
    pe_oi: float = _pe("open interest, in units")
    pe_oi_change: float = _pe("open interest change since the previous session")
    pe_change_in_oi: float = _pe("the same as oi_change")
    pe_change: float = _pe("ltp - prev_close")
    pe_change_percent: float = _pe("change in % of prev_close")
    pe_iv: float | None = _pe(
        "implied volatility, %; null when no volatility reproduces a live price"
    )
    pe_delta: float = _pe("delta")
    pe_gamma: float = _pe("gamma")
    pe_theta: float = _pe("theta, per calendar day")
    pe_vega: float = _pe("vega, per volatility point")
    pe_rho: float = _pe("rho, per percentage point of rate")
    pe_open: float = _pe("the session's open")
    pe_high: float = _pe("the session's high")
    pe_low: float = _pe("the session's low")
    pe_close: float = _pe("the last price")
    pe_prev_open: float = _pe("the previous session's open")
    pe_prev_high: float = _pe("the previous session's high")
    pe_prev_low: float = _pe("the previous session's low")
    pe_prev_close: float = _pe("the previous session's close (ltp - change)")
    pe_intrinsic: float = _pe("intrinsic value at the spot price")
    pe_time_val: float = _pe("ltp - intrinsic: the time value")


class FlatChainRead(BaseModel):
    """A chain as smd-options' ``/api/real-data/option-chain`` answers it: the rows flat, with
    the totals, PCR and max pain computed from them."""

    symbol: str = Field(description="The underlying")
    expiry: date = Field(description="The expiry date (YYYY-MM-DD)")
    monthly: bool = Field(description="Whether it is the month's last expiry")
    spot_price: float = Field(description="The underlying's last price, in its currency (INR)")
    previous_close: float = Field(description="The underlying's previous session close")
    change: float = Field(description="spot_price - previous_close")
    change_percent: float = Field(description="change in % of previous_close")
    atm_strike: float = Field(description="The strike nearest the spot")
    days_to_expiry: float = Field(description="Calendar days to the expiry instant, fractional")
    lot_size: float = Field(description="Units per lot")
    total_ce_oi: float = Field(description="Calls' open interest over the rows, in units")
    total_pe_oi: float = Field(description="Puts' open interest over the rows, in units")
    total_ce_volume: float = Field(description="Calls' volume over the rows, in units")
    total_pe_volume: float = Field(description="Puts' volume over the rows, in units")
    pcr_oi: float | None = Field(description="total_pe_oi / total_ce_oi; null without call OI")
    pcr_volume: float | None = Field(
        description="total_pe_volume / total_ce_volume; null without call volume"
    )
    max_pain: float | None = Field(
        description="The strike at which option holders would be paid the least at expiry; "
        "null without open interest"
    )
    timestamp: datetime = Field(description="The instant priced (market clock, UTC)")
    option_chain: list[ChainRowRead] = Field(description="One row per strike, ascending")


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


# Answers as /docs shows them (``api.examples``, one strike of 41); tests/api/test_reference.py
# checks each against its model.
_CALL: dict[str, Any] = {
    "tradingsymbol": "NIFTY2612029300CE",
    "ltp": 173.75,
    "bid": 173.05,
    "ask": 174.45,
    "change": 86.15,
    "volume": 2186535.0,
    "oi": 3110770.0,
    "change_in_oi": -1469715.0,
    "iv": 9.74,
    "delta": 0.5543,
    "gamma": 0.001062,
    "theta": -13.9885,
    "vega": 15.087,
    "rho": 2.7259,
    "label": "ATM",
    "source": "model",
}
_PUT: dict[str, Any] = {
    **_CALL,
    "tradingsymbol": "NIFTY2612029300PE",
    "ltp": 125.3,
    "bid": 124.8,
    "ask": 125.8,
    "change": -108.0,
    "volume": 2936115.0,
    "oi": 4384250.0,
    "change_in_oi": 1030575.0,
    "delta": -0.4455,
    "theta": -10.1409,
    "rho": -2.236,
}
CHAIN: dict[str, Any] = {
    "symbol": "NIFTY",
    "expiry": "2026-01-20",
    "monthly": False,
    "spot_price": 29324.65,
    "atm_strike": 29300.0,
    "days_to_expiry": 6.1875,
    "lot_size": 65.0,
    "timestamp": "2026-01-14T05:30:00Z",
    "strikes": [{"strike": 29300.0, "label": "ATM", "CE": _CALL, "PE": _PUT}],
}
CHAIN_ENVELOPE: dict[str, Any] = {
    "success": True,
    "message": "Option chain retrieved",
    "timestamp": "2026-01-14T05:30:00.298+00:00",
    "data": CHAIN,
    "meta": {"symbol": "NIFTY", "expiry": "2026-01-20"},
}
_ROW: dict[str, Any] = {
    "strike_price": 29300.0,
    **{
        f"{side}_{name}": value
        for side, option in (("ce", _CALL), ("pe", _PUT))
        for name, value in option.items()
        if name != "change_in_oi"
    },
    "ce_bid_qty": 3250.0,
    "ce_ask_qty": 3250.0,
    "ce_oi_change": -1469715.0,
    "ce_change_in_oi": -1469715.0,
    "ce_change_percent": 98.34,
    "ce_open": 100.2,
    "ce_high": 193.95,
    "ce_low": 86.35,
    "ce_close": 173.75,
    "ce_prev_open": 124.45,
    "ce_prev_high": 215.8,
    "ce_prev_low": 69.95,
    "ce_prev_close": 87.6,
    "ce_intrinsic": 24.65,
    "ce_time_val": 149.1,
    "pe_bid_qty": 3250.0,
    "pe_ask_qty": 3250.0,
    "pe_oi_change": 1030575.0,
    "pe_change_in_oi": 1030575.0,
    "pe_change_percent": -46.29,
    "pe_open": 192.75,
    "pe_high": 212.8,
    "pe_low": 113.4,
    "pe_close": 125.3,
    "pe_prev_open": 183.65,
    "pe_prev_high": 266.75,
    "pe_prev_low": 115.65,
    "pe_prev_close": 233.3,
    "pe_intrinsic": 0.0,
    "pe_time_val": 125.3,
}
FLAT_CHAIN_ENVELOPE: dict[str, Any] = {
    "success": True,
    "message": "Option chain retrieved",
    "timestamp": "2026-01-14T05:30:00.308+00:00",
    "data": {
        "symbol": "NIFTY",
        "expiry": "2026-01-20",
        "monthly": False,
        "spot_price": 29324.65,
        "previous_close": 29127.3,
        "change": 197.35,
        "change_percent": 0.68,
        "atm_strike": 29300.0,
        "days_to_expiry": 6.1875,
        "lot_size": 65.0,
        "total_ce_oi": 109339295.0,
        "total_pe_oi": 106640755.0,
        "total_ce_volume": 71448065.0,
        "total_pe_volume": 78103090.0,
        "pcr_oi": 0.9753195774675518,
        "pcr_volume": 1.0931449298172036,
        "max_pain": 29250.0,
        "timestamp": "2026-01-14T05:30:00Z",
        "option_chain": [_ROW],
    },
    "meta": {"symbol": "NIFTY", "expiry": "2026-01-20", "total_strikes": 41},
}
