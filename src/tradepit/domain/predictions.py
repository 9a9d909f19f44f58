"""Fixed-time predictions (okx-bets): a stake on the price being higher or lower at expiry."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from tradepit.domain.money import SCALE

#: The smallest amount a payout is rounded to: the ledger's 10**-8.
PAYOUT_STEP = Decimal(1).scaleb(-SCALE)


class Direction(StrEnum):
    """What the bettor expects: ``long`` the price rises, ``short`` it falls."""

    LONG = "long"
    SHORT = "short"


class BetStatus(StrEnum):
    """A bet waits (``active``) until its expiry, then is won, lost or refunded (a tie)."""

    ACTIVE = "active"
    WON = "won"
    LOST = "lost"
    REFUNDED = "refunded"


def outcome(direction: Direction, entry: Decimal, exit_: Decimal) -> BetStatus:
    """Return how a bet ends: long wins above the entry, short below; the same price ties."""
    if exit_ == entry:
        return BetStatus.REFUNDED
    rose = exit_ > entry
    return BetStatus.WON if rose == (direction is Direction.LONG) else BetStatus.LOST


def payout(status: BetStatus, stake: Decimal, ratio: Decimal) -> Decimal:
    """Return what a resolved bet pays back: ``stake * ratio`` (rounded down to 10**-8) when
    won, the stake when refunded, nothing when lost."""
    if status is BetStatus.WON:
        return (stake * ratio).quantize(PAYOUT_STEP, rounding=ROUND_DOWN)
    if status is BetStatus.REFUNDED:
        return stake
    if status is BetStatus.LOST:
        return Decimal(0)
    raise ValueError("an active bet pays nothing yet")
