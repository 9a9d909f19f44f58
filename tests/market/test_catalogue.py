"""The shipped catalogue: a market a user recognises, and a simulator that looks like it.

The expected figures below are copied from the sources the catalogue's header names (NSE's
NIFTY 50 and NIFTY BANK lists, NSE's F&O market lots, OKX's instrument specs), so a wrong or
missing row in ``catalogue.toml`` fails here, not in a user's order.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from tradepit.domain.instruments import Instrument, Kind, Right, UnknownSymbol, Venue
from tradepit.market.calendars import load_calendar
from tradepit.market.catalogue import Catalogue
from tradepit.market.derivatives import resolve
from tradepit.market.simulator import Simulator, default_trading_minutes

D = Decimal
SEED = 42

#: NSE Indices' NIFTY 50 list (ind_nifty50list.csv, 2026-08-23) with each stock's F&O market
#: lot (NSE fo_mktlots.csv, AUG-26 to OCT-26 series).
NIFTY_50 = {
    "ADANIENT": 309,
    "ADANIPORTS": 475,
    "APOLLOHOSP": 125,
    "ASIANPAINT": 250,
    "AXISBANK": 625,
    "BAJAJ-AUTO": 75,
    "BAJFINANCE": 750,
    "BAJAJFINSV": 300,
    "BEL": 1425,
    "BHARTIARTL": 475,
    "CIPLA": 425,
    "COALINDIA": 1350,
    "DRREDDY": 625,
    "EICHERMOT": 100,
    "ETERNAL": 2425,
    "GRASIM": 250,
    "HCLTECH": 400,
    "HDFCBANK": 650,
    "HDFCLIFE": 1100,
    "HINDALCO": 700,
    "HINDUNILVR": 300,
    "ICICIBANK": 700,
    "ITC": 1725,
    "INFY": 400,
    "INDIGO": 150,
    "JSWSTEEL": 675,
    "JIOFIN": 2350,
    "KOTAKBANK": 2000,
    "LT": 175,
    "M&M": 200,
    "MARUTI": 50,
    "MAXHEALTH": 525,
    "NTPC": 1500,
    "NESTLEIND": 500,
    "ONGC": 2250,
    "POWERGRID": 1900,
    "RELIANCE": 500,
    "SBILIFE": 375,
    "SHRIRAMFIN": 825,
    "SBIN": 750,
    "SUNPHARMA": 350,
    "TCS": 225,
    "TATACONSUM": 550,
    "TMPV": 1600,
    "TATASTEEL": 2750,
    "TECHM": 600,
    "TITAN": 175,
    "TRENT": 225,
    "ULTRACEMCO": 50,
    "WIPRO": 3000,
}
#: NIFTY BANK from 31 Dec 2025 (14 banks) with their F&O market lots.
NIFTY_BANK = {
    "AUBANK": 1000,
    "AXISBANK": 625,
    "BANKBARODA": 2925,
    "CANBK": 6750,
    "FEDERALBNK": 2500,
    "HDFCBANK": 650,
    "ICICIBANK": 700,
    "IDFCFIRSTB": 9275,
    "INDUSINDBK": 700,
    "KOTAKBANK": 2000,
    "PNB": 8000,
    "SBIN": 750,
    "UNIONBANK": 4425,
    "YESBANK": 31100,
}
#: Index, venue, derivatives venue, lot, expiry rule.
INDICES = {
    "NIFTY": (Venue.NSE, Venue.NFO, 65, "weekly:TUE"),
    "BANKNIFTY": (Venue.NSE, Venue.NFO, 30, "monthly:TUE"),
    "FINNIFTY": (Venue.NSE, Venue.NFO, 60, "monthly:TUE"),
    "MIDCPNIFTY": (Venue.NSE, Venue.NFO, 120, "monthly:TUE"),
    "SENSEX": (Venue.BSE, Venue.BFO, 20, "weekly:THU"),
}
#: OKX spot: tickSz and minSz.
OKX = {
    "BTC-USDT": ("0.1", "0.00001"),
    "ETH-USDT": ("0.01", "0.0001"),
    "SOL-USDT": ("0.01", "0.001"),
    "XRP-USDT": ("0.0001", "1"),
    "DOGE-USDT": ("0.00001", "10"),
    "TON-USDT": ("0.001", "0.1"),
    "ADA-USDT": ("0.0001", "10"),
    "LTC-USDT": ("0.01", "0.01"),
    "OKB-USDT": ("0.01", "0.1"),
    "TRX-USDT": ("0.00001", "1"),
}
#: MT5-style symbols: tick, contract size.
FX = {
    "EURUSD": ("0.00001", 100_000),
    "GBPUSD": ("0.00001", 100_000),
    "AUDUSD": ("0.00001", 100_000),
    "NZDUSD": ("0.00001", 100_000),
    "XAUUSD": ("0.01", 100),
    "XAGUSD": ("0.001", 5_000),
}
#: USD-base pairs (priced in the quote currency, settled in USD): tick, quote currency.
USD_BASE = {
    "USDJPY": ("0.001", "JPY"),
    "USDCHF": ("0.00001", "CHF"),
    "USDCAD": ("0.00001", "CAD"),
    "USDINR": ("0.0001", "INR"),
}
#: Names clients and tests used before the catalogue grew.
EARLIER_NAMES = [
    "NIFTY",
    "NIFTY 50",
    "NIFTY50",
    "BANKNIFTY",
    "NIFTY BANK",
    "FINNIFTY",
    "MIDCPNIFTY",
    "SENSEX",
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
    "BTC-USDT",
    "BTCUSDT",
    "BTC/USDT",
    "ETH-USDT",
    "SOL-USDT",
    "XAUUSD",
    "GOLD",
    "EURUSD",
    "GBPUSD",
]


def nse_tick(price: Decimal) -> Decimal:
    """Return NSE's tick for an F&O security at ``price`` (the bands of 15 Apr 2025)."""
    if price < 250:
        return D("0.01")
    for limit, tick in ((1000, "0.05"), (5000, "0.10"), (10000, "0.50"), (20000, "1.00")):
        if price <= limit:
            return D(tick)
    return D("5.00")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    """Return the shipped catalogue."""
    return Catalogue.load()


