"""CSV replay: reading recorded ticks and bars, refusing bad files by line, playing at the clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tradepit.domain.clock import ManualClock
from tradepit.domain.instruments import Instrument
from tradepit.domain.market import Tick
from tradepit.market import replay
from tradepit.market.catalogue import Catalogue
from tradepit.market.replay import BadReplayFile, ReplayFeed, read_ticks

#: 09:15 IST on a Wednesday: the NSE open.
OPEN = datetime(2026, 3, 4, 3, 45, tzinfo=UTC)


@pytest.fixture(scope="module")
def instruments() -> dict[str, Instrument]:
    """Return the shipped catalogue by symbol."""
    return {i.symbol: i for i in Catalogue.load()}


def write(tmp_path: Path, text: str, name: str = "replay.csv") -> Path:
    """Write ``text`` (without its leading newline) to a CSV file; return its path."""
    path = tmp_path / name
    path.write_text(text.lstrip("\n"), encoding="utf-8")
    return path


class TestTickFiles:
    def test_ticks_come_out_sorted_in_utc(
        self, tmp_path: Path, instruments: dict[str, Instrument]
    ) -> None:
        path = write(
            tmp_path,
            """
timestamp,symbol,ltp,bid,ask,bid_size,ask_size,volume
2026-03-04T09:15:02+05:30,RELIANCE,1541.5,1541.4,1541.6,10,12,300
2026-03-04T09:15:00+05:30,reliance,1540,1539.9,1540.1,5,7,100
2026-03-04T03:45:01+00:00,TCS,3900,3899.5,3900.5,1,2,50
""",
        )
        ticks = read_ticks(path, instruments)
        assert [(t.symbol, t.ts) for t in ticks] == [
            ("RELIANCE", OPEN),
            ("TCS", OPEN + timedelta(seconds=1)),
            ("RELIANCE", OPEN + timedelta(seconds=2)),
        ]
        assert all(t.ts.tzinfo is UTC for t in ticks)
        first = ticks[0]
        assert (first.ltp, first.bid, first.ask) == (
            Decimal("1540"),
            Decimal("1539.9"),
            Decimal("1540.1"),
        )
        assert (first.bid_size, first.ask_size, first.volume) == (
            Decimal(5),
            Decimal(7),
            Decimal(100),
        )

    def test_only_the_required_columns(
        self, tmp_path: Path, instruments: dict[str, Instrument]
    ) -> None:
        path = write(tmp_path, "timestamp,symbol,ltp\n2026-03-04T09:15:00+05:30,NIFTY,22500.5\n")
        (only,) = read_ticks(path, instruments)
        assert only.bid == only.ask == only.ltp == Decimal("22500.5")
        assert only.volume == only.bid_size == Decimal(0)
        assert only.oi is None

    def test_open_interest_is_read(
        self, tmp_path: Path, instruments: dict[str, Instrument]
    ) -> None:
        path = write(
            tmp_path, "timestamp,symbol,ltp,oi\n2026-03-04T09:15:00+05:30,RELIANCE,1540,12000\n"
        )
        (only,) = read_ticks(path, instruments)
        assert only.oi == Decimal(12000)

    def test_symbols_are_matched_ignoring_case_and_spaces(
        self, tmp_path: Path, instruments: dict[str, Instrument]
    ) -> None:
        path = write(tmp_path, "timestamp,symbol,ltp\n2026-03-04T09:15:00Z, btc-usdt ,90000\n")
        (only,) = read_ticks(path, instruments)
        assert only.symbol == "BTC-USDT"


class TestBarFiles:
    def test_a_rising_bar_plays_open_low_high_close(
        self, tmp_path: Path, instruments: dict[str, Instrument]
    ) -> None:
        path = write(
            tmp_path,
            """
timestamp,symbol,open,high,low,close,volume
2026-03-04T09:15:00+05:30,RELIANCE,1540,1550,1535,1548,1000
""",
        )
        ticks = read_ticks(path, instruments)
        assert [t.ltp for t in ticks] == [Decimal(p) for p in ("1540", "1535", "1550", "1548")]
        assert [t.ts for t in ticks] == [OPEN + timedelta(seconds=15 * i) for i in range(4)]

    def test_a_falling_bar_plays_open_high_low_close(
        self, tmp_path: Path, instruments: dict[str, Instrument]
    ) -> None:
        path = write(
            tmp_path,
            """
