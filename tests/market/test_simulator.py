"""The simulated market: determinism, bar consistency, sessions, correlation, stylised facts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepit.domain.instruments import Instrument, Kind, Venue
from tradepit.domain.market import INTERVALS, Candle, Tick, round_to_tick
from tradepit.domain.sessions import IST
from tradepit.market.catalogue import Catalogue
from tradepit.market.simulator import GRID_US, Simulator, default_trading_minutes

SEED = 42
# A Wednesday in the simulated "present", inside the NSE session (11:30 IST).
NOW = datetime(2026, 3, 4, 6, 0, tzinfo=UTC)
NSE_CLOSE = datetime(2026, 3, 4, 15, 30, tzinfo=IST)
SATURDAY = datetime(2026, 3, 7, tzinfo=UTC)
#: 04:05 IST on Wednesday 2026-11-25 (Tuesday 22:35 UTC): NSE is closed.
NIGHT = datetime(2026, 11, 24, 22, 35, tzinfo=UTC)
#: Noon IST on Sunday 2026-11-29.
SUNDAY_NOON = datetime(2026, 11, 29, 6, 30, tzinfo=UTC)
INDIAN = ("NIFTY", "SENSEX", "RELIANCE", "TCS")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    """Return the shipped catalogue."""
    return Catalogue.load()


@pytest.fixture(scope="module")
def sim(catalogue: Catalogue) -> Simulator:
    """Return one simulator shared by the module (its caches make the tests fast)."""
    return Simulator(catalogue, SEED)


@pytest.fixture(scope="module")
def always(catalogue: Catalogue) -> Simulator:
    """Return the simulator of ``market_hours=always``: every venue trades around the clock."""
    return Simulator(catalogue, SEED, around_the_clock=True)


def log_returns(closes: Sequence[Decimal]) -> np.ndarray:
    """Return the log-returns of a price series."""
    return np.diff(np.log(np.array([float(c) for c in closes])))


def autocorrelation(x: np.ndarray, lag: int) -> float:
    """Return the sample autocorrelation of ``x`` at ``lag``."""
    d = x - x.mean()
    return float((d[:-lag] * d[lag:]).mean() / d.var())


def daily_closes(
    sim: Simulator, symbol: str, start: datetime, end: datetime
) -> dict[date, Decimal]:
    """Return the daily closes of ``symbol`` by trading date."""
    return {c.start.date(): c.close for c in sim.candles(symbol, "1d", start, end)}


def minute_of(candles: list[Candle], t: datetime) -> Candle:
    """Return the 1m bar containing ``t``."""
    (bar,) = [c for c in candles if c.start <= t < c.end]
    return bar


class TestRoundToTick:
    def test_rounds_to_nearest_multiple(self) -> None:
        assert round_to_tick(1540.07, Decimal("0.05")) == Decimal("1540.05")
        assert round_to_tick(1540.08, Decimal("0.05")) == Decimal("1540.10")
        assert round_to_tick(1.158004, Decimal("0.00001")) == Decimal("1.15800")

    def test_keeps_the_tick_exponent(self) -> None:
        assert str(round_to_tick(1540.1, Decimal("0.10"))) == "1540.10"

    def test_exact_ties_go_to_the_even_multiple(self) -> None:
        assert round_to_tick(0.125, Decimal("0.25")) == Decimal("0.00")
        assert round_to_tick(0.375, Decimal("0.25")) == Decimal("0.50")
        assert round_to_tick(2.5, Decimal(1)) == 2
        assert round_to_tick(-2.5, Decimal(1)) == -2

    def test_uses_the_float_s_exact_value(self) -> None:
        # 1.005 is stored as 1.00499999999999989..., below the half-way point.
        assert round_to_tick(1.005, Decimal("0.01")) == Decimal("1.00")

    def test_refuses_bad_input(self) -> None:
        with pytest.raises(ValueError, match="tick"):
            round_to_tick(math.nan, Decimal("0.05"))
        with pytest.raises(ValueError, match="tick"):
            round_to_tick(1.0, Decimal(0))

    @given(
        st.floats(min_value=-1e7, max_value=1e7, allow_nan=False),
        st.sampled_from(["0.05", "0.10", "0.1", "0.01", "0.00001", "0.25", "0.03", "5"]),
    )
    def test_result_is_the_nearest_multiple(self, value: float, tick_text: str) -> None:
        tick = Decimal(tick_text)
        result = round_to_tick(value, tick)
        units = Fraction(result) / Fraction(tick)
        assert units.denominator == 1
        assert abs(Fraction(result) - Fraction(value)) <= Fraction(tick) / 2


class TestDeterminism:
    def test_same_seed_same_ticks_and_candles(self, catalogue: Catalogue) -> None:
        a, b = Simulator(catalogue, 7), Simulator(catalogue, 7)
        start = NOW - timedelta(seconds=30)
        assert list(a.ticks(start, NOW)) == list(b.ticks(start, NOW))
        for symbol in ("NIFTY", "RELIANCE", "BTC-USDT", "EURUSD"):
            assert a.candles(symbol, "5m", NOW - timedelta(days=3), NOW) == b.candles(
                symbol, "5m", NOW - timedelta(days=3), NOW
            )

    def test_different_seed_different_path(self, catalogue: Catalogue) -> None:
        a, b = Simulator(catalogue, 1), Simulator(catalogue, 2)
        start = NOW - timedelta(days=5)
        assert a.candles("BTC-USDT", "1h", start, NOW) != b.candles("BTC-USDT", "1h", start, NOW)
        assert a.price_at("NIFTY", NOW) != b.price_at("NIFTY", NOW)

    def test_history_computed_later_equals_history_computed_earlier(
        self, catalogue: Catalogue
    ) -> None:
        earlier = Simulator(catalogue, SEED)
        past_1m = earlier.candles("HDFCBANK", "1m", NOW - timedelta(days=2), NOW)
        past_1d = earlier.candles("ETH-USDT", "1d", NOW - timedelta(days=60), NOW)
        past_ticks = list(earlier.ticks(NOW - timedelta(seconds=5), NOW))

        later = Simulator(catalogue, SEED)
        # Start up years later (the model's horizon grows), then ask about the same past.
        later.price_at("ETH-USDT", datetime(2031, 6, 1, tzinfo=UTC))
        later.candles(
            "HDFCBANK", "1d", datetime(2030, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC)
        )
        assert later.candles("HDFCBANK", "1m", NOW - timedelta(days=2), NOW) == past_1m
        # Every complete daily bar is the same; only the bar still forming at NOW differs.
        assert (
            later.candles("ETH-USDT", "1d", NOW - timedelta(days=60), NOW + timedelta(days=3))[
                : len(past_1d) - 1
            ]
            == past_1d[:-1]
        )
        assert list(later.ticks(NOW - timedelta(seconds=5), NOW)) == past_ticks

    def test_live_ticks_continue_the_history(self, sim: Simulator) -> None:
        start = NOW - timedelta(minutes=3)
        bars = sim.candles("SBIN", "1m", start, NOW)
        ticks = [t for t in sim.ticks(start, NOW) if t.symbol == "SBIN"]
        for bar in bars:
            inside = [t.ltp for t in ticks if bar.start <= t.ts < bar.end]
            assert inside[0] == bar.open
            assert min(inside) >= bar.low
            assert max(inside) <= bar.high
            assert sim.price_at("SBIN", bar.end) == bar.close

    def test_ticks_grid_is_aligned_whatever_the_start(self, sim: Simulator) -> None:
        a = list(sim.ticks(NOW + timedelta(milliseconds=10), NOW + timedelta(seconds=2)))
        b = list(sim.ticks(NOW + timedelta(milliseconds=240), NOW + timedelta(seconds=2)))
        assert a == b
        assert {t.ts.microsecond % 250_000 for t in a} == {0}


class TestQuotes:
    def test_ticks_are_on_the_tick_grid_with_bid_below_ask(self, sim: Simulator) -> None:
        ticks = list(sim.ticks(NOW, NOW + timedelta(seconds=20)))
        assert {t.symbol for t in ticks} == {i.symbol for i in sim.instruments}
        for tick in ticks:
            instrument = sim.instruments[[i.symbol for i in sim.instruments].index(tick.symbol)]
            for price in (tick.ltp, tick.bid, tick.ask):
                assert price > 0
                assert price % instrument.tick_size == 0
            assert tick.ts.tzinfo is not None
            assert tick.oi is None
            if instrument.kind is Kind.INDEX:
                assert tick.bid == tick.ask == tick.ltp
                assert tick.bid_size == tick.ask_size == tick.volume == 0
            else:
                assert tick.bid < tick.ask
                assert tick.bid <= tick.ltp <= tick.ask
                assert tick.bid_size > 0
                assert tick.ask_size > 0
                assert tick.bid_size % instrument.lot_size == 0
                assert tick.volume % instrument.lot_size == 0

    def test_spreads_by_venue(self, sim: Simulator) -> None:
        ticks = list(sim.ticks(NOW, NOW + timedelta(seconds=60)))

        def spreads(symbol: str, tick: str) -> set[int]:
            return {int((t.ask - t.bid) / Decimal(tick)) for t in ticks if t.symbol == symbol}

        assert max(spreads("BTC-USDT", "0.1")) <= 2
        assert 8 <= min(spreads("EURUSD", "0.00001")) <= max(spreads("EURUSD", "0.00001")) <= 25
        assert max(spreads("RELIANCE", "0.10")) <= 4
        # FX prints the bid, as MT5 charts do.
        assert all(t.ltp == t.bid for t in ticks if t.symbol == "EURUSD")

    def test_volume_is_cumulative_for_the_day(self, sim: Simulator) -> None:
        session_open = datetime(2026, 3, 4, 9, 15, tzinfo=IST)
        times = [session_open + timedelta(minutes=m) for m in range(0, 376, 5)]
        volumes = [sim.tick_at("RELIANCE", t).volume for t in times]
        assert volumes == sorted(volumes)
        assert volumes[0] == 0
        day = sim.candles(
            "RELIANCE", "1d", session_open - timedelta(hours=4), session_open + timedelta(hours=12)
        )
        assert volumes[-1] == day[0].volume > 0
        # The next session starts from zero again.
        assert (
            sim.tick_at("RELIANCE", session_open + timedelta(days=1, minutes=1)).volume
            < volumes[-1]
        )

    def test_tick_batch_matches_tick_at_on_the_grid(self, sim: Simulator) -> None:
        times = [NOW + timedelta(microseconds=GRID_US * k) for k in range(50)]
        batch = sim.tick_batch(["ITC", "SOL-USDT", "XAUUSD"], times)
        assert len(batch) == 150
        for tick in batch.to_ticks()[::7]:
            assert sim.tick_at(tick.symbol, tick.ts) == tick
            assert sim.price_at(tick.symbol, tick.ts) == tick.ltp

    def test_a_quote_holds_from_one_grid_point_to_the_next(self, sim: Simulator) -> None:
        # The quote at any instant is the feed's last tick: what a user saw is what fills.
        grid = [NOW + timedelta(microseconds=GRID_US * k) for k in range(20)]
        ticks = sim.tick_batch(["BTC-USDT"], grid).to_ticks()
        for tick in ticks:
            for later in (1, 137_000, GRID_US - 1):
                assert sim.tick_at("BTC-USDT", tick.ts + timedelta(microseconds=later)) == tick
        assert len({(t.bid, t.ask) for t in ticks}) > 1  # and it moves from point to point

    def test_tick_is_a_frozen_value(self, sim: Simulator) -> None:
        tick = sim.tick_at("BTC-USDT", NOW)
        assert isinstance(tick, Tick)
        with pytest.raises(AttributeError):
            tick.ltp = Decimal(1)  # type: ignore[misc]


class TestCandles:
    @pytest.mark.parametrize("symbol", ["NIFTY", "RELIANCE", "BTC-USDT", "EURUSD", "XAUUSD"])
    @pytest.mark.parametrize("interval", list(INTERVALS))
    def test_ohlc_consistency(self, sim: Simulator, symbol: str, interval: str) -> None:
        span = timedelta(days=40) if interval == "1d" else timedelta(days=2)
        bars = sim.candles(symbol, interval, NOW - span, NOW)
        assert bars
        instrument = sim.instruments[[i.symbol for i in sim.instruments].index(symbol)]
        for bar in bars:
            assert bar.interval == interval
            assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
            assert bar.volume >= 0
            for price in (bar.open, bar.high, bar.low, bar.close):
                assert price % instrument.tick_size == 0
        starts = [b.start for b in bars]
        assert starts == sorted(set(starts))
        assert NOW - span <= starts[0]
        assert starts[-1] < NOW

    @pytest.mark.parametrize("symbol", ["BANKNIFTY", "AXISBANK", "ETH-USDT", "GBPUSD"])
    @pytest.mark.parametrize("interval", ["5m", "15m", "1h"])
    def test_bar_is_the_aggregation_of_its_minutes(
        self, sim: Simulator, symbol: str, interval: str
    ) -> None:
        start, end = NOW - timedelta(days=1, hours=12), NOW - timedelta(hours=1)
        minutes = sim.candles(symbol, "1m", start, end)
        bars = sim.candles(symbol, interval, start, end)
        assert bars
        for bar in bars:
            inside = [m for m in minutes if bar.start <= m.start < bar.end]
            assert bar.open == inside[0].open
            assert bar.close == inside[-1].close
            assert bar.high == max(m.high for m in inside)
            assert bar.low == min(m.low for m in inside)
            assert bar.volume == sum((m.volume for m in inside), Decimal(0))

    @pytest.mark.parametrize("symbol", ["NIFTY", "TCS", "SOL-USDT", "EURUSD"])
    def test_daily_bar_is_the_day_of_minutes(self, sim: Simulator, symbol: str) -> None:
        days = sim.candles(
            symbol, "1d", datetime(2026, 2, 24, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC)
        )
        assert len(days) >= 5
        previous_close = None
        for day in days:
            minutes = sim.candles(
                symbol, "1m", day.start - timedelta(hours=3), day.end + timedelta(hours=3)
            )
            minutes = [m for m in minutes if m.start.date() == day.start.date()]
            assert day.open == minutes[0].open
            assert day.close == minutes[-1].close
            assert day.high == max(m.high for m in minutes)
            assert day.low == min(m.low for m in minutes)
            assert day.volume == sum((m.volume for m in minutes), Decimal(0))
            if previous_close is not None:
                assert day.open == previous_close  # no overnight gap
            previous_close = day.close

    def test_minute_close_is_the_price_at_the_minute_end(self, sim: Simulator) -> None:
        minutes = sim.candles("LT", "1m", NOW - timedelta(hours=1), NOW)
        for bar in minutes[::5]:
            assert sim.price_at("LT", bar.start) == bar.open
            assert sim.price_at("LT", bar.end) == bar.close
            inside = [sim.price_at("LT", bar.start + timedelta(seconds=s / 4)) for s in range(240)]
            assert bar.low <= min(inside)
            assert max(inside) <= bar.high

    def test_nse_hourly_bars_start_at_the_session_open(self, sim: Simulator) -> None:
        bars = sim.candles("NIFTY", "1h", NSE_CLOSE - timedelta(hours=8), NSE_CLOSE)
        local = [b.start.astimezone(IST).strftime("%H:%M") for b in bars]
        assert local == ["09:15", "10:15", "11:15", "12:15", "13:15", "14:15", "15:15"]
        assert len(sim.candles("NIFTY", "1m", NSE_CLOSE - timedelta(hours=8), NSE_CLOSE)) == 375

    def test_forming_bar_is_cut_at_end(self, sim: Simulator) -> None:
        end = NOW + timedelta(seconds=25)
        forming = sim.candles("BTC-USDT", "1m", NOW, end)
        assert len(forming) == 1
        assert forming[0].close == sim.price_at("BTC-USDT", end)
        complete = sim.candles("BTC-USDT", "1m", NOW, NOW + timedelta(minutes=1))[0]
        assert forming[0].open == complete.open
        assert complete.low <= forming[0].low <= forming[0].high <= complete.high
        assert forming[0].volume <= complete.volume

    def test_before_the_anchor_the_price_is_the_catalogue_price(self, sim: Simulator) -> None:
        past = datetime(2019, 6, 3, 6, 0, tzinfo=UTC)
        for instrument in sim.instruments:
            assert sim.price_at(instrument.symbol, past) == instrument.price
        assert sim.candles("NIFTY", "1d", past, datetime(2019, 12, 31, tzinfo=UTC)) == []

    def test_unknown_interval_is_refused(self, sim: Simulator) -> None:
        with pytest.raises(ValueError, match="interval"):
            sim.candles("NIFTY", "2m", NOW - timedelta(days=1), NOW)


class TestSessions:
    def test_nse_price_is_frozen_after_the_close(self, sim: Simulator) -> None:
        close = sim.price_at("RELIANCE", NSE_CLOSE)
        last_minute = sim.candles("RELIANCE", "1m", NSE_CLOSE - timedelta(minutes=1), NSE_CLOSE)
        assert last_minute[0].close == close
        evening = datetime(2026, 3, 4, 20, 0, tzinfo=IST)
        assert sim.price_at("RELIANCE", evening) == close
        assert sim.price_at("NIFTY", evening) == sim.price_at("NIFTY", NSE_CLOSE)
        assert not sim.is_trading("RELIANCE", evening)
        assert sim.is_trading("RELIANCE", NSE_CLOSE - timedelta(minutes=1))
        # The weekend too, and the next session opens at that close.
        assert sim.price_at("RELIANCE", SATURDAY + timedelta(hours=10)) == sim.price_at(
            "RELIANCE", datetime(2026, 3, 6, 15, 30, tzinfo=IST)
        )
        monday_open = datetime(2026, 3, 9, 9, 15, tzinfo=IST)
        assert sim.price_at("RELIANCE", monday_open) == sim.price_at("RELIANCE", SATURDAY)

    def test_btc_moves_on_saturday_while_fx_and_nse_rest(self, sim: Simulator) -> None:
        hours = [SATURDAY + timedelta(hours=h) for h in range(0, 24, 3)]
        assert len({sim.price_at("BTC-USDT", t) for t in hours}) > 4
        assert len({sim.price_at("EURUSD", t) for t in hours}) == 1
        assert len({sim.price_at("NIFTY", t) for t in hours}) == 1
        weekend = list(
            sim.ticks(SATURDAY + timedelta(hours=12), SATURDAY + timedelta(hours=12, seconds=2))
        )
        assert {t.symbol for t in weekend} == {
            i.symbol for i in sim.instruments if i.venue is Venue.OKX
        }

    def test_fx_week_runs_sunday_22_to_friday_22_utc(self, sim: Simulator) -> None:
        sunday = datetime(2026, 3, 8, tzinfo=UTC)
        assert not sim.is_trading("EURUSD", sunday + timedelta(hours=21, minutes=59))
        assert sim.is_trading("EURUSD", sunday + timedelta(hours=22))
        friday = datetime(2026, 3, 6, tzinfo=UTC)
        assert sim.is_trading("EURUSD", friday + timedelta(hours=21, minutes=59))
        assert not sim.is_trading("EURUSD", friday + timedelta(hours=22))

    def test_default_calendar(self, catalogue: Catalogue) -> None:
        nifty = catalogue.get("NIFTY")
        ((open_, close),) = default_trading_minutes(nifty, date(2026, 3, 4))
        assert open_ == datetime(2026, 3, 4, 9, 15, tzinfo=IST)
        assert close == datetime(2026, 3, 4, 15, 30, tzinfo=IST)
        assert default_trading_minutes(nifty, date(2026, 3, 7)) == ()
        assert len(default_trading_minutes(catalogue.get("BTC-USDT"), date(2026, 3, 7))) == 1

    def test_custom_calendar_with_a_holiday_and_a_lunch_break(self, catalogue: Catalogue) -> None:
        holiday = date(2026, 3, 3)

        def calendar(instrument: Instrument, day: date) -> Sequence[tuple[datetime, datetime]]:
            if instrument.venue is not Venue.NSE:
                return default_trading_minutes(instrument, day)
            if day == holiday or day.weekday() >= 5:
                return ()
            return (
                (
                    datetime.combine(day, datetime.min.time(), IST).replace(hour=9, minute=15),
                    datetime.combine(day, datetime.min.time(), IST).replace(hour=12),
                ),
                (
                    datetime.combine(day, datetime.min.time(), IST).replace(hour=13),
                    datetime.combine(day, datetime.min.time(), IST).replace(hour=15, minute=30),
                ),
            )

        sim = Simulator(catalogue, SEED, calendar)
        days = sim.candles(
            "INFY", "1d", datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 5, tzinfo=UTC)
        )
        assert [d.start.date() for d in days] == [date(2026, 3, 2), date(2026, 3, 4)]
        lunch = datetime(2026, 3, 4, 12, 30, tzinfo=IST)
        assert not sim.is_trading("INFY", lunch)
        assert sim.price_at("INFY", lunch) == sim.price_at("INFY", lunch.replace(hour=12, minute=0))
        minutes = sim.candles(
            "INFY", "1m", datetime(2026, 3, 4, tzinfo=UTC), datetime(2026, 3, 5, tzinfo=UTC)
        )
        assert len(minutes) == 165 + 150
        assert days[1].close == minutes[-1].close


class TestRealism:
    def test_daily_correlation_follows_the_index(self, sim: Simulator) -> None:
        start, end = datetime(2025, 3, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)

        def correlation(a: str, b: str) -> float:
            ca, cb = daily_closes(sim, a, start, end), daily_closes(sim, b, start, end)
            common = sorted(set(ca) & set(cb))
            assert len(common) > 200
            ra = log_returns([ca[d] for d in common])
            rb = log_returns([cb[d] for d in common])
            return float(np.corrcoef(ra, rb)[0, 1])

        assert correlation("NIFTY", "HDFCBANK") > 0.4
        assert correlation("NIFTY", "BANKNIFTY") > 0.4
        assert correlation("BTC-USDT", "ETH-USDT") > 0.4
        assert abs(correlation("NIFTY", "EURUSD")) < 0.25
        assert abs(correlation("BTC-USDT", "XAUUSD")) < 0.25

    def test_annualised_volatility_matches_the_catalogue(
        self, sim: Simulator, catalogue: Catalogue
    ) -> None:
        start, end = datetime(2020, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
        for symbol in ("NIFTY", "HDFCBANK", "BTC-USDT", "SOL-USDT"):
            closes = daily_closes(sim, symbol, start, end)
            returns = log_returns(list(closes.values()))
            annualised = float(returns.std()) * math.sqrt(len(returns) / 6)
            assert annualised == pytest.approx(catalogue.get(symbol).volatility, rel=0.25)

    def test_minute_returns_have_fat_tails_and_volatility_clusters(self, sim: Simulator) -> None:
        bars = sim.candles(
            "BTC-USDT", "1m", datetime(2025, 9, 1, tzinfo=UTC), datetime(2025, 10, 31, tzinfo=UTC)
        )
        assert len(bars) == 60 * 1440
        returns = log_returns([b.close for b in bars])
        kurtosis = float(((returns - returns.mean()) ** 4).mean() / returns.var() ** 2)
        assert kurtosis > 3
        for lag in range(1, 11):
            assert abs(autocorrelation(returns, lag)) < 0.05
        absolute = np.abs(returns)
        assert np.mean([autocorrelation(absolute, lag) for lag in range(1, 11)]) > 0.05

    def test_intraday_volatility_is_u_shaped_on_nse(self, sim: Simulator) -> None:
        bars = sim.candles(
            "NIFTY", "1m", datetime(2025, 9, 1, tzinfo=UTC), datetime(2025, 10, 31, tzinfo=UTC)
        )
        by_minute: dict[int, list[float]] = {}
        for bar in bars:
            minute = (bar.start.hour * 60 + bar.start.minute) - (3 * 60 + 45)
            by_minute.setdefault(minute, []).append(math.log(bar.close / bar.open) ** 2)
        variance = [float(np.mean(by_minute[m])) for m in range(375)]
        midday = float(np.mean(variance[150:225]))
        assert np.mean(variance[:15]) > 2 * midday
        assert np.mean(variance[-15:]) > 1.2 * midday

    @pytest.mark.parametrize(
        "when",
        [
            datetime(2025, 12, 1, tzinfo=UTC),
            NOW,
            datetime(2026, 11, 20, tzinfo=UTC),
            datetime(2027, 6, 1, tzinfo=UTC),
        ],
    )
    def test_prices_stay_in_a_plausible_band(self, sim: Simulator, when: datetime) -> None:
        for instrument in sim.instruments:
            ratio = sim.price_at(instrument.symbol, when) / instrument.price
            assert Decimal("0.5") < ratio < 2, instrument.symbol


class TestExchangeHoursStay:
    def test_the_exchange_market_is_the_one_it_was(self, sim: Simulator) -> None:
        # Pinned before market_hours=always learnt to trade: the default market never changes.
        week = sim.candles(
            "NIFTY", "1d", datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 28, tzinfo=UTC)
        )
        assert [str(c.close) for c in week] == [
            "26737.00",
            "26879.60",
            "26817.15",
            "26854.30",
            "26807.30",
        ]
        (bar,) = sim.candles(
            "RELIANCE",
            "1m",
            datetime(2026, 11, 26, 4, 30, tzinfo=UTC),
            datetime(2026, 11, 26, 4, 31, tzinfo=UTC),
        )
        assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
            Decimal("1399.90"),
            Decimal("1401.20"),
            Decimal("1399.80"),
            Decimal("1400.80"),
            Decimal("43000"),
        )
        assert sim.price_at("EURUSD", datetime(2026, 11, 29, 22, 30, tzinfo=UTC)) == Decimal(
            "1.21936"
        )
        assert sim.price_at("XAUUSD", datetime(2026, 11, 25, 12, tzinfo=UTC)) == Decimal("3918.58")
        assert sim.price_at("BTC-USDT", NIGHT) == Decimal("80758.9")

    @pytest.mark.parametrize("at", [NIGHT, SUNDAY_NOON])
    def test_nse_and_bse_send_no_ticks_outside_their_hours(
        self, sim: Simulator, at: datetime
    ) -> None:
        venues = {i.symbol: i.venue for i in sim.instruments}
        ticks = list(sim.ticks(at, at + timedelta(seconds=10)))
        open_now = {Venue.OKX, Venue.FX} if at == NIGHT else {Venue.OKX}
        assert {venues[t.symbol] for t in ticks} == open_now
        for symbol in INDIAN:
            assert not sim.is_trading(symbol, at)
            assert sim.candles(symbol, "1m", at - timedelta(hours=1), at) == []


class TestAlwaysOpen:
    """``market_hours=always``: every venue trades around the clock, on every day."""

    def test_every_venue_trades_the_whole_utc_day_every_day(self, always: Simulator) -> None:
        saturday = datetime(2026, 11, 28, tzinfo=UTC)
        for symbol in (*INDIAN, "EURUSD", "BTC-USDT"):
            for hour in range(0, 24 * 3, 5):  # Saturday, Sunday and Monday, day and night
                assert always.is_trading(symbol, saturday + timedelta(hours=hour)), symbol
            minutes = always.candles(symbol, "1m", saturday, saturday + timedelta(days=2))
            assert len(minutes) == 2 * 1440

    def test_the_trading_days_closes_are_the_exchange_markets(
        self, sim: Simulator, always: Simulator
    ) -> None:
        # The daily model is the one of the real hours: switching modes keeps every trading
        # day's close, so the two markets meet again at 00:00 UTC after each trading day.
        start, end = datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 11, 28, tzinfo=UTC)
        for symbol in ("NIFTY", "RELIANCE", "SENSEX", "EURUSD", "XAUUSD"):
            real = daily_closes(sim, symbol, start, end)
            round_the_clock = daily_closes(always, symbol, start, end)
            assert len(round_the_clock) == (end - start).days
            assert len(real) < len(round_the_clock)
            assert {day: round_the_clock[day] for day in real} == real, symbol
            for day in list(real)[-5:]:
                midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
                assert always.price_at(symbol, midnight) == sim.price_at(symbol, midnight)
        # At 04:05 IST the two are a part of a day's move apart.
        for symbol in INDIAN:
            ratio = always.price_at(symbol, NIGHT) / sim.price_at(symbol, NIGHT)
            assert Decimal("0.95") < ratio < Decimal("1.05"), symbol

    @pytest.mark.parametrize("at", [NIGHT, SUNDAY_NOON])
    def test_nse_and_bse_tick_at_any_hour(self, always: Simulator, at: datetime) -> None:
        ticks = list(always.ticks(at, at + timedelta(seconds=60)))
        assert {t.symbol for t in ticks} == {i.symbol for i in always.instruments}
        for symbol in INDIAN:
            mine = [t for t in ticks if t.symbol == symbol]
            assert len(mine) == 240  # one every 250 ms
            assert len({t.ltp for t in mine}) >= 3, symbol
            assert always.is_trading(symbol, at)
        stock = [t for t in ticks if t.symbol == "RELIANCE"]
        assert all(t.bid < t.ask and t.bid_size > 0 for t in stock)
        later = always.tick_at("RELIANCE", at + timedelta(minutes=5))
        assert later.volume > stock[0].volume  # it trades: the day's volume grows

    @pytest.mark.parametrize("interval", list(INTERVALS))
    def test_bars_of_every_interval_form_at_night(self, always: Simulator, interval: str) -> None:
        end = NIGHT + timedelta(seconds=30)
        bars = always.candles("RELIANCE", interval, end - timedelta(days=3), end)
        forming = bars[-1]
        assert forming.start <= NIGHT < forming.end
        assert forming.close == always.price_at("RELIANCE", end)
        for bar in bars:
            assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
        if interval == "1m":
            assert forming.start == datetime(2026, 11, 24, 22, 35, tzinfo=UTC)
            # Three whole days of minutes: nothing is skipped at night or on the holiday.
            assert len(bars) == 3 * 1440

    def test_live_ticks_continue_the_minute_bars(self, always: Simulator) -> None:
        start = NIGHT - timedelta(minutes=3)
        bars = always.candles("SBIN", "1m", start, NIGHT)
        ticks = [t for t in always.ticks(start, NIGHT) if t.symbol == "SBIN"]
        assert len(bars) == 3
        for bar in bars:
            inside = [t.ltp for t in ticks if bar.start <= t.ts < bar.end]
            assert inside[0] == bar.open
            assert bar.low <= min(inside) <= max(inside) <= bar.high
            assert always.price_at("SBIN", bar.end) == bar.close

    def test_daily_bars_are_utc_days_without_gaps(self, always: Simulator) -> None:
        days = always.candles(
            "NIFTY", "1d", datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)
        )
        assert [d.start.date() for d in days] == [
            date(2026, 11, 20) + timedelta(days=k) for k in range(10)
        ]
        for before, after in pairwise(days):
            assert after.open == before.close

    def test_same_seed_same_market_and_history_never_changes(self, catalogue: Catalogue) -> None:
        earlier = Simulator(catalogue, SEED, around_the_clock=True)
        past_1m = earlier.candles("RELIANCE", "1m", NIGHT - timedelta(days=2), NIGHT)
        past_ticks = list(earlier.ticks(NIGHT - timedelta(seconds=5), NIGHT))
        later = Simulator(catalogue, SEED, around_the_clock=True)
        later.price_at("NIFTY", datetime(2031, 6, 1, tzinfo=UTC))  # the horizon grows
        assert later.candles("RELIANCE", "1m", NIGHT - timedelta(days=2), NIGHT) == past_1m
        assert list(later.ticks(NIGHT - timedelta(seconds=5), NIGHT)) == past_ticks
        other = Simulator(catalogue, SEED + 1, around_the_clock=True)
        assert other.price_at("RELIANCE", NIGHT) != earlier.price_at("RELIANCE", NIGHT)

    def test_crypto_is_the_same_market_in_both_modes(
        self, sim: Simulator, always: Simulator
    ) -> None:
        for symbol in ("BTC-USDT", "ETH-USDT"):
            start = NIGHT - timedelta(days=2)
            assert always.candles(symbol, "5m", start, NIGHT) == sim.candles(
                symbol, "5m", start, NIGHT
            )
            assert always.tick_at(symbol, NIGHT) == sim.tick_at(symbol, NIGHT)

    def test_the_session_profile_is_mapped_onto_the_day_from_the_open(
        self, always: Simulator
    ) -> None:
        # The U-shape of NSE's session runs over 24 hours from 09:15 IST: the open's burst at
        # 09:15 IST, the quiet middle twelve hours later, the rise of the close before 09:15.
        bars = always.candles(
            "NIFTY", "1m", datetime(2025, 10, 1, tzinfo=UTC), datetime(2025, 11, 30, tzinfo=UTC)
        )
        by_minute = np.zeros(1440)
        for bar in bars:
            since_open = (bar.start.hour * 60 + bar.start.minute - (3 * 60 + 45)) % 1440
            by_minute[since_open] += math.log(bar.close / bar.open) ** 2
        middle = float(np.mean(by_minute[660:780]))
        assert np.mean(by_minute[:40]) > 2 * middle
        assert np.mean(by_minute[-40:]) > 1.2 * middle
        volumes = [b.volume for b in bars if b.start.date() == date(2025, 11, 3)]
        assert len(volumes) == 1440 and all(v >= 0 for v in volumes)

    def test_volatility_and_stylised_facts_hold_around_the_clock(
        self, always: Simulator, catalogue: Catalogue
    ) -> None:
        start, end = datetime(2023, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
        closes = daily_closes(always, "NIFTY", start, end)
        assert len(closes) == 365 * 3 + 1  # every calendar day trades
        returns = log_returns(list(closes.values()))
        annualised = float(returns.std()) * math.sqrt(365)
        assert annualised == pytest.approx(catalogue.get("NIFTY").volatility, rel=0.25)
        minutes = always.candles(
            "RELIANCE", "1m", datetime(2025, 9, 1, tzinfo=UTC), datetime(2025, 9, 21, tzinfo=UTC)
        )
        r = log_returns([b.close for b in minutes])
        assert float(((r - r.mean()) ** 4).mean() / r.var() ** 2) > 3
        assert abs(autocorrelation(r, 1)) < 0.05
