"""bracket legs

Revision ID: 0007_bracket_legs
Revises: 0006
Create Date: 2026-11-27 07:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tradepit.store.types

revision: str = "0007_bracket_legs"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("leg", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("bracket", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("trail_extreme", tradepit.store.types.ExactDecimal(), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_orders_parent_id"), ["parent_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_orders_parent_id_orders"),
            "orders",
            ["parent_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_orders_parent_id_orders"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_orders_parent_id"))
        batch_op.drop_column("trail_extreme")
        batch_op.drop_column("bracket")
        batch_op.drop_column("leg")
        batch_op.drop_column("parent_id")
