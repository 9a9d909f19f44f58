"""Shapes of linked broker accounts (mt5-copier) and the shared accounts table (csv-accounts).

Secrets are write-only: requests carry them, answers show masks like ``••••1234``.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from tradepit.schemas.text import Spelled
from tradepit.schemas.users import NO_NUL
from tradepit.schemas.wallets import PLAIN, Money

#: An MT5 broker company, as ``mt5:<company>`` keeps it (mt5-copier's "broker": Exness).
COMPANY_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9 .&_\-]{0,34}[A-Za-z0-9.])?"
BROKER_PATTERN = rf"^(paper|mt5|kite|ccxt:[a-z][a-z0-9]{{1,23}}|mt5:{COMPANY_PATTERN})$"
Broker = Annotated[
    str,
    Spelled(
        BROKER_PATTERN,
        "broker must be one of paper, mt5, mt5:<company>, kite, ccxt:<exchange> (e.g. "
        "ccxt:okx, mt5:Exness; a company is 1-36 letters, digits, spaces, '.', '&', '_' or '-')",
    ),
    Field(
        description="The adapter: paper, mt5, kite or ccxt:<exchange>; mt5:<company> is mt5 "
        "with the MT5 broker company kept (mt5:Exness)"
    ),
]
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
Short = Annotated[str, Field(max_length=64, pattern=NO_NUL)]
Secret = Annotated[str, Field(max_length=512, pattern=NO_NUL)]
Figure = Annotated[
    Decimal, Field(ge=-(10**10), le=10**10, decimal_places=8, allow_inf_nan=False), PLAIN
]
Risk = Annotated[Decimal, Field(ge=0, le=10**10, decimal_places=8, allow_inf_nan=False), PLAIN]


def _live(value: str) -> str:
    return "live" if value == "real" else value


AccountType = Annotated[
    Literal["demo", "live", "real"],
    AfterValidator(_live),
    Field(description="demo or live; real (mt5-copier's word) is live"),
]
#: Words that name an adapter or the MT5 platform, not a broker company: one of them as
#: ``broker``, in any case or spacing, means an adapter (and is judged as one).
ADAPTER_WORDS = frozenset(
    {"paper", "kite", "ccxt", "mt4", "mt5", "metatrader", "metatrader4", "metatrader5"}
)
_COMPANY = re.compile(COMPANY_PATTERN)


def mt5_company(data: Any) -> Any:
    """Read mt5-copier's ``broker`` beside an MT5 ``login`` and ``server``: it is the MT5
    broker company ("Exness"; left out or "" when the user does not say), so the adapter is
    mt5 and the company is kept as ``mt5:Exness`` (``mt5`` alone without one). Adapter
    names, words that mean one (MT5, MetaTrader) and text no company name has stay as sent,
    for ``Broker`` to judge."""
    if not isinstance(data, dict) or not data.get("login") or not data.get("server"):
        return data
    broker = data.get("broker")
    if broker is None or (isinstance(broker, str) and not broker.strip()):
        return {**data, "broker": "mt5"}
    if not isinstance(broker, str):
        return data
    name = broker.strip()
    if name.replace(" ", "").lower() in ADAPTER_WORDS or not _COMPANY.fullmatch(name):
        return data
    return {**data, "broker": f"mt5:{name}"}


SymbolName = Annotated[
    str,
    Spelled(
        r"^[A-Za-z0-9._:/&\- ]{1,40}$",
        "a symbol is 1-40 letters, digits, spaces, '.', '_', ':', '/', '&' or '-'",
    ),
]
SymbolMap = Annotated[
    dict[SymbolName, SymbolName],
    Field(max_length=500, description="Our symbol → the broker's, e.g. {'EURUSD': 'EURUSD.vip'}"),
]


class AccountCreate(BaseModel):
    """A broker account to link (mt5-copier's body, plus the desk figures)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "account_name": "Gold demo",
                    "broker": "mt5",
                    "login": "51234567",
                    "password": "s3cret-pass",
                    "server": "ICMarketsSC-Demo",
                    "account_type": "demo",
                },
                {"account_name": "Paper", "broker": "paper"},
            ]
        },
    )
    account_name: Name = Field(description="A name for the account (1-100 characters)")
    broker: Broker
    login: Short | None = Field(default=None, description="The broker login (MT5: numeric)")
    password: Secret | None = Field(
        default=None, description="Write-only; stored encrypted (MT5 password, OKX passphrase)"
    )
    api_key: Secret | None = Field(
        default=None, description="Write-only; stored encrypted (Kite app key, exchange key)"
    )
    api_secret: Secret | None = Field(
        default=None,
        description="Write-only; stored encrypted (Kite access token, exchange secret)",
    )
    server: Annotated[str, Field(max_length=100, pattern=NO_NUL)] | None = Field(
        default=None, description="MT5 server; for paper, the wallet currency (USD, INR, USDT)"
    )
    account_type: AccountType = "demo"
    is_active: bool = Field(default=True, description="Only active accounts receive orders")
    symbol_map: SymbolMap = Field(default_factory=dict)
    pnl: Figure = Field(default=Decimal(0), description="The desk's P&L figure, as entered")
    margin: Figure = Field(default=Decimal(0), description="The desk's margin figure, as entered")
    max_risk: Risk = Field(default=Decimal(0), description="The desk's risk limit, as entered")

    @model_validator(mode="before")
    @classmethod
    def _company(cls, data: Any) -> Any:
        return mt5_company(data)


