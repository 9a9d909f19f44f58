"""Charges per fill: brokerage, taxes and exchange fees, from a schedule of rates.

The rates are data (``market/fees.toml``, read by ``market/fee_schedule.py``); this module only
computes. A schedule is a list of segments, each matching some venues, kinds and products and
carrying one of three rate shapes:

- ``IndiaRates``: an Indian discount broker's contract note (brokerage, STT, exchange
  transaction charges, SEBI fee, stamp duty, GST), each component a percentage of turnover
  (premium turnover for options) rounded half-up to the paisa, as contract notes do.
- ``PercentRates``: a crypto exchange's maker/taker fee, a percentage of notional in the quote
  currency, reported as the ``exchange`` component.
- ``PerLotRates``: a forex/CFD broker's commission per lot per side, reported as ``brokerage``.

Charges are computed per fill: a broker's "per executed order" cap (₹20) is applied to each
fill, so an order that fills in pieces pays it once per piece (never less than a real
contract note).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, Literal

from tradepit.domain.errors import InvalidInput
from tradepit.domain.instruments import Instrument, Kind, Venue
from tradepit.domain.money import plain
from tradepit.domain.orders import Product, Side

#: Who provided the liquidity: a resting order (maker) or one that crossed the spread (taker).
Liquidity = Literal["maker", "taker"]

ZERO: Final = Decimal(0)
_PERCENT: Final = Decimal(100)
_CRORE: Final = Decimal(10_000_000)


class NoCharges(InvalidInput):
    """No segment of the fee schedule covers this instrument and product."""

    code = "NO_CHARGES"


@dataclass(frozen=True, slots=True)
class Charges:
    """What one fill costs, by component, in ``currency``.

    Indian fills use every component; crypto fees are ``exchange``; forex commission is
    ``brokerage``. ``segment`` names the schedule segment that priced the fill.
    """

    currency: str
    segment: str
    brokerage: Decimal = ZERO
    stt: Decimal = ZERO
    exchange: Decimal = ZERO
    sebi: Decimal = ZERO
    stamp: Decimal = ZERO
    gst: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        """Return the sum of the components."""
        return self.brokerage + self.stt + self.exchange + self.sebi + self.stamp + self.gst


def _check_rate(name: str, value: Decimal | None) -> None:
    if value is not None and (not value.is_finite() or value < 0):
        raise ValueError(f"{name} must be a finite non-negative decimal, got {value}")


@dataclass(frozen=True, slots=True)
class IndiaRates:
    """An Indian equity or F&O contract note; ``*_pct`` are percentages of turnover.

    Brokerage is ``brokerage_flat`` when set, else ``brokerage_pct`` of turnover capped at
    ``brokerage_max`` (uncapped when ``None``). STT is charged on the side that has a rate,
    stamp duty on buys only, GST on brokerage + exchange charges + SEBI fee.
    """

    stt_buy_pct: Decimal
    stt_sell_pct: Decimal
    stamp_buy_pct: Decimal
    exchange_pct: Mapping[Venue, Decimal]
    sebi_per_crore: Decimal
    gst_pct: Decimal
    brokerage_pct: Decimal = ZERO
    brokerage_max: Decimal | None = None
    brokerage_flat: Decimal | None = None

    def __post_init__(self) -> None:
        for name in (
            "stt_buy_pct",
            "stt_sell_pct",
            "stamp_buy_pct",
            "sebi_per_crore",
            "gst_pct",
            "brokerage_pct",
            "brokerage_max",
            "brokerage_flat",
        ):
            _check_rate(name, getattr(self, name))
        for venue, rate in self.exchange_pct.items():
            _check_rate(f"exchange_pct for {venue.value}", rate)
        if self.brokerage_flat is not None and (self.brokerage_pct or self.brokerage_max):
            raise ValueError("brokerage_flat excludes brokerage_pct and brokerage_max")


@dataclass(frozen=True, slots=True)
class PercentRates:
    """A maker/taker fee as a percentage of notional (quantity x price x multiplier)."""

    maker_pct: Decimal
    taker_pct: Decimal

    def __post_init__(self) -> None:
        _check_rate("maker_pct", self.maker_pct)
        _check_rate("taker_pct", self.taker_pct)


@dataclass(frozen=True, slots=True)
class PerLotRates:
    """A commission per lot per side; ``per_symbol`` overrides it for some symbols."""

    commission_per_lot: Decimal
    per_symbol: Mapping[str, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_rate("commission_per_lot", self.commission_per_lot)
        for symbol, rate in self.per_symbol.items():
            _check_rate(f"commission for {symbol}", rate)


Rates = IndiaRates | PercentRates | PerLotRates


@dataclass(frozen=True, slots=True)
class Segment:
    """Rates for the fills of some venues, kinds and products (all products when empty).

    ``currency`` is the currency of the charges; ``None`` means the instrument's (a crypto
    fee in the quote currency). Each component is rounded half-up to ``round_to``.
    """

    name: str
    venues: frozenset[Venue]
    kinds: frozenset[Kind]
    products: frozenset[Product]
    rates: Rates
    round_to: Decimal
    source: str
    as_of: date
    currency: str | None = None

    def __post_init__(self) -> None:
        if not self.venues or not self.kinds:
            raise ValueError(f"segment {self.name!r} must name at least one venue and kind")
        if not self.round_to.is_finite() or self.round_to <= 0:
            raise ValueError(f"segment {self.name!r}: round_to must be positive")
        if not self.source.strip():
            raise ValueError(f"segment {self.name!r} needs a source")
        if isinstance(self.rates, IndiaRates):
            missing = self.venues - set(self.rates.exchange_pct)
            if missing:
                names = ", ".join(sorted(v.value for v in missing))
                raise ValueError(f"segment {self.name!r}: exchange_pct has no rate for {names}")

    def covers(self, instrument: Instrument, product: Product) -> bool:
        """Tell whether this segment prices fills of ``instrument`` under ``product``."""
        return (
            instrument.venue in self.venues
            and instrument.kind in self.kinds
            and (not self.products or product in self.products)
        )

    def claims(self) -> Iterable[tuple[Venue, Kind, Product | None]]:
        """Yield every (venue, kind, product) this segment claims; ``None`` = any product."""
        products: Iterable[Product | None] = self.products or (None,)
        for venue in self.venues:
            for kind in self.kinds:
                for product in products:
                    yield venue, kind, product


def _overlaps(a: tuple[Venue, Kind, Product | None], b: tuple[Venue, Kind, Product | None]) -> bool:
    return a[:2] == b[:2] and (a[2] is None or b[2] is None or a[2] == b[2])


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """The segments in force; no two may cover the same venue, kind and product."""

    segments: tuple[Segment, ...]

    def __post_init__(self) -> None:
        claimed: list[tuple[tuple[Venue, Kind, Product | None], str]] = []
        for segment in self.segments:
            for key in segment.claims():
                for other, owner in claimed:
                    if _overlaps(key, other):
                        product = key[2] or other[2]
                        what = f"{key[0].value} {key[1].value}" + (
                            f" {product.value}" if product else ""
                        )
                        raise ValueError(
                            f"segments {owner!r} and {segment.name!r} both cover {what}"
                        )
            claimed.extend((key, segment.name) for key in segment.claims())

    def segment_for(self, instrument: Instrument, product: Product) -> Segment:
        """Return the segment that prices ``instrument`` under ``product``; refuse if none."""
        if not instrument.tradable:
            raise NoCharges(f"{instrument.symbol} is an index without a contract: not traded")
        for segment in self.segments:
            if segment.covers(instrument, product):
                return segment
        raise NoCharges(
            f"product {product.value} is not available for {instrument.symbol} "
            f"({instrument.venue.value} {instrument.kind.value.lower()})"
        )

    def charges(
        self,
        instrument: Instrument,
        product: Product,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        liquidity: Liquidity = "taker",
    ) -> Charges:
        """Return the charges of one fill of ``quantity`` at ``price``."""
        if not quantity.is_finite() or quantity <= 0:
            raise InvalidInput(f"quantity must be positive, got {plain(quantity)}")
        if not price.is_finite() or price <= 0:
            raise InvalidInput(f"price must be positive, got {plain(price)}")
        segment = self.segment_for(instrument, product)
        currency = segment.currency or instrument.currency
        if segment.currency is not None and segment.currency != instrument.currency:
            raise NoCharges(
                f"segment {segment.name!r} charges in {segment.currency}, but "
                f"{instrument.symbol} is priced in {instrument.currency}"
            )
        rates = segment.rates
        turnover = quantity * price * instrument.multiplier

        def rounded(value: Decimal) -> Decimal:
            return value.quantize(segment.round_to, rounding=ROUND_HALF_UP)

        if isinstance(rates, PercentRates):
            pct = rates.maker_pct if liquidity == "maker" else rates.taker_pct
            return Charges(currency, segment.name, exchange=rounded(turnover * pct / _PERCENT))
        if isinstance(rates, PerLotRates):
            per_lot = rates.per_symbol.get(instrument.symbol, rates.commission_per_lot)
            return Charges(currency, segment.name, brokerage=rounded(quantity * per_lot))
        return _india(rates, segment.name, currency, instrument.venue, side, turnover, rounded)


def _india(
    rates: IndiaRates,
    name: str,
    currency: str,
    venue: Venue,
    side: Side,
    turnover: Decimal,
    rounded: Callable[[Decimal], Decimal],
) -> Charges:
    if rates.brokerage_flat is not None:
        brokerage = rates.brokerage_flat
    else:
        brokerage = turnover * rates.brokerage_pct / _PERCENT
        if rates.brokerage_max is not None:
            brokerage = min(brokerage, rates.brokerage_max)
    brokerage = rounded(brokerage)
    stt_pct = rates.stt_buy_pct if side is Side.BUY else rates.stt_sell_pct
    stt = rounded(turnover * stt_pct / _PERCENT)
    exchange = rounded(turnover * rates.exchange_pct[venue] / _PERCENT)
    sebi = rounded(turnover * rates.sebi_per_crore / _CRORE)
    stamp = rounded(turnover * rates.stamp_buy_pct / _PERCENT if side is Side.BUY else ZERO)
    gst = rounded((brokerage + exchange + sebi) * rates.gst_pct / _PERCENT)
    return Charges(
        currency,
        name,
        brokerage=brokerage,
        stt=stt,
        exchange=exchange,
        sebi=sebi,
        stamp=stamp,
        gst=gst,
    )
