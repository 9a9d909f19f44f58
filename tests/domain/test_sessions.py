"""Venue sessions, trading days and derivative expiries (pure rules, holidays given here)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepit.domain.instruments import Venue
from tradepit.domain.sessions import (
    IST,
    MARKET_HOURS_ALWAYS,
    Expiry,
    Phase,
    SessionStatus,
    TradingCalendar,
    VenueCalendar,
    expiries,
    monthly_expiries,
    parse_expiry_rule,
    session_status,
)

INDIAN = (Venue.NSE, Venue.BSE, Venue.NFO, Venue.BFO)
DIWALI = date(2026, 11, 10)  # a Tuesday
CALENDAR = TradingCalendar({venue: {DIWALI: "Diwali Balipratipada"} for venue in INDIAN})
EMPTY = VenueCalendar()


def ist(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """Return an instant given in India time, as UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=IST).astimezone(UTC)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """Return a UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def status(venue: Venue, now: datetime, *, always_open: bool = False) -> SessionStatus:
    """Return the venue's status under the test calendar."""
    return session_status(venue, now, CALENDAR, always_open=always_open)


# 2026-12-07 is a Monday, 2026-12-04 a Friday, 2026-12-05 a Saturday.
MONDAY = (2026, 12, 7)


class TestIndianSessions:
    @pytest.mark.parametrize(
        ("hour", "minute", "phase", "reason"),
        [
            (8, 59, Phase.CLOSED, "before hours"),
            (9, 0, Phase.PRE_OPEN, "pre-open"),
            (9, 14, Phase.PRE_OPEN, "pre-open"),
            (9, 15, Phase.OPEN, "regular session"),
            (15, 29, Phase.OPEN, "regular session"),
            (15, 30, Phase.CLOSED, "after hours"),
            (15, 39, Phase.CLOSED, "after hours"),
            (15, 40, Phase.POST_CLOSE, "post-close"),
            (15, 59, Phase.POST_CLOSE, "post-close"),
            (16, 0, Phase.CLOSED, "after hours"),
        ],
    )
    def test_nse_phases_through_the_day(
        self, hour: int, minute: int, phase: Phase, reason: str
    ) -> None:
        got = status(Venue.NSE, ist(*MONDAY, hour, minute))
        assert (got.phase, got.reason) == (phase, reason)
        assert got.is_open is (phase is Phase.OPEN)
        assert not got.forced

    @pytest.mark.parametrize("venue", INDIAN)
    def test_every_indian_venue_trades_0915_to_1530(self, venue: Venue) -> None:
        assert status(venue, ist(*MONDAY, 9, 14)).phase is Phase.PRE_OPEN
        assert status(venue, ist(*MONDAY, 9, 15)).is_open
        assert status(venue, ist(*MONDAY, 15, 29)).is_open
        assert not status(venue, ist(*MONDAY, 15, 30)).is_open

    @pytest.mark.parametrize("venue", [Venue.NFO, Venue.BFO])
    def test_derivatives_venues_have_no_post_close_session(self, venue: Venue) -> None:
        got = status(venue, ist(*MONDAY, 15, 45))
        assert (got.phase, got.reason) == (Phase.CLOSED, "after hours")

    def test_local_time_is_in_india(self) -> None:
        got = status(Venue.NSE, ist(*MONDAY, 10, 0))
        assert got.local_time.tzinfo is IST
        assert (got.local_time.hour, got.local_time.minute) == (10, 0)
        assert got.local_time == ist(*MONDAY, 10, 0)

    def test_accepts_any_aware_time(self) -> None:
        local = datetime(*MONDAY, 9, 15, tzinfo=IST)
        assert status(Venue.NSE, local).is_open

    def test_naive_time_is_refused(self) -> None:
        with pytest.raises(ValueError, match="aware"):
            status(Venue.NSE, datetime(*MONDAY, 10, 0))

    @pytest.mark.parametrize("venue", INDIAN)
    def test_saturday_is_closed_for_the_weekend(self, venue: Venue) -> None:
        got = status(venue, ist(2026, 12, 5, 11, 0))
        assert (got.phase, got.is_open, got.reason) == (Phase.CLOSED, False, "weekend")

    def test_holiday_is_closed_with_its_name(self) -> None:
        got = status(Venue.NSE, ist(2026, 11, 10, 11, 0))
        assert (got.phase, got.is_open) == (Phase.CLOSED, False)
        assert got.reason == "holiday: Diwali Balipratipada"

    def test_holiday_of_one_venue_does_not_close_another(self) -> None:
        assert not status(Venue.NSE, ist(2026, 11, 10, 11, 0)).is_open
        assert status(Venue.FX, ist(2026, 11, 10, 11, 0)).is_open
        assert status(Venue.OKX, ist(2026, 11, 10, 11, 0)).is_open