class AccountUpdate(BaseModel):
    """Fields to change; a secret left out stays, an empty one is removed."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"max_risk": "2.5", "is_active": False}]}
    )
    account_name: Name | None = Field(default=None, description="A new name")
    broker: Broker | None = Field(
        default=None, description="paper, mt5, mt5:<company>, kite or ccxt:<exchange>"
    )
    login: Short | None = Field(default=None, description="The broker login")
    password: Secret | None = Field(default=None, description='A new password; "" removes it')
    api_key: Secret | None = Field(default=None, description='A new API key; "" removes it')
    api_secret: Secret | None = Field(default=None, description='A new API secret; "" removes it')
    server: Annotated[str, Field(max_length=100, pattern=NO_NUL)] | None = Field(
        default=None, description="MT5 server; for paper, the wallet currency"
    )
    account_type: AccountType | None = Field(
        default=None, description="demo or live; real (mt5-copier's word) is live"
    )
    is_active: bool | None = Field(default=None, description="Only active accounts get orders")
    symbol_map: SymbolMap | None = Field(
        default=None, description="Our symbol → the broker's; replaces the whole map"
    )
    pnl: Figure | None = Field(default=None, description="The desk's P&L figure")
    margin: Figure | None = Field(default=None, description="The desk's margin figure")
    max_risk: Risk | None = Field(default=None, description="The desk's risk limit")


class AccountRead(BaseModel):
    """A linked account as its owner (or an admin) sees it: secrets masked."""

    id: int = Field(description="The account's id")
    user_id: int = Field(description="The owner's user id")
    user: str = Field(description="The owner's username")
    account_name: str = Field(description="Its name")
    broker: str = Field(description="paper, mt5, mt5:<company>, kite or ccxt:<exchange>")
    login: str | None = Field(description="The broker login")
    server: str | None = Field(description="MT5 server; for paper, the wallet currency")
    account_type: str = Field(description="demo or live")
    is_active: bool = Field(description="Only active accounts receive orders")
    symbol_map: dict[str, str] = Field(description="Our symbol → the broker's")
    password: str | None = Field(description="A mask such as '••••1234', or null")
    api_key: str | None = Field(description="A mask such as '••••1234', or null")
    api_secret: str | None = Field(description="A mask such as '••••1234', or null")
    pnl: Money = Field(description="The desk's P&L figure, as entered (decimal string)")
    margin: Money = Field(description="The desk's margin figure, as entered (decimal string)")
    max_risk: Money = Field(description="The desk's risk limit, as entered (decimal string)")
    status: str = Field(description="new, connected or failed (the last connect)")
    status_detail: str | None = Field(description="The last connect's message")
    checked_at: datetime | None = Field(description="When the last connect ran (UTC)")
    version: int = Field(description="Counts changes; restore an earlier one by number")
    created_at: datetime = Field(description="When it was linked (UTC)")
    updated_at: datetime = Field(description="Its last change (UTC)")


class AccountCreated(AccountRead):
    """A new account, with mt5-copier's confirmation (``account_id`` is ``id``)."""

    message: str = Field(description="A confirmation to show")
    account_id: int = Field(description="The same as id (mt5-copier's name)")


class AccountsRead(BaseModel):
    """Every account the caller may see."""

    accounts: list[AccountRead] = Field(description="Mine; an admin: everyone's")


class AccountInfoRead(BaseModel):
    """The account as its broker reports it."""

    login: str = Field(description="The broker login")
    currency: str = Field(description="The account's currency; the figures are in it")
    balance: Money = Field(description="Balance (decimal string)")
    equity: Money = Field(description="Balance plus open P&L (decimal string)")
    margin: Money = Field(description="Margin in use (decimal string)")


