"""Shapes of sending and broadcasting orders (mt5-copier's send_orders, broadcast_orders)."""

from __future__ import annotations

import re
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
#: mt5-copier's page sends up to five take-profit levels, ``tp1`` … ``tp5``.
TAKE_PROFIT_LEVELS = 5
_LEVEL = re.compile(r"^tp(\d+)$")
LEVELS_NOTE = (
    "Take-profit level (mt5-copier's page). The first level given is the order's takeProfit "
    "(when takeProfit is left out); the others are kept with the order, not placed: each "
    "account gets one order"
)


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
    """An order: symbol, side, entries, stop loss, take profit and how much to trade.

    Fields it does not know are ignored (a client may echo back what an answer showed)."""

    model_config = ConfigDict(extra="ignore", validate_by_name=True, validate_by_alias=True)
    symbol: Symbol
    side: Literal["BUY", "SELL"] | None = Field(
        default=None,
        description="Left out (mt5-copier's page sends none): BUY when stopLoss is below every "
        "entry price, SELL when above every one",
    )
    entries: list[Price] = Field(
        default_factory=list,
        max_length=MAX_ENTRIES,
        description="Entry prices; also accepted as entryPrice1, entryPrice2…",
    )
    stop_loss: Price | None = Field(default=None, alias="stopLoss")
    take_profit: Price | None = Field(default=None, alias="takeProfit")
    tp1: Price | None = Field(default=None, description=LEVELS_NOTE)
    tp2: Price | None = Field(default=None, description=LEVELS_NOTE)
    tp3: Price | None = Field(default=None, description=LEVELS_NOTE)
    tp4: Price | None = Field(default=None, description=LEVELS_NOTE)
    tp5: Price | None = Field(default=None, description=LEVELS_NOTE)
    lots: Lots | None = None
    multiplier: Lots | None = None
    risk_percent: Percent | None = Field(default=None, alias="riskPercent")
    portfolio_size: Price | None = Field(
        default=None,
        alias="portfolioSize",
        description="With riskPercent: the balance the percent is of, the same for every "
        "account (the calculator's portfolioSize, so each trades the lots it showed); left "
        "out, each account's own balance at its broker",
    )
    min_lot: Lots | None = None
    max_lot: Lots | None = None

    @model_validator(mode="before")
    @classmethod
    def _entries(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                level = _LEVEL.match(key) if isinstance(key, str) else None
                if level and not 1 <= int(level[1]) <= TAKE_PROFIT_LEVELS:
                    raise ValueError(f"{key}: take-profit levels are tp1 to tp{TAKE_PROFIT_LEVELS}")
        return entry_prices(data)

    @property
    def take_profit_levels(self) -> list[Decimal]:
        """Return the take-profit levels given (tp1 … tp5), in order."""
        levels = (self.tp1, self.tp2, self.tp3, self.tp4, self.tp5)
        return [level for level in levels if level is not None]

    @property
    def order_side(self) -> Literal["BUY", "SELL"]:
        """Return the side, given or inferred (a validated plan always has one)."""
        assert self.side is not None
        return self.side

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
        if self.portfolio_size is not None and self.risk_percent is None:
            raise ValueError("portfolioSize is the balance riskPercent is of: give riskPercent")
        levels = self.take_profit_levels
        if levels and self.take_profit is None:
            self.take_profit = levels[0]
        elif levels and self.take_profit != levels[0]:
            raise ValueError("takeProfit and the first take-profit level (tp1) differ: send one")
        if self.side is None:
            self.side = self._inferred_side()
        return self

    def _inferred_side(self) -> Literal["BUY", "SELL"]:
        stop = self.stop_loss
        if stop is not None and self.entries:
            if all(entry > stop for entry in self.entries):
                return "BUY"
            if all(entry < stop for entry in self.entries):
                return "SELL"
        raise ValueError(
            "give side (BUY or SELL): it is inferred only from a stopLoss below every entry "
            "price (BUY) or above every one (SELL)"
        )


class SendOrders(OrderPlan):
    """An order for some of my own accounts: those listed, or the one my token names."""

    model_config = ConfigDict(
        extra="ignore",
        validate_by_name=True,
        validate_by_alias=True,
        json_schema_extra={
            "examples": [
                {"symbol": "XAUUSD", "side": "BUY", "entryPrice1": 2350, "stopLoss": 2340,
                 "takeProfit": 2380, "riskPercent": 1, "accounts": [1, 2]},
                {"symbol": "XAUUSD", "entryPrice1": "2650.00", "stopLoss": "2640.00",
                 "portfolioSize": "1000", "riskPercent": "2", "tp1": "2660", "tp2": "2670",
                 "tp3": "2680", "accounts": [1]},
            ]
        },
    )  # fmt: skip
    accounts: Annotated[Ids, Field(min_length=1)] | None = Field(
        default=None,
        description="Ids of my accounts; left out, the account my token names (the token "
        "POST /api/accounts/{id}/connect answers)",
    )


class BroadcastCreate(OrderPlan):
    """An order for many users' accounts: all active ones, or the users or accounts listed;
    ``overrides`` sets one account's sizing or broker symbol."""

    model_config = ConfigDict(
        extra="ignore",
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


class BroadcastCreated(BroadcastStatus):
    """A queued broadcast, with mt5-copier's summary of it."""

    message: str
    target_users: int = Field(description="How many users' accounts the broadcast targets")
    executed_successfully: int = Field(
        description="Targets executed when this was answered: 0, the queue sends them next "
        "(broadcast_status follows them)"
    )
    timestamp: datetime


class BroadcastStatistic(BaseModel):
    """How many targets of the last 24 hours' broadcasts are in one state."""

    status: str
    count: int
    latest: datetime = Field(description="When the newest of their broadcasts was created")


class BroadcastUser(BaseModel):
    """A user that a broadcast to every active account reaches (mt5-copier's broadcast
    users): one who owns an active linked account."""

    id: int
    username: str
    last_login: datetime | None
    is_active: bool


class BroadcastStatusRead(BroadcastStatus):
    """Broadcasts and their targets, with mt5-copier's statistics and broadcast users."""

    broadcast_statistics: list[BroadcastStatistic] = Field(
        description="Targets by state, of the broadcasts of the last 24 hours that the caller "
        "sees (a superadmin: all; a user: their own targets)"
    )
    broadcast_users: list[BroadcastUser] = Field(
        description="Who a broadcast to every active account reaches (a user: only themselves)"
    )
    timestamp: datetime


class SendResult(BaseModel):
    """What one account's broker answered."""

    account_id: int
    status: Literal["executed", "failed"]
    symbol: str
    lots: Money | None
    order_id: str | None
    error_message: str | None
