"""Shapes of orders, fills, positions and the portfolio. Money and quantities are strings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from tradepit.domain.orders import OrderType, Product, Side, Validity
from tradepit.schemas.wallets import PLAIN, Money

Amount = Annotated[
    Decimal, Field(gt=0, max_digits=19, decimal_places=8, allow_inf_nan=False), PLAIN
]
Percent = Annotated[Decimal, Field(gt=0, lt=100, decimal_places=4, allow_inf_nan=False), PLAIN]
#: A client's own id for a request it may retry (``client_order_id``, ``client_bet_id``).
ClientId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")]


class LegSpec(BaseModel):
    """A bracket leg: an absolute price, or a distance from the entry's fill price."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"points": "25"}]})
    price: Amount | None = Field(default=None, description="The leg's price (a stop's trigger)")
    points: Amount | None = Field(
        default=None, description="Distance from the entry's fill price, in price units"
    )
    percent: Percent | None = Field(
        default=None, description="Distance from the entry's fill price, in % of it"
    )

    @model_validator(mode="after")
    def _one(self) -> LegSpec:
        if sum(v is not None for v in (self.price, self.points, self.percent)) != 1:
            raise ValueError("give exactly one of price, points or percent")
        return self


class TrailSpec(BaseModel):
    """A trailing stop's distance behind the best price since the entry."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"percent": "1.5"}]})
    points: Amount | None = Field(default=None, description="Distance in price units")
    percent: Percent | None = Field(default=None, description="Distance in % of the best price")

    @model_validator(mode="after")
    def _one(self) -> TrailSpec:
        if (self.points is None) == (self.percent is None):
            raise ValueError("give exactly one of points or percent")
        return self


def _price_leg(value: object) -> object:
    """Read a bare number (the paper-tournaments frontend's ``stop_loss: 24000``) as the leg's
    absolute price, ``{"price": 24000}``."""
    if value is None or isinstance(value, dict | LegSpec):
        return value
    return {"price": value}


def _leg_schema(schema: dict[str, Any]) -> None:
    """Show in the OpenAPI schema that a leg may also be a bare price."""
    schema.setdefault("anyOf", []).insert(-1, {"type": "number", "exclusiveMinimum": 0})


def _either_side(schema: dict[str, Any]) -> None:
    """The examples, and ``order_side`` or its alias ``side``: one of them is required."""
    schema["examples"] = OrderCreate.EXAMPLES
    properties = schema.setdefault("properties", {})
    properties["side"] = {
        **properties.get("order_side", {}),
        "description": "The same as order_side (the paper-tournaments frontend's name)",
    }
    required = schema.get("required", [])
    if "order_side" in required:
        required.remove("order_side")
    schema["anyOf"] = [{"required": ["order_side"]}, {"required": ["side"]}]


class OrderCreate(BaseModel):
    """A paper order (paper-tournaments' body plus product, validity and client_order_id)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_either_side)
    #: The bodies /docs shows ("Try it out" sends them; tests/api/test_examples.py too).
    EXAMPLES: ClassVar[list[dict[str, Any]]] = [
        {
            "symbol": "NIFTY 50",
            "instrument_type": "INDEX",
            "order_type": "MARKET",
            "order_side": "BUY",
            "quantity": 1,
        },
        {
            "symbol": "RELIANCE",
            "order_type": "MARKET",
            "order_side": "BUY",
            "quantity": "10",
            "product": "CNC",
            "client_order_id": "my-order-0001",
        },
        {
            "symbol": "INFY",
            "order_type": "LIMIT",
            "order_side": "BUY",
            "quantity": "5",
            "price": "1500",
            "product": "MIS",
            "take_profit": {"percent": "2"},
            "stop_loss": {"points": "15"},
            "trailing_stop": {"points": "10"},
        },
    ]
    symbol: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)
    ] = Field(description="A catalogue symbol or alias (RELIANCE, BTC-USDT, NIFTY2612029300CE)")
    instrument_type: (
        Annotated[str, StringConstraints(max_length=16, pattern=r"^[A-Za-z_]*$")] | None
    ) = Field(
        default=None,
        description="Accepted and ignored (the paper-tournaments frontend sends it): the "
        "symbol decides",
    )
    order_type: OrderType = Field(
        description="MARKET fills now; LIMIT rests at price; STOP_LOSS (a LIMIT at price) and "
        "STOP_LOSS_MARKET wait for trigger_price"
    )
    order_side: Side = Field(description="BUY or SELL; ``side`` is read the same")
    quantity: Amount = Field(
        description="Units to trade (shares, option or future units, coins, FX lots), a "
        "multiple of the lot size"
    )
    price: Amount | None = Field(
        default=None, description="Limit price, in the instrument's currency (LIMIT, STOP_LOSS)"
    )
    trigger_price: Amount | None = Field(
        default=None,
        description="Price that activates a stop, in the instrument's currency (STOP_LOSS, "
        "STOP_LOSS_MARKET)",
    )
    product: Product | None = Field(
        default=None, description="MIS, CNC or NRML; your settings' default_product when left out"
    )
    validity: Validity = Field(
        default=Validity.DAY,
        description="DAY (until the session closes), IOC (fill what can be filled now, cancel "
        "the rest) or GTC (until cancelled)",
    )
    client_order_id: ClientId | None = Field(
        default=None,
        description="Your id for this order (1-64 of A-Z a-z 0-9 _ . : -): a retry with the "
        "same id and body returns the first order (200)",
    )
    take_profit: Annotated[LegSpec | None, BeforeValidator(_price_leg)] = Field(
        default=None,
        description="Bracket: a LIMIT that closes the position at a profit (a bare number is "
        "its price)",
        json_schema_extra=_leg_schema,
    )
    stop_loss: Annotated[LegSpec | None, BeforeValidator(_price_leg)] = Field(
        default=None,
        description="Bracket: a stop that closes the position at a loss (a bare number is its "
        "trigger price)",
        json_schema_extra=_leg_schema,
    )
    trailing_stop: TrailSpec | None = Field(
        default=None,
        description="Bracket: a stop that follows the best price since the entry by this "
        "distance (with stop_loss too, the stop starts there and only tightens)",
    )
    tournament_id: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="Trade your isolated wallet in this running tournament, under its rules",
    )

    @model_validator(mode="before")
    @classmethod
    def _side_alias(cls, data: Any) -> Any:
        """Read ``side`` (the paper-tournaments frontend's name) as ``order_side``."""
        if not isinstance(data, dict) or "side" not in data:
            return data
        data = dict(data)
        side = data.pop("side")
        if "order_side" in data and data["order_side"] != side:
            raise ValueError("order_side and side name different sides: give one of them")
        data["order_side"] = side
        return data


