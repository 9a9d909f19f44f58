"""The quote book a feed fills: latest ticks, bars of every interval, history and prices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tradepit.domain.errors import NotFound
from tradepit.domain.instruments import Instrument
from tradepit.domain.market import INTERVALS, Candle, Tick
from tradepit.market.catalogue import Catalogue
from tradepit.market.quotes import NoQuoteYet, QuoteBook

#: 09:15 IST on a Wednesday: the NSE open.
OPEN = datetime(2026, 3, 4, 3, 45, tzinfo=UTC)


@pytest.fixture(scope="module")
def instruments() -> list[Instrument]:
    """Return an NSE stock and a crypto pair of the shipped catalogue."""
    catalogue = Catalogue.load()
    return [catalogue.get("RELIANCE"), catalogue.get("BTC-USDT")]


@pytest.fixture
def book(instruments: list[Instrument]) -> QuoteBook:
    """Return an empty quote book of the two instruments."""
    return QuoteBook(instruments)


def tick(ts: datetime, ltp: str, volume: int = 0, symbol: str = "RELIANCE") -> Tick:
    """Return a tick of ``symbol`` at ``ts`` with the day's cumulative ``volume``."""
    price = Decimal(ltp)
    return Tick(symbol, ts, price, price, price, Decimal(1), Decimal(1), Decimal(volume))


def minutes(start: datetime, closes: list[str], volume: int = 0) -> list[Tick]:
    """Return one tick per minute from ``start``, at 10 s past, with the given prices."""
    return [
        tick(start + timedelta(minutes=i, seconds=10), price, volume + 10 * i)
        for i, price in enumerate(closes)
    ]


class TestApply:
    def test_returns_closed_bars_of_every_interval(self, book: QuoteBook) -> None:
        assert book.apply([tick(OPEN, "1540", 100)]) == []
        closed = book.apply([tick(OPEN + timedelta(days=1), "1550", 50)])
        assert {bar.interval for bar in closed} == set(INTERVALS)
        assert all(bar.symbol == "RELIANCE" and bar.open == Decimal("1540") for bar in closed)
        by_interval = {bar.interval: bar.start for bar in closed}
        assert by_interval["1h"] == OPEN  # NSE hours start at 09:15 IST
        assert by_interval["1d"] == datetime(2026, 3, 4, tzinfo=UTC)

    def test_crypto_bars_align_to_the_utc_hour(self, book: QuoteBook) -> None:
        book.apply([tick(OPEN, "90000", symbol="BTC-USDT")])
        closed = book.apply([tick(OPEN + timedelta(hours=1), "90100", symbol="BTC-USDT")])
        hourly = [bar for bar in closed if bar.interval == "1h"]
        assert [bar.start for bar in hourly] == [datetime(2026, 3, 4, 3, 0, tzinfo=UTC)]

    def test_one_batch_can_close_several_bars(self, book: QuoteBook) -> None:
        closed = book.apply(minutes(OPEN, ["1540", "1541", "1542", "1543"]))
        one_minute = [bar for bar in closed if bar.interval == "1m"]
        assert [bar.close for bar in one_minute] == [
            Decimal("1540"),
            Decimal("1541"),
            Decimal("1542"),
        ]

    def test_ticks_of_unknown_symbols_are_ignored(self, book: QuoteBook) -> None:
        assert book.apply([tick(OPEN, "10", symbol="NOSUCH")]) == []
        with pytest.raises(NoQuoteYet):
            book.tick_at("NOSUCH", OPEN)


class TestTickAt:
    def test_before_any_tick_there_is_no_quote(self, book: QuoteBook) -> None:
        with pytest.raises(NoQuoteYet, match="RELIANCE") as caught:
            book.tick_at("RELIANCE", OPEN)
        assert isinstance(caught.value, NotFound)  # answered as a 404
        assert caught.value.code == "NO_DATA"

    def test_returns_the_latest_tick(self, book: QuoteBook) -> None:
        ticks = minutes(OPEN, ["1540", "1541", "1539"])
        book.apply(ticks)
        assert book.tick_at("RELIANCE", OPEN) == ticks[-1]

    def test_each_symbol_has_its_own_quote(self, book: QuoteBook) -> None:
        book.apply([tick(OPEN, "1540"), tick(OPEN, "90000", symbol="BTC-USDT")])
        assert book.tick_at("BTC-USDT", OPEN).ltp == Decimal("90000")
        assert book.tick_at("RELIANCE", OPEN).ltp == Decimal("1540")