class ConnectRead(BaseModel):
    """What a connect found: connected with the account, or failed with the broker's reason."""

    success: bool = Field(description="true when the broker accepted the credentials")
    id: int = Field(description="The account's id")
    status: Literal["connected", "failed"] = Field(description="connected or failed")
    message: str = Field(description="What happened, the broker's reason on failure")
    account: AccountInfoRead | None = Field(
        default=None, description="The broker's figures when connected, else null"
    )
    account_id: int = Field(description="id again, as mt5-copier names it")
    token: str | None = Field(
        description="A bearer token of this login (same expiry; logging out with either "
        "revokes both) naming this account as the one send_orders trades when it lists no "
        "accounts; without the account when the connect failed; null for an API key"
    )


#: What reads show of a stored secret starts with this; a secret sent back so is kept as it is.
MASK = "••••"
TableBroker = Annotated[
    str,
    Field(
        max_length=40,
        pattern=NO_NUL,
        description=(
            "Free text, kept as typed (e.g. Zerodha). Only a broker POST /api/accounts "
            "takes names an adapter: a row with another broker is kept and shown but "
            "cannot connect or receive orders"
        ),
    ),
]
#: csv-accounts' frontend's names of ``API_key`` / ``API_secret`` (its CSV header's).
SEED_NAMES = {"API_key": "API key", "API_secret": "API secret"}


def is_new_secret(value: str | None) -> bool:
    """Tell whether ``value`` is a secret to store (not empty, not a mask sent back)."""
    return bool(value) and not str(value).startswith(MASK)


class CsvEntry(BaseModel):
    """A row of csv-accounts' table. ``user`` names the owner (an admin may name anyone; a
    user only themselves). ``broker`` is free text. ``"API key"`` / ``"API secret"`` (the
    seed frontend's names) are ``API_key`` / ``API_secret``. A secret left empty or sent back
    masked stays as it is. Fields the schema does not know are ignored."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {"user": "alice", "broker": "ccxt:okx", "API_key": "okx-key-123456789",
                 "API_secret": "okx-secret-123456789", "pnl": 120.5, "margin": 1000,
                 "max_risk": 2},
                {"user": "", "broker": "Zerodha", "API key": "kite-key-123456789",
                 "API secret": "", "pnl": 0, "margin": 0, "max_risk": 0},
            ]
        },
    )  # fmt: skip
    user: Annotated[str, Field(max_length=32, pattern=NO_NUL)] = ""
    broker: TableBroker
    API_key: Secret = ""
    API_secret: Secret = ""
    API_key_spaced: Secret | None = Field(
        default=None, alias="API key", description="API_key under the seed frontend's name"
    )
    API_secret_spaced: Secret | None = Field(
        default=None, alias="API secret", description="API_secret under the seed frontend's name"
    )
    pnl: Figure = Decimal(0)
    margin: Figure = Decimal(0)
    max_risk: Risk = Decimal(0)
    account_name: Name | None = None

    @model_validator(mode="after")
    def _one_spelling(self) -> Self:
        """Take a secret from either name: a new value wins over an empty or masked one; two
        different new values are refused."""
        for name, seed in SEED_NAMES.items():
            spaced: str | None = getattr(self, f"{name}_spaced")
            if spaced is None:
                continue
            given: str = getattr(self, name)
            sent = name in self.model_fields_set
            if sent and is_new_secret(given) and is_new_secret(spaced) and given != spaced:
                raise ValueError(f"{name!r} and {seed!r} are one field and differ: send one")
            if is_new_secret(spaced) or not sent:
                setattr(self, name, spaced)
        return self

    def sent(self) -> set[str]:
        """Return the fields the client sent, by their names here (``"API key"`` is
        ``API_key``)."""
        return {field.removesuffix("_spaced") for field in self.model_fields_set}


#: Fields of a row that a client echoes back from ``fetch_csv`` and that change nothing.
ECHOED = {"index", "id", "version"}


class CsvChange(CsvEntry):
    """A change of a row: the fields sent change; ``broker`` may be left out. A row fetched
    from ``fetch_csv`` may be sent back whole: ``index`` is ignored, ``id`` must still be the
    row at that index, and ``version`` is checked (optimistic concurrency)."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [{"pnl": 42.5}, {"pnl": 42.5, "id": 7, "version": 3}]},
    )
    broker: TableBroker | None = None  # type: ignore[assignment]
    index: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="Echoed back from fetch_csv; ignored (the path names the row)"
    )
    id: Annotated[int, Field(ge=1)] | None = Field(
        default=None,
        description="The row's id as fetched: another row at this index now is 409 ROW_MOVED",
    )
    version: Annotated[int, Field(ge=1)] | None = Field(
        default=None,
        description=(
            "The row's version as fetched: 409 VERSION_CONFLICT if another user changed the "
            "row since (your own later changes do not count)"
        ),
    )

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if not self.sent() - ECHOED:
            raise ValueError(
                "nothing to change: send at least one of user, broker, API_key (or 'API key'), "
                "API_secret (or 'API secret'), pnl, margin, max_risk, account_name"
            )
        return self


