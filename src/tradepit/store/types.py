"""Column types that keep values exact on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect
from sqlalchemy.types import TypeDecorator

from tradepit.domain.money import SCALE, from_units, to_units


class ExactDecimal(TypeDecorator[Decimal]):
    """A ``Decimal`` stored as a 64-bit integer of ``10**-scale`` units.

    Round-trips exactly on every database; a value with more decimals than ``scale`` is
    refused rather than rounded. SQL sums and comparisons work on the integers.
    """

    impl = BigInteger
    cache_ok = True

    def __init__(self, scale: int = SCALE) -> None:
        super().__init__()
        self.scale = scale

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> int | None:
        """Turn a Decimal (or a whole number, as in ``quantity != 0``) into integer units."""
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return to_units(Decimal(value), self.scale)
        if not isinstance(value, Decimal):
            raise TypeError(f"an exact amount must be a Decimal, got {type(value).__name__}")
        return to_units(value, self.scale)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Turn stored integer units back into the exact Decimal."""
        return None if value is None else from_units(int(value), self.scale)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
