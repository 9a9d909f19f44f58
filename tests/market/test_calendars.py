"""The trading calendar built from the ``holidays`` library and ``holidays.toml``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tradepit.domain.instruments import Venue
from tradepit.domain.sessions import (
    IST,
    Expiry,
    Phase,
    TradingCalendar,
    expiries,
    monthly_expiries,
    session_status,
)
from tradepit.market.calendars import (
    EXCHANGE_VENUES,
    Override,
    build_calendar,
    default_years,
    exchange_holidays,
    library_holidays,
    load_calendar,
    load_overrides,
)

INDIAN = (Venue.NSE, Venue.BSE, Venue.NFO, Venue.BFO)
YEARS = range(2023, 2028)


@pytest.fixture(scope="module")
def calendar() -> TradingCalendar:
    """Return the real calendar for 2023-2027."""
    return load_calendar(YEARS)


def ist(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """Return an instant given in India time, as UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=IST).astimezone(UTC)


class TestLibraryData:
    """Pin the facts of the installed ``holidays`` data the other tests rely on."""

    def test_diwali_2026_is_balipratipada_on_tuesday_10_november(self) -> None:
        # Lakshmi Puja falls on Sunday 8 November 2026, so the weekday holiday is the next one.
        nse = library_holidays("NSE", [2026])
        assert nse[date(2026, 11, 10)] == "Diwali Balipratipada"
        assert date(2026, 11, 8) not in nse

    def test_library_lacks_the_2026_municipal_election_holiday(self) -> None:
        for exchange in EXCHANGE_VENUES:
            assert date(2026, 1, 15) not in library_holidays(exchange, [2026])

    def test_only_weekday_holidays(self) -> None:
        for exchange in EXCHANGE_VENUES:
            assert all(d.weekday() < 5 for d in library_holidays(exchange, YEARS))


class TestOverrideFile:
    def test_every_entry_corrects_the_library(self) -> None:
        """An entry the library already agrees with must go (say, after a library upgrade)."""
        overrides = load_overrides()
        assert overrides
        for override in overrides:
            library = library_holidays(override.exchange, [override.date.year])
            if override.action == "add":
                assert override.date not in library, override
                assert override.date.weekday() < 5, override
            else:
                assert override.date in library, override
            assert override.name.strip(), override
            assert override.source.strip(), override

    def test_2026_municipal_elections_for_both_exchanges(self) -> None:
        found = {
            o.exchange
            for o in load_overrides()
            if o.date == date(2026, 1, 15) and o.action == "add"
        }
        assert found == {"NSE", "BSE"}

    def test_add_and_remove(self) -> None:
        overrides = [
            Override("NSE", date(2026, 12, 8), "add", "Fake", "test"),
            Override("NSE", date(2026, 11, 10), "remove", "Diwali Balipratipada", "test"),
            Override("NSE", date(2030, 1, 1), "add", "Outside the years", "test"),
        ]
        nse = exchange_holidays("NSE", range(2026, 2027), overrides)
        assert nse[date(2026, 12, 8)] == "Fake"
        assert date(2026, 11, 10) not in nse
        assert all(d.year == 2026 for d in nse)
        assert date(2026, 12, 8) not in exchange_holidays("BSE", range(2026, 2027), overrides)

    def test_reads_a_file(self, tmp_path: Path) -> None:
        path = tmp_path / "holidays.toml"
        path.write_text(
            '[[holiday]]\nexchanges = ["NSE", "BSE"]\ndate = 2026-12-08\naction = "add"\n'
            'name = "Fake"\nsource = "test"\n'
        )
        assert load_overrides(path) == [
            Override("NSE", date(2026, 12, 8), "add", "Fake", "test"),
            Override("BSE", date(2026, 12, 8), "add", "Fake", "test"),
        ]

    @pytest.mark.parametrize(
        ("row", "message"),
        [
            ('exchanges = ["NYSE"]\ndate = 2026-12-08\naction = "add"', "unknown exchange"),
            ('exchanges = ["NSE"]\ndate = 2026-12-08\naction = "move"', "action"),
            ('exchanges = ["NSE"]\ndate = "2026-12-08"\naction = "add"', "TOML date"),
        ],
    )
    def test_refuses_bad_entries(self, tmp_path: Path, row: str, message: str) -> None:
        path = tmp_path / "holidays.toml"
        path.write_text(f'[[holiday]]\n{row}\nname = "x"\nsource = "y"\n')
        with pytest.raises(ValueError, match=message):
            load_overrides(path)


