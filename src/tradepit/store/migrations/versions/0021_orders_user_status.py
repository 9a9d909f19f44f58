"""orders by user and status

Revision ID: 0021_orders_user_status
Revises: 0020
Create Date: 2026-12-07 13:00:00.000000

``ix_orders_user_id_status`` replaces ``ix_orders_user_id``: a user's open orders are found
without reading every order the user ever filled (its prefix serves every lookup by user).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0021_orders_user_status"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_user_id_status", ["user_id", "status"], unique=False)
        batch_op.drop_index(batch_op.f("ix_orders_user_id"))


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_user_id"), ["user_id"], unique=False)
        batch_op.drop_index("ix_orders_user_id_status")
