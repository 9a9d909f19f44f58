"""Bracket orders: take-profit, stop-loss and trailing-stop legs that follow their entry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import app_at, client_for
from tests.factories import user_with_token
from tests.services.test_engine import OPEN, fetch, inr, matcher, quote
from tradepit.bus import user_topic
from tradepit.domain.clock import ManualClock

TICK = Decimal("0.10")  # INFY's tick


@pytest.fixture
async def app(tmp_path: Path, db: str) -> AsyncIterator[FastAPI]:
    async with app_at(tmp_path / "data", db, ManualClock(OPEN)) as application:
        yield application


async def bracket(
    client: httpx.AsyncClient, headers: dict[str, str], **body: object
) -> dict[str, Any]:
    response = await client.post(
        "/api/paper-trading/orders",
        json={
            "symbol": "INFY",
            "order_type": "MARKET",
            "order_side": "BUY",
            "quantity": "10",
            "product": "MIS",
            **body,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    placed: dict[str, Any] = response.json()
    return placed


async def legs(client: httpx.AsyncClient, headers: dict[str, str], parent: int) -> dict[str, Any]:
    orders = (await client.get("/api/paper-trading/orders", headers=headers)).json()
    return {o["leg"]: o for o in orders if o["parent_id"] == parent}


async def position(client: httpx.AsyncClient, headers: dict[str, str]) -> Decimal:
    rows = (await client.get("/api/paper-trading/positions", headers=headers)).json()
    return sum((Decimal(p["quantity"]) for p in rows if p["symbol"] == "INFY"), Decimal(0))


class TestLegs:
    async def test_legs_are_placed_at_the_fill_price_plus_the_distances(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        entry = await bracket(
            client,
            headers,
            product="CNC",
            take_profit={"points": "20"},
            stop_loss={"percent": "1"},
        )
        assert entry["status"] == "filled"
        assert entry["bracket"] == {"stop_loss": {"percent": "1"}, "take_profit": {"points": "20"}}
        fill = Decimal(entry["average_price"])
        found = await legs(client, headers, entry["id"])
        assert set(found) == {"take_profit", "stop_loss"}
        tp, sl = found["take_profit"], found["stop_loss"]
        assert (tp["order_type"], tp["order_side"], tp["status"]) == ("LIMIT", "SELL", "open")
        assert Decimal(tp["price"]) == ((fill + 20) / TICK).to_integral_value(ROUND_CEILING) * TICK
        assert (sl["order_type"], sl["order_side"]) == ("STOP_LOSS_MARKET", "SELL")
        stop = fill * Decimal("0.99")
        assert Decimal(sl["trigger_price"]) == (stop / TICK).to_integral_value(ROUND_CEILING) * TICK
        assert tp["quantity"] == sl["quantity"] == "10"
        assert tp["validity"] == sl["validity"] == "GTC"
        # Legs block no cash (they only reduce the position).
        assert (await inr(client, headers))["blocked"] == "0"

    async def test_take_profit_fills_and_cancels_the_stop(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        entry = await bracket(
            client, headers, take_profit={"points": "20"}, stop_loss={"points": "20"}
        )
        tp = Decimal((await legs(client, headers, entry["id"]))["take_profit"]["price"])
        await matcher(app).on_ticks([quote("INFY", str(tp + 1), str(tp + Decimal("1.1")))])
        found = await legs(client, headers, entry["id"])
        assert found["take_profit"]["status"] == "filled"
        assert Decimal(found["take_profit"]["average_price"]) >= tp
        assert found["stop_loss"]["status"] == "cancelled"
        assert await position(client, headers) == 0
        # Later ticks through the old stop do nothing: no short is opened.
        await matcher(app).on_ticks([quote("INFY", "1", "1.05")])
        assert await position(client, headers) == 0

    async def test_stop_loss_triggers_sells_and_cancels_the_take_profit(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        entry = await bracket(
            client, headers, take_profit={"points": "20"}, stop_loss={"points": "10"}
        )
        stop = Decimal((await legs(client, headers, entry["id"]))["stop_loss"]["trigger_price"])
        low = stop - 2
        await matcher(app).on_ticks([quote("INFY", str(low), str(low + TICK), ltp=str(low))])
        found = await legs(client, headers, entry["id"])
        assert found["stop_loss"]["status"] == "filled"
        assert found["take_profit"]["status"] == "cancelled"
        assert await position(client, headers) == 0

    @pytest.mark.parametrize("product", ["MIS", "CNC"])
    async def test_closing_the_position_by_hand_cancels_both_legs(
        self, client: httpx.AsyncClient, product: str
    ) -> None:
        """Delivery (CNC) cannot go short, and its legs still put nothing on sale: the
        close sells what is held, and the legs are cancelled."""
        _, headers = await user_with_token(client)
        entry = await bracket(
            client,
            headers,
            product=product,
            take_profit={"points": "20"},
            stop_loss={"points": "10"},
        )
        response = await client.post(
            "/api/paper-trading/positions/INFY/close", params={"product": product},
            headers=headers,
        )  # fmt: skip
        assert response.status_code in (200, 201), response.text
        assert response.json()["status"] == "filled"
        assert await position(client, headers) == 0
        found = await legs(client, headers, entry["id"])
        assert {leg["status"] for leg in found.values()} == {"cancelled"}

    async def test_a_sell_beside_the_legs_is_held_to_the_position_not_to_the_legs(
        self, client: httpx.AsyncClient
    ) -> None:
        """Legs are not on sale; other sell orders are: 10 held, a resting CNC sell of 6,
        then one of 5 is refused, one of 4 rests."""
        _, headers = await user_with_token(client)
        entry = await bracket(client, headers, product="CNC", take_profit={"points": "20"})
        far = {"symbol": "INFY", "order_type": "LIMIT", "order_side": "SELL", "product": "CNC"}
        above = str(Decimal(entry["average_price"]) + 500)
        first = await client.post(
            "/api/paper-trading/orders", json={**far, "quantity": "6", "price": above},
            headers=headers,
        )  # fmt: skip
        too_many = await client.post(
            "/api/paper-trading/orders", json={**far, "quantity": "5", "price": above},
            headers=headers,
        )  # fmt: skip
        rest = await client.post(
            "/api/paper-trading/orders", json={**far, "quantity": "4", "price": above},
            headers=headers,
        )  # fmt: skip
        assert first.status_code == 201 and first.json()["status"] == "open", first.text
        assert too_many.status_code == 400 and too_many.json()["code"] == "ORDER_REJECTED"
        assert "already on sale" in too_many.json()["message"]
        assert rest.status_code == 201 and rest.json()["status"] == "open", rest.text

    async def test_a_short_entry_gets_buy_legs_on_the_other_sides(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        entry = await bracket(
            client,
            headers,
            order_side="SELL",
            take_profit={"points": "20"},
            stop_loss={"points": "10"},
        )
        fill = Decimal(entry["average_price"])
        found = await legs(client, headers, entry["id"])
        assert found["take_profit"]["order_side"] == found["stop_loss"]["order_side"] == "BUY"
        assert Decimal(found["take_profit"]["price"]) <= fill - 20
        assert Decimal(found["stop_loss"]["trigger_price"]) <= fill + 10

    async def test_a_resting_entry_has_no_legs_until_it_fills(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        ask = app.state.wiring.market.tick("INFY").ask
        limit = (ask * Decimal("0.95")).quantize(Decimal("0.1"))
        entry = await bracket(
            client, headers, order_type="LIMIT", price=str(limit), take_profit={"points": "30"}
        )
        assert entry["status"] == "open"
        assert await legs(client, headers, entry["id"]) == {}
        better = limit - Decimal("0.5")
        await matcher(app).on_ticks([quote("INFY", str(better - TICK), str(better))])
        found = await legs(client, headers, entry["id"])
        fill = Decimal((await fetch(client, headers, entry["id"]))["average_price"])  # type: ignore[arg-type]
        assert Decimal(found["take_profit"]["price"]) == fill + 30


class TestTrailingStop:
    async def test_the_stop_follows_new_highs_never_drops_and_sells_on_the_turn(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        entry = await bracket(client, headers, trailing_stop={"points": "10"})
        fill = Decimal(entry["average_price"])
        stop = (await legs(client, headers, entry["id"]))["stop_loss"]
        assert (
            Decimal(stop["trigger_price"])
            == ((fill - 10) / TICK).to_integral_value(ROUND_CEILING) * TICK
        )
        assert stop["bracket"] == {"trailing_stop": {"points": "10"}}
        high = fill + 25
        await matcher(app).on_ticks([quote("INFY", str(high - TICK), str(high), ltp=str(high))])
        moved = await fetch(client, headers, stop["id"])
        assert Decimal(str(moved["trigger_price"])) == high - 10
        # A lower price leaves the stop where it is.
        dip = high - 5
        await matcher(app).on_ticks([quote("INFY", str(dip - TICK), str(dip), ltp=str(dip))])
        assert (
            Decimal(str((await fetch(client, headers, stop["id"]))["trigger_price"])) == high - 10
        )
        # Through the stop: sold, above the entry.
        low = high - 11
        await matcher(app).on_ticks([quote("INFY", str(low), str(low + TICK), ltp=str(low))])
        sold = await fetch(client, headers, stop["id"])
        assert sold["status"] == "filled"
        assert Decimal(str(sold["average_price"])) > fill
        assert await position(client, headers) == 0

    async def test_a_fixed_stop_is_the_floor_until_the_trail_passes_it(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        entry = await bracket(
            client, headers, stop_loss={"points": "5"}, trailing_stop={"points": "20"}
        )
        fill = Decimal(entry["average_price"])
        stop = (await legs(client, headers, entry["id"]))["stop_loss"]
        expected = ((fill - 5) / TICK).to_integral_value(ROUND_CEILING) * TICK
        assert Decimal(stop["trigger_price"]) == expected
        high = fill + 40
        await matcher(app).on_ticks([quote("INFY", str(high - TICK), str(high), ltp=str(high))])
        assert (
            Decimal(str((await fetch(client, headers, stop["id"]))["trigger_price"])) == high - 20
        )

    async def test_the_trail_survives_a_restart(
        self, client: httpx.AsyncClient, app: FastAPI, tmp_path: Path, db: str
    ) -> None:
        _, headers = await user_with_token(client)
        entry = await bracket(client, headers, trailing_stop={"points": "10"})
        fill = Decimal(entry["average_price"])
        stop = (await legs(client, headers, entry["id"]))["stop_loss"]
        high = fill + 30
        await matcher(app).on_ticks([quote("INFY", str(high - TICK), str(high), ltp=str(high))])
        async with app_at(tmp_path / "data", db, ManualClock(OPEN)) as restarted:
            assert await matcher(restarted).rebuild() >= 1
            async with client_for(restarted) as again:
                # It keeps trailing from the stored high, and fires from the rebuilt book.
                higher = high + 10
                await matcher(restarted).on_ticks(
                    [quote("INFY", str(higher - TICK), str(higher), ltp=str(higher))]
                )
                assert (
                    Decimal(str((await fetch(again, headers, stop["id"]))["trigger_price"]))
                    == higher - 10
                )
                low = higher - 15
                await matcher(restarted).on_ticks(
                    [quote("INFY", str(low), str(low + TICK), ltp=str(low))]
                )
                assert (await fetch(again, headers, stop["id"]))["status"] == "filled"

    async def test_moves_are_published_to_the_owner(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user, headers = await user_with_token(client)
        entry = await bracket(client, headers, trailing_stop={"percent": "1"})
        fill = Decimal(entry["average_price"])
        subscription = app.state.wiring.bus.subscribe(user_topic(user["id"]))
        high = fill + 50
        await matcher(app).on_ticks([quote("INFY", str(high - TICK), str(high), ltp=str(high))])
        event = subscription.queue.get_nowait()
        assert event["event"] == "replaced" and event["order"]["leg"] == "stop_loss"
        trigger = Decimal(event["order"]["trigger_price"])
        assert trigger == (high * Decimal("0.99") / TICK).to_integral_value(ROUND_CEILING) * TICK


class TestValidation:
    @pytest.mark.parametrize(
        ("leg", "spec"),
        [("take_profit", {"price": "1"}), ("stop_loss", {"price": "999999"})],
    )
    async def test_a_leg_on_the_wrong_side_of_the_entry_is_refused(
        self, client: httpx.AsyncClient, leg: str, spec: dict[str, str]
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.post(
            "/api/paper-trading/orders",
            json={"symbol": "INFY", "order_type": "MARKET", "order_side": "BUY",
                  "quantity": "1", "product": "MIS", leg: spec},
            headers=headers,
        )  # fmt: skip
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "INVALID_BRACKET"
        assert leg.replace("_", "-") in response.json()["message"]
        orders = (await client.get("/api/paper-trading/orders", headers=headers)).json()
        assert orders == []

    @pytest.mark.parametrize(
        "spec", [{}, {"points": "5", "percent": "1"}, {"percent": "100"}, {"points": "-1"}]
    )
    async def test_a_leg_needs_exactly_one_valid_distance(
        self, client: httpx.AsyncClient, spec: dict[str, str]
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.post(
            "/api/paper-trading/orders",
            json={"symbol": "INFY", "order_type": "MARKET", "order_side": "BUY",
                  "quantity": "1", "product": "MIS", "take_profit": spec},
            headers=headers,
        )  # fmt: skip
        assert response.status_code == 422, response.text

    async def test_a_leg_price_off_the_tick_is_refused(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        response = await client.post(
            "/api/paper-trading/orders",
            json={"symbol": "INFY", "order_type": "MARKET", "order_side": "BUY",
                  "quantity": "1", "product": "MIS", "take_profit": {"price": "999999.03"}},
            headers=headers,
        )  # fmt: skip
        assert response.status_code == 400, response.text


class TestReduceOnly:
    """Issue 13, item 7: a leg never covers more than the position it protects."""

    async def test_a_leg_modified_above_the_position_is_refused(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        entry = await bracket(
            client, headers, take_profit={"points": "20"}, stop_loss={"points": "20"}
        )
        found = await legs(client, headers, entry["id"])
        for leg in found.values():
            url = f"/api/paper-trading/orders/{leg['id']}"
            changed = await client.put(url, json={"quantity": "500"}, headers=headers)
            assert changed.status_code == 400, changed.text
            body = changed.json()
            assert body["success"] is False and body["code"] == "INVALID_BRACKET"
            assert "10" in body["message"] and "position" in body["message"]
            assert (await fetch(client, headers, leg["id"]))["quantity"] == "10"
        # Smaller is fine: it protects part of the position.
        tp = found["take_profit"]
        url = f"/api/paper-trading/orders/{tp['id']}"
        smaller = await client.put(url, json={"quantity": "4"}, headers=headers)
        assert smaller.status_code == 200, smaller.text
        price = Decimal(tp["price"])
        await matcher(app).on_ticks([quote("INFY", str(price + 1), str(price + 2))])
        assert (await fetch(client, headers, tp["id"]))["status"] == "filled"
        assert await position(client, headers) == 6

    async def test_a_leg_fills_for_no_more_than_the_position_left(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, headers = await user_with_token(client)
        entry = await bracket(client, headers, take_profit={"points": "20"})
        sold = await client.post(
            "/api/paper-trading/orders",
            json={"symbol": "INFY", "order_type": "MARKET", "order_side": "SELL",
                  "quantity": "6", "product": "MIS"},
            headers=headers,
        )  # fmt: skip
        assert sold.status_code == 201, sold.text
        assert await position(client, headers) == 4
        tp = (await legs(client, headers, entry["id"]))["take_profit"]
        price = Decimal(tp["price"])
        await matcher(app).on_ticks([quote("INFY", str(price + 1), str(price + 2))])
        filled = await fetch(client, headers, tp["id"])
        assert filled["status"] == "filled" and filled["filled_quantity"] == "4"
        assert await position(client, headers) == 0  # never short
