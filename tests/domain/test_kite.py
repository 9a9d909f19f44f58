"""Kite's wire facts: tokens, checksums and ticker packets, read back by the official
client's own parser."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from kiteconnect import KiteTicker

from tradepit.domain.kite import (
    SEGMENTS,
    Level,
    PacketQuote,
    checksum,
    exchange_token,
    frame,
    full_packet,
    kite_time,
    ltp_packet,
    paise,
    quote_packet,
    token_of,
)
from tradepit.market.catalogue import Catalogue

PARSER = KiteTicker("key", "token")
prices = st.decimals(min_value=Decimal("0.05"), max_value=Decimal("9999999.95"), places=2)
symbols = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789&-", min_size=1, max_size=30)


class TestTokens:
    @given(symbols, st.sampled_from(sorted(SEGMENTS)))
    def test_a_derived_token_carries_its_segment_and_fits_32_bits(
        self, symbol: str, segment: str
    ) -> None:
        token = token_of(symbol, segment)
        assert token & 0xFF == SEGMENTS[segment]
        assert 2**31 <= token < 2**32
        assert token == token_of(symbol.lower(), segment)  # the same on every call
        assert exchange_token(token) == token >> 8

    def test_kites_own_tokens_are_kept_where_the_catalogue_records_them(self) -> None:
        assert token_of("NIFTY", "INDICES", 256265) == 256265
        assert token_of("SENSEX", "INDICES", 265) == 265
        # A recorded token of another segment is not Kite's for this one.
        assert token_of("NIFTY", "NSE", 256265) != 256265

    def test_the_catalogue_has_no_two_instruments_on_one_token(self) -> None:
        catalogue = Catalogue.load()
        tokens = [
            token_of(
                i.symbol, "INDICES" if i.kind.value == "INDEX" else i.venue.value, i.kite_token
            )
            for i in catalogue
            if i.venue.value in ("NSE", "BSE")
        ]
        assert len(tokens) == len(set(tokens))


class TestChecksum:
    def test_it_is_sha256_of_the_three(self) -> None:
        expected = hashlib.sha256(b"keytokensecret").hexdigest()
        assert checksum("key", "token", "secret") == expected

    def test_times_are_indias_wall_clock(self) -> None:
        assert kite_time(datetime(2026, 11, 25, 4, 30, tzinfo=UTC)) == "2026-11-25 10:00:00"


def _parse(packets: list[bytes]) -> list[dict[str, object]]:
    parsed: list[dict[str, object]] = PARSER._parse_binary(frame(packets))
    return parsed


class TestPackets:
    @given(prices)
    def test_an_ltp_packet_reads_back_as_the_price(self, price: Decimal) -> None:
        token = token_of("RELIANCE", "NSE")
        [tick] = _parse([ltp_packet(PacketQuote(token, price, price, price, price, price))])
        assert tick["mode"] == "ltp" and tick["instrument_token"] == token
        assert Decimal(str(tick["last_price"])) == price
        assert paise(price) == int(price * 100)

    @given(prices, prices, prices, st.integers(min_value=0, max_value=2**32 - 1))
    def test_quote_and_full_packets_read_back(
        self, ltp: Decimal, low: Decimal, high: Decimal, volume: int
    ) -> None:
        token = token_of("INFY", "NSE")
        quote = PacketQuote(
            token, ltp, open=low, high=high, low=low, close=high, volume=Decimal(volume),
            at=datetime(2026, 11, 25, 4, 30, tzinfo=UTC),
            bids=[Level(Decimal(7), low, 2)], asks=[Level(Decimal(9), high, 3)],
        )  # fmt: skip
        assert len(quote_packet(quote)) == 44 and len(full_packet(quote)) == 184
        brief, full = _parse([quote_packet(quote), full_packet(quote)])
        for tick in (brief, full):
            assert Decimal(str(tick["last_price"])) == ltp
            assert tick["volume_traded"] == volume
            ohlc = tick["ohlc"]
            assert isinstance(ohlc, dict)
            assert Decimal(str(ohlc["high"])) == high and Decimal(str(ohlc["low"])) == low
        assert brief["mode"] == "quote" and full["mode"] == "full"
        depth = full["depth"]
        assert isinstance(depth, dict)
        assert depth["buy"][0] == {"quantity": 7, "price": float(low), "orders": 2}
        assert depth["sell"][0] == {"quantity": 9, "price": float(high), "orders": 3}
        assert depth["buy"][4] == {"quantity": 0, "price": 0.0, "orders": 0}

    @given(prices)
    def test_an_index_has_short_packets_and_is_not_tradable(self, price: Decimal) -> None:
        quote = PacketQuote(256265, price, price, price, price, price)
        assert len(quote_packet(quote)) == 28 and len(full_packet(quote)) == 32
        brief, full = _parse([quote_packet(quote), full_packet(quote)])
        assert brief["tradable"] is False and brief["mode"] == "quote"
        assert full["mode"] == "full"
        assert Decimal(str(full["last_price"])) == price