class TestCandles:
    def test_merges_closed_bars_with_the_forming_one(self, book: QuoteBook) -> None:
        book.apply(minutes(OPEN, ["1540", "1541", "1542"]))
        bars = book.candles("RELIANCE", "1m", OPEN, OPEN + timedelta(hours=1))
        assert [bar.start for bar in bars] == [OPEN + timedelta(minutes=i) for i in range(3)]
        assert [bar.close for bar in bars] == [Decimal("1540"), Decimal("1541"), Decimal("1542")]

    def test_window_is_start_inclusive_end_exclusive(self, book: QuoteBook) -> None:
        book.apply(minutes(OPEN, ["1540", "1541", "1542", "1543"]))
        first, last = OPEN + timedelta(minutes=1), OPEN + timedelta(minutes=3)
        bars = book.candles("RELIANCE", "1m", first, last)
        assert [bar.start for bar in bars] == [first, OPEN + timedelta(minutes=2)]
        forming_only = book.candles("RELIANCE", "1m", last, last + timedelta(minutes=1))
        assert [bar.start for bar in forming_only] == [last]
        assert (
            book.candles("RELIANCE", "1m", last + timedelta(minutes=1), last + timedelta(hours=1))
            == []
        )

    def test_no_bars_before_any_tick(self, book: QuoteBook) -> None:
        assert book.candles("RELIANCE", "1m", OPEN, OPEN + timedelta(hours=1)) == []

    def test_forming_bar_follows_the_latest_tick(self, book: QuoteBook) -> None:
        book.apply([tick(OPEN, "1540", 100)])
        book.apply([tick(OPEN + timedelta(seconds=30), "1538", 160)])
        (bar,) = book.candles("RELIANCE", "5m", OPEN, OPEN + timedelta(minutes=5))
        assert (bar.open, bar.low, bar.close, bar.volume) == (
            Decimal("1540"),
            Decimal("1538"),
            Decimal("1538"),
            Decimal(60),
        )


def persisted(start: datetime, closes: list[str]) -> list[Candle]:
    """Return closed 1m RELIANCE bars from ``start``, as a database would give them back."""
    return [
        Candle(
            "RELIANCE",
            "1m",
            start + timedelta(minutes=i),
            Decimal(price),
            Decimal(price),
            Decimal(price),
            Decimal(price),
            Decimal(10),
        )
        for i, price in enumerate(closes)
    ]


class TestLoad:
    def test_loaded_bars_are_served(self, book: QuoteBook) -> None:
        bars = persisted(OPEN, ["1540", "1541"])
        book.load(bars)
        assert book.candles("RELIANCE", "1m", OPEN, OPEN + timedelta(hours=1)) == bars

    def test_new_ticks_continue_after_loaded_bars(self, book: QuoteBook) -> None:
        book.load(persisted(OPEN, ["1540", "1541", "1542"]))
        book.apply(minutes(OPEN + timedelta(minutes=3), ["1543", "1544"]))
        bars = book.candles("RELIANCE", "1m", OPEN, OPEN + timedelta(hours=1))
        assert [bar.start for bar in bars] == [OPEN + timedelta(minutes=i) for i in range(5)]
        assert [bar.close for bar in bars] == [
            Decimal(p) for p in ("1540", "1541", "1542", "1543", "1544")
        ]

    def test_ticks_replayed_over_loaded_bars_add_no_duplicates(self, book: QuoteBook) -> None:
        loaded = persisted(OPEN, ["1540", "1541", "1542"])
        book.load(loaded)
        book.apply(minutes(OPEN, ["1600", "1601", "1602", "1603"]))
        bars = book.candles("RELIANCE", "1m", OPEN, OPEN + timedelta(hours=1))
        starts = [bar.start for bar in bars]
        assert starts == sorted(set(starts))
        assert bars[:3] == loaded  # the past does not change
        assert [bar.close for bar in bars[3:]] == [Decimal("1603")]

    def test_loading_the_same_bars_twice_keeps_one_copy(self, book: QuoteBook) -> None:
        bars = persisted(OPEN, ["1540", "1541"])
        book.load(bars)
        book.load(bars)
        assert book.candles("RELIANCE", "1m", OPEN, OPEN + timedelta(hours=1)) == bars


class TestPriceAt:
    def test_is_the_close_of_the_last_minute_bar_before_the_instant(self, book: QuoteBook) -> None:
        book.apply(minutes(OPEN, ["1540", "1541", "1542", "1543"]))
        assert book.price_at("RELIANCE", OPEN + timedelta(minutes=2)) == Decimal("1541")
        assert book.price_at("RELIANCE", OPEN + timedelta(minutes=2, seconds=1)) == Decimal("1542")

    def test_now_is_the_latest_price(self, book: QuoteBook) -> None:
        book.apply(minutes(OPEN, ["1540", "1541"]))
        book.apply([tick(OPEN + timedelta(minutes=1, seconds=40), "1545")])
        assert book.price_at("RELIANCE", OPEN + timedelta(minutes=5)) == Decimal("1545")

    def test_uses_loaded_history(self, book: QuoteBook) -> None:
        book.load(persisted(OPEN, ["1540", "1541"]))
        assert book.price_at("RELIANCE", OPEN + timedelta(hours=1)) == Decimal("1541")

    def test_before_any_bar_there_is_no_price(self, book: QuoteBook) -> None:
        with pytest.raises(NoQuoteYet):
            book.price_at("RELIANCE", OPEN)
