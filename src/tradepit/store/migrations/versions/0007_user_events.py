"""user events journal

Revision ID: 0007_user_events
Revises: 0007_bracket_legs
Create Date: 2026-11-27 06:21:38.824556
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tradepit.store.types

revision: str = "0007_user_events"
down_revision: str | None = "0007_bracket_legs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_events_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_events")),
        sa.UniqueConstraint("user_id", "seq", name="uq_user_events_user_id_seq"),
    )
    with op.batch_alter_table("user_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_events_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("user_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_events_created_at"))

    op.drop_table("user_events")
