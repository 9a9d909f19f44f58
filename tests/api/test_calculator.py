"""``POST /api/calculate``: lots per entry for XAUUSD, EURUSD and a NIFTY future."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.factories import user_with_token


async def calculate(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    """Ask the calculator as a fresh user."""
    _, headers = await user_with_token(client)
    return await client.post("/api/calculate", json=body, headers=headers)


class TestCalculate:
    async def test_gold_with_two_entries_in_camel_case(self, client: httpx.AsyncClient) -> None:
        response = await calculate(
            client,
            {"symbol": "XAUUSD", "portfolioSize": 10000, "riskPercent": 1, "stopLoss": 2340,
             "entryPrice1": 2350, "entryPrice2": 2345},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        body = response.json()
        calculated_at = datetime.fromisoformat(body.pop("calculatedAt"))
        assert abs(datetime.now(UTC) - calculated_at) < timedelta(minutes=1)
        assert body == {
            "symbol": "XAUUSD",
            "currency": "USD",
            "contract_size": "100",
            "risk_amount": "100",
            "entries": [
                {"entry_price": "2350", "lots": "0.05", "risk_amount": "50"},
                {"entry_price": "2345", "lots": "0.1", "risk_amount": "50"},
            ],
            "total_lots": "0.15",
            "warnings": [],
            # mt5-copier's names, as numbers; the stop distance is entry 1's.
            "lotSize": 0.15,
            "riskAmount": 100.0,
            "stopDistance": 10.0,
            "entryPrice": 2350.0,
            "stopLoss": 2340.0,
        }

    async def test_eurusd_in_snake_case(self, client: httpx.AsyncClient) -> None:
        response = await calculate(
            client,
            {"symbol": "EURUSD", "portfolio_size": "10000", "risk_percent": "2",
             "stop_loss": "1.0950", "entry_price_1": "1.1000"},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        assert response.json()["entries"][0]["lots"] == "0.4"

    async def test_usdjpy_risks_dollars_converted_at_the_stop(
        self, client: httpx.AsyncClient
    ) -> None:
        # 50 pips of USDJPY: 50,000 yen a lot, 323.62459547 dollars at the stop 154.500.
        response = await calculate(
            client,
            {"symbol": "USDJPY", "portfolio_size": "10000", "risk_percent": "1",
             "stop_loss": "154.500", "entry_price_1": "155.000"},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["currency"], body["contract_size"]) == ("USD", "100000")
        assert body["entries"] == [
            {"entry_price": "155", "lots": "0.3", "risk_amount": "97.08737865"}
        ]

    async def test_nifty_future_in_whole_lots(self, client: httpx.AsyncClient) -> None:
        response = await calculate(
            client,
            {"symbol": "NIFTY26DECFUT", "portfolioSize": 1000000, "riskPercent": 2,
             "stopLoss": 25900, "entries": [26000]},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["contract_size"] == "65"
        assert body["entries"] == [{"entry_price": "26000", "lots": "3", "risk_amount": "19500"}]

    async def test_minimum_lot_is_warned(self, client: httpx.AsyncClient) -> None:
        response = await calculate(
            client,
            {"symbol": "XAUUSD", "portfolioSize": 100, "riskPercent": 1, "stopLoss": 2300,
             "entryPrice1": 2350},
        )  # fmt: skip
        assert response.status_code == 200
        assert response.json()["warnings"][0].startswith("minimum lot 0.01")

    async def test_stop_at_the_entry_is_400(self, client: httpx.AsyncClient) -> None:
        response = await calculate(
            client,
            {"symbol": "XAUUSD", "portfolioSize": 100, "riskPercent": 1, "stopLoss": 2350,
             "entryPrice1": 2350},
        )  # fmt: skip
        assert response.status_code == 400
        assert response.json()["code"] == "INVALID_SIZING"

    async def test_unknown_symbol_is_404(self, client: httpx.AsyncClient) -> None:
        response = await calculate(
            client, {"symbol": "NOPE", "portfolioSize": 1, "riskPercent": 1, "stopLoss": 1,
                     "entryPrice1": 2},
        )  # fmt: skip
        assert response.status_code == 404

    async def test_no_entries_and_text_figures_are_422(self, client: httpx.AsyncClient) -> None:
        for body in (
            {"symbol": "XAUUSD", "portfolioSize": 100, "riskPercent": 1, "stopLoss": 2350},
            {"symbol": "XAUUSD", "portfolioSize": "lots", "riskPercent": 1, "stopLoss": 1,
             "entryPrice1": 2},
        ):  # fmt: skip
            response = await calculate(client, body)
            assert response.status_code == 422

    async def test_needs_a_login(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/api/calculate", json={})
        assert response.status_code == 401
