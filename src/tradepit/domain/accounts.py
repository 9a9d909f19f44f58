"""Rules about people: roles, usernames, password strength and login lockout."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tradepit.domain.errors import InvalidInput


class Role(StrEnum):
    """What a user may do; each role includes the ones below it."""

    USER = "user"
    ADMIN = "admin"
    SUPERADMIN = "superadmin"

    @property
    def rank(self) -> int:
        """Return the role's position: user < admin < superadmin."""
        return _RANK[self]

    def includes(self, other: Role) -> bool:
        """Tell whether this role may do everything ``other`` may."""
        return self.rank >= other.rank


_RANK = {Role.USER: 0, Role.ADMIN: 1, Role.SUPERADMIN: 2}

USERNAME_PATTERN = r"^@?[A-Za-z0-9_][A-Za-z0-9_.\-]{2,31}$"
#: ``USERNAME_PATTERN`` in words, for refusals.
USERNAME_RULE = (
    "username must be 3-32 characters: letters, digits, '_', '.' or '-' "
    "(not starting with '.' or '-')"
)
_USERNAME = re.compile(USERNAME_PATTERN)
PASSWORD_MIN = 8
PASSWORD_MAX = 128


class WeakPassword(InvalidInput):
    """The password does not meet the strength rules."""

    code = "WEAK_PASSWORD"


class InvalidUsername(InvalidInput):
    """The username is not 3-32 letters, digits, '_', '.' or '-'."""

    code = "INVALID_USERNAME"


def normalize_username(raw: str) -> str:
    """Return the username as shown: a telegram handle loses its leading '@'."""
    name = raw.strip()
    if not _USERNAME.fullmatch(name):
        raise InvalidUsername(USERNAME_RULE)
    return name.removeprefix("@")


def username_key(name: str) -> str:
    """Return the case-insensitive key under which a username is unique."""
    return name.strip().removeprefix("@").lower()


def check_password_strength(password: str) -> None:
    """Refuse a password shorter than 8, longer than 128, or without letters and digits."""
    if len(password) < PASSWORD_MIN:
        raise WeakPassword(f"password must be at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise WeakPassword(f"password must be at most {PASSWORD_MAX} characters")
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        raise WeakPassword("password must contain both letters and digits")


@dataclass(frozen=True)
class LockoutPolicy:
    """After ``max_failures`` failures within ``window``, refuse logins for ``lock_for``."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lock_for: timedelta = timedelta(minutes=15)

    def locked_until(self, failures: Sequence[datetime], now: datetime) -> datetime | None:
        """Return when the lock ends if ``failures`` (any order) lock the caller now, else None.

        A lock starts at the failure that completes ``max_failures`` within ``window``.
        """
        ordered = sorted(failures)
        n = self.max_failures
        until: datetime | None = None
        for i in range(n - 1, len(ordered)):
            if ordered[i] - ordered[i - n + 1] <= self.window:
                until = ordered[i] + self.lock_for
        if until is not None and until > now:
            return until
        return None
