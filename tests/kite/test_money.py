"""Money through Kite: whatever a bot buys and sells, the margins it reads are the INR
wallet's, and the cash moves by exactly the fills and charges Tradepit reports."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kiteconnect import exceptions as ex

from tests.kite.conftest import Bot

trades = st.lists(
    st.tuples(st.sampled_from(["BUY", "SELL"]), st.integers(min_value=1, max_value=7)),
    min_size=1,
    max_size=4,
)


def _wallet(http: httpx.Client, bot: Bot) -> tuple[Decimal, Decimal]:
    body = http.get("/api/paper-trading/wallet").json()
    wallets = body["wallets"] if isinstance(body, dict) and "wallets" in body else body
    inr = next(w for w in wallets if w["currency"] == "INR")
    return Decimal(inr["cash"]), Decimal(inr["available"])


async def test_margins_are_the_wallet_and_cash_moves_by_fills_and_charges(
    live: str, bot: Bot
) -> None:
    held = {"quantity": 0}
    http = httpx.Client(
        base_url=f"http://{live}", headers={"Authorization": f"Bearer {bot.bearer}"}, timeout=10
    )

    @settings(
        max_examples=8,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(trades)
    def check(orders: list[tuple[str, int]]) -> None:
        for side, quantity in orders:
            cash, available = _wallet(http, bot)
            try:
                order_id = bot.kite.place_order(
                    variety="regular", exchange="NSE", tradingsymbol="ITC",
                    transaction_type=side, quantity=quantity, product="CNC",
                    order_type="MARKET",
                )  # fmt: skip
            except ex.OrderException:
                assert side == "SELL" and quantity > held["quantity"]
                assert _wallet(http, bot) == (cash, available)  # nothing moved
                continue
            assert side == "BUY" or quantity <= held["quantity"]
            order = http.get(f"/api/paper-trading/orders/{order_id}").json()
            notional = Decimal(order["average_price"]) * quantity
            charges = Decimal(order["charges"])
            moved = -notional - charges if side == "BUY" else notional - charges
            after, free = _wallet(http, bot)
            assert after == cash + moved
            held["quantity"] += quantity if side == "BUY" else -quantity
            margins = bot.kite.margins("equity")
            assert Decimal(str(margins["available"]["cash"])) == after.quantize(
                Decimal("0.01")
            ) or (margins["available"]["cash"] == float(after))
            assert margins["net"] == float(free)
            [position] = [p for p in bot.kite.positions()["net"] if p["tradingsymbol"] == "ITC"]
            assert position["quantity"] == held["quantity"]

    def run() -> None:
        with http:
            check()

    await asyncio.to_thread(run)
