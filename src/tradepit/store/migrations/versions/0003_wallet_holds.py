"""wallet holds and balance checks

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 04:31:51.599130
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tradepit.store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "blocked", tradepit.store.types.ExactDecimal(), nullable=False, server_default="0"
            )
        )
        batch_op.create_check_constraint(
            op.f("ck_wallets_balance_not_negative"), "allow_negative OR balance >= 0"
        )
        batch_op.create_check_constraint(op.f("ck_wallets_blocked_not_negative"), "blocked >= 0")


def downgrade() -> None:
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_wallets_blocked_not_negative"), type_="check")
        batch_op.drop_constraint(op.f("ck_wallets_balance_not_negative"), type_="check")
        batch_op.drop_column("blocked")
