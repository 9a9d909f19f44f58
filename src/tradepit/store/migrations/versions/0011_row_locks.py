"""row locks

Revision ID: 0011_row_locks
Revises: 0010_bets
Create Date: 2026-11-27 06:40:04.287215
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tradepit.store.types

revision: str = "0011_row_locks"
down_revision: str | None = "0010_bets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "random_numbers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("timestamp", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("value", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_random_numbers")),
    )
    with op.batch_alter_table("random_numbers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_random_numbers_timestamp"), ["timestamp"], unique=False
        )

    op.create_table(
        "row_lock_cooldowns",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("until", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["broker_accounts.id"],
            name=op.f("fk_row_lock_cooldowns_account_id_broker_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_row_lock_cooldowns_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "user_id", name=op.f("pk_row_lock_cooldowns")),
    )
    op.create_table(
        "row_locks",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=32), nullable=False),
        sa.Column("acquired_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["broker_accounts.id"],
            name=op.f("fk_row_locks_account_id_broker_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_row_locks_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_row_locks")),
    )
    with op.batch_alter_table("row_locks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_row_locks_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("row_locks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_row_locks_expires_at"))

    op.drop_table("row_locks")
    op.drop_table("row_lock_cooldowns")
    with op.batch_alter_table("random_numbers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_random_numbers_timestamp"))

    op.drop_table("random_numbers")