class OrderModify(BaseModel):
    """New price, quantity or trigger for an open order; fields left out stay as they are."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"price": "1520.5", "quantity": "20"}]}
    )
    quantity: Amount | None = Field(default=None, description="New total quantity, in units")
    price: Amount | None = Field(default=None, description="New limit price")
    trigger_price: Amount | None = Field(default=None, description="New trigger price")


class FillRead(BaseModel):
    """One execution."""

    quantity: Money = Field(description="Units filled (decimal string)")
    price: Money = Field(description="Fill price, in the instrument's currency (decimal string)")
    charges: Money = Field(
        description="Brokerage, taxes and fees of this fill, in the instrument's currency "
        "(decimal string)"
    )
    liquidity: str = Field(
        description="taker (crossed the spread) or maker (a resting order filled)"
    )
    at: datetime = Field(description="When it filled (market clock, UTC, ISO 8601)")


class OrderRead(BaseModel):
    """An order as its owner sees it."""

    id: int = Field(description="The order's id")
    client_order_id: str | None = Field(description="Your id for it, if you gave one")
    symbol: str = Field(description="The instrument's catalogue symbol")
    order_type: OrderType = Field(description="MARKET, LIMIT, STOP_LOSS or STOP_LOSS_MARKET")
    order_side: Side = Field(description="BUY or SELL")
    product: Product = Field(
        description="MIS (intraday), CNC (delivery) or NRML (carry-forward derivatives)"
    )
    validity: Validity = Field(description="DAY, IOC or GTC")
    quantity: Money = Field(description="Units ordered (decimal string)")
    filled_quantity: Money = Field(description="Units filled so far (decimal string)")
    price: Money | None = Field(
        description="Limit price, in the instrument's currency (decimal string); null for "
        "MARKET and STOP_LOSS_MARKET"
    )
    trigger_price: Money | None = Field(
        description="Stop trigger, in the instrument's currency (decimal string); null "
        "unless a stop"
    )
    average_price: Money | None = Field(
        description="Volume-weighted fill price (decimal string); null until a fill"
    )
    status: str = Field(
        description="amo (after-market, waits for the session), open, partially_filled, "
        "filled, cancelled, rejected or expired"
    )
    reason: str | None = Field(description="Why it was cancelled, rejected or expired")
    charges: Money = Field(
        description="Charges of every fill, in the instrument's currency (decimal string)"
    )
    tournament_id: int | None = Field(
        description="The tournament whose isolated wallet it trades, or null"
    )
    parent_id: int | None = Field(default=None, description="A bracket leg's entry order")
    leg: str | None = Field(default=None, description="take_profit or stop_loss for a leg")
    bracket: dict[str, dict[str, Money]] | None = Field(
        default=None, description="The legs asked for (entry), or a leg's trailing stop"
    )
    created_at: datetime = Field(description="When it was placed (market clock, UTC)")
    updated_at: datetime = Field(description="Its last change (market clock, UTC)")
    fills: list[FillRead] | None = Field(
        default=None, description="Its executions, oldest first; null in lists of orders"
    )


class PositionRead(BaseModel):
    """A net position marked to the last price."""

    id: int = Field(description="The position's id (POST .../positions/{id}/close takes it)")
    user_id: int = Field(description="The owner's user id")
    tournament_id: int | None = Field(
        default=None, description="The tournament entry it belongs to, or null"
    )
    symbol: str = Field(description="The instrument's catalogue symbol")
    tradingsymbol: str = Field(description="The same as symbol (the frontend's name)")
    exchange: str = Field(description="Where it trades: NSE, BSE, NFO, BFO, OKX, FX")
    instrument_type: str = Field(description="INDEX, EQ, FUT, CE, PE, CRYPTO or FOREX")
    product: Product = Field(description="MIS, CNC or NRML")
    currency: str = Field(description="The instrument's currency: INR, USDT or USD")
    quantity: Money = Field(
        description="Net units held (decimal string): positive long, negative short, 0 closed"
    )
    multiplier: Money = Field(description="Contract size: money = price × quantity × this")
    average_price: Money = Field(description="Average entry price of the open quantity")
    ltp: Money = Field(description="Last traded price the position is marked to")
    current_price: Money = Field(description="The same as ltp (the frontend's name)")
    realized_pnl: Money = Field(description="Net of charges")
    unrealized_pnl: Money = Field(
        description="(ltp - average_price) × quantity × multiplier, in its currency"
    )
    pnl: Money = Field(description="realized_pnl + unrealized_pnl")
    charges: Money = Field(description="Charges paid on its fills, in its currency")


class PortfolioCurrency(BaseModel):
    """The portfolio's figures in one currency."""

    currency: str = Field(description="INR, USDT or USD; every figure here is in it")
    cash: Money = Field(description="The wallet's cash (decimal string)")
    positions_value: Money = Field(
        description="What the positions add to equity, marked to the last price"
    )
    equity: Money = Field(description="cash + positions_value")
    realized_pnl: Money = Field(description="Closed P&L, net of charges")
    unrealized_pnl: Money = Field(description="Open P&L at the last price")
    #: What open positions block as margin (shorts, futures, intraday longs, options sold).
    margin_used: Money = Field(
        default=Decimal(0),
        description="Margin open positions block (shorts, futures, intraday longs, options sold)",
    )


