"""Who is calling: the identity every use case receives from the transport."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tradepit.domain.accounts import Role
from tradepit.services.identities import Identity


@dataclass(frozen=True)
class Caller:
    """Who is making the request, as proven by a token or an API key."""

    user: Identity
    ip: str
    jti: str | None = None
    token_expires_at: datetime | None = None
    api_key_id: int | None = None
    #: The account a token names as the one to trade (mt5-copier's connect), if any.
    account_id: int | None = None

    @property
    def role(self) -> Role:
        """Return the caller's role."""
        return Role(self.user.role)
