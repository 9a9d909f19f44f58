"""Shapes of okx-bets' predictions. Money and prices are JSON numbers, as okx-bets documents."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from tradepit.domain.money import as_float
from tradepit.domain.predictions import BetStatus, Direction
from tradepit.schemas.orders import ClientId
from tradepit.schemas.users import NO_NUL, Symbol
from tradepit.schemas.wallets import PLAIN

#: An exact amount shown as a JSON number (okx-bets' ``"balance": 90.0``), converted at the edge.
Number = Annotated[Decimal, PlainSerializer(as_float, return_type=float)]


class BetCreate(BaseModel):
    """okx-bets' bet: who (the caller's telegram handle), how much, which way, for how long."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"telegram": "alice_trades", "amount": 10.0, "direction": "long", "time": 5},
                {
                    "telegram": "alice_trades",
                    "amount": "25.5",
                    "direction": "short",
                    "time": 1,
                    "symbol": "ETH-USDT",
                    "client_bet_id": "my-bet-0001",
                },
            ]
        },
    )
    telegram: Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)]
    amount: Annotated[Decimal, Field(allow_inf_nan=False, description="Stake in USDT"), PLAIN]
    direction: Direction
    time: Annotated[int, Field(description="Duration in minutes (1-60)")]
    symbol: Symbol | None = Field(default=None, description="Default: the server's bet symbol")
    client_bet_id: ClientId | None = Field(
        default=None,
        description="Your id for this bet (1-64 of A-Z a-z 0-9 _ . : -), so that a retry "
        "cannot bet twice: the same id and body again returns the first bet (200) and debits "
        "nothing; the id with another body is 409 DUPLICATE_CLIENT_BET_ID",
    )


class BetRead(BaseModel):
    """A bet and, once resolved, its outcome."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    symbol: str
    direction: Direction
    amount: Number
    duration_minutes: int
    entry_price: Number
    exit_price: Number | None
    placed_at: datetime
    expires_at: datetime
    status: BetStatus
    payout: Number | None
    client_bet_id: str | None = None


class BetPlaced(BetRead):
    """okx-bets' answer to a bet, with the bet itself."""

    success: bool = True
    message: str = "Bet placed successfully"
    new_balance: Number


class BalanceRead(BaseModel):
    """okx-bets' balance: the caller's USDT wallet."""

    telegram_username: str
    balance: Number


class BetsRead(BaseModel):
    """The caller's bets, newest first."""

    bets: list[BetRead]


#: okx-bets' names of a resolved bet's outcome (its backend's ``win``/``loss``; a tie, which
#: refunds the stake, is ours).
BetResult = Literal["win", "loss", "refund"]


class BetCompletion(BaseModel):
    """okx-bets' page asks how a bet ended when its own timer runs out. It names the bet by
    what it placed (or, ours, by ``bet_id``); it cannot say how the bet ended: the server
    resolved it at the market price of its expiry."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "telegram": "alice_trades",
                    "trade_id": 1767225600000,
                    "symbol": "BTCUSDT",
                    "direction": "long",
                    "amount": 10.0,
                    "time": 5,
                },
                {"telegram": "alice_trades", "bet_id": 1},
            ]
        },
    )
    telegram: Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)]
    bet_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = Field(
        default=None, description="The bet's id from POST /api/bet (ours); names it exactly"
    )
    trade_id: Annotated[int, Field(ge=0, le=2**53)] | None = Field(
        default=None, description="The page's own id of its trade (Date.now()); not used"
    )
    symbol: Symbol | None = Field(default=None, description="As placed; any when left out")
    direction: Direction | None = None
    amount: Annotated[Decimal, Field(allow_inf_nan=False), PLAIN] | None = None
    time: Annotated[int, Field(ge=1, le=10_000, description="Duration in minutes")] | None = None

    @model_validator(mode="after")
    def _names_a_bet(self) -> BetCompletion:
        if self.bet_id is None and None in (self.direction, self.amount, self.time):
            raise ValueError("name the bet: its 'bet_id', or 'direction', 'amount' and 'time'")
        return self


class BetCompleted(BaseModel):
    """okx-bets' answer for a resolved bet: its outcome, what it won and the balance now."""

    success: bool = True
    result: BetResult
    #: What the bet won over its stake (okx-bets' ``reward``): payout - stake for a win, else 0.
    reward: Number
    #: What came back to the wallet: stake x ratio for a win, the stake for a tie, 0 for a loss.
    payout: Number
    new_balance: Number
    bet: BetRead


class CoinPrice(BaseModel):
    """One coin's price as okx-bets' page shows it."""

    symbol: str
    price: Number
    #: The change over the last 24 hours, in percent of the price then.
    change_24h: Number
    #: The price to 2 decimals, thousands separated by a space (``91 500.00``).
    formatted_price: str
    #: The change to 2 decimals with its sign (``+1.25%``).
    formatted_change: str


class CoinPricesRead(BaseModel):
    """okx-bets' ``/api/coin-prices``: the USDT pairs by okx-bets' name (``BTCUSDT``)."""

    success: bool = True
    prices: dict[str, CoinPrice]
    timestamp: datetime


class OperationRead(BaseModel):
    """One entry of okx-bets' operations history: a bet."""

    id: str
    type: Literal["bet"] = "bet"
    bet_id: int
    symbol: str
    amount: Number
    direction: Direction
    time_minutes: int
    #: okx-bets' ``active`` / ``completed``; a tie is ``refunded`` (ours).
    status: Literal["active", "completed", "refunded"]
    result: BetResult | None
    reward: Number
    payout: Number | None
    timestamp: datetime
    completed_at: datetime | None
    description: str


class OperationsRead(BaseModel):
    """okx-bets' ``/api/operations/<telegram>``: my bets, newest first."""

    success: bool = True
    operations: list[OperationRead]


class PaymentMethod(BaseModel):
    """A way to fund the balance, as okx-bets' deposit dialog lists it."""

    id: str
    name: str
    details: str
    is_active: bool = True


class PaymentMethodsRead(BaseModel):
    """okx-bets' ``/api/payment-methods``."""

    success: bool = True
    methods: list[PaymentMethod]


class PaymentMethodRead(BaseModel):
    """okx-bets' ``/api/payment-methods/<id>``."""

    success: bool = True
    method: PaymentMethod