class TestIndices:
    @pytest.mark.parametrize("symbol", list(INDICES))
    def test_indices_trade_as_paper_contracts_only(self, catalogue: Catalogue, symbol: str) -> None:
        venue, derivatives, lot, rule = INDICES[symbol]
        index = catalogue.get(symbol)
        assert index.kind is Kind.INDEX and index.tradable and index.is_index_contract
        assert not index.exchange_listed  # never routed to a live broker
        assert index.margined("MIS", True) and index.margined("NRML", False)
        assert index.can_short("NRML") and not index.can_short("CNC")
        assert (index.venue, index.derivatives_venue) == (venue, derivatives)
        assert index.lot_size == lot and index.expiry_rule == rule and index.has_options
        assert index.currency == "INR"

    def test_exchange_names_resolve_to_the_indices(self, catalogue: Catalogue) -> None:
        assert catalogue.get("NIFTY 50").symbol == "NIFTY"
        assert catalogue.get("nifty bank").symbol == "BANKNIFTY"
        assert catalogue.get("NIFTY FIN SERVICE").symbol == "FINNIFTY"
        assert catalogue.get("BSE SENSEX").symbol == "SENSEX"

    def test_nifty_50_lists_its_fifty_stocks_in_the_published_order(
        self, catalogue: Catalogue
    ) -> None:
        assert [i.symbol for i in catalogue.constituents("NIFTY 50")] == list(NIFTY_50)

    def test_nifty_bank_lists_its_fourteen_banks(self, catalogue: Catalogue) -> None:
        assert [i.symbol for i in catalogue.constituents("BANKNIFTY")] == list(NIFTY_BANK)

    def test_an_index_without_a_list_has_no_constituents(self, catalogue: Catalogue) -> None:
        assert catalogue.constituents("SENSEX") == []


