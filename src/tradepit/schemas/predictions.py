"""Shapes of okx-bets' predictions. Money and prices are JSON numbers, as okx-bets documents."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

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
    telegram: Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)] = Field(
        description="Your username or Telegram handle (another user's is 403)"
    )
    amount: Annotated[Decimal, Field(allow_inf_nan=False, description="Stake in USDT"), PLAIN]
    direction: Direction = Field(description="long: the price will rise; short: it will fall")
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
    id: int = Field(description="The bet's id")
    symbol: str = Field(description="The pair bet on (BTC-USDT)")
    direction: Direction = Field(description="long (price rises) or short (price falls)")
    amount: Number = Field(description="Stake in USDT (JSON number)")
    duration_minutes: int = Field(description="Minutes from placing to expiry")
    entry_price: Number = Field(description="The pair's price when placed, in USDT")
    exit_price: Number | None = Field(
        description="The pair's price at expiry, in USDT; null while active"
    )
    placed_at: datetime = Field(description="When it was placed (market clock, UTC)")
    expires_at: datetime = Field(description="When it resolves (market clock, UTC)")
    status: BetStatus = Field(description="active, won, lost or refunded (a tie)")
    payout: Number | None = Field(
        description="USDT paid back: stake × payout ratio for a win, the stake for a tie, 0 "
        "for a loss; null while active"
    )
    client_bet_id: str | None = Field(default=None, description="Your id for it, if given")


class BetPlaced(BetRead):
    """okx-bets' answer to a bet, with the bet itself."""

    success: bool = Field(default=True, description="Always true (a refusal is an error)")
    message: str = Field(default="Bet placed successfully", description="A confirmation")
    new_balance: Number = Field(description="The USDT balance after the stake (JSON number)")


class BalanceRead(BaseModel):
    """okx-bets' balance: the caller's USDT wallet."""

    telegram_username: str = Field(description="Your username")
    balance: Number = Field(description="The USDT wallet's cash (JSON number)")


class BetsRead(BaseModel):
    """The caller's bets, newest first."""

    bets: list[BetRead] = Field(description="Active and resolved bets, newest first")


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
    telegram: Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)] = Field(
        description="Your username or Telegram handle (another user's is 403)"
    )
    bet_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = Field(
        default=None, description="The bet's id from POST /api/bet (ours); names it exactly"
    )
    trade_id: Annotated[int, Field(ge=0, le=2**53)] | None = Field(
        default=None, description="The page's own id of its trade (Date.now()); not used"
    )
    symbol: Symbol | None = Field(default=None, description="As placed; any when left out")
    direction: Direction | None = Field(default=None, description="As placed: long or short")
    amount: Annotated[Decimal, Field(allow_inf_nan=False), PLAIN] | None = Field(
        default=None, description="The stake as placed, in USDT"
    )
    time: Annotated[int, Field(ge=1, le=10_000)] | None = Field(
        default=None, description="Duration in minutes, as placed"
    )

    @model_validator(mode="after")
    def _names_a_bet(self) -> BetCompletion:
        if self.bet_id is None and None in (self.direction, self.amount, self.time):
            raise ValueError("name the bet: its 'bet_id', or 'direction', 'amount' and 'time'")
        return self


class BetCompleted(BaseModel):
    """okx-bets' answer for a resolved bet: its outcome, what it won and the balance now."""

    success: bool = Field(default=True, description="Always true (a refusal is an error)")
    result: BetResult = Field(description="win, loss, or refund (a tie)")
    reward: Number = Field(
        description="USDT won over the stake (okx-bets' reward): payout - stake for a win, else 0"
    )
    payout: Number = Field(
        description="USDT back to the wallet: stake × payout ratio for a win, the stake for a "
        "tie, 0 for a loss"
    )
    new_balance: Number = Field(description="The USDT balance now (JSON number)")
    bet: BetRead = Field(description="The bet, resolved")


class CoinPrice(BaseModel):
    """One coin's price as okx-bets' page shows it."""

    symbol: str = Field(description="The pair's catalogue symbol (BTC-USDT)")
    price: Number = Field(description="Last price in USDT (JSON number)")
    change_24h: Number = Field(
        description="The change over the last 24 hours, in % of the price then"
    )
    formatted_price: str = Field(
        description="The price to 2 decimals (more when the pair's tick is finer: SHIB's "
        "0.00000900), thousands separated by a space (91 500.00)"
    )
    formatted_change: str = Field(description="The change to 2 decimals with its sign (+1.25%)")


class CoinPricesRead(BaseModel):
    """okx-bets' ``/api/coin-prices``: the USDT pairs by okx-bets' name (``BTCUSDT``)."""

    success: bool = Field(default=True, description="Always true")
    prices: dict[str, CoinPrice] = Field(description="By okx-bets' name of the pair (BTCUSDT)")
    timestamp: datetime = Field(description="When the prices were read (market clock, UTC)")


