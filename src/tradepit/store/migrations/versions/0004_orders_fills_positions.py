"""orders fills positions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 04:49:33.787356
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tradepit.store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("order_type", sa.String(length=20), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("product", sa.String(length=4), nullable=False),
        sa.Column("validity", sa.String(length=4), nullable=False),
        sa.Column("quantity", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("filled_quantity", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("price", tradepit.store.types.ExactDecimal(), nullable=True),
        sa.Column("trigger_price", tradepit.store.types.ExactDecimal(), nullable=True),
        sa.Column("average_price", tradepit.store.types.ExactDecimal(), nullable=True),
        sa.Column("charges", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("tournament_id", sa.Integer(), nullable=True),
        sa.Column("created_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_orders_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("user_id", "client_order_id", name=op.f("uq_orders_user_id")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_symbol"), ["symbol"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_user_id"), ["user_id"], unique=False)

    op.create_table(
        "positions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("product", sa.String(length=4), nullable=False),
        sa.Column("quantity", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("cost_basis", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("realized_gross", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("charges", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("updated_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_positions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
        sa.UniqueConstraint("user_id", "symbol", "product", name=op.f("uq_positions_user_id")),
    )
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_positions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "fills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("quantity", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("price", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("charges", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("liquidity", sa.String(length=5), nullable=False),
        sa.Column("at", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_fills_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fills")),
    )
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fills_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fills_order_id"))

    op.drop_table("fills")
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_positions_user_id"))

    op.drop_table("positions")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_user_id"))
        batch_op.drop_index(batch_op.f("ix_orders_symbol"))
        batch_op.drop_index(batch_op.f("ix_orders_status"))

    op.drop_table("orders")