class TestStocks:
    @pytest.mark.parametrize("symbol", sorted(NIFTY_50.keys() | NIFTY_BANK.keys()))
    def test_each_constituent_trades_on_nse_with_its_lot_and_derivatives(
        self, catalogue: Catalogue, symbol: str
    ) -> None:
        stock = catalogue.get(symbol)
        lot = NIFTY_50.get(symbol) or NIFTY_BANK[symbol]
        assert (stock.kind, stock.venue, stock.currency) == (Kind.EQUITY, Venue.NSE, "INR")
        assert stock.tradable and stock.lot_size == lot
        # F&O eligible: monthly futures and options on NFO, expiring on the last Tuesday.
        assert stock.has_options and stock.derivatives_venue is Venue.NFO
        assert stock.expiry_rule == "monthly:TUE"

    def test_stocks_follow_nse_s_tick_bands(self, catalogue: Catalogue) -> None:
        for stock in catalogue.select(Kind.EQUITY):
            assert stock.tick_size == nse_tick(stock.price), stock.symbol

    def test_every_chain_stays_above_zero(self, catalogue: Catalogue) -> None:
        # The chain's 20 strikes below the money stay positive down to half the level.
        for underlying in catalogue.with_options():
            assert underlying.strike_step is not None
            assert 20 * underlying.strike_step < underlying.price / 2, underlying.symbol

    def test_stocks_move_with_their_index(self, catalogue: Catalogue) -> None:
        for stock in catalogue.select(Kind.EQUITY):
            assert stock.index in ("NIFTY", "BANKNIFTY"), stock.symbol
            assert 0.3 <= stock.beta <= 1.6 and 0.15 <= stock.volatility <= 0.5, stock.symbol
        for symbol in NIFTY_BANK.keys() - NIFTY_50.keys():
            assert catalogue.get(symbol).index == "BANKNIFTY"

    def test_the_old_tata_motors_symbol_finds_the_renamed_company(
        self, catalogue: Catalogue
    ) -> None:
        assert catalogue.get("TATAMOTORS").symbol == "TMPV"


class TestCryptoAndFx:
    @pytest.mark.parametrize("symbol", list(OKX))
    def test_okx_pairs_carry_okx_s_tick_and_minimum_size(
        self, catalogue: Catalogue, symbol: str
    ) -> None:
        pair = catalogue.get(symbol)
        tick, minimum = OKX[symbol]
        assert (pair.kind, pair.venue, pair.currency) == (Kind.CRYPTO, Venue.OKX, "USDT")
        assert (pair.tick_size, pair.lot_size) == (D(tick), D(minimum))
        assert catalogue.get(symbol.replace("-", "")) is pair
        assert pair.index == (None if symbol == "BTC-USDT" else "BTC-USDT")

    @pytest.mark.parametrize("symbol", list(FX))
    def test_fx_symbols_are_usd_quoted_mt5_contracts(
        self, catalogue: Catalogue, symbol: str
    ) -> None:
        instrument = catalogue.get(symbol)
        tick, contract = FX[symbol]
        assert (instrument.kind, instrument.venue, instrument.currency) == (
            Kind.FOREX,
            Venue.FX,
            "USD",
        )
        assert instrument.tick_size == D(tick) and instrument.multiplier == contract
        assert instrument.lot_size == D("0.01")

    @pytest.mark.parametrize("symbol", list(FX))
    def test_usd_quoted_symbols_settle_in_their_price_currency(
        self, catalogue: Catalogue, symbol: str
    ) -> None:
        instrument = catalogue.get(symbol)
        assert not instrument.settles_in_base and instrument.price_currency == "USD"
        assert not instrument.margined("CNC", long=True)  # paid in full, as before

    @pytest.mark.parametrize("symbol", list(USD_BASE))
    def test_usd_base_pairs_settle_in_usd_and_are_always_margined(
        self, catalogue: Catalogue, symbol: str
    ) -> None:
        pair = catalogue.get(symbol)
        tick, quote = USD_BASE[symbol]
        assert (pair.kind, pair.venue, pair.currency) == (Kind.FOREX, Venue.FX, "USD")
        assert (pair.quote_currency, pair.price_currency) == (quote, quote)
        assert pair.settles_in_base and symbol == f"USD{quote}"
        assert pair.tick_size == D(tick) and pair.multiplier == 100_000
        assert pair.lot_size == D("0.01") and pair.beta < 0
        for product in ("MIS", "NRML", "CNC"):
            assert pair.margined(product, long=True) and pair.margined(product, long=False)
            assert pair.can_short(product)
        # A lot is 100,000 dollars whatever the price: converted at the pair's own price.
        price = pair.price
        assert pair.in_settlement(price * pair.multiplier, price) == 100_000

    def test_every_settlement_currency_has_a_wallet(self, catalogue: Catalogue) -> None:
        # Wallets exist in INR, USDT and USD only: USDJPY settles in USD, priced in yen.
        assert {i.currency for i in catalogue} == {"INR", "USDT", "USD"}

    @pytest.mark.parametrize(
        ("row", "message"),
        [
            ({"kind": "EQUITY"}, "margined FOREX pairs only"),
            ({"symbol": "JPYUSD"}, "must be named USDJPY"),
        ],
    )
    def test_a_quote_currency_is_for_a_base_named_pair_only(
        self, tmp_path: Path, row: dict[str, str], message: str
    ) -> None:
        fields = {
            "symbol": "USDJPY", "name": "x", "kind": "FOREX", "venue": "FX",
            "currency": "USD", "quote_currency": "JPY", **row,
        }  # fmt: skip
        body = "\n".join(f'{k} = "{v}"' for k, v in fields.items())
        path = tmp_path / "catalogue.toml"
        path.write_text(f'[margin]\nFOREX = "0.01"\n\n[[instrument]]\n{body}\n')
        with pytest.raises(ValueError, match=message):
            Catalogue.load(path)


