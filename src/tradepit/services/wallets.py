"""Wallets and ledger postings. Every balance change goes through ``post``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.domain.clock import Clock
from tradepit.domain.errors import Conflict, NotFound
from tradepit.domain.ledger import Posting, check_balanced
from tradepit.domain.money import plain
from tradepit.schemas.wallets import AdjustmentCreate, AdjustmentRead, LedgerEntryRead, WalletRead
from tradepit.services.callers import Caller
from tradepit.store import audit
from tradepit.store import wallets as store
from tradepit.store.users import User
from tradepit.store.wallets import LedgerTransaction, Wallet
from tradepit.trading.state import TradingState

#: Predictions (okx-bets) are staked and paid in this currency.
BET_CURRENCY = "USDT"
#: A user's main wallet in each currency.
CASH = "cash"
#: The system wallet that funds starting balances and admin adjustments.
CAPITAL = "system:capital"


def tournament_wallet(tournament_id: int) -> str:
    """Return the name of a user's isolated wallet in a tournament."""
    return f"tournament:{tournament_id}"


class InsufficientFunds(Conflict):
    """A wallet would go below zero."""

    code = "INSUFFICIENT_FUNDS"


def short_of(currency: str, need: str, cash: Decimal, blocked: Decimal) -> InsufficientFunds:
    """Return the refusal of an order whose ``need`` ("this order needs 250000 (price x
    quantity + charges)") exceeds what a wallet of ``cash``, ``blocked`` of it for open orders
    and margin, has available; amounts in plain decimals."""
    return InsufficientFunds(
        f"insufficient {currency}: {need}, available {plain(cash - blocked)} "
        f"(cash {plain(cash)}, blocked for open orders and margin {plain(blocked)})"
    )


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
    at = clock.now()
    tx_id = await store.add_transaction(session, at=at, kind=kind, reference=reference, memo=memo)
    # Written already; the object only tells the caller what was.
    tx = LedgerTransaction(id=tx_id, at=at, kind=kind, reference=reference, memo=memo)
    entries: list[dict[str, object]] = []
    for posting in postings:
        after = await store.apply(session, posting.wallet_id, posting.amount)
        if after is None:
            raise InsufficientFunds(
                f"insufficient {posting.currency} balance for {plain(abs(posting.amount))}"
            )
        entries.append(
            {
                "transaction_id": tx.id,
                "wallet_id": posting.wallet_id,
                "amount": posting.amount,
                "balance_after": after,
            }
        )
    await store.add_entries(session, entries)
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


class UnknownWallet(NotFound):
    """The user has no wallet in that currency."""

    code = "WALLET_NOT_FOUND"


async def wallets_of(state: TradingState, user_id: int) -> list[WalletRead]:
    """Return the user's cash wallets: cash, blocked and available per currency."""
    rows = await state.wallets(user_id)
    return [
        WalletRead(
            currency=w.currency,
            cash=w.balance,
            blocked=w.blocked,
            available=w.balance - w.blocked,
        )
        for w in rows
        if w.name == CASH
    ]


async def ledger_page(
    session: AsyncSession, user_id: int, *, currency: str | None, page: int, limit: int
) -> tuple[list[LedgerEntryRead], int]:
    """Return one page of the user's ledger entries, newest first, and the total."""
    rows, total = await store.entries_page(
        session, user_id, currency=currency, offset=(page - 1) * limit, limit=limit
    )
    return [
        LedgerEntryRead(
            id=entry.id,
            transaction_id=tx.id,
            currency=wallet.currency,
            wallet=wallet.name,
            amount=entry.amount,
            balance_after=entry.balance_after,
            kind=tx.kind,
            ref=tx.reference,
            created_at=tx.at,
        )
        for entry, tx, wallet in rows
    ], total


async def adjust(
    session: AsyncSession,
    clock: Clock,
    wall: Clock,
    caller: Caller,
    user_id: int,
    body: AdjustmentCreate,
) -> AdjustmentRead:
    """Credit or debit a user's wallet from the system capital, with a reason, audited."""
    wallet = await store.find_wallet(session, user_id, CASH, body.currency)
    if wallet is None:
        raise UnknownWallet(f"user {user_id} has no {body.currency} wallet")
    capital = await store.system_wallet(session, CAPITAL, body.currency, clock.now())
    tx = await post(
        session,
        clock,
        kind="admin_adjustment",
        reference=f"admin:{caller.user.id}",
        memo=body.reason,
        postings=[
            Posting(capital.id, body.currency, -body.amount),
            Posting(wallet.id, body.currency, body.amount),
        ],
    )
    balance = await balance_of(session, user_id, body.currency)
    audit.record(
        session,
        wall,
        action="admin.wallet.adjust",
        actor_id=caller.user.id,
        actor=caller.user.username,
        target=f"user:{user_id}",
        ip=caller.ip,
        details={
            "currency": body.currency,
            "amount": format(body.amount, "f"),
            "reason": body.reason,
            "transaction_id": tx.id,
        },
    )
    return AdjustmentRead(
        transaction_id=tx.id,
        user_id=user_id,
        currency=body.currency,
        amount=body.amount,
        balance_after=balance,
        reason=body.reason,
        created_at=tx.at,
    )


async def balance_of(session: AsyncSession, user_id: int, currency: str) -> Decimal:
    """Return the user's cash balance in ``currency`` (zero when they have no such wallet)."""
    wallet = await store.find_wallet(session, user_id, CASH, currency)
    if wallet is None:
        return Decimal(0)
    await session.refresh(wallet, ["balance"])
    return wallet.balance
