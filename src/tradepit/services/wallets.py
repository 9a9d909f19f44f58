"""Wallets and ledger postings. Every balance change goes through ``post``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.domain.clock import Clock
from tradepit.domain.errors import Conflict
from tradepit.domain.ledger import Posting, check_balanced
from tradepit.store import wallets as store
from tradepit.store.users import User
from tradepit.store.wallets import LedgerEntry, LedgerTransaction, Wallet

#: Predictions (okx-bets) are staked and paid in this currency.
BET_CURRENCY = "USDT"
#: A user's main wallet in each currency.
CASH = "cash"
#: The system wallet that funds starting balances and admin adjustments.
CAPITAL = "system:capital"


class InsufficientFunds(Conflict):
    """A wallet would go below zero."""

    code = "INSUFFICIENT_FUNDS"


async def post(
    session: AsyncSession,
    clock: Clock,
    *,
    kind: str,
    postings: Sequence[Posting],
    reference: str | None = None,
    memo: str | None = None,
) -> LedgerTransaction:
    """Record a balanced transaction and move the wallets' balances, all or nothing."""
    check_balanced(postings)
    tx = LedgerTransaction(at=clock.now(), kind=kind, reference=reference, memo=memo)
    session.add(tx)
    await session.flush()
    for posting in postings:
        after = await store.apply(session, posting.wallet_id, posting.amount)
        if after is None:
            raise InsufficientFunds(
                f"insufficient {posting.currency} balance for {abs(posting.amount)}"
            )
        session.add(
            LedgerEntry(
                transaction_id=tx.id,
                wallet_id=posting.wallet_id,
                amount=posting.amount,
                balance_after=after,
            )
        )
    await session.flush()
    return tx


async def open_for(
    session: AsyncSession, clock: Clock, user: User, starting: Mapping[str, Decimal]
) -> Decimal:
    """Open the user's cash wallets, fund the starting balances; return the bet-currency balance."""
    now = clock.now()
    for currency, amount in starting.items():
        wallet = Wallet(
            user_id=user.id, name=CASH, currency=currency, balance=Decimal(0), created_at=now
        )
        session.add(wallet)
        await session.flush()
        if amount > 0:
            capital = await store.system_wallet(session, CAPITAL, currency, now)
            await post(
                session,
                clock,
                kind="starting_balance",
                reference=f"user:{user.id}",
                postings=[
                    Posting(capital.id, currency, -amount),
                    Posting(wallet.id, currency, amount),
                ],
            )
    return await balance_of(session, user.id, BET_CURRENCY)


async def balance_of(session: AsyncSession, user_id: int, currency: str) -> Decimal:
    """Return the user's cash balance in ``currency`` (zero when they have no such wallet)."""
    wallet = await store.find_wallet(session, user_id, CASH, currency)
    if wallet is None:
        return Decimal(0)
    await session.refresh(wallet, ["balance"])
    return wallet.balance
