"""Double entry: a transaction is accepted only when its postings sum to zero per currency."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepit.domain.ledger import Posting, UnbalancedTransaction, check_balanced
from tradepit.domain.money import MAX_UNITS, from_units

CURRENCIES = ["INR", "USDT", "USD"]

#: A non-zero amount with at most 8 places, well inside the column range.
amounts = st.integers(min_value=1, max_value=MAX_UNITS // 1000).map(from_units)
signed_amounts = st.tuples(amounts, st.booleans()).map(lambda t: -t[0] if t[1] else t[0])
wallet_ids = st.integers(min_value=1, max_value=1000)


@st.composite
def balanced_in(draw: st.DrawFn, currency: str) -> list[Posting]:
    """Draw two or more non-zero postings in ``currency`` that sum to zero."""
    legs = draw(st.lists(signed_amounts, min_size=1, max_size=8))
    closing = -sum(legs, Decimal(0))
    if closing == 0:
        # The legs cancel out already; add a pair that moves something.
        extra = draw(amounts)
        legs += [extra]
        closing = -extra
    legs.append(closing)
    return [Posting(draw(wallet_ids), currency, amount) for amount in legs]


@st.composite
def balanced(draw: st.DrawFn) -> list[Posting]:
    """Draw a balanced transaction in one or more currencies, postings in any order."""
    currencies = draw(st.lists(st.sampled_from(CURRENCIES), min_size=1, max_size=3, unique=True))
    postings = [p for c in currencies for p in draw(balanced_in(c))]
    return draw(st.permutations(postings))


def totals(postings: list[Posting]) -> dict[str, Decimal]:
    """Return the sum of the postings per currency."""
    result: dict[str, Decimal] = defaultdict(Decimal)
    for posting in postings:
        result[posting.currency] += posting.amount
    return dict(result)


class TestBalanced:
    @given(balanced())
    def test_balanced_postings_pass(self, postings: list[Posting]) -> None:
        assert all(total == 0 for total in totals(postings).values())
        check_balanced(postings)

    @given(balanced())
    def test_any_iterable_is_accepted(self, postings: list[Posting]) -> None:
        check_balanced(iter(postings))
        check_balanced(tuple(postings))

    def test_two_legs_transfer_passes(self) -> None:
        check_balanced([Posting(1, "INR", Decimal("-100")), Posting(2, "INR", Decimal("100"))])

    def test_smallest_amounts_pass(self) -> None:
        check_balanced(
            [Posting(1, "INR", Decimal("-0.00000001")), Posting(2, "INR", Decimal("0.00000001"))]
        )


class TestUnbalanced:
    @given(balanced(), st.data())
    def test_perturbing_one_amount_fails(
        self, postings: list[Posting], data: st.DataObject
    ) -> None:
        index = data.draw(st.integers(min_value=0, max_value=len(postings) - 1))
        delta = data.draw(signed_amounts)
        target = postings[index]
        changed = [*postings]
        changed[index] = Posting(target.wallet_id, target.currency, target.amount + delta)
        with pytest.raises(UnbalancedTransaction):
            check_balanced(changed)

    @given(balanced(), st.data())
    def test_dropping_one_posting_fails(self, postings: list[Posting], data: st.DataObject) -> None:
        index = data.draw(st.integers(min_value=0, max_value=len(postings) - 1))
        with pytest.raises(UnbalancedTransaction):
            check_balanced(postings[:index] + postings[index + 1 :])

    @given(balanced(), st.data())
    def test_moving_one_posting_to_another_currency_fails(
        self, postings: list[Posting], data: st.DataObject
    ) -> None:
        index = data.draw(st.integers(min_value=0, max_value=len(postings) - 1))
        target = postings[index]
        other = data.draw(st.sampled_from([c for c in CURRENCIES if c != target.currency]))
        changed = [*postings]
        changed[index] = Posting(target.wallet_id, other, target.amount)
        with pytest.raises(UnbalancedTransaction, match="sum to zero"):
            check_balanced(changed)

    def test_zero_postings_fail(self) -> None:
        with pytest.raises(UnbalancedTransaction, match="at least two"):
            check_balanced([])

    @given(wallet_ids, st.sampled_from(CURRENCIES), signed_amounts)
    def test_a_single_posting_fails(self, wallet: int, currency: str, amount: Decimal) -> None:
        with pytest.raises(UnbalancedTransaction, match="at least two"):
            check_balanced([Posting(wallet, currency, amount)])

    @given(balanced(), st.data())
    def test_a_zero_amount_fails_even_when_balanced(
        self, postings: list[Posting], data: st.DataObject
    ) -> None:
        index = data.draw(st.integers(min_value=0, max_value=len(postings)))
        zero = Posting(1, postings[0].currency, Decimal(data.draw(st.sampled_from(["0", "-0"]))))
        with pytest.raises(UnbalancedTransaction, match="non-zero"):
            check_balanced([*postings[:index], zero, *postings[index:]])

    def test_two_zero_postings_fail(self) -> None:
        with pytest.raises(UnbalancedTransaction):
            check_balanced([Posting(1, "INR", Decimal(0)), Posting(2, "INR", Decimal(0))])

    def test_error_has_its_code(self) -> None:
        with pytest.raises(UnbalancedTransaction) as caught:
            check_balanced([Posting(1, "INR", Decimal(1)), Posting(2, "INR", Decimal(2))])
        assert caught.value.code == "UNBALANCED_TRANSACTION"


class TestMultiCurrency:
    @given(balanced_in("INR"), balanced_in("USDT"))
    def test_each_currency_balancing_passes(self, inr: list[Posting], usdt: list[Posting]) -> None:
        check_balanced(inr + usdt)

    @given(amounts)
    def test_currencies_do_not_offset_each_other(self, amount: Decimal) -> None:
        # The grand total is zero, but INR and USDT are each out by ``amount``.
        postings = [Posting(1, "INR", -amount), Posting(2, "USDT", amount)]
        with pytest.raises(UnbalancedTransaction, match="sum to zero"):
            check_balanced(postings)

    @given(balanced_in("INR"), amounts)
    def test_one_unbalanced_currency_fails_the_whole_transaction(
        self, inr: list[Posting], amount: Decimal
    ) -> None:
        usdt = [Posting(1, "USDT", -amount), Posting(2, "USDT", amount + Decimal("0.00000001"))]
        with pytest.raises(UnbalancedTransaction, match="USDT"):
            check_balanced(inr + usdt)
