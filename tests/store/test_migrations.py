"""Alembic migrations: they build the whole schema, go down and up again, and match the models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import postgres_database
from tradepit.store.db import create_engine
from tradepit.store.migrate import alembic_config, current_revision, downgrade, upgrade
from tradepit.store.models import metadata
from tradepit.store.types import ExactDecimal, UTCDateTime

VERSION_TABLE = "alembic_version"


def head_revision() -> str:
    """Return the newest revision of our migration scripts."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def table_names(engine: AsyncEngine) -> set[str]:
    """Return the tables that exist in the database behind ``engine``."""
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


def schema_diff(connection: Connection, target: MetaData) -> list[Any]:
    """Return what Alembic autogenerate would change to make the database match ``target``."""
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "render_as_batch": True}
    )
    return list(compare_metadata(context, target))


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_engine(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncEngine]:
    """Yield an engine on a brand-new, empty database (a temp file, or a database made here)."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
        yield engine
        await engine.dispose()
        return
    async with postgres_database("tradepit_migrate") as url:
        engine = create_engine(url)
        yield engine
        await engine.dispose()


class TestUpgrade:
    async def test_new_database_is_empty_and_unversioned(self, empty_engine: AsyncEngine) -> None:
        assert await table_names(empty_engine) == set()
        assert await current_revision(empty_engine) is None

    async def test_creates_every_table_of_the_models(self, empty_engine: AsyncEngine) -> None:
        await upgrade(empty_engine)
        assert await table_names(empty_engine) == {*metadata.tables, VERSION_TABLE}

    async def test_ends_at_head(self, empty_engine: AsyncEngine) -> None:
        await upgrade(empty_engine)
        assert await current_revision(empty_engine) == head_revision()

    async def test_upgrading_twice_is_harmless(self, empty_engine: AsyncEngine) -> None:
        await upgrade(empty_engine)
        await upgrade(empty_engine)
        assert await current_revision(empty_engine) == head_revision()
        assert await table_names(empty_engine) == {*metadata.tables, VERSION_TABLE}

    async def test_migrations_form_one_line(self) -> None:
        script = ScriptDirectory.from_config(alembic_config())
        assert len(script.get_heads()) == 1
        assert len(script.get_bases()) == 1


class TestDowngrade:
    async def test_down_to_base_and_up_again(self, empty_engine: AsyncEngine) -> None:
        await upgrade(empty_engine)
        await downgrade(empty_engine, "base")
        assert await current_revision(empty_engine) is None
        assert await table_names(empty_engine) <= {VERSION_TABLE}

        await upgrade(empty_engine)
        assert await current_revision(empty_engine) == head_revision()
        assert await table_names(empty_engine) == {*metadata.tables, VERSION_TABLE}

    async def test_schema_after_a_round_trip_still_matches_the_models(
        self, empty_engine: AsyncEngine
    ) -> None:
        await upgrade(empty_engine)
        await downgrade(empty_engine, "base")
        await upgrade(empty_engine)
        async with empty_engine.connect() as conn:
            assert await conn.run_sync(schema_diff, metadata) == []


class TestModelsMatchMigrations:
    async def test_autogenerate_finds_no_difference(self, empty_engine: AsyncEngine) -> None:
        await upgrade(empty_engine)
        async with empty_engine.connect() as conn:
            diff = await conn.run_sync(schema_diff, metadata)
        assert diff == [], f"models and migrations differ; write a migration: {diff}"

    async def test_a_model_change_without_a_migration_is_detected(
        self, empty_engine: AsyncEngine
    ) -> None:
        await upgrade(empty_engine)
        changed = MetaData(naming_convention=metadata.naming_convention)
        for table in metadata.sorted_tables:
            table.to_metadata(changed)
        changed.tables["wallets"].append_column(Column("nickname", String(32), nullable=True))
        changed.tables["users"].c.username.type = String(64)
        Table("not_yet_migrated", changed, Column("id", Integer, primary_key=True))
        async with empty_engine.connect() as conn:
            diff = await conn.run_sync(schema_diff, changed)
        kinds = {entry[0] if isinstance(entry, tuple) else entry[0][0] for entry in diff}
        assert {"add_table", "add_column", "modify_type"} <= kinds


class TestDataMigrations:
    async def test_stored_amounts_are_rewritten_in_plain_notation(
        self, empty_engine: AsyncEngine
    ) -> None:
        # 0017: a tournament's rules and a broadcast's order were kept with str(Decimal), and
        # are read back through request schemas that take plain notation only.
        script = ScriptDirectory.from_config(alembic_config())
        before = script.get_revision("0017_plain_decimals").down_revision
        assert isinstance(before, str)
        await upgrade(empty_engine, before)
        now = datetime(2026, 12, 1, tzinfo=UTC)
        users = sa.table(
            "users",
            *(sa.column(n) for n in ("username", "username_key", "password_hash", "role")),
            sa.column("is_active", sa.Boolean()),
            sa.column("created_at", UTCDateTime()),
        )
        tournaments = sa.table(
            "tournaments",
            *(sa.column(n) for n in ("name", "description", "currency", "status")),
            *(sa.column(n, UTCDateTime()) for n in ("start_time", "end_time", "created_at")),
            *(
                sa.column(n, ExactDecimal())
                for n in ("starting_capital", "entry_fee", "prize_pool")
            ),
            sa.column("prize_split", sa.JSON()),
            sa.column("rules", sa.JSON()),
        )
        broadcasts = sa.table(
            "broadcasts",
            *(sa.column(n) for n in ("admin_user_id", "kind", "symbol", "side")),
            sa.column("order", sa.JSON()),
            sa.column("created_at", UTCDateTime()),
        )
        legacy_rules = {
            "min_price": "1E-7",
            "max_position_pct": "1E+1",
            "allow_shorts": True,
            "allowed_instruments": ["1E5"],
        }
        legacy_order = {
            "symbol": "1E5",
            "side": "BUY",
            "entries": ["1.1", "1.10E+1"],
            "stop_loss": "1.0E-7",
            "take_profit": None,
            "lots": "1E-8",
            "overrides": {"7": {"symbol": "EURUSD.vip", "lots": "5E-8"}},
        }
        async with empty_engine.begin() as conn:
            admin = {"username": "admin", "username_key": "admin", "password_hash": "x"}
            await conn.execute(
                sa.insert(users).values(**admin, role="superadmin", is_active=True, created_at=now)
            )
            await conn.execute(
                sa.insert(tournaments).values(
                    name="t", description="", currency="INR", status="upcoming",
                    start_time=now, end_time=now, created_at=now,
                    starting_capital=Decimal(1000), entry_fee=Decimal(0), prize_pool=Decimal(0),
                    prize_split=["50", "50"], rules=legacy_rules,
                )
            )  # fmt: skip
            await conn.execute(
                sa.insert(broadcasts).values(
                    admin_user_id=1, kind="open", symbol="EURUSD", side="BUY",
                    order=legacy_order, created_at=now,
                )
            )  # fmt: skip
        await upgrade(empty_engine)
        async with empty_engine.connect() as conn:
            rules = (await conn.execute(sa.select(tournaments.c.rules))).scalar_one()
            order = (await conn.execute(sa.select(broadcasts.c.order))).scalar_one()
        assert rules == {**legacy_rules, "min_price": "0.0000001", "max_position_pct": "10"}
        assert order == {
            **legacy_order,
            "entries": ["1.1", "11.0"],
            "stop_loss": "0.00000010",
            "lots": "0.00000001",
            "overrides": {"7": {"symbol": "EURUSD.vip", "lots": "0.00000005"}},
        }
