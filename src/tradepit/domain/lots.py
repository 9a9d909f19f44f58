"""Position sizing: how many lots risk a given share of a balance between entry and stop.

lots = risk / (stop distance * contract size), rounded down to the lot step and clamped to the
minimum and maximum lot. The contract size is the money one lot makes or loses per 1.0 of
price (XAUUSD: 100 oz, so $1 is $100 per lot; EURUSD: 100,000; a NIFTY future: its lot of 65).
The balance is taken to be in the instrument's currency (the one it settles in). For a pair
settled in its base currency (USDJPY: priced in yen, settled in dollars) the risk of a lot is
converted at the stop, the price a stopped-out position realizes its loss at:
``stop distance * contract size / stop`` (``money.quote_to_base``), rounded up so that an entry
never risks more than its share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from tradepit.domain.errors import InvalidInput
from tradepit.domain.instruments import Instrument, Kind
from tradepit.domain.money import plain, quote_to_base

#: Most entries one calculation splits the risk across.
MAX_ENTRIES = 10
#: Decimals kept for money amounts in answers (rounded down: never more than was asked).
MONEY_STEP = Decimal("0.00000001")
HUNDRED = Decimal(100)


class InvalidSizing(InvalidInput):
    """The sizing request cannot be computed (stop at the entry, no entries, bad figures)."""

    code = "INVALID_SIZING"


@dataclass(frozen=True)
class LotRules:
    """How an instrument is traded in lots; ``settles_in_base``: the money a lot makes is in
    the price's currency and is converted at the price (``Instrument.settles_in_base``)."""

    contract_size: Decimal
    step: Decimal
    min_lot: Decimal
    max_lot: Decimal
    settles_in_base: bool = False


def lot_rules(instrument: Instrument) -> LotRules:
    """Return the lot rules of ``instrument`` from its catalogue figures.

    Forex and metals (MT5-style): a lot is ``multiplier`` units, step and minimum ``lot_size``,
    at most 100 lots. Futures, options and indices with derivatives: a lot is the exchange lot
    (``lot_size`` * ``multiplier``), whole lots. Equities: shares; crypto: the coin, stepped by
    ``lot_size``.
    """
    if instrument.kind is Kind.FOREX:
        step = instrument.lot_size
        return LotRules(instrument.multiplier, step, step, Decimal(100), instrument.settles_in_base)
    if instrument.is_derivative or instrument.kind is Kind.INDEX:
        size = instrument.lot_size * instrument.multiplier
        return LotRules(size, Decimal(1), Decimal(1), Decimal(1000))
    step = instrument.lot_size if instrument.kind is Kind.CRYPTO else Decimal(1)
    return LotRules(instrument.multiplier, step, step, Decimal(1_000_000))


@dataclass(frozen=True)
class EntrySize:
    """The size of one entry and the money it risks down to the stop."""

    entry_price: Decimal
    lots: Decimal
    risk_amount: Decimal


@dataclass(frozen=True)
class Sizing:
    """The answer of the calculator: the risk asked, each entry's size, and warnings."""

    risk_amount: Decimal
    entries: tuple[EntrySize, ...]
    total_lots: Decimal
    warnings: tuple[str, ...]

    @property
    def risk_taken(self) -> Decimal:
        """Return what all entries together lose if the stop is hit."""
        return sum((e.risk_amount for e in self.entries), Decimal(0))

    @property
    def raised_to_minimum(self) -> bool:
        """Tell whether an entry was raised to the minimum lot (and so risks more)."""
        return any(w.startswith("minimum lot") for w in self.warnings)


def _floor(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


def size(
    balance: Decimal,
    risk_percent: Decimal,
    stop_loss: Decimal,
    entries: Sequence[Decimal],
    rules: LotRules,
) -> Sizing:
    """Split ``risk_percent`` of ``balance`` evenly across ``entries`` and size each one.

    An entry whose share buys less than the minimum lot gets the minimum lot and a warning
    (it risks more than asked); one above the maximum gets the maximum and a warning.
    """
    if balance <= 0:
        raise InvalidSizing("portfolioSize must be positive")
    if not 0 < risk_percent <= HUNDRED:
        raise InvalidSizing("riskPercent must be above 0 and at most 100")
    if not 1 <= len(entries) <= MAX_ENTRIES:
        raise InvalidSizing(f"give 1 to {MAX_ENTRIES} entry prices")
    if stop_loss <= 0 or any(price <= 0 for price in entries):
        raise InvalidSizing("prices must be positive")
    if any(price == stop_loss for price in entries):
        raise InvalidSizing("the stop loss must differ from every entry price")
    above = {price > stop_loss for price in entries}
    if len(above) > 1:
        raise InvalidSizing("all entries must be on the same side of the stop loss")
    risk = _floor(balance * risk_percent / HUNDRED, MONEY_STEP)
    share = risk / len(entries)
    sized: list[EntrySize] = []
    warnings: list[str] = []

    def at_stop(loss: Decimal) -> Decimal:
        """Return a loss in the price's currency in the settlement currency, at the stop
        (rounded up to 10⁻⁸ when converted)."""
        if rules.settles_in_base:
            return quote_to_base(loss, stop_loss, ROUND_CEILING)
        return loss

    # A converted risk is rounded up to 10⁻⁸: it is sized against the share rounded down to
    # 10⁻⁸, so that even rounded up it stays within the share.
    budget = _floor(share, MONEY_STEP) if rules.settles_in_base else share
    for number, price in enumerate(entries, start=1):
        per_lot = abs(price - stop_loss) * rules.contract_size
        lots = _floor(budget / at_stop(per_lot), rules.step)
        if lots < rules.min_lot:
            lots = rules.min_lot
            warnings.append(
                f"minimum lot {plain(lots)} at entry {number} risks "
                f"{plain(at_stop(lots * per_lot))}, "
                f"more than the {plain(_floor(share, MONEY_STEP))} asked"
            )
        elif lots > rules.max_lot:
            lots = rules.max_lot
            warnings.append(f"entry {number} capped at the maximum lot {plain(lots)}")
        sized.append(EntrySize(price, lots, at_stop(lots * per_lot)))
    total = sum((e.lots for e in sized), Decimal(0))
    return Sizing(risk, tuple(sized), total, tuple(warnings))


def quantity_of(instrument: Instrument, lots: Decimal) -> Decimal:
    """Return the order quantity of ``lots``: lots themselves for forex (MT5-style), the
    exchange lot times ``lots`` for futures and options, shares or coins otherwise."""
    if instrument.is_derivative:
        return lots * instrument.lot_size
    return lots
