"""Load the fee schedule (``fees.toml``) into ``domain.fees.FeeSchedule``.

The file is checked strictly: an unknown key (a typo), a missing rate, a rate written as a
float or a negative number, an unknown venue, kind or product, or two segments covering the
same fills each refuse the whole file with a message naming the segment and the key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, TypeVar

from tradepit.domain.fees import (
    FeeSchedule,
    IndiaRates,
    PercentRates,
    PerLotRates,
    Rates,
    Segment,
)
from tradepit.domain.instruments import Kind, Venue
from tradepit.domain.orders import Product

_E = TypeVar("_E", bound=StrEnum)

DEFAULT_PATH: Final = Path(__file__).with_name("fees.toml")

_COMMON: Final = frozenset(
    {"name", "model", "venues", "kinds", "products", "currency", "round_to", "source", "as_of"}
)
_INDIA_REQUIRED: Final = frozenset(
    {"stt_buy_pct", "stt_sell_pct", "exchange_pct", "sebi_per_crore", "stamp_buy_pct", "gst_pct"}
)
_INDIA_OPTIONAL: Final = frozenset({"brokerage_pct", "brokerage_max", "brokerage_flat"})
_MODEL_KEYS: Final[Mapping[str, tuple[frozenset[str], frozenset[str]]]] = {
    "india": (_INDIA_REQUIRED, _INDIA_OPTIONAL),
    "percent": (frozenset({"maker_pct", "taker_pct"}), frozenset()),
    "per_lot": (frozenset({"commission_per_lot"}), frozenset({"per_symbol"})),
}


class InvalidFeeSchedule(ValueError):
    """The fee schedule file cannot be used; the message says where and why."""


class _Row:
    """One ``[[segment]]`` table, read with messages that name it."""

    def __init__(self, raw: Mapping[str, Any], position: int) -> None:
        self.raw = raw
        name = raw.get("name")
        self.name = name if isinstance(name, str) and name else f"#{position}"

    def fail(self, message: str) -> InvalidFeeSchedule:
        return InvalidFeeSchedule(f"segment {self.name!r}: {message}")

    def decimal(self, key: str, value: Any = None) -> Decimal:
        value = self.raw[key] if value is None else value
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(
                f'{key} must be a decimal written as a string (e.g. "0.025"), got {value!r}'
            )
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise self.fail(f"{key} is not a number: {value!r}") from None
        if not number.is_finite() or number < 0:
            raise self.fail(f"{key} must be a non-negative number, got {value!r}")
        return number

    def optional_decimal(self, key: str) -> Decimal | None:
        return self.decimal(key) if key in self.raw else None

    def text(self, key: str) -> str:
        value = self.raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{key} must be a non-empty string")
        return value.strip()

    def members(self, key: str, enum: Callable[[str], _E]) -> frozenset[_E]:
        values = self.raw.get(key, [])
        if not isinstance(values, list):
            raise self.fail(f"{key} must be a list of names")
        found: set[_E] = set()
        for value in values:
            try:
                found.add(enum(value))
            except ValueError:
                raise self.fail(f"{key} has an unknown name {value!r}") from None
        return frozenset(found)

    def table(self, key: str) -> Mapping[str, Any]:
        value = self.raw.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(f'{key} must be a table (e.g. {{ NSE = "0.00297" }})')
        return value


def _rates(row: _Row, model: str) -> Rates:
    if model == "india":
        exchange: dict[Venue, Decimal] = {}
        for venue, rate in row.table("exchange_pct").items():
            if venue not in Venue.__members__:
                raise row.fail(f"exchange_pct has an unknown venue {venue!r}")
            exchange[Venue(venue)] = row.decimal(f"exchange_pct.{venue}", rate)
        return IndiaRates(
            stt_buy_pct=row.decimal("stt_buy_pct"),
            stt_sell_pct=row.decimal("stt_sell_pct"),
            stamp_buy_pct=row.decimal("stamp_buy_pct"),
            exchange_pct=exchange,
            sebi_per_crore=row.decimal("sebi_per_crore"),
            gst_pct=row.decimal("gst_pct"),
            brokerage_pct=row.optional_decimal("brokerage_pct") or Decimal(0),
            brokerage_max=row.optional_decimal("brokerage_max"),
            brokerage_flat=row.optional_decimal("brokerage_flat"),
        )
    if model == "percent":
        return PercentRates(maker_pct=row.decimal("maker_pct"), taker_pct=row.decimal("taker_pct"))
    per_symbol = {
        str(symbol): row.decimal(f"per_symbol.{symbol}", rate)
        for symbol, rate in row.table("per_symbol").items()
    }
    return PerLotRates(row.decimal("commission_per_lot"), per_symbol)


def _segment(raw: Any, position: int) -> Segment:
    if not isinstance(raw, dict):
        raise InvalidFeeSchedule(f"segment #{position} must be a table")
    row = _Row(raw, position)
    row.text("name")
    model = row.text("model")
    if model not in _MODEL_KEYS:
        known = ", ".join(sorted(_MODEL_KEYS))
        raise row.fail(f"model {model!r} is not one of {known}")
    required, optional = _MODEL_KEYS[model]
    missing = sorted(required - raw.keys())
    if missing:
        raise row.fail(f"missing {', '.join(missing)}")
    unknown = sorted(raw.keys() - _COMMON - required - optional)
    if unknown:
        raise row.fail(f"unknown key {', '.join(unknown)} for model {model!r}")
    as_of = raw.get("as_of")
    if not isinstance(as_of, date):
        raise row.fail("as_of must be a date (e.g. as_of = 2024-10-01)")
    currency = row.text("currency") if "currency" in raw else None
    if model != "percent" and currency is None:
        raise row.fail(f"model {model!r} needs a currency")
    try:
        return Segment(
            name=row.name,
            venues=row.members("venues", Venue),
            kinds=row.members("kinds", Kind),
            products=row.members("products", Product),
            rates=_rates(row, model),
            round_to=row.decimal("round_to"),
            source=row.text("source"),
            as_of=as_of,
            currency=currency,
        )
    except InvalidFeeSchedule:
        raise
    except ValueError as exc:
        message = str(exc)
        # The domain's segment checks name the segment already; the rate checks do not.
        raise (
            InvalidFeeSchedule(message) if message.startswith("segment") else row.fail(message)
        ) from None


def parse_fee_schedule(document: Mapping[str, Any]) -> FeeSchedule:
    """Build a schedule from a parsed TOML document; refuse anything malformed."""
    rows = document.get("segment")
    if not isinstance(rows, list) or not rows:
        raise InvalidFeeSchedule("the schedule has no [[segment]] tables")
    unknown = sorted(document.keys() - {"segment"})
    if unknown:
        raise InvalidFeeSchedule(f"unknown top-level key {', '.join(unknown)}")
    segments = tuple(_segment(raw, position) for position, raw in enumerate(rows, start=1))
    names = [segment.name for segment in segments]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidFeeSchedule(f"segment names repeat: {', '.join(duplicates)}")
    try:
        return FeeSchedule(segments)
    except ValueError as exc:
        raise InvalidFeeSchedule(str(exc)) from None


def load_fee_schedule(path: Path = DEFAULT_PATH) -> FeeSchedule:
    """Read a fee schedule file; refuse a malformed one with a message naming the file."""
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
        return parse_fee_schedule(document)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidFeeSchedule(f"{path}: not valid TOML: {exc}") from None
    except InvalidFeeSchedule as exc:
        raise InvalidFeeSchedule(f"{path}: {exc}") from None