class PortfolioRead(BaseModel):
    """Equity, cash and P&L per currency, and every position; and the paper-tournaments
    frontend's summary of the INR account, as JSON numbers."""

    currencies: list[PortfolioCurrency] = Field(description="One line per wallet currency")
    positions: list[PositionRead] = Field(description="Every position, marked to the last price")
    total_value: float | None = Field(default=None, description="INR equity")
    cash_balance: float | None = Field(default=None, description="INR cash")
    positions_value: float | None = Field(default=None, description="INR positions value")
    total_pnl: float | None = Field(default=None, description="INR realized + unrealized P&L")


class PnlRead(BaseModel):
    """The P&L the frontend's P&L widget shows (JSON numbers): unrealized on open positions,
    realized (net of charges), and their sum."""

    currency: str = Field(
        description="The currency of the figures: INR, or a tournament's own currency"
    )
    unrealised: float = Field(description="Open P&L at the last price (JSON number)")
    realised: float = Field(description="Closed P&L, net of charges (JSON number)")
    total: float = Field(description="unrealised + realised (JSON number)")


# Answers as /docs shows them (``api.examples``); tests/api/test_reference.py checks each
# against its model.
ORDER_FILLED: dict[str, Any] = {
    "id": 1,
    "client_order_id": "my-order-0001",
    "symbol": "RELIANCE",
    "order_type": "MARKET",
    "order_side": "BUY",
    "product": "CNC",
    "validity": "DAY",
    "quantity": "10",
    "filled_quantity": "10",
    "price": None,
    "trigger_price": None,
    "average_price": "1184.4",
    "status": "filled",
    "reason": None,
    "charges": "14.04",
    "tournament_id": None,
    "parent_id": None,
    "leg": None,
    "bracket": None,
    "created_at": "2026-01-14T05:30:00Z",
    "updated_at": "2026-01-14T05:30:00Z",
    "fills": [
        {
            "quantity": "10",
            "price": "1184.4",
            "charges": "14.04",
            "liquidity": "taker",
            "at": "2026-01-14T05:30:00Z",
        }
    ],
}
ORDER_OPEN: dict[str, Any] = {
    **ORDER_FILLED,
    "id": 2,
    "client_order_id": None,
    "symbol": "INFY",
    "order_type": "LIMIT",
    "product": "MIS",
    "quantity": "5",
    "filled_quantity": "0",
    "price": "1500",
    "average_price": None,
    "status": "open",
    "charges": "0",
    "bracket": {"take_profit": {"percent": "2"}, "stop_loss": {"points": "15"}},
    "created_at": "2026-01-14T05:31:00Z",
    "updated_at": "2026-01-14T05:31:00Z",
    "fills": [],
}
ORDER_MODIFIED: dict[str, Any] = {
    **ORDER_OPEN,
    "price": "1520.5",
    "quantity": "20",
    "updated_at": "2026-01-14T05:32:00Z",
}
ORDER_CANCELLED: dict[str, Any] = {
    **ORDER_OPEN,
    "status": "cancelled",
    "reason": "cancelled by you",
    "updated_at": "2026-01-14T05:33:00Z",
}
ORDER_CLOSING: dict[str, Any] = {
    **ORDER_FILLED,
    "id": 3,
    "client_order_id": None,
    "order_side": "SELL",
    "average_price": "1190.1",
    "charges": "12.3",
    "created_at": "2026-01-14T06:10:00Z",
    "updated_at": "2026-01-14T06:10:00Z",
    "fills": [
        {
            "quantity": "10",
            "price": "1190.1",
            "charges": "12.3",
            "liquidity": "taker",
            "at": "2026-01-14T06:10:00Z",
        }
    ],
}
ORDERS: list[dict[str, Any]] = [
    {**ORDER_OPEN, "fills": None},
    {**ORDER_FILLED, "fills": None},
]
POSITION: dict[str, Any] = {
    "id": 1,
    "user_id": 1,
    "tournament_id": None,
    "symbol": "RELIANCE",
    "tradingsymbol": "RELIANCE",
    "exchange": "NSE",
    "instrument_type": "EQ",
    "product": "CNC",
    "currency": "INR",
    "quantity": "10",
    "multiplier": "1",
    "average_price": "1184.4",
    "ltp": "1187.9",
    "current_price": "1187.9",
    "realized_pnl": "-14.04",
    "unrealized_pnl": "35",
    "pnl": "20.96",
    "charges": "14.04",
}
PORTFOLIO: dict[str, Any] = {
    "currencies": [
        {
            "currency": "INR",
            "cash": "88141.96",
            "positions_value": "11879",
            "equity": "100020.96",
            "realized_pnl": "-14.04",
            "unrealized_pnl": "35",
            "margin_used": "0",
        },
        {
            "currency": "USDT",
            "cash": "1000",
            "positions_value": "0",
            "equity": "1000",
            "realized_pnl": "0",
            "unrealized_pnl": "0",
            "margin_used": "0",
        },
    ],
    "positions": [POSITION],
    "total_value": 100020.96,
    "cash_balance": 88141.96,
    "positions_value": 11879.0,
    "total_pnl": 20.96,
}
PNL: dict[str, Any] = {"currency": "INR", "unrealised": 35.0, "realised": -14.04, "total": 20.96}
