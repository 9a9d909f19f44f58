"""smd-options' own frontend against Tradepit: its HTTP calls, replayed as it makes them.

The frontend is ``LUCKYAI1199/Frontend``; its calls are in ``src/services/ApiService.ts``, read
by its pages (``MarketSelector``, ``OptionChainPage``, ``OHLCPage``, ``EarthLogicPage``...).
What it reads, and where, is a fact these tests restate: axios' ``response.data`` is the body,
so ``response.data.spot_price`` is a top-level field and ``response.data.data`` the envelope's
``data``. The market clock stands still at Thursday 2026-11-26 12:00 IST, mid-session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import client_for, make_settings
from tradepit.app import create_app
from tradepit.domain.clock import ManualClock
from tradepit.settings import Settings

IST = ZoneInfo("Asia/Kolkata")
THURSDAY_NOON = datetime(2026, 11, 26, 12, 0, tzinfo=IST)
SATURDAY = datetime(2026, 11, 28, 12, 0, tzinfo=IST)
ENVELOPE = {"success", "message", "timestamp", "data", "meta"}
#: What ``OptionTable`` shows of each row, each checked with ``typeof x === 'number'``.
TABLE_FIGURES = ["oi", "volume", "bid_qty", "ask_qty", "iv", "ltp", "bid", "ask"]
#: What ``OHLCPage`` shows of each row ("Live per-strike Open / High / Low / Close").
OHLC_FIGURES = ["open", "high", "low", "close", "prev_open", "prev_high", "prev_low", "prev_close"]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """Yield an app whose market clock stands still at Thursday 2026-11-26 12:00 IST."""
    application = create_app(settings, clock=ManualClock(THURSDAY_NOON))
    yield application
    await application.state.wiring.engine.dispose()


async def body_of(
    client: httpx.AsyncClient, path: str, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    """GET ``path`` as axios does; return the body of a successful envelope answer."""
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) >= ENVELOPE and body["success"] is True
    return body


def at(text: str) -> datetime:
    """Return the aware instant of an ISO 8601 text."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def repeated_at_top(body: dict[str, Any]) -> None:
    """Check the body repeats each field of ``data`` at the top level (but the envelope's)."""
    for name, value in body["data"].items():
        if name not in ENVELOPE:
            assert body[name] == value, name


class TestSpotPrice:
    """``getSpotPrice``: ``GET /api/spot_price/{symbol}`` every second (``MarketSelector``),
    read as ``response.data.spot_price || response.data.price``, ``response.data.change``,
    ``response.data.change_percent``."""

    async def test_the_top_level_answers_what_the_frontend_reads(
        self, client: httpx.AsyncClient
    ) -> None:
        body = await body_of(client, "/api/spot_price/NIFTY")
        price = body.get("spot_price") or body.get("price")
        assert price == body["data"]["spot_price"] == body["price"] > 0
        assert body["change"] == body["data"]["change"]
        assert body["change_percent"] == body["data"]["change_percent"]
        assert body["change"] == pytest.approx(price - body["previous_close"], abs=1e-6)
        repeated_at_top(body)


class TestMarketStatus:
    """``getMarketStatus``: ``GET /api/market_status`` (underscore), read as
    ``{isOpen, phase, nextChange}`` at the top level."""

    async def test_mid_session_names_todays_close(self, client: httpx.AsyncClient) -> None:
        body = await body_of(client, "/api/market_status")
        assert body["isOpen"] is True and body["phase"] == "open"
        assert at(body["nextChange"]) == datetime(2026, 11, 26, 15, 30, tzinfo=IST)
        assert body["data"]["market_open"] is True and body["data"]["market_status"] == "open"
        repeated_at_top(body)

    async def test_weekend_names_mondays_open(self, settings: Settings) -> None:
        application = create_app(settings, clock=ManualClock(SATURDAY))
        try:
            async with client_for(application) as client:
                body = await body_of(client, "/api/market_status")
        finally:
            await application.state.wiring.engine.dispose()
        assert body["isOpen"] is False and body["phase"] == "closed"
        assert at(body["nextChange"]) == datetime(2026, 11, 30, 9, 15, tzinfo=IST)
        assert at(body["next_open"]) == at(body["nextChange"])

    async def test_both_paths_give_the_same_answer(self, client: httpx.AsyncClient) -> None:
        underscore = await body_of(client, "/api/market_status")
        hyphen = await body_of(client, "/api/market-status")
        for body in (underscore, hyphen):
            del body["timestamp"]
        assert underscore == hyphen


