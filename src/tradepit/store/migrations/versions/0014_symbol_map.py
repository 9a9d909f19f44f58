"""symbol map

Revision ID: 0014_symbol_map
Revises: 0013_tournaments
Create Date: 2026-11-27 07:03:52.061801
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_symbol_map"
down_revision: str | None = "0013_tournaments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("broker_accounts", schema=None) as batch_op:
        # Existing accounts start with an empty map.
        batch_op.add_column(
            sa.Column("symbol_map", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("broker_accounts", schema=None) as batch_op:
        batch_op.drop_column("symbol_map")
