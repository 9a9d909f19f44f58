"""Shapes of Kite Connect apps (Tradepit's JSON API) and of Kite's form-encoded requests.

Kite's answers are plain dicts built by ``services.kite``: their shape is Kite's, documented
in ``docs/kite.md``, not Tradepit's.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from tradepit.schemas.users import NO_NUL


def _web_address(value: str) -> str:
    parts = urlsplit(value)  # raises ValueError on a malformed address (a validation error)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise ValueError("must be an absolute http(s) URL without a #fragment")
    _ = parts.port  # raises ValueError on a port that is not one
    return value


WebAddress = Annotated[
    str, Field(min_length=8, max_length=500, pattern=NO_NUL), AfterValidator(_web_address)
]


class KiteAppCreate(BaseModel):
    """A Kite Connect app: where a login returns, and where order updates are posted."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "my bot", "redirect_url": "http://127.0.0.1:5000/kite/callback"}]
        },
    )
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)] = Field(
        description="Your name for the app"
    )
    redirect_url: WebAddress = Field(
        description="Where a login returns with ?request_token=...&action=login&status=success"
    )
    postback_url: WebAddress | None = Field(
        default=None, description="Where order updates are posted (not sent yet)"
    )


class KiteAppRead(BaseModel):
    """A Kite Connect app as its owner sees it (never its secret)."""

    id: int = Field(description="The app's id (DELETE /api/kite/apps/{id} takes it)")
    name: str = Field(description="Your name for the app")
    api_key: str = Field(description="The app's api_key: KiteConnect(api_key=...)")
    redirect_url: str = Field(description="Where a login returns")
    postback_url: str | None = Field(description="Where order updates are posted, if anywhere")
    login_url: str = Field(description="The login page's path: /kite/connect/login?api_key=...")
    created_at: datetime = Field(description="When it was created (UTC)")


class KiteAppCreated(KiteAppRead):
    """A new app, with its secret: shown this once, stored sealed."""

    api_secret: str = Field(description="The app's api_secret, shown only now")


def _blank_is_none(value: Any) -> Any:
    """Read an empty or zero field as left out (bots send ``price=0`` with MARKET orders)."""
    if value is None or (isinstance(value, str) and value.strip() in ("", "0", "0.0")):
        return None
    return value


Number = Annotated[
    Decimal | None,
    BeforeValidator(_blank_is_none),
    Field(default=None, gt=0, max_digits=19, decimal_places=8, allow_inf_nan=False),
]
Whole = Annotated[int | None, BeforeValidator(_blank_is_none), Field(default=None, ge=1, le=10**9)]
Word = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9 &_.:\-]+$")]


class KiteOrderForm(BaseModel):
    """``POST /orders/{variety}``: Kite's order fields (form-encoded)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    exchange: Literal["NSE", "BSE", "NFO", "BFO"]
    tradingsymbol: Word
    transaction_type: Literal["BUY", "SELL"]
    quantity: Annotated[int, Field(ge=1, le=10**9)]
    product: Literal["CNC", "MIS", "NRML"]
    order_type: Literal["MARKET", "LIMIT", "SL", "SL-M"]
    price: Number = None
    trigger_price: Number = None
    validity: Literal["DAY", "IOC"] = "DAY"
    disclosed_quantity: Annotated[int | None, BeforeValidator(_blank_is_none)] = None
    tag: Annotated[str | None, Field(default=None, max_length=20)] = None


class KiteModifyForm(BaseModel):
    """``PUT /orders/{variety}/{order_id}``: the fields to change (form-encoded)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    quantity: Whole = None
    price: Number = None
    trigger_price: Number = None
    order_type: Literal["MARKET", "LIMIT", "SL", "SL-M"] | None = None
    validity: Literal["DAY", "IOC"] | None = None
    parent_order_id: str | None = None


class KiteSessionForm(BaseModel):
    """``POST /session/token``: a request token to exchange, and its checksum."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    api_key: Annotated[str, Field(min_length=1, max_length=64)]
    request_token: Annotated[str, Field(min_length=1, max_length=128)]
    checksum: Annotated[str, Field(min_length=1, max_length=128)]
