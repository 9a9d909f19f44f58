"""How a bet ends and what it pays: long above, short below, a tie refunds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepit.domain.predictions import PAYOUT_STEP, BetStatus, Direction, outcome, payout

prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000000"), places=2)
stakes = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1000000"), places=8)
ratios = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("100"), places=4)


class TestOutcome:
    @pytest.mark.parametrize(
        ("direction", "entry", "exit_", "expected"),
        [
            (Direction.LONG, "100", "100.1", BetStatus.WON),
            (Direction.LONG, "100", "99.9", BetStatus.LOST),
            (Direction.SHORT, "100", "99.9", BetStatus.WON),
            (Direction.SHORT, "100", "100.1", BetStatus.LOST),
            (Direction.LONG, "100", "100.00", BetStatus.REFUNDED),
            (Direction.SHORT, "100", "100", BetStatus.REFUNDED),
        ],
    )
    def test_rules(self, direction: Direction, entry: str, exit_: str, expected: BetStatus) -> None:
        assert outcome(direction, Decimal(entry), Decimal(exit_)) is expected

    @given(prices, prices)
    def test_long_and_short_are_opposites_except_on_a_tie(
        self, entry: Decimal, exit_: Decimal
    ) -> None:
        long, short = outcome(Direction.LONG, entry, exit_), outcome(Direction.SHORT, entry, exit_)
        if entry == exit_:
            assert long is short is BetStatus.REFUNDED
        else:
            assert {long, short} == {BetStatus.WON, BetStatus.LOST}


class TestPayout:
    def test_default_ratio(self) -> None:
        assert payout(BetStatus.WON, Decimal(10), Decimal("1.8")) == Decimal(18)
        assert payout(BetStatus.LOST, Decimal(10), Decimal("1.8")) == 0
        assert payout(BetStatus.REFUNDED, Decimal(10), Decimal("1.8")) == Decimal(10)

    def test_an_active_bet_pays_nothing_yet(self) -> None:
        with pytest.raises(ValueError, match="active"):
            payout(BetStatus.ACTIVE, Decimal(10), Decimal("1.8"))

    @given(stakes, ratios)
    def test_a_win_pays_the_ratio_rounded_down_to_the_ledger_step(
        self, stake: Decimal, ratio: Decimal
    ) -> None:
        paid = payout(BetStatus.WON, stake, ratio)
        assert paid == paid.quantize(PAYOUT_STEP)
        assert 0 <= stake * ratio - paid < PAYOUT_STEP

    @given(stakes, ratios)
    def test_a_refund_is_the_stake_exactly(self, stake: Decimal, ratio: Decimal) -> None:
        assert payout(BetStatus.REFUNDED, stake, ratio) == stake