class TestSymbolsAndExpiries:
    """``getAllSymbolsFull``, ``getAvailableSymbols`` and ``getAllStocks``:
    ``GET /api/real-data/all-symbols``, read as ``response.data.data.indices``, ``.stocks``,
    ``.commodities``, ``.stocks_with_options``; ``getExpiryDates``:
    ``GET /api/real-data/expiries/{symbol}``, read as ``response.data.data.expiry_dates``."""

    async def test_the_symbol_lists(self, client: httpx.AsyncClient) -> None:
        lists = (await body_of(client, "/api/real-data/all-symbols"))["data"]
        assert lists["indices"] == ["NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "SENSEX"]
        assert lists["commodities"] == []
        assert {"RELIANCE", "HDFCBANK", "SBIN"} <= set(lists["stocks_with_options"])
        assert set(lists["stocks_with_options"]) <= set(lists["stocks"])
        assert lists["all"] == lists["indices"] + lists["stocks"]
        assert lists["total_stocks_with_options"] == len(lists["stocks_with_options"])

    async def test_every_listed_option_symbol_has_expiries(self, client: httpx.AsyncClient) -> None:
        lists = (await body_of(client, "/api/real-data/all-symbols"))["data"]
        for symbol in lists["indices"] + lists["stocks_with_options"][:5]:
            found = (await body_of(client, f"/api/real-data/expiries/{symbol}"))["data"]
            listed = (await body_of(client, f"/api/expiries/{symbol}"))["data"]
            assert found["expiry_dates"] == listed and listed, symbol
            assert set(found["monthly"]) <= set(listed)

    async def test_nifty_expires_on_tuesdays(self, client: httpx.AsyncClient) -> None:
        found = (await body_of(client, "/api/real-data/expiries/NIFTY"))["data"]["expiry_dates"]
        assert found[0] == "2026-12-01"
        assert {date.fromisoformat(day).weekday() for day in found} == {1}

    async def test_an_unknown_symbol_is_an_error_the_frontend_can_show(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/real-data/expiries/NOPE")
        assert response.status_code == 404
        body = response.json()
        # handleApiError shows body.message; body.error.code otherwise.
        assert body["success"] is False and body["error"]["code"] == "NOT_FOUND"
        assert "NOPE" in body["message"]


async def flat_chain(client: httpx.AsyncClient, symbol: str, **params: Any) -> dict[str, Any]:
    """Return what ``getOptionChain`` returns: ``response.data.data``."""
    body = await body_of(client, f"/api/real-data/option-chain/{symbol}", params)
    chain: dict[str, Any] = body["data"]
    return chain


class TestOptionChain:
    """``getOptionChain``: ``GET /api/real-data/option-chain/{symbol}?expiry=``, with the
    first expiry ``MarketSelector`` selects; ``OptionTable`` shows ``option_chain`` by
    ``strike_price`` and marks the row whose strike is ``atm_strike``."""

    async def test_the_table_has_every_figure_it_shows(self, client: httpx.AsyncClient) -> None:
        expiry = (await body_of(client, "/api/real-data/expiries/NIFTY"))["data"]["expiry_dates"]
        chain = await flat_chain(client, "NIFTY", expiry=expiry[0])
        rows = chain["option_chain"]
        strikes = [row["strike_price"] for row in rows]
        assert len(rows) == 41 and strikes == sorted(strikes)
        assert chain["atm_strike"] in strikes
        assert strikes[0] < chain["spot_price"] < strikes[-1]
        assert chain["expiry"] == expiry[0]
        for row in rows:
            for side in ("ce", "pe"):
                for name in TABLE_FIGURES:
                    assert isinstance(row[f"{side}_{name}"], float), (side, name)
            assert row["ce_bid_qty"] == row["pe_ask_qty"] == 50 * 65  # 50 lots of NIFTY

    async def test_the_rows_are_the_chain_routes_options(self, client: httpx.AsyncClient) -> None:
        flat = await flat_chain(client, "NIFTY")
        chain = (await body_of(client, "/api/option_chain", {"symbol": "NIFTY"}))["data"]
        assert flat["expiry"] == chain["expiry"] and flat["spot_price"] == chain["spot_price"]
        assert flat["atm_strike"] == chain["atm_strike"]
        for row, strike in zip(flat["option_chain"], chain["strikes"], strict=True):
            assert row["strike_price"] == strike["strike"]
            for side in ("CE", "PE"):
                option = strike[side]
                for name, value in option.items():
                    assert row[f"{side.lower()}_{name}"] == value, (strike["strike"], side, name)
                assert row[f"{side.lower()}_oi_change"] == option["change_in_oi"]

    async def test_totals_pcr_and_max_pain_are_the_dashboards(
        self, client: httpx.AsyncClient
    ) -> None:
        flat = await flat_chain(client, "NIFTY")
        board = await body_of(client, "/api/dashboard_data", {"symbol": "NIFTY"})
        for name in ("total_ce_oi", "total_pe_oi", "total_ce_volume", "total_pe_volume",
                     "pcr_oi", "pcr_volume", "max_pain", "atm_strike", "change"):  # fmt: skip
            assert flat[name] == board[name] == board["data"][name], name
        rows = flat["option_chain"]
        assert flat["total_ce_oi"] == sum(row["ce_oi"] for row in rows)
        assert flat["pcr_oi"] == pytest.approx(flat["total_pe_oi"] / flat["total_ce_oi"])

    async def test_per_strike_ohlc_for_the_ohlc_page(self, client: httpx.AsyncClient) -> None:
        flat = await flat_chain(client, "NIFTY")
        spot = flat["spot_price"]
        for row in flat["option_chain"]:
            for side in ("ce", "pe"):
                o, h, low, c, po, ph, pl, pc = (row[f"{side}_{n}"] for n in OHLC_FIGURES)
                assert low <= min(o, c) and max(o, c) <= h
                assert pl <= min(po, pc) and max(po, pc) <= ph
                assert c == row[f"{side}_ltp"]
                assert pc == pytest.approx(row[f"{side}_ltp"] - row[f"{side}_change"], abs=1e-6)
            k = row["strike_price"]
            assert row["ce_intrinsic"] == round(max(spot - k, 0), 2)
            assert row["pe_intrinsic"] == round(max(k - spot, 0), 2)
            assert row["ce_time_val"] == pytest.approx(row["ce_ltp"] - row["ce_intrinsic"])

    async def test_an_options_session_is_its_quotes(self, client: httpx.AsyncClient) -> None:
        flat = await flat_chain(client, "NIFTY")
        atm = next(r for r in flat["option_chain"] if r["strike_price"] == flat["atm_strike"])
        for side in ("ce", "pe"):
            quote = await body_of(client, f"/api/ohlc_data/{atm[f'{side}_tradingsymbol']}")
            assert quote["data"]["ltp"] == atm[f"{side}_ltp"]
            for name in ("open", "high", "low"):
                assert quote["data"][name] == atm[f"{side}_{name}"], (side, name)

    async def test_without_expiry_the_nearest(self, client: httpx.AsyncClient) -> None:
        flat = await flat_chain(client, "BANKNIFTY", include_all_strikes="true")
        listed = (await body_of(client, "/api/expiries/BANKNIFTY"))["data"]
        assert flat["expiry"] == listed[0]
        assert flat["symbol"] == "BANKNIFTY"

    async def test_refusals_are_envelope_errors(self, client: httpx.AsyncClient) -> None:
        unknown = await client.get("/api/real-data/option-chain/NOPE")
        bad = await client.get("/api/real-data/option-chain/NIFTY", params={"expiry": "soon"})
        no_such = await client.get(
            "/api/real-data/option-chain/NIFTY", params={"expiry": "2026-12-02"}
        )
        assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "NOT_FOUND")
        assert (bad.status_code, bad.json()["error"]["code"]) == (400, "VALIDATION_ERROR")
        assert (no_such.status_code, no_such.json()["error"]["code"]) == (404, "NOT_FOUND")


class TestOhlc:
    """``getOHLCData``: ``GET /api/ohlc_data/{symbol}`` and ``getUnderlyingOHLC``:
    ``GET /api/underlying_ohlc/{symbol}``, both read as ``{current_day, previous_day,
    reference_price}`` at the top level; ``getHistoricalOHLC``: ``GET /api/ohlc_data/{symbol}
    ?symbol=&from=&to=&interval=``, read as ``response.data.data`` (bars)."""

    async def test_the_sessions_at_the_top_level(self, client: httpx.AsyncClient) -> None:
        body = await body_of(client, "/api/ohlc_data/NIFTY")
        spot = (await body_of(client, "/api/spot_price/NIFTY"))["data"]
        today, before = body["current_day"], body["previous_day"]
        assert today["date"] == "2026-11-26" and before["date"] == "2026-11-25"
        assert today["close"] == body["live_price"] == spot["spot_price"]
        assert body["reference_price"] == before["close"] == spot["previous_close"]
        quote = body["data"]
        assert (today["open"], today["high"], today["low"]) == (
            quote["open"], quote["high"], quote["low"]
        )  # fmt: skip
        assert today["low"] <= today["close"] <= today["high"]

    async def test_underlying_ohlc_is_the_same_in_data_and_at_the_top(
        self, client: httpx.AsyncClient
    ) -> None:
        body = await body_of(client, "/api/underlying_ohlc/BANKNIFTY")
        ohlc = await body_of(client, "/api/ohlc_data/BANKNIFTY")
        repeated_at_top(body)
        for name in ("symbol", "current_day", "previous_day", "live_price", "reference_price"):
            assert body[name] == ohlc[name]

    async def test_a_contract_has_no_previous_day_of_its_own(
        self, client: httpx.AsyncClient
    ) -> None:
        body = await body_of(client, "/api/underlying_ohlc/NIFTY26DECFUT")
        assert body["previous_day"] is None
        assert body["current_day"]["close"] == body["live_price"] > 0

    async def test_historical_ohlc_answers_bars(self, client: httpx.AsyncClient) -> None:
        params = {"symbol": "NIFTY", "from": "2026-11-20", "to": "2026-11-26", "interval": "day"}
        bars = (await body_of(client, "/api/ohlc_data/NIFTY", params))["data"]
        daily = (await body_of(client, "/api/historical-data/NIFTY", {"timeframe": "1d"}))["data"]
        days = [bar["timestamp"][:10] for bar in bars]
        assert days == ["2026-11-20", "2026-11-23", "2026-11-25", "2026-11-26"]  # 24th: holiday
        assert bars == [bar for bar in daily if bar["timestamp"][:10] in days]

    async def test_an_unknown_symbol_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/underlying_ohlc/NOPE")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"


class TestHistoricalData:
    """smd-options' own timeframe names (``1min``, ``5min``, ``15min``, ``1hour``, ``1day``)."""

    @pytest.mark.parametrize(
        ("theirs", "ours"),
        [("1min", "1m"), ("5min", "5m"), ("15min", "15m"), ("1hour", "1h"), ("1day", "1d")],
    )
    async def test_timeframes(self, client: httpx.AsyncClient, theirs: str, ours: str) -> None:
        path = "/api/historical-data/NIFTY"
        mine = await body_of(client, path, {"timeframe": theirs, "days": 1})
        same = await body_of(client, path, {"timeframe": ours, "days": 1})
        assert mine["data"] == same["data"] and mine["data"]
        assert mine["meta"]["timeframe"] == ours

    async def test_a_timeframe_tradepit_does_not_build_is_400(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/historical-data/NIFTY", params={"timeframe": "3min"})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert "1m, 5m, 15m, 1h, 1d" in response.json()["message"]


class TestDashboard:
    """``getDashboardData``: ``GET /api/dashboard_data?symbol=``, read at the top level."""

    async def test_the_metrics_at_the_top_level(self, client: httpx.AsyncClient) -> None:
        body = await body_of(client, "/api/dashboard_data", {"symbol": "NIFTY"})
        repeated_at_top(body)
        spot = (await body_of(client, "/api/spot_price/NIFTY"))["data"]
        assert body["spot_price"] == spot["spot_price"]
        assert body["total_ce_volume"] > 0 and body["total_pe_volume"] > 0


class TestStatusAndChecks:
    """``getHealthStatus`` (``/health``), ``getApiStatus`` (``/api/status``, read as
    ``{status, timestamp}``), ``ping`` (``/api/ping``), ``testKiteConnection``
    (``/api/real-data/test-connection``) and ``testWebSocketConnection``
    (``POST /api/websocket/test``): each needs a 2xx answer."""

    async def test_health_status_and_ping(self, client: httpx.AsyncClient) -> None:
        health = await client.get("/health")
        status = (await client.get("/api/status")).json()
        ping = await body_of(client, "/api/ping")
        assert health.status_code == 200 and health.json()["data"]["status"] == "healthy"
        assert status["status"] == "ok"
        assert abs(at(status["timestamp"]) - datetime.now(IST)) < timedelta(minutes=1)
        assert ping["data"] == {"pong": True}

    async def test_the_simulator_needs_no_connection(self, client: httpx.AsyncClient) -> None:
        check = (await body_of(client, "/api/real-data/test-connection"))["data"]
        assert check["success"] is True and check["feed"] == "simulator"

    async def test_a_replayed_feed_that_does_not_run_is_503(
        self, tmp_path: Path, settings: Settings
    ) -> None:
        ticks = tmp_path / "ticks.csv"
        ticks.write_text("timestamp,symbol,ltp\n2026-11-26T06:30:00+00:00,NIFTY,26000\n")
        replay = make_settings(settings.data_dir, settings.db_url, feed=f"replay:{ticks}")
        application = create_app(replay, clock=ManualClock(THURSDAY_NOON))
        try:
            async with client_for(application) as client:
                response = await client.get("/api/real-data/test-connection")
        finally:
            await application.state.wiring.engine.dispose()
        assert response.status_code == 503
        body = response.json()
        assert body["success"] is False and body["error"]["code"] == "UNAVAILABLE"
        assert body["message"] == "market data is not flowing: the feed is starting"

    async def test_websocket_test_answers_the_statistics(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/api/websocket/test")
        assert response.status_code == 200
        found = response.json()["data"]
        assert found["test_signal_sent"] is False
        assert found["connection_stats"]["worker"]["connections"] == {"ws": 0, "socketio": 0}


class TestOpenApi:
    """The aliases and the extra routes are in the OpenAPI document."""

    async def test_routes_and_fields_are_documented(self, client: httpx.AsyncClient) -> None:
        document = (await client.get("/openapi.json")).json()
        for path in ("/api/market_status", "/api/underlying_ohlc/{symbol}", "/api/ping",
                     "/api/real-data/all-symbols", "/api/real-data/expiries/{symbol}",
                     "/api/real-data/option-chain/{symbol}", "/api/real-data/test-connection",
                     "/api/websocket/test"):  # fmt: skip
            assert path in document["paths"], path
        schemas = document["components"]["schemas"]
        assert {"isOpen", "phase", "nextChange", "market_open"} <= set(
            schemas["MarketStatusEnvelope"]["properties"]
        )
        assert {"spot_price", "price", "data"} <= set(schemas["SpotEnvelope"]["properties"])
        row = set(schemas["ChainRowRead"]["properties"])
        assert {"strike_price", "ce_ltp", "pe_oi", "ce_oi_change", "ce_change_in_oi"} <= row
        ohlc = document["paths"]["/api/ohlc_data/{symbol}"]["get"]["parameters"]
        assert {"interval", "from", "to"} <= {p["name"] for p in ohlc}
