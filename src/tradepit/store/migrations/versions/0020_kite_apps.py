"""kite apps

Revision ID: 0020
Revises: 0019_identity_changes
Create Date: 2026-12-07 12:30:00.000000

``kite_apps``: a user's Kite Connect apps (api_key, the secret sealed, redirect and postback
URLs); ``kite_request_tokens``: the one-time request tokens a login hands to the redirect URL
(SHA-256 only), exchanged once for an access token; ``kite_gtts``: good-till-triggered
triggers.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tradepit.store.types

revision: str = "0020"
down_revision: str | None = "0019_identity_changes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kite_apps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("api_key", sa.String(length=32), nullable=False),
        sa.Column("secret_sealed", sa.Text(), nullable=False),
        sa.Column("redirect_url", sa.String(length=500), nullable=False),
        sa.Column("postback_url", sa.String(length=500), nullable=True),
        sa.Column("created_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_kite_apps_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kite_apps")),
        sa.UniqueConstraint("api_key", name=op.f("uq_kite_apps_api_key")),
    )
    with op.batch_alter_table("kite_apps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kite_apps_user_id"), ["user_id"], unique=False)
    op.create_table(
        "kite_request_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["kite_apps.id"],
            name=op.f("fk_kite_request_tokens_app_id_kite_apps"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_kite_request_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_kite_request_tokens")),
    )
    with op.batch_alter_table("kite_request_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kite_request_tokens_app_id"), ["app_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_kite_request_tokens_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "kite_gtts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("condition", sa.JSON(), nullable=False),
        sa.Column("orders", sa.JSON(), nullable=False),
        sa.Column("created_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", tradepit.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_kite_gtts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kite_gtts")),
    )
    with op.batch_alter_table("kite_gtts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kite_gtts_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_kite_gtts_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("kite_gtts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kite_gtts_user_id"))
        batch_op.drop_index(batch_op.f("ix_kite_gtts_status"))
    op.drop_table("kite_gtts")
    with op.batch_alter_table("kite_request_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kite_request_tokens_expires_at"))
        batch_op.drop_index(batch_op.f("ix_kite_request_tokens_app_id"))
    op.drop_table("kite_request_tokens")
    with op.batch_alter_table("kite_apps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kite_apps_user_id"))
    op.drop_table("kite_apps")
