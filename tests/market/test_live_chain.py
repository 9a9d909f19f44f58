"""Option chains on a live feed: the feed's option quotes over the model, IV solved back.

The market stands still at Thursday 2026-11-26 12:00 IST with NIFTY at 26150; its nearest
expiry is the weekly of Tuesday 2026-12-01. Option ticks are priced with Black-Scholes at 18 %
volatility (the chain's rate and dividend yield) and rounded to the 0.05 tick, so the IV the
chain solves back is 18 % within what half a tick is worth in volatility. The Kite side runs
``KiteSession.option_tokens`` against a local stand-in of Kite's per-exchange instrument dumps.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.standins import serve
from tradepit.app import kite_options
from tradepit.domain import options
from tradepit.domain.clock import ManualClock
from tradepit.domain.instruments import Instrument, Kind, Right, Venue, derivative_symbol
from tradepit.domain.market import Tick
from tradepit.domain.sessions import TradingCalendar
from tradepit.market.calendars import load_calendar
from tradepit.market.catalogue import Catalogue
from tradepit.market.chains import (
    DIVIDEND_YIELD,
    LIVE,
    MODEL,
    RISK_FREE,
    Chain,
    years_to_expiry,
)
from tradepit.market.data import MarketData, OptionQuotes, exchange_trading_minutes
from tradepit.market.kite_feed import (
    MAX_TOKENS_PER_CONNECTION,
    OPTION_TOKEN_LIMIT,
    KiteError,
    KiteFeed,
    KiteSession,
    map_options,
    to_tick,
)
from tradepit.market.quotes import QuoteBook
from tradepit.market.simulator import Simulator
from tradepit.services.market import chain_read

IST = ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=IST)
SPOT = Decimal("26150.00")
VOL = 0.18
Q = DIVIDEND_YIELD[Kind.INDEX]
SEED = 11
#: Strikes quoted live: calls with two-sided quotes, puts with a last price only.
LIVE_STRIKES = (26000, 26100, 26150, 26200, 26300)
#: A deep in-the-money call whose last trade is below intrinsic value.
BELOW_INTRINSIC = 25600


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    """Return the shipped catalogue."""
    return Catalogue.load()


@pytest.fixture(scope="module")
def calendar() -> TradingCalendar:
    """Return the exchange calendar."""
    return load_calendar()


def market_on(book: QuoteBook, catalogue: Catalogue, calendar: TradingCalendar) -> MarketData:
    """Return the market over ``book`` with its clock standing at ``NOW``."""
    return MarketData(catalogue, calendar, book, ManualClock(NOW), seed=SEED)


def spot_tick(symbol: str = "NIFTY", ltp: Decimal = SPOT) -> Tick:
    """Return an index tick (no depth, no volume) at ``NOW``."""
    return Tick(symbol, NOW, ltp, ltp, ltp, Decimal(0), Decimal(0), Decimal(0))


def option(nifty: Instrument, expiry: date, strike: int, right: Right, monthly: bool) -> Instrument:
    """Return a NIFTY option as the Kite feed builds it."""
    return Instrument(
        symbol=derivative_symbol(
            "NIFTY", expiry, monthly=monthly, strike=Decimal(strike), right=right
        ),
        name=f"NIFTY {expiry} {strike} {right.value}",
        kind=Kind.OPTION,
        venue=Venue.NFO,
        currency="INR",
        tick_size=Decimal("0.05"),
        lot_size=nifty.lot_size,
        underlying="NIFTY",
        expiry=expiry,
        strike=Decimal(strike),
        right=right,
    )


def fair(strike: float, years: float, is_call: bool, vol: float = VOL) -> Decimal:
    """Return the Black-Scholes price at ``vol`` on the 0.05 grid."""
    value = float(options.price(float(SPOT), strike, years, RISK_FREE, vol, is_call, q=Q))
    return Decimal(round(value / 0.05)) * Decimal("0.05")


def option_tick(
    symbol: str, ltp: Decimal, spread: Decimal | None = None, *, oi: int = 123_450
) -> Tick:
    """Return an option tick: two-sided around ``ltp`` when ``spread`` is given, else last only."""
    if spread is None:
        return Tick(symbol, NOW, ltp, ltp, ltp, Decimal(0), Decimal(0), Decimal(6500), Decimal(oi))
    bid, ask = ltp - spread, ltp + spread
    return Tick(symbol, NOW, ltp, bid, ask, Decimal(650), Decimal(1300), Decimal(6500), Decimal(oi))


class Live:
    """A quote book with NIFTY's spot and live quotes of some options of its nearest expiry."""

    def __init__(self, catalogue: Catalogue, calendar: TradingCalendar) -> None:
        nifty = catalogue.get("NIFTY")
        self.book = QuoteBook(catalogue)
        self.market = market_on(self.book, catalogue, calendar)
        nearest = self.market.expiries("NIFTY")[0]
        self.expiry = nearest.date
        self.years = years_to_expiry(nearest.date, NOW, nifty)
        contracts = {
            (strike, right): option(nifty, nearest.date, strike, right, nearest.monthly)
            for strike in (*LIVE_STRIKES, BELOW_INTRINSIC)
            for right in Right
        }
        self.symbols = {key: contract.symbol for key, contract in contracts.items()}
        self.book.track(contracts.values())
        ticks = [spot_tick()]
        for strike in LIVE_STRIKES:
            call = fair(strike, self.years, True)
            ticks.append(option_tick(self.symbols[strike, Right.CE], call, Decimal("1.50")))
            ticks.append(
                option_tick(self.symbols[strike, Right.PE], fair(strike, self.years, False))
            )
        intrinsic = SPOT - BELOW_INTRINSIC
        ticks.append(option_tick(self.symbols[BELOW_INTRINSIC, Right.CE], intrinsic - 40))
        self.book.apply(ticks)

    def chain(self) -> Chain:
        """Return the NIFTY chain of the nearest expiry."""
        return self.market.chain("NIFTY")