class TestCalendar:
    def test_derivatives_venues_share_their_exchange_holidays(
        self, calendar: TradingCalendar
    ) -> None:
        assert calendar.holidays[Venue.NFO] == calendar.holidays[Venue.NSE]
        assert calendar.holidays[Venue.BFO] == calendar.holidays[Venue.BSE]
        assert Venue.OKX not in calendar.holidays
        assert Venue.FX not in calendar.holidays

    def test_overrides_are_applied(self, calendar: TradingCalendar) -> None:
        for venue in INDIAN:
            assert not calendar.is_trading_day(venue, date(2026, 1, 15))
            assert not calendar.is_trading_day(venue, date(2023, 6, 29))
            assert calendar.is_trading_day(venue, date(2023, 6, 28))

    @pytest.mark.parametrize("venue", INDIAN)
    def test_diwali_2026_closed(self, calendar: TradingCalendar, venue: Venue) -> None:
        got = session_status(venue, ist(2026, 11, 10, 11, 0), calendar)
        assert (got.phase, got.is_open) == (Phase.CLOSED, False)
        assert got.reason == "holiday: Diwali Balipratipada"

    @pytest.mark.parametrize("venue", INDIAN)
    def test_municipal_elections_2026_closed(self, calendar: TradingCalendar, venue: Venue) -> None:
        got = session_status(venue, ist(2026, 1, 15, 11, 0), calendar)
        assert not got.is_open
        assert got.reason == "holiday: Municipal Corporation elections in Maharashtra"
        assert got.next_open == ist(2026, 1, 16, 9, 15)

    def test_friday_after_close_skips_a_real_monday_holiday(
        self, calendar: TradingCalendar
    ) -> None:
        # Monday 14 September 2026 is Ganesh Chaturthi.
        got = session_status(Venue.NSE, ist(2026, 9, 11, 16, 0), calendar)
        assert got.next_open == ist(2026, 9, 15, 9, 15)
        # An ordinary weekend reopens on Monday.
        got = session_status(Venue.NSE, ist(2026, 12, 4, 16, 0), calendar)
        assert got.next_open == ist(2026, 12, 7, 9, 15)

    def test_crypto_and_fx_ignore_exchange_holidays(self, calendar: TradingCalendar) -> None:
        assert session_status(Venue.OKX, ist(2026, 11, 10, 11), calendar).is_open
        assert session_status(Venue.FX, ist(2026, 11, 10, 11), calendar).is_open


class TestRealExpiries:
    def test_nifty_monthly_on_a_holiday_tuesday(self, calendar: TradingCalendar) -> None:
        nfo = calendar.venue(Venue.NFO)
        # Tuesday 31 March 2026 (Mahavir Jayanti), last of the month: Monday 30 March.
        assert expiries("weekly:TUE", date(2026, 3, 25), nfo, 2) == [
            Expiry(date(2026, 3, 30), True),
            Expiry(date(2026, 4, 7), False),
        ]
        # Tuesday 24 November 2026 (Guru Nanak Jayanti): Monday 23 November.
        got = monthly_expiries("monthly:TUE", date(2026, 11, 1), nfo, 3)
        assert [e.date for e in got] == [date(2026, 11, 23), date(2026, 12, 29), date(2027, 1, 25)]

    def test_nifty_weekly_on_diwali(self, calendar: TradingCalendar) -> None:
        got = expiries("weekly:TUE", date(2026, 11, 4), calendar.venue(Venue.NFO), 1)
        assert got == [Expiry(date(2026, 11, 9), False)]

    def test_banknifty_january_2027_before_republic_day(self, calendar: TradingCalendar) -> None:
        got = expiries("monthly:TUE", date(2027, 1, 1), calendar.venue(Venue.NFO), 1)
        assert got == [Expiry(date(2027, 1, 25), True)]

    def test_sensex_weekly_moves_before_the_2026_election_holiday(
        self, calendar: TradingCalendar
    ) -> None:
        got = expiries("weekly:THU", date(2026, 1, 9), calendar.venue(Venue.BFO), 2)
        assert [e.date for e in got] == [date(2026, 1, 14), date(2026, 1, 22)]

    def test_sensex_monthly_before_ram_navami(self, calendar: TradingCalendar) -> None:
        got = expiries("monthly:THU", date(2026, 3, 1), calendar.venue(Venue.BFO), 1)
        assert got == [Expiry(date(2026, 3, 25), True)]

    def test_december_2026_nifty_weeklies(self, calendar: TradingCalendar) -> None:
        got = expiries("weekly:TUE", date(2026, 12, 1), calendar.venue(Venue.NFO), 5)
        assert [e.date.day for e in got] == [1, 8, 15, 22, 29]
        assert [e.monthly for e in got] == [False] * 4 + [True]


class TestLoading:
    def test_default_years(self) -> None:
        assert default_years(date(2026, 11, 27)) == range(2023, 2029)

    def test_cached(self) -> None:
        assert load_calendar() is load_calendar()
        assert load_calendar(YEARS) is load_calendar(range(2023, 2028))

    def test_default_covers_this_year(self) -> None:
        this_year = date.today().year
        years = {d.year for d in load_calendar().holidays[Venue.NSE]}
        assert {this_year - 1, this_year, this_year + 1} <= years

    def test_build_from_given_overrides(self) -> None:
        built = build_calendar(range(2026, 2027), [])
        assert built.is_trading_day(Venue.NSE, date(2026, 1, 15))
