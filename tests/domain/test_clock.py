"""Clocks: real, simulated (faster than the wall) and manual."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepit.domain.clock import Clock, ManualClock, SimulatedClock, SystemClock, make_clock

START = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)


class FakeWall:
    """A wall clock (seconds since the epoch) that moves only when told to."""

    def __init__(self, at: float = 1_700_000_000.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at

    def tick(self, seconds: float) -> None:
        """Move the wall forward."""
        self.at += seconds


class TestSimulatedClock:
    def test_starts_at_start(self) -> None:
        clock = SimulatedClock(speed=60, start=START, wall=FakeWall())
        assert clock.now() == START

    @pytest.mark.parametrize("speed", [1, 2, 60, 0.5, 10_000])
    def test_runs_speed_times_faster_than_the_wall(self, speed: float) -> None:
        wall = FakeWall()
        clock = SimulatedClock(speed=speed, start=START, wall=wall)
        wall.tick(5)
        assert clock.now() == START + timedelta(seconds=5 * speed)
        wall.tick(5)
        assert clock.now() == START + timedelta(seconds=10 * speed)

    def test_five_minute_bet_resolves_in_five_wall_seconds_at_60x(self) -> None:
        wall = FakeWall()
        clock = SimulatedClock(speed=60, start=START, wall=wall)
        wall.tick(5)
        assert clock.now() - START == timedelta(minutes=5)

    @given(
        st.floats(min_value=0.01, max_value=10_000),
        st.lists(st.floats(min_value=0, max_value=3600), max_size=20),
    )
    def test_simulated_elapsed_is_wall_elapsed_times_speed(
        self, speed: float, ticks: list[float]
    ) -> None:
        wall = FakeWall()
        clock = SimulatedClock(speed=speed, start=START, wall=wall)
        previous = clock.now()
        for tick in ticks:
            wall.tick(tick)
            now = clock.now()
            assert now >= previous
            previous = now
        elapsed = (clock.now() - START).total_seconds()
        # The fake wall holds epoch seconds (~1.7e9) in a float: each tick may round by half
        # an ulp (~1.2e-7 s), which the speed then multiplies.
        rounding = (len(ticks) + 1) * 2.4e-7 * speed
        assert elapsed == pytest.approx(sum(ticks) * speed, rel=1e-9, abs=1e-3 + rounding)

    def test_without_start_begins_at_the_wall_time(self) -> None:
        wall = FakeWall(1_700_000_000.0)
        clock = SimulatedClock(speed=10, wall=wall)
        assert clock.now() == datetime.fromtimestamp(1_700_000_000.0, UTC)

    def test_now_is_aware_utc(self) -> None:
        clock = SimulatedClock(speed=3, wall=FakeWall())
        assert clock.now().tzinfo is not None
        assert clock.now().utcoffset() == timedelta(0)

    def test_reports_its_speed(self) -> None:
        assert SimulatedClock(speed=42, wall=FakeWall()).speed == 42

    @pytest.mark.parametrize("speed", [0, -1, -0.5])
    def test_refuses_non_positive_speed(self, speed: float) -> None:
        with pytest.raises(ValueError, match="positive"):
            SimulatedClock(speed=speed, wall=FakeWall())

    def test_default_wall_is_real_time(self) -> None:
        before = datetime.now(UTC)
        now = SimulatedClock(speed=1).now()
        assert before - timedelta(seconds=1) <= now <= datetime.now(UTC) + timedelta(seconds=1)


class TestManualClock:
    def test_stands_still_until_advanced(self) -> None:
        clock = ManualClock(START)
        assert clock.now() == START
        assert clock.now() == START

    def test_advance_moves_forward(self) -> None:
        clock = ManualClock(START)
        clock.advance(timedelta(minutes=5))
        clock.advance(timedelta(seconds=1))
        assert clock.now() == START + timedelta(minutes=5, seconds=1)

    def test_advance_by_zero_is_allowed(self) -> None:
        clock = ManualClock(START)
        clock.advance(timedelta(0))
        assert clock.now() == START

    def test_refuses_going_backwards(self) -> None:
        clock = ManualClock(START)
        with pytest.raises(ValueError, match="backwards"):
            clock.advance(timedelta(seconds=-1))
        assert clock.now() == START

    def test_refuses_a_naive_start(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            ManualClock(datetime(2026, 3, 2, 9, 15))  # naive on purpose

    def test_converts_the_start_to_utc(self) -> None:
        ist = timezone(timedelta(hours=5, minutes=30))
        clock = ManualClock(datetime(2026, 3, 2, 14, 45, tzinfo=ist))
        assert clock.now() == START
        assert clock.now().tzinfo == UTC

    def test_speed_is_one(self) -> None:
        assert ManualClock(START).speed == 1.0


class TestMakeClock:
    def test_speed_one_is_the_system_clock(self) -> None:
        clock = make_clock(1)
        assert isinstance(clock, SystemClock)
        assert clock.speed == 1.0

    @pytest.mark.parametrize("speed", [2, 60, 0.5])
    def test_other_speeds_are_simulated(self, speed: float) -> None:
        clock = make_clock(speed)
        assert isinstance(clock, SimulatedClock)
        assert clock.speed == speed

    def test_system_clock_is_aware_utc_and_current(self) -> None:
        before = datetime.now(UTC)
        now = SystemClock().now()
        assert now.tzinfo == UTC
        assert before <= now <= datetime.now(UTC)

    def test_every_clock_satisfies_the_protocol(self) -> None:
        clocks: list[Clock] = [SystemClock(), SimulatedClock(wall=FakeWall()), ManualClock(START)]
        assert all(c.now().utcoffset() == timedelta(0) for c in clocks)