@pytest.fixture
def live(catalogue: Catalogue, calendar: TradingCalendar) -> Live:
    """Return the live market."""
    return Live(catalogue, calendar)


def at(chain: Chain, strike: float) -> int:
    """Return the index of ``strike`` in the chain."""
    found = np.flatnonzero(chain.strikes == strike)
    assert found.size == 1, strike
    return int(found[0])


def model_chain(catalogue: Catalogue, calendar: TradingCalendar) -> Chain:
    """Return the chain of the same instant and spot with no option quotes at all."""
    book = QuoteBook(catalogue)
    book.apply([spot_tick()])
    return market_on(book, catalogue, calendar).chain("NIFTY")


# -- The quote book -----------------------------------------------------------------------------


def test_the_quote_book_keeps_tracked_options_without_candles(
    live: Live, catalogue: Catalogue
) -> None:
    symbol = live.symbols[26150, Right.CE]
    tick = live.book.option_tick(symbol)
    assert tick is not None and tick.symbol == symbol
    assert live.book.candles(symbol, "1m", NOW.replace(hour=0), NOW.replace(hour=23)) == []
    assert live.book.option_tick(live.symbols[26150, Right.PE]) is not None
    assert live.book.option_tick(live.symbols[BELOW_INTRINSIC, Right.PE]) is None  # no tick yet
    untracked = derivative_symbol(
        "NIFTY", live.expiry, monthly=False, strike=Decimal(27000), right=Right.CE
    )
    live.book.apply([option_tick(untracked, Decimal("5.00"))])
    assert live.book.option_tick(untracked) is None


def test_tracking_a_new_set_drops_the_ticks_of_the_old(live: Live, catalogue: Catalogue) -> None:
    kept = live.symbols[26100, Right.CE]
    nifty = catalogue.get("NIFTY")
    still = option(nifty, live.expiry, 26100, Right.CE, False)
    assert still.symbol == kept
    live.book.track([still, nifty])  # the catalogue's NIFTY keeps its candles, untracked
    assert live.book.option_tick(kept) is not None
    assert live.book.option_tick(live.symbols[26150, Right.CE]) is None
    assert live.book.option_tick("NIFTY") is None
    assert live.book.tick_at("NIFTY", NOW).ltp == SPOT


