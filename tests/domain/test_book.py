"""The trigger book: each crossing rule, removal and modification, time priority, gap ticks,
and random sequences checked against a brute-force scan of every live order."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tradepit.domain import book as book_module
from tradepit.domain.book import Event, Release, Resting, TriggerBook
from tradepit.domain.market import Tick
from tradepit.domain.money import InexactAmount, to_units
from tradepit.domain.orders import OrderType, Side

BUY, SELL = Side.BUY, Side.SELL
LIMIT, SL, SLM = OrderType.LIMIT, OrderType.STOP_LOSS, OrderType.STOP_LOSS_MARKET


def limit(order_id: int, side: Side, price: int, symbol: str = "X") -> Resting:
    return Resting(order_id, symbol, side, LIMIT, price, None)


def stop(order_id: int, side: Side, trigger: int, price: int, symbol: str = "X") -> Resting:
    return Resting(order_id, symbol, side, SL, price, trigger)


def stop_market(order_id: int, side: Side, trigger: int, symbol: str = "X") -> Resting:
    return Resting(order_id, symbol, side, SLM, None, trigger)


def ids(releases: list[Release]) -> list[int]:
    return [r.order_id for r in releases]


class TestRules:
    def test_buy_limit_executes_when_ask_reaches_the_limit(self) -> None:
        book = TriggerBook([limit(1, BUY, 100)])
        assert book.on_tick("X", 99, 101, 100) == []  # ask above the limit
        assert book.on_tick("X", 10, 101, 50) == []  # bid and ltp do not matter
        assert book.on_tick("X", 99, 100, 200) == [Release(1, Event.EXECUTABLE, limit(1, BUY, 100))]
        assert len(book) == 0

    def test_buy_limit_executes_when_ask_falls_below_the_limit(self) -> None:
        book = TriggerBook([limit(1, BUY, 100)])
        assert ids(book.on_tick("X", 90, 95, 92)) == [1]

    def test_sell_limit_executes_when_bid_reaches_the_limit(self) -> None:
        book = TriggerBook([limit(1, SELL, 100)])
        assert book.on_tick("X", 99, 90, 100) == []  # bid below; ask and ltp do not matter
        assert book.on_tick("X", 100, 101, 100) == [
            Release(1, Event.EXECUTABLE, limit(1, SELL, 100))
        ]

    def test_buy_stop_triggers_when_ltp_reaches_the_trigger(self) -> None:
        book = TriggerBook([stop(1, BUY, 100, 102), stop_market(2, BUY, 101)])
        assert book.on_tick("X", 150, 150, 99) == []  # only the last price triggers a stop
        assert book.on_tick("X", 99, 101, 100) == [
            Release(1, Event.TRIGGERED, stop(1, BUY, 100, 102))
        ]
        assert book.on_tick("X", 101, 103, 102) == [
            Release(2, Event.EXECUTABLE, stop_market(2, BUY, 101))
        ]

    def test_sell_stop_triggers_when_ltp_falls_to_the_trigger(self) -> None:
        book = TriggerBook([stop(1, SELL, 100, 98), stop_market(2, SELL, 99)])
        assert book.on_tick("X", 0, 0, 101) == []
        assert book.on_tick("X", 99, 101, 100) == [
            Release(1, Event.TRIGGERED, stop(1, SELL, 100, 98))
        ]
        assert book.on_tick("X", 97, 99, 98) == [
            Release(2, Event.EXECUTABLE, stop_market(2, SELL, 99))
        ]

    def test_a_triggered_stop_loss_rests_again_as_a_limit_when_the_caller_adds_it(self) -> None:
        book = TriggerBook([stop(1, BUY, 100, 102)])
        (release,) = book.on_tick("X", 103, 104, 100)
        assert release.event == "triggered"
        book.add(release.entry.as_limit())  # ask 104 is above the limit 102: it rests
        assert book.get(1) == limit(1, BUY, 102)
        assert book.on_tick("X", 101, 103, 102) == []
        assert book.on_tick("X", 101, 102, 102) == [
            Release(1, Event.EXECUTABLE, limit(1, BUY, 102))
        ]

    def test_ticks_of_other_symbols_release_nothing(self) -> None:
        book = TriggerBook([limit(1, BUY, 100, "A"), limit(2, SELL, 100, "B")])
        assert book.on_tick("B", 0, 0, 0) == []
        assert book.on_tick("C", 0, 0, 0) == []
        assert ids(book.on_tick("A", 0, 0, 0)) == [1]
        assert book.open_ids("B") == [2]

    def test_a_released_order_is_returned_once(self) -> None:
        book = TriggerBook([limit(1, BUY, 100), stop_market(2, SELL, 50)])
        assert ids(book.on_tick("X", 99, 99, 40)) == [1, 2]
        assert book.on_tick("X", 99, 99, 40) == []
        assert 1 not in book and 2 not in book and len(book) == 0

    def test_a_partly_filled_order_can_be_added_again(self) -> None:
        book = TriggerBook([limit(1, BUY, 100)])
        (release,) = book.on_tick("X", 99, 100, 100)
        book.add(release.entry)
        assert ids(book.on_tick("X", 99, 100, 100)) == [1]


class TestPriority:
    def test_equal_prices_leave_in_insertion_order(self) -> None:
        book = TriggerBook()
        for order_id in (5, 3, 9, 1):
            book.add(limit(order_id, SELL, 100))
        assert ids(book.on_tick("X", 100, 101, 100)) == [5, 3, 9, 1]

    def test_better_prices_leave_first(self) -> None:
        book = TriggerBook()
        book.add(limit(1, BUY, 100))
        book.add(limit(2, BUY, 103))
        book.add(limit(3, BUY, 101))
        book.add(limit(4, SELL, 110))
        book.add(limit(5, SELL, 107))
        book.add(stop_market(6, BUY, 95))
        book.add(stop_market(7, BUY, 90))
        book.add(stop_market(8, SELL, 80))
        book.add(stop_market(9, SELL, 85))
        assert ids(book.on_tick("X", 0, 100, 200)) == [2, 3, 1, 7, 6]
        assert ids(book.on_tick("X", 200, 300, 0)) == [5, 4, 9, 8]

    def test_a_gap_releases_every_crossed_order_at_once(self) -> None:
        book = TriggerBook()
        for order_id, price in enumerate(range(101, 121), start=1):
            book.add(limit(order_id, SELL, price))
        for order_id, trigger in enumerate(range(95, 75, -1), start=21):
            book.add(stop_market(order_id, SELL, trigger))
        book.add(limit(41, SELL, 200))
        book.add(stop_market(42, SELL, 10))
        # The bid gaps from 100 to 150 while the last price gaps down from 100 to 60.
        released = book.on_tick("X", 150, 151, 60)
        assert ids(released) == list(range(1, 41))
        assert book.open_ids("X") == [41, 42]

    def test_rebuild_keeps_the_given_order_for_equal_prices(self) -> None:
        book = TriggerBook([limit(1, BUY, 90)])
        book.rebuild([limit(7, BUY, 100), limit(3, BUY, 100), limit(5, BUY, 101)])
        assert 1 not in book and len(book) == 3
        assert book.open_ids("X") == [7, 3, 5]
        assert ids(book.on_tick("X", 0, 100, 0)) == [5, 7, 3]

    def test_entries_added_after_a_rebuild_queue_behind_it(self) -> None:
        book = TriggerBook()
        book.add(limit(1, SELL, 100))
        book.rebuild([limit(2, SELL, 100)])
        book.add(limit(3, SELL, 100))
        assert ids(book.on_tick("X", 100, 100, 100)) == [2, 3]


class TestRemoveAndReplace:
    def test_a_removed_order_is_never_released(self) -> None:
        book = TriggerBook([limit(1, BUY, 100), limit(2, BUY, 100)])
        assert book.remove(1) == limit(1, BUY, 100)
        assert 1 not in book and book.get(1) is None
        assert ids(book.on_tick("X", 0, 50, 0)) == [2]

    def test_removing_an_absent_order_raises(self) -> None:
        book = TriggerBook([limit(1, BUY, 100)])
        with pytest.raises(KeyError):
            book.remove(2)
        book.remove(1)
        with pytest.raises(KeyError):
            book.remove(1)

    def test_a_removed_id_can_rest_again_with_a_new_price(self) -> None:
        book = TriggerBook([limit(1, BUY, 100)])
        book.remove(1)
        book.add(limit(1, BUY, 90))
        assert book.on_tick("X", 0, 95, 0) == []
        assert ids(book.on_tick("X", 0, 90, 0)) == [1]

    def test_replace_moves_the_order_to_its_new_price(self) -> None:
        book = TriggerBook([limit(1, SELL, 100)])
        assert book.replace(1, limit(1, SELL, 105)) == limit(1, SELL, 100)
        assert book.on_tick("X", 104, 106, 104) == []
        assert ids(book.on_tick("X", 105, 106, 105)) == [1]

    def test_replace_may_change_type_side_and_symbol(self) -> None:
        book = TriggerBook([limit(1, SELL, 100, "A")])
        book.replace(1, stop_market(1, BUY, 120, "B"))
        assert book.open_ids("A") == [] and book.open_ids("B") == [1]
        assert book.on_tick("A", 200, 200, 200) == []
        assert ids(book.on_tick("B", 0, 0, 120)) == [1]

    def test_a_replaced_order_queues_behind_its_new_price(self) -> None:
        book = TriggerBook([limit(1, BUY, 100), limit(2, BUY, 100)])
        book.replace(1, limit(1, BUY, 100))
        assert book.open_ids("X") == [2, 1]
        assert ids(book.on_tick("X", 0, 100, 0)) == [2, 1]

    def test_replace_refuses_another_id_or_an_absent_order(self) -> None:
        book = TriggerBook([limit(1, BUY, 100)])
        with pytest.raises(ValueError, match="cannot be replaced"):
            book.replace(1, limit(2, BUY, 100))
        with pytest.raises(KeyError):
            book.replace(3, limit(3, BUY, 100))
        assert book.get(1) == limit(1, BUY, 100)

    def test_adding_an_id_twice_is_refused(self) -> None:
        book = TriggerBook([limit(1, BUY, 100)])
        with pytest.raises(ValueError, match="already in the book"):
            book.add(limit(1, SELL, 100))
        with pytest.raises(ValueError, match="twice"):
            book.rebuild([limit(2, BUY, 1), limit(2, BUY, 1)])
        assert book.open_ids("X") == [1]

    def test_many_removals_keep_the_heaps_small(self) -> None:
        book = TriggerBook([limit(0, BUY, 1)])
        for order_id in range(1, 5_001):
            book.add(limit(order_id, BUY, 50 + order_id % 7))
            book.remove(order_id)
        heaps = book._symbols["X"].heaps()  # white box: tombstones are compacted away
        assert sum(len(heap) for heap in heaps) <= 2 * book_module.COMPACT_MIN + 2
        assert ids(book.on_tick("X", 0, 0, 0)) == [0]

    def test_a_symbol_with_nothing_left_is_forgotten(self) -> None:
        book = TriggerBook([limit(1, BUY, 100, "A"), limit(2, BUY, 100, "B")])
        book.remove(1)
        book.on_tick("B", 0, 100, 0)
        assert book._symbols == {}  # white box: no empty heaps linger


class TestEntries:
    @pytest.mark.parametrize(
        ("order_type", "price", "trigger", "message"),
        [
            (OrderType.MARKET, None, None, "MARKET order does not rest"),
            (LIMIT, None, None, "needs a limit price"),
            (LIMIT, 100, 90, "needs no trigger price"),
            (SL, None, 90, "needs a limit price"),
            (SL, 100, None, "needs a trigger price"),
            (SLM, 100, 90, "needs no limit price"),
            (SLM, None, None, "needs a trigger price"),
        ],
    )
    def test_prices_must_fit_the_order_type(
        self, order_type: OrderType, price: int | None, trigger: int | None, message: str
    ) -> None:
        with pytest.raises(ValueError, match=message):
            Resting(1, "X", BUY, order_type, price, trigger)

    def test_side_and_type_must_be_enum_members(self) -> None:
        with pytest.raises(TypeError):
            Resting(1, "X", "BUY", LIMIT, 1, None)  # type: ignore[arg-type]

    def test_decimal_prices_convert_exactly(self) -> None:
        entry = Resting.of(1, "X", SELL, SL, Decimal("101.05"), Decimal("101.10"))
        assert entry.price_units == to_units(Decimal("101.05"))
        assert entry.price == Decimal("101.05") and entry.trigger == Decimal("101.10")
        assert Resting.of(2, "X", BUY, SLM, trigger=Decimal(5)).price is None
        with pytest.raises(InexactAmount):
            Resting.of(3, "X", BUY, LIMIT, Decimal("1.000000001"))

    def test_only_a_stop_loss_becomes_a_limit(self) -> None:
        assert stop(1, SELL, 100, 98).as_limit() == limit(1, SELL, 98)
        with pytest.raises(ValueError, match="only a STOP_LOSS"):
            stop_market(1, SELL, 100).as_limit()

    def test_on_quote_reads_the_tick_exactly(self) -> None:
        book = TriggerBook([Resting.of(1, "X", BUY, LIMIT, Decimal("100.05"))])
        stamp = datetime(2026, 3, 4, 6, 0, tzinfo=UTC)
        one = Decimal(1)

        def tick(ask: str) -> Tick:
            return Tick("X", stamp, Decimal(ask), Decimal(ask), Decimal(ask), one, one, one)

        assert book.on_quote(tick("100.05000001")) == []
        assert ids(book.on_quote(tick("100.05"))) == [1]


# --- Random sequences against a brute-force scan --------------------------------------------

SYMBOLS = ("A", "B")
prices = st.integers(min_value=0, max_value=12)


@st.composite
def entries(draw: st.DrawFn, order_id: int) -> Resting:
    order_type = draw(st.sampled_from([LIMIT, SL, SLM]))
    return Resting(
        order_id,
        draw(st.sampled_from(SYMBOLS)),
        draw(st.sampled_from([BUY, SELL])),
        order_type,
        None if order_type is SLM else draw(prices),
        None if order_type is LIMIT else draw(prices),
    )


def brute_force(
    live: dict[int, tuple[int, Resting]], symbol: str, bid: int, ask: int, ltp: int
) -> list[tuple[int, Event]]:
    """Scan every live order; return what crosses in the documented release order."""
    groups: list[list[tuple[int, int, int, Event]]] = [[], [], [], []]
    for order_id, (seq, entry) in live.items():
        if entry.symbol != symbol:
            continue
        price, trigger = entry.price_units, entry.trigger_units
        if entry.order_type is LIMIT:
            assert price is not None
            if entry.side is BUY and ask <= price:
                groups[0].append((-price, seq, order_id, Event.EXECUTABLE))
            elif entry.side is SELL and bid >= price:
                groups[1].append((price, seq, order_id, Event.EXECUTABLE))
            continue
        assert trigger is not None
        event = Event.TRIGGERED if entry.order_type is SL else Event.EXECUTABLE
        if entry.side is BUY and ltp >= trigger:
            groups[2].append((trigger, seq, order_id, event))
        elif entry.side is SELL and ltp <= trigger:
            groups[3].append((-trigger, seq, order_id, event))
    return [(order_id, event) for group in groups for _, _, order_id, event in sorted(group)]


class BookMachine(RuleBasedStateMachine):
    """Drive a TriggerBook and a plain dict of live orders side by side."""

    released = Bundle("released")

    def __init__(self) -> None:
        super().__init__()
        self.book = TriggerBook()
        self.live: dict[int, tuple[int, Resting]] = {}
        self.seq = 0
        self.next_id = 1
        self.gone: set[int] = set()  # removed or released, and not added back

    def _stamp(self, entry: Resting) -> None:
        self.seq += 1
        self.live[entry.order_id] = (self.seq, entry)
        self.gone.discard(entry.order_id)

    @initialize(data=st.data())
    def start(self, data: st.DataObject) -> None:
        count = data.draw(st.integers(min_value=0, max_value=8))
        loaded = [data.draw(entries(order_id)) for order_id in range(1, count + 1)]
        self.next_id = count + 1
        self.book.rebuild(loaded)
        for entry in loaded:
            self._stamp(entry)

    @rule(data=st.data())
    def add(self, data: st.DataObject) -> None:
        entry = data.draw(entries(self.next_id))
        self.next_id += 1
        self.book.add(entry)
        self._stamp(entry)

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        order_id = data.draw(st.sampled_from(sorted(self.live)))
        assert self.book.remove(order_id) == self.live.pop(order_id)[1]
        self.gone.add(order_id)

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def replace(self, data: st.DataObject) -> None:
        order_id = data.draw(st.sampled_from(sorted(self.live)))
        entry = data.draw(entries(order_id))
        assert self.book.replace(order_id, entry) == self.live.pop(order_id)[1]
        self._stamp(entry)

    @rule(order_id=st.integers(min_value=0, max_value=40))
    def remove_absent(self, order_id: int) -> None:
        if order_id in self.live:
            return
        with pytest.raises(KeyError):
            self.book.remove(order_id)

    @rule(
        target=released,
        symbol=st.sampled_from(SYMBOLS),
        bid=prices,
        ask=prices,
        ltp=prices,
    )
    def tick(self, symbol: str, bid: int, ask: int, ltp: int) -> list[Release]:
        expected = brute_force(self.live, symbol, bid, ask, ltp)
        got = self.book.on_tick(symbol, bid, ask, ltp)
        assert [(r.order_id, r.event) for r in got] == expected
        for release in got:
            assert release.order_id not in self.gone  # never twice, never after removal
            assert release.entry == self.live.pop(release.order_id)[1]
            self.gone.add(release.order_id)
        return got

    @rule(releases=consumes(released), as_limit=st.booleans())
    def add_back(self, releases: list[Release], as_limit: bool) -> None:
        """Re-add what a tick released (a partial fill, or a triggered stop now a limit)."""
        for release in releases:
            if release.order_id in self.live:
                continue  # its id already rests again
            entry = release.entry
            if as_limit and release.event is Event.TRIGGERED:
                entry = entry.as_limit()
            self.book.add(entry)
            self._stamp(entry)

    @rule(data=st.data())
    def rebuild(self, data: st.DataObject) -> None:
        order = data.draw(st.permutations(sorted(self.live)))
        loaded = [self.live[order_id][1] for order_id in order]
        self.book.rebuild(loaded)
        self.live.clear()
        for entry in loaded:
            self._stamp(entry)

    @invariant()
    def same_orders(self) -> None:
        assert len(self.book) == len(self.live)
        for symbol in SYMBOLS:
            expected = sorted(
                (seq, order_id)
                for order_id, (seq, entry) in self.live.items()
                if entry.symbol == symbol
            )
            assert self.book.open_ids(symbol) == [order_id for _, order_id in expected]


BookMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=60)
TestBookAgainstBruteForce = BookMachine.TestCase


def test_against_brute_force_with_eager_compaction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(book_module, "COMPACT_MIN", 0)
    run_state_machine_as_test(
        BookMachine, settings=settings(max_examples=100, stateful_step_count=60)
    )
