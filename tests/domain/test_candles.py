"""Candles built from ticks: OHLC within a bar, closing on the next bar, volume, alignment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepit.domain.candles import CandleBuilder, bar_start
from tradepit.domain.market import Candle, Tick

IST = ZoneInfo("Asia/Kolkata")
NSE_ORIGIN = timedelta(hours=3, minutes=45)
#: 09:15 IST on a Wednesday: the NSE open.
OPEN = datetime(2026, 3, 4, 3, 45, tzinfo=UTC)


def tick(ts: datetime, ltp: str | Decimal, volume: str | int = 0, symbol: str = "RELIANCE") -> Tick:
    """Return a tick of ``symbol`` at ``ts`` with the day's cumulative ``volume``."""
    price = Decimal(ltp)
    return Tick(symbol, ts, price, price, price, Decimal(1), Decimal(1), Decimal(volume))


def feed(builder: CandleBuilder, ticks: list[Tick]) -> list[Candle]:
    """Add ``ticks`` in order; return the bars they closed."""
    return [bar for t in ticks if (bar := builder.add(t)) is not None]


class TestOneBar:
    def test_ticks_in_one_bar_update_ohlc(self) -> None:
        builder = CandleBuilder("RELIANCE", "1m")
        closed = feed(
            builder,
            [
                tick(OPEN, "1540", 100),
                tick(OPEN + timedelta(seconds=10), "1545.5", 150),
                tick(OPEN + timedelta(seconds=20), "1538", 160),
                tick(OPEN + timedelta(seconds=59), "1541", 200),
            ],
        )
        assert closed == []
        assert builder.forming() == Candle(
            "RELIANCE",
            "1m",
            OPEN,
            Decimal("1540"),
            Decimal("1545.5"),
            Decimal("1538"),
            Decimal("1541"),
            Decimal(100),
        )

    def test_no_bar_before_the_first_tick(self) -> None:
        assert CandleBuilder("RELIANCE", "5m").forming() is None

    def test_a_tick_of_another_symbol_is_refused(self) -> None:
        builder = CandleBuilder("RELIANCE", "1m")
        with pytest.raises(ValueError, match="TCS"):
            builder.add(tick(OPEN, "3900", symbol="TCS"))

    def test_unknown_interval_is_refused(self) -> None:
        with pytest.raises(ValueError, match="2m"):
            CandleBuilder("RELIANCE", "2m")


class TestClosing:
    def test_first_tick_of_the_next_bar_returns_the_closed_bar(self) -> None:
        builder = CandleBuilder("RELIANCE", "1m")
        assert builder.add(tick(OPEN, "1540", 10)) is None
        assert builder.add(tick(OPEN + timedelta(seconds=30), "1542", 20)) is None
        closed = builder.add(tick(OPEN + timedelta(minutes=1), "1543", 25))
        assert closed is not None
        assert (closed.start, closed.open, closed.high, closed.low, closed.close) == (
            OPEN,
            Decimal("1540"),
            Decimal("1542"),
            Decimal("1540"),
            Decimal("1542"),
        )
        assert closed.end == OPEN + timedelta(minutes=1)
        forming = builder.forming()
        assert forming is not None
        assert forming.start == OPEN + timedelta(minutes=1)
        assert forming.open == forming.close == Decimal("1543")

    def test_a_gap_closes_the_last_bar_and_skips_empty_ones(self) -> None:
        builder = CandleBuilder("RELIANCE", "1m")
        builder.add(tick(OPEN, "1540"))
        closed = builder.add(tick(OPEN + timedelta(minutes=7, seconds=5), "1550"))
        assert closed is not None and closed.start == OPEN
        forming = builder.forming()
        assert forming is not None and forming.start == OPEN + timedelta(minutes=7)

    def test_late_tick_for_an_earlier_bar_is_ignored(self) -> None:
        builder = CandleBuilder("RELIANCE", "1m")
        builder.add(tick(OPEN, "1540", 100))
        builder.add(tick(OPEN + timedelta(minutes=1), "1541", 200))
        late = tick(OPEN + timedelta(seconds=30), "9999", 150)
        assert builder.add(late) is None
        builder.add(tick(OPEN + timedelta(minutes=1, seconds=30), "1542", 250))
        forming = builder.forming()
        assert forming is not None
        assert forming.start == OPEN + timedelta(minutes=1)
        assert forming.high == Decimal("1542") and forming.low == Decimal("1541")
        # 100 traded by the first tick of the bar, 50 since: the late tick adds nothing.
        assert forming.volume == Decimal(150)