def test_the_quote_book_quotes_options_and_the_simulator_does_not(
    live: Live, catalogue: Catalogue, calendar: TradingCalendar
) -> None:
    assert isinstance(live.book, OptionQuotes)
    simulator = Simulator(catalogue, SEED, exchange_trading_minutes(calendar))
    assert not isinstance(simulator, OptionQuotes)


# -- The chain ---------------------------------------------------------------------------------


def test_options_with_ticks_are_live_and_the_rest_model(live: Live) -> None:
    chain = live.chain()
    assert chain.expiry == date(2026, 12, 1) and chain.spot == float(SPOT)
    live_calls = {float(k) for k in chain.strikes[chain.calls.source == LIVE]}
    live_puts = {float(k) for k in chain.strikes[chain.puts.source == LIVE]}
    assert live_calls == {*map(float, LIVE_STRIKES), float(BELOW_INTRINSIC)}
    assert live_puts == set(map(float, LIVE_STRIKES))
    assert (chain.calls.source == MODEL).sum() == chain.strikes.size - len(live_calls)
    assert (chain.puts.source == MODEL).sum() == chain.strikes.size - len(live_puts)


@pytest.mark.parametrize("right", list(Right))
def test_iv_solved_from_live_prices_comes_back_at_the_pricing_vol(live: Live, right: Right) -> None:
    chain = live.chain()
    is_call = right is Right.CE
    side = chain.calls if is_call else chain.puts
    for strike in LIVE_STRIKES:
        i = at(chain, strike)
        vega = float(options.greeks(float(SPOT), strike, chain.years_to_expiry, RISK_FREE, VOL,
                                    is_call, q=Q).vega) * 100  # fmt: skip
        half_tick = 0.025 / vega  # the volatility half a tick is worth
        assert side.iv[i] == pytest.approx(VOL, abs=half_tick * 1.01), strike
        assert abs(side.iv[i] - VOL) < 0.001  # near the money half a tick is under 0.1 point


def test_greeks_are_recomputed_at_the_solved_iv(
    live: Live, catalogue: Catalogue, calendar: TradingCalendar
) -> None:
    chain = live.chain()
    model = model_chain(catalogue, calendar)
    for side, model_side, is_call in (
        (chain.calls, model.calls, True),
        (chain.puts, model.puts, False),
    ):
        for strike in LIVE_STRIKES:
            i = at(chain, strike)
            expected = options.greeks(
                chain.spot, strike, chain.years_to_expiry, RISK_FREE, side.iv[i], is_call, q=Q
            )
            for name in ("delta", "gamma", "theta", "vega", "rho"):
                assert getattr(side, name)[i] == pytest.approx(float(getattr(expected, name))), name
            # The model's smile sits well below 18 %: the live figures are not the model's.
            assert model_side.iv[i] < VOL - 0.02
            assert abs(side.theta[i]) > 1.2 * abs(model_side.theta[i])


def test_prices_sizes_and_oi_come_from_the_ticks(
    live: Live, catalogue: Catalogue, calendar: TradingCalendar
) -> None:
    chain = live.chain()
    model = model_chain(catalogue, calendar)
    i = at(chain, 26200)
    call = live.book.option_tick(live.symbols[26200, Right.CE])
    put = live.book.option_tick(live.symbols[26200, Right.PE])
    assert call is not None and put is not None
    assert (chain.calls.ltp[i], chain.calls.bid[i], chain.calls.ask[i]) == (
        float(call.ltp),
        float(call.bid),
        float(call.ask),
    )
    assert chain.calls.ask[i] - chain.calls.bid[i] == pytest.approx(3.0)
    assert (chain.puts.ltp[i], chain.puts.bid[i], chain.puts.ask[i]) == (float(put.ltp),) * 3
    assert chain.calls.volume[i] == 6500 and chain.calls.oi[i] == 123_450
    # Ticks carry no previous close or OI: the changes stay the model's.
    assert chain.calls.change[i] == model.calls.change[i]
    assert chain.calls.oi_change[i] == model.calls.oi_change[i]
    # Model options are untouched.
    j = at(chain, 26500)
    for name in ("ltp", "bid", "ask", "iv", "delta", "oi", "volume"):
        assert getattr(chain.calls, name)[j] == getattr(model.calls, name)[j], name


