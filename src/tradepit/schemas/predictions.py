"""Shapes of okx-bets' predictions. Money and prices are JSON numbers, as okx-bets documents."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

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