class TestVolume:
    def test_volume_is_the_growth_of_the_cumulative_volume(self) -> None:
        builder = CandleBuilder("RELIANCE", "1m")
        feed(
            builder,
            [
                tick(OPEN, "1540", 1000),
                tick(OPEN + timedelta(seconds=20), "1541", 1300),
                tick(OPEN + timedelta(seconds=40), "1541", 1450),
            ],
        )
        closed = builder.add(tick(OPEN + timedelta(minutes=1), "1542", 1500))
        assert closed is not None and closed.volume == Decimal(450)
        forming = builder.forming()
        assert forming is not None and forming.volume == Decimal(50)

    def test_a_drop_in_volume_starts_a_new_session(self) -> None:
        builder = CandleBuilder("RELIANCE", "1d")
        yesterday = OPEN - timedelta(days=1)
        feed(
            builder,
            [tick(yesterday, "1530", 5000), tick(yesterday + timedelta(hours=6), "1535", 9000)],
        )
        closed = builder.add(tick(OPEN, "1540", 300))
        assert closed is not None and closed.volume == Decimal(4000)
        builder.add(tick(OPEN + timedelta(minutes=5), "1541", 700))
        forming = builder.forming()
        # The new session counts from zero: 300 at its first tick, 400 since.
        assert forming is not None and forming.volume == Decimal(700)


class TestAlignment:
    @pytest.mark.parametrize(
        ("at", "start"),
        [
            (datetime(2026, 3, 4, 9, 15, tzinfo=IST), datetime(2026, 3, 4, 9, 15, tzinfo=IST)),
            (datetime(2026, 3, 4, 10, 0, tzinfo=IST), datetime(2026, 3, 4, 9, 15, tzinfo=IST)),
            (datetime(2026, 3, 4, 10, 14, 59, tzinfo=IST), datetime(2026, 3, 4, 9, 15, tzinfo=IST)),
            (datetime(2026, 3, 4, 10, 15, tzinfo=IST), datetime(2026, 3, 4, 10, 15, tzinfo=IST)),
            (datetime(2026, 3, 4, 15, 29, tzinfo=IST), datetime(2026, 3, 4, 15, 15, tzinfo=IST)),
        ],
    )
    def test_hourly_nse_bars_start_at_quarter_past(self, at: datetime, start: datetime) -> None:
        assert bar_start(at, "1h", NSE_ORIGIN) == start
        builder = CandleBuilder("RELIANCE", "1h", NSE_ORIGIN)
        builder.add(tick(at.astimezone(UTC), "1540"))
        forming = builder.forming()
        assert forming is not None and forming.start == start

    def test_hourly_bars_without_origin_start_on_the_hour(self) -> None:
        at = datetime(2026, 3, 4, 4, 30, tzinfo=UTC)
        assert bar_start(at, "1h") == datetime(2026, 3, 4, 4, 0, tzinfo=UTC)

    @pytest.mark.parametrize("origin", [timedelta(0), NSE_ORIGIN])
    def test_daily_bars_start_at_midnight_utc(self, origin: timedelta) -> None:
        at = datetime(2026, 3, 4, 9, 59, tzinfo=UTC)
        assert bar_start(at, "1d", origin) == datetime(2026, 3, 4, tzinfo=UTC)

    def test_daily_bar_of_a_tick_stamped_in_ist_is_its_utc_date(self) -> None:
        # 02:00 IST on the 5th is 20:30 UTC on the 4th: the bar must start before the tick.
        at = datetime(2026, 3, 5, 2, 0, tzinfo=IST)
        start = bar_start(at, "1d")
        assert start == datetime(2026, 3, 4, tzinfo=UTC)
        assert start <= at

    @pytest.mark.parametrize(("interval", "minutes"), [("5m", 5), ("15m", 15)])
    def test_intraday_nse_bars_align_to_the_open(self, interval: str, minutes: int) -> None:
        at = OPEN + timedelta(minutes=minutes, seconds=1)
        assert bar_start(at, interval, NSE_ORIGIN) == OPEN + timedelta(minutes=minutes)


_stream = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3 * 3600),  # seconds after the open
        st.integers(min_value=1, max_value=500_000),  # price in paise
        st.integers(min_value=0, max_value=10_000),  # volume traded since the last tick
    ),
    min_size=1,
    max_size=200,
)


class TestProperties:
    @given(stream=_stream, first_volume=st.integers(min_value=0, max_value=10**6))
    def test_bars_bound_their_prices_and_conserve_volume(
        self, stream: list[tuple[int, int, int]], first_volume: int
    ) -> None:
        cumulative = first_volume
        ticks: list[Tick] = []
        for offset, paise, traded in sorted(stream, key=lambda row: row[0]):
            cumulative += traded if ticks else 0
            ticks.append(tick(OPEN + timedelta(seconds=offset), Decimal(paise) / 100, cumulative))
        builder = CandleBuilder("RELIANCE", "1m", NSE_ORIGIN)
        closed = feed(builder, ticks)
        forming = builder.forming()
        assert forming is not None
        bars = [*closed, forming]
        for bar in bars:
            assert bar.low <= min(bar.open, bar.close)
            assert max(bar.open, bar.close) <= bar.high
            assert bar.volume >= 0
        starts = [bar.start for bar in bars]
        assert starts == sorted(set(starts))
        assert sum(bar.volume for bar in bars) == ticks[-1].volume - ticks[0].volume