class TestNextOpenAndClose:
    def test_friday_after_close_opens_on_monday(self) -> None:
        got = status(Venue.NSE, ist(2026, 12, 4, 16, 30))
        assert got.next_open == ist(*MONDAY, 9, 15)
        assert got.next_close == ist(*MONDAY, 15, 30)
        assert got.next_open is not None
        assert got.next_open.tzinfo is UTC

    def test_friday_after_close_skips_a_monday_holiday(self) -> None:
        calendar = TradingCalendar({Venue.NSE: {date(*MONDAY): "Fake Monday holiday"}})
        got = session_status(Venue.NSE, ist(2026, 12, 4, 16, 30), calendar)
        assert got.next_open == ist(2026, 12, 8, 9, 15)
        assert got.next_close == ist(2026, 12, 8, 15, 30)

    def test_weekend_next_open_is_monday(self) -> None:
        got = status(Venue.NSE, ist(2026, 12, 6, 12, 0))
        assert got.next_open == ist(*MONDAY, 9, 15)

    def test_before_hours_and_pre_open_open_today(self) -> None:
        for hour, minute in ((7, 0), (9, 5)):
            got = status(Venue.NSE, ist(*MONDAY, hour, minute))
            assert got.next_open == ist(*MONDAY, 9, 15)
            assert got.next_close == ist(*MONDAY, 15, 30)

    def test_open_closes_today_and_reopens_next_trading_day(self) -> None:
        got = status(Venue.NSE, ist(2026, 11, 9, 12, 0))  # Monday before the Diwali Tuesday
        assert got.next_close == ist(2026, 11, 9, 15, 30)
        assert got.next_open == ist(2026, 11, 11, 9, 15)

    def test_holiday_next_open_is_next_trading_day(self) -> None:
        got = status(Venue.NSE, ist(2026, 11, 10, 8, 0))
        assert got.next_open == ist(2026, 11, 11, 9, 15)


class TestCrypto:
    @given(
        st.datetimes(
            min_value=datetime(2020, 1, 1),
            max_value=datetime(2035, 1, 1),
            timezones=st.just(UTC),
        )
    )
    def test_always_open(self, now: datetime) -> None:
        got = status(Venue.OKX, now)
        assert (got.phase, got.is_open, got.forced) == (Phase.OPEN, True, False)
        assert (got.next_open, got.next_close) == (None, None)

    def test_open_on_the_weekend_and_on_holidays(self) -> None:
        assert status(Venue.OKX, utc(2026, 12, 5, 3)).is_open
        assert status(Venue.OKX, ist(2026, 11, 10, 11)).is_open

    def test_market_hours_always_changes_nothing(self) -> None:
        got = status(Venue.OKX, utc(2026, 12, 6, 3), always_open=True)
        assert (got.is_open, got.forced, got.reason) == (True, False, "24/7")


