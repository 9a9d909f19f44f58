"""broker accounts

Revision ID: 0009_broker_accounts
Revises: 0007_user_events
Create Date: 2026-11-27 06:35:01.214862
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tradepit.store.types

revision: str = "0009_broker_accounts"
down_revision: str | None = "0007_user_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "broker_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("account_name", sa.String(length=100), nullable=False),
        sa.Column("broker", sa.String(length=40), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=True),
        sa.Column("server", sa.String(length=100), nullable=True),
        sa.Column("account_type", sa.String(length=8), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("password_sealed", sa.Text(), nullable=True),
        sa.Column("api_key_sealed", sa.Text(), nullable=True),
        sa.Column("api_secret_sealed", sa.Text(), nullable=True),
        sa.Column("masks", sa.JSON(), nullable=False),
        sa.Column("pnl", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("margin", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("max_risk", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_detail", sa.String(length=255), nullable=True),
        sa.Column("checked_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_broker_accounts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broker_accounts")),
    )
    with op.batch_alter_table("broker_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_broker_accounts_user_id"), ["user_id"], unique=False)

    op.create_table(
        "broker_account_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("changed_by", sa.Integer(), nullable=True),
        sa.Column("changed_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["broker_accounts.id"],
            name=op.f("fk_broker_account_versions_account_id_broker_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broker_account_versions")),
        sa.UniqueConstraint(
            "account_id", "version", name=op.f("uq_broker_account_versions_account_id")
        ),
    )
    with op.batch_alter_table("broker_account_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_broker_account_versions_account_id"), ["account_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("broker_account_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_broker_account_versions_account_id"))

    op.drop_table("broker_account_versions")
    with op.batch_alter_table("broker_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_broker_accounts_user_id"))

    op.drop_table("broker_accounts")
