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
    price: Amount | None = None
    points: Amount | None = None
    percent: Percent | None = None

    @model_validator(mode="after")
    def _one(self) -> LegSpec:
        if sum(v is not None for v in (self.price, self.points, self.percent)) != 1:
            raise ValueError("give exactly one of price, points or percent")
        return self


class TrailSpec(BaseModel):
    """A trailing stop's distance behind the best price since the entry."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"percent": "1.5"}]})
    points: Amount | None = None
    percent: Percent | None = None

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
    symbol: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    instrument_type: (
        Annotated[str, StringConstraints(max_length=16, pattern=r"^[A-Za-z_]*$")] | None
    ) = None
    order_type: OrderType
    order_side: Side = Field(description="BUY or SELL; ``side`` is read the same")
    quantity: Amount
    price: Amount | None = None
    trigger_price: Amount | None = None
    product: Product | None = Field(
        default=None, description="MIS, CNC or NRML; your settings' default_product when left out"
    )
    validity: Validity = Validity.DAY
    client_order_id: ClientId | None = None
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
    quantity: Amount | None = None
    price: Amount | None = None
    trigger_price: Amount | None = None


class FillRead(BaseModel):
    """One execution."""

    quantity: Money
    price: Money
    charges: Money
    liquidity: str
    at: datetime


class OrderRead(BaseModel):
    """An order as its owner sees it."""

    id: int
    client_order_id: str | None
    symbol: str
    order_type: OrderType
    order_side: Side
    product: Product
    validity: Validity
    quantity: Money
    filled_quantity: Money
    price: Money | None
    trigger_price: Money | None
    average_price: Money | None
    status: str
    reason: str | None
    charges: Money
    tournament_id: int | None
    parent_id: int | None = Field(default=None, description="A bracket leg's entry order")
    leg: str | None = Field(default=None, description="take_profit or stop_loss for a leg")
    bracket: dict[str, dict[str, Money]] | None = Field(
        default=None, description="The legs asked for (entry), or a leg's trailing stop"
    )
    created_at: datetime
    updated_at: datetime
    fills: list[FillRead] | None = None


class PositionRead(BaseModel):
    """A net position marked to the last price."""

    id: int = Field(description="The position's id (POST .../positions/{id}/close takes it)")
    user_id: int
    tournament_id: int | None = None
    symbol: str
    tradingsymbol: str = Field(description="The same as symbol (the frontend's name)")
    exchange: str = Field(description="Where it trades: NSE, BSE, NFO, BFO, OKX, FX")
    instrument_type: str = Field(description="INDEX, EQ, FUT, CE, PE, CRYPTO or FOREX")
    product: Product
    currency: str
    quantity: Money
    multiplier: Money = Field(description="Contract size: money = price × quantity × this")
    average_price: Money
    ltp: Money
    current_price: Money = Field(description="The same as ltp (the frontend's name)")
    realized_pnl: Money = Field(description="Net of charges")
    unrealized_pnl: Money
    pnl: Money = Field(description="realized_pnl + unrealized_pnl")
    charges: Money


class PortfolioCurrency(BaseModel):
    """The portfolio's figures in one currency."""

    currency: str
    cash: Money
    positions_value: Money
    equity: Money
    realized_pnl: Money
    unrealized_pnl: Money
    #: What open positions block as margin (shorts, futures, intraday longs, options sold).
    margin_used: Money = Decimal(0)


class PortfolioRead(BaseModel):
    """Equity, cash and P&L per currency, and every position; and the paper-tournaments
    frontend's summary of the INR account, as JSON numbers."""

    currencies: list[PortfolioCurrency]
    positions: list[PositionRead]
    total_value: float | None = Field(default=None, description="INR equity")
    cash_balance: float | None = Field(default=None, description="INR cash")
    positions_value: float | None = Field(default=None, description="INR positions value")
    total_pnl: float | None = Field(default=None, description="INR realized + unrealized P&L")


class PnlRead(BaseModel):
    """The P&L the frontend's P&L widget shows (JSON numbers): unrealized on open positions,
    realized (net of charges), and their sum."""

    currency: str
    unrealised: float
    realised: float
    total: float
