"""plain decimals in stored requests

Revision ID: 0017_plain_decimals
Revises: 0016_broadcast_closed_lots
Create Date: 2026-12-08 09:00:00.000000

A tournament's ``rules`` and a broadcast's ``order`` keep the request's amounts as JSON
strings, read back through the request schemas, which now take plain decimal notation only
(``"0.0000001"``, not ``"1E-7"``). They were written with ``str(Decimal)``, which uses an
exponent for very small or exponent-given values: those are rewritten in plain notation
(the same numbers). Nothing else changes, so there is nothing to undo.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0017_plain_decimals"
down_revision: str | None = "0016_broadcast_closed_lots"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The rule as it is at this revision (``domain.money.PLAIN_PATTERN``), frozen here.
_PLAIN = re.compile(r"-?[0-9]+(\.[0-9]+)?")
#: The keys that hold amounts in the stored JSON (field names; aliases for safety).
_AMOUNTS = {
    "min_price", "max_position_pct",  # tournaments.rules
    "entries", "stop_loss", "stopLoss", "take_profit", "takeProfit", "lots", "multiplier",
    "risk_percent", "riskPercent", "min_lot", "max_lot", "fraction",  # broadcasts.order
}  # fmt: skip


def _number(value: Any) -> Any:
    if isinstance(value, list):
        return [_number(item) for item in value]
    if not isinstance(value, str) or _PLAIN.fullmatch(value):
        return value
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    return format(number, "f") if number.is_finite() else value


def plain_amounts(data: Any) -> Any:
    """Return ``data`` with every amount under a known key in plain notation."""
    if isinstance(data, dict):
        return {k: _number(v) if k in _AMOUNTS else plain_amounts(v) for k, v in data.items()}
    return data


def _rewrite(table: str, column: str) -> None:
    rows = sa.table(table, sa.column("id", sa.Integer()), sa.column(column, sa.JSON()))
    bind = op.get_bind()
    for row_id, data in bind.execute(sa.select(rows.c.id, rows.c[column])).all():
        fixed = plain_amounts(data)
        if fixed != data:
            bind.execute(rows.update().where(rows.c.id == row_id).values({column: fixed}))


def upgrade() -> None:
    _rewrite("tournaments", "rules")
    _rewrite("broadcasts", "order")


def downgrade() -> None:
    pass  # plain notation reads the same under every earlier revision
