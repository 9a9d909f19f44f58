"""Shapes of wallets, ledger entries and admin adjustments. Money is a decimal string."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    StringConstraints,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from tradepit.domain.money import (
    MAX_AMOUNT,
    PLAIN_PATTERN,
    NotPlainDecimal,
    parse_plain,
    plain,
    plain_text,
)

#: An exact amount on the wire: a JSON string such as "2500.00", never a float.
Money = Annotated[Decimal, PlainSerializer(plain, return_type=str)]


def _plain_decimal(value: object) -> object:
    """Read text by the one rule (``domain.money.parse_plain``); a JSON number, or a
    ``Decimal`` given in Python, goes on to the ``Decimal`` validator as it is."""
    if isinstance(value, str):
        try:
            return parse_plain(value)
        except NotPlainDecimal as exc:
            raise PydanticCustomError("plain_decimal", exc.message) from None
    return value


class PlainNotation:
    """The mark of every amount, price, quantity or percentage a request carries.

    Such a field is a JSON number (converted exactly from its shortest form, as ``Decimal``
    does) or a string in plain decimal notation (``domain.money.PLAIN_NOTATION``; anything
    else is 422 ``plain_decimal``). It is written back as plain text with its decimals
    (``"10.50"``, never ``"1E-7"``), so that what is kept from a request reads back under the
    same rule, and the OpenAPI schema shows the rule as the string form's pattern.

    Put it last, after the field's constraints (``Annotated[Decimal, Field(gt=0, ...),
    PLAIN]``): the constraints then stay on the ``Decimal`` itself (a huge number is out of
    range, not "not finite").
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_before_validator_function(
            _plain_decimal,
            handler(source),
            serialization=core_schema.plain_serializer_function_ser_schema(
                plain_text, return_schema=core_schema.str_schema(), when_used="json"
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        shown: dict[str, Any] = handler(schema)
        for branch in [shown, *shown.get("anyOf", [])]:
            if branch.get("type") == "string":
                branch["pattern"] = PLAIN_PATTERN
        return shown


PLAIN = PlainNotation()


Currency = Literal["INR", "USDT", "USD"]


class WalletRead(BaseModel):
    """One currency of a user's money: cash, what open orders and margin block, the rest."""

    currency: str = Field(description="INR, USDT or USD; every figure here is in it")
    cash: Money = Field(description="The wallet's balance, the sum of its ledger entries")
    blocked: Money = Field(description="Held for open buy orders and as margin of positions")
    available: Money = Field(description="cash - blocked: what a new order may use")


class LedgerEntryRead(BaseModel):
    """One posting to one of the user's wallets."""

    id: int = Field(description="The entry's id")
    transaction_id: int = Field(
        description="The double-entry transaction it belongs to (its postings sum to zero)"
    )
    currency: str = Field(description="The wallet's currency: INR, USDT or USD")
    wallet: str = Field(
        default="cash", description="cash, or tournament:<id> for a tournament entry's wallet"
    )
    amount: Money = Field(description="Signed: positive credits, negative debits")
    balance_after: Money = Field(description="The wallet's balance after this entry")
    kind: str = Field(
        description="What moved the money: starting_balance, trade, settlement, "
        "admin_adjustment, bet_stake, bet_payout, tournament_entry..."
    )
    ref: str | None = Field(description="What it refers to, as kind:id (order:12, user:3)")
    created_at: datetime = Field(description="When it was posted (market clock, UTC)")


class LedgerPage(BaseModel):
    """One page of the caller's ledger entries, newest first."""

    entries: list[LedgerEntryRead] = Field(description="The page's entries, newest first")
    page: int = Field(description="The page number, from 1")
    limit: int = Field(description="Entries per page")
    total: int = Field(description="Entries on every page")


class AdjustmentCreate(BaseModel):
    """An administrator's credit (positive) or debit (negative) of a user's wallet."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"currency": "INR", "amount": "2500.00", "reason": "contest prize"}]
        },
    )
    currency: Currency
    amount: Annotated[Decimal, Field(max_digits=19, decimal_places=8, allow_inf_nan=False), PLAIN]
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


# Answers as /docs shows them (``api.examples``); tests/api/test_reference.py checks each
# against its model.
WALLETS: list[dict[str, Any]] = [
    {"currency": "INR", "cash": "88141.96", "blocked": "7500", "available": "80641.96"},
    {"currency": "USDT", "cash": "1000", "blocked": "0", "available": "1000"},
    {"currency": "USD", "cash": "10000", "blocked": "0", "available": "10000"},
]
LEDGER: dict[str, Any] = {
    "entries": [
        {
            "id": 5,
            "transaction_id": 3,
            "currency": "INR",
            "wallet": "cash",
            "amount": "-11858.04",
            "balance_after": "88141.96",
            "kind": "trade",
            "ref": "order:1",
            "created_at": "2026-01-14T05:30:00Z",
        },
        {
            "id": 2,
            "transaction_id": 1,
            "currency": "INR",
            "wallet": "cash",
            "amount": "100000",
            "balance_after": "100000",
            "kind": "starting_balance",
            "ref": "user:1",
            "created_at": "2026-01-14T05:00:00Z",
        },
    ],
    "page": 1,
    "limit": 100,
    "total": 2,
}
