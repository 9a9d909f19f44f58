"""order holds and triggers

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 04:52:04.982670
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tradepit.store.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "held", tradepit.store.types.ExactDecimal(), nullable=False, server_default="0"
            )
        )
        batch_op.add_column(
            sa.Column(
                "triggered_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("triggered_at")
        batch_op.drop_column("held")