class TestForex:
    @pytest.mark.parametrize(
        "now",
        [
            utc(2026, 12, 4, 22, 0),  # Friday close
            utc(2026, 12, 4, 22, 30),
            utc(2026, 12, 5, 12, 0),  # Saturday
            utc(2026, 12, 6, 21, 59),  # Sunday before the open
        ],
    )
    def test_closed_over_the_weekend(self, now: datetime) -> None:
        got = status(Venue.FX, now)
        assert (got.phase, got.is_open, got.reason) == (Phase.CLOSED, False, "weekend")
        assert got.next_open == utc(2026, 12, 6, 22, 0)
        assert got.next_close == utc(2026, 12, 11, 22, 0)

    @pytest.mark.parametrize(
        "now",
        [
            utc(2026, 12, 6, 22, 0),  # Sunday open
            utc(2026, 12, 6, 22, 30),
            utc(2026, 12, 7, 0, 0),  # Monday
            utc(2026, 12, 7, 12, 0),
            utc(2026, 12, 10, 23, 0),  # Thursday night
            utc(2026, 12, 11, 21, 59),  # Friday just before the close
        ],
    )
    def test_open_during_the_week(self, now: datetime) -> None:
        got = status(Venue.FX, now)
        assert (got.phase, got.is_open) == (Phase.OPEN, True)
        assert got.next_close == utc(2026, 12, 11, 22, 0)
        assert got.next_open == utc(2026, 12, 13, 22, 0)

    def test_local_time_is_utc(self) -> None:
        assert status(Venue.FX, ist(*MONDAY, 10)).local_time.tzinfo is UTC

    def test_no_holidays(self) -> None:
        calendar = TradingCalendar({Venue.FX: {date(*MONDAY): "ignored"}})
        assert session_status(Venue.FX, utc(*MONDAY, 12), calendar).is_open


class TestAlwaysOpen:
    def test_nse_open_on_a_sunday_and_says_why(self) -> None:
        got = status(Venue.NSE, ist(2026, 12, 6, 11, 0), always_open=True)
        assert (got.phase, got.is_open, got.forced) == (Phase.OPEN, True, True)
        assert got.reason == MARKET_HOURS_ALWAYS == "market_hours=always"
        assert (got.next_open, got.next_close) == (None, None)
        assert got.local_time.tzinfo is IST

    @pytest.mark.parametrize("venue", [*INDIAN, Venue.FX])
    def test_every_venue_is_forced_open(self, venue: Venue) -> None:
        for now in (ist(2026, 11, 10, 11), utc(2026, 12, 5, 12), ist(*MONDAY, 20)):
            got = status(venue, now, always_open=True)
            assert got.is_open
            assert got.forced

    @pytest.mark.parametrize("venue", INDIAN)
    def test_0405_ist_both_modes(self, venue: Venue) -> None:
        night = utc(2026, 11, 24, 22, 35)  # 04:05 IST on Wednesday 2026-11-25
        real = status(venue, night)
        assert (real.phase, real.is_open, real.reason) == (Phase.CLOSED, False, "before hours")
        assert real.next_open == ist(2026, 11, 25, 9, 15) and real.forced is False
        always = status(venue, night, always_open=True)
        assert (always.phase, always.is_open, always.forced) == (Phase.OPEN, True, True)
        assert always.local_time == datetime(2026, 11, 25, 4, 5, tzinfo=IST)


