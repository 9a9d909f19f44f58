"""The trigger book: resting LIMIT and stop orders indexed by price, found by the tick that
crosses them without scanning every open order.

Each symbol keeps four binary heaps (``heapq``) of ``(key, seq, entry)`` items, arranged so
that a heap's top is always the next order to cross and every crossing test reads
``top.key <= bound``:

=============  ==============================  =========  =============
heap           executable / triggered when     key        bound
=============  ==============================  =========  =============
buy limits     ask ≤ limit (highest first)     -price     -ask
sell limits    bid ≥ limit (lowest first)      price      bid
buy stops      ltp ≥ trigger (lowest first)    trigger    ltp
sell stops     ltp ≤ trigger (highest first)   -trigger   -ltp
=============  ==============================  =========  =============

A tick that crosses nothing costs one dict lookup and four peeks; a tick that crosses ``k``
orders pops exactly those, ``O(k log n)``. ``seq`` is a counter stamped on every ``add`` (and
``replace``, and by ``rebuild`` in the entries' order), so equal prices leave in time order.

Prices are exact integers of ``10**-SCALE`` (``money.to_units``): the index compares integers,
and ``Resting.of`` / ``TriggerBook.on_quote`` convert to and from the ``Decimal`` amounts the
rest of the system uses, refusing anything inexact.

Removal is lazy: ``remove`` and ``replace`` forget the order in ``O(1)`` and leave its heap
item behind as a tombstone (an item whose ``seq`` no longer matches the live one). Tombstones
are dropped when a tick pops them, and a symbol's heaps are compacted (filtered, re-heapified)
once its tombstones outnumber its live orders (and at least 64), so memory stays within about
twice the live orders and every operation is amortised ``O(log n)``.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from tradepit.domain.market import Tick
from tradepit.domain.money import from_units, to_units
from tradepit.domain.orders import OrderType, Side

#: A symbol's heaps are compacted once they hold more tombstones than this and than live orders.
COMPACT_MIN = 64


@dataclass(frozen=True, slots=True)
class Resting:
    """An order waiting in the book, its prices in integer units (``money.to_units``).

    LIMIT has a ``price_units`` and no trigger; STOP_LOSS has both (it becomes a LIMIT at
    ``price_units`` once ``trigger_units`` is reached); STOP_LOSS_MARKET has a trigger only.
    MARKET orders never rest.
    """

    order_id: int
    symbol: str
    side: Side
    order_type: OrderType
    price_units: int | None
    trigger_units: int | None

    def __post_init__(self) -> None:
        if not isinstance(self.side, Side) or not isinstance(self.order_type, OrderType):
            raise TypeError("side and order_type must be Side and OrderType members")
        kind = self.order_type
        if kind is OrderType.MARKET:
            raise ValueError("a MARKET order does not rest in the book")
        if (self.price_units is None) != (kind is OrderType.STOP_LOSS_MARKET):
            need = "no limit price" if kind is OrderType.STOP_LOSS_MARKET else "a limit price"
            raise ValueError(f"a {kind.value} order needs {need}")
        if (self.trigger_units is None) != (kind is OrderType.LIMIT):
            need = "no trigger price" if kind is OrderType.LIMIT else "a trigger price"
            raise ValueError(f"a {kind.value} order needs {need}")

    @classmethod
    def of(
        cls,
        order_id: int,
        symbol: str,
        side: Side,
        order_type: OrderType,
        price: Decimal | None = None,
        trigger: Decimal | None = None,
    ) -> Resting:
        """Return the entry for an order priced in ``Decimal``; refuse inexact prices."""
        return cls(
            order_id,
            symbol,
            side,
            order_type,
            None if price is None else to_units(price),
            None if trigger is None else to_units(trigger),
        )

    @property
    def price(self) -> Decimal | None:
        """Return the limit price as an exact ``Decimal``, if there is one."""
        return None if self.price_units is None else from_units(self.price_units)

    @property
    def trigger(self) -> Decimal | None:
        """Return the trigger price as an exact ``Decimal``, if there is one."""
        return None if self.trigger_units is None else from_units(self.trigger_units)

    def as_limit(self) -> Resting:
        """Return the LIMIT order a triggered STOP_LOSS becomes: same id, side and price."""
        if self.order_type is not OrderType.STOP_LOSS:
            raise ValueError(f"only a STOP_LOSS becomes a LIMIT, not a {self.order_type.value}")
        return Resting(
            self.order_id, self.symbol, self.side, OrderType.LIMIT, self.price_units, None
        )


class Event(StrEnum):
    """What a tick did to a released order."""

    #: Fill it now: a LIMIT the quote crossed, or a STOP_LOSS_MARKET whose trigger was reached
    #: (it is a market order from here on).
    EXECUTABLE = "executable"
    #: A STOP_LOSS whose trigger was reached: it is a LIMIT at its price from here on. The caller
    #: fills it if the quote allows, or re-adds ``entry.as_limit()`` to rest on the limit side.
    TRIGGERED = "triggered"


class Release(NamedTuple):
    """An order a tick released from the book (it is no longer in the book)."""

    order_id: int
    event: Event
    entry: Resting


# A heap item: (key, seq, entry). seq is unique, so tuples never compare the entries.
_Item = tuple[int, int, Resting]


class _SymbolBook:
    """One symbol's four heaps, its live orders (id → seq) and its tombstone count."""

    __slots__ = ("buy_limits", "buy_stops", "live", "sell_limits", "sell_stops", "stale")

    def __init__(self) -> None:
        self.buy_limits: list[_Item] = []
        self.sell_limits: list[_Item] = []
        self.buy_stops: list[_Item] = []
        self.sell_stops: list[_Item] = []
        self.live: dict[int, int] = {}
        self.stale = 0

    def heaps(self) -> tuple[list[_Item], list[_Item], list[_Item], list[_Item]]:
        """Return the heaps in release order: buy limits, sell limits, buy stops, sell stops."""
        return self.buy_limits, self.sell_limits, self.buy_stops, self.sell_stops

    def item(self, entry: Resting, seq: int) -> tuple[list[_Item], _Item]:
        """Return the heap ``entry`` belongs in and its item there."""
        if entry.order_type is OrderType.LIMIT:
            price = entry.price_units
            assert price is not None
            if entry.side is Side.BUY:
                return self.buy_limits, (-price, seq, entry)
            return self.sell_limits, (price, seq, entry)
        trigger = entry.trigger_units
        assert trigger is not None
        if entry.side is Side.BUY:
            return self.buy_stops, (trigger, seq, entry)
        return self.sell_stops, (-trigger, seq, entry)

    def compact(self) -> None:
        """Drop every tombstone and restore the heap property."""
        live = self.live
        for heap in self.heaps():
            heap[:] = [item for item in heap if live.get(item[2].order_id) == item[1]]
            heapq.heapify(heap)
        self.stale = 0


