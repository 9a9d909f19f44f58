"""Shapes of orders, fills, positions and the portfolio. Money and quantities are strings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tradepit.domain.orders import OrderType, Product, Side, Validity
from tradepit.schemas.wallets import Money

Amount = Annotated[Decimal, Field(gt=0, max_digits=19, decimal_places=8, allow_inf_nan=False)]


class OrderCreate(BaseModel):
    """A paper order (paper-tournaments' body plus product, validity and client_order_id)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
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
            ]
        },
    )
    symbol: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    instrument_type: (
        Annotated[str, StringConstraints(max_length=16, pattern=r"^[A-Za-z_]*$")] | None
    ) = None
    order_type: OrderType
    order_side: Side
    quantity: Amount
    price: Amount | None = None
    trigger_price: Amount | None = None
    product: Product | None = Field(
        default=None, description="MIS, CNC or NRML; your settings' default_product when left out"
    )
    validity: Validity = Validity.DAY
    client_order_id: (
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")] | None
    ) = None


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
    created_at: datetime
    updated_at: datetime
    fills: list[FillRead] | None = None


class PositionRead(BaseModel):
    """A net position marked to the last price."""

    symbol: str
    product: Product
    currency: str
    quantity: Money
    average_price: Money
    ltp: Money
    realized_pnl: Money = Field(description="Net of charges")
    unrealized_pnl: Money
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
    """Equity, cash and P&L per currency, and every position."""

    currencies: list[PortfolioCurrency]
    positions: list[PositionRead]
