"""okx-bets' routes: place a bet, read the balance and the bets; only ever as oneself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.conftest import app_at, client_for, make_settings
from tests.factories import user_with_token
from tradepit.app import create_app
from tradepit.domain.clock import ManualClock, SimulatedClock
from tradepit.domain.predictions import Direction, outcome
from tradepit.store.wallets import LedgerEntry, LedgerTransaction, Wallet

T0 = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)  # Thursday, noon in Mumbai: every venue open
STARTING_USDT = "1000"


@pytest.fixture
async def app(tmp_path: Path, db: str) -> AsyncIterator[FastAPI]:
    async with app_at(
        tmp_path / "data", db, ManualClock(T0), starting_balance_usdt=STARTING_USDT
    ) as application:
        yield application


async def bettor(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    """Return a fresh user's telegram handle and auth headers."""
    body, headers = await user_with_token(client)
    return body["telegram"], headers


async def bet(
    client: httpx.AsyncClient, headers: dict[str, str], telegram: str, **body: Any
) -> httpx.Response:
    return await client.post(
        "/api/bet",
        json={"telegram": telegram, "amount": 10.0, "direction": "long", "time": 5, **body},
        headers=headers,
    )


class TestPlaceBet:
    async def test_debits_the_stake_and_answers_okx_bets_shape(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        telegram, headers = await bettor(client)
        response = await bet(client, headers, telegram)
        assert response.status_code == 201, response.text
        body = response.json()
        entry = app.state.wiring.market.source.price_at("BTC-USDT", T0)
        assert body["success"] is True
        assert body["message"] == "Bet placed successfully"
        assert body["new_balance"] == 990.0
        assert body["symbol"] == "BTC-USDT"
        assert body["direction"] == "long"
        assert body["amount"] == 10.0
        assert body["duration_minutes"] == 5
        assert Decimal(str(body["entry_price"])) == entry
        assert datetime.fromisoformat(body["placed_at"]) == T0
        assert datetime.fromisoformat(body["expires_at"]) == T0 + timedelta(minutes=5)
        assert body["status"] == "active"
        assert body["exit_price"] is None and body["payout"] is None

        balance = await client.get(f"/api/balance/{telegram}", headers=headers)
        assert balance.status_code == 200
        assert balance.json() == {"telegram_username": telegram, "balance": 990.0}

    async def test_the_stake_is_a_ledger_transaction_to_the_house(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        telegram, headers = await bettor(client)
        placed = (await bet(client, headers, telegram, amount="12.34567891")).json()
        async with app.state.wiring.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(LedgerEntry.amount, Wallet.name, Wallet.user_id)
                    .join(LedgerTransaction, LedgerEntry.transaction_id == LedgerTransaction.id)
                    .join(Wallet, LedgerEntry.wallet_id == Wallet.id)
                    .where(LedgerTransaction.reference == f"bet:{placed['id']}")
                    .where(LedgerTransaction.kind == "bet_stake")
                )
            ).all()
        amounts = {name: amount for amount, name, _ in rows}
        assert amounts == {"cash": Decimal("-12.34567891"), "system:bets": Decimal("12.34567891")}

    async def test_symbol_and_telegram_handle_variants(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        telegram, headers = await bettor(client)
        response = await bet(
            client, headers, "@" + telegram.upper(), symbol="eth-usdt", direction="short", time=1
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["symbol"] == "ETH-USDT"
        assert body["direction"] == "short"
        assert datetime.fromisoformat(body["expires_at"]) == T0 + timedelta(minutes=1)

    async def test_needs_login(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/bet", json={"telegram": "x", "amount": 1, "direction": "long", "time": 1}
        )
        assert response.status_code == 401
        assert (await client.get("/api/balance/x")).status_code == 401
        assert (await client.get("/api/bets")).status_code == 401


class TestOnlyAsOneself:
    async def test_cannot_bet_as_another_user(self, client: httpx.AsyncClient) -> None:
        victim, victim_headers = await bettor(client)
        _, headers = await bettor(client)
        response = await bet(client, headers, victim)
        assert response.status_code == 403
        assert response.json()["success"] is False
        assert response.json()["code"] == "FORBIDDEN"
        assert (await client.get("/api/bets", headers=victim_headers)).json() == {"bets": []}
        balance = await client.get(f"/api/balance/{victim}", headers=victim_headers)
        assert balance.json()["balance"] == 1000.0

    async def test_cannot_read_another_users_balance(self, client: httpx.AsyncClient) -> None:
        victim, _ = await bettor(client)
        _, headers = await bettor(client)
        assert (await client.get(f"/api/balance/{victim}", headers=headers)).status_code == 403
        # An unknown name is refused the same way: the route does not reveal who exists.
        assert (await client.get("/api/balance/nobody_here", headers=headers)).status_code == 403

    async def test_bets_lists_only_my_bets(self, client: httpx.AsyncClient) -> None:
        alice, alice_headers = await bettor(client)
        bob, bob_headers = await bettor(client)
        await bet(client, alice_headers, alice)
        await bet(client, bob_headers, bob, direction="short")
        mine = (await client.get("/api/bets", headers=bob_headers)).json()["bets"]
        assert [b["direction"] for b in mine] == ["short"]


class TestValidation:
    @pytest.mark.parametrize(
        ("change", "words"),
        [
            ({"amount": 0}, "greater than 0"),
            ({"amount": -5}, "greater than 0"),
            ({"amount": "0.5"}, "at least 1"),
            ({"amount": 10001}, "at most 10000"),
            ({"amount": "1.123456789"}, "8 decimal"),
            ({"time": 0}, "1 to 60 minutes"),
            ({"time": 61}, "1 to 60 minutes"),
            ({"symbol": "NOPE-USDT"}, "unknown symbol"),
            ({"amount": "1000.01"}, "insufficient USDT balance"),
            ({"amount": "1" + "0" * 400}, "at most 10000"),
            ({"amount": "-0." + "0" * 399 + "1"}, "greater than 0"),
            ({"time": 2**70}, "1 to 60 minutes"),
        ],
    )
    async def test_rule_breaks_are_clear_400s(
        self, client: httpx.AsyncClient, change: dict[str, Any], words: str
    ) -> None:
        telegram, headers = await bettor(client)
        response = await bet(client, headers, telegram, **change)
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["success"] is False
        assert words in body["message"]
        assert body["detail"] == body["message"]
        balance = await client.get(f"/api/balance/{telegram}", headers=headers)
        assert balance.json()["balance"] == 1000.0
        assert (await client.get("/api/bets", headers=headers)).json() == {"bets": []}

    async def test_a_json_number_amount_is_taken_at_its_decimal_value(
        self, client: httpx.AsyncClient
    ) -> None:
        telegram, headers = await bettor(client)
        response = await bet(client, headers, telegram, amount=10.1)
        assert response.status_code == 201
        assert response.json()["new_balance"] == 989.9

    async def test_the_whole_balance_may_be_staked(self, client: httpx.AsyncClient) -> None:
        telegram, headers = await bettor(client)
        response = await bet(client, headers, telegram, amount=STARTING_USDT)
        assert response.status_code == 201
        assert response.json()["new_balance"] == 0.0
        again = await bet(client, headers, telegram, amount=1)
        assert again.status_code == 400
        assert again.json()["code"] == "INSUFFICIENT_BALANCE"

    async def test_an_empty_wallet_reads_0_not_an_exponent(self, client: httpx.AsyncClient) -> None:
        telegram, headers = await bettor(client)
        assert (await bet(client, headers, telegram, amount=STARTING_USDT)).status_code == 201
        again = await bet(client, headers, telegram, amount="1.50")
        assert again.status_code == 400
        assert again.json()["message"] == "insufficient USDT balance: 0 available, 1.5 staked"

    async def test_an_unknown_symbol_suggests_close_matches(
        self, client: httpx.AsyncClient
    ) -> None:
        telegram, headers = await bettor(client)
        response = await bet(client, headers, telegram, symbol="BTC-USDTT")
        assert response.status_code == 400
        assert response.json()["code"] == "INVALID_BET"
        assert response.json()["message"].startswith(
            "unknown symbol 'BTC-USDTT'; did you mean BTC-USDT"
        )

    async def test_closed_market_and_a_close_before_expiry(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        telegram, headers = await bettor(client)
        clock: ManualClock = app.state.wiring.clock
        clock.advance(timedelta(hours=3, minutes=25))  # 15:25 IST: NSE closes at 15:30
        response = await bet(client, headers, telegram, symbol="RELIANCE", time=10)
        assert response.status_code == 400
        assert "closes before the bet would expire" in response.json()["message"]
        assert (await bet(client, headers, telegram, symbol="RELIANCE", time=5)).status_code == 201
        clock.advance(timedelta(hours=2))  # NSE closed; OKX trades around the clock
        response = await bet(client, headers, telegram, symbol="RELIANCE", time=5)
        assert response.status_code == 400
        assert response.json()["code"] == "INVALID_BET"
        assert "closed" in response.json()["message"]
        assert (await bet(client, headers, telegram, time=5)).status_code == 201

    @pytest.mark.parametrize(
        "change",
        [
            {"direction": "up"},
            {"amount": "ten"},
            {"amount": "NaN"},
            {"amount": "Infinity"},
            {"time": "soon"},
            {"time": 1.5},
            {"extra": 1},
            {"amount": None},
            {"telegram": "a\x00b"},
        ],
    )
    async def test_malformed_bodies_are_422(
        self, client: httpx.AsyncClient, change: dict[str, Any]
    ) -> None:
        telegram, headers = await bettor(client)
        body = {"telegram": telegram, **change}
        response = await bet(client, headers, **body)
        assert response.status_code == 422
        assert response.json()["code"] == "VALIDATION_ERROR"


class TestBets:
    async def test_lists_every_field_newest_first(self, client: httpx.AsyncClient) -> None:
        telegram, headers = await bettor(client)
        first = (await bet(client, headers, telegram)).json()
        second = (await bet(client, headers, telegram, direction="short", time=1)).json()
        listed = (await client.get("/api/bets", headers=headers)).json()["bets"]
        assert [b["id"] for b in listed] == [second["id"], first["id"]]
        assert set(listed[0]) == {
            "id",
            "symbol",
            "direction",
            "amount",
            "duration_minutes",
            "entry_price",
            "exit_price",
            "placed_at",
            "expires_at",
            "status",
            "payout",
            "client_bet_id",
        }
        limited = await client.get("/api/bets", params={"limit": 1}, headers=headers)
        assert [b["id"] for b in limited.json()["bets"]] == [second["id"]]


async def stakes(app: FastAPI, user_id: int) -> list[Decimal]:
    """Return the user's bet_stake postings, oldest first."""
    async with app.state.wiring.sessionmaker() as session:
        found = await session.scalars(
            select(LedgerEntry.amount)
            .join(LedgerTransaction, LedgerEntry.transaction_id == LedgerTransaction.id)
            .join(Wallet, LedgerEntry.wallet_id == Wallet.id)
            .where(LedgerTransaction.kind == "bet_stake", Wallet.user_id == user_id)
            .order_by(LedgerEntry.id)
        )
        return list(found)


async def bettor_with_id(client: httpx.AsyncClient) -> tuple[str, int, dict[str, str]]:
    """Return a fresh user's telegram handle, id and auth headers."""
    body, headers = await user_with_token(client)
    return body["telegram"], body["id"], headers


class TestRetries:
    """client_bet_id: a client that lost the answer retries and gets the same bet back."""

    async def test_a_retry_gets_the_first_bet_and_is_debited_once(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        telegram, user_id, headers = await bettor_with_id(client)
        first = await bet(client, headers, telegram, client_bet_id="okx-1")
        assert first.status_code == 201, first.text
        assert first.json()["client_bet_id"] == "okx-1"
        again = await bet(client, headers, telegram, client_bet_id="okx-1")
        assert again.status_code == 200, again.text
        assert again.json() == first.json()  # same bet, same balance: nothing happened since
        listed = (await client.get("/api/bets", headers=headers)).json()["bets"]
        assert [(b["id"], b["client_bet_id"]) for b in listed] == [(first.json()["id"], "okx-1")]
        assert await stakes(app, user_id) == [Decimal("-10")]
        balance = (await client.get(f"/api/balance/{telegram}", headers=headers)).json()
        assert balance["balance"] == 990.0

    async def test_the_same_bet_written_differently_is_a_retry(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        telegram, user_id, headers = await bettor_with_id(client)
        first = await bet(client, headers, telegram, amount=10.0, client_bet_id="b:2")
        assert first.status_code == 201, first.text
        for same in [
            {"amount": "10"},
            {"amount": "10.00000000"},
            {"symbol": "btc-usdt"},
            {"telegram": "@" + telegram.upper()},
        ]:
            handle = same.pop("telegram", telegram)
            again = await bet(client, headers, handle, client_bet_id="b:2", **same)
            assert again.status_code == 200, (same, again.text)
            assert again.json()["id"] == first.json()["id"]
        assert await stakes(app, user_id) == [Decimal("-10")]

    @pytest.mark.parametrize(
        "change",
        [
            {"amount": "10.5"},
            {"direction": "short"},
            {"time": 6},
            {"symbol": "ETH-USDT"},
            {"symbol": "NOPE-USDT"},
        ],
    )
    async def test_the_id_with_another_bet_is_409_and_debits_nothing(
        self, client: httpx.AsyncClient, app: FastAPI, change: dict[str, Any]
    ) -> None:
        telegram, user_id, headers = await bettor_with_id(client)
        first = await bet(client, headers, telegram, client_bet_id="once")
        assert first.status_code == 201, first.text
        other = await bet(client, headers, telegram, client_bet_id="once", **change)
        assert other.status_code == 409, other.text
        body = other.json()
        assert body["success"] is False
        assert body["code"] == "DUPLICATE_CLIENT_BET_ID"
        assert body["message"] == "client_bet_id 'once' was used for a different bet"
        assert await stakes(app, user_id) == [Decimal("-10")]
        assert len((await client.get("/api/bets", headers=headers)).json()["bets"]) == 1

    async def test_ids_are_per_user(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        alice, alice_id, alice_headers = await bettor_with_id(client)
        bob, bob_id, bob_headers = await bettor_with_id(client)
        mine = await bet(client, alice_headers, alice, client_bet_id="shared-id")
        theirs = await bet(client, bob_headers, bob, client_bet_id="shared-id", amount=20)
        assert (mine.status_code, theirs.status_code) == (201, 201)
        assert mine.json()["id"] != theirs.json()["id"]
        assert await stakes(app, alice_id) == [Decimal("-10")]
        assert await stakes(app, bob_id) == [Decimal("-20")]

    async def test_concurrent_identical_requests_place_one_bet(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        telegram, user_id, headers = await bettor_with_id(client)
        answers = await asyncio.gather(
            *(bet(client, headers, telegram, client_bet_id="twice") for _ in range(6))
        )
        assert sorted(a.status_code for a in answers) == [200] * 5 + [201], [
            a.text for a in answers
        ]
        assert len({a.json()["id"] for a in answers}) == 1
        assert await stakes(app, user_id) == [Decimal("-10")]
        balance = (await client.get(f"/api/balance/{telegram}", headers=headers)).json()
        assert balance["balance"] == 990.0

    async def test_a_retry_after_the_bet_resolved_gets_it_resolved(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        telegram, user_id, headers = await bettor_with_id(client)
        first = await bet(client, headers, telegram, time=1, client_bet_id="late")
        app.state.wiring.clock.advance(timedelta(minutes=2))
        assert await app.state.wiring.resolver.resolve_due() == 1
        again = await bet(client, headers, telegram, time=1, client_bet_id="late")
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
        assert again.json()["status"] != "active"
        balance = (await client.get(f"/api/balance/{telegram}", headers=headers)).json()
        assert again.json()["new_balance"] == balance["balance"]
        assert await stakes(app, user_id) == [Decimal("-10")]

    async def test_a_refused_bet_leaves_its_id_free(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        telegram, user_id, headers = await bettor_with_id(client)
        refused = await bet(client, headers, telegram, amount="1000.01", client_bet_id="again")
        assert refused.json()["code"] == "INSUFFICIENT_BALANCE"
        placed = await bet(client, headers, telegram, amount="1000", client_bet_id="again")
        assert placed.status_code == 201, placed.text
        assert await stakes(app, user_id) == [Decimal("-1000")]

    async def test_without_an_id_every_request_is_a_new_bet(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        telegram, user_id, headers = await bettor_with_id(client)
        answers = [await bet(client, headers, telegram) for _ in range(2)]
        assert [a.status_code for a in answers] == [201, 201]
        assert [a.json()["client_bet_id"] for a in answers] == [None, None]
        assert await stakes(app, user_id) == [Decimal("-10"), Decimal("-10")]

    @pytest.mark.parametrize("bad", ["", "has space", "x" * 65, "caf\u00e9", 7])
    async def test_a_malformed_id_is_422(self, client: httpx.AsyncClient, bad: object) -> None:
        telegram, _, headers = await bettor_with_id(client)
        response = await bet(client, headers, telegram, client_bet_id=bad)
        assert response.status_code == 422
        assert (await client.get("/api/bets", headers=headers)).json() == {"bets": []}


class TestSimulatedClock:
    async def test_a_one_minute_bet_resolves_in_a_second_at_speed_60(
        self, tmp_path: Path, db: str
    ) -> None:
        settings = make_settings(tmp_path / "data", db, starting_balance_usdt=STARTING_USDT)
        app = create_app(settings, clock=SimulatedClock(60, start=T0))
        try:
            async with app.router.lifespan_context(app), client_for(app) as client:
                telegram, headers = await bettor(client)
                placed = (await bet(client, headers, telegram, time=1)).json()
                async with asyncio.timeout(10):
                    while True:
                        (found,) = (await client.get("/api/bets", headers=headers)).json()["bets"]
                        if found["status"] != "active":
                            break
                        await asyncio.sleep(0.05)
                balance = (await client.get(f"/api/balance/{telegram}", headers=headers)).json()
        finally:
            await app.state.wiring.engine.dispose()
        expires_at = datetime.fromisoformat(placed["expires_at"])
        exit_price = app.state.wiring.market.source.price_at("BTC-USDT", expires_at)
        entry = Decimal(str(placed["entry_price"]))
        assert Decimal(str(found["exit_price"])) == exit_price
        expected = outcome(Direction.LONG, entry, exit_price)
        assert found["status"] == expected.value
        paid = {"won": 18.0, "lost": 0.0, "refunded": 10.0}[expected.value]
        assert found["payout"] == paid
        assert balance["balance"] == 990.0 + paid
