"""Option-chain analytics on small chains worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepit.domain.analytics import (
    BUILDUP_CLASSES,
    ExpectedMove,
    OpenInterest,
    atm_strike,
    buildup,
    expected_move,
    iv_percentile,
    max_pain,
    moneyness_labels,
    open_interest,
    put_call_ratio,
    resistance,
    summarise_chain,
    support,
)

# A five-strike chain with spot at 118. Max pain by hand, payout to holders at each strike:
#   100: puts 45·10 + 35·20 + 15·30 + 5·40 = 1800
#   110: calls 10·10 = 100, puts 35·10 + 15·20 + 5·30 = 800  -> 900
#   120: calls 10·20 + 20·10 = 400, puts 15·10 + 5·20 = 250 -> 650  (the least)
#   130: calls 300 + 400 + 300 = 1000, puts 5·10 = 50        -> 1050
#   140: calls 400 + 600 + 600 + 500 = 2100                    -> 2100
STRIKES = [100.0, 110.0, 120.0, 130.0, 140.0]
SPOT = 118.0
CE_OI = [10.0, 20.0, 30.0, 50.0, 40.0]
PE_OI = [60.0, 45.0, 35.0, 15.0, 5.0]
CE_VOLUME = [100.0, 200.0, 300.0, 400.0, 0.0]
PE_VOLUME = [500.0, 300.0, 200.0, 100.0, 50.0]
CE_OI_CHANGE = [5.0, 5.0, -5.0, -5.0, 5.0]
PE_OI_CHANGE = [2.0, -3.0, 0.0, 4.0, -1.0]
CE_LTP = [19.0, 10.5, 4.5, 1.5, 0.4]
PE_LTP = [0.3, 1.2, 6.5, 13.0, 22.0]
CE_PRICE_CHANGE = [1.0, -1.0, 1.0, -1.0, 0.0]
PE_PRICE_CHANGE = [-0.5, 0.5, 0.5, 0.0, -2.0]


class TestPutCallRatio:
    def test_by_open_interest_and_by_volume(self) -> None:
        assert put_call_ratio(CE_OI, PE_OI) == pytest.approx(160 / 150)
        assert put_call_ratio(CE_VOLUME, PE_VOLUME) == pytest.approx(1150 / 1000)

    def test_is_none_when_the_call_total_is_zero(self) -> None:
        assert put_call_ratio([0.0, 0.0], [5.0, 1.0]) is None
        assert put_call_ratio([], []) is None

    def test_missing_values_count_as_zero(self) -> None:
        assert put_call_ratio([10.0, math.nan], [5.0, 5.0]) == pytest.approx(1.0)
        assert put_call_ratio([4.0], [0.0]) == 0.0


class TestMaxPain:
    def test_hand_computed_chain(self) -> None:
        assert max_pain(STRIKES, CE_OI, PE_OI) == 120.0

    def test_only_calls_pull_max_pain_to_the_lowest_strike(self) -> None:
        assert max_pain([100, 110, 120], [5, 5, 5], [0, 0, 0]) == 100.0
        assert max_pain([100, 110, 120], [0, 0, 0], [5, 5, 5]) == 120.0

    def test_a_tie_goes_to_the_lower_strike_whatever_the_order(self) -> None:
        # Payouts: at 100 → 10·10 = 100 from the puts, at 110 → 10·10 = 100 from the calls.
        assert max_pain([100, 110], [10, 0], [0, 10]) == 100.0
        assert max_pain([110, 100], [0, 10], [10, 0]) == 100.0

    def test_no_open_interest_has_no_max_pain(self) -> None:
        assert max_pain([100, 110], [0, 0], [0, math.nan]) is None
        assert max_pain([], [], []) is None

    def test_mismatched_columns_are_refused(self) -> None:
        with pytest.raises(ValueError, match="3 values for 2 strikes"):
            max_pain([100, 110], [1, 2, 3], [1, 2])

    @given(
        st.lists(
            st.tuples(
                st.integers(min_value=0, max_value=10_000),
                st.integers(min_value=0, max_value=10_000),
            ),
            min_size=1,
            max_size=40,
        ),
        st.integers(min_value=0, max_value=2**32 - 1),
    )
    def test_matches_a_brute_force_loop_in_any_order(
        self, oi: list[tuple[int, int]], seed: int
    ) -> None:
        strikes = [20_000.0 + 50.0 * i for i in range(len(oi))]
        ce = [float(c) for c, _ in oi]
        pe = [float(p) for _, p in oi]
        payouts = {
            settle: sum(
                c * max(settle - k, 0.0) + p * max(k - settle, 0.0)
                for k, c, p in zip(strikes, ce, pe, strict=True)
            )
            for settle in strikes
        }
        least = min(payouts.values())
        expected = min(k for k, v in payouts.items() if v == least) if any(ce + pe) else None
        assert max_pain(strikes, ce, pe) == expected
        order = np.random.default_rng(seed).permutation(len(oi))
        shuffled = max_pain(np.array(strikes)[order], np.array(ce)[order], np.array(pe)[order])
        assert shuffled == expected


class TestLevels:
    def test_support_and_resistance(self) -> None:
        assert support(STRIKES, PE_OI) == 100.0
        assert resistance(STRIKES, CE_OI) == 130.0

    def test_ties_and_empty_sides(self) -> None:
        assert resistance([100, 110, 120], [7, 3, 7]) == 100.0
        assert support([100, 110], [0, 0]) is None

    def test_open_interest_totals_and_changes(self) -> None:
        assert open_interest(CE_OI, PE_OI, CE_OI_CHANGE, PE_OI_CHANGE) == OpenInterest(
            total_ce=150.0, total_pe=160.0, change_ce=5.0, change_pe=2.0
        )


class TestBuildup:
    def test_the_four_classes_and_neutral(self) -> None:
        assert buildup(CE_PRICE_CHANGE, CE_OI_CHANGE).tolist() == [
            "long_buildup",
            "short_buildup",
            "short_covering",
            "long_unwinding",
            "neutral",
        ]
        assert buildup(PE_PRICE_CHANGE, PE_OI_CHANGE).tolist() == [
            "short_buildup",
            "short_covering",
            "neutral",
            "neutral",
            "long_unwinding",
        ]

    def test_missing_values_are_neutral(self) -> None:
        assert buildup([math.nan, 1.0], [1.0, math.nan]).tolist() == ["neutral", "neutral"]
        assert set(BUILDUP_CLASSES) == {
            "long_buildup",
            "short_buildup",
            "short_covering",
            "long_unwinding",
            "neutral",
        }


class TestExpectedMove:
    def test_straddle_at_the_strike_nearest_spot(self) -> None:
        move = expected_move(STRIKES, CE_LTP, PE_LTP, SPOT)
        assert isinstance(move, ExpectedMove)
        assert (move.strike, move.move) == (120.0, 11.0)
        assert move.percent == pytest.approx(11 / 118 * 100)
        assert round(move.percent, 2) == 9.32

    def test_midway_spot_takes_the_lower_strike(self) -> None:
        assert atm_strike([100, 110], 105.0) == 100.0
        assert atm_strike([110, 100], 105.0) == 100.0
        move = expected_move([100, 110], [7, 2], [2, 8], 105.0)
        assert move is not None
        assert move.move == 9.0

    def test_missing_price_gives_none(self) -> None:
        assert expected_move(STRIKES, CE_LTP, [math.nan] * 5, SPOT) is None

    def test_bad_spot_is_refused(self) -> None:
        with pytest.raises(ValueError, match="spot"):
            expected_move(STRIKES, CE_LTP, PE_LTP, 0.0)


class TestMoneynessLabels:
    def test_calls_below_spot_are_in_the_money_and_puts_mirror(self) -> None:
        calls, puts = moneyness_labels(STRIKES, SPOT, 10.0)
        assert calls.tolist() == ["ITM2", "ITM1", "ATM", "OTM1", "OTM2"]
        assert puts.tolist() == ["OTM2", "OTM1", "ATM", "ITM1", "ITM2"]

    def test_atm_is_the_strike_nearest_spot_not_the_rounded_spot(self) -> None:
        calls, puts = moneyness_labels([24_000, 24_100, 24_200, 24_300], 24_140.0, 100.0)
        assert calls.tolist() == ["ITM1", "ATM", "OTM1", "OTM2"]
        assert puts.tolist() == ["OTM1", "ATM", "ITM1", "ITM2"]

    def test_gaps_and_off_grid_strikes_count_steps(self) -> None:
        calls, _ = moneyness_labels([100, 110, 140, 101, 99], 100.0, 10.0)
        assert calls.tolist() == ["ATM", "OTM1", "OTM4", "OTM1", "ITM1"]

    def test_bad_step_is_refused(self) -> None:
        with pytest.raises(ValueError, match="step"):
            moneyness_labels(STRIKES, SPOT, 0.0)

    @given(
        st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=60, unique=True),
        st.floats(min_value=1.0, max_value=20_000.0),
    )
    def test_exactly_one_atm_and_itm_calls_sit_below_it(
        self, levels: list[int], spot: float
    ) -> None:
        strikes = np.array(levels, dtype=float) * 50.0
        calls, puts = moneyness_labels(strikes, spot, 50.0)
        assert (calls == "ATM").sum() == 1
        atm = strikes[calls == "ATM"][0]
        assert np.abs(strikes - spot).min() == abs(atm - spot)
        assert all(label.startswith("ITM") for label in calls[strikes < atm])
        assert all(label.startswith("OTM") for label in puts[strikes < atm])
        assert all(label.startswith("OTM") for label in calls[strikes > atm])
        levels_away = np.rint(np.abs(strikes - atm) / 50.0).astype(int)
        for label, away in zip(calls, levels_away, strict=True):
            assert label == ("ATM" if away == 0 else f"{label[:3]}{away}")


class TestIvPercentile:
    HISTORY = (10.0, 12.0, 14.0, 16.0, 18.0, 20.0, 22.0, 24.0, 26.0, 28.0)

    def test_percent_of_history_below_the_value(self) -> None:
        assert iv_percentile(19.0, self.HISTORY) == 50.0
        assert iv_percentile(14.0, self.HISTORY) == 20.0
        assert iv_percentile(10.0, self.HISTORY) == 0.0
        assert iv_percentile(29.0, self.HISTORY) == 100.0

    def test_missing_history_is_dropped(self) -> None:
        assert iv_percentile(15.0, [math.nan, 10.0, 20.0, math.inf]) == 50.0
        assert iv_percentile(15.0, []) is None
        assert iv_percentile(math.nan, self.HISTORY) is None


def test_summary_matches_the_individual_figures() -> None:
    summary = summarise_chain(
        STRIKES,
        spot=SPOT,
        ce_oi=CE_OI,
        pe_oi=PE_OI,
        ce_volume=CE_VOLUME,
        pe_volume=PE_VOLUME,
        ce_oi_change=CE_OI_CHANGE,
        pe_oi_change=PE_OI_CHANGE,
        ce_ltp=CE_LTP,
        pe_ltp=PE_LTP,
        ce_price_change=CE_PRICE_CHANGE,
        pe_price_change=PE_PRICE_CHANGE,
    )
    assert summary.pcr_oi == pytest.approx(160 / 150)
    assert summary.pcr_volume == pytest.approx(1.15)
    assert summary.max_pain == 120.0
    assert summary.open_interest.total_pe == 160.0
    assert (summary.support, summary.resistance, summary.atm_strike) == (100.0, 130.0, 120.0)
    assert summary.expected_move is not None
    assert summary.expected_move.move == 11.0
    assert summary.ce_buildup[0] == "long_buildup"
    assert summary.pe_buildup[-1] == "long_unwinding"
