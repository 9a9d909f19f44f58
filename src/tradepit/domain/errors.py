"""The error families of the domain. Transports map each family to a status code."""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """A rule of the domain was broken; the message is safe to show to the caller."""

    code = "ERROR"
    #: True when the failure itself is a fact to keep (a failed login): the transaction commits.
    commits: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """The input is well-formed but breaks a rule (weak password, bad symbol...)."""

    code = "INVALID_INPUT"


class NotFound(DomainError):
    """The thing does not exist, or the caller may not know that it does."""

    code = "NOT_FOUND"


class Conflict(DomainError):
    """The request conflicts with the current state (duplicate, wrong state)."""

    code = "CONFLICT"


class NotAuthenticated(DomainError):
    """The caller did not prove who they are."""

    code = "NOT_AUTHENTICATED"


class PermissionDenied(DomainError):
    """The caller is known but may not do this."""

    code = "FORBIDDEN"


class TooManyAttempts(DomainError):
    """The caller must wait ``retry_after`` seconds before trying again."""

    code = "TOO_MANY_ATTEMPTS"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)