class CsvRow(BaseModel):
    """A row as the table shows it: ``index`` in the caller's view, ``id`` stable; secrets
    masked, also under the seed frontend's names ``"API key"`` / ``"API secret"``; figures as
    JSON numbers, as the seed documents."""

    index: int
    id: int
    user: str
    broker: str
    API_key: str
    API_secret: str
    API_key_spaced: str = Field(serialization_alias="API key", description="API_key again")
    API_secret_spaced: str = Field(serialization_alias="API secret", description="API_secret again")
    pnl: float
    margin: float
    max_risk: float
    account_name: str
    version: int


class CsvRowSaved(CsvRow):
    """A changed row, and the seed's confirmation."""

    message: str


class CsvRowAdded(CsvRowSaved):
    """An added row, and (as the seed answers) the caller's whole table after it."""

    data: list[CsvRow] = Field(description="The caller's table, as fetch_csv shows it")


class VersionRead(BaseModel):
    """One kept version of a row."""

    version: int
    change: str
    changed_by: int | None
    changed_at: datetime
    row: dict[str, object] = Field(description="The row's fields then, secrets masked")


class RowErrors(BaseModel):
    """What is wrong with one row of an imported file (rows count from 1 after the header;
    0 is the header or the file as a whole)."""

    row: int
    line: int = Field(description="The file's line where the row starts (1 is the header)")
    errors: list[str]


class ImportReport(BaseModel):
    """The outcome of an import: every row written, or none and why."""

    success: bool
    imported: int
    errors: list[RowErrors]


# Answers as /docs shows them (``api.examples``); tests/api/test_reference.py checks each
# against its model.
ACCOUNT: dict[str, Any] = {
    "id": 1,
    "user_id": 1,
    "user": "alice_trades",
    "account_name": "Gold demo",
    "broker": "mt5",
    "login": "51234567",
    "server": "ICMarketsSC-Demo",
    "account_type": "demo",
    "is_active": True,
    "symbol_map": {"XAUUSD": "XAUUSD.a"},
    "password": "••••",
    "api_key": None,
    "api_secret": None,
    "pnl": "0",
    "margin": "0",
    "max_risk": "0",
    "status": "new",
    "status_detail": None,
    "checked_at": None,
    "version": 1,
    "created_at": "2026-01-14T05:30:00.254612Z",
    "updated_at": "2026-01-14T05:30:00.254612Z",
}
ACCOUNT_CREATED: dict[str, Any] = {
    **ACCOUNT,
    "message": "Account added successfully",
    "account_id": 1,
}
ACCOUNT_UPDATED: dict[str, Any] = {
    **ACCOUNT,
    "is_active": False,
    "max_risk": "2.5",
    "version": 2,
    "updated_at": "2026-01-14T05:41:12.284417Z",
}
ACCOUNTS: dict[str, Any] = {
    "accounts": [
        ACCOUNT,
        {
            **ACCOUNT,
            "id": 2,
            "account_name": "OKX spot",
            "broker": "ccxt:okx",
            "login": None,
            "server": None,
            "symbol_map": {},
            "password": "••••",
            "api_key": "••••9f3a",
            "api_secret": "••••41c2",
            "status": "connected",
            "status_detail": "connected: USDT 2500",
            "checked_at": "2026-01-14T05:35:02.118034Z",
        },
    ]
}
CONNECTED: dict[str, Any] = {
    "success": True,
    "id": 3,
    "status": "connected",
    "message": "connected: USD 10000",
    "account": {
        "login": "alice_trades",
        "currency": "USD",
        "balance": "10000",
        "equity": "10000",
        "margin": "0",
    },
    "account_id": 3,
    # An example JWT, signed by no server.
    "token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIiwiYWNjb3VudF9pZCI6M30.ZXhhbXBsZQ",
}
