"""Time: one injectable clock for market-facing time, wall time for security timers."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """A source of the current UTC time."""

    @property
    def speed(self) -> float:
        """Simulated seconds per wall second."""
        ...

    def now(self) -> datetime:
        """Return the current time, timezone-aware in UTC."""
        ...


def _wall() -> float:
    return time.time()


class SystemClock:
    """Real time."""

    speed = 1.0

    def now(self) -> datetime:
        """Return the wall time in UTC."""
        return datetime.now(UTC)


class SimulatedClock:
    """Time that runs ``speed`` times faster than the wall, from ``start``.

    ``SimulatedClock(speed=60)`` makes a five-minute bet resolve in five wall seconds.
    """

    def __init__(
        self,
        speed: float = 1.0,
        start: datetime | None = None,
        wall: Callable[[], float] = _wall,
    ) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self._speed = speed
        self._wall = wall
        self._wall_origin = wall()
        self._origin = start or datetime.fromtimestamp(self._wall_origin, UTC)

    @property
    def speed(self) -> float:
        """Simulated seconds per wall second."""
        return self._speed

    def now(self) -> datetime:
        """Return the simulated time."""
        elapsed = (self._wall() - self._wall_origin) * self._speed
        return self._origin + timedelta(seconds=elapsed)


class ManualClock:
    """A clock that moves only when told to; for tests and deterministic simulation."""

    speed = 1.0

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """Return the current manual time."""
        return self._now

    def advance(self, delta: timedelta) -> None:
        """Move time forward by ``delta``."""
        if delta < timedelta(0):
            raise ValueError("time does not go backwards")
        self._now += delta


def make_clock(speed: float) -> Clock:
    """Return the system clock for speed 1, else a simulated clock starting now."""
    return SystemClock() if speed == 1 else SimulatedClock(speed)


def wall_seconds_until(clock: Clock, at: datetime) -> float:
    """Return how many wall seconds pass before ``clock`` reads ``at`` (negative: past)."""
    return (at - clock.now()).total_seconds() / clock.speed