class TestEarlierNames:
    @pytest.mark.parametrize("name", EARLIER_NAMES)
    def test_names_used_before_still_resolve(self, catalogue: Catalogue, name: str) -> None:
        assert name in catalogue
        catalogue.get(name)


class TestDerivatives:
    @pytest.mark.parametrize("symbol", sorted(NIFTY_50.keys() | NIFTY_BANK.keys()))
    def test_every_stock_future_resolves_with_the_stock_s_lot(
        self, catalogue: Catalogue, symbol: str
    ) -> None:
        future = resolve(catalogue, load_calendar(), f"{symbol}26DECFUT")
        assert future is not None
        assert (future.kind, future.venue, future.underlying) == (Kind.FUTURE, Venue.NFO, symbol)
        assert future.lot_size == catalogue.get(symbol).lot_size
        assert future.expiry == date(2026, 12, 29)  # the last Tuesday of December 2026

    def test_an_option_of_a_new_stock_resolves_on_its_strike_grid(
        self, catalogue: Catalogue
    ) -> None:
        option = resolve(catalogue, load_calendar(), "TMPV26DEC362.5CE")
        assert option is not None
        assert (option.kind, option.right, option.strike) == (Kind.OPTION, Right.CE, D("362.5"))
        assert option.lot_size == 1600 and option.expiry == date(2026, 12, 29)
        with pytest.raises(UnknownSymbol, match=r"multiple of 2\.5"):
            resolve(catalogue, load_calendar(), "TMPV26DEC361CE")

    def test_kotak_s_split_lot_carries_to_its_contracts(self, catalogue: Catalogue) -> None:
        put = resolve(catalogue, load_calendar(), "KOTAKBANK27JAN420PE")
        assert put is not None and put.lot_size == 2000 and put.expiry == date(2027, 1, 25)


class TestLoader:
    BASE = """
[[instrument]]
symbol = "NIFTY"
name = "NIFTY 50"
kind = "INDEX"
venue = "NSE"
currency = "INR"
{constituents}

[[instrument]]
symbol = "RELIANCE"
name = "Reliance Industries"
kind = "EQUITY"
venue = "NSE"
currency = "INR"
{stock_constituents}
"""

    def load(self, tmp_path: Path, constituents: str, stock_constituents: str = "") -> Catalogue:
        path = tmp_path / "catalogue.toml"
        path.write_text(
            self.BASE.format(constituents=constituents, stock_constituents=stock_constituents)
        )
        return Catalogue.load(path)

    def test_constituents_may_be_named_by_alias_or_case(self, tmp_path: Path) -> None:
        catalogue = self.load(tmp_path, 'constituents = ["reliance"]')
        assert [i.symbol for i in catalogue.constituents("NIFTY")] == ["RELIANCE"]

    @pytest.mark.parametrize(
        ("listed", "message"),
        [
            ('constituents = ["RELIANCE", "NOPE"]', "unknown constituent 'NOPE'"),
            ('constituents = ["RELIANCE", "RELIANCE"]', "RELIANCE twice"),
        ],
    )
    def test_a_wrong_list_is_refused_at_load(
        self, tmp_path: Path, listed: str, message: str
    ) -> None:
        with pytest.raises(ValueError, match=message):
            self.load(tmp_path, listed)

    def test_only_an_index_has_constituents(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="RELIANCE, which is not an index"):
            self.load(tmp_path, "", 'constituents = ["RELIANCE"]')


# --- The simulated market of the whole catalogue ----------------------------------------------

#: Forty Tuesdays, eight weeks apart, from 2020 to 2026: far enough apart that the volatility
#: regimes (GARCH) of the sample days are nearly independent.
SAMPLE_DAYS = [date(2020, 1, 7) + timedelta(weeks=8 * k) for k in range(40)]
FIVE_MINUTES = timedelta(minutes=5)


