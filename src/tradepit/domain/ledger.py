"""Double-entry bookkeeping: every balance change is a transaction whose postings sum to zero."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from tradepit.domain.errors import InvalidInput


class UnbalancedTransaction(InvalidInput):
    """The postings of a transaction do not sum to zero in some currency."""

    code = "UNBALANCED_TRANSACTION"


@dataclass(frozen=True)
class Posting:
    """An amount moved into (positive) or out of (negative) one wallet."""

    wallet_id: int
    currency: str
    amount: Decimal


def check_balanced(postings: Iterable[Posting]) -> None:
    """Refuse a transaction that is empty, has a zero posting, or does not sum to zero."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    count = 0
    for posting in postings:
        if posting.amount == 0:
            raise UnbalancedTransaction("a posting must move a non-zero amount")
        totals[posting.currency] += posting.amount
        count += 1
    if count < 2:
        raise UnbalancedTransaction("a transaction needs at least two postings")
    unbalanced = {c: t for c, t in totals.items() if t != 0}
    if unbalanced:
        raise UnbalancedTransaction(f"postings do not sum to zero: {unbalanced}")
