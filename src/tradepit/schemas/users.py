"""Request and response shapes of accounts, auth, settings and admin."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    computed_field,
    field_validator,
    model_validator,
)

from tradepit.domain.accounts import PASSWORD_MAX, USERNAME_PATTERN, USERNAME_RULE, Role
from tradepit.schemas.text import Spelled

Username = Annotated[
    str, StringConstraints(strip_whitespace=True), Spelled(USERNAME_PATTERN, USERNAME_RULE)
]
Password = Annotated[str, Field(min_length=1, max_length=PASSWORD_MAX)]
#: Text the database stores or searches: PostgreSQL refuses the NUL character in text.
NO_NUL = r"^[^\x00]*$"
LoginText = Annotated[str, Field(min_length=1, max_length=254, pattern=NO_NUL)]
Symbol = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True),
    Spelled(
        r"^[A-Za-z0-9][A-Za-z0-9 &._:\-]{0,39}$",
        "a symbol is 1-40 letters, digits, spaces, '&', '.', '_', ':' or '-', "
        "starting with a letter or digit",
    ),
]


class Strict(BaseModel):
    """A request body that refuses unknown fields."""

    model_config = ConfigDict(extra="forbid")


#: Roles as mt5-copier's clients spell them: its page shows the broadcast panel to
#: ``super_admin``, our ``superadmin``.
MT5_COPIER_ROLES: dict[Role, str] = {
    Role.USER: "user",
    Role.ADMIN: "admin",
    Role.SUPERADMIN: "super_admin",
}
#: What a sign-up body may ask for, by the word it uses: mt5-copier's ``broadcast`` users are
#: the ones broadcasts reach, which every user with an active linked account is here.
SIGNUP_ROLES: dict[str, Role] = {
    "user": Role.USER,
    "broadcast": Role.USER,
    "admin": Role.ADMIN,
    "superadmin": Role.SUPERADMIN,
    "super_admin": Role.SUPERADMIN,
}


class RegisterBody(Strict):
    """okx-bets ``{telegram, email, password}``, csv-accounts ``{username, password}`` or
    mt5-copier ``{username, email, password, role}``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "telegram": "alice_trades",
                    "email": "alice@example.com",
                    "password": "password123",
                },
                {"username": "alice", "password": "password123"},
            ]
        },
    )
    telegram: Username | None = Field(
        default=None, description="okx-bets: your Telegram handle, which becomes the username"
    )
    username: Username | None = Field(
        default=None, description="3-32 letters, digits, '_', '.' or '-' (csv-accounts, mt5-copier)"
    )
    email: EmailStr | None = Field(default=None, description="Optional; you may log in with it")
    password: Password = Field(description="8-128 characters with letters and digits")
    role: Literal["user", "broadcast", "admin", "superadmin", "super_admin"] | None = Field(
        default=None,
        description="mt5-copier's field. Sign-up always creates a user: 'user' and 'broadcast' "
        "(every user's active accounts receive broadcasts) are accepted; a higher role is "
        "403 ROLE_NOT_ALLOWED (a superadmin grants roles)",
    )

    @model_validator(mode="after")
    def _one_name(self) -> RegisterBody:
        if self.telegram is None and self.username is None:
            raise ValueError("give 'telegram' or 'username'")
        if (
            self.telegram
            and self.username
            and self.telegram.lstrip("@").lower() != self.username.lower()
        ):
            raise ValueError("'telegram' and 'username' must match when both are given")
        return self

    @property
    def name(self) -> str:
        """Return the chosen username (a telegram handle is the username)."""
        return self.username or self.telegram or ""

    @property
    def requested_role(self) -> Role | None:
        """Return the role the body asks for, if it names one."""
        return SIGNUP_ROLES[self.role] if self.role is not None else None


