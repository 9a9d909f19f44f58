"""short margin and system wallet index

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 05:03:28.020701
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tradepit.store.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "blocked", tradepit.store.types.ExactDecimal(), nullable=False, server_default="0"
            )
        )

    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.create_index(
            "uq_wallets_system_name_currency",
            ["name", "currency"],
            unique=True,
            sqlite_where=sa.text("user_id IS NULL"),
            postgresql_where=sa.text("user_id IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_wallets_system_name_currency",
            sqlite_where=sa.text("user_id IS NULL"),
            postgresql_where=sa.text("user_id IS NULL"),
        )

    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.drop_column("blocked")