def test_the_mid_is_solved_when_both_sides_are_quoted(live: Live) -> None:
    """A stale last trade does not move the IV while the quotes are two-sided."""
    symbol = live.symbols[26150, Right.CE]
    quoted = live.book.option_tick(symbol)
    assert quoted is not None
    stale = replace(quoted, ltp=quoted.ltp + 20)  # bid and ask still straddle the fair price
    live.book.apply([stale])
    chain = live.chain()
    i = at(chain, 26150)
    assert chain.calls.ltp[i] == float(stale.ltp)
    assert abs(chain.calls.iv[i] - VOL) < 0.001


def test_a_price_below_intrinsic_has_no_iv_and_the_models_greeks(
    live: Live, catalogue: Catalogue, calendar: TradingCalendar
) -> None:
    chain = live.chain()
    model = model_chain(catalogue, calendar)
    i = at(chain, BELOW_INTRINSIC)
    assert chain.calls.source[i] == LIVE
    assert chain.calls.ltp[i] == float(SPOT - BELOW_INTRINSIC - 40)
    assert math.isnan(chain.calls.iv[i])
    for name in ("delta", "gamma", "theta", "vega", "rho"):
        value = getattr(chain.calls, name)[i]
        assert math.isfinite(value) and value == getattr(model.calls, name)[i], name
    read = chain_read(chain)
    row = next(r for r in read.strikes if r.strike == BELOW_INTRINSIC)
    assert row.CE.iv is None and row.CE.source == "live" and row.PE.source == "model"
    assert json.loads(read.model_dump_json())["strikes"][i]["CE"]["iv"] is None


def test_the_simulators_chain_is_all_model(catalogue: Catalogue, calendar: TradingCalendar) -> None:
    simulator = Simulator(catalogue, SEED, exchange_trading_minutes(calendar))
    market = MarketData(catalogue, calendar, simulator, ManualClock(NOW), seed=SEED)
    chain = market.chain("NIFTY")
    assert (chain.calls.source == MODEL).all() and (chain.puts.source == MODEL).all()
    assert np.isfinite(chain.calls.iv).all() and np.isfinite(chain.puts.iv).all()
    assert {row.CE.source for row in chain_read(chain).strikes} == {"model"}


async def test_the_routes_show_live_options_and_a_null_iv(
    app: FastAPI, client: httpx.AsyncClient, live: Live
) -> None:
    app.state.wiring.market = live.market
    response = await client.get("/api/option_chain", params={"symbol": "NIFTY"})
    assert response.status_code == 200, response.text
    rows = {row["strike"]: row for row in response.json()["data"]["strikes"]}
    deep = rows[BELOW_INTRINSIC]["CE"]
    assert deep["tradingsymbol"] == live.symbols[BELOW_INTRINSIC, Right.CE]
    assert deep["iv"] is None and deep["source"] == "live"
    atm = rows[26150]
    assert atm["CE"]["source"] == atm["PE"]["source"] == "live"
    assert atm["CE"]["iv"] == pytest.approx(VOL * 100, abs=0.1)
    assert rows[26500]["CE"]["source"] == "model"
    board = await client.get("/api/dashboard_data", params={"symbol": "NIFTY"})
    assert board.status_code == 200, board.text
    data = board.json()["data"]
    assert data["atm_iv"] == pytest.approx((atm["CE"]["iv"] + atm["PE"]["iv"]) / 2, abs=0.01)


