"""Market data as a newcomer's curl sees it: symbols, expiries, spot, chains, dashboards, bars.

The market clock stands still (``ManualClock``) so every answer is reproducible: by default at
Thursday 2026-11-26 12:00 IST, mid-session, with NIFTY's weekly expiry on Tuesday 2026-12-01.
Holidays come from the exchange calendar (the ``holidays`` library's XNSE/XBOM data corrected by
``market/holidays.toml``): in 2026 Holi (Tue 03-03), Ram Navami (Thu 03-26), Mahavir Jayanti
(Tue 03-31), Diwali Balipratipada (Tue 11-10) and Guru Nanak Jayanti (Tue 11-24), and the
Maharashtra municipal elections (Thu 01-15, an override).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import client_for, make_settings
from tests.factories import user_with_token
from tradepit.app import create_app
from tradepit.domain.clock import ManualClock
from tradepit.domain.instruments import Kind, Venue
from tradepit.market.catalogue import Catalogue
from tradepit.market.chains import DIVIDEND_YIELD, RISK_FREE
from tradepit.settings import Settings

IST = ZoneInfo("Asia/Kolkata")
#: The default instant: a Thursday, mid-session.
THURSDAY_NOON = datetime(2026, 11, 26, 12, 0, tzinfo=IST)
SATURDAY = datetime(2026, 11, 28, 12, 0, tzinfo=IST)
INDICES = ["NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "SENSEX"]
STOCKS = [
    "RELIANCE",
    "TCS",
    "INFY",
    "HDFCBANK",
    "ICICIBANK",
    "SBIN",
    "ITC",
    "LT",
    "BHARTIARTL",
    "AXISBANK",
]
TUESDAY, THURSDAY = 1, 3
#: NSE's continuous session in UTC (India keeps no daylight saving time).
NSE_OPEN_UTC, NSE_CLOSE_UTC = time(3, 45), time(10, 0)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """Yield a fresh app whose market clock stands still at Thursday 2026-11-26 12:00 IST."""
    application = create_app(settings, clock=ManualClock(THURSDAY_NOON))
    yield application
    await application.state.wiring.engine.dispose()


@asynccontextmanager
async def market_at(
    settings: Settings, at: datetime, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """Yield a client of an app whose market clock stands still at ``at``.

    ``overrides`` change settings (``seed``, ``market_hours``) for this app only.
    """
    if overrides:
        settings = make_settings(settings.data_dir, settings.db_url, **overrides)
    application = create_app(settings, clock=ManualClock(at))
    try:
        async with client_for(application) as http:
            yield http
    finally:
        await application.state.wiring.engine.dispose()


async def envelope(
    client: httpx.AsyncClient, path: str, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    """GET an smd-options route that must succeed; return the whole envelope."""
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is True
    # Some routes repeat their data at the top level too (tests/api/test_smd_options_client.py).
    assert {"success", "message", "timestamp", "data", "meta"} <= set(body)
    return body


async def data(client: httpx.AsyncClient, path: str, params: dict[str, Any] | None = None) -> Any:
    """GET an smd-options route that must succeed; return its ``data``."""
    return (await envelope(client, path, params))["data"]


def smd_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Check ``response`` is an smd-options error envelope; return its body."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert body["message"] and body["timestamp"]
    return body


def day(text: str) -> date:
    """Return the date of an ISO ``YYYY-MM-DD`` string."""
    return date.fromisoformat(text)


def at_utc(text: str) -> datetime:
    """Return the aware datetime of an ISO timestamp (``Z`` or offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def parity(spot: float, strike: float, years: float, kind: Kind) -> float:
    """Return C - P by put-call parity for the chain's rate and dividend yield."""
    q = DIVIDEND_YIELD.get(kind, 0.0)
    return spot * math.exp(-q * years) - strike * math.exp(-RISK_FREE * years)


def years_between(start: datetime, end: datetime) -> float:
    """Return ``end - start`` in years of 365 days."""
    return (end - start).total_seconds() / (365 * 86_400)


def gaps(values: list[Any]) -> set[Any]:
    """Return the set of differences between successive values."""
    return {b - a for a, b in pairwise(values)}


def check_ohlc(bar: dict[str, Any]) -> None:
    """Check a bar's prices are consistent: low <= open, close <= high, all positive."""
    assert 0 < bar["low"] <= min(bar["open"], bar["close"])
    assert max(bar["open"], bar["close"]) <= bar["high"]


class TestApiRoot:
    async def test_root_lists_the_market_endpoints(self, client: httpx.AsyncClient) -> None:
        body = await envelope(client, "/api")
        endpoints = body["data"]["endpoints"]
        for path in (
            "/api/symbols",
            "/api/expiries/{symbol}",
            "/api/spot_price/{symbol}",
            "/api/option_chain?symbol=&expiry=",
            "/api/dashboard_data?symbol=&expiry=",
            "/api/market-status",
            "/api/ohlc_data/{symbol}",
        ):
            assert path in endpoints
        assert body["data"]["docs"] == "/docs"


class TestSymbols:
    async def test_lists_the_indices_then_every_stock_with_options(
        self, client: httpx.AsyncClient
    ) -> None:
        body = await envelope(client, "/api/symbols")
        symbols = [row["symbol"] for row in body["data"]]
        assert symbols == [i.symbol for i in Catalogue.load().with_options()]
        assert symbols[: len(INDICES)] == INDICES and set(STOCKS) <= set(symbols)
        assert body["meta"]["count"] == len(symbols)
        assert all(row["has_options"] for row in body["data"])
        assert all(row["kind"] == "EQUITY" for row in body["data"][len(INDICES) :])

    async def test_every_nifty_50_and_nifty_bank_stock_is_listed_with_its_lot(
        self, client: httpx.AsyncClient
    ) -> None:
        rows = {row["symbol"]: row for row in await data(client, "/api/symbols")}
        catalogue = Catalogue.load()
        members = catalogue.constituents("NIFTY") + catalogue.constituents("BANKNIFTY")
        assert len({i.symbol for i in members}) == 59
        for stock in members:
            row = rows[stock.symbol]
            assert row["lot_size"] == stock.lot_size and row["derivatives_venue"] == "NFO"
            assert row["tradable"] is True and row["expiry_rule"] == "monthly:TUE"
        assert rows["KOTAKBANK"]["lot_size"] == 2000 and rows["ITC"]["lot_size"] == 1725

    @pytest.mark.parametrize(
        ("symbol", "lot", "step", "rule", "venue"),
        [
            ("NIFTY", 65, 50, "weekly:TUE", "NFO"),
            ("BANKNIFTY", 30, 100, "monthly:TUE", "NFO"),
            ("FINNIFTY", 60, 50, "monthly:TUE", "NFO"),
            ("MIDCPNIFTY", 120, 25, "monthly:TUE", "NFO"),
            ("SENSEX", 20, 100, "weekly:THU", "BFO"),
        ],
    )
    async def test_index_contract_specs(
        self, client: httpx.AsyncClient, symbol: str, lot: int, step: int, rule: str, venue: str
    ) -> None:
        rows = {row["symbol"]: row for row in await data(client, "/api/symbols")}
        row = rows[symbol]
        assert row["kind"] == "INDEX" and row["currency"] == "INR"
        assert row["lot_size"] == lot and row["strike_step"] == step
        assert row["expiry_rule"] == rule and row["derivatives_venue"] == venue
        assert row["tradable"] is True  # as paper trading's index contract

    async def test_stocks_have_lots_steps_and_monthly_tuesday_expiries(
        self, client: httpx.AsyncClient
    ) -> None:
        rows = {row["symbol"]: row for row in await data(client, "/api/symbols")}
        for symbol in STOCKS:
            row = rows[symbol]
            assert row["kind"] == "EQUITY" and row["venue"] == "NSE", symbol
            assert row["lot_size"] >= 1 and row["strike_step"] > 0, symbol
            assert row["expiry_rule"] == "monthly:TUE" and row["tradable"] is True, symbol
        assert rows["RELIANCE"]["lot_size"] == 500 and rows["RELIANCE"]["strike_step"] == 10


class TestExpiries:
    async def test_nifty_weekly_tuesdays(self, client: httpx.AsyncClient) -> None:
        body = await envelope(client, "/api/expiries/NIFTY")
        listed = [day(d) for d in body["data"]]
        assert listed[0] == date(2026, 12, 1)
        assert len(listed) == 8
        assert all(d.weekday() == TUESDAY for d in listed)
        assert gaps(listed) == {timedelta(days=7)}
        assert body["meta"]["symbol"] == "NIFTY"
        assert "2026-12-29" in body["meta"]["monthly"]
        assert set(body["meta"]["monthly"]) <= set(body["data"])

    @pytest.mark.parametrize(
        ("at", "first"),
        [
            (datetime(2026, 12, 1, 9, 0, tzinfo=IST), "2026-12-01"),
            (datetime(2026, 12, 1, 15, 29, tzinfo=IST), "2026-12-01"),
            (datetime(2026, 12, 1, 15, 31, tzinfo=IST), "2026-12-08"),
            (datetime(2026, 12, 2, 10, 0, tzinfo=IST), "2026-12-08"),
        ],
    )
    async def test_expiry_day_is_listed_until_the_close(
        self, settings: Settings, at: datetime, first: str
    ) -> None:
        async with market_at(settings, at) as client:
            listed = await data(client, "/api/expiries/NIFTY")
            assert listed[0] == first
            chain = await data(client, "/api/option_chain", {"symbol": "NIFTY"})
            assert chain["expiry"] == first

    async def test_banknifty_has_monthly_expiries_only(self, client: httpx.AsyncClient) -> None:
        body = await envelope(client, "/api/expiries/BANKNIFTY")
        assert body["data"] == body["meta"]["monthly"]
        # The last Tuesday of each month; 2027-01-26 is Republic Day, so Monday the 25th.
        assert body["data"][:4] == ["2026-12-29", "2027-01-25", "2027-02-23", "2027-03-30"]
        months = [(day(d).year, day(d).month) for d in body["data"]]
        assert len(set(months)) == len(months)

    async def test_sensex_expires_on_thursdays(self, client: httpx.AsyncClient) -> None:
        body = await envelope(client, "/api/expiries/SENSEX")
        listed = [day(d) for d in body["data"]]
        # Thursday 2026-11-26 is itself the November monthly expiry, listed until 15:30.
        assert listed[0] == date(2026, 11, 26)
        assert all(d.weekday() == THURSDAY for d in listed)
        assert body["meta"]["monthly"][:2] == ["2026-11-26", "2026-12-31"]

    @pytest.mark.parametrize(
        ("symbol", "at", "moved", "holiday", "monthly"),
        [
            # Holi on Tuesday 2026-03-03: the weekly expires on Monday, and is listed that day.
            ("NIFTY", datetime(2026, 3, 2, 12, 0, tzinfo=IST), "2026-03-02", "2026-03-03", False),
            # Mahavir Jayanti on the last Tuesday of March: the monthly expires on Monday 30th.
            ("NIFTY", datetime(2026, 3, 20, 12, 0, tzinfo=IST), "2026-03-30", "2026-03-31", True),
            (
                "BANKNIFTY",
                datetime(2026, 3, 2, 12, 0, tzinfo=IST),
                "2026-03-30",
                "2026-03-31",
                True,
            ),
            # Guru Nanak Jayanti on the last Tuesday of November.
            ("NIFTY", datetime(2026, 11, 20, 12, 0, tzinfo=IST), "2026-11-23", "2026-11-24", True),
            # Ram Navami on the last Thursday of March: SENSEX expires on Wednesday.
            ("SENSEX", datetime(2026, 3, 20, 12, 0, tzinfo=IST), "2026-03-25", "2026-03-26", True),
            # The municipal elections closure (holidays.toml): SENSEX weekly on Wednesday.
            ("SENSEX", datetime(2026, 1, 12, 12, 0, tzinfo=IST), "2026-01-14", "2026-01-15", False),
        ],
    )
    async def test_expiry_on_a_holiday_moves_to_the_previous_trading_day(
        self,
        settings: Settings,
        symbol: str,
        at: datetime,
        moved: str,
        holiday: str,
        monthly: bool,
    ) -> None:
        async with market_at(settings, at) as client:
            body = await envelope(client, f"/api/expiries/{symbol}")
            assert moved in body["data"] and holiday not in body["data"]
            assert (moved in body["meta"]["monthly"]) is monthly
        closed_at = datetime.combine(day(holiday), time(12, 0), IST)
        async with market_at(settings, closed_at) as client:
            status = await data(client, "/api/market-status")
            assert status["is_open"] is False
            nse = next(v for v in status["venues"] if v["venue"] == "NSE")
            assert nse["reason"].startswith("holiday: ")

    async def test_crypto_has_no_options(self, client: httpx.AsyncClient) -> None:
        body = smd_error(await client.get("/api/expiries/BTC-USDT"), 400, "NO_OPTIONS")
        assert "BTC-USDT" in body["message"]

    async def test_unknown_symbol_is_404(self, client: httpx.AsyncClient) -> None:
        body = smd_error(await client.get("/api/expiries/NOPE"), 404, "NOT_FOUND")
        assert "NOPE" in body["message"]

    async def test_alias_answers_for_the_index(self, client: httpx.AsyncClient) -> None:
        by_alias = await envelope(client, "/api/expiries/NIFTY%2050")
        by_symbol = await envelope(client, "/api/expiries/NIFTY")
        assert by_alias["data"] == by_symbol["data"]
        assert by_alias["meta"]["symbol"] == "NIFTY"


class TestSpotPrice:
    @pytest.mark.parametrize("name", ["NIFTY", "NIFTY%2050", "nifty50"])
    async def test_alias_names_the_same_index(self, client: httpx.AsyncClient, name: str) -> None:
        body = await envelope(client, f"/api/spot_price/{name}")
        assert body["data"]["symbol"] == "NIFTY" and body["meta"]["symbol"] == "NIFTY"
        reference = await data(client, "/api/spot_price/NIFTY")
        assert body["data"]["spot_price"] == reference["spot_price"]

    async def test_price_is_plausible_and_change_is_from_previous_close(
        self, client: httpx.AsyncClient
    ) -> None:
        spot = await data(client, "/api/spot_price/NIFTY")
        assert 15_000 < spot["spot_price"] < 45_000
        assert spot["change"] == pytest.approx(
            spot["spot_price"] - spot["previous_close"], abs=1e-6
        )
        expected = spot["change"] / spot["previous_close"] * 100
        assert spot["change_percent"] == pytest.approx(expected, abs=0.006)
        assert at_utc(spot["timestamp"]) == THURSDAY_NOON
        # Prices are on the 0.05 tick grid.
        assert round(spot["spot_price"] * 20) == pytest.approx(spot["spot_price"] * 20)

    @pytest.mark.parametrize(
        ("symbol", "low", "high"),
        [
            ("BANKNIFTY", 30_000, 120_000),
            ("SENSEX", 45_000, 170_000),
            ("RELIANCE", 700, 3_100),
            ("BTC-USDT", 40_000, 190_000),
        ],
    )
    async def test_other_prices_are_plausible(
        self, client: httpx.AsyncClient, symbol: str, low: float, high: float
    ) -> None:
        spot = await data(client, f"/api/spot_price/{symbol}")
        assert low < spot["spot_price"] < high

    async def test_unknown_symbol_is_404(self, client: httpx.AsyncClient) -> None:
        smd_error(await client.get("/api/spot_price/NOPE"), 404, "NOT_FOUND")


def nse_status(status: dict[str, Any], venue: str = "NSE") -> dict[str, Any]:
    """Return one venue's entry of a market-status answer."""
    found: dict[str, Any] = next(v for v in status["venues"] if v["venue"] == venue)
    return found


class TestMarketStatus:
    @pytest.mark.parametrize(
        ("at", "phase", "reason"),
        [
            (SATURDAY, "closed", "weekend"),
            (datetime(2026, 11, 26, 3, 0, tzinfo=IST), "closed", "before hours"),
            (datetime(2026, 11, 26, 9, 5, tzinfo=IST), "pre_open", "pre-open"),
            (datetime(2026, 11, 26, 9, 15, tzinfo=IST), "open", "regular session"),
            (datetime(2026, 11, 26, 15, 29, tzinfo=IST), "open", "regular session"),
            (datetime(2026, 11, 26, 15, 31, tzinfo=IST), "closed", "after hours"),
            (datetime(2026, 11, 26, 15, 45, tzinfo=IST), "post_close", "post-close"),
            (datetime(2026, 11, 10, 12, 0, tzinfo=IST), "closed", "holiday: Diwali"),
        ],
    )
    async def test_nse_phase(
        self, settings: Settings, at: datetime, phase: str, reason: str
    ) -> None:
        async with market_at(settings, at) as client:
            body = await envelope(client, "/api/market-status")
        status = body["data"]
        assert status["status"] == phase
        assert status["is_open"] is (phase == "open")
        assert status["market_hours"] == "exchange"
        assert at_utc(status["timestamp"]) == at
        nse = nse_status(status)
        assert nse["phase"] == phase and nse["reason"].startswith(reason)
        assert nse["forced"] is False
        assert at_utc(nse["local_time"]).utcoffset() == timedelta(hours=5, minutes=30)
        okx = nse_status(status, "OKX")
        assert okx["is_open"] is True and okx["reason"] == "24/7"

    async def test_weekend_names_monday_open(self, settings: Settings) -> None:
        async with market_at(settings, SATURDAY) as client:
            nse = nse_status(await data(client, "/api/market-status"))
        assert at_utc(nse["next_open"]) == datetime(2026, 11, 30, 9, 15, tzinfo=IST)
        assert at_utc(nse["next_close"]) == datetime(2026, 11, 30, 15, 30, tzinfo=IST)

    async def test_open_session_names_todays_close(self, client: httpx.AsyncClient) -> None:
        nse = nse_status(await data(client, "/api/market-status"))
        assert at_utc(nse["next_close"]) == datetime(2026, 11, 26, 15, 30, tzinfo=IST)
        assert at_utc(nse["next_open"]) == datetime(2026, 11, 27, 9, 15, tzinfo=IST)

    async def test_market_hours_always_opens_nse_and_says_so(self, settings: Settings) -> None:
        async with market_at(settings, SATURDAY, market_hours="always") as client:
            status = await data(client, "/api/market-status")
        assert status["status"] == "open" and status["is_open"] is True
        assert status["market_hours"] == "always"
        nse = nse_status(status)
        assert nse["forced"] is True and nse["reason"] == "market_hours=always"
        assert nse_status(status, "OKX")["forced"] is False


#: 04:05 IST on Wednesday 2026-11-25 (22:35 UTC on Tuesday, NSE's Guru Nanak Jayanti holiday).
NIGHT = datetime(2026, 11, 25, 4, 5, tzinfo=IST)
SUNDAY_NOON = datetime(2026, 11, 29, 12, 0, tzinfo=IST)
#: The length of a bar of each timeframe.
SECONDS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400}


