"""Wallets and the ledger: models and queries. A wallet's balance is the sum of its entries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import cast
from weakref import WeakKeyDictionary

from sqlalchemy import (
    CheckConstraint,
    Connection,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

from tradepit.store import rows
from tradepit.store.base import Base
from tradepit.store.db import after_commit, run, run_many, touch, transaction_cache
from tradepit.store.types import ExactDecimal, UTCDateTime


class Wallet(Base):
    """Money of one owner in one currency. System wallets (no user) fund starting balances."""

    __tablename__ = "wallets"
    __table_args__ = (
        UniqueConstraint("user_id", "name", "currency"),
        # NULLs are distinct in the constraint above: system wallets need their own index.
        Index(
            "uq_wallets_system_name_currency",
            "name",
            "currency",
            unique=True,
            sqlite_where=text("user_id IS NULL"),
            postgresql_where=text("user_id IS NULL"),
        ),
        # The last line of defence: a user's money never goes below zero, whatever the code does.
        CheckConstraint("allow_negative OR balance >= 0", name="balance_not_negative"),
        CheckConstraint("blocked >= 0", name="blocked_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(8))
    balance: Mapped[Decimal] = mapped_column(ExactDecimal())
    blocked: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))
    allow_negative: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerTransaction(Base):
    """A set of postings that happened together."""

    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str | None] = mapped_column(String(128))
    memo: Mapped[str | None] = mapped_column(String(255))


class LedgerEntry(Base):
    """One posting: an amount into or out of one wallet, and the balance after it."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    wallet_id: Mapped[int] = mapped_column(ForeignKey("wallets.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(ExactDecimal())
    balance_after: Mapped[Decimal] = mapped_column(ExactDecimal())


async def system_wallet_id(session: AsyncSession, name: str, currency: str, now: datetime) -> int:
    """Return the id of the system wallet ``name`` in ``currency`` (remembered per database
    once its row is committed: system wallets are never deleted)."""
    engine = session.sync_session.get_bind()
    known = _SYSTEM_IDS.setdefault(engine, {})
    found = known.get((name, currency))
    if found is not None:
        return found
    wallet = await system_wallet(session, name, currency, now)
    wallet_id = wallet.id
    after_commit(session, lambda: known.__setitem__((name, currency), wallet_id))
    return wallet_id