timestamp,symbol,open,high,low,close
2026-03-04T09:15:00+05:30,RELIANCE,1540,1550,1535,1538
""",
        )
        ticks = read_ticks(path, instruments)
        assert [t.ltp for t in ticks] == [Decimal(p) for p in ("1540", "1550", "1535", "1538")]

    def test_volume_is_cumulative_over_the_day(
        self, tmp_path: Path, instruments: dict[str, Instrument]
    ) -> None:
        path = write(
            tmp_path,
            """
timestamp,symbol,open,high,low,close,volume
2026-03-04T09:15:00+05:30,RELIANCE,1540,1542,1539,1541,1000
2026-03-04T09:16:00+05:30,RELIANCE,1541,1543,1540,1542,500
2026-03-04T09:15:00+05:30,TCS,3900,3905,3895,3901,70
""",
        )
        ticks = read_ticks(path, instruments)
        reliance = [t.volume for t in ticks if t.symbol == "RELIANCE"]
        assert reliance == [Decimal(v) for v in (0, 0, 0, 1000, 1000, 1000, 1000, 1500)]
        assert ticks[-1].volume == Decimal(1500)
        assert [t.volume for t in ticks if t.symbol == "TCS"][-1] == Decimal(70)

    def test_a_new_day_restarts_the_volume(
        self, tmp_path: Path, instruments: dict[str, Instrument]
    ) -> None:
        path = write(
            tmp_path,
            """
timestamp,symbol,open,high,low,close,volume
2026-03-04T09:15:00+05:30,RELIANCE,1540,1542,1539,1541,1000
2026-03-05T09:15:00+05:30,RELIANCE,1541,1543,1540,1542,300
""",
        )
        ticks = read_ticks(path, instruments)
        assert [t.volume for t in ticks[4:]] == [Decimal(v) for v in (0, 0, 0, 300)]

    def test_ticks_of_bars_are_sorted_across_symbols(
        self, tmp_path: Path, instruments: dict[str, Instrument]
    ) -> None:
        path = write(
            tmp_path,
            """
timestamp,symbol,open,high,low,close
2026-03-04T09:16:00+05:30,RELIANCE,1541,1543,1540,1542
2026-03-04T09:15:00+05:30,TCS,3900,3905,3895,3901
""",
        )
        stamps = [t.ts for t in read_ticks(path, instruments)]
        assert stamps == sorted(stamps)
        assert stamps[0] == OPEN


class TestBadFiles:
    @pytest.mark.parametrize(
        ("rows", "message"),
        [
            ("2026-03-04T09:15:00,RELIANCE,1540", "line 3: timestamp '2026-03-04T09:15:00' needs"),
            ("yesterday,RELIANCE,1540", "line 3: 'yesterday' is not an ISO 8601 timestamp"),
            ("2026-03-04T09:15:00+05:30,NOSUCH,1540", "line 3: unknown symbol 'NOSUCH'"),
            ("2026-03-04T09:15:00+05:30,RELIANCE,abc", "line 3: 'abc' in 'ltp' is not a number"),
            ("2026-03-04T09:15:00+05:30,RELIANCE,-5", "line 3: '-5' in 'ltp' must be a number"),
            ("2026-03-04T09:15:00+05:30,RELIANCE,", "line 3: column 'ltp' is empty"),
        ],
    )
    def test_bad_tick_rows_name_the_line(
        self, tmp_path: Path, instruments: dict[str, Instrument], rows: str, message: str
    ) -> None:
        path = write(
            tmp_path, f"timestamp,symbol,ltp\n2026-03-04T09:14:00+05:30,RELIANCE,1539\n{rows}\n"
        )
        with pytest.raises(BadReplayFile) as caught:
            read_ticks(path, instruments)
        assert message in caught.value.message

    def test_bid_above_ask_names_the_line(
        self, tmp_path: Path, instruments: dict[str, Instrument]
    ) -> None:
        path = write(
            tmp_path,
            "timestamp,symbol,ltp,bid,ask\n2026-03-04T09:15:00+05:30,RELIANCE,1540,1541,1539\n",
        )
        with pytest.raises(BadReplayFile, match=r"line 2: bid 1541 is above ask 1539"):
            read_ticks(path, instruments)

    def test_inconsistent_ohlc_names_the_line(
        self, tmp_path: Path, instruments: dict[str, Instrument]
    ) -> None:
        path = write(
            tmp_path,
            """