@asynccontextmanager
async def market_on(
    settings: Settings, clock: ManualClock, **overrides: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """Yield an app on ``clock`` (moved by the test) and its client."""
    application = create_app(
        make_settings(settings.data_dir, settings.db_url, **overrides), clock=clock
    )
    try:
        async with client_for(application) as http:
            yield application, http
    finally:
        await application.state.wiring.engine.dispose()


class TestMarketHoursAlways:
    """``TRADEPIT_MARKET_HOURS=always``: NSE and BSE trade at 04:05 IST and on a Sunday."""

    @pytest.mark.parametrize("at", [NIGHT, SUNDAY_NOON])
    async def test_nse_and_bse_prices_move_at_any_hour(
        self, settings: Settings, at: datetime
    ) -> None:
        clock = ManualClock(at)
        async with market_on(settings, clock, market_hours="always") as (_, client):
            seen: dict[str, list[float]] = {"NIFTY": [], "SENSEX": [], "RELIANCE": []}
            for _ in range(8):
                for symbol, prices in seen.items():
                    prices.append((await data(client, f"/api/spot_price/{symbol}"))["spot_price"])
                clock.advance(timedelta(seconds=30))
            ohlc = await data(client, "/api/ohlc_data/RELIANCE")
        for symbol, prices in seen.items():
            assert len(set(prices)) >= 3, (symbol, prices)
        assert ohlc["session"] == at.astimezone(UTC).date().isoformat()
        assert ohlc["volume"] > 0

    async def test_the_same_instant_under_exchange_hours_stands_still(
        self, settings: Settings
    ) -> None:
        clock = ManualClock(NIGHT)
        async with market_on(settings, clock) as (_, client):
            first = await data(client, "/api/spot_price/NIFTY")
            clock.advance(timedelta(minutes=5))
            later = await data(client, "/api/spot_price/NIFTY")
            bars = await data(client, "/api/historical-data/NIFTY", {"timeframe": "1m", "days": 3})
        assert first["spot_price"] == later["spot_price"]
        # The last bar is Monday's close (Tuesday 2026-11-24 was a holiday).
        assert at_utc(bars[-1]["timestamp"]) == datetime(2026, 11, 23, 15, 29, tzinfo=IST)

    @pytest.mark.parametrize("timeframe", ["1m", "5m", "15m", "1h", "1d"])
    async def test_candles_form_at_night(self, settings: Settings, timeframe: str) -> None:
        clock = ManualClock(NIGHT + timedelta(seconds=30))
        async with market_on(settings, clock, market_hours="always") as (_, client):
            bars = await data(
                client, "/api/historical-data/RELIANCE", {"timeframe": timeframe, "days": 2}
            )
        forming = at_utc(bars[-1]["timestamp"])
        assert forming <= NIGHT < forming + timedelta(seconds=SECONDS[timeframe])
        if timeframe == "1m":
            assert forming == NIGHT
            assert len(bars) >= 2 * 1440  # every minute of the last two days
        assert bars[-1]["low"] <= bars[-1]["close"] <= bars[-1]["high"]
        assert bars[-1]["volume"] > 0

    async def test_status_says_every_venue_trades_and_names_the_mode(
        self, settings: Settings
    ) -> None:
        async with market_on(settings, ManualClock(NIGHT), market_hours="always") as (app, client):
            status = await data(client, "/api/market-status")
            event = app.state.wiring.hub.market_status_event()
        for answer in (status, event):
            assert answer["status"] == "open" and answer["is_open"] is True
            assert answer["market_hours"] == "always"
            assert all(venue["is_open"] for venue in answer["venues"])
            nse = nse_status(answer)
            assert nse["phase"] == "open" and nse["forced"] is True
            assert nse["reason"] == "market_hours=always"
        assert event["type"] == "market_status"

    async def test_status_under_exchange_hours_is_closed_at_night(self, settings: Settings) -> None:
        async with market_on(settings, ManualClock(NIGHT)) as (app, client):
            status = await data(client, "/api/market-status")
            event = app.state.wiring.hub.market_status_event()
        for answer in (status, event):
            assert (answer["status"], answer["is_open"]) == ("closed", False)
            assert answer["market_hours"] == "exchange"
            nse = nse_status(answer)
            assert nse["reason"] == "before hours" and nse["forced"] is False


class TestTimeConsistency:
    async def test_index_stands_still_over_the_weekend_while_crypto_trades(
        self, settings: Settings
    ) -> None:
        async with market_at(settings, datetime(2026, 11, 27, 15, 30, tzinfo=IST)) as client:
            friday_close = (await data(client, "/api/spot_price/NIFTY"))["spot_price"]
        sunday = datetime(2026, 11, 29, 12, 0, tzinfo=IST)
        async with market_at(settings, sunday) as client:
            nifty = await data(client, "/api/spot_price/NIFTY")
            btc_noon = (await data(client, "/api/spot_price/BTC-USDT"))["spot_price"]
            ohlc = await data(client, "/api/ohlc_data/NIFTY")
            bars = await data(client, "/api/historical-data/NIFTY", {"timeframe": "1d", "days": 5})
        async with market_at(settings, sunday + timedelta(hours=1)) as client:
            nifty_later = (await data(client, "/api/spot_price/NIFTY"))["spot_price"]
            btc_later = (await data(client, "/api/spot_price/BTC-USDT"))["spot_price"]
        assert nifty["spot_price"] == friday_close == nifty_later
        assert ohlc["session"] == "2026-11-27"
        assert bars[-1]["timestamp"].startswith("2026-11-27") and bars[-1]["close"] == friday_close
        assert btc_noon != btc_later

    async def test_index_is_constant_at_night(self, settings: Settings) -> None:
        night = datetime(2026, 11, 26, 21, 0, tzinfo=IST)
        prices = []
        for at in (night, night + timedelta(hours=3, minutes=17)):
            async with market_at(settings, at) as client:
                prices.append((await data(client, "/api/spot_price/NIFTY"))["spot_price"])
        assert prices[0] == prices[1]

    async def test_index_moves_during_the_session(self, settings: Settings) -> None:
        prices = []
        for at in (THURSDAY_NOON, THURSDAY_NOON + timedelta(minutes=30)):
            async with market_at(settings, at) as client:
                prices.append((await data(client, "/api/spot_price/NIFTY"))["spot_price"])
        assert prices[0] != prices[1]


class TestOptionChain:
    async def test_41_strikes_50_apart_around_spot(self, client: httpx.AsyncClient) -> None:
        body = await envelope(client, "/api/option_chain", {"symbol": "NIFTY"})
        chain = body["data"]
        strikes = [row["strike"] for row in chain["strikes"]]
        assert len(strikes) == 41
        assert gaps(strikes) == {50}
        assert strikes[0] < chain["spot_price"] < strikes[-1]
        assert chain["symbol"] == "NIFTY" and chain["expiry"] == "2026-12-01"
        assert chain["monthly"] is False and chain["lot_size"] == 65
        assert 5 < chain["days_to_expiry"] < 5.5  # Thursday noon to Tuesday 15:30
        assert body["meta"] == {"symbol": "NIFTY", "expiry": "2026-12-01"}

    async def test_one_atm_per_side_at_the_strike_nearest_spot(
        self, client: httpx.AsyncClient
    ) -> None:
        chain = await data(client, "/api/option_chain", {"symbol": "NIFTY"})
        rows = chain["strikes"]
        nearest = min(rows, key=lambda row: abs(row["strike"] - chain["spot_price"]))["strike"]
        assert chain["atm_strike"] == nearest
        for side in ("CE", "PE"):
            atm = [row["strike"] for row in rows if row[side]["label"] == "ATM"]
            assert atm == [nearest], side
        below = next(row for row in rows if row["strike"] == nearest - 100)
        assert below["CE"]["label"] == "ITM2" and below["PE"]["label"] == "OTM2"
        assert below["label"] == "ITM2"

    async def test_premiums_move_with_the_strike(self, client: httpx.AsyncClient) -> None:
        rows = (await data(client, "/api/option_chain", {"symbol": "NIFTY"}))["strikes"]
        calls = [row["CE"]["ltp"] for row in rows]
        puts = [row["PE"]["ltp"] for row in rows]
        assert all(a > b for a, b in pairwise(calls))
        assert all(a < b for a, b in pairwise(puts))
        for row in rows:
            for side in ("CE", "PE"):
                option = row[side]
                assert 0 <= option["bid"] <= option["ltp"] <= option["ask"]
                assert option["oi"] >= 0 and option["oi"] % 65 == 0  # whole lots
                assert option["volume"] >= 0 and option["volume"] % 65 == 0

    async def test_greeks_and_iv_are_in_range(self, client: httpx.AsyncClient) -> None:
        rows = (await data(client, "/api/option_chain", {"symbol": "NIFTY"}))["strikes"]
        for row in rows:
            ce, pe = row["CE"], row["PE"]
            assert 0 < ce["delta"] < 1 and -1 < pe["delta"] < 0, row["strike"]
            assert ce["delta"] - pe["delta"] == pytest.approx(1, abs=0.01)  # e^{-qT}
            assert 5 < ce["iv"] < 150 and 5 < pe["iv"] < 150, row["strike"]
            assert ce["gamma"] >= 0 and ce["vega"] >= 0 and ce["theta"] <= 0
        deltas = [row["CE"]["delta"] for row in rows]
        assert deltas == sorted(deltas, reverse=True)

    async def test_put_call_parity_at_atm(self, client: httpx.AsyncClient) -> None:
        chain = await data(client, "/api/option_chain", {"symbol": "NIFTY"})
        atm = next(row for row in chain["strikes"] if row["strike"] == chain["atm_strike"])
        years = chain["days_to_expiry"] / 365
        expected = parity(chain["spot_price"], atm["strike"], years, Kind.INDEX)
        assert atm["CE"]["ltp"] - atm["PE"]["ltp"] == pytest.approx(expected, abs=0.15)

    async def test_weekly_and_monthly_tradingsymbols(self, client: httpx.AsyncClient) -> None:
        weekly = await data(client, "/api/option_chain", {"symbol": "NIFTY"})
        atm = int(weekly["atm_strike"])
        row = next(r for r in weekly["strikes"] if r["strike"] == atm)
        assert row["CE"]["tradingsymbol"] == f"NIFTY26D01{atm}CE"
        assert row["PE"]["tradingsymbol"] == f"NIFTY26D01{atm}PE"
        monthly = await data(
            client, "/api/option_chain", {"symbol": "NIFTY", "expiry": "2026-12-29"}
        )
        assert monthly["monthly"] is True and monthly["expiry"] == "2026-12-29"
        first = monthly["strikes"][0]
        assert first["CE"]["tradingsymbol"] == f"NIFTY26DEC{int(first['strike'])}CE"
        assert monthly["days_to_expiry"] > weekly["days_to_expiry"]

    async def test_expiry_day_chain_prices_the_last_hours(self, client: httpx.AsyncClient) -> None:
        chain = await data(client, "/api/option_chain", {"symbol": "SENSEX"})
        assert chain["expiry"] == "2026-11-26" and chain["monthly"] is True
        assert chain["days_to_expiry"] == pytest.approx(3.5 / 24, abs=1e-3)
        strikes = [row["strike"] for row in chain["strikes"]]
        assert gaps(strikes) == {100}
        atm = next(row for row in chain["strikes"] if row["strike"] == chain["atm_strike"])
        expected = parity(
            chain["spot_price"], atm["strike"], chain["days_to_expiry"] / 365, Kind.INDEX
        )
        assert atm["CE"]["ltp"] - atm["PE"]["ltp"] == pytest.approx(expected, abs=0.15)
        assert atm["CE"]["tradingsymbol"] == f"SENSEX26NOV{int(atm['strike'])}CE"
        for row in chain["strikes"]:
            intrinsic = max(chain["spot_price"] - row["strike"], 0)
            assert row["CE"]["ltp"] >= intrinsic - 5, row["strike"]  # little carry left

    async def test_stock_chain_is_monthly(self, client: httpx.AsyncClient) -> None:
        chain = await data(client, "/api/option_chain", {"symbol": "RELIANCE"})
        assert chain["expiry"] == "2026-12-29" and chain["monthly"] is True
        assert chain["lot_size"] == 500
        strikes = [row["strike"] for row in chain["strikes"]]
        assert gaps(strikes) == {10}
        first = chain["strikes"][0]
        assert first["PE"]["tradingsymbol"] == f"RELIANCE26DEC{int(first['strike'])}PE"

    async def test_a_stock_new_to_the_catalogue_has_its_chain(
        self, client: httpx.AsyncClient
    ) -> None:
        chain = await data(client, "/api/option_chain", {"symbol": "KOTAKBANK"})
        assert chain["expiry"] == "2026-12-29" and chain["monthly"] is True
        assert chain["lot_size"] == 2000
        strikes = [row["strike"] for row in chain["strikes"]]
        assert len(strikes) == 41 and gaps(strikes) == {2.5} and strikes[0] > 0
        atm = next(row for row in chain["strikes"] if row["strike"] == chain["atm_strike"])
        assert atm["CE"]["tradingsymbol"] == f"KOTAKBANK26DEC{atm['strike']:g}CE"

    @pytest.mark.parametrize(
        "at",
        [
            THURSDAY_NOON,
            datetime(2026, 11, 26, 20, 0, tzinfo=IST),  # evening after the session
            datetime(2026, 11, 29, 12, 0, tzinfo=IST),  # Sunday
            datetime(2026, 11, 30, 3, 0, tzinfo=IST),  # Monday night, before hours
            datetime(2026, 11, 30, 9, 5, tzinfo=IST),  # Monday pre-open
            datetime(2026, 11, 30, 9, 20, tzinfo=IST),  # Monday, just opened
        ],
    )
    async def test_option_changes_are_from_the_spots_previous_close(
        self, settings: Settings, at: datetime
    ) -> None:
        """CE change - PE change follows parity from the previous close the spot shows."""
        async with market_at(settings, at) as client:
            spot = await data(client, "/api/spot_price/NIFTY")
            ohlc = await data(client, "/api/ohlc_data/NIFTY")
            bars = await data(client, "/api/historical-data/NIFTY", {"timeframe": "1d", "days": 10})
            chain = await data(client, "/api/option_chain", {"symbol": "NIFTY"})
        sessions = [bar["timestamp"][:10] for bar in bars]
        previous = bars[sessions.index(ohlc["session"]) - 1]
        assert previous["close"] == spot["previous_close"]
        expiry_close = datetime.combine(day(chain["expiry"]), time(15, 30), IST)
        previous_close_at = datetime.combine(day(previous["timestamp"][:10]), time(15, 30), IST)
        t_now = chain["days_to_expiry"] / 365
        t_prev = years_between(previous_close_at, expiry_close)
        for row in chain["strikes"][::5]:
            k = row["strike"]
            expected = parity(spot["spot_price"], k, t_now, Kind.INDEX) - parity(
                spot["previous_close"], k, t_prev, Kind.INDEX
            )
            moved = row["CE"]["change"] - row["PE"]["change"]
            assert moved == pytest.approx(expected, abs=0.15), (k, spot["change"])

    async def test_unknown_expiry_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            "/api/option_chain", params={"symbol": "NIFTY", "expiry": "2026-12-02"}
        )
        body = smd_error(response, 404, "NOT_FOUND")
        assert "/api/expiries/NIFTY" in body["message"]

    async def test_malformed_expiry_is_400_naming_the_field(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get(
            "/api/option_chain", params={"symbol": "NIFTY", "expiry": "2026-13-01"}
        )
        body = smd_error(response, 400, "VALIDATION_ERROR")
        assert [err["field"] for err in body["error"]["details"]] == ["query.expiry"]
        assert body["message"].startswith("query.expiry")

    async def test_missing_symbol_is_400(self, client: httpx.AsyncClient) -> None:
        body = smd_error(await client.get("/api/option_chain"), 400, "VALIDATION_ERROR")
        assert [err["field"] for err in body["error"]["details"]] == ["query.symbol"]

    @pytest.mark.parametrize(
        ("symbol", "status", "code"), [("NOPE", 404, "NOT_FOUND"), ("BTC-USDT", 400, "NO_OPTIONS")]
    )
    async def test_symbol_without_chain(
        self, client: httpx.AsyncClient, symbol: str, status: int, code: str
    ) -> None:
        smd_error(await client.get("/api/option_chain", params={"symbol": symbol}), status, code)


def max_pain(rows: list[dict[str, Any]]) -> float:
    """Return the strike where option holders are paid least at expiry, by brute force."""

    def payout(price: float) -> float:
        total = 0.0
        for row in rows:
            total += row["CE"]["oi"] * max(price - row["strike"], 0)
            total += row["PE"]["oi"] * max(row["strike"] - price, 0)
        return total

    payouts = [(payout(row["strike"]), row["strike"]) for row in rows]
    return float(min(payouts)[1])  # the lowest strike wins a tie


def strike_of_most(rows: list[dict[str, Any]], side: str) -> float:
    """Return the strike with the most open interest on ``side`` (lowest on a tie)."""
    most = max(row[side]["oi"] for row in rows)
    return float(min(row["strike"] for row in rows if row[side]["oi"] == most))


class TestDashboard:
    @pytest.mark.parametrize(
        ("symbol", "expiry"),
        [("NIFTY", None), ("NIFTY", "2026-12-29"), ("BANKNIFTY", None), ("SENSEX", "2026-12-03")],
    )
    async def test_figures_are_reproducible_from_the_chain(
        self, client: httpx.AsyncClient, symbol: str, expiry: str | None
    ) -> None:
        params = {"symbol": symbol} | ({"expiry": expiry} if expiry else {})
        chain = await data(client, "/api/option_chain", params)
        board = await data(client, "/api/dashboard_data", params)
        rows = chain["strikes"]
        assert board["expiry"] == chain["expiry"] and board["spot_price"] == chain["spot_price"]
        assert board["timestamp"] == chain["timestamp"]
        total_ce = sum(row["CE"]["oi"] for row in rows)
        total_pe = sum(row["PE"]["oi"] for row in rows)
        assert board["total_ce_oi"] == total_ce and board["total_pe_oi"] == total_pe
        assert board["pcr_oi"] == pytest.approx(total_pe / total_ce)
        volumes = [sum(row[side]["volume"] for row in rows) for side in ("PE", "CE")]
        assert board["pcr_volume"] == pytest.approx(volumes[0] / volumes[1])
        assert board["ce_oi_change"] == sum(row["CE"]["change_in_oi"] for row in rows)
        assert board["pe_oi_change"] == sum(row["PE"]["change_in_oi"] for row in rows)
        assert board["max_pain"] == max_pain(rows)
        assert board["support"] == strike_of_most(rows, "PE")
        assert board["resistance"] == strike_of_most(rows, "CE")
        assert board["atm_strike"] == chain["atm_strike"]
        atm = next(row for row in rows if row["strike"] == chain["atm_strike"])
        straddle = atm["CE"]["ltp"] + atm["PE"]["ltp"]
        assert board["expected_move"]["strike"] == chain["atm_strike"]
        assert board["expected_move"]["move"] == pytest.approx(straddle, abs=0.01)
        assert board["atm_iv"] == pytest.approx((atm["CE"]["iv"] + atm["PE"]["iv"]) / 2, abs=0.01)
        assert 0 <= board["iv_percentile"] <= 100
        assert [b["strike"] for b in board["buildup"]] == [row["strike"] for row in rows]

    async def test_nifty_figures_are_plausible(self, client: httpx.AsyncClient) -> None:
        board = await data(client, "/api/dashboard_data", {"symbol": "NIFTY"})
        assert 0.3 < board["pcr_oi"] < 3
        spot = board["spot_price"]
        assert abs(board["max_pain"] - spot) < 0.05 * spot
        assert 0 < board["expected_move"]["percent"] < 5
        classes = {"long_buildup", "short_buildup", "short_covering", "long_unwinding", "neutral"}
        assert {b["CE"] for b in board["buildup"]} | {b["PE"] for b in board["buildup"]} <= classes

    async def test_unknown_expiry_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            "/api/dashboard_data", params={"symbol": "NIFTY", "expiry": "2026-12-03"}
        )
        smd_error(response, 404, "NOT_FOUND")


