"""Build the venues' trading calendar from the ``holidays`` library and ``holidays.toml``."""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import holidays

from tradepit.domain.instruments import Venue
from tradepit.domain.sessions import TradingCalendar

DEFAULT_OVERRIDES = Path(__file__).with_name("holidays.toml")

# The library's market code for each exchange, and the venues that follow its holidays.
LIBRARY_MARKETS: Mapping[str, str] = {"NSE": "XNSE", "BSE": "XBOM"}
EXCHANGE_VENUES: Mapping[str, tuple[Venue, ...]] = {
    "NSE": (Venue.NSE, Venue.NFO),
    "BSE": (Venue.BSE, Venue.BFO),
}

Action = Literal["add", "remove"]


@dataclass(frozen=True)
class Override:
    """One correction to the library's holidays for one exchange."""

    exchange: str
    date: dt.date
    action: Action
    name: str
    source: str


def _overrides(row: dict[str, Any]) -> list[Override]:
    action = row["action"]
    if action not in ("add", "remove"):
        raise ValueError(f"holiday override {row['date']}: action must be 'add' or 'remove'")
    day = row["date"]
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise ValueError(f"holiday override {day!r}: date must be a TOML date (YYYY-MM-DD)")
    found = []
    for exchange in row["exchanges"]:
        if exchange not in LIBRARY_MARKETS:
            raise ValueError(f"holiday override {day}: unknown exchange '{exchange}'")
        found.append(Override(exchange, day, action, str(row["name"]), str(row["source"])))
    return found


def load_overrides(path: Path = DEFAULT_OVERRIDES) -> list[Override]:
    """Read the override file, in file order."""
    with path.open("rb") as handle:
        rows = tomllib.load(handle).get("holiday", [])
    return [override for row in rows for override in _overrides(row)]


def library_holidays(exchange: str, years: Iterable[int]) -> dict[dt.date, str]:
    """Return the ``holidays`` library's weekday trading holidays of ``exchange`` ("NSE"/"BSE")."""
    market = holidays.financial_holidays(LIBRARY_MARKETS[exchange], years=list(years))
    return {day: str(name) for day, name in market.items()}


def exchange_holidays(
    exchange: str, years: range, overrides: Iterable[Override]
) -> dict[dt.date, str]:
    """Return ``exchange``'s holidays in ``years``: the library's, corrected by ``overrides``."""
    found = library_holidays(exchange, years)
    for override in overrides:
        if override.exchange != exchange or override.date.year not in years:
            continue
        if override.action == "add":
            found[override.date] = override.name
        else:
            found.pop(override.date, None)
    return dict(sorted(found.items()))


def build_calendar(years: range, overrides: Iterable[Override]) -> TradingCalendar:
    """Return the trading calendar of every venue for ``years``."""
    overrides = list(overrides)
    per_venue: dict[Venue, Mapping[dt.date, str]] = {}
    for exchange, venues in EXCHANGE_VENUES.items():
        days = exchange_holidays(exchange, years, overrides)
        for venue in venues:
            per_venue[venue] = days
    return TradingCalendar(per_venue)


def default_years(today: dt.date | None = None) -> range:
    """Return the years loaded by default: from three years ago to two years ahead."""
    year = (today or dt.date.today()).year
    return range(year - 3, year + 3)


@functools.lru_cache(maxsize=8)
def _load(years: range) -> TradingCalendar:
    return build_calendar(years, load_overrides())


def load_calendar(years: range | None = None) -> TradingCalendar:
    """Return the trading calendar for ``years`` (default: :func:`default_years`), cached."""
    return _load(years if years is not None else default_years())
