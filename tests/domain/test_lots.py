"""Position sizing: known values and the rule that the risk taken never exceeds the risk asked."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepit.domain.lots import InvalidSizing, LotRules, lot_rules, size
from tradepit.market.catalogue import Catalogue

CATALOGUE = Catalogue.load()
GOLD = lot_rules(CATALOGUE.get("XAUUSD"))
EURUSD = lot_rules(CATALOGUE.get("EURUSD"))
USDJPY = lot_rules(CATALOGUE.get("USDJPY"))
D = Decimal


class TestLotRules:
    def test_gold_is_100_ounces_in_hundredths_of_a_lot(self) -> None:
        assert LotRules(D(100), D("0.01"), D("0.01"), D(100)) == GOLD

    def test_a_nifty_lot_is_its_exchange_lot(self) -> None:
        assert lot_rules(CATALOGUE.get("NIFTY")).contract_size == D(65)

    def test_shares_are_whole(self) -> None:
        assert lot_rules(CATALOGUE.get("RELIANCE")).step == D(1)


class TestSize:
    def test_gold_one_dollar_is_100_per_lot(self) -> None:
        sizing = size(D(10000), D(1), D(2340), [D(2350)], GOLD)
        assert sizing.risk_amount == D(100)
        assert [(e.lots, e.risk_amount) for e in sizing.entries] == [(D("0.1"), D(100))]
        assert sizing.warnings == ()

    def test_risk_is_split_across_entries(self) -> None:
        sizing = size(D(10000), D(1), D(2340), [D(2350), D(2345)], GOLD)
        assert [e.lots for e in sizing.entries] == [D("0.05"), D("0.1")]
        assert [e.risk_amount for e in sizing.entries] == [D(50), D(50)]
        assert sizing.total_lots == D("0.15")

    def test_eurusd_fifty_pips(self) -> None:
        sizing = size(D(10000), D(2), D("1.0950"), [D("1.1000")], EURUSD)
        assert sizing.entries[0].lots == D("0.4")
        assert sizing.risk_taken == D(200)

    def test_lots_round_down_to_the_step(self) -> None:
        sizing = size(D(10000), D(1), D(2340), [D(2353)], GOLD)
        assert sizing.entries[0].lots == D("0.07")  # 100 / 1300 = 0.0769…
        assert sizing.entries[0].risk_amount == D(91)

    def test_minimum_lot_above_the_risk_is_warned(self) -> None:
        sizing = size(D(100), D(1), D(2300), [D(2350)], GOLD)
        assert sizing.entries[0].lots == D("0.01")
        assert sizing.entries[0].risk_amount == D(50)
        assert sizing.raised_to_minimum
        assert "minimum lot 0.01" in sizing.warnings[0]

    def test_maximum_lot_caps(self) -> None:
        sizing = size(D(10**9), D(10), D("1.0999"), [D("1.1000")], EURUSD)
        assert sizing.entries[0].lots == D(100)
        assert "maximum" in sizing.warnings[0]

    def test_a_short_stop_is_above_the_entries(self) -> None:
        sizing = size(D(10000), D(1), D(2360), [D(2350)], GOLD)
        assert sizing.entries[0].lots == D("0.1")

    def test_usdjpy_fifty_pips_risk_dollars_converted_at_the_stop(self) -> None:
        # 0.500 yen x 100,000 = 50,000 yen a lot; stopped out at 154.500 that is
        # 323.6245954692556... dollars, rounded up: 323.62459547. 100 / that = 0.309 -> 0.30.
        assert USDJPY.settles_in_base and not EURUSD.settles_in_base
        sizing = size(D(10000), D(1), D("154.500"), [D("155.000")], USDJPY)
        assert sizing.entries[0].lots == D("0.30")
        # What the stop realizes: 0.3 x 50,000 yen / 154.5, rounded up to 10⁻⁸.
        assert sizing.entries[0].risk_amount == D("97.08737865")
        assert sizing.risk_taken <= sizing.risk_amount

    @pytest.mark.parametrize(
        ("stop", "entries"),
        [(D(2350), [D(2350)]), (D(2340), []), (D(2340), [D(2350), D(2330)])],
    )
    def test_impossible_requests_are_refused(self, stop: Decimal, entries: list[Decimal]) -> None:
        with pytest.raises(InvalidSizing):
            size(D(10000), D(1), stop, entries, GOLD)


prices = st.decimals(min_value=D("0.5"), max_value=D(100000), places=2)
rules = st.sampled_from(
    [
        lot_rules(CATALOGUE.get(s))
        for s in ("XAUUSD", "EURUSD", "USDJPY", "USDCHF", "NIFTY", "RELIANCE", "BTC-USDT")
    ]
)


@given(
    balance=st.decimals(min_value=D(1), max_value=D(10**8), places=2),
    percent=st.decimals(min_value=D("0.01"), max_value=D(100), places=2),
    stop=prices,
    entries=st.lists(prices, min_size=1, max_size=5),
    lot=rules,
)
def test_risk_taken_never_exceeds_risk_asked_unless_warned(
    balance: Decimal, percent: Decimal, stop: Decimal, entries: list[Decimal], lot: LotRules
) -> None:
    entries = [e for e in entries if e > stop] or [stop + 1]
    sizing = size(balance, percent, stop, entries, lot)
    assert sizing.risk_amount <= balance * percent / 100
    for entry in sizing.entries:
        assert lot.min_lot <= entry.lots <= lot.max_lot
        assert entry.lots % lot.step == 0
    if not sizing.raised_to_minimum:
        assert sizing.risk_taken <= sizing.risk_amount
    else:
        assert any(e.lots == lot.min_lot for e in sizing.entries)
