"""GTT triggers through the official ``kiteconnect`` client."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import pytest
from kiteconnect import exceptions as ex

from tests.kite.conftest import Bot, new_bot


def _tick(price: float) -> float:
    """Return ``price`` in whole rupees: on every share's tick grid."""
    return float(Decimal(str(price)).quantize(Decimal(1)))


async def _until(bot: Bot, trigger_id: int, status: str, within: float = 10) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        found: dict[str, Any] = await bot.call(bot.kite.get_gtt, trigger_id)
        if found["status"] == status or loop.time() > deadline:
            return found
        await asyncio.sleep(0.3)


class TestSingle:
    async def test_a_reached_trigger_places_its_order_once(self, bot: Bot) -> None:
        ltp = (await bot.call(bot.kite.ltp, "NSE:INFY"))["NSE:INFY"]["last_price"]
        order = {"transaction_type": "BUY", "quantity": 2, "price": _tick(ltp * 1.02),
                 "order_type": "LIMIT", "product": "CNC"}  # fmt: skip
        placed = await bot.call(
            bot.kite.place_gtt, bot.kite.GTT_TYPE_SINGLE, "INFY", "NSE",
            [_tick(ltp * 0.999)], _tick(ltp * 0.9), [order],
        )  # fmt: skip
        trigger_id = placed["trigger_id"]
        fired = await _until(bot, trigger_id, "triggered")
        assert fired["status"] == "triggered", fired
        result = fired["orders"][0]["result"]["order_result"]
        assert result["status"] == "success"
        [made] = await bot.call(bot.kite.orders)
        assert made["order_id"] == result["order_id"]
        assert made["status"] == "COMPLETE" and made["quantity"] == 2
        await asyncio.sleep(1.5)
        assert len(await bot.call(bot.kite.orders)) == 1  # once
        assert fired["condition"]["instrument_token"] & 0xFF == 1

    async def test_a_far_trigger_waits_and_can_be_modified_and_deleted(self, bot: Bot) -> None:
        ltp = (await bot.call(bot.kite.ltp, "NSE:INFY"))["NSE:INFY"]["last_price"]
        order = {"transaction_type": "BUY", "quantity": 1, "price": _tick(ltp * 0.5),
                 "order_type": "LIMIT", "product": "CNC"}  # fmt: skip
        trigger_id = (
            await bot.call(
                bot.kite.place_gtt, "single", "INFY", "NSE", [_tick(ltp * 0.5)], ltp, [order]
            )
        )["trigger_id"]
        await asyncio.sleep(1.5)
        [waiting] = await bot.call(bot.kite.get_gtts)
        assert waiting["id"] == trigger_id and waiting["status"] == "active"
        await bot.call(
            bot.kite.modify_gtt, trigger_id, "single", "INFY", "NSE", [_tick(ltp * 0.6)], ltp,
            [{**order, "price": _tick(ltp * 0.6)}],
        )  # fmt: skip
        changed = await bot.call(bot.kite.get_gtt, trigger_id)
        assert changed["condition"]["trigger_values"] == [_tick(ltp * 0.6)]
        assert (await bot.call(bot.kite.delete_gtt, trigger_id))["trigger_id"] == trigger_id
        assert await bot.call(bot.kite.get_gtts) == []
        assert await bot.call(bot.kite.orders) == []


class TestTwoLeg:
    async def test_the_upper_leg_fires_and_the_lower_never_does(self, bot: Bot) -> None:
        ltp = (await bot.call(bot.kite.ltp, "NSE:ITC"))["NSE:ITC"]["last_price"]
        await bot.call(
            bot.kite.place_order, variety="regular", exchange="NSE", tradingsymbol="ITC",
            transaction_type="BUY", quantity=3, product="CNC", order_type="MARKET",
        )  # fmt: skip
        sell = {"transaction_type": "SELL", "quantity": 3, "order_type": "LIMIT", "product": "CNC"}
        trigger_id = (
            await bot.call(
                bot.kite.place_gtt,
                "two-leg",
                "ITC",
                "NSE",
                [_tick(ltp * 0.5), _tick(ltp * 0.99)],
                _tick(ltp * 0.98),
                [{**sell, "price": _tick(ltp * 0.5)}, {**sell, "price": _tick(ltp * 0.95)}],
            )
        )["trigger_id"]
        fired = await _until(bot, trigger_id, "triggered")
        assert fired["orders"][0]["result"] is None
        assert fired["orders"][1]["result"]["order_result"]["status"] == "success"
        positions = await bot.call(bot.kite.positions)
        [itc] = [p for p in positions["net"] if p["tradingsymbol"] == "ITC"]
        assert itc["quantity"] == 0


class TestRefusals:
    async def test_bad_gtts_are_input_exceptions(
        self, http: httpx.AsyncClient, live: str, bot: Bot
    ) -> None:
        ltp = (await bot.call(bot.kite.ltp, "NSE:INFY"))["NSE:INFY"]["last_price"]
        ltp = _tick(ltp)
        order = {"transaction_type": "BUY", "quantity": 1, "price": ltp, "order_type": "LIMIT",
                 "product": "CNC"}  # fmt: skip
        for args in (
            ("single", "NOSUCH", "NSE", [ltp], ltp * 0.9, [order]),
            ("single", "INFY", "NSE", [ltp, ltp * 2], ltp * 0.9, [order]),
            ("two-leg", "INFY", "NSE", [ltp * 2, ltp * 3], ltp, [order, order]),
            ("single", "INFY", "NSE", [ltp], ltp, [order]),
        ):
            with pytest.raises(ex.InputException):
                await bot.call(bot.kite.place_gtt, *args)
        headers = {"Authorization": f"token {bot.api_key}:{bot.kite.access_token}"}
        for form in (
            {"type": "oco", "condition": "{}", "orders": "[]"},
            {"type": "single", "condition": "not json", "orders": "[]"},
        ):
            answer = await http.post("/gtt/triggers", data=form, headers=headers)
            assert answer.status_code == 400
            assert answer.json()["error_type"] == "InputException"
        placed = await bot.call(
            bot.kite.place_gtt, "single", "INFY", "NSE", [ltp * 0.5], ltp, [order]
        )
        other = await new_bot(http, live)
        for call in (other.kite.get_gtt, other.kite.delete_gtt):
            with pytest.raises(ex.InputException) as refused:
                await other.call(call, placed["trigger_id"])
            assert refused.value.code == 404
