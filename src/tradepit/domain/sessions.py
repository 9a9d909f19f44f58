"""Venue sessions, trading days and derivative expiries.

Pure rules: the holidays come from the caller (``tradepit.market.calendars`` builds them from
the ``holidays`` library and an override file).

- NSE, BSE, NFO, BFO (Asia/Kolkata): pre-open 09:00-09:15, continuous trading 09:15-15:30 on
  weekdays that are not exchange holidays; the cash venues (NSE, BSE) also have a post-close
  session 15:40-16:00 (orders at the closing price only). Special sessions such as Muhurat
  trading are not modelled.
- OKX (crypto): always open.
- FX: open from Sunday 22:00 UTC to Friday 22:00 UTC; no holidays.
- Expiries: weekly or monthly on a weekday (``"weekly:TUE"``, ``"monthly:THU"``); the monthly
  expiry is the last such weekday of the month; an expiry on a non-trading day moves to the
  previous trading day.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from zoneinfo import ZoneInfo

from tradepit.domain.instruments import Venue

UTC = dt.UTC
IST = ZoneInfo("Asia/Kolkata")
SAT_SUN = frozenset({5, 6})
MARKET_HOURS_ALWAYS = "market_hours=always"


class Phase(StrEnum):
    """Where a venue is in its trading day."""

    PRE_OPEN = "pre_open"
    OPEN = "open"
    POST_CLOSE = "post_close"
    CLOSED = "closed"


# --- Trading days -----------------------------------------------------------------------------


@dataclass(frozen=True)
class VenueCalendar:
    """One venue's trading days: every day outside ``weekend`` that is not a holiday."""

    holidays: Mapping[dt.date, str] = field(default_factory=dict)
    weekend: frozenset[int] = SAT_SUN

    def __post_init__(self) -> None:
        if len(self.weekend) >= 7 or not self.weekend <= set(range(7)):
            raise ValueError("weekend must be a proper subset of the weekdays 0-6")
        object.__setattr__(self, "holidays", MappingProxyType(dict(self.holidays)))

    def holiday(self, day: dt.date) -> str | None:
        """Return the name of the holiday on ``day``, or None."""
        return self.holidays.get(day)

    def is_trading_day(self, day: dt.date) -> bool:
        """Tell whether the venue trades on ``day``."""
        return day.weekday() not in self.weekend and day not in self.holidays

    def previous_trading_day(self, day: dt.date) -> dt.date:
        """Return the last trading day strictly before ``day``."""
        day -= dt.timedelta(days=1)
        while not self.is_trading_day(day):
            day -= dt.timedelta(days=1)
        return day

    def next_trading_day(self, day: dt.date) -> dt.date:
        """Return the first trading day strictly after ``day``."""
        day += dt.timedelta(days=1)
        while not self.is_trading_day(day):
            day += dt.timedelta(days=1)
        return day

    def on_or_before(self, day: dt.date) -> dt.date:
        """Return ``day`` if it is a trading day, else the previous trading day."""
        return day if self.is_trading_day(day) else self.previous_trading_day(day)


def _weekend(venue: Venue) -> frozenset[int]:
    return frozenset() if venue is Venue.OKX else SAT_SUN


@dataclass(frozen=True)
class TradingCalendar:
    """The trading days of every venue: per venue, a mapping of date to holiday name.

    A venue not in ``holidays`` has no holidays. OKX trades every day; the others trade on
    weekdays only.
    """

    holidays: Mapping[Venue, Mapping[dt.date, str]] = field(default_factory=dict)
    _venues: Mapping[Venue, VenueCalendar] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        venues = {
            venue: VenueCalendar(self.holidays.get(venue, {}), _weekend(venue)) for venue in Venue
        }
        object.__setattr__(self, "_venues", MappingProxyType(venues))
        frozen = {venue: venues[venue].holidays for venue in self.holidays}
        object.__setattr__(self, "holidays", MappingProxyType(frozen))

    def venue(self, venue: Venue) -> VenueCalendar:
        """Return the trading days of ``venue``."""
        return self._venues[venue]

    def holiday(self, venue: Venue, day: dt.date) -> str | None:
        """Return the name of ``venue``'s holiday on ``day``, or None."""
        return self._venues[venue].holiday(day)

    def is_trading_day(self, venue: Venue, day: dt.date) -> bool:
        """Tell whether ``venue`` trades on ``day``."""
        return self._venues[venue].is_trading_day(day)

    def previous_trading_day(self, venue: Venue, day: dt.date) -> dt.date:
        """Return ``venue``'s last trading day strictly before ``day``."""
        return self._venues[venue].previous_trading_day(day)

    def next_trading_day(self, venue: Venue, day: dt.date) -> dt.date:
        """Return ``venue``'s first trading day strictly after ``day``."""
        return self._venues[venue].next_trading_day(day)


