"""Wallets and ledger postings: balances follow the entries, money is conserved, all or nothing."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.books import assert_books_balance
from tests.conftest import empty_tables
from tradepit.domain.clock import ManualClock
from tradepit.domain.ledger import Posting, UnbalancedTransaction
from tradepit.domain.money import from_units
from tradepit.services import wallets
from tradepit.services.wallets import CAPITAL, CASH, InsufficientFunds
from tradepit.store import wallets as store
from tradepit.store.db import create_engine, create_sessionmaker
from tradepit.store.users import User
from tradepit.store.wallets import LedgerEntry, LedgerTransaction, Wallet

START = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
STARTING = {"INR": Decimal("100000"), "USDT": Decimal("0")}
CURRENCIES = list(STARTING)
_names = itertools.count(1)


@dataclass
class Ledger:
    """The database under test, and the clock its postings are stamped with."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: ManualClock = field(default_factory=lambda: ManualClock(START))


@pytest.fixture
async def ledger(db: str) -> AsyncIterator[Ledger]:
    """Yield the test database with a session factory and a manual clock."""
    engine = create_engine(db)
    yield Ledger(engine, create_sessionmaker(engine))
    await engine.dispose()


async def new_user(session: AsyncSession) -> User:
    """Insert a user (no wallets yet) and return it."""
    name = f"wallet{next(_names)}"
    user = User(
        username=name,
        username_key=name,
        email=None,
        password_hash="not-a-hash",
        role="user",
        is_active=True,
        created_at=START,
    )
    session.add(user)
    await session.flush()
    return user


async def wallet_of(session: AsyncSession, user: User, currency: str) -> Wallet:
    """Return the user's cash wallet in ``currency``."""
    found = await store.find_wallet(session, user.id, CASH, currency)
    assert found is not None
    return found


async def balances(ledger: Ledger) -> dict[int, Decimal]:
    """Return every wallet's stored balance, read fresh."""
    async with ledger.sessions() as session:
        rows = await session.execute(select(Wallet.id, Wallet.balance))
        return {row.id: row.balance for row in rows}


async def row_counts(ledger: Ledger) -> tuple[int, int]:
    """Return the number of ledger transactions and entries."""
    async with ledger.sessions() as session:
        txs = await session.scalar(select(func.count()).select_from(LedgerTransaction))
        entries = await session.scalar(select(func.count()).select_from(LedgerEntry))
        return txs or 0, entries or 0


async def assert_books_agree(ledger: Ledger) -> None:
    """Check the books (``services/books``: each currency and transaction sums to zero, every
    wallet equals its entries), and that no user's wallet is negative or disagrees with the
    running balance of its last entry."""
    await assert_books_balance(ledger.sessions)
    async with ledger.sessions() as session:
        for w in await session.scalars(select(Wallet)):
            if not w.allow_negative:
                assert w.balance >= 0
            last = await session.scalar(
                select(LedgerEntry.balance_after)
                .where(LedgerEntry.wallet_id == w.id)
                .order_by(LedgerEntry.id.desc())
                .limit(1)
            )
            assert last is None or last == w.balance


class TestOpenFor:
    async def test_funds_inr_100000_from_the_capital_wallet(self, ledger: Ledger) -> None:
        async with ledger.sessions() as session:
            user = await new_user(session)
            bet_balance = await wallets.open_for(
                session, ledger.clock, user, {"INR": Decimal("100000")}
            )
            await session.commit()
        assert bet_balance == 0  # no USDT wallet: the bet currency balance is zero

        async with ledger.sessions() as session:
            cash = await wallet_of(session, user, "INR")
            capital = await store.system_wallet(session, CAPITAL, "INR", START)
            assert cash.balance == Decimal("100000")
            assert not cash.allow_negative
            assert capital.balance == Decimal("-100000")
            assert capital.allow_negative and capital.user_id is None
            assert await wallets.balance_of(session, user.id, "INR") == Decimal("100000")
            tx = (await session.scalars(select(LedgerTransaction))).one()
            assert tx.kind == "starting_balance"
            assert tx.reference == f"user:{user.id}"
            assert tx.at == START
            entries = {
                e.wallet_id: e.amount
                for e in await session.scalars(
                    select(LedgerEntry).where(LedgerEntry.transaction_id == tx.id)
                )
            }
            assert entries == {capital.id: Decimal("-100000"), cash.id: Decimal("100000")}
        await assert_books_agree(ledger)

    async def test_zero_starting_balance_opens_an_empty_wallet(self, ledger: Ledger) -> None:
        async with ledger.sessions() as session:
            user = await new_user(session)
            bet_balance = await wallets.open_for(session, ledger.clock, user, STARTING)
            await session.commit()
        assert bet_balance == 0
        async with ledger.sessions() as session:
            usdt = await wallet_of(session, user, "USDT")
            assert usdt.balance == 0
            assert await store.entries_sum(session, usdt.id) == 0
            system = await session.scalar(
                select(func.count()).select_from(Wallet).where(Wallet.currency == "USDT")
            )
            assert system == 1  # no capital wallet was needed for a zero balance
        assert await row_counts(ledger) == (1, 2)

    async def test_returns_the_bet_currency_balance(self, ledger: Ledger) -> None:
        async with ledger.sessions() as session:
            user = await new_user(session)
            bet = await wallets.open_for(
                session, ledger.clock, user, {"INR": Decimal(5), "USDT": Decimal("12.5")}
            )
            await session.commit()
        assert bet == Decimal("12.5")

    async def test_every_user_is_funded_from_the_same_capital(self, ledger: Ledger) -> None:
        async with ledger.sessions() as session:
            for _ in range(3):
                await wallets.open_for(session, ledger.clock, await new_user(session), STARTING)
            await session.commit()
            capital = await store.system_wallet(session, CAPITAL, "INR", START)
            assert capital.balance == Decimal("-300000")
        await assert_books_agree(ledger)

    async def test_balance_of_a_missing_wallet_is_zero(self, ledger: Ledger) -> None:
        async with ledger.sessions() as session:
            user = await new_user(session)
            assert await wallets.balance_of(session, user.id, "USD") == 0


