"""Column types: exact decimals and aware UTC datetimes, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, Dialect, func, select, type_coerce
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tradepit.domain.money import MAX_AMOUNT, MAX_UNITS, InexactAmount, from_units, to_units
from tradepit.store.db import create_engine, create_sessionmaker
from tradepit.store.types import ExactDecimal, UTCDateTime
from tradepit.store.wallets import LedgerTransaction, Wallet

NOW = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
#: Hypothesis runs many examples against one database: fixtures are shared on purpose.
DB_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
_names = itertools.count(1)

exact_amounts = st.integers(min_value=-MAX_UNITS, max_value=MAX_UNITS).map(from_units)
#: Small enough that 50 of them cannot overflow a 64-bit sum.
summable_amounts = st.integers(min_value=-MAX_UNITS // 100, max_value=MAX_UNITS // 100).map(
    from_units
)
#: Aware datetimes in any fixed offset, with microseconds.
aware_datetimes = st.builds(
    lambda naive, offset: naive.replace(tzinfo=timezone(offset)),
    st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2200, 12, 30)),
    st.timedeltas(min_value=timedelta(hours=-14), max_value=timedelta(hours=14)).map(
        lambda d: timedelta(minutes=d // timedelta(minutes=1))
    ),
)


@pytest.fixture
async def engine(db: str) -> AsyncIterator[AsyncEngine]:
    """Yield an engine on the test database."""
    eng = create_engine(db)
    yield eng
    await eng.dispose()


def wallet(balance: Decimal) -> Wallet:
    """Return a system wallet (no owner) holding ``balance``."""
    return Wallet(
        user_id=None,
        name=f"types-{next(_names)}",
        currency="INR",
        balance=balance,
        allow_negative=True,
        created_at=NOW,
    )


async def store_balances(session: AsyncSession, values: list[Decimal]) -> list[int]:
    """Insert one wallet per value; return their ids in order."""
    rows = [wallet(v) for v in values]
    session.add_all(rows)
    await session.commit()
    return [row.id for row in rows]


async def read_balances(engine: AsyncEngine, ids: list[int]) -> dict[int, Decimal]:
    """Select the balances of ``ids`` in a fresh session."""
    async with create_sessionmaker(engine)() as session:
        rows = await session.execute(select(Wallet.id, Wallet.balance).where(Wallet.id.in_(ids)))
        return {row.id: row.balance for row in rows}


@pytest.mark.books_broken_on_purpose  # wallets written directly, without their entries
class TestExactDecimal:
    @DB_SETTINGS
    @given(st.lists(exact_amounts, min_size=1, max_size=40))
    @example([MAX_AMOUNT, -MAX_AMOUNT, Decimal(0), Decimal("0.00000001"), Decimal("-0.00000001")])
    @example([Decimal("0.1"), Decimal("-123456.789"), Decimal("1E+10"), Decimal("-0")])
    async def test_round_trips_exactly(self, engine: AsyncEngine, values: list[Decimal]) -> None:
        async with create_sessionmaker(engine)() as session:
            ids = await store_balances(session, values)
        back = await read_balances(engine, ids)
        for wallet_id, value in zip(ids, values, strict=True):
            stored = back[wallet_id]
            assert isinstance(stored, Decimal)
            assert stored == value
            assert to_units(stored) == to_units(value)

    @DB_SETTINGS
    @given(st.lists(exact_amounts, min_size=1, max_size=10))
    @example([MAX_AMOUNT, -MAX_AMOUNT])
    async def test_stores_integer_units(self, engine: AsyncEngine, values: list[Decimal]) -> None:
        async with create_sessionmaker(engine)() as session:
            ids = await store_balances(session, values)
            raw = type_coerce(Wallet.balance, BigInteger)
            rows = await session.execute(select(Wallet.id, raw).where(Wallet.id.in_(ids)))
            stored = {row[0]: row[1] for row in rows}
        assert [stored[i] for i in ids] == [to_units(v) for v in values]
        assert all(type(units) is int for units in stored.values())

    @DB_SETTINGS
    @given(st.lists(summable_amounts, min_size=1, max_size=50))
    async def test_sql_sum_is_exact(self, engine: AsyncEngine, values: list[Decimal]) -> None:
        async with create_sessionmaker(engine)() as session:
            ids = await store_balances(session, values)
            total = await session.scalar(select(func.sum(Wallet.balance)).where(Wallet.id.in_(ids)))
        assert isinstance(total, Decimal)
        assert total == sum(values, Decimal(0))

    async def test_sum_of_tenths_is_exact_where_floats_are_not(self, engine: AsyncEngine) -> None:
        values = [Decimal("0.1")] * 10
        assert sum(float(v) for v in values) != 1.0  # what a float column would give
        async with create_sessionmaker(engine)() as session:
            ids = await store_balances(session, values)
            total = await session.scalar(select(func.sum(Wallet.balance)).where(Wallet.id.in_(ids)))
        assert total == Decimal("1")

    async def test_comparisons_run_on_the_units(self, engine: AsyncEngine) -> None:
        values = [Decimal("-1.5"), Decimal("0.00000001"), Decimal("2"), Decimal("10")]
        async with create_sessionmaker(engine)() as session:
            ids = await store_balances(session, values)
            found = await session.scalars(
                select(Wallet.balance)
                .where(Wallet.id.in_(ids), Wallet.balance > Decimal("0"))
                .order_by(Wallet.balance)
            )
            assert list(found) == [Decimal("0.00000001"), Decimal("2"), Decimal("10")]

    @pytest.mark.parametrize(
        "value",
        ["0.000000001", "-1.123456789", "92233720368.547758079", "1.0000000000000000000000000001"],
    )
    async def test_nine_decimals_are_refused_not_rounded(
        self, engine: AsyncEngine, value: str
    ) -> None:
        async with create_sessionmaker(engine)() as session:
            row = wallet(Decimal(value))
            session.add(row)
            with pytest.raises(StatementError) as caught:
                await session.flush()
            assert isinstance(caught.value.orig, InexactAmount)
            await session.rollback()
            count = await session.scalar(select(func.count()).select_from(Wallet))
        assert count == 0

    @pytest.mark.parametrize("value", ["92233720368.54775808", "-1E+20", "NaN", "Infinity"])
    async def test_out_of_range_and_not_finite_are_refused(
        self, engine: AsyncEngine, value: str
    ) -> None:
        async with create_sessionmaker(engine)() as session:
            session.add(wallet(Decimal(value)))
            with pytest.raises(StatementError) as caught:
                await session.flush()
            assert isinstance(caught.value.orig, InexactAmount)

    def test_type_processes_values_directly(self) -> None:
        column = ExactDecimal()
        dialect = SQLiteDialect_aiosqlite()
        assert column.process_bind_param(Decimal("1.5"), dialect) == 150_000_000
        assert column.process_bind_param(None, dialect) is None
        assert column.process_result_value(150_000_000, dialect) == Decimal("1.5")
        assert column.process_result_value(Decimal(150_000_000), dialect) == Decimal("1.5")
        assert column.process_result_value(None, dialect) is None
        assert ExactDecimal(scale=2).process_bind_param(Decimal("1.5"), dialect) == 150


class TestUTCDateTime:
    @DB_SETTINGS
    @given(st.lists(aware_datetimes, min_size=1, max_size=20))
    @example([NOW, datetime(2026, 3, 2, 14, 45, 0, 123456, tzinfo=timezone(timedelta(hours=5.5)))])
    async def test_round_trips_as_aware_utc(
        self, engine: AsyncEngine, moments: list[datetime]
    ) -> None:
        async with create_sessionmaker(engine)() as session:
            rows = [LedgerTransaction(at=m, kind="types") for m in moments]
            session.add_all(rows)
            await session.commit()
            ids = [row.id for row in rows]
        async with create_sessionmaker(engine)() as session:
            found = await session.execute(
                select(LedgerTransaction.id, LedgerTransaction.at).where(
                    LedgerTransaction.id.in_(ids)
                )
            )
            back = {row.id: row.at for row in found}
        for row_id, moment in zip(ids, moments, strict=True):
            assert back[row_id] == moment
            assert back[row_id].tzinfo == UTC
            assert back[row_id] == moment.astimezone(UTC)

    async def test_refuses_naive_datetimes(self, engine: AsyncEngine) -> None:
        async with create_sessionmaker(engine)() as session:
            naive = datetime(2026, 3, 2, 9, 15)  # naive on purpose
            session.add(LedgerTransaction(at=naive, kind="types"))
            with pytest.raises(StatementError) as caught:
                await session.flush()
            assert isinstance(caught.value.orig, ValueError)
            assert "naive" in str(caught.value.orig)

    @pytest.mark.parametrize(
        "dialect",
        # SQLAlchemy leaves PGDialect.__init__ unannotated.
        [SQLiteDialect_aiosqlite(), PGDialect_asyncpg()],  # type: ignore[no-untyped-call]
        ids=["sqlite", "postgresql"],
    )
    def test_processes_values_directly(self, dialect: Dialect) -> None:
        column = UTCDateTime()
        ist = timezone(timedelta(hours=5, minutes=30))
        bound = column.process_bind_param(datetime(2026, 3, 2, 14, 45, tzinfo=ist), dialect)
        assert bound is not None
        assert bound.replace(tzinfo=bound.tzinfo or UTC) == NOW
        assert (bound.tzinfo is None) is (dialect.name == "sqlite")
        assert column.process_bind_param(None, dialect) is None
        assert column.process_result_value(None, dialect) is None
        naive = NOW.replace(tzinfo=None)
        assert column.process_result_value(naive, dialect) == NOW
        back = column.process_result_value(NOW.astimezone(ist), dialect)
        assert back == NOW and back is not None and back.tzinfo == UTC

    async def test_sql_ordering_is_by_instant_not_by_local_time(self, engine: AsyncEngine) -> None:
        ist = timezone(timedelta(hours=5, minutes=30))
        early_local_late_utc = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 14:30 in India
        late_local_early_utc = datetime(2026, 3, 2, 14, 0, tzinfo=ist)  # 08:30 UTC
        async with create_sessionmaker(engine)() as session:
            session.add_all(
                [
                    LedgerTransaction(at=early_local_late_utc, kind="a"),
                    LedgerTransaction(at=late_local_early_utc, kind="b"),
                ]
            )
            await session.commit()
            kinds = await session.scalars(
                select(LedgerTransaction.kind).order_by(LedgerTransaction.at)
            )
            assert list(kinds) == ["b", "a"]