# -- Kite: picking the option contracts to stream ---------------------------------------------

API_KEY = "kite-key"
ACCESS_TOKEN = "access-token-ok"
HEADER = (
    "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,"
    "lot_size,instrument_type,segment,exchange\n"
)
#: NIFTY's weeklies of 1 and 8 December and its monthly of 29 December 2026.
NIFTY_EXPIRIES = (
    (date(2026, 12, 1), False),
    (date(2026, 12, 8), False),
    (date(2026, 12, 29), True),
)
NIFTY_STRIKES = range(25800, 26401, 100)


def nfo_csv() -> str:
    """Return an NFO dump in Kite's layout: NIFTY options, a future and stray rows."""
    lines = [HEADER]
    token = 10_000_000
    for expiry, monthly in NIFTY_EXPIRIES:
        for strike in reversed(NIFTY_STRIKES):  # the dump is in no particular order
            for right in Right:
                symbol = derivative_symbol(
                    "NIFTY", expiry, monthly=monthly, strike=Decimal(strike), right=right
                )
                lines.append(
                    f"{token},{token // 256},{symbol},NIFTY,0,{expiry},{strike},0.05,75,"
                    f"{right.value},NFO-OPT,NFO\n"
                )
                token += 1
    lines += [
        "13238786,51714,NIFTY26DECFUT,NIFTY,0,2026-12-29,0,0.1,75,FUT,NFO-FUT,NFO\n",
        "20000001,78126,NIFTYNXT5026DEC70000CE,NIFTYNXT50,0,2026-12-29,70000,0.05,25,CE,NFO-OPT,NFO\n",
        "20000002,78127,RELIANCE26DEC1250CE,RELIANCE,0,2026-12-29,1250,0.05,500,CE,NFO-OPT,NFO\n",
        "20000003,78128,RELIANCE26DEC1252.5CE,RELIANCE,0,2026-12-29,1252.5,0.05,500,CE,NFO-OPT,NFO\n",
        # Not how we spell it (the year is wrong): left out.
        "20000004,78129,RELIANCE25DEC1250PE,RELIANCE,0,2026-12-29,1250,0.05,500,PE,NFO-OPT,NFO\n",
    ]
    return "".join(lines)


BFO_CSV = HEADER + (
    "30000001,1,SENSEX26D0385000CE,SENSEX,0,2026-12-03,85000,0.05,20,CE,BFO-OPT,BFO\n"
    "30000002,2,SENSEX26D0385100CE,SENSEX,0,2026-12-03,85100,0.05,20,CE,BFO-OPT,BFO\n"
    "30000003,3,SENSEX26D0385200CE,SENSEX,0,2026-12-03,85200,0.05,20,CE,BFO-OPT,BFO\n"
    # A SENSEX option listed on NFO is not SENSEX's (its venue is BFO).
    "30000004,4,SENSEX26D0385100PE,SENSEX,0,2026-12-03,85100,0.05,20,PE,NFO-OPT,NFO\n"
)


def dump_app(requests: list[str]) -> Starlette:
    """Return Kite's ``GET /instruments/{exchange}``, recording the exchanges asked for."""
    dumps = {"NFO": nfo_csv(), "BFO": BFO_CSV}

    async def instruments(request: Request) -> Response:
        if request.headers.get("authorization") != f"token {API_KEY}:{ACCESS_TOKEN}":
            body = {"status": "error", "message": "Incorrect `api_key` or `access_token`.",
                    "data": None, "error_type": "TokenException"}  # fmt: skip
            return JSONResponse(body, status_code=403)
        exchange = request.path_params["exchange"]
        requests.append(exchange)
        return Response(dumps.get(exchange, HEADER), media_type="text/csv")

    return Starlette(routes=[Route("/instruments/{exchange}", instruments)])


@pytest.fixture(scope="module")
def dump_requests() -> list[str]:
    """Return the exchanges the stand-in was asked for, in order."""
    return []


