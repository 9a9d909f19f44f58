"""Shapes of wallets, ledger entries and admin adjustments. Money is a decimal string."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    field_validator,
)

from tradepit.domain.money import MAX_AMOUNT, plain

#: An exact amount on the wire: a JSON string such as "2500.00", never a float.
Money = Annotated[Decimal, PlainSerializer(plain, return_type=str)]
Currency = Literal["INR", "USDT", "USD"]


class WalletRead(BaseModel):
    """One currency of a user's money: cash, what open orders and margin block, the rest."""

    currency: str
    cash: Money
    blocked: Money
    available: Money


class LedgerEntryRead(BaseModel):
    """One posting to one of the user's wallets."""

    id: int
    transaction_id: int
    currency: str
    wallet: str = Field(
        default="cash", description="cash, or tournament:<id> for a tournament entry's wallet"
    )
    amount: Money = Field(description="Signed: positive credits, negative debits")
    balance_after: Money
    kind: str
    ref: str | None
    created_at: datetime


class AdjustmentCreate(BaseModel):
    """An administrator's credit (positive) or debit (negative) of a user's wallet."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"currency": "INR", "amount": "2500.00", "reason": "contest prize"}]
        },
    )
    currency: Currency
    amount: Annotated[Decimal, Field(max_digits=19, decimal_places=8, allow_inf_nan=False)]
    reason: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=3, max_length=200, pattern=r"^[^\x00]*$"
        ),
    ]

    @field_validator("amount")
    @classmethod
    def _non_zero_in_range(cls, value: Decimal) -> Decimal:
        if value == 0:
            raise ValueError("amount must not be zero")
        if abs(value) > MAX_AMOUNT:
            raise ValueError(f"amount must be within ±{MAX_AMOUNT}")
        return value


class AdjustmentRead(BaseModel):
    """The ledger transaction an adjustment made, and the balance after it."""

    transaction_id: int
    user_id: int
    currency: str
    amount: Money
    balance_after: Money
    reason: str
    created_at: datetime
