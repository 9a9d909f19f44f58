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
    telegram: Username | None = None
    username: Username | None = None
    email: EmailStr | None = None
    password: Password
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
    email: EmailStr
    username: Username
    password: Password


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
    telegram: LoginText | None = None
    username: LoginText | None = None
    email: LoginText | None = None
    password: Password

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
    id: int
    username: str
    email: str | None
    role: Role
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None

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
    ]


class ApiKeyRead(BaseModel):
    """An API key without its secret."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    """A new API key with its secret, shown this once."""

    key: str


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