@dataclass(frozen=True)
class Transfer:
    """Move ``amount`` of ``currency`` from party ``source`` to party ``target``.

    Parties 0 and 1 are users' cash wallets, 2 is the capital wallet.
    ``credit_first`` lists the receiving posting first, so a refused debit comes after a
    balance has already moved.
    """

    currency: str
    source: int
    target: int
    amount: Decimal
    credit_first: bool


CAPITAL_PARTY = 2
amounts = st.one_of(
    st.integers(min_value=1, max_value=250_000).map(Decimal),  # whole units
    st.integers(min_value=1, max_value=250_000 * 10**8).map(from_units),  # any 8-place amount
)
transfers = st.builds(
    lambda currency, parties, amount, credit_first: Transfer(
        currency, parties[0], parties[1], amount, credit_first
    ),
    st.sampled_from(CURRENCIES),
    st.permutations([0, 1, CAPITAL_PARTY]),
    amounts,
    st.booleans(),
)


async def open_two_users(ledger: Ledger) -> dict[tuple[int, str], int]:
    """Open two funded users and the capital wallets; return wallet ids by (party, currency)."""
    async with ledger.sessions() as session:
        users = [await new_user(session), await new_user(session)]
        for user in users:
            await wallets.open_for(session, ledger.clock, user, STARTING)
        ids: dict[tuple[int, str], int] = {}
        for currency in CURRENCIES:
            for party, user in enumerate(users):
                ids[party, currency] = (await wallet_of(session, user, currency)).id
            capital = await store.system_wallet(session, CAPITAL, currency, START)
            ids[CAPITAL_PARTY, currency] = capital.id
        await session.commit()
        return ids