class TestHistoricalData:
    async def test_a_year_of_daily_bars(self, client: httpx.AsyncClient) -> None:
        body = await envelope(
            client, "/api/historical-data/NIFTY", {"timeframe": "1d", "days": 365}
        )
        bars = body["data"]
        assert 240 <= len(bars) <= 260
        assert body["meta"] == {"symbol": "NIFTY", "timeframe": "1d", "count": len(bars)}
        stamps = [at_utc(bar["timestamp"]) for bar in bars]
        assert stamps == sorted(set(stamps))
        assert all(t.weekday() < 5 and t.time() == time(0) for t in stamps)
        # Exchange holidays have no bar.
        days = {t.date() for t in stamps}
        assert date(2026, 11, 10) not in days and date(2026, 11, 24) not in days
        assert date(2026, 11, 25) in days
        for bar in bars:
            check_ohlc(bar)

    async def test_the_forming_daily_bar_ends_at_the_spot(self, client: httpx.AsyncClient) -> None:
        bars = await data(client, "/api/historical-data/NIFTY", {"timeframe": "1d", "days": 5})
        spot = await data(client, "/api/spot_price/NIFTY")
        assert bars[-1]["timestamp"].startswith("2026-11-26")
        assert bars[-1]["close"] == spot["spot_price"]
        assert bars[-2]["close"] == spot["previous_close"]

    async def test_nse_minute_bars_fall_in_session_hours(self, client: httpx.AsyncClient) -> None:
        bars = await data(client, "/api/historical-data/NIFTY", {"timeframe": "1m", "days": 30})
        stamps = [at_utc(bar["timestamp"]) for bar in bars]
        assert len(stamps) > 15 * 375
        for t in stamps:
            assert t.weekday() < 5
            assert NSE_OPEN_UTC <= t.time() < NSE_CLOSE_UTC, t
        assert stamps == sorted(set(stamps))
        assert stamps[-1] == THURSDAY_NOON - timedelta(minutes=1)
        # Every minute of a full session is there: 375 bars on Wednesday 2026-11-25.
        assert sum(1 for t in stamps if t.date() == date(2026, 11, 25)) == 375
        for bar in bars[-400:]:
            check_ohlc(bar)

    async def test_crypto_minute_bars_cover_the_whole_day(self, client: httpx.AsyncClient) -> None:
        bars = await data(client, "/api/historical-data/BTC-USDT", {"timeframe": "1m", "days": 2})
        stamps = [at_utc(bar["timestamp"]) for bar in bars]
        assert len(stamps) == 2 * 24 * 60
        assert gaps(stamps) == {timedelta(minutes=1)}
        assert any(t.time() < NSE_OPEN_UTC for t in stamps)
        assert any(t.time() >= time(22) for t in stamps)
        assert all(bar["volume"] > 0 for bar in bars)

    async def test_interval_aliases(self, client: httpx.AsyncClient) -> None:
        body = await envelope(
            client, "/api/historical-data/NIFTY%2050", {"timeframe": "5minute", "days": 1}
        )
        assert body["meta"]["timeframe"] == "5m" and body["meta"]["symbol"] == "NIFTY"
        today = [at_utc(bar["timestamp"]) for bar in body["data"]][-33:]
        # Thursday 09:15 to 12:00 IST: 33 bars five minutes apart.
        assert today[0] == datetime(2026, 11, 26, 9, 15, tzinfo=IST)
        assert gaps(today) == {timedelta(minutes=5)}

    async def test_bad_timeframe_is_400(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/historical-data/NIFTY", params={"timeframe": "7m"})
        body = smd_error(response, 400, "VALIDATION_ERROR")
        assert "1m" in body["message"]

    @pytest.mark.parametrize("days", [0, -1, 3651])
    async def test_days_out_of_range_is_400(self, client: httpx.AsyncClient, days: int) -> None:
        response = await client.get("/api/historical-data/NIFTY", params={"days": days})
        body = smd_error(response, 400, "VALIDATION_ERROR")
        assert body["error"]["details"][0]["field"] == "query.days"

    async def test_unknown_symbol_is_404(self, client: httpx.AsyncClient) -> None:
        smd_error(await client.get("/api/historical-data/NOPE"), 404, "NOT_FOUND")


class TestOhlcData:
    @pytest.mark.parametrize("symbol", ["NIFTY", "SENSEX", "RELIANCE", "BTC-USDT"])
    async def test_consistent_with_spot_and_bars(
        self, client: httpx.AsyncClient, symbol: str
    ) -> None:
        body = await envelope(client, f"/api/ohlc_data/{symbol}")
        ohlc = body["data"]
        spot = await data(client, f"/api/spot_price/{symbol}")
        assert ohlc["symbol"] == spot["symbol"] == body["meta"]["symbol"]
        assert ohlc["ltp"] == spot["spot_price"]
        assert ohlc["close"] == spot["previous_close"]
        assert ohlc["change"] == spot["change"]
        assert ohlc["change_percent"] == spot["change_percent"]
        assert ohlc["low"] <= min(ohlc["open"], ohlc["ltp"]) <= max(ohlc["open"], ohlc["ltp"])
        assert max(ohlc["open"], ohlc["ltp"]) <= ohlc["high"]
        bars = await data(client, f"/api/historical-data/{symbol}", {"timeframe": "1d", "days": 3})
        today = bars[-1]
        assert ohlc["session"] == today["timestamp"][:10] == "2026-11-26"
        assert (ohlc["open"], ohlc["high"], ohlc["low"]) == (
            today["open"],
            today["high"],
            today["low"],
        )

    async def test_stock_quote_has_a_book(self, client: httpx.AsyncClient) -> None:
        ohlc = await data(client, "/api/ohlc_data/RELIANCE")
        assert ohlc["bid"] <= ohlc["ltp"] <= ohlc["ask"] and ohlc["bid"] < ohlc["ask"]
        assert ohlc["bid_size"] > 0 and ohlc["ask_size"] > 0 and ohlc["volume"] > 0
        assert ohlc["volume"] % 500 == 0  # whole lots

    async def test_index_has_no_book(self, client: httpx.AsyncClient) -> None:
        ohlc = await data(client, "/api/ohlc_data/NIFTY")
        assert ohlc["bid"] == ohlc["ask"] == ohlc["ltp"]
        assert ohlc["volume"] == 0


class TestCandles:
    @pytest.mark.parametrize(
        "path",
        [
            "/api/candles/quote/NIFTY",
            "/api/candles/ltp/RELIANCE",
            "/api/candles/historical/NIFTY",
            "/api/candles/options-chain/BANKNIFTY",
            "/api/candles/instruments",
        ],
    )
    async def test_login_required(self, client: httpx.AsyncClient, path: str) -> None:
        response = await client.get(path)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["code"] == "NOT_AUTHENTICATED"

    async def test_quote_by_alias(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        response = await client.get("/api/candles/quote/NIFTY%2050", headers=headers)
        assert response.status_code == 200, response.text
        quote = response.json()
        assert quote["symbol"] == "NIFTY"
        assert quote["bid"] <= quote["ltp"] <= quote["ask"]
        assert quote["low"] <= quote["ltp"] <= quote["high"]
        assert quote["low"] <= quote["open"] <= quote["high"]
        assert quote["change"] == pytest.approx(quote["ltp"] - quote["close"], abs=1e-6)
        assert quote["session"] == "2026-11-26"
        spot = await data(client, "/api/spot_price/NIFTY")
        assert quote["ltp"] == spot["spot_price"] and quote["close"] == spot["previous_close"]

    async def test_contract_quotes_follow_the_underlying(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)

        async def quote(symbol: str) -> dict[str, Any]:
            response = await client.get(f"/api/candles/quote/{symbol}", headers=headers)
            assert response.status_code == 200, response.text
            found: dict[str, Any] = response.json()
            assert found["symbol"] == symbol
            assert found["bid"] <= found["ltp"] <= found["ask"]  # an index has no spread
            assert found["low"] <= found["ltp"] <= found["high"]
            assert found["low"] <= found["open"] <= found["high"]
            assert found["session"] == "2026-11-26"
            return found

        nifty, future = await quote("NIFTY"), await quote("NIFTY26DECFUT")
        assert future["bid"] < future["ask"]
        carry = future["ltp"] / nifty["ltp"]
        assert 1 < carry < 1.01  # a month of interest over dividends
        for level in ("open", "high", "low", "close"):
            assert future[level] == pytest.approx(nifty[level] * carry, abs=0.2)
        call, put = await quote("NIFTY26DEC28000CE"), await quote("NIFTY26DEC28000PE")
        assert call["close"] != call["ltp"] and put["close"] != put["ltp"]
        # A call gains when the index does, a put loses.
        assert (call["change"] > 0) == (nifty["change"] > 0) != (put["change"] > 0)
        ltp = await client.get("/api/candles/ltp/NIFTY26DECFUT", headers=headers)
        assert ltp.json()["ltp"] == future["ltp"]

    async def test_a_future_of_a_stock_new_to_the_catalogue_is_quoted(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        stock = await client.get("/api/candles/quote/TMPV", headers=headers)
        future = await client.get("/api/candles/quote/TMPV26DECFUT", headers=headers)
        assert stock.status_code == future.status_code == 200, future.text
        assert future.json()["bid"] < future.json()["ask"]
        assert 1 < future.json()["ltp"] / stock.json()["ltp"] < 1.01
        old_name = await client.get("/api/candles/quote/TATAMOTORS", headers=headers)
        assert old_name.json()["symbol"] == "TMPV"

    async def test_contracts_have_no_candles_of_their_own(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        response = await client.get("/api/candles/historical/NIFTY26DECFUT", headers=headers)
        assert (response.status_code, response.json()["code"]) == (404, "NO_HISTORY")
        assert "priced from NIFTY" in response.json()["message"]

    async def test_ltp(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        response = await client.get("/api/candles/ltp/RELIANCE", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["symbol"] == "RELIANCE" and 700 < body["ltp"] < 3_100
        assert at_utc(body["timestamp"]) == THURSDAY_NOON

    async def test_five_minute_bars_within_sessions(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        params = {
            "interval": "5m",
            "from": "2026-11-25T14:00:00+05:30",
            "to": "2026-11-26T11:00:00+05:30",
        }
        response = await client.get("/api/candles/historical/NIFTY", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["symbol"] == "NIFTY" and body["interval"] == "5m"
        stamps = [at_utc(bar["timestamp"]) for bar in body["candles"]]
        # Wednesday 14:00-15:30 (18 bars), then Thursday 09:15-11:00 (21 bars).
        assert len(stamps) == 18 + 21
        assert stamps[0] == datetime(2026, 11, 25, 14, 0, tzinfo=IST)
        assert stamps[18] == datetime(2026, 11, 26, 9, 15, tzinfo=IST)
        assert stamps[-1] == datetime(2026, 11, 26, 10, 55, tzinfo=IST)
        for a, b in pairwise(stamps):
            assert b - a == timedelta(minutes=5) or a.date() != b.date()
        for t in stamps:
            assert NSE_OPEN_UTC <= t.astimezone(UTC).time() < NSE_CLOSE_UTC
        for bar in body["candles"]:
            check_ohlc(bar)
        # Bars join up: each opens where the previous one closed, within a session.
        bars = body["candles"]
        assert all(b["open"] == a["close"] for a, b in pairwise(bars[:18]))

    async def test_naive_datetimes_are_400(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        params = {"interval": "5m", "from": "2026-11-26T09:15:00", "to": "2026-11-26T11:00:00"}
        response = await client.get("/api/candles/historical/NIFTY", params=params, headers=headers)
        assert response.status_code == 400
        assert "offset" in response.json()["message"]

    @pytest.mark.parametrize(
        "params",
        [
            {"from": "2019-06-03T09:15:00+05:30", "to": "2019-06-04T15:30:00+05:30"},
            {"to": "0001-01-01T00:05:00+00:00"},
            {"to": "0001-01-01T00:05:00+05:30", "interval": "1d"},
        ],
    )
    async def test_range_before_the_history_is_empty(
        self, client: httpx.AsyncClient, params: dict[str, str]
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.get("/api/candles/historical/NIFTY", params=params, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["candles"] == []

    async def test_bad_interval_is_400(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        response = await client.get(
            "/api/candles/historical/NIFTY", params={"interval": "2h"}, headers=headers
        )
        assert response.status_code == 400
        assert response.json()["code"] == "VALIDATION_ERROR"

    async def test_options_chain(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        response = await client.get("/api/candles/options-chain/BANKNIFTY", headers=headers)
        assert response.status_code == 200, response.text
        chain = response.json()
        assert chain["symbol"] == "BANKNIFTY" and chain["expiry"] == "2026-12-29"
        assert chain["monthly"] is True and chain["lot_size"] == 30
        strikes = [row["strike"] for row in chain["strikes"]]
        assert len(strikes) == 41
        assert gaps(strikes) == {100}
        atm = next(row for row in chain["strikes"] if row["strike"] == chain["atm_strike"])
        assert atm["CE"]["tradingsymbol"] == f"BANKNIFTY26DEC{int(atm['strike'])}CE"
        smd = await data(client, "/api/option_chain", {"symbol": "BANKNIFTY"})
        seed = {"expiry_date", "ce_options", "pe_options"}  # paper-tournaments' lists, beside
        assert smd == {key: value for key, value in chain.items() if key not in seed}

    @pytest.mark.parametrize(
        ("query", "venue", "kind"),
        [
            ("venue=OKX", Venue.OKX, None),
            ("venue=FX", Venue.FX, None),
            ("type=INDEX", None, Kind.INDEX),
            ("venue=NSE&type=EQUITY", Venue.NSE, Kind.EQUITY),
        ],
    )
    async def test_instruments_filters(
        self, client: httpx.AsyncClient, query: str, venue: Venue | None, kind: Kind | None
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.get(f"/api/candles/instruments?{query}", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        expected = [i.symbol for i in Catalogue.load().select(kind=kind, venue=venue)]
        assert [row["symbol"] for row in body["instruments"]] == expected
        assert body["count"] == len(expected) > 0

    async def test_instruments_as_csv(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        listed = await client.get("/api/candles/instruments", headers=headers)
        response = await client.get(
            "/api/candles/instruments", headers=headers | {"Accept": "text/csv"}
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        lines = response.text.splitlines()
        assert lines[0].startswith("symbol,name,kind,venue,currency")
        assert len(lines) == 1 + listed.json()["count"]
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [row["symbol"] for row in rows] == [
            i["symbol"] for i in listed.json()["instruments"]
        ]
        nifty = next(row for row in rows if row["symbol"] == "NIFTY")
        assert nifty["aliases"] == "NIFTY 50|NIFTY50" and float(nifty["lot_size"]) == 65

    async def test_unknown_symbol_is_404(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        response = await client.get("/api/candles/quote/NOPE", headers=headers)
        assert response.status_code == 404
        assert response.json()["code"] == "NOT_FOUND"


class TestUnknownSymbols:
    """Issue 14: an unknown symbol suggests the close ones, on every route that takes one."""

    @pytest.mark.parametrize(
        "path",
        [
            "/api/spot_price/{}",
            "/api/expiries/{}",
            "/api/ohlc_data/{}",
            "/api/historical-data/{}",
            "/api/option_chain?symbol={}",
        ],
    )
    async def test_smd_routes_suggest_close_matches(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        body = smd_error(await client.get(path.format("RELIANC")), 404, "NOT_FOUND")
        assert body["message"] == "unknown symbol 'RELIANC'; did you mean RELIANCE?"

    @pytest.mark.parametrize(
        "path",
        ["/api/candles/quote/{}", "/api/candles/ltp/{}", "/api/candles/historical/{}"],
    )
    async def test_candle_routes_suggest_close_matches(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.get(path.format("NIFTYX"), headers=headers)
        assert response.status_code == 404
        assert response.json()["code"] == "NOT_FOUND"
        assert response.json()["message"] == (
            "unknown symbol 'NIFTYX'; did you mean NIFTY, FINNIFTY or BANKNIFTY?"
        )

    @pytest.mark.parametrize(
        ("typed", "symbol"),
        [("reliance", "RELIANCE"), ("NIFTY50", "NIFTY"), ("BTCUSDT", "BTC-USDT"),
         ("btc-usdt", "BTC-USDT")],
    )  # fmt: skip
    async def test_case_and_aliases_resolve_as_before(
        self, client: httpx.AsyncClient, typed: str, symbol: str
    ) -> None:
        assert (await data(client, f"/api/spot_price/{typed}"))["symbol"] == symbol

    @pytest.mark.parametrize(
        ("typed", "message"),
        [
            # A name is suggested from, not resolved.
            ("Reliance Industries", "unknown symbol 'Reliance Industries'; did you mean RELIANCE?"),
            ("btc_usdt", "unknown symbol 'btc_usdt'; did you mean BTC-USDT, LTC-USDT or POL-USDT?"),
            ("ZZZQ", "unknown symbol 'ZZZQ'"),
        ],
    )
    async def test_names_and_nothing_close(
        self, client: httpx.AsyncClient, typed: str, message: str
    ) -> None:
        body = smd_error(await client.get(f"/api/spot_price/{typed}"), 404, "NOT_FOUND")
        assert body["message"] == message


class TestDeterminism:
    async def test_same_seed_and_instant_give_the_same_market(self, settings: Settings) -> None:
        answers = []
        for _ in range(2):
            async with market_at(settings, THURSDAY_NOON) as client:
                answers.append(
                    (
                        await data(client, "/api/spot_price/NIFTY"),
                        await data(client, "/api/option_chain", {"symbol": "NIFTY"}),
                        await data(client, "/api/spot_price/BTC-USDT"),
                    )
                )
        assert answers[0] == answers[1]

    async def test_another_seed_gives_other_prices(self, settings: Settings) -> None:
        prices = []
        for seed in (42, 7):
            async with market_at(settings, THURSDAY_NOON, seed=seed) as client:
                spot = await data(client, "/api/spot_price/NIFTY")
                chain = await data(client, "/api/option_chain", {"symbol": "NIFTY"})
                prices.append((spot["spot_price"], chain["strikes"][20]["CE"]["oi"]))
        assert prices[0][0] != prices[1][0]
        assert prices[0][1] != prices[1][1]