class SignupBody(Strict):
    """paper-tournaments sign-up."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"email": "user@example.com", "username": "testuser", "password": "SecurePass123"}
            ]
        },
    )
    email: EmailStr = Field(description="Your e-mail; you may log in with it")
    username: Username = Field(description="3-32 letters, digits, '_', '.' or '-'")
    password: Password = Field(description="8-128 characters with letters and digits")


class LoginBody(Strict):
    """Log in with a telegram handle, username or e-mail, and the password."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"telegram": "alice_trades", "password": "password123"},
                {"email": "user@example.com", "password": "SecurePass123"},
            ]
        },
    )
    telegram: LoginText | None = Field(default=None, description="Your Telegram handle (okx-bets)")
    username: LoginText | None = Field(default=None, description="Your username")
    email: LoginText | None = Field(default=None, description="Your e-mail")
    password: Password = Field(description="Your password")

    @model_validator(mode="after")
    def _one_login(self) -> LoginBody:
        if not (self.telegram or self.username or self.email):
            raise ValueError("give 'telegram', 'username' or 'email'")
        return self

    @property
    def login(self) -> str:
        """Return the identifier the caller typed."""
        return self.telegram or self.username or self.email or ""


class UserRead(BaseModel):
    """A user as the API shows it."""

    model_config = ConfigDict(from_attributes=True)
    id: int = Field(description="The user's id")
    username: str = Field(description="The username (a telegram handle is one)")
    email: str | None = Field(description="The e-mail, if given")
    role: Role = Field(description="user, admin or superadmin")
    is_active: bool = Field(description="false once an administrator deactivated the account")
    created_at: datetime = Field(description="When the account was made (UTC)")
    last_login_at: datetime | None = Field(description="The last successful login (UTC)")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def is_admin(self) -> bool:
        """paper-tournaments' flag (its admin pages check it): an admin or a superadmin."""
        return self.role.includes(Role.ADMIN)


class Notifications(Strict):
    """Which notifications the user wants."""

    order_fills: bool = True
    price_alerts: bool = True
    tournaments: bool = True
    email: bool = False


class Display(Strict):
    """How the user wants things shown."""

    theme: Literal["light", "dark", "system"] = "system"
    chart_type: Literal["candles", "line", "heikin_ashi"] = "candles"
    timezone: Annotated[str, Field(max_length=64)] = "Asia/Kolkata"
    compact: bool = False

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class SettingsRead(BaseModel):
    """A user's settings."""

    model_config = ConfigDict(from_attributes=True)
    default_product: Literal["MIS", "CNC", "NRML"]
    default_quantity: int
    watchlist: list[str]
    notifications: Notifications
    display: Display
    updated_at: datetime


class SettingsUpdate(Strict):
    """Fields to change; fields left out keep their value."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "default_product": "CNC",
                    "watchlist": ["NIFTY 50", "TCS"],
                    "display": {"theme": "dark"},
                }
            ]
        },
    )
    default_product: Literal["MIS", "CNC", "NRML"] | None = None
    default_quantity: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    watchlist: Annotated[list[Symbol], Field(max_length=100)] | None = None
    notifications: Notifications | None = None
    display: Display | None = None

    @field_validator("watchlist")
    @classmethod
    def _unique(cls, value: list[str] | None) -> list[str] | None:
        return list(dict.fromkeys(value)) if value is not None else None


class ApiKeyCreate(Strict):
    """Name of a new API key."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "my bot"}]})
    name: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=NO_NUL),
    ] = Field(description="A name to recognise the key by (1-64 characters)")


class ApiKeyRead(BaseModel):
    """An API key without its secret."""

    model_config = ConfigDict(from_attributes=True)
    id: int = Field(description="The key's id (DELETE /api/auth/api-keys/{id} revokes it)")
    name: str = Field(description="The name given to it")
    prefix: str = Field(description="The key's first 10 characters, to recognise it")
    created_at: datetime = Field(description="When it was made (UTC)")
    last_used_at: datetime | None = Field(description="When it last authenticated a request")
    revoked_at: datetime | None = Field(description="When it was revoked; null while it works")


class ApiKeyCreated(ApiKeyRead):
    """A new API key with its secret, shown this once."""

    key: str = Field(description="The key: send it as X-API-Key; it is shown only this once")


class ApiKeysRead(BaseModel):
    """The caller's API keys."""

    api_keys: list[ApiKeyRead] = Field(description="Every key, revoked ones too")


class Registered(BaseModel):
    """The answer to a sign-up by okx-bets', csv-accounts' or mt5-copier's page."""

    success: bool = Field(description="Always true (a refusal is an error answer)")
    message: str = Field(description="A confirmation to show")
    balance: float = Field(description="The USDT wallet's balance (JSON number)")
    id: int = Field(description="The new user's id")
    username: str = Field(description="The username (a telegram handle is the username)")
    telegram: str = Field(description="The same as username (okx-bets' name)")
    user_id: int = Field(description="The same as id (mt5-copier's name)")
    role: str = Field(description="user (mt5-copier's spelling: user, admin, super_admin)")


