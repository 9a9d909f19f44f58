"""client bet ids

Revision ID: 0018_client_bet_ids
Revises: 0017_plain_decimals
Create Date: 2026-12-08 10:00:00.000000

``bets.client_bet_id``: the client's id for a bet, unique per user, so that a retry finds
the bet instead of betting again (``POST /api/bet``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_client_bet_ids"
down_revision: str | None = "0017_plain_decimals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_bet_id", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_bets_user_id"), ["user_id", "client_bet_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("bets", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_bets_user_id"), type_="unique")
        batch_op.drop_column("client_bet_id")
