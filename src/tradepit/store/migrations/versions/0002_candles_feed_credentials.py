"""candles and feed credentials

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 04:17:02.020984
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tradepit.store.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "candles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("interval", sa.String(length=4), nullable=False),
        sa.Column("start", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("open", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("high", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("low", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("close", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("volume", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candles")),
        sa.UniqueConstraint("symbol", "interval", "start", name=op.f("uq_candles_symbol")),
    )
    op.create_table(
        "feed_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=True),
        sa.Column("expires_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_credentials")),
        sa.UniqueConstraint("provider", name=op.f("uq_feed_credentials_provider")),
    )


def downgrade() -> None:
    op.drop_table("feed_credentials")
    op.drop_table("candles")
