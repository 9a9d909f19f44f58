"""bets

Revision ID: 0010_bets
Revises: 0009_broker_accounts
Create Date: 2026-11-27 06:23:45.224752
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tradepit.store.types

revision: str = "0010_bets"
down_revision: str | None = "0009_broker_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("direction", sa.String(length=5), nullable=False),
        sa.Column("amount", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("payout_ratio", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("entry_price", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("exit_price", tradepit.store.types.ExactDecimal(), nullable=True),
        sa.Column("placed_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("payout", tradepit.store.types.ExactDecimal(), nullable=True),
        sa.Column("resolved_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_bets_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bets")),
    )
    with op.batch_alter_table("bets", schema=None) as batch_op:
        batch_op.create_index("ix_bets_status_expires_at", ["status", "expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_bets_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bets_user_id"))
        batch_op.drop_index("ix_bets_status_expires_at")

    op.drop_table("bets")
