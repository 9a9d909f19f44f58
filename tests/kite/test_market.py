"""Instruments, quotes and candles through the official ``kiteconnect`` client."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from kiteconnect import exceptions as ex

from tests.kite.conftest import Bot
from tests.realtime.conftest import MID_SESSION


class TestInstruments:
    async def test_the_dump_lists_shares_indices_futures_and_options(self, bot: Bot) -> None:
        found = await bot.call(bot.kite.instruments)
        by_symbol = {(i["exchange"], i["tradingsymbol"]): i for i in found}
        reliance = by_symbol[("NSE", "RELIANCE")]
        assert reliance["instrument_token"] & 0xFF == 1 and reliance["segment"] == "NSE"
        assert reliance["instrument_type"] == "EQ" and reliance["lot_size"] == 1
        assert reliance["exchange_token"] == str(reliance["instrument_token"] >> 8)
        nifty = by_symbol[("NSE", "NIFTY 50")]
        assert nifty["instrument_token"] == 256265 and nifty["segment"] == "INDICES"
        futures = [i for i in found if i["segment"] == "NFO-FUT" and i["name"] == "NIFTY"]
        assert futures and all(isinstance(i["expiry"], date) for i in futures)
        assert all(i["lot_size"] == 65 for i in futures)
        options = [i for i in found if i["segment"] == "NFO-OPT" and i["name"] == "NIFTY"]
        assert {i["instrument_type"] for i in options} == {"CE", "PE"}
        assert all(i["strike"] > 0 for i in options)
        tokens = [i["instrument_token"] for i in found]
        assert len(tokens) == len(set(tokens)) and max(tokens) < 2**32

    async def test_one_exchange(self, bot: Bot) -> None:
        found = await bot.call(bot.kite.instruments, "BSE")
        assert {i["exchange"] for i in found} == {"BSE"}
        assert ("SENSEX", 265) in {(i["tradingsymbol"], i["instrument_token"]) for i in found}
        with pytest.raises(ex.InputException):
            await bot.call(bot.kite.instruments, "MCX")

    async def test_tokens_are_the_same_on_every_call(self, bot: Bot) -> None:
        first = {
            i["tradingsymbol"]: i["instrument_token"]
            for i in await bot.call(bot.kite.instruments, "NSE")
        }
        again = {
            i["tradingsymbol"]: i["instrument_token"]
            for i in await bot.call(bot.kite.instruments, "NSE")
        }
        assert first == again


class TestQuotes:
    async def test_ltp_ohlc_and_quote(self, bot: Bot) -> None:
        keys = ["NSE:RELIANCE", "NSE:NIFTY 50", "NSE:NOSUCH"]
        ltp = await bot.call(bot.kite.ltp, keys)
        assert set(ltp) == {"NSE:RELIANCE", "NSE:NIFTY 50"}
        assert ltp["NSE:NIFTY 50"]["instrument_token"] == 256265
        assert ltp["NSE:RELIANCE"]["last_price"] > 0
        ohlc = await bot.call(bot.kite.ohlc, "NSE:RELIANCE")
        bar = ohlc["NSE:RELIANCE"]["ohlc"]
        assert bar["low"] <= bar["high"] and bar["close"] > 0
        quote = (await bot.call(bot.kite.quote, "NSE:INFY"))["NSE:INFY"]
        assert isinstance(quote["timestamp"], datetime)
        assert len(quote["depth"]["buy"]) == len(quote["depth"]["sell"]) == 5
        assert quote["depth"]["buy"][0]["price"] <= quote["depth"]["sell"][0]["price"]

    async def test_a_future_is_quoted_on_its_exchange(self, bot: Bot) -> None:
        futures = [
            i for i in await bot.call(bot.kite.instruments, "NFO") if i["segment"] == "NFO-FUT"
        ]
        key = f"NFO:{futures[0]['tradingsymbol']}"
        found = await bot.call(bot.kite.ltp, key, "NSE:" + futures[0]["tradingsymbol"])
        assert list(found) == [key]

    async def test_too_many_instruments_is_input_exception(self, bot: Bot) -> None:
        with pytest.raises(ex.InputException):
            await bot.call(bot.kite.quote, [f"NSE:X{i}" for i in range(501)])


class TestHistorical:
    async def test_day_and_minute_candles(self, bot: Bot) -> None:
        token = (await bot.call(bot.kite.ltp, "NSE:RELIANCE"))["NSE:RELIANCE"]["instrument_token"]
        end = MID_SESSION.date()
        days = await bot.call(bot.kite.historical_data, token, end - timedelta(days=20), end, "day")
        assert 10 <= len(days) <= 21  # every day trades with market_hours=always
        assert [d["date"] for d in days] == sorted(d["date"] for d in days)
        assert all(d["low"] <= d["open"] <= d["high"] for d in days)
        assert days[0]["date"].utcoffset() == timedelta(hours=5, minutes=30)
        assert all((d["date"].hour, d["date"].minute) == (0, 0) for d in days)
        start = datetime(2026, 11, 24, 9, 15)
        minutes = await bot.call(
            bot.kite.historical_data, token, start, start + timedelta(hours=1), "minute", oi=True
        )
        assert len(minutes) == 61 and "oi" in minutes[0]
        fives = await bot.call(
            bot.kite.historical_data, token, start, start + timedelta(hours=1), "10minute"
        )
        assert len(fives) == 7

    async def test_bad_interval_range_or_token(self, bot: Bot) -> None:
        token = (await bot.call(bot.kite.ltp, "NSE:RELIANCE"))["NSE:RELIANCE"]["instrument_token"]
        end = MID_SESSION.date()
        with pytest.raises(ex.InputException):
            await bot.call(bot.kite.historical_data, token, end - timedelta(days=5), end, "2minute")
        with pytest.raises(ex.InputException):
            await bot.call(bot.kite.historical_data, token, end - timedelta(days=90), end, "minute")
        with pytest.raises(ex.InputException):
            await bot.call(bot.kite.historical_data, 1234501, end - timedelta(days=5), end, "day")
