"""Kite Connect's wire facts: segment codes, instrument tokens, checksums, times and the
ticker's binary packets. Pure: no I/O.

An instrument token carries the segment in its low byte; the official ticker reads it to
scale prices (paise for NSE, BSE and their derivatives) and to tell indices (not tradable)
from the rest. Tokens are Kite's own where the catalogue records them, else derived from the
symbol: ``(0x800000 | crc32(symbol) & 0x7FFFFF) << 8 | segment``, which is the same on every
server and every day, fits the ticker's unsigned 32 bits and lies above 2**31, clear of
Kite's real tokens.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from tradepit.domain.instruments import Instrument, Kind, Venue

#: The ticker's segment codes (kiteconnect's ``KiteTicker.EXCHANGE_MAP``) of the venues here.
SEGMENTS: dict[str, int] = {"NSE": 1, "NFO": 2, "BSE": 4, "BFO": 5, "INDICES": 9}
#: Venues the Kite dialect lists and trades (INR).
KITE_VENUES = (Venue.NSE, Venue.BSE, Venue.NFO, Venue.BFO)
#: Kite's times are India's wall clock, without an offset ("2026-11-25 10:00:00").
KITE_ZONE = ZoneInfo("Asia/Kolkata")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_DERIVED = 0x800000
_LOW_23 = 0x7FFFFF
#: Price scale of the binary packets: paise.
PRICE_SCALE = 100
_UINT32 = 2**32 - 1
#: Five levels of depth each side in a full packet.
DEPTH_LEVELS = 5


def segment(instrument: Instrument) -> str | None:
    """Return the instrument's Kite segment name (INDICES for an index), None off Kite's
    venues."""
    if instrument.venue not in KITE_VENUES:
        return None
    return "INDICES" if instrument.kind is Kind.INDEX else instrument.venue.value


#: Kite's trading symbols of the indices whose catalogue symbol differs.
INDEX_NAMES: dict[str, str] = {
    "NIFTY": "NIFTY 50",
    "BANKNIFTY": "NIFTY BANK",
    "FINNIFTY": "NIFTY FIN SERVICE",
    "MIDCPNIFTY": "NIFTY MID SELECT",
}


def trading_symbol(instrument: Instrument) -> str:
    """Return the instrument's Kite trading symbol (an index's Kite name, ``NIFTY 50``)."""
    return INDEX_NAMES.get(instrument.symbol, instrument.symbol)


def token_of(symbol: str, segment_name: str, kite_token: int | None = None) -> int:
    """Return the Kite token of ``symbol`` in ``segment_name``: ``kite_token`` when it names
    that segment, else the one derived from the symbol."""
    code = SEGMENTS[segment_name]
    if kite_token is not None and kite_token & 0xFF == code:
        return kite_token
    return ((_DERIVED | zlib.crc32(symbol.upper().encode()) & _LOW_23) << 8) | code


def instrument_token(instrument: Instrument) -> int | None:
    """Return the instrument's Kite token (None off Kite's venues)."""
    name = segment(instrument)
    if name is None:
        return None
    return token_of(instrument.symbol, name, instrument.kite_token)


def exchange_token(token: int) -> int:
    """Return the exchange token a Kite instrument token carries (its upper bytes)."""
    return token >> 8


def checksum(api_key: str, request_token: str, api_secret: str) -> str:
    """Return the checksum of a session request: hex SHA-256 of the three, concatenated."""
    return hashlib.sha256((api_key + request_token + api_secret).encode()).hexdigest()


def postback_checksum(order_id: str, order_timestamp: str, api_secret: str) -> str:
    """Return a postback's checksum: hex SHA-256 of order id, order timestamp and secret."""
    return hashlib.sha256((order_id + order_timestamp + api_secret).encode()).hexdigest()


def kite_time(at: datetime) -> str:
    """Return ``at`` as Kite writes times: India's wall clock, ``YYYY-MM-DD HH:MM:SS``."""
    return at.astimezone(KITE_ZONE).strftime(TIME_FORMAT)


def kite_iso(at: datetime) -> str:
    """Return ``at`` as Kite writes candle times: India's wall clock with its offset."""
    return at.astimezone(KITE_ZONE).strftime("%Y-%m-%dT%H:%M:%S%z")


def paise(price: Decimal) -> int:
    """Return a price in the packets' units (paise), rounded half-even, within 32 bits."""
    units = int((price * PRICE_SCALE).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    return max(0, min(units, _UINT32))


def _count(quantity: Decimal) -> int:
    return max(0, min(int(quantity), _UINT32))


@dataclass(frozen=True)
class Level:
    """One level of depth: quantity, price and number of orders."""

    quantity: Decimal
    price: Decimal
    orders: int


@dataclass(frozen=True)
class PacketQuote:
    """What a packet says of one instrument."""

    token: int
    ltp: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = Decimal(0)
    last_quantity: Decimal = Decimal(0)
    average_price: Decimal = Decimal(0)
    buy_quantity: Decimal = Decimal(0)
    sell_quantity: Decimal = Decimal(0)
    oi: Decimal = Decimal(0)
    at: datetime | None = None
    bids: Sequence[Level] = ()
    asks: Sequence[Level] = ()

    @property
    def is_index(self) -> bool:
        """Tell whether the token is an index's (its packets are shorter)."""
        return self.token & 0xFF == SEGMENTS["INDICES"]


def ltp_packet(quote: PacketQuote) -> bytes:
    """Return the 8-byte LTP packet."""
    return struct.pack(">II", quote.token, paise(quote.ltp))


def quote_packet(quote: PacketQuote) -> bytes:
    """Return the quote packet: 44 bytes, or 28 for an index."""
    if quote.is_index:
        return struct.pack(
            ">7I",
            quote.token,
            paise(quote.ltp),
            paise(quote.high),
            paise(quote.low),
            paise(quote.open),
            paise(quote.close),
            0,  # the change, which the client computes itself
        )
    return struct.pack(
        ">11I",
        quote.token,
        paise(quote.ltp),
        _count(quote.last_quantity),
        paise(quote.average_price),
        _count(quote.volume),
        _count(quote.buy_quantity),
        _count(quote.sell_quantity),
        paise(quote.open),
        paise(quote.high),
        paise(quote.low),
        paise(quote.close),
    )


def _stamp(at: datetime | None) -> int:
    return max(0, min(int(at.timestamp()), _UINT32)) if at is not None else 0


def full_packet(quote: PacketQuote) -> bytes:
    """Return the full packet: 184 bytes with five levels of depth each side, or 32 for an
    index (the quote packet and the exchange timestamp)."""
    if quote.is_index:
        return quote_packet(quote) + struct.pack(">I", _stamp(quote.at))
    stamp = _stamp(quote.at)
    head = quote_packet(quote) + struct.pack(
        ">5I", stamp, _count(quote.oi), _count(quote.oi), _count(quote.oi), stamp
    )
    depth = b""
    for side in (quote.bids, quote.asks):
        levels = list(side)[:DEPTH_LEVELS]
        levels += [Level(Decimal(0), Decimal(0), 0)] * (DEPTH_LEVELS - len(levels))
        for level in levels:
            depth += struct.pack(
                ">IIH2x", _count(level.quantity), paise(level.price), min(level.orders, 65535)
            )
    return head + depth


def frame(packets: Sequence[bytes]) -> bytes:
    """Return one binary message: the packet count, then each packet after its length."""
    body = struct.pack(">H", len(packets))
    for packet in packets:
        body += struct.pack(">H", len(packet)) + packet
    return body