def session_grid(instrument: Instrument, day: date) -> list[datetime]:
    """Return 5-minute instants over ``instrument``'s session of ``day``, close included."""
    ((start, end),) = default_trading_minutes(instrument, day)
    points = int((end - start) / FIVE_MINUTES)
    if end.date() != start.date():  # a whole UTC day: stop before the next day's session
        return [start + k * FIVE_MINUTES for k in range(points)]
    return [start + k * FIVE_MINUTES for k in range(points + 1)]


def year_seconds(instrument: Instrument) -> float:
    """Return the seconds ``instrument`` trades in 2025 (the simulator's reference year)."""
    first = date(2025, 1, 1)
    return sum(
        (end - start).total_seconds()
        for k in range(365)
        for start, end in default_trading_minutes(instrument, first + timedelta(days=k))
    )


@pytest.fixture(scope="module")
def paths(catalogue: Catalogue) -> dict[str, np.ndarray]:
    """Return each instrument's 5-minute prices on the sample days, one row a day."""
    sim = Simulator(catalogue, SEED)
    by_grid: dict[bool, list[Instrument]] = {}
    for instrument in sim.instruments:
        indian = instrument.venue in (Venue.NSE, Venue.BSE)
        by_grid.setdefault(indian, []).append(instrument)
    paths: dict[str, list[np.ndarray]] = {i.symbol: [] for i in sim.instruments}
    for group in by_grid.values():
        symbols = [i.symbol for i in group]
        ticks = np.array([float(i.tick_size) for i in group])
        for day in SAMPLE_DAYS:
            times = session_grid(group[0], day)
            batch = sim.tick_batch(symbols, times, trading_only=False)
            prices = batch.ltp.reshape(len(times), len(symbols)) * ticks
            for column, symbol in enumerate(symbols):
                paths[symbol].append(prices[:, column])
    return {symbol: np.array(rows) for symbol, rows in paths.items()}


class TestSimulatedCatalogue:
    """Every instrument, sampled on forty days: 5-minute returns give its realised volatility
    (annualised by its trading time) and its beta to its index."""

    def test_every_instrument_ticks_near_its_level(
        self, catalogue: Catalogue, paths: dict[str, np.ndarray]
    ) -> None:
        assert set(paths) == {i.symbol for i in catalogue}
        for symbol, prices in paths.items():
            level = float(catalogue.get(symbol).price)
            assert 0.75 < float(np.median(prices)) / level < 1.33, symbol
            assert prices.min() / level > 0.4 and prices.max() / level < 2.5, symbol
            assert len(np.unique(prices)) > 100, symbol  # it moves

    def test_realised_volatility_is_near_the_catalogue_s(
        self, catalogue: Catalogue, paths: dict[str, np.ndarray]
    ) -> None:
        for symbol, prices in paths.items():
            instrument = catalogue.get(symbol)
            returns = np.diff(np.log(prices), axis=1)
            day_seconds = sum(
                (end - start).total_seconds()
                for start, end in default_trading_minutes(instrument, SAMPLE_DAYS[0])
            )
            daily_variance = float((returns**2).sum(axis=1).mean())
            realised = math.sqrt(daily_variance * year_seconds(instrument) / day_seconds)
            assert 0.7 < realised / instrument.volatility < 1.5, (symbol, realised)

    def test_beta_to_the_index_shows_in_the_returns(
        self, catalogue: Catalogue, paths: dict[str, np.ndarray]
    ) -> None:
        def returns(symbol: str) -> np.ndarray:
            log_returns: np.ndarray = np.diff(np.log(paths[symbol]), axis=1)
            return log_returns.ravel()

        for instrument in catalogue:
            if instrument.index is None:
                continue
            own, index = returns(instrument.symbol), returns(instrument.index)
            beta = float(np.cov(own, index)[0, 1] / index.var(ddof=1))
            assert beta == pytest.approx(instrument.beta, abs=0.3), instrument.symbol
            # The USD-base pairs move against EURUSD (AUDUSD): their beta is negative.
            correlation = float(np.corrcoef(own, index)[0, 1])
            assert correlation * math.copysign(1.0, instrument.beta) > 0.15, instrument.symbol
        # Without an index in common there is no co-movement.
        assert abs(float(np.corrcoef(returns("ETH-USDT"), returns("EURUSD"))[0, 1])) < 0.1