async def system_wallet(session: AsyncSession, name: str, currency: str, now: datetime) -> Wallet:
    """Return the system wallet ``name`` in ``currency``, creating it the first time.

    Two first uses at once both try to create it; the unique index lets one win, and the other
    takes the winner's row (the insert runs in a savepoint, so its transaction goes on).
    """
    stmt = select(Wallet).where(
        Wallet.user_id.is_(None), Wallet.name == name, Wallet.currency == currency
    )
    found = (await session.scalars(stmt)).first()
    if found is not None:
        return found
    created = Wallet(
        user_id=None,
        name=name,
        currency=currency,
        balance=Decimal(0),
        blocked=Decimal(0),
        allow_negative=True,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(created)
    except IntegrityError:
        return (await session.scalars(stmt)).one()
    return created


#: System wallet ids per database engine.
_SYSTEM_IDS: WeakKeyDictionary[Engine | Connection, dict[tuple[str, str], int]] = (
    WeakKeyDictionary()
)


async def lock_user(session: AsyncSession, user_id: int) -> None:
    """Lock the user's wallets until the transaction ends, so that one user's orders, fills
    and positions change one at a time (PostgreSQL; SQLite serialises every writer anyway).

    The locked rows are remembered for the rest of the transaction (``find_wallet``)."""
    locked = transaction_cache(session, "locked_users")
    touch(session, user_id)
    if user_id in locked:
        return  # already held by this transaction
    known = transaction_cache(session, "wallets")
    locked[user_id] = True
    for wallet in await rows.load(session, Wallet, _LOCK_USER, {"user_id": user_id}):
        known[(user_id, wallet.name, wallet.currency)] = wallet


_LOCK_USER = (
    rows.every_column(Wallet)
    .where(Wallet.user_id == bindparam("user_id"))
    .order_by(Wallet.id)
    .with_for_update()
)


async def find_wallet(
    session: AsyncSession, user_id: int, name: str, currency: str
) -> Wallet | None:
    """Return a user's wallet by name and currency."""
    cached: Wallet | None = transaction_cache(session, "wallets").get((user_id, name, currency))
    if cached is not None:
        return cached
    stmt = select(Wallet).where(
        Wallet.user_id == user_id, Wallet.name == name, Wallet.currency == currency
    )
    return (await session.scalars(stmt)).first()


async def apply(session: AsyncSession, wallet_id: int, amount: Decimal) -> Decimal | None:
    """Add ``amount`` to a wallet atomically; return the new balance, or None if it would go
    below zero on a wallet that may not."""
    found = await run(session, _APPLY, {"wallet_id": wallet_id, "amount": amount})
    balance: Decimal | None = found[0][0] if found else None
    if balance is not None:
        touch(session, found[0][1])
        _loaded(session, wallet_id, "balance", balance)
    return balance


async def hold(session: AsyncSession, wallet_id: int, amount: Decimal) -> bool:
    """Block ``amount`` (negative releases) if the wallet's available money covers it."""
    found = await run(session, _HOLD, {"wallet_id": wallet_id, "amount": amount})
    blocked: Decimal | None = found[0][0] if found else None
    if blocked is None:
        return False
    touch(session, found[0][1])
    _loaded(session, wallet_id, "blocked", blocked)
    return True


def _loaded(session: AsyncSession, wallet_id: int, name: str, value: Decimal) -> None:
    """Give the session's copy of the wallet, if it has one, the value the database now holds
    (as loaded, not as a change to write back)."""
    wallet = rows.in_session(session, Wallet, wallet_id)
    if wallet is not None:
        set_committed_value(wallet, name, value)


# Built once: the statements of every fill, compiled and cached by SQLAlchemy on first use.
_WALLETS = cast(Table, Wallet.__table__)
_ENTRIES = cast(Table, LedgerEntry.__table__)
_wallets = _WALLETS.c
_APPLY = (
    update(_WALLETS)
    .where(_wallets.id == bindparam("wallet_id"))
    .where(_wallets.allow_negative | (_wallets.balance + bindparam("amount") >= 0))
    .values(balance=_wallets.balance + bindparam("amount"))
    .returning(_wallets.balance, _wallets.user_id)
)
# Each comparison has the column first, so ``amount`` is bound as an exact amount.
_HOLD = (
    update(_WALLETS)
    .where(_wallets.id == bindparam("wallet_id"))
    .where(_wallets.blocked + bindparam("amount") <= _wallets.balance)
    .where(_wallets.blocked + bindparam("amount") >= 0)
    .values(blocked=_wallets.blocked + bindparam("amount"))
    .returning(_wallets.blocked, _wallets.user_id)
)


async def add_transaction(
    session: AsyncSession, *, at: datetime, kind: str, reference: str | None, memo: str | None
) -> int:
    """Insert a ledger transaction; return its id."""
    values = {"at": at, "kind": kind, "reference": reference, "memo": memo}
    return int((await run(session, _NEW_TRANSACTION, values))[0][0])


_TRANSACTIONS = cast(Table, LedgerTransaction.__table__)
_NEW_ENTRY = insert(_ENTRIES)
_NEW_TRANSACTION = insert(_TRANSACTIONS).returning(_TRANSACTIONS.c.id)


async def add_entries(session: AsyncSession, entries: Sequence[Mapping[str, object]]) -> None:
    """Insert ledger entries in one statement (executemany)."""
    await run_many(session, _NEW_ENTRY, entries)


async def entries_sum(session: AsyncSession, wallet_id: int) -> Decimal:
    """Return the sum of a wallet's ledger entries."""
    stmt = select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.wallet_id == wallet_id
    )
    return Decimal(await session.scalar(stmt) or 0)


async def entries_page(
    session: AsyncSession, user_id: int, *, currency: str | None, offset: int, limit: int
) -> tuple[list[tuple[LedgerEntry, LedgerTransaction, Wallet]], int]:
    """Return one page of a user's ledger entries, newest first, and the total."""
    base = (
        select(LedgerEntry, LedgerTransaction, Wallet)
        .join(LedgerTransaction, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(Wallet, LedgerEntry.wallet_id == Wallet.id)
        .where(Wallet.user_id == user_id)
    )
    if currency is not None:
        base = base.where(Wallet.currency == currency)
    total = await session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = await session.execute(base.order_by(LedgerEntry.id.desc()).offset(offset).limit(limit))
    return [tuple(row) for row in rows.all()], total  # type: ignore[misc]
