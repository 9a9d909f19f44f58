"""Broker adapters against local stand-ins speaking the brokers' recorded message shapes:
OKX's v5 REST API (ccxt), Kite Connect's REST API, and the MetaTrader5 module."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.api.test_broker_accounts import PASSWORD, FakeMt5
from tests.market.test_ccxt_feed import INSTRUMENTS
from tests.standins import serve
from tradepit.services.brokers import BrokerRefused, Credentials, Ticket, mask, scrub
from tradepit.services.brokers.ccxt import CcxtBroker
from tradepit.services.brokers.mt5 import Mt5Broker

KEY, SECRET, PASSPHRASE = "okx-key-0001", "okx-secret-0002", "okx-pass-0003"
NO_SESSION: AsyncSession = None  # type: ignore[assignment]  # these adapters never use it


class Okx:
    """OKX's private endpoints for one API key: balance and orders, with its error shapes."""

    def __init__(self) -> None:
        self.orders: list[dict[str, Any]] = []
        self.busy = 0

    def app(self) -> Starlette:
        """Return the ASGI app."""
        return Starlette(
            routes=[
                Route("/api/v5/public/instruments", self.instruments),
                Route("/api/v5/asset/currencies", self.currencies),
                Route("/api/v5/account/balance", self.balance),
                Route("/api/v5/trade/order", self.order, methods=["POST"]),
                Route("/api/v5/trade/batch-orders", self.order, methods=["POST"]),
            ]
        )

    def _refused(self, request: Request) -> Response | None:
        if request.headers.get("OK-ACCESS-KEY") != KEY:
            body = {"msg": "Invalid OK-ACCESS-KEY", "code": "50111", "data": []}
            return JSONResponse(body, status_code=401)
        if self.busy:
            self.busy -= 1
            return JSONResponse({"msg": "Too Many Requests", "code": "50011"}, status_code=429)
        return None

    async def instruments(self, request: Request) -> Response:
        data = INSTRUMENTS if request.query_params.get("instType") == "SPOT" else []
        return JSONResponse({"code": "0", "msg": "", "data": data})

    async def currencies(self, request: Request) -> Response:
        return self._refused(request) or JSONResponse({"code": "0", "msg": "", "data": []})

    async def balance(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        detail = {"ccy": "USDT", "availBal": "1234.5", "cashBal": "1300", "eq": "1300",
                  "frozenBal": "65.5", "uTime": "1764200000000"}  # fmt: skip
        data = [{"totalEq": "1300", "uTime": "1764200000000", "details": [detail]}]
        return JSONResponse({"code": "0", "msg": "", "data": data})

    async def order(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        sent = json.loads(await request.body())
        placed = []
        for body in sent if isinstance(sent, list) else [sent]:
            self.orders.append(body)
            placed.append({"ordId": f"31226986535637401{len(self.orders)}",
                           "clOrdId": body["clOrdId"], "tag": "", "sCode": "0",
                           "sMsg": "Order placed"})  # fmt: skip
        return JSONResponse({"code": "0", "msg": "", "data": placed})


@pytest.fixture
async def okx() -> AsyncIterator[tuple[Okx, CcxtBroker]]:
    """Serve the OKX stand-in; yield it and a ccxt broker pointed at it."""
    standin = Okx()
    async with serve(standin.app()) as port:
        yield standin, CcxtBroker(f"http://127.0.0.1:{port}")


def okx_account(key: str = KEY) -> Credentials:
    """Return OKX credentials."""
    return Credentials(7, 1, "ccxt:okx", api_key=key, api_secret=SECRET, password=PASSPHRASE)


class TestCcxt:
    async def test_connect_reads_the_usdt_balance(self, okx: tuple[Okx, CcxtBroker]) -> None:
        _, broker = okx
        info = await broker(okx_account(), NO_SESSION).connect()
        assert (info.currency, info.balance, info.equity) == (
            "USDT",
            Decimal("1234.5"),
            Decimal(1300),
        )

    async def test_a_market_order_carries_the_ticket_id(self, okx: tuple[Okx, CcxtBroker]) -> None:
        standin, broker = okx
        ticket = Ticket("BTC-USDT", "BUY", Decimal("0.001"), "tp-b4-a7")
        placed = await broker(okx_account(), NO_SESSION).place_order(ticket)
        assert placed.order_id == "312269865356374011"
        sent = standin.orders[0]
        assert (sent["instId"], sent["side"], sent["ordType"]) == ("BTC-USDT", "buy", "market")
        assert sent["clOrdId"] == "tpb4a7"

    async def test_a_bad_key_fails_with_okx_reason(self, okx: tuple[Okx, CcxtBroker]) -> None:
        _, broker = okx
        with pytest.raises(BrokerRefused) as refused:
            await broker(okx_account("stolen-key"), NO_SESSION).connect()
        assert "Invalid OK-ACCESS-KEY" in refused.value.reason
        assert not refused.value.transient

    async def test_rate_limits_are_transient(self, okx: tuple[Okx, CcxtBroker]) -> None:
        standin, broker = okx
        standin.busy = 10
        with pytest.raises(BrokerRefused) as refused:
            await broker(okx_account(), NO_SESSION).account_info()
        assert refused.value.transient

    async def test_an_unknown_exchange_is_refused(self) -> None:
        credentials = Credentials(1, 1, "ccxt:nosuchexchange", api_key=KEY)
        with pytest.raises(BrokerRefused, match="no exchange"):
            await CcxtBroker()(credentials, NO_SESSION).connect()


class TestMt5:
    def account(self) -> Credentials:
        return Credentials(3, 1, "mt5", login="51234567", password=PASSWORD,
                           server="ICMarketsSC-Demo")  # fmt: skip

    async def test_a_deal_with_stop_and_target(self) -> None:
        fake = FakeMt5()
        ticket = Ticket("XAUUSD", "SELL", Decimal("0.3"), "tp-b1-a3", Decimal(2400), Decimal(2300))
        placed = await Mt5Broker(lambda: fake)(self.account(), NO_SESSION).place_order(ticket)
        assert (placed.order_id, placed.price) == ("1", Decimal("2350.4"))
        sent = fake.requests[0]
        assert (sent["type"], sent["volume"], sent["price"]) == (1, 0.3, 2350.1)
        assert (sent["sl"], sent["tp"], sent["comment"]) == (2400.0, 2300.0, "tp-b1-a3")

    async def test_a_refused_deal_names_the_return_code(self) -> None:
        fake = FakeMt5()
        fake.order_send = lambda request: type(  # type: ignore[method-assign]
            "R", (), {"retcode": 10019, "comment": "No money", "order": 0, "price": 0.0}
        )()
        with pytest.raises(BrokerRefused, match=r"10019.*No money") as refused:
            await Mt5Broker(lambda: fake)(self.account(), NO_SESSION).place_order(
                Ticket("XAUUSD", "BUY", Decimal(1), "t")
            )
        assert not refused.value.transient


class TestScrub:
    def test_secrets_are_masked_in_messages(self) -> None:
        text = scrub(f"login failed for {PASSWORD}", [PASSWORD])
        assert PASSWORD not in text
        assert mask(PASSWORD) in text
