"""Shapes of the lot-size calculator (mt5-copier's ``POST /api/calculate``)."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    model_validator,
)

from tradepit.domain.lots import MAX_ENTRIES
from tradepit.domain.money import as_float
from tradepit.schemas.wallets import PLAIN, Money

Price = Annotated[Decimal, Field(gt=0, max_digits=19, decimal_places=8, allow_inf_nan=False), PLAIN]
Symbol = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
#: An exact figure shown as a JSON number, for clients that compute with it (mt5-copier's page
#: calls ``riskAmount.toFixed(2)``); nothing reads money back from it.
Number = Annotated[Decimal, PlainSerializer(as_float, return_type=float)]
_ENTRY = re.compile(r"^entry_?price_?(\d{1,2})$", re.IGNORECASE)


def entry_prices(data: Any) -> Any:
    """Move ``entryPrice1``, ``entryPrice2``… (or ``entry_price_1``…) into ``entries``, in
    their numeric order."""
    if not isinstance(data, dict):
        return data
    found: dict[int, Any] = {}
    rest: dict[str, Any] = {}
    for key, value in data.items():
        match = _ENTRY.match(key) if isinstance(key, str) else None
        if match:
            found[int(match[1])] = value
        else:
            rest[key] = value
    if found:
        if "entries" in rest:
            raise ValueError("give entries or entryPrice1, entryPrice2…, not both")
        rest["entries"] = [found[n] for n in sorted(found)]
    return rest


class CalculationCreate(BaseModel):
    """What to size: balance, risk in percent, stop loss and one or more entries."""

    model_config = ConfigDict(
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        json_schema_extra={
            "examples": [
                {
                    "symbol": "XAUUSD",
                    "portfolioSize": 10000,
                    "riskPercent": 1,
                    "stopLoss": 2340,
                    "entryPrice1": 2350,
                    "entryPrice2": 2345,
                }
            ]
        },
    )
    symbol: Symbol = Field(description="A catalogue symbol (XAUUSD, EURUSD, BTC-USDT, RELIANCE)")
    portfolio_size: Price = Field(
        alias="portfolioSize", description="The balance, in the instrument's currency"
    )
    risk_percent: Annotated[
        Decimal,
        Field(alias="riskPercent", gt=0, le=100, decimal_places=4, allow_inf_nan=False),
        PLAIN,
    ] = Field(description="The share of portfolioSize to lose at the stop, in %")
    stop_loss: Price = Field(alias="stopLoss", description="The stop-loss price")
    entries: list[Price] = Field(
        min_length=1,
        max_length=MAX_ENTRIES,
        description="Entry prices; also accepted as entryPrice1, entryPrice2…",
    )

    @model_validator(mode="before")
    @classmethod
    def _entries(cls, data: Any) -> Any:
        return entry_prices(data)


class EntrySizeRead(BaseModel):
    """One entry's size and the money it loses at the stop."""

    entry_price: Money = Field(description="The entry's price (decimal string)")
    lots: Money = Field(description="Lots to trade at it, on the lot step (decimal string)")
    risk_amount: Money = Field(
        description="What it loses at the stop, in the instrument's currency (decimal string)"
    )


class CalculationRead(BaseModel):
    """The risk asked, each entry's lots, their total, and warnings."""

    # Read by either name, so that an answer reads back (tests/api/test_reference.py).
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)
    symbol: str = Field(description="The instrument's catalogue symbol")
    currency: str = Field(description="The instrument's currency; every amount here is in it")
    contract_size: Money = Field(description="Money per 1.0 of price per lot")
    risk_amount: Money = Field(
        description="riskPercent of portfolioSize: what all entries may lose together"
    )
    entries: list[EntrySizeRead] = Field(description="Each entry's size, in the order given")
    total_lots: Money = Field(description="The entries' lots together (decimal string)")
    warnings: list[str] = Field(
        description="What differs from the ask (an entry raised to the minimum lot risks more)"
    )
    # mt5-copier's answer, as its page reads it: JSON numbers in camelCase.
    lot_size: Number = Field(alias="lotSize", description="total_lots (JSON number)")
    risk: Number = Field(alias="riskAmount", description="risk_amount (JSON number)")
    stop_distance: Number = Field(
        alias="stopDistance", description="|entryPrice1 - stopLoss|, in price"
    )
    entry_price: Number = Field(alias="entryPrice", description="entryPrice1")
    stop_loss: Number = Field(alias="stopLoss", description="The stop-loss price")
    calculated_at: datetime = Field(alias="calculatedAt", description="When it was computed (UTC)")


# The answer as /docs shows it (``api.examples``); tests/api/test_reference.py checks it
# against its model.
CALCULATION: dict[str, Any] = {
    "symbol": "XAUUSD",
    "currency": "USD",
    "contract_size": "100",
    "risk_amount": "100",
    "entries": [
        {"entry_price": "2350", "lots": "0.05", "risk_amount": "50"},
        {"entry_price": "2345", "lots": "0.1", "risk_amount": "50"},
    ],
    "total_lots": "0.15",
    "warnings": [],
    "lotSize": 0.15,
    "riskAmount": 100.0,
    "stopDistance": 10.0,
    "entryPrice": 2350.0,
    "stopLoss": 2340.0,
    "calculatedAt": "2026-01-14T05:30:00.241876Z",
}