class LoggedIn(BaseModel):
    """The answer to ``POST /api/login``: a bearer token, and what okx-bets' and mt5-copier's
    pages read."""

    success: bool = Field(description="Always true (a refusal is an error answer)")
    telegram: str = Field(description="The username (okx-bets' name)")
    username: str = Field(description="The username")
    balance: float = Field(description="The USDT wallet's balance (JSON number)")
    access_token: str = Field(description="A JWT: send it as Authorization: Bearer <token>")
    token_type: str = Field(default="bearer", description="Always bearer")
    expires_in: int = Field(description="Seconds until the token expires")
    message: str = Field(description="A confirmation to show")
    token: str = Field(description="The same as access_token (mt5-copier's name)")
    user_id: int = Field(description="The user's id")
    role: str = Field(description="user, admin or super_admin (mt5-copier's spelling)")


class TokenRead(BaseModel):
    """The answer to ``POST /api/auth/login``: a bearer token and the user."""

    access_token: str = Field(description="A JWT: send it as Authorization: Bearer <token>")
    token_type: str = Field(default="bearer", description="Always bearer")
    expires_in: int = Field(description="Seconds until the token expires")
    user: UserRead = Field(description="The user logged in")


class LoggedOut(BaseModel):
    """The answer to a logout."""

    success: bool = Field(description="Always true")
    message: str = Field(description="A confirmation to show")


class RoleChange(Strict):
    """A new role for a user."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"role": "admin"}]})
    role: Role


class AuditRead(BaseModel):
    """One audit-log entry."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    actor_id: int | None
    actor: str | None
    action: str
    target: str | None
    ip: str | None
    result: str
    details: dict[str, Any]


# Answers as /docs shows them (``api.examples``); tests/api/test_reference.py checks each
# against its model. The JWT is an example, signed by no server.
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxIiwicm9sZSI6InVzZXIiLCJqdGkiOiIwZjhjMmUxZDlhN2IiLCJpc3MiOiJ0cmFkZXBpdCJ9"
    ".ZXhhbXBsZSBzaWduYXR1cmUsIG5vdCBhIGtleQ"
)
USER: dict[str, Any] = {
    "id": 1,
    "username": "alice_trades",
    "email": "alice@example.com",
    "role": "user",
    "is_active": True,
    "created_at": "2026-01-14T04:55:12.417051Z",
    "last_login_at": "2026-01-14T05:02:40.446670Z",
    "is_admin": False,
}
REGISTERED: dict[str, Any] = {
    "success": True,
    "message": "User registered successfully",
    "balance": 0.0,
    "id": 1,
    "username": "alice_trades",
    "telegram": "alice_trades",
    "user_id": 1,
    "role": "user",
}
LOGGED_IN: dict[str, Any] = {
    "success": True,
    "telegram": "alice_trades",
    "username": "alice_trades",
    "balance": 100.0,
    "access_token": JWT,
    "token_type": "bearer",
    "expires_in": 86400,
    "message": "Login successful",
    "token": JWT,
    "user_id": 1,
    "role": "user",
}
TOKEN_READ: dict[str, Any] = {
    "access_token": JWT,
    "token_type": "bearer",
    "expires_in": 86400,
    "user": USER,
}
LOGGED_OUT: dict[str, Any] = {"success": True, "message": "Logged out"}
API_KEY: dict[str, Any] = {
    "id": 1,
    "name": "my bot",
    "prefix": "tp_Xmpl7Kq",
    "created_at": "2026-01-14T05:04:31.493475Z",
    "last_used_at": None,
    "revoked_at": None,
}
API_KEY_CREATED: dict[str, Any] = {
    **API_KEY,
    "key": "tp_Xmpl7Kq2vN8sLr4Tg6Wc1Yb9Hd3Fj5Mp0Qz_ExAmPlE",
}
API_KEYS: dict[str, Any] = {
    "api_keys": [{**API_KEY, "last_used_at": "2026-01-14T05:10:02.118034Z"}]
}
API_KEY_REVOKED: dict[str, Any] = {
    **API_KEY,
    "last_used_at": "2026-01-14T05:10:02.118034Z",
    "revoked_at": "2026-01-14T06:00:00.027311Z",
}
