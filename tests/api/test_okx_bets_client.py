"""okx-bets' own pages (``login.html``, ``index.html``), call by call, against Tradepit.

The pages send no credential of their own: ``/api/login`` sets the session cookie, and every
later call carries only it (``fetch`` without options sends same-origin cookies). The
requests below are the pages' as facts: their URLs, bodies and the fields they read.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import app_at, client_for
from tests.factories import PASSWORD, unique_name
from tradepit.domain.clock import ManualClock
from tradepit.domain.predictions import BetStatus, Direction, outcome
from tradepit.services import predictions

T0 = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)
#: The page's own origin: it is served by the server it calls (``fetch('/api/...')``).
PAGE = "http://testserver"
SAME_ORIGIN = {"Origin": PAGE}
FOREIGN = {"Origin": "https://evil.example"}
COOKIE = "tradepit_session"
#: The coins of index.html's list, under its names.
PAGE_COINS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "TONUSDT",
              "DOTUSDT", "MATICUSDT", "SHIBUSDT", "AVAXUSDT", "TRXUSDT", "LINKUSDT", "ATOMUSDT",
              "UNIUSDT", "NEARUSDT", "APTUSDT", "OPUSDT", "INJUSDT", "SUIUSDT"]  # fmt: skip


@pytest.fixture
async def app(tmp_path: Path, db: str) -> AsyncIterator[FastAPI]:
    async with app_at(
        tmp_path / "data", db, ManualClock(T0), starting_balance_usdt="1000"
    ) as application:
        yield application


class Page:
    """A browser with okx-bets' pages: the cookie jar is the only credential it has."""

    def __init__(self, app: FastAPI, ip: str = "203.0.113.7") -> None:
        self.http = client_for(app, ip)
        self.telegram = ""

    async def __aenter__(self) -> Page:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.http.aclose()

    async def sign_up_and_log_in(self) -> httpx.Response:
        """login.html: register ``{telegram, email, password}``, then log in
        ``{telegram, password}`` and keep ``data.telegram`` (localStorage ``tgUsername``)."""
        name = unique_name("okx")
        registered = await self.http.post(
            "/api/register",
            json={"telegram": name, "email": f"{name}@example.com", "password": PASSWORD},
        )
        assert registered.json()["success"] is True, registered.text
        return await self.log_in(name)

    async def log_in(self, name: str, **headers: str) -> httpx.Response:
        answer = await self.http.post(
            "/api/login", json={"telegram": name, "password": PASSWORD}, headers=headers
        )
        data = answer.json()
        assert data["success"] is True, answer.text
        self.telegram = data["telegram"]
        assert isinstance(data["balance"], float)
        return answer

    @property
    def cookie(self) -> str:
        value = self.http.cookies.get(COOKIE)
        assert value, "the login set no session cookie"
        return value

    async def balance(self) -> httpx.Response:
        """index.html fetchInitialBalance: ``GET /api/balance/<tg>``; reads ``data.balance``."""
        return await self.http.get(f"/api/balance/{self.telegram}")

    async def bet(self, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
        """index.html place-bet: ``POST /api/bet``; reads ``success``, ``new_balance``,
        ``message``."""
        sent = {"telegram": self.telegram, "symbol": "BTCUSDT", "amount": 10,
                "direction": "long", "time": 1, **body}  # fmt: skip
        return await self.http.post("/api/bet", json=sent, headers=SAME_ORIGIN | (headers or {}))

    async def complete(self, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
        """index.html processTradeCompletion: ``POST /api/complete-bet`` when its timer ends;
        reads ``success``, ``result``, ``reward``, ``new_balance``."""
        sent = {"telegram": self.telegram, "trade_id": 1767225600000, "symbol": "BTCUSDT",
                "direction": "long", "amount": 10, "time": 1, **body}  # fmt: skip
        return await self.http.post(
            "/api/complete-bet", json=sent, headers=SAME_ORIGIN | (headers or {})
        )


def cookie_header(answer: httpx.Response) -> str:
    """Return the ``Set-Cookie`` line of the session cookie."""
    lines = [c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}=")]
    assert len(lines) == 1, answer.headers.get_list("set-cookie")
    return lines[0]


def with_only_cookie(app: FastAPI, value: str) -> httpx.AsyncClient:
    """Return a client that sends the session cookie ``value`` and nothing else."""
    http = client_for(app)
    http.headers["Cookie"] = f"{COOKIE}={value}"
    return http


class TestLogin:
    async def test_login_sets_an_httponly_strict_session_cookie(self, app: FastAPI) -> None:
        async with Page(app) as page:
            answer = await page.sign_up_and_log_in()
            line = cookie_header(answer)
        assert line.startswith(f"{COOKIE}={answer.json()['access_token']};")
        for part in ("HttpOnly", "Path=/;", "SameSite=strict", "Max-Age="):
            assert part in line
        assert "secure" not in line.lower()  # plain HTTP

    async def test_the_cookie_is_secure_when_a_trusted_proxy_says_https(self, app: FastAPI) -> None:
        async with Page(app, ip="127.0.0.1") as proxied, Page(app) as direct:
            await proxied.sign_up_and_log_in()
            answer = await proxied.log_in(proxied.telegram, **{"X-Forwarded-Proto": "https"})
            assert "; Secure" in cookie_header(answer)
            # From a peer that is not a trusted proxy the header is not believed.
            await direct.sign_up_and_log_in()
            answer = await direct.log_in(direct.telegram, **{"X-Forwarded-Proto": "https"})
            assert "secure" not in cookie_header(answer).lower()

    async def test_a_wrong_password_sets_no_cookie(self, app: FastAPI) -> None:
        async with Page(app) as page:
            await page.sign_up_and_log_in()
            page.http.cookies.clear()
            answer = await page.http.post(
                "/api/login", json={"telegram": page.telegram, "password": "wrong-password1"}
            )
        assert answer.status_code == 401
        assert answer.json()["success"] is False and answer.json()["message"]
        assert not [c for c in answer.headers.get_list("set-cookie") if COOKIE in c]


class TestCookieSession:
    async def test_a_cookie_only_balance_read(self, app: FastAPI) -> None:
        async with Page(app) as page:
            await page.sign_up_and_log_in()
            answer = await page.balance()
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"telegram_username": page.telegram, "balance": 1000.0}
        assert answer.headers["cache-control"] == "no-store"

    async def test_a_cookie_only_bet_from_the_sites_own_page(self, app: FastAPI) -> None:
        async with Page(app) as page:
            await page.sign_up_and_log_in()
            placed = await page.bet()
            balance = await page.balance()
        assert placed.status_code == 201, placed.text
        assert placed.json()["success"] is True
        assert placed.json()["new_balance"] == 990.0
        assert placed.json()["symbol"] == "BTC-USDT"
        assert balance.json()["balance"] == 990.0

    @pytest.mark.parametrize("coin", PAGE_COINS[7:])
    async def test_a_bet_on_any_coin_of_the_pages_list(self, app: FastAPI, coin: str) -> None:
        async with Page(app) as page:
            await page.sign_up_and_log_in()
            placed = await page.bet(symbol=coin)
            balance = await page.balance()
        assert placed.status_code == 201, placed.text
        assert placed.json()["success"] is True and placed.json()["new_balance"] == 990.0
        # MATIC trades as POL since its migration: the bet says so.
        assert placed.json()["symbol"] == (
            "POL-USDT" if coin == "MATICUSDT" else coin[:-4] + "-USDT"
        )
        assert balance.json()["balance"] == 990.0

    async def test_a_bet_on_a_coin_the_catalogue_lacks_says_why(self, app: FastAPI) -> None:
        async with Page(app) as page:
            await page.sign_up_and_log_in()
            refused = await page.bet(symbol="PEPEUSDT")
        assert refused.status_code == 400
        assert refused.json()["success"] is False  # the page shows its message
        assert refused.json()["code"] == "INVALID_BET"
        assert "unknown symbol 'PEPEUSDT'" in refused.json()["message"]

    @pytest.mark.parametrize(
        "headers",
        [
            {"Origin": "", "Referer": f"{PAGE}/index.html"},  # no Origin: the Referer decides
            {"Origin": "http://localhost:3000"},  # TRADEPIT_CORS_ORIGINS' default
            {"Origin": "HTTP://TestServer:80"},  # the same origin, spelled otherwise
        ],
    )
    async def test_other_proofs_of_an_allowed_page(
        self, app: FastAPI, headers: dict[str, str]
    ) -> None:
        async with Page(app) as page:
            await page.sign_up_and_log_in()
            placed = await page.bet(headers)
        assert placed.status_code == 201, placed.text

    @pytest.mark.parametrize(
        ("headers", "code"),
        [
            (FOREIGN, "ORIGIN_NOT_ALLOWED"),
            ({"Origin": "null"}, "ORIGIN_NOT_ALLOWED"),  # a sandboxed page or a data: URL
            ({"Origin": "http://testserver.evil.example"}, "ORIGIN_NOT_ALLOWED"),
            ({"Origin": "https://testserver"}, "ORIGIN_NOT_ALLOWED"),  # another scheme
            ({"Origin": "http://testserver:8080"}, "ORIGIN_NOT_ALLOWED"),  # another port
            ({"Origin": "", "Referer": "https://evil.example/page"}, "ORIGIN_NOT_ALLOWED"),
            ({"Origin": ""}, "ORIGIN_REQUIRED"),
        ],
    )
    async def test_a_cookie_only_write_from_another_page_is_403(
        self, app: FastAPI, headers: dict[str, str], code: str
    ) -> None:
        async with Page(app) as page:
            await page.sign_up_and_log_in()
            refused = await page.bet(headers)
            after = await page.balance()
            bets = await page.http.get("/api/bets")
        assert refused.status_code == 403, refused.text
        assert refused.json()["success"] is False
        assert refused.json()["code"] == code
        assert "Authorization: Bearer" in refused.json()["message"]
        assert after.json()["balance"] == 1000.0
        assert bets.json() == {"bets": []}

    async def test_behind_a_trusted_https_proxy_the_https_origin_is_the_sites(
        self, app: FastAPI
    ) -> None:
        proto = {"X-Forwarded-Proto": "https"}
        async with Page(app, ip="127.0.0.1") as page:
            await page.sign_up_and_log_in()
            placed = await page.bet(proto | {"Origin": "https://testserver"})
            plain_http = await page.bet(proto | {"Origin": PAGE})
        assert placed.status_code == 201, placed.text
        assert plain_http.status_code == 403
        assert plain_http.json()["code"] == "ORIGIN_NOT_ALLOWED"

    async def test_a_header_credential_needs_no_origin(self, app: FastAPI) -> None:
        async with Page(app) as page:
            answer = await page.sign_up_and_log_in()
            token = answer.json()["access_token"]
            page.http.cookies.clear()
            placed = await page.bet({"Origin": "", "Authorization": f"Bearer {token}"})
        assert placed.status_code == 201, placed.text

    async def test_the_header_wins_over_the_cookie(self, app: FastAPI) -> None:
        async with Page(app) as alice, Page(app) as bob:
            await alice.sign_up_and_log_in()
            bob_token = (await bob.sign_up_and_log_in()).json()["access_token"]
            as_bob = {"Authorization": f"Bearer {bob_token}"}
            # Alice's browser, Bob's header: the request is Bob's.
            bobs = await alice.http.get(f"/api/balance/{bob.telegram}", headers=as_bob)
            alices = await alice.http.get(f"/api/balance/{alice.telegram}", headers=as_bob)
            # A bad header is refused, not replaced by the cookie.
            bad = await alice.http.get(
                f"/api/balance/{alice.telegram}", headers={"Authorization": "Bearer nonsense"}
            )
            # A header-authenticated write is the header's, from whatever page.
            placed = await alice.bet(as_bob | FOREIGN, telegram=bob.telegram)
        assert bobs.status_code == 200 and bobs.json()["telegram_username"] == bob.telegram
        assert alices.status_code == 403
        assert bad.status_code == 401
        assert placed.status_code == 201, placed.text

    async def test_an_invalid_cookie_is_401(self, app: FastAPI) -> None:
        async with with_only_cookie(app, "not-a-token") as http:
            answer = await http.get("/api/balance/anyone")
        assert answer.status_code == 401
        assert answer.json()["code"] == "INVALID_TOKEN"


class TestLogout:
    async def test_logout_clears_the_cookie_and_revokes_it(self, app: FastAPI) -> None:
        async with Page(app) as page:
            token = (await page.sign_up_and_log_in()).json()["access_token"]
            old = page.cookie
            assert old == token
            refused = await page.http.post("/api/logout", headers=FOREIGN)
            assert refused.status_code == 403  # a logout is a write too
            out = await page.http.post("/api/logout", headers=SAME_ORIGIN)
            assert out.status_code == 200, out.text
            line = cookie_header(out)
            assert line.startswith(f'{COOKIE}="";') and "Max-Age=0" in line and "Path=/" in line
            assert page.http.cookies.get(COOKIE) is None
        async with with_only_cookie(app, old) as replay:
            again = await replay.get(f"/api/balance/{page.telegram}")
        assert again.status_code == 401
        assert again.json()["message"] == "token revoked"
        bearer = {"Authorization": f"Bearer {token}"}
        async with client_for(app) as http:
            assert (await http.get("/api/bets", headers=bearer)).status_code == 401

    async def test_a_header_logout_also_ends_the_cookies_session(self, app: FastAPI) -> None:
        async with Page(app) as page:
            await page.sign_up_and_log_in()
            in_cookie = page.cookie
            second = (await page.log_in(page.telegram)).json()["access_token"]
            page.http.cookies.clear()
            both = {"Authorization": f"Bearer {second}", "Cookie": f"{COOKIE}={in_cookie}"}
            out = await page.http.post("/api/logout", headers=both)
            assert out.status_code == 200, out.text
        for token in (in_cookie, second):
            async with with_only_cookie(app, token) as replay:
                assert (await replay.get("/api/bets")).status_code == 401


class TestCompleteBet:
    async def test_the_page_learns_the_outcome_the_market_decided(self, app: FastAPI) -> None:
        wired = app.state.wiring
        entry = wired.market.source.price_at("BTC-USDT", T0)
        exit_ = wired.market.source.price_at("BTC-USDT", T0 + timedelta(minutes=1))
        assert exit_ != entry, "pick another T0: this one ties"
        losing = Direction.SHORT if exit_ > entry else Direction.LONG
        async with Page(app) as page:
            await page.sign_up_and_log_in()
            placed = await page.bet(direction=losing.value)
            assert placed.status_code == 201, placed.text
            early = await page.complete(direction=losing.value)
            # The page cannot say how the bet ended: the field is refused, nothing changes.
            claimed = await page.complete(direction=losing.value, result="win", reward=100)
            wired.clock.advance(timedelta(minutes=1))
            assert await wired.resolver.resolve_due() == 1
            first = await page.complete(direction=losing.value)
            second = await page.complete(direction=losing.value)
            balance = await page.balance()
        assert early.status_code == 409
        assert early.json()["success"] is False
        assert early.json()["code"] == "BET_NOT_RESOLVED"
        assert claimed.status_code == 422
        assert first.status_code == 200, first.text
        data = first.json()
        assert data["success"] is True
        assert outcome(losing, entry, exit_) is BetStatus.LOST
        assert data["result"] == "loss"
        assert data["reward"] == 0.0 and data["payout"] == 0.0
        assert data["new_balance"] == 990.0 == balance.json()["balance"]
        assert data["bet"]["id"] == placed.json()["id"]
        assert Decimal(str(data["bet"]["exit_price"])) == exit_
        assert second.json() == data  # asking again changes nothing

    async def test_the_pages_timer_may_run_out_a_tick_before_the_expiry(self, app: FastAPI) -> None:
        """Seen in Chromium: the page counts a bet's minute in one-second ticks of an interval
        already running for an earlier bet, so it asked up to a second before the expiry,
        got 409, and (its interval stopped meanwhile, the other bet done) never asked again:
        the bet stayed "Обработка..." for good. The answer now waits for the resolver."""
        wired = app.state.wiring
        async with Page(app) as page:
            await page.sign_up_and_log_in()
            placed = await page.bet(direction="short", symbol="ETHUSDT", amount=7)
            assert placed.status_code == 201, placed.text
            wired.clock.advance(timedelta(seconds=59, milliseconds=400))
            asking = asyncio.create_task(
                page.complete(direction="short", symbol="ETHUSDT", amount=7)
            )
            await asyncio.sleep(0.3)
            assert not asking.done(), "answered before the bet expired"
            wired.clock.advance(timedelta(milliseconds=600))
            assert await wired.resolver.resolve_due() == 1
            answer = await asyncio.wait_for(asking, timeout=predictions.SETTLE)
        assert answer.status_code == 200, answer.text
        data = answer.json()
        assert data["success"] is True
        assert data["result"] in ("win", "loss", "refund")
        assert data["bet"]["id"] == placed.json()["id"]
        assert data["bet"]["status"] != "active"
        assert isinstance(data["new_balance"], float)

    async def test_a_bet_the_resolver_leaves_unsettled_is_409_after_the_wait(
        self, app: FastAPI, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(predictions, "SETTLE", 0.3)
        wired = app.state.wiring
        async with Page(app) as page:
            await page.sign_up_and_log_in()
            assert (await page.bet()).status_code == 201
            wired.clock.advance(timedelta(minutes=1))  # due; the resolver does not run
            started = asyncio.get_running_loop().time()
            due = await page.complete()
            waited = asyncio.get_running_loop().time() - started
            wired.clock.advance(timedelta(minutes=10))  # long past: answered at once
            started = asyncio.get_running_loop().time()
            stale = await page.complete()
            at_once = asyncio.get_running_loop().time() - started
        assert due.status_code == 409 and due.json()["code"] == "BET_NOT_RESOLVED"
        assert due.json()["success"] is False
        assert waited >= 0.3
        assert stale.status_code == 409
        assert at_once < 0.3

    async def test_a_win_reports_the_reward_over_the_stake(self, app: FastAPI) -> None:
        wired = app.state.wiring
        entry = wired.market.source.price_at("ETH-USDT", T0)
        exit_ = wired.market.source.price_at("ETH-USDT", T0 + timedelta(minutes=5))
        winning = Direction.LONG if exit_ > entry else Direction.SHORT
        terms: dict[str, Any] = {
            "symbol": "ETHUSDT",
            "direction": winning.value,
            "time": 5,
            "amount": 20,
        }
        async with Page(app) as page:
            await page.sign_up_and_log_in()
            placed = await page.bet(**terms)
            wired.clock.advance(timedelta(minutes=5))
            await wired.resolver.resolve_due()
            data = (await page.complete(**terms)).json()
        assert data["result"] == ("win" if exit_ != entry else "refund")
        if exit_ != entry:
            assert data["payout"] == 36.0  # 20 x the default ratio 1.8
            assert data["reward"] == 16.0
            assert data["new_balance"] == 1016.0
        assert data["bet"]["id"] == placed.json()["id"]

    async def test_of_two_alike_bets_the_one_expiring_now_is_answered(self, app: FastAPI) -> None:
        wired = app.state.wiring
        async with Page(app) as page:
            await page.sign_up_and_log_in()
            first = (await page.bet()).json()["id"]
            wired.clock.advance(timedelta(seconds=30))
            second = (await page.bet()).json()["id"]
            wired.clock.advance(timedelta(seconds=30))
            await wired.resolver.resolve_due()
            at_first = await page.complete()
            wired.clock.advance(timedelta(seconds=30))
            await wired.resolver.resolve_due()
            at_second = await page.complete()
        assert at_first.json()["bet"]["id"] == first
        assert at_second.json()["bet"]["id"] == second

    async def test_bet_id_names_the_bet_and_only_ones_own(self, app: FastAPI) -> None:
        wired = app.state.wiring
        async with Page(app) as page, Page(app) as other:
            await page.sign_up_and_log_in()
            await other.sign_up_and_log_in()
            bet_id = (await page.bet()).json()["id"]
            wired.clock.advance(timedelta(minutes=1))
            await wired.resolver.resolve_due()
            mine = await page.http.post(
                "/api/complete-bet",
                json={"telegram": page.telegram, "bet_id": bet_id},
                headers=SAME_ORIGIN,
            )
            theirs = await other.http.post(
                "/api/complete-bet",
                json={"telegram": other.telegram, "bet_id": bet_id},
                headers=SAME_ORIGIN,
            )
            as_them = await other.complete(telegram=page.telegram)
            unknown = await page.complete(amount=11)
            unnamed = await page.http.post(
                "/api/complete-bet", json={"telegram": page.telegram}, headers=SAME_ORIGIN
            )
            foreign = await page.complete(FOREIGN)
        assert mine.status_code == 200 and mine.json()["bet"]["id"] == bet_id
        assert theirs.status_code == 404 and theirs.json()["code"] == "BET_NOT_FOUND"
        assert as_them.status_code == 403
        assert unknown.status_code == 404 and unknown.json()["success"] is False
        assert unnamed.status_code == 422
        assert foreign.status_code == 403 and foreign.json()["code"] == "ORIGIN_NOT_ALLOWED"


class TestTheOtherCalls:
    async def test_coin_prices_are_the_feeds_under_the_pages_names(self, app: FastAPI) -> None:
        market = app.state.wiring.market
        async with Page(app) as page:  # index.html loads them before and after login
            answer = await page.http.get("/api/coin-prices")
        assert answer.status_code == 200, answer.text
        data = answer.json()
        assert data["success"] is True
        prices = data["prices"]
        # Every coin of the page's list has its price (none stays "Loading..."), and the
        # catalogue's other USDT pairs come too.
        assert set(PAGE_COINS) | {"LTCUSDT", "OKBUSDT", "POLUSDT"} <= set(prices)
        assert prices["MATICUSDT"] == prices["POLUSDT"]
        assert prices["MATICUSDT"]["symbol"] == "POL-USDT"
        # A coin worth a thousandth of a cent is shown to its tick, not as 0.00.
        shib = prices["SHIBUSDT"]
        assert re.fullmatch(r"0\.0000\d{4}", shib["formatted_price"]), shib
        assert Decimal(shib["formatted_price"]) == Decimal(str(shib["price"]))
        btc = prices["BTCUSDT"]
        last = market.tick("BTC-USDT").ltp
        before = market.source.price_at("BTC-USDT", T0 - timedelta(hours=24))
        change = ((last - before) * 100 / before).quantize(Decimal("0.01"))
        assert btc["symbol"] == "BTC-USDT"
        assert Decimal(str(btc["price"])) == last
        assert Decimal(str(btc["change_24h"])) == change
        assert btc["formatted_price"] == f"{last:,.2f}".replace(",", " ")
        assert re.fullmatch(r"\d{1,3}( \d{3})*\.\d{2}", btc["formatted_price"])
        assert btc["formatted_change"] == f"{change:+.2f}%"
        for coin in prices.values():
            assert re.fullmatch(r"[+-]\d+\.\d{2}%", coin["formatted_change"])
            assert isinstance(coin["price"], float)

    async def test_operations_are_my_bets_as_the_page_renders_them(self, app: FastAPI) -> None:
        wired = app.state.wiring
        async with Page(app) as page, Page(app) as other:
            await page.sign_up_and_log_in()
            await other.sign_up_and_log_in()
            first = (await page.bet()).json()
            wired.clock.advance(timedelta(minutes=1))
            await wired.resolver.resolve_due()
            second = (await page.bet(direction="short", time=5, amount="2.5")).json()
            mine = await page.http.get(f"/api/operations/{page.telegram}")
            theirs = await other.http.get(f"/api/operations/{page.telegram}")
            page.http.cookies.clear()
            anonymous = await page.http.get(f"/api/operations/{page.telegram}")
        assert mine.status_code == 200, mine.text
        data = mine.json()
        assert data["success"] is True
        newest, oldest = data["operations"]
        assert newest["id"] == f"bet_{second['id']}"
        assert newest["type"] == "bet"
        assert newest["status"] == "active" and newest["result"] is None
        assert newest["amount"] == 2.5 and newest["direction"] == "short"
        assert newest["time_minutes"] == 5
        assert newest["reward"] == 0.0
        assert datetime.fromisoformat(newest["timestamp"]) == T0 + timedelta(minutes=1)
        assert newest["description"] == "Bet short 2.5 USDT on BTC-USDT for 5 min"
        assert oldest["id"] == f"bet_{first['id']}"
        assert oldest["status"] in {"completed", "refunded"}
        assert oldest["result"] in {"win", "loss", "refund"}
        assert datetime.fromisoformat(oldest["completed_at"]) == T0 + timedelta(minutes=1)
        assert theirs.status_code == 403
        assert anonymous.status_code == 401

    async def test_payment_methods_offer_paper_money_only(self, app: FastAPI) -> None:
        async with Page(app) as page:
            methods = await page.http.get("/api/payment-methods")
            method = await page.http.get("/api/payment-methods/paper")
            bank = await page.http.get("/api/payment-methods/bank")
        assert methods.status_code == 200
        listed = methods.json()
        assert listed["success"] is True
        assert [m["id"] for m in listed["methods"]] == ["paper"]
        assert set(listed["methods"][0]) == {"id", "name", "details", "is_active"}
        assert method.json()["success"] is True
        assert method.json()["method"] == listed["methods"][0]
        assert "virtual" in method.json()["method"]["details"]
        assert bank.status_code == 404
        assert bank.json()["success"] is False
        assert bank.json()["message"] == "Payment method not found"