@pytest.fixture(scope="module")
async def dump_root(dump_requests: list[str]) -> AsyncIterator[str]:
    """Run the dump stand-in under uvicorn on a free port of 127.0.0.1; yield its root."""
    async with serve(dump_app(dump_requests)) as port:
        yield f"http://127.0.0.1:{port}"


async def test_option_tokens_pick_the_nearest_expiries_and_strikes(
    dump_root: str, dump_requests: list[str], catalogue: Catalogue
) -> None:
    session = KiteSession(API_KEY, "secret", root=dump_root)
    underlyings = [catalogue.get("NIFTY"), catalogue.get("SENSEX")]
    dump_requests.clear()
    picked = await session.option_tokens(
        ACCESS_TOKEN, underlyings, {"NIFTY": Decimal("26140")}, strikes_each_side=1
    )
    assert dump_requests == ["BFO", "NFO"]
    nifty = {s for s in picked.tokens if s.startswith("NIFTY")}
    expected = {
        derivative_symbol("NIFTY", expiry, monthly=monthly, strike=Decimal(k), right=right)
        for expiry, monthly in NIFTY_EXPIRIES[:2]  # the two nearest
        for k in (26000, 26100, 26200)  # 26100 nearest the spot, one strike each side
        for right in Right
    }
    assert nifty == expected
    # No SENSEX spot: the middle of its listed strikes; only BFO rows are SENSEX's.
    sensex = {s for s in picked.tokens if s.startswith("SENSEX")}
    assert sensex == {"SENSEX26D0385000CE", "SENSEX26D0385100CE", "SENSEX26D0385200CE"}
    assert set(picked.instruments) == set(picked.tokens)
    weekly = picked.instruments["NIFTY26D0126100CE"]
    assert picked.tokens["NIFTY26D0126100CE"] >= 10_000_000
    assert (weekly.kind, weekly.venue, weekly.underlying) == (Kind.OPTION, Venue.NFO, "NIFTY")
    assert weekly.expiry == date(2026, 12, 1) and weekly.right is Right.CE
    assert weekly.strike == Decimal(26100)
    assert weekly.tick_size == Decimal("0.05") and weekly.lot_size == 75  # the dump's lot
    assert weekly.currency == "INR" and not weekly.has_options
    assert picked.instruments["SENSEX26D0385100CE"].venue is Venue.BFO
    # The feed takes them as they are.
    feed = KiteFeed(API_KEY, ACCESS_TOKEN, picked.tokens, picked.instruments)
    assert len(feed.state.symbols) == len(picked.tokens) == 15


async def test_option_tokens_with_an_expired_token_raise(
    dump_root: str, catalogue: Catalogue
) -> None:
    session = KiteSession(API_KEY, "secret", root=dump_root)
    with pytest.raises(KiteError, match="Incorrect `api_key` or `access_token`"):
        await session.option_tokens("expired", [catalogue.get("NIFTY")])


def dump_rows() -> list[dict[str, object]]:
    """Return the NFO stand-in's rows as KiteConnect parses them."""
    lines = nfo_csv().splitlines()
    names = lines[0].split(",")
    rows: list[dict[str, object]] = []
    for line in lines[1:]:
        row: dict[str, object] = dict(zip(names, line.split(","), strict=True))
        row["instrument_token"] = int(str(row["instrument_token"]))
        row["strike"] = float(str(row["strike"]))
        row["tick_size"] = float(str(row["tick_size"]))
        row["lot_size"] = int(str(row["lot_size"]))
        row["expiry"] = date.fromisoformat(str(row["expiry"]))
        rows.append(row)
    return rows


