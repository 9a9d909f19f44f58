"""The admin view of the books (``GET /api/admin/books``). Money is a decimal string."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tradepit.schemas.wallets import Money


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CurrencyTotalRead(_Read):
    """The sum of every ledger entry in one currency."""

    currency: str = Field(examples=["INR"])
    total: Money = Field(description="zero when the currency balances", examples=["0"])
    balanced: bool


class UnbalancedTransactionRead(_Read):
    """A ledger transaction whose entries in one currency do not sum to zero."""

    transaction_id: int
    currency: str
    total: Money


class WalletDifferenceRead(_Read):
    """A wallet whose balance is not the sum of its ledger entries."""

    wallet_id: int
    user_id: int | None = Field(description="null: a system wallet")
    name: str
    currency: str
    expected: Money = Field(description="the sum of the wallet's ledger entries")
    found: Money = Field(description="the wallet's stored balance")
    difference: Money = Field(description="found - expected")


class PositionDifferenceRead(_Read):
    """A position whose quantity or charges are not what its fills add up to."""

    position_id: int | None = Field(description="null: fills of a position that has no row")
    user_id: int
    tournament_id: int | None
    symbol: str
    product: str
    field: str = Field(examples=["quantity", "charges"])
    expected: Money = Field(description="what the position's fills add up to")
    found: Money = Field(description="what the position holds")


class BooksRead(_Read):
    """Whether the books balance, and every difference found (the first 100 of each kind;
    the ``*_count`` fields count them all)."""

    balanced: bool = Field(description="true when nothing below differs")
    currencies: list[CurrencyTotalRead]
    wallets_checked: int
    positions_checked: int
    transactions: list[UnbalancedTransactionRead]
    transactions_count: int
    wallets: list[WalletDifferenceRead]
    wallets_count: int
    positions: list[PositionDifferenceRead]
    positions_count: int
    problems: list[str] = Field(description="one line per difference, as `tradepit check` says")