# --- Sessions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionStatus:
    """A venue's state at one instant.

    ``next_open`` is the next start of continuous trading after now (for Indian venues the
    pre-open starts 15 minutes earlier); ``next_close`` is the end of the current session, or of
    the next one when closed. Both are UTC, and None where the venue never opens or closes
    (crypto, or any venue under ``market_hours=always``). ``forced`` says that the venue is open
    only because of ``market_hours=always``.
    """

    venue: Venue
    phase: Phase
    is_open: bool
    reason: str
    local_time: dt.datetime
    next_open: dt.datetime | None
    next_close: dt.datetime | None
    forced: bool = False


@dataclass(frozen=True)
class _ExchangeHours:
    zone: ZoneInfo
    pre_open: dt.time
    open: dt.time
    close: dt.time
    post_close: tuple[dt.time, dt.time] | None


_INDIAN_CASH = _ExchangeHours(
    IST, dt.time(9, 0), dt.time(9, 15), dt.time(15, 30), (dt.time(15, 40), dt.time(16, 0))
)
_INDIAN_FNO = _ExchangeHours(IST, dt.time(9, 0), dt.time(9, 15), dt.time(15, 30), None)
_EXCHANGE_HOURS: Mapping[Venue, _ExchangeHours] = MappingProxyType(
    {
        Venue.NSE: _INDIAN_CASH,
        Venue.BSE: _INDIAN_CASH,
        Venue.NFO: _INDIAN_FNO,
        Venue.BFO: _INDIAN_FNO,
    }
)
_FX_CLOSE_WEEKDAY = 4  # Friday
_FX_OPEN_WEEKDAY = 6  # Sunday
_FX_ROLL = dt.time(22, 0)


def venue_zone(venue: Venue) -> dt.tzinfo:
    """Return the time zone a venue's hours are stated in."""
    hours = _EXCHANGE_HOURS.get(venue)
    return hours.zone if hours is not None else UTC


def session_status(
    venue: Venue,
    now_utc: dt.datetime,
    calendar: TradingCalendar,
    *,
    always_open: bool = False,
) -> SessionStatus:
    """Return whether ``venue`` trades at ``now_utc`` (timezone-aware), and why.

    ``always_open`` (the ``market_hours=always`` setting) opens every venue, and the status says
    so: reason ``"market_hours=always"`` and ``forced`` (except for crypto, open anyway).
    """
    if now_utc.tzinfo is None or now_utc.utcoffset() is None:
        raise ValueError("now_utc must be timezone-aware")
    now = now_utc.astimezone(UTC)
    if venue is Venue.OKX:
        return SessionStatus(venue, Phase.OPEN, True, "24/7", now, None, None)
    if always_open:
        local = now.astimezone(venue_zone(venue))
        return SessionStatus(
            venue, Phase.OPEN, True, MARKET_HOURS_ALWAYS, local, None, None, forced=True
        )
    if venue is Venue.FX:
        return _fx_status(now)
    return _exchange_status(venue, _EXCHANGE_HOURS[venue], now, calendar.venue(venue))


def _fx_status(now: dt.datetime) -> SessionStatus:
    week_start = dt.datetime.combine(now.date() - dt.timedelta(days=now.weekday()), _FX_ROLL, UTC)
    # This week's Friday close and the Sunday open that ends its weekend.
    close = week_start + dt.timedelta(days=_FX_CLOSE_WEEKDAY)
    reopen = week_start + dt.timedelta(days=_FX_OPEN_WEEKDAY)
    if close <= now < reopen:
        return SessionStatus(
            Venue.FX, Phase.CLOSED, False, "weekend", now, reopen, close + dt.timedelta(days=7)
        )
    if now >= reopen:  # Sunday evening: the new week has opened.
        close += dt.timedelta(days=7)
        reopen += dt.timedelta(days=7)
    return SessionStatus(Venue.FX, Phase.OPEN, True, "regular session", now, reopen, close)


def _at(day: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, time, zone).astimezone(UTC)


