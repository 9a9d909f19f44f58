"""broadcast closed lots

Revision ID: 0016_broadcast_closed_lots
Revises: 0015_send_requests
Create Date: 2026-12-07 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tradepit.store.types

revision: str = "0016_broadcast_closed_lots"
down_revision: str | None = "0015_send_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("broadcast_targets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "closed_lots",
                tradepit.store.types.ExactDecimal(),
                nullable=False,
                server_default=sa.text("0"),
            )
        )
    # What the closes queued so far took of each opening target (the lots are stored as
    # integer units, so they add up in SQL), at most what it opened: a close queued before
    # this revision counts, and a later one takes only what is left.
    op.execute(
        """
        UPDATE broadcast_targets SET closed_lots = (
            SELECT COALESCE(SUM(c.lots), 0)
            FROM broadcast_targets AS c JOIN broadcasts AS b ON b.id = c.broadcast_id
            WHERE b.parent_id = broadcast_targets.broadcast_id
              AND c.account_id = broadcast_targets.account_id
              AND c.lots > 0
        )
        WHERE lots IS NOT NULL
        """
    )
    op.execute("UPDATE broadcast_targets SET closed_lots = lots WHERE closed_lots > lots")


def downgrade() -> None:
    with op.batch_alter_table("broadcast_targets", schema=None) as batch_op:
        batch_op.drop_column("closed_lots")
