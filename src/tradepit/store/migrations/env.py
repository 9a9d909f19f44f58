"""Alembic environment: always run on a connection handed in by ``tradepit.store.migrate``."""

from __future__ import annotations

from alembic import context

from tradepit.store.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `tradepit migrate`, which hands Alembic a connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
