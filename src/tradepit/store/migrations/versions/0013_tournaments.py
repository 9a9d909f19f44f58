"""tournaments

Revision ID: 0013_tournaments
Revises: 0012_broadcasts
Create Date: 2026-11-27 06:54:17.758095
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tradepit.store.types

revision: str = "0013_tournaments"
down_revision: str | None = "0012_broadcasts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tournaments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("start_time", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_time", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("starting_capital", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("entry_fee", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("prize_pool", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("prize_split", sa.JSON(), nullable=False),
        sa.Column("max_participants", sa.Integer(), nullable=True),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tournaments")),
    )
    with op.batch_alter_table("tournaments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tournaments_end_time"), ["end_time"], unique=False)
        batch_op.create_index(batch_op.f("ix_tournaments_start_time"), ["start_time"], unique=False)
        batch_op.create_index(batch_op.f("ix_tournaments_status"), ["status"], unique=False)

    op.create_table(
        "tournament_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tournament_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("wallet_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("trades", sa.Integer(), nullable=False),
        sa.Column("closed_trades", sa.Integer(), nullable=False),
        sa.Column("winning_trades", sa.Integer(), nullable=False),
        sa.Column("peak_equity", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("max_drawdown", tradepit.store.types.ExactDecimal(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("final_equity", tradepit.store.types.ExactDecimal(), nullable=True),
        sa.Column("prize", tradepit.store.types.ExactDecimal(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tournament_id"],
            ["tournaments.id"],
            name=op.f("fk_tournament_entries_tournament_id_tournaments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_tournament_entries_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["wallet_id"], ["wallets.id"], name=op.f("fk_tournament_entries_wallet_id_wallets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tournament_entries")),
        sa.UniqueConstraint(
            "tournament_id", "user_id", name=op.f("uq_tournament_entries_tournament_id")
        ),
    )
    with op.batch_alter_table("tournament_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tournament_entries_tournament_id"), ["tournament_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_tournament_entries_user_id"), ["user_id"], unique=False
        )

    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tournament_id", sa.Integer(), nullable=True))
        batch_op.drop_constraint(batch_op.f("uq_positions_user_id"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_positions_user_id"), ["user_id", "tournament_id", "symbol", "product"]
        )
        batch_op.create_index(
            batch_op.f("ix_positions_tournament_id"), ["tournament_id"], unique=False
        )
        batch_op.create_index(
            "uq_positions_main",
            ["user_id", "symbol", "product"],
            unique=True,
            sqlite_where=sa.text("tournament_id IS NULL"),
            postgresql_where=sa.text("tournament_id IS NULL"),
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_positions_tournament_id_tournaments"),
            "tournaments",
            ["tournament_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    op.execute("DELETE FROM positions WHERE tournament_id IS NOT NULL")
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_positions_tournament_id_tournaments"), type_="foreignkey"
        )
        batch_op.drop_index(
            "uq_positions_main",
            sqlite_where=sa.text("tournament_id IS NULL"),
            postgresql_where=sa.text("tournament_id IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_positions_tournament_id"))
        batch_op.drop_constraint(batch_op.f("uq_positions_user_id"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_positions_user_id"), ["user_id", "symbol", "product"]
        )
        batch_op.drop_column("tournament_id")

    with op.batch_alter_table("tournament_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tournament_entries_user_id"))
        batch_op.drop_index(batch_op.f("ix_tournament_entries_tournament_id"))

    op.drop_table("tournament_entries")
    with op.batch_alter_table("tournaments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tournaments_status"))
        batch_op.drop_index(batch_op.f("ix_tournaments_start_time"))
        batch_op.drop_index(batch_op.f("ix_tournaments_end_time"))

    op.drop_table("tournaments")
