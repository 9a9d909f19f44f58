"""Run Alembic migrations from code (``tradepit migrate``, ``tradepit serve``, the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"
#: A PostgreSQL advisory lock held while migrating ("tradepim" in ASCII): several processes
#: started with ``TRADEPIT_MIGRATE_ON_START`` migrate one after the other, not at once.
MIGRATE_LOCK_KEY = 0x7472616465706D69


def alembic_config(connection: Connection | None = None) -> Config:
    """Return an Alembic config for our migrations, bound to ``connection`` if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision``."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # released when this transaction ends
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_LOCK_KEY}
            )
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Migrate the database behind ``engine`` down to ``revision``."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    """Return the revision the database is at, or None if it was never migrated."""
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


def head_revision() -> str:
    """Return the revision the migrations of this version end at."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def schema_problem(engine: AsyncEngine) -> str | None:
    """Return why the database behind ``engine`` cannot be used by this version (never
    migrated, behind, or at a revision this version does not know), or None when it is at
    the head of the migrations."""
    current, head = await current_revision(engine), head_revision()
    if current == head:
        return None
    script = ScriptDirectory.from_config(alembic_config())
    if current is not None and all(r.revision != current for r in script.walk_revisions()):
        return (
            f"the database is at revision {current}, which this version of Tradepit does not "
            "know (a newer version migrated it): run that version"
        )
    state = "has no schema yet" if current is None else f"is at revision {current}, not {head}"
    return (
        f"the database {state}: run `tradepit migrate` first "
        "(or set TRADEPIT_MIGRATE_ON_START=true to migrate at start)"
    )