def test_map_options_caps_the_farthest_strikes_of_the_farthest_expiry_first(
    catalogue: Catalogue,
) -> None:
    nifty = catalogue.get("NIFTY")
    full = map_options(dump_rows(), [nifty], {"NIFTY": Decimal("26100")}, expiries_per_underlying=3)
    assert len(full.tokens) == 3 * len(NIFTY_STRIKES) * 2  # every strike is within 20
    capped = map_options(
        dump_rows(), [nifty], {"NIFTY": Decimal("26100")}, expiries_per_underlying=3, limit=16
    )
    strikes_by_expiry: dict[date, set[Decimal]] = {}
    for instrument in capped.instruments.values():
        assert instrument.expiry is not None and instrument.strike is not None
        strikes_by_expiry.setdefault(instrument.expiry, set()).add(instrument.strike)
    # 14 for the nearest expiry (7 strikes, calls and puts), then its at-the-money pair.
    assert len(capped.tokens) == 16
    assert strikes_by_expiry == {
        date(2026, 12, 1): set(map(Decimal, NIFTY_STRIKES)),
        date(2026, 12, 8): {Decimal(26100)},
    }


def test_map_options_keeps_decimal_strikes_and_skips_symbols_we_do_not_spell(
    catalogue: Catalogue,
) -> None:
    picked = map_options(dump_rows(), [catalogue.get("RELIANCE")])
    assert set(picked.tokens) == {"RELIANCE26DEC1250CE", "RELIANCE26DEC1252.5CE"}
    assert picked.instruments["RELIANCE26DEC1252.5CE"].strike == Decimal("1252.5")
    assert picked.instruments["RELIANCE26DEC1250CE"].lot_size == 500


def test_the_default_selection_fits_one_connection(catalogue: Catalogue) -> None:
    # The catalogue's indices and stocks, plus the options capped at OPTION_TOKEN_LIMIT: the
    # shipped underlyings would want 2 x 41 x 2 each, more than the cap, so the farthest
    # strikes of the farthest expiry go first (the test above).
    listed = sum(1 for i in catalogue if i.venue in (Venue.NSE, Venue.BSE))
    assert OPTION_TOKEN_LIMIT + listed <= MAX_TOKENS_PER_CONNECTION


def test_an_option_tick_keeps_its_open_interest(catalogue: Catalogue) -> None:
    instrument = option(catalogue.get("NIFTY"), date(2026, 12, 1), 26100, Right.CE, False)
    raw = {
        "instrument_token": 10_000_001, "last_price": 123.45, "volume_traded": 975,
        "oi": 43_875,
        "depth": {"buy": [{"price": 123.4, "quantity": 650}],
                  "sell": [{"price": 123.55, "quantity": 1300}]},
    }  # fmt: skip
    tick = to_tick(raw, instrument, NOW)
    assert (tick.symbol, tick.ltp, tick.bid, tick.ask) == (
        instrument.symbol,
        Decimal("123.45"),
        Decimal("123.40"),
        Decimal("123.55"),
    )
    assert tick.oi == 43_875 and tick.volume == 975


async def test_the_app_centres_the_feeds_options_on_the_books_spot(
    dump_root: str, catalogue: Catalogue, calendar: TradingCalendar
) -> None:
    book = QuoteBook(catalogue)
    book.apply([spot_tick(ltp=Decimal("25890.00"))])
    market = market_on(book, catalogue, calendar)
    session = KiteSession(API_KEY, "secret", root=dump_root)
    picked = await kite_options(session, ACCESS_TOKEN, market, book, subscribed=2990)
    assert picked is not None
    # Ten tokens left: the nearest strikes of the nearest expiries, NIFTY's around 25900 (the
    # strike nearest its last price), the others' around the middle of their listed strikes.
    nifty = {
        derivative_symbol("NIFTY", date(2026, 12, 1), monthly=False, strike=Decimal(k), right=r)
        for k in (25800, 25900, 26000)
        for r in Right
    }
    others = {"SENSEX26D0385000CE", "SENSEX26D0385100CE", "SENSEX26D0385200CE"}
    assert set(picked.tokens) == nifty | others | {"RELIANCE26DEC1250CE"}
    refused = await kite_options(KiteSession(API_KEY, "secret", root=dump_root), "expired",
                                 market, book, subscribed=15)  # fmt: skip
    assert refused is None