class TriggerBook:
    """Resting LIMIT, STOP_LOSS and STOP_LOSS_MARKET orders of every symbol, indexed by price.

    ``on_tick`` returns the orders a quote releases, each exactly once, and takes them out of
    the book; the caller re-adds what only partly fills (a re-added order, like a replaced one,
    queues behind the orders already resting at its price).
    """

    def __init__(self, entries: Iterable[Resting] = ()) -> None:
        self._symbols: dict[str, _SymbolBook] = {}
        self._entries: dict[int, Resting] = {}
        self._seq = 0
        self.rebuild(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._entries

    def get(self, order_id: int) -> Resting | None:
        """Return the resting entry of ``order_id``, or None if it is not in the book."""
        return self._entries.get(order_id)

    def open_ids(self, symbol: str) -> list[int]:
        """Return the ids resting on ``symbol``, oldest (first added or replaced) first."""
        book = self._symbols.get(symbol)
        return [] if book is None else list(book.live)

    def add(self, entry: Resting) -> None:
        """Rest ``entry`` behind the orders already at its price; refuse an id already here."""
        if entry.order_id in self._entries:
            raise ValueError(f"order {entry.order_id} is already in the book")
        book = self._symbols.get(entry.symbol)
        if book is None:
            book = self._symbols[entry.symbol] = _SymbolBook()
        self._seq += 1
        heap, item = book.item(entry, self._seq)
        heapq.heappush(heap, item)
        book.live[entry.order_id] = self._seq
        self._entries[entry.order_id] = entry

    def remove(self, order_id: int) -> Resting:
        """Take ``order_id`` out of the book and return its entry; KeyError if it is not here.

        Amortised ``O(1)``: the heap item stays as a tombstone until popped or compacted.
        """
        entry = self._entries.pop(order_id)
        book = self._symbols[entry.symbol]
        del book.live[order_id]
        if not book.live:
            del self._symbols[entry.symbol]
        else:
            book.stale += 1
            if book.stale > COMPACT_MIN and book.stale > len(book.live):
                book.compact()
        return entry

    def replace(self, order_id: int, entry: Resting) -> Resting:
        """Put ``entry`` in place of ``order_id`` (a modification) and return the old entry.

        The modified order queues behind the orders already at its new price, as a modified
        order does on an exchange. KeyError if ``order_id`` is not in the book.
        """
        if entry.order_id != order_id:
            raise ValueError(f"order {order_id} cannot be replaced by order {entry.order_id}")
        old = self.remove(order_id)
        self.add(entry)
        return old

    def rebuild(self, entries: Iterable[Resting]) -> None:
        """Replace the whole book with ``entries``, given oldest first (equal prices keep it).

        ``O(n)``: the heaps are built with ``heapify``, not by ``n`` pushes.
        """
        symbols: dict[str, _SymbolBook] = {}
        loaded: dict[int, Resting] = {}
        seq = self._seq
        for entry in entries:
            if entry.order_id in loaded:
                raise ValueError(f"order {entry.order_id} appears twice")
            book = symbols.get(entry.symbol)
            if book is None:
                book = symbols[entry.symbol] = _SymbolBook()
            seq += 1
            heap, item = book.item(entry, seq)
            heap.append(item)
            book.live[entry.order_id] = seq
            loaded[entry.order_id] = entry
        for book in symbols.values():
            for heap in book.heaps():
                heapq.heapify(heap)
        self._symbols, self._entries, self._seq = symbols, loaded, seq

    def on_tick(self, symbol: str, bid_units: int, ask_units: int, ltp_units: int) -> list[Release]:
        """Return the orders this quote releases, and take them out of the book.

        A BUY LIMIT is executable when ask ≤ limit, a SELL LIMIT when bid ≥ limit; a BUY stop
        triggers when ltp ≥ trigger, a SELL stop when ltp ≤ trigger (STOP_LOSS_MARKET is then
        ``EXECUTABLE``, STOP_LOSS ``TRIGGERED``). Releases come buy limits first, then sell
        limits, buy stops, sell stops; within each, best price first, then oldest first.
        """
        book = self._symbols.get(symbol)
        if book is None:
            return []
        # The fast path: four peeks. Only a heap whose top crosses is looked at further.
        bl = book.buy_limits
        sl = book.sell_limits
        bs = book.buy_stops
        ss = book.sell_stops
        if (
            (not bl or bl[0][0] > -ask_units)
            and (not sl or sl[0][0] > bid_units)
            and (not bs or bs[0][0] > ltp_units)
            and (not ss or ss[0][0] > -ltp_units)
        ):
            return []
        out: list[Release] = []
        self._pop(book, bl, -ask_units, Event.EXECUTABLE, out)
        self._pop(book, sl, bid_units, Event.EXECUTABLE, out)
        self._pop(book, bs, ltp_units, None, out)
        self._pop(book, ss, -ltp_units, None, out)
        if not book.live:
            del self._symbols[symbol]
        return out

    def on_quote(self, tick: Tick) -> list[Release]:
        """Return the orders ``tick`` releases (see ``on_tick``), its prices taken exactly."""
        return self.on_tick(tick.symbol, to_units(tick.bid), to_units(tick.ask), to_units(tick.ltp))

    def _pop(
        self,
        book: _SymbolBook,
        heap: list[_Item],
        bound: int,
        event: Event | None,
        out: list[Release],
    ) -> None:
        """Pop every item of ``heap`` whose key is ≤ ``bound``; release the live ones."""
        live = book.live
        entries = self._entries
        while heap and heap[0][0] <= bound:
            _, seq, entry = heapq.heappop(heap)
            order_id = entry.order_id
            if live.get(order_id) != seq:
                book.stale -= 1
                continue
            del live[order_id]
            del entries[order_id]
            if event is None:
                stop_event = (
                    Event.TRIGGERED if entry.order_type is OrderType.STOP_LOSS else Event.EXECUTABLE
                )
                out.append(Release(order_id, stop_event, entry))
            else:
                out.append(Release(order_id, event, entry))