class TestTradingCalendar:
    def test_weekdays_less_holidays(self) -> None:
        nse = CALENDAR.venue(Venue.NSE)
        assert nse.is_trading_day(date(2026, 11, 9))
        assert not nse.is_trading_day(DIWALI)
        assert not nse.is_trading_day(date(2026, 11, 7))  # Saturday
        assert CALENDAR.is_trading_day(Venue.NSE, date(2026, 11, 11))
        assert CALENDAR.holiday(Venue.NSE, DIWALI) == "Diwali Balipratipada"
        assert CALENDAR.holiday(Venue.NSE, date(2026, 11, 11)) is None

    def test_previous_and_next_skip_weekends_and_holidays(self) -> None:
        assert CALENDAR.next_trading_day(Venue.NSE, date(2026, 11, 9)) == date(2026, 11, 11)
        assert CALENDAR.previous_trading_day(Venue.NSE, date(2026, 11, 11)) == date(2026, 11, 9)
        assert CALENDAR.next_trading_day(Venue.NSE, date(2026, 12, 4)) == date(*MONDAY)
        assert CALENDAR.previous_trading_day(Venue.NSE, date(*MONDAY)) == date(2026, 12, 4)
        assert CALENDAR.venue(Venue.NSE).on_or_before(date(2026, 12, 6)) == date(2026, 12, 4)

    def test_crypto_trades_every_day(self) -> None:
        okx = CALENDAR.venue(Venue.OKX)
        assert okx.is_trading_day(date(2026, 12, 5))
        assert okx.next_trading_day(date(2026, 12, 5)) == date(2026, 12, 6)

    def test_venues_without_holidays_trade_every_weekday(self) -> None:
        empty = TradingCalendar()
        assert empty.is_trading_day(Venue.BSE, DIWALI)
        assert not empty.is_trading_day(Venue.FX, date(2026, 12, 5))

    def test_holidays_are_copied_and_read_only(self) -> None:
        days = {DIWALI: "Diwali"}
        calendar = TradingCalendar({Venue.NSE: days})
        days[date(*MONDAY)] = "added later"
        assert calendar.is_trading_day(Venue.NSE, date(*MONDAY))
        with pytest.raises(TypeError):
            calendar.venue(Venue.NSE).holidays[date(*MONDAY)] = "x"  # type: ignore[index]

    def test_weekend_must_leave_trading_days(self) -> None:
        with pytest.raises(ValueError, match="weekend"):
            VenueCalendar(weekend=frozenset(range(7)))


def tuesdays(*days: int) -> list[date]:
    """Return December 2026 dates."""
    return [date(2026, 12, day) for day in days]


