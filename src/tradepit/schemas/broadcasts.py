"""Shapes of sending and broadcasting orders (mt5-copier's send_orders, broadcast_orders)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tradepit.domain.lots import MAX_ENTRIES
from tradepit.schemas.calculator import Price, Symbol, entry_prices
from tradepit.schemas.wallets import PLAIN, Money

Lots = Annotated[Decimal, Field(gt=0, le=10**6, decimal_places=8, allow_inf_nan=False), PLAIN]
Percent = Annotated[Decimal, Field(gt=0, le=100, decimal_places=4, allow_inf_nan=False), PLAIN]
Ids = Annotated[list[Annotated[int, Field(ge=1, le=2**31 - 1)]], Field(max_length=10_000)]
BrokerSymbol = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:/\-]{1,40}$")]


class Sizing(BaseModel):
    """How much one account trades: fixed lots, the master's lots times a multiplier, or a
    risk percent of the account's balance through the calculator."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)
    lots: Lots | None = None
    multiplier: Lots | None = None
    risk_percent: Percent | None = Field(default=None, alias="riskPercent")
    symbol: BrokerSymbol | None = Field(
        default=None, description="This account's symbol at its broker, e.g. EURUSD.vip"
    )


class OrderPlan(BaseModel):
    """An order: symbol, side, entries, stop loss, take profit and how much to trade."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)
    symbol: Symbol
    side: Literal["BUY", "SELL"]
    entries: list[Price] = Field(
        default_factory=list,
        max_length=MAX_ENTRIES,
        description="Entry prices; also accepted as entryPrice1, entryPrice2…",
    )
    stop_loss: Price | None = Field(default=None, alias="stopLoss")
    take_profit: Price | None = Field(default=None, alias="takeProfit")
    lots: Lots | None = None
    multiplier: Lots | None = None
    risk_percent: Percent | None = Field(default=None, alias="riskPercent")
    min_lot: Lots | None = None
    max_lot: Lots | None = None

    @model_validator(mode="before")
    @classmethod
    def _entries(cls, data: Any) -> Any:
        return entry_prices(data)

    @field_validator("side", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_mode(self) -> OrderPlan:
        if (self.lots is None) == (self.risk_percent is None):
            raise ValueError("give lots (with an optional multiplier) or riskPercent")
        if self.multiplier is not None and self.lots is None:
            raise ValueError("multiplier multiplies the master's lots: give lots too")
        if self.risk_percent is not None and (self.stop_loss is None or not self.entries):
            raise ValueError("riskPercent needs stopLoss and at least one entry price")
        if self.min_lot and self.max_lot and self.min_lot > self.max_lot:
            raise ValueError("min_lot must not exceed max_lot")
        return self


class SendOrders(OrderPlan):
    """An order for some of my own accounts."""

    model_config = ConfigDict(
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        json_schema_extra={
            "examples": [
                {"symbol": "XAUUSD", "side": "BUY", "entryPrice1": 2350, "stopLoss": 2340,
                 "takeProfit": 2380, "riskPercent": 1, "accounts": [1, 2]}
            ]
        },
    )  # fmt: skip
    accounts: Ids = Field(min_length=1, description="Ids of my accounts")


class BroadcastCreate(OrderPlan):
    """An order for many users' accounts: all active ones, or the users or accounts listed;
    ``overrides`` sets one account's sizing or broker symbol."""

    model_config = ConfigDict(
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        json_schema_extra={
            "examples": [
                {"symbol": "EURUSD", "side": "BUY", "entryPrice1": 1.1, "stopLoss": 1.095,
                 "takeProfit": 1.11, "lots": 0.1, "multiplier": 2}
            ]
        },
    )  # fmt: skip
    target_users: Ids | None = None
    target_accounts: Ids | None = None
    overrides: dict[Annotated[str, Field(pattern=r"^[1-9][0-9]{0,9}$")], Sizing] = Field(
        default_factory=dict, max_length=10_000
    )


class CloseShare(BaseModel):
    """Close this share of every account's position of a broadcast."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"fraction": 0.5}]})
    fraction: Annotated[Decimal, Field(gt=0, le=1, decimal_places=4, allow_inf_nan=False), PLAIN]


class TargetRead(BaseModel):
    """One account's share of a broadcast."""

    id: int
    broadcast_id: int
    target_user_id: int
    account_id: int
    status: str
    symbol: str
    lots: Money | None
    closed_lots: Money = Field(
        description="On an opening target: the lots its closes have taken (queued, sent, "
        "executed, or failed and kept for a retry); never more than lots"
    )
    attempts: int
    error_message: str | None
    broker_order_id: str | None
    executed_at: datetime | None


class BroadcastRead(BaseModel):
    """A broadcast and its progress."""

    id: int
    admin_user_id: int
    kind: str
    parent_id: int | None
    symbol: str
    side: str
    order: dict[str, Any]
    created_at: datetime
    progress: dict[str, int]


class BroadcastStatus(BaseModel):
    """Broadcasts and their targets."""

    broadcasts: list[BroadcastRead]
    targets: list[TargetRead]


class SendResult(BaseModel):
    """What one account's broker answered."""

    account_id: int
    status: Literal["executed", "failed"]
    symbol: str
    lots: Money | None
    order_id: str | None
    error_message: str | None
