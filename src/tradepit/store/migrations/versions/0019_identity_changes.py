"""identity changes

Revision ID: 0019_identity_changes
Revises: 0018_client_bet_ids
Create Date: 2026-12-07 05:00:00.000000

``identity_changes``: one row per change of a user's identity (role, status, API keys, a
logout, a login), so that every process holding identities in memory reloads that user.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tradepit.store.types

revision: str = "0019_identity_changes"
down_revision: str | None = "0018_client_bet_ids"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("changed_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_changes")),
    )
    with op.batch_alter_table("identity_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_changes_changed_at"), ["changed_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_changes_changed_at"))
    op.drop_table("identity_changes")