class TestExpiries:
    def test_nifty_weekly_tuesdays_in_december_with_the_last_monthly(self) -> None:
        got = expiries("weekly:TUE", date(2026, 12, 1), EMPTY, 5)
        assert [e.date for e in got] == tuesdays(1, 8, 15, 22, 29)
        assert [e.monthly for e in got] == [False, False, False, False, True]
        assert all(e.date.weekday() == 1 for e in got)

    def test_banknifty_monthly_last_tuesdays(self) -> None:
        got = expiries("monthly:TUE", date(2026, 12, 1), EMPTY, 3)
        assert got == [
            Expiry(date(2026, 12, 29), True),
            Expiry(date(2027, 1, 26), True),
            Expiry(date(2027, 2, 23), True),
        ]

    def test_sensex_weekly_thursdays(self) -> None:
        got = expiries("weekly:THU", date(2026, 12, 1), EMPTY, 6)
        assert [e.date for e in got] == [*tuesdays(3, 10, 17, 24, 31), date(2027, 1, 7)]
        assert [e.monthly for e in got] == [False, False, False, False, True, False]

    def test_monthly_thursday(self) -> None:
        got = expiries("monthly:THU", date(2026, 12, 1), EMPTY, 2)
        assert [e.date for e in got] == [date(2026, 12, 31), date(2027, 1, 28)]

    def test_holiday_moves_the_expiry_to_the_previous_trading_day(self) -> None:
        calendar = VenueCalendar({date(2026, 12, 8): "Fake Tuesday holiday"})
        got = expiries("weekly:TUE", date(2026, 12, 1), calendar, 3)
        assert [e.date for e in got] == [date(2026, 12, 1), date(2026, 12, 7), date(2026, 12, 15)]

    def test_holiday_on_monday_too_moves_it_to_friday(self) -> None:
        calendar = VenueCalendar({date(2026, 12, 29): "Fake", date(2026, 12, 28): "Fake"})
        got = expiries("weekly:TUE", date(2026, 12, 23), calendar, 1)
        assert got == [Expiry(date(2026, 12, 25), True)]

    def test_moved_monthly_expiry_stays_monthly(self) -> None:
        calendar = VenueCalendar({date(2026, 12, 29): "Fake Tuesday holiday"})
        assert expiries("weekly:TUE", date(2026, 12, 23), calendar, 1) == [
            Expiry(date(2026, 12, 28), True)
        ]
        assert monthly_expiries("weekly:TUE", date(2026, 12, 1), calendar, 1) == [
            Expiry(date(2026, 12, 28), True)
        ]

    def test_expiry_day_is_included(self) -> None:
        assert expiries("weekly:TUE", date(2026, 12, 8), EMPTY, 1)[0].date == date(2026, 12, 8)
        assert expiries("monthly:TUE", date(2026, 12, 29), EMPTY, 1)[0].date == date(2026, 12, 29)

    def test_rolls_over_the_day_after(self) -> None:
        assert expiries("weekly:TUE", date(2026, 12, 9), EMPTY, 1)[0].date == date(2026, 12, 15)
        assert expiries("monthly:TUE", date(2026, 12, 30), EMPTY, 1)[0].date == date(2027, 1, 26)

    def test_expiry_moved_before_start_is_skipped(self) -> None:
        calendar = VenueCalendar({date(2026, 12, 8): "Fake Tuesday holiday"})
        # Start on the holiday: that week's expiry already happened on Monday.
        got = expiries("weekly:TUE", date(2026, 12, 8), calendar, 1)
        assert got[0].date == date(2026, 12, 15)

    def test_monthly_expiries_of_a_weekly_underlying_are_the_futures_series(self) -> None:
        got = monthly_expiries("weekly:TUE", date(2026, 12, 1), EMPTY)
        assert [e.date for e in got] == [date(2026, 12, 29), date(2027, 1, 26), date(2027, 2, 23)]
        assert all(e.monthly for e in got)

    def test_count_zero_and_bad_input(self) -> None:
        assert expiries("weekly:TUE", date(2026, 12, 1), EMPTY, 0) == []
        with pytest.raises(ValueError, match="negative"):
            expiries("weekly:TUE", date(2026, 12, 1), EMPTY, -1)
        for rule in ("weekly", "daily:TUE", "weekly:TUESDAY", "monthly:"):
            with pytest.raises(ValueError, match="bad expiry rule"):
                expiries(rule, date(2026, 12, 1), EMPTY, 1)

    def test_parse_rule(self) -> None:
        assert parse_expiry_rule("weekly:TUE") == (True, 1)
        assert parse_expiry_rule("monthly:thu") == (False, 3)


RULES = st.sampled_from(["weekly:TUE", "monthly:TUE", "weekly:THU", "monthly:THU"])
STARTS = st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31))
# Holidays as offsets from the start, dense enough to hit many expiries.
OFFSETS = st.sets(st.integers(min_value=-14, max_value=400), max_size=80)


@given(rule=RULES, start=STARTS, offsets=OFFSETS, count=st.integers(min_value=1, max_value=12))
def test_expiries_are_trading_days_on_or_before_their_nominal_day(
    rule: str, start: date, offsets: set[int], count: int
) -> None:
    calendar = VenueCalendar({start + timedelta(days=o): "Fake" for o in offsets})
    weekly, weekday = parse_expiry_rule(rule)
    got = expiries(rule, start, calendar, count)
    assert len(got) == count
    assert all(calendar.is_trading_day(e.date) for e in got)
    assert all(a.date < b.date for a, b in itertools.pairwise(got))
    assert got[0].date >= start
    for expiry in got:
        nominal = expiry.date + timedelta(days=(weekday - expiry.date.weekday()) % 7)
        # The expiry is the last trading day on or before its nominal weekday.
        assert expiry.date <= nominal
        between = (
            expiry.date + timedelta(days=d) for d in range(1, (nominal - expiry.date).days + 1)
        )
        assert not any(calendar.is_trading_day(day) for day in between)
        is_last = (nominal + timedelta(days=7)).month != nominal.month
        assert expiry.monthly is is_last
        if not weekly:
            assert expiry.monthly
