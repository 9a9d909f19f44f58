"""Check the books: per currency the ledger sums to zero (and so does every transaction), every
wallet's balance is the sum of its entries, every position's quantity and charges are what its
fills add up to. The admin route ``GET /api/admin/books``, ``tradepit check`` and the tests'
invariant checks all call :func:`check`.

What is not checked: a position's cost basis and realized P&L (they need each fill replayed
with its instrument's multiplier), a wallet's ``blocked`` against the holds and margins behind
it, and each entry's ``balance_after``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.domain.money import plain
from tradepit.store import books as store

#: At most this many differences of each kind are listed (all are counted).
LIMIT = 100


@dataclass(frozen=True)
class CurrencyTotal:
    """The sum of every ledger entry in one currency: zero when the books balance."""

    currency: str
    total: Decimal

    @property
    def balanced(self) -> bool:
        """Tell whether the currency sums to zero."""
        return self.total == 0


@dataclass(frozen=True)
class UnbalancedTransaction:
    """A ledger transaction whose entries in ``currency`` sum to ``total``, not zero."""

    transaction_id: int
    currency: str
    total: Decimal


@dataclass(frozen=True)
class WalletDifference:
    """A wallet whose stored balance (``found``) is not the sum of its entries (``expected``)."""

    wallet_id: int
    user_id: int | None
    name: str
    currency: str
    expected: Decimal
    found: Decimal

    @property
    def difference(self) -> Decimal:
        """Return what the balance has too much (negative: too little)."""
        return self.found - self.expected


@dataclass(frozen=True)
class PositionDifference:
    """A position whose ``field`` (quantity or charges) is ``found``, where its fills add up
    to ``expected``; ``position_id`` None: fills of a position that has no row."""

    position_id: int | None
    user_id: int
    tournament_id: int | None
    symbol: str
    product: str
    field: str
    expected: Decimal
    found: Decimal


@dataclass(frozen=True)
class BooksReport:
    """What :func:`check` found. ``*_count`` count every difference; the lists hold the first
    ``LIMIT`` of each kind."""

    currencies: list[CurrencyTotal]
    wallets_checked: int
    positions_checked: int
    transactions: list[UnbalancedTransaction]
    transactions_count: int
    wallets: list[WalletDifference]
    wallets_count: int
    positions: list[PositionDifference]
    positions_count: int

    @property
    def balanced(self) -> bool:
        """Tell whether everything agrees."""
        return (
            all(c.balanced for c in self.currencies)
            and self.transactions_count == 0
            and self.wallets_count == 0
            and self.positions_count == 0
        )

    @property
    def problems(self) -> list[str]:
        """Return one line per difference found (none when the books balance)."""
        lines = [
            f"ledger: {c.currency} sums to {plain(c.total)}, not 0"
            for c in self.currencies
            if not c.balanced
        ]
        lines += [
            f"transaction {t.transaction_id}: its {t.currency} entries sum to {plain(t.total)}"
            for t in self.transactions
        ]
        lines += [
            f"wallet {w.wallet_id} ({_owner(w.user_id)}, {w.name} {w.currency}): balance "
            f"{plain(w.found)}, entries sum to {plain(w.expected)}"
            for w in self.wallets
        ]
        lines += [
            f"position {p.position_id or '(no row)'} (user {p.user_id}"
            f"{f', tournament {p.tournament_id}' if p.tournament_id is not None else ''}, "
            f"{p.symbol} {p.product}): {p.field} {plain(p.found)}, fills add up to "
            f"{plain(p.expected)}"
            for p in self.positions
        ]
        listed = len(self.transactions) + len(self.wallets) + len(self.positions)
        counted = self.transactions_count + self.wallets_count + self.positions_count
        if counted > listed:
            lines.append(f"... and {counted - listed} more")
        return lines


def _owner(user_id: int | None) -> str:
    return "system" if user_id is None else f"user {user_id}"


async def check(session: AsyncSession, limit: int = LIMIT) -> BooksReport:
    """Check the books; read only."""
    totals = await store.ledger_totals(session)
    transactions, transactions_count = await store.unbalanced_transactions(session, limit)
    wallets, wallets_count = await store.wallet_mismatches(session, limit)
    positions, positions_count = await store.position_mismatches(session, limit)
    differences: list[PositionDifference] = []
    for p in positions:
        for field, expected, found in (
            ("quantity", p.fills_quantity, p.quantity),
            ("charges", p.fills_charges, p.charges),
        ):
            if expected != found:
                differences.append(
                    PositionDifference(
                        p.position_id,
                        p.user_id,
                        p.tournament_id,
                        p.symbol,
                        p.product,
                        field,
                        expected,
                        found,
                    )
                )
    return BooksReport(
        currencies=[CurrencyTotal(currency, total) for currency, total in totals.items()],
        wallets_checked=await store.wallets_checked(session),
        positions_checked=await store.positions_checked(session),
        transactions=[UnbalancedTransaction(*t) for t in transactions],
        transactions_count=transactions_count,
        wallets=[
            WalletDifference(w.wallet_id, w.user_id, w.name, w.currency, w.entries, w.balance)
            for w in wallets
        ],
        wallets_count=wallets_count,
        positions=differences,
        positions_count=positions_count,
    )