class TestPost:
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.lists(transfers, min_size=1, max_size=12))
    async def test_balances_follow_the_entries_and_money_is_conserved(
        self, ledger: Ledger, moves: list[Transfer]
    ) -> None:
        await empty_tables(ledger.engine)
        ids = await open_two_users(ledger)
        expected = await balances(ledger)
        assert expected[ids[0, "INR"]] == expected[ids[1, "INR"]] == Decimal("100000")
        assert expected[ids[CAPITAL_PARTY, "INR"]] == Decimal("-200000")

        for move in moves:
            ledger.clock.advance(timedelta(seconds=1))
            source, target = ids[move.source, move.currency], ids[move.target, move.currency]
            debit = Posting(source, move.currency, -move.amount)
            credit = Posting(target, move.currency, move.amount)
            refused = move.source != CAPITAL_PARTY and expected[source] < move.amount
            event("overdraft refused" if refused else "transfer accepted")
            before = await row_counts(ledger)
            async with ledger.sessions() as session:
                try:
                    await wallets.post(
                        session,
                        ledger.clock,
                        kind="transfer",
                        postings=[credit, debit] if move.credit_first else [debit, credit],
                    )
                except InsufficientFunds:
                    await session.rollback()
                    assert refused, move
                else:
                    await session.commit()
                    assert not refused, move
                    expected[source] -= move.amount
                    expected[target] += move.amount
            assert await balances(ledger) == expected
            txs, entries = await row_counts(ledger)
            assert (txs, entries) == (before if refused else (before[0] + 1, before[1] + 2))
            await assert_books_agree(ledger)

    async def test_overdraft_is_refused_and_nothing_is_written(self, ledger: Ledger) -> None:
        ids = await open_two_users(ledger)
        before_balances = await balances(ledger)
        before_rows = await row_counts(ledger)
        async with ledger.sessions() as session:
            with pytest.raises(InsufficientFunds) as caught:
                # The credit to user 1 is applied first; the debit of user 0 then fails.
                await wallets.post(
                    session,
                    ledger.clock,
                    kind="transfer",
                    reference="overdraft",
                    postings=[
                        Posting(ids[1, "INR"], "INR", Decimal("100000.00000001")),
                        Posting(ids[0, "INR"], "INR", Decimal("-100000.00000001")),
                    ],
                )
            assert caught.value.code == "INSUFFICIENT_FUNDS"
            assert "INR" in caught.value.message
            await session.rollback()
        assert await balances(ledger) == before_balances
        assert await row_counts(ledger) == before_rows
        async with ledger.sessions() as session:
            found = await session.scalar(
                select(func.count())
                .select_from(LedgerTransaction)
                .where(LedgerTransaction.reference == "overdraft")
            )
            assert found == 0
        await assert_books_agree(ledger)

    async def test_a_tiny_overdraft_is_written_plainly(self, ledger: Ledger) -> None:
        ids = await open_two_users(ledger)
        async with ledger.sessions() as session:
            with pytest.raises(InsufficientFunds) as caught:
                await wallets.post(
                    session,
                    ledger.clock,
                    kind="transfer",
                    postings=[
                        Posting(ids[0, "USDT"], "USDT", Decimal("-1E-8")),
                        Posting(ids[1, "USDT"], "USDT", Decimal("1E-8")),
                    ],
                )
            await session.rollback()
        assert caught.value.message == "insufficient USDT balance for 0.00000001"

    def test_an_order_refusal_writes_zero_and_tiny_amounts_plainly(self) -> None:
        refused = wallets.short_of(
            "USDT", "this order needs 0.00000001 (charges)", from_units(1), from_units(0)
        )
        assert refused.message == (
            "insufficient USDT: this order needs 0.00000001 (charges), available 0.00000001 "
            "(cash 0.00000001, blocked for open orders and margin 0)"
        )

    async def test_spending_the_whole_balance_is_allowed(self, ledger: Ledger) -> None:
        ids = await open_two_users(ledger)
        async with ledger.sessions() as session:
            await wallets.post(
                session,
                ledger.clock,
                kind="transfer",
                postings=[
                    Posting(ids[0, "INR"], "INR", Decimal("-100000")),
                    Posting(ids[1, "INR"], "INR", Decimal("100000")),
                ],
            )
            await session.commit()
        after = await balances(ledger)
        assert after[ids[0, "INR"]] == 0
        assert after[ids[1, "INR"]] == Decimal("200000")
        await assert_books_agree(ledger)

    async def test_the_capital_wallet_may_go_negative(self, ledger: Ledger) -> None:
        ids = await open_two_users(ledger)
        async with ledger.sessions() as session:
            await wallets.post(
                session,
                ledger.clock,
                kind="grant",
                postings=[
                    Posting(ids[CAPITAL_PARTY, "USDT"], "USDT", Decimal("-50.5")),
                    Posting(ids[0, "USDT"], "USDT", Decimal("50.5")),
                ],
            )
            await session.commit()
        after = await balances(ledger)
        assert after[ids[CAPITAL_PARTY, "USDT"]] == Decimal("-50.5")
        assert after[ids[0, "USDT"]] == Decimal("50.5")
        await assert_books_agree(ledger)

    async def test_unbalanced_postings_write_nothing(self, ledger: Ledger) -> None:
        ids = await open_two_users(ledger)
        before = await row_counts(ledger)
        async with ledger.sessions() as session:
            with pytest.raises(UnbalancedTransaction):
                await wallets.post(
                    session,
                    ledger.clock,
                    kind="transfer",
                    postings=[
                        Posting(ids[CAPITAL_PARTY, "INR"], "INR", Decimal("-10")),
                        Posting(ids[0, "INR"], "INR", Decimal("10.01")),
                    ],
                )
            await session.commit()  # even a commit has nothing to write
        assert await row_counts(ledger) == before
        await assert_books_agree(ledger)

    async def test_returns_the_recorded_transaction(self, ledger: Ledger) -> None:
        ids = await open_two_users(ledger)
        ledger.clock.advance(timedelta(minutes=5))
        async with ledger.sessions() as session:
            tx = await wallets.post(
                session,
                ledger.clock,
                kind="fee",
                reference="order:7",
                memo="brokerage",
                postings=[
                    Posting(ids[0, "INR"], "INR", Decimal("-20")),
                    Posting(ids[CAPITAL_PARTY, "INR"], "INR", Decimal("20")),
                ],
            )
            await session.commit()
            assert tx.id is not None
            assert (tx.kind, tx.reference, tx.memo) == ("fee", "order:7", "brokerage")
            assert tx.at == START + timedelta(minutes=5)
            entry = (
                await session.scalars(
                    select(LedgerEntry).where(
                        LedgerEntry.transaction_id == tx.id,
                        LedgerEntry.wallet_id == ids[0, "INR"],
                    )
                )
            ).one()
            assert entry.amount == Decimal("-20")
            assert entry.balance_after == Decimal("99980")
