"""Charges per fill: Indian contract notes worked by hand, crypto and forex fees, the loader."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from tradepit.domain.errors import InvalidInput
from tradepit.domain.fees import Charges, FeeSchedule, NoCharges
from tradepit.domain.instruments import Instrument, Kind, Right, Venue
from tradepit.domain.orders import Product, Side
from tradepit.market.catalogue import Catalogue
from tradepit.market.fee_schedule import (
    DEFAULT_PATH,
    InvalidFeeSchedule,
    load_fee_schedule,
)

D = Decimal
CATALOGUE = Catalogue.load()
SCHEDULE = load_fee_schedule()
RELIANCE = CATALOGUE.get("RELIANCE")
NIFTY_CALL = Instrument(
    symbol="NIFTY26DEC26000CE",
    name="NIFTY 2026-12-29 26000 CE",
    kind=Kind.OPTION,
    venue=Venue.NFO,
    currency="INR",
    tick_size=D("0.05"),
    lot_size=D("65"),
    underlying="NIFTY",
    strike=D("26000"),
    right=Right.CE,
)
NIFTY_FUTURE = Instrument(
    symbol="NIFTY26DECFUT",
    name="NIFTY 2026-12-29 FUT",
    kind=Kind.FUTURE,
    venue=Venue.NFO,
    currency="INR",
    tick_size=D("0.10"),
    lot_size=D("65"),
    underlying="NIFTY",
)


def components(charges: Charges) -> tuple[Decimal, ...]:
    """Return brokerage, STT, exchange, SEBI, stamp and GST, in contract-note order."""
    return (
        charges.brokerage,
        charges.stt,
        charges.exchange,
        charges.sebi,
        charges.stamp,
        charges.gst,
    )


# --- Indian equity and F&O, worked by hand ----------------------------------------------------


def test_intraday_equity_round_trip() -> None:
    # Buy 100 RELIANCE at 1540.00 intraday (MIS) on NSE: turnover 1,54,000.
    buy = SCHEDULE.charges(RELIANCE, Product.MIS, Side.BUY, D(100), D("1540.00"))
    brokerage = D("20.00")  # 0.03 % = 46.20, capped at ₹20
    stt = D("0.00")  # intraday STT is on the sell side only
    exchange = D("4.57")  # 0.00297 % = 4.5738
    sebi = D("0.15")  # ₹10/crore = 0.154
    stamp = D("4.62")  # 0.003 % of the buy = 4.62
    gst = D("4.45")  # 18 % of (20 + 4.57 + 0.15 = 24.72) = 4.4496
    assert components(buy) == (brokerage, stt, exchange, sebi, stamp, gst)
    assert buy.total == D("33.79")
    assert buy.currency == "INR"
    assert buy.segment == "india-equity-intraday"

    # Sell them at 1550.00: turnover 1,55,000.
    sell = SCHEDULE.charges(RELIANCE, Product.MIS, Side.SELL, D(100), D("1550.00"))
    brokerage = D("20.00")  # 0.03 % = 46.50, capped
    stt = D("38.75")  # 0.025 % of the sell
    exchange = D("4.60")  # 0.00297 % = 4.6035
    sebi = D("0.16")  # 0.155, half-up to the paisa
    stamp = D("0.00")  # no stamp duty on a sell
    gst = D("4.46")  # 18 % of (20 + 4.60 + 0.16 = 24.76) = 4.4568
    assert components(sell) == (brokerage, stt, exchange, sebi, stamp, gst)
    assert sell.total == D("67.97")

    gross = (D("1550.00") - D("1540.00")) * 100
    assert gross - buy.total - sell.total == D("898.24")


def test_small_intraday_order_pays_the_percentage_not_the_cap() -> None:
    # 10 x 1540 = 15,400: 0.03 % = 4.62 < ₹20.
    charges = SCHEDULE.charges(RELIANCE, Product.MIS, Side.BUY, D(10), D("1540.00"))
    assert charges.brokerage == D("4.62")


def test_options_round_trip() -> None:
    # Buy one lot (65) of a NIFTY call at 120.50 (NRML, NFO): premium turnover 7,832.50.
    buy = SCHEDULE.charges(NIFTY_CALL, Product.NRML, Side.BUY, D(65), D("120.50"))
    brokerage = D("20.00")  # flat ₹20 per executed order
    stt = D("0.00")  # options STT is on the sell side only
    exchange = D("2.74")  # 0.03503 % of premium = 2.74372475
    sebi = D("0.01")  # ₹10/crore = 0.0078325
    stamp = D("0.23")  # 0.003 % = 0.234975
    gst = D("4.10")  # 18 % of (20 + 2.74 + 0.01 = 22.75) = 4.095, half-up
    assert components(buy) == (brokerage, stt, exchange, sebi, stamp, gst)
    assert buy.total == D("27.08")

    # Sell it at 135.00: premium turnover 8,775.
    sell = SCHEDULE.charges(NIFTY_CALL, Product.NRML, Side.SELL, D(65), D("135.00"))
    brokerage = D("20.00")
    stt = D("13.16")  # 0.15 % of premium (from 1 Apr 2026) = 13.1625
    exchange = D("3.07")  # 0.03503 % = 3.0738825
    sebi = D("0.01")  # 0.008775
    stamp = D("0.00")
    gst = D("4.15")  # 18 % of (20 + 3.07 + 0.01 = 23.08) = 4.1544
    assert components(sell) == (brokerage, stt, exchange, sebi, stamp, gst)
    assert sell.total == D("40.39")


def test_futures_sell_pays_the_2026_stt() -> None:
    # Sell one lot (65) of NIFTY futures at 26150: turnover 16,99,750.
    sell = SCHEDULE.charges(NIFTY_FUTURE, Product.NRML, Side.SELL, D(65), D("26150.00"))
    assert sell.stt == D("849.88")  # 0.05 % = 849.875
    assert sell.exchange == D("29.41")  # 0.00173 % = 29.405675
    assert sell.brokerage == D("20.00")
    buy = SCHEDULE.charges(NIFTY_FUTURE, Product.MIS, Side.BUY, D(65), D("26150.00"))
    assert buy.stt == 0
    assert buy.stamp == D("34.00")  # 0.002 % = 33.995, half-up


def test_delivery_pays_stt_both_sides_and_no_brokerage() -> None:
    # Buy 10 RELIANCE at 1540 for delivery (CNC): turnover 15,400.
    buy = SCHEDULE.charges(RELIANCE, Product.CNC, Side.BUY, D(10), D("1540.00"))
    assert components(buy) == (
        D("0.00"),  # no brokerage on delivery
        D("15.40"),  # STT 0.1 %
        D("0.46"),  # 0.00297 % = 0.45738
        D("0.02"),  # 0.0154
        D("2.31"),  # stamp 0.015 %
        D("0.09"),  # 18 % of 0.48 = 0.0864
    )
    sell = SCHEDULE.charges(RELIANCE, Product.CNC, Side.SELL, D(10), D("1540.00"))
    assert sell.stt == D("15.40")
    assert sell.stamp == 0


def test_bse_equity_uses_the_bse_transaction_charge() -> None:
    bse_stock = Instrument(
        symbol="RELIANCE-BSE",
        name="Reliance Industries (BSE)",
        kind=Kind.EQUITY,
        venue=Venue.BSE,
        currency="INR",
        tick_size=D("0.05"),
        lot_size=D(1),
    )
    charges = SCHEDULE.charges(bse_stock, Product.MIS, Side.BUY, D(100), D("1540.00"))
    assert charges.exchange == D("5.78")  # 0.00375 % of 1,54,000 = 5.775


# --- Crypto and forex ---------------------------------------------------------------------------


def test_crypto_taker_and_maker_fees_in_quote_currency() -> None:
    btc = CATALOGUE.get("BTC-USDT")
    # 0.5 BTC at 91,500 = 45,750 USDT notional.
    taker = SCHEDULE.charges(btc, Product.CNC, Side.BUY, D("0.5"), D("91500.0"), "taker")
    assert taker == Charges("USDT", "okx-spot", exchange=D("45.75"))  # 0.10 %
    assert taker.total == D("45.75")
    maker = SCHEDULE.charges(btc, Product.CNC, Side.SELL, D("0.5"), D("91500.0"), "maker")
    assert maker.total == D("36.60")  # 0.08 %


def test_crypto_fee_keeps_eight_decimals() -> None:
    eth = CATALOGUE.get("ETH-USDT")
    # 0.0001 ETH at 3050.01 = 0.305001 USDT; 0.1 % = 0.000305001 -> 0.00030500.
    fee = SCHEDULE.charges(eth, Product.MIS, Side.BUY, D("0.0001"), D("3050.01"))
    assert fee.exchange == D("0.00030500")


def test_fx_commission_per_lot_per_side() -> None:
    eurusd, gold = CATALOGUE.get("EURUSD"), CATALOGUE.get("XAUUSD")
    one_lot = SCHEDULE.charges(eurusd, Product.MIS, Side.BUY, D("1.00"), D("1.15800"))
    assert one_lot == Charges("USD", "fx-raw", brokerage=D("3.50"))
    # A quarter lot: 0.875, half-up to the cent.
    quarter = SCHEDULE.charges(eurusd, Product.MIS, Side.SELL, D("0.25"), D("1.15800"))
    assert quarter.total == D("0.88")
    # One lot of gold is 100 oz, charged the same per lot.
    assert SCHEDULE.charges(gold, Product.NRML, Side.BUY, D(1), D("4150.00")).total == D("3.50")


# --- Refusals -------------------------------------------------------------------------------


def test_no_charges_for_a_product_that_does_not_exist() -> None:
    with pytest.raises(NoCharges, match=r"product NRML is not available for RELIANCE"):
        SCHEDULE.charges(RELIANCE, Product.NRML, Side.BUY, D(1), D("1540"))


def test_no_charges_for_an_index_without_a_contract() -> None:
    quoted_only = replace(CATALOGUE.get("NIFTY"), short_margin=None)
    with pytest.raises(NoCharges, match=r"NIFTY is an index without a contract"):
        SCHEDULE.charges(quoted_only, Product.MIS, Side.BUY, D(65), D("26150"))


def test_an_index_contract_is_charged_as_its_future() -> None:
    """The paper index contract pays what the index future of the same turnover would."""
    nifty = CATALOGUE.get("NIFTY")
    future = replace(nifty, kind=Kind.FUTURE, venue=Venue.NFO, short_margin=D("0.15"))
    for side in Side:
        contract = SCHEDULE.charges(nifty, Product.NRML, side, D(3), D("26150"))
        assert contract.segment == "india-index-contract"
        as_future = SCHEDULE.charges(future, Product.NRML, side, D(3), D("26150"))
        assert contract.total == as_future.total
    with pytest.raises(NoCharges, match=r"product CNC is not available for NIFTY"):
        SCHEDULE.charges(nifty, Product.CNC, Side.BUY, D(1), D("26150"))


@pytest.mark.parametrize(("quantity", "price"), [(D(0), D(1)), (D(1), D(0)), (D(-1), D(1))])
def test_charges_refuse_non_positive_amounts(quantity: Decimal, price: Decimal) -> None:
    with pytest.raises(InvalidInput, match="must be positive"):
        SCHEDULE.charges(RELIANCE, Product.MIS, Side.BUY, quantity, price)


def test_every_tradable_catalogue_instrument_has_charges() -> None:
    for instrument in CATALOGUE:
        if not instrument.tradable:
            continue
        products = (Product.CNC, Product.MIS) if instrument.kind is Kind.EQUITY else (Product.MIS,)
        for product in products:
            charges = SCHEDULE.charges(instrument, product, Side.SELL, D(1), D(100))
            assert charges.total > 0, instrument.symbol


def test_every_segment_cites_its_source() -> None:
    for segment in SCHEDULE.segments:
        assert len(segment.source) > 40, segment.name
        assert segment.as_of.year >= 2024, segment.name


# --- The loader -------------------------------------------------------------------------------

VALID = """
[[segment]]
name = "crypto"
model = "percent"
venues = ["OKX"]
kinds = ["CRYPTO"]
round_to = "0.00000001"
maker_pct = "0.08"
taker_pct = "0.10"
as_of = 2025-01-01
source = "OKX fee schedule"
"""


def load_text(tmp_path: Path, text: str) -> FeeSchedule:
    path = tmp_path / "fees.toml"
    path.write_text(text, encoding="utf-8")
    return load_fee_schedule(path)


def test_loader_reads_a_minimal_schedule(tmp_path: Path) -> None:
    schedule = load_text(tmp_path, VALID)
    btc = CATALOGUE.get("BTC-USDT")
    assert schedule.charges(btc, Product.CNC, Side.BUY, D(1), D(100)).total == D("0.1")


def test_a_rate_change_is_an_edit_of_the_file(tmp_path: Path) -> None:
    schedule = load_text(tmp_path, VALID.replace('taker_pct = "0.10"', 'taker_pct = "0.20"'))
    btc = CATALOGUE.get("BTC-USDT")
    assert schedule.charges(btc, Product.CNC, Side.BUY, D(1), D(100)).total == D("0.2")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('taker_pct = "0.10"', 'takr_pct = "0.10"'), r"segment 'crypto': missing taker_pct"),
        (("as_of = 2025", 'tier = "1"\nas_of = 2025'), r"unknown key tier for model 'percent'"),
        (('taker_pct = "0.10"', "taker_pct = 0.10"), r"taker_pct must be a decimal written as"),
        (('taker_pct = "0.10"', 'taker_pct = "ten"'), r"taker_pct is not a number: 'ten'"),
        (('taker_pct = "0.10"', 'taker_pct = "-0.1"'), r"taker_pct must be a non-negative"),
        (('venues = ["OKX"]', 'venues = ["NYSE"]'), r"venues has an unknown name 'NYSE'"),
        (('model = "percent"', 'model = "tiered"'), r"model 'tiered' is not one of"),
        (("as_of = 2025-01-01", 'as_of = "soon"'), r"as_of must be a date"),
        (('source = "OKX fee schedule"', 'source = ""'), r"source must be a non-empty string"),
        (('round_to = "0.00000001"', 'round_to = "0"'), r"round_to must be positive"),
        (("[[segment]]", "[[segments]]"), r"no \[\[segment\]\] tables"),
        (('model = "percent"', "model = percent"), r"not valid TOML"),
    ],
)
def test_loader_refuses_a_malformed_schedule(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    old, new = edit
    assert old in VALID
    with pytest.raises(InvalidFeeSchedule, match=message) as raised:
        load_text(tmp_path, VALID.replace(old, new, 1))
    assert str(tmp_path / "fees.toml") in str(raised.value)


def test_loader_refuses_overlapping_segments(tmp_path: Path) -> None:
    second = VALID.replace('name = "crypto"', 'name = "crypto-vip"')
    with pytest.raises(InvalidFeeSchedule, match=r"'crypto' and 'crypto-vip' both cover OKX"):
        load_text(tmp_path, VALID + second)


def test_loader_refuses_an_india_segment_without_an_exchange_rate_per_venue(
    tmp_path: Path,
) -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8").replace(
        'exchange_pct = { NFO = "0.00173", BFO = "0" }', 'exchange_pct = { NFO = "0.00173" }'
    )
    with pytest.raises(
        InvalidFeeSchedule, match=r"'india-futures': exchange_pct has no rate for BFO"
    ):
        load_text(tmp_path, text)