def _exchange_status(
    venue: Venue, hours: _ExchangeHours, now: dt.datetime, days: VenueCalendar
) -> SessionStatus:
    local = now.astimezone(hours.zone)
    today = local.date()
    clock = local.time().replace(tzinfo=None)

    def session(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        return _at(day, hours.open, hours.zone), _at(day, hours.close, hours.zone)

    def status(phase: Phase, reason: str, next_session_day: dt.date) -> SessionStatus:
        next_open, next_close = session(next_session_day)
        if phase is Phase.OPEN:
            next_close = session(today)[1]
        return SessionStatus(
            venue, phase, phase is Phase.OPEN, reason, local, next_open, next_close
        )

    following = days.next_trading_day(today)
    if today.weekday() in days.weekend:
        return status(Phase.CLOSED, "weekend", following)
    name = days.holiday(today)
    if name is not None:
        return status(Phase.CLOSED, f"holiday: {name}", following)
    if clock < hours.pre_open:
        return status(Phase.CLOSED, "before hours", today)
    if clock < hours.open:
        return status(Phase.PRE_OPEN, "pre-open", today)
    if clock < hours.close:
        return status(Phase.OPEN, "regular session", following)
    if hours.post_close is not None and hours.post_close[0] <= clock < hours.post_close[1]:
        return status(Phase.POST_CLOSE, "post-close", following)
    return status(Phase.CLOSED, "after hours", following)


# --- Expiries ---------------------------------------------------------------------------------

_WEEKDAY_CODES = MappingProxyType(
    {code: i for i, code in enumerate(("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"))}
)


@dataclass(frozen=True)
class Expiry:
    """A derivative expiry: its (holiday-adjusted) date and whether it is the monthly one."""

    date: dt.date
    monthly: bool


def parse_expiry_rule(rule: str) -> tuple[bool, int]:
    """Return (weekly, weekday) for a rule such as ``"weekly:TUE"`` or ``"monthly:THU"``."""
    kind, _, day = rule.strip().upper().partition(":")
    if kind not in {"WEEKLY", "MONTHLY"} or day not in _WEEKDAY_CODES:
        raise ValueError(f"bad expiry rule '{rule}': expected weekly|monthly:MON..SUN")
    return kind == "WEEKLY", _WEEKDAY_CODES[day]


def _is_last_in_month(day: dt.date) -> bool:
    return day.day + 7 > _calendar.monthrange(day.year, day.month)[1]


def _last_weekday(year: int, month: int, weekday: int) -> dt.date:
    last = dt.date(year, month, _calendar.monthrange(year, month)[1])
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def expiries(rule: str, start: dt.date, calendar: VenueCalendar, count: int) -> list[Expiry]:
    """Return the next ``count`` expiries under ``rule`` from ``start`` (inclusive).

    ``calendar`` is the derivatives venue's (``TradingCalendar.venue(Venue.NFO)``). An expiry
    that falls on a non-trading day moves to the previous trading day; one whose adjusted date
    is before ``start`` is skipped, one on ``start`` (expiry day) is included.
    """
    weekly, weekday = parse_expiry_rule(rule)
    if not weekly:
        return monthly_expiries(rule, start, calendar, count)
    if count < 0:
        raise ValueError("count must not be negative")
    found: list[Expiry] = []
    nominal = start + dt.timedelta(days=(weekday - start.weekday()) % 7)
    while len(found) < count:
        day = calendar.on_or_before(nominal)
        if day >= start and (not found or day > found[-1].date):
            found.append(Expiry(day, _is_last_in_month(nominal)))
        nominal += dt.timedelta(days=7)
    return found


def monthly_expiries(
    rule: str, start: dt.date, calendar: VenueCalendar, count: int = 3
) -> list[Expiry]:
    """Return the next ``count`` monthly expiries (last rule weekday of each month).

    The futures series: three serial months by default. Holiday adjustment and the treatment
    of ``start`` are as in :func:`expiries`.
    """
    _, weekday = parse_expiry_rule(rule)
    if count < 0:
        raise ValueError("count must not be negative")
    found: list[Expiry] = []
    year, month = start.year, start.month
    while len(found) < count:
        day = calendar.on_or_before(_last_weekday(year, month, weekday))
        if day >= start and (not found or day > found[-1].date):
            found.append(Expiry(day, True))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


#: When intraday (MIS) positions are squared off on the Indian venues.
SQUARE_OFF = dt.time(15, 20)


def last_close(venue: Venue, now: dt.datetime, calendar: TradingCalendar) -> dt.datetime:
    """Return the end of the venue's most recent trading day at or before ``now`` (UTC).

    NSE/BSE: 15:30 IST of the last trading day whose close has passed; OKX: the last 00:00 UTC
    (its trading day is the UTC date); FX: the last 22:00 UTC rollover.
    """
    hours = _EXCHANGE_HOURS.get(venue)
    if hours is not None:
        local = now.astimezone(hours.zone)
        days = calendar.venue(venue)
        day = local.date()
        if not (days.is_trading_day(day) and local.time() >= hours.close):
            day = days.previous_trading_day(day)
        return dt.datetime.combine(day, hours.close, hours.zone).astimezone(dt.UTC)
    utc = now.astimezone(dt.UTC)
    if venue is Venue.FX:
        rollover = dt.datetime.combine(utc.date(), dt.time(22, 0), dt.UTC)
        return rollover if utc >= rollover else rollover - dt.timedelta(days=1)
    return dt.datetime.combine(utc.date(), dt.time(0, 0), dt.UTC)


def square_off_due(venue: Venue, now: dt.datetime, calendar: TradingCalendar) -> dt.datetime | None:
    """Return today's square-off instant if it has passed on a trading day of an Indian venue."""
    hours = _EXCHANGE_HOURS.get(venue)
    if hours is None:
        return None
    local = now.astimezone(hours.zone)
    if not calendar.venue(venue).is_trading_day(local.date()) or local.time() < SQUARE_OFF:
        return None
    return dt.datetime.combine(local.date(), SQUARE_OFF, hours.zone).astimezone(dt.UTC)