timestamp,symbol,open,high,low,close
2026-03-04T09:15:00+05:30,RELIANCE,1540,1550,1535,1548
2026-03-04T09:16:00+05:30,RELIANCE,1540,1545,1535,1560
""",
        )
        with pytest.raises(BadReplayFile, match=r"line 3: OHLC is inconsistent"):
            read_ticks(path, instruments)

    @pytest.mark.parametrize(
        "header", ["symbol,ltp", "timestamp,ltp", "timestamp,symbol", "timestamp,symbol,open,close"]
    )
    def test_missing_columns_are_named(
        self, tmp_path: Path, instruments: dict[str, Instrument], header: str
    ) -> None:
        path = write(tmp_path, f"{header}\n")
        with pytest.raises(BadReplayFile) as caught:
            read_ticks(path, instruments)
        assert str(path) in caught.value.message
        assert "timestamp,symbol" in caught.value.message

    def test_missing_file_is_named(
        self, tmp_path: Path, instruments: dict[str, Instrument]
    ) -> None:
        path = tmp_path / "nowhere.csv"
        with pytest.raises(BadReplayFile, match=r"cannot open .*nowhere\.csv"):
            read_ticks(path, instruments)

    def test_a_file_without_rows_cannot_be_replayed(
        self, tmp_path: Path, instruments: dict[str, Instrument]
    ) -> None:
        path = write(tmp_path, "timestamp,symbol,ltp\n")
        assert read_ticks(path, instruments) == []
        with pytest.raises(BadReplayFile, match="holds no rows"):
            ReplayFeed([], ManualClock(OPEN), str(path))


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until ``condition`` holds (polled: feed state is a plain dataclass)."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


class TestReplayFeed:
    @pytest.fixture(autouse=True)
    def fast_polling(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Poll the clock every 5 ms instead of 100 ms."""
        monkeypatch.setattr(replay, "WALL_INTERVAL", 0.005)

    async def test_delivers_ticks_as_the_clock_passes_them(
        self, tmp_path: Path, instruments: dict[str, Instrument]
    ) -> None:
        path = write(
            tmp_path,
            """
timestamp,symbol,ltp
2026-03-04T09:15:00+05:30,RELIANCE,1540
2026-03-04T09:15:00+05:30,TCS,3900
2026-03-04T09:16:00+05:30,RELIANCE,1541
2026-03-04T09:20:00+05:30,RELIANCE,1542
""",
        )
        clock = ManualClock(OPEN)
        feed = ReplayFeed(read_ticks(path, instruments), clock, str(path))
        assert feed.first_instant == OPEN
        batches: list[list[Tick]] = []

        async def sink(batch: Sequence[Tick]) -> None:
            batches.append(list(batch))

        task = asyncio.create_task(feed.run(sink))
        try:
            await eventually(lambda: len(batches) == 1)
            assert [(t.symbol, t.ltp) for t in batches[0]] == [
                ("RELIANCE", Decimal("1540")),
                ("TCS", Decimal("3900")),
            ]
            assert feed.state.status == "running"
            await asyncio.sleep(0.05)
            assert len(batches) == 1  # the clock stands still: nothing more
            clock.advance(timedelta(minutes=2))
            await eventually(lambda: len(batches) == 2)
            assert [t.ltp for t in batches[1]] == [Decimal("1541")]
            clock.advance(timedelta(minutes=10))
            await asyncio.wait_for(task, timeout=5)
        finally:
            task.cancel()
        assert [t.ltp for t in batches[2]] == [Decimal("1542")]
        assert feed.state.status == "finished"
        assert feed.state.ticks == 4
        assert feed.state.last_tick_at == OPEN + timedelta(minutes=5)
        assert feed.state.kind == f"replay:{path}"
        assert feed.state.symbols == ["RELIANCE", "TCS"]

    async def test_a_clock_past_the_end_delivers_everything_at_once(
        self, tmp_path: Path, instruments: dict[str, Instrument]
    ) -> None:
        path = write(
            tmp_path,
            """
timestamp,symbol,open,high,low,close,volume
2026-03-04T09:15:00+05:30,RELIANCE,1540,1550,1535,1548,1000
2026-03-04T09:16:00+05:30,RELIANCE,1548,1549,1540,1541,200
""",
        )
        ticks = read_ticks(path, instruments)
        feed = ReplayFeed(ticks, ManualClock(OPEN + timedelta(hours=1)), path.name)
        batches: list[list[Tick]] = []

        async def sink(batch: Sequence[Tick]) -> None:
            batches.append(list(batch))

        await asyncio.wait_for(feed.run(sink), timeout=5)
        assert batches == [ticks]
        assert feed.state.status == "finished"
        assert "8 ticks" in feed.state.detail