class OperationRead(BaseModel):
    """One entry of okx-bets' operations history: a bet."""

    id: str = Field(description="bet_<bet id>")
    type: Literal["bet"] = Field(default="bet", description="Always bet")
    bet_id: int = Field(description="The bet's id")
    symbol: str = Field(description="The pair bet on")
    amount: Number = Field(description="Stake in USDT (JSON number)")
    direction: Direction = Field(description="long or short")
    time_minutes: int = Field(description="Duration in minutes")
    status: Literal["active", "completed", "refunded"] = Field(
        description="okx-bets' active or completed; a tie is refunded (ours)"
    )
    result: BetResult | None = Field(description="win, loss or refund; null while active")
    reward: Number = Field(description="USDT won over the stake; 0 unless won")
    payout: Number | None = Field(description="USDT paid back; null while active")
    timestamp: datetime = Field(description="When it was placed (market clock, UTC)")
    completed_at: datetime | None = Field(description="When it resolved; null while active")
    description: str = Field(description="The bet in words")


class OperationsRead(BaseModel):
    """okx-bets' ``/api/operations/<telegram>``: my bets, newest first."""

    success: bool = Field(default=True, description="Always true")
    operations: list[OperationRead] = Field(description="My latest 50 bets, newest first")


class PaymentMethod(BaseModel):
    """A way to fund the balance, as okx-bets' deposit dialog lists it."""

    id: str = Field(description="The method's id")
    name: str = Field(description="Its name to show")
    details: str = Field(description="How it works")
    is_active: bool = Field(default=True, description="Whether it can be used")


class PaymentMethodsRead(BaseModel):
    """okx-bets' ``/api/payment-methods``."""

    success: bool = Field(default=True, description="Always true")
    methods: list[PaymentMethod] = Field(description="Every method: paper money only")


class PaymentMethodRead(BaseModel):
    """okx-bets' ``/api/payment-methods/<id>``."""

    success: bool = Field(default=True, description="Always true")
    method: PaymentMethod = Field(description="The method asked for")


# Answers as /docs shows them (``api.examples``); tests/api/test_reference.py checks each
# against its model.
BET: dict[str, Any] = {
    "id": 1,
    "symbol": "BTC-USDT",
    "direction": "long",
    "amount": 10.0,
    "duration_minutes": 5,
    "entry_price": 111353.4,
    "exit_price": None,
    "placed_at": "2026-01-14T05:30:00Z",
    "expires_at": "2026-01-14T05:35:00Z",
    "status": "active",
    "payout": None,
    "client_bet_id": None,
}
BET_WON: dict[str, Any] = {**BET, "exit_price": 111420.9, "status": "won", "payout": 18.0}
BET_PLACED: dict[str, Any] = {
    **BET,
    "success": True,
    "message": "Bet placed successfully",
    "new_balance": 90.0,
}
BALANCE: dict[str, Any] = {"telegram_username": "alice_trades", "balance": 90.0}
BET_LATER: dict[str, Any] = {
    **BET,
    "id": 2,
    "entry_price": 111420.9,
    "placed_at": "2026-01-14T05:40:00Z",
    "expires_at": "2026-01-14T05:45:00Z",
}
BETS: dict[str, Any] = {"bets": [BET_LATER, BET_WON]}
BET_COMPLETED: dict[str, Any] = {
    "success": True,
    "result": "win",
    "reward": 8.0,
    "payout": 18.0,
    "new_balance": 108.0,
    "bet": BET_WON,
}
OPERATIONS: dict[str, Any] = {
    "success": True,
    "operations": [
        {
            "id": "bet_1",
            "type": "bet",
            "bet_id": 1,
            "symbol": "BTC-USDT",
            "amount": 10.0,
            "direction": "long",
            "time_minutes": 5,
            "status": "completed",
            "result": "win",
            "reward": 8.0,
            "payout": 18.0,
            "timestamp": "2026-01-14T05:30:00Z",
            "completed_at": "2026-01-14T05:35:00Z",
            "description": "Bet long 10 USDT on BTC-USDT for 5 min",
        }
    ],
}
COIN_PRICES: dict[str, Any] = {
    "success": True,
    "prices": {
        "BTCUSDT": {
            "symbol": "BTC-USDT",
            "price": 111408.6,
            "change_24h": 1.62,
            "formatted_price": "111 408.60",
            "formatted_change": "+1.62%",
        },
        "ETHUSDT": {
            "symbol": "ETH-USDT",
            "price": 3638.51,
            "change_24h": -0.85,
            "formatted_price": "3 638.51",
            "formatted_change": "-0.85%",
        },
    },
    "timestamp": "2026-01-14T05:36:00Z",
}
PAYMENT_METHOD: dict[str, Any] = {
    "id": "paper",
    "name": "Paper money (virtual USDT)",
    "details": "Tradepit is a paper-trading server: balances are virtual and no payment is "
    "taken. A new account starts with TRADEPIT_STARTING_BALANCE_USDT; an administrator "
    "credits more with POST /api/admin/users/{id}/wallet-adjustments.",
    "is_active": True,
}
