"""The market feed as an operator sees it: its state, Kite's daily login, and a replayed market."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select

from tests.conftest import client_for, make_settings
from tests.factories import admin_headers, user_with_token
from tradepit.app import create_app
from tradepit.market.catalogue import Catalogue
from tradepit.market.feed import FeedLoginRefused
from tradepit.market.replay import BadReplayFile, read_ticks
from tradepit.store.audit import AuditEntry
from tradepit.store.feeds import FeedCredential

FEEDS = "/api/admin/feeds"
LOGIN_URL = "/api/admin/feeds/kite/login-url"
SESSION = "/api/admin/feeds/kite/session"
GOOD_TOKEN = "goodtoken123"
ACCESS_TOKEN = "kite-access-token-abcdef0123456789"
KITE_URL = "https://kite.zerodha.com/connect/login?v=3&api_key=standin"


@dataclass(frozen=True)
class FakeAccess:
    """What the stand-in's login answers."""

    access_token: str
    user_id: str
    expires_at: datetime


@dataclass
class FakeKite:
    """A stand-in for Kite's login flow: one request token is good, every other is refused."""

    exchanged: list[str] = field(default_factory=list)
    expires_at: datetime = field(
        default_factory=lambda: datetime.now(UTC).replace(microsecond=0) + timedelta(hours=12)
    )

    def login_url(self) -> str:
        """Return the stand-in's login URL."""
        return KITE_URL

    async def exchange(self, request_token: str) -> FakeAccess:
        """Trade the good request token for an access token; refuse any other as Kite does."""
        self.exchanged.append(request_token)
        if request_token != GOOD_TOKEN:
            raise FeedLoginRefused("Token is invalid or has expired.")
        return FakeAccess(ACCESS_TOKEN, "AB1234", self.expires_at)

    async def instruments(self, access_token: str) -> dict[str, int]:
        """Return a tiny instrument map."""
        return {"RELIANCE": 738561}


@dataclass
class TokenRecorder:
    """Records the access tokens the feed is restarted with."""

    tokens: list[str] = field(default_factory=list)

    async def __call__(self, access_token: str) -> None:
        """Record one restart."""
        self.tokens.append(access_token)


@pytest.fixture
def kite(app: FastAPI) -> FakeKite:
    """Wire the Kite stand-in into the app; return it."""
    fake = FakeKite()
    app.state.wiring.kite = fake
    return fake


@pytest.fixture
def restarts(app: FastAPI) -> TokenRecorder:
    """Record the feed restarts the app asks for."""
    recorder = TokenRecorder()
    app.state.wiring.on_kite_token = recorder
    return recorder


async def admin(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    """Return an administrator's auth headers."""
    _, headers = await admin_headers(app, client)
    return headers


async def credentials(app: FastAPI) -> list[FeedCredential]:
    """Return the stored feed credentials."""
    async with app.state.wiring.sessionmaker() as session:
        return list((await session.scalars(select(FeedCredential))).all())


async def audit_log(app: FastAPI) -> list[AuditEntry]:
    """Return every audit entry."""
    async with app.state.wiring.sessionmaker() as session:
        return list((await session.scalars(select(AuditEntry))).all())


class TestFeedState:
    async def test_admin_sees_the_feed_not_started(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        response = await client.get(FEEDS, headers=await admin(app, client))
        assert response.status_code == 200
        assert response.json() == {"kind": None, "status": "not_started", "detail": "", "ticks": 0}

    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("GET", FEEDS, None),
            ("GET", LOGIN_URL, None),
            ("POST", SESSION, {"request_token": GOOD_TOKEN}),
        ],
    )
    async def test_a_user_is_forbidden(
        self, client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == 403
        assert response.json()["code"] == "FORBIDDEN"

    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("GET", FEEDS, None),
            ("GET", LOGIN_URL, None),
            ("POST", SESSION, {"request_token": GOOD_TOKEN}),
        ],
    )
    async def test_no_token_is_401(
        self, client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
    ) -> None:
        response = await client.request(method, path, json=body)
        assert response.status_code == 401
        assert response.json()["code"] == "NOT_AUTHENTICATED"


class TestKiteNotConfigured:
    async def test_login_url_says_what_to_configure(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        response = await client.get(LOGIN_URL, headers=await admin(app, client))
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "FEED_NOT_CONFIGURED"
        assert "TRADEPIT_KITE_API_KEY" in body["message"]

    async def test_session_is_refused_and_nothing_stored(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        response = await client.post(
            SESSION, json={"request_token": GOOD_TOKEN}, headers=await admin(app, client)
        )
        assert response.status_code == 400
        assert response.json()["code"] == "FEED_NOT_CONFIGURED"
        assert await credentials(app) == []


class TestKiteLogin:
    async def test_login_url_is_kites(
        self, client: httpx.AsyncClient, app: FastAPI, kite: FakeKite
    ) -> None:
        response = await client.get(LOGIN_URL, headers=await admin(app, client))
        assert response.status_code == 200
        assert response.json() == {"login_url": KITE_URL}

    async def test_session_answers_account_and_expiry(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        kite: FakeKite,
        restarts: TokenRecorder,
    ) -> None:
        response = await client.post(
            SESSION, json={"request_token": GOOD_TOKEN}, headers=await admin(app, client)
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["success"] is True and body["account"] == "AB1234"
        assert datetime.fromisoformat(body["expires_at"]) == kite.expires_at
        assert ACCESS_TOKEN not in response.text
        assert kite.exchanged == [GOOD_TOKEN]

    async def test_token_is_stored_sealed(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        kite: FakeKite,
        restarts: TokenRecorder,
    ) -> None:
        await client.post(
            SESSION, json={"request_token": GOOD_TOKEN}, headers=await admin(app, client)
        )
        (row,) = await credentials(app)
        assert row.provider == "kite" and row.account == "AB1234"
        assert row.expires_at == kite.expires_at
        assert ACCESS_TOKEN not in row.sealed and GOOD_TOKEN not in row.sealed
        assert app.state.wiring.sealer.open("feed:kite", row.sealed) == ACCESS_TOKEN

    async def test_audit_entry_without_the_token(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        kite: FakeKite,
        restarts: TokenRecorder,
    ) -> None:
        admin_id, headers = await admin_headers(app, client)
        await client.post(SESSION, json={"request_token": GOOD_TOKEN}, headers=headers)
        entries = await audit_log(app)
        (entry,) = [e for e in entries if e.action == "feed.kite.session"]
        assert entry.actor_id == admin_id and entry.target == "feed:kite"
        assert entry.details["account"] == "AB1234"
        for e in entries:
            assert ACCESS_TOKEN not in repr(vars(e)) and GOOD_TOKEN not in repr(vars(e))
        listed = await client.get(
            "/api/admin/audit-log", params={"action": "feed.kite.session"}, headers=headers
        )
        assert listed.status_code == 200
        assert len(listed.json()["entries"]) == 1
        assert ACCESS_TOKEN not in listed.text

    async def test_the_feed_is_restarted_with_the_new_token(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        kite: FakeKite,
        restarts: TokenRecorder,
    ) -> None:
        await client.post(
            SESSION, json={"request_token": GOOD_TOKEN}, headers=await admin(app, client)
        )
        assert restarts.tokens == [ACCESS_TOKEN]

    async def test_without_a_restart_hook_the_token_is_still_stored(
        self, client: httpx.AsyncClient, app: FastAPI, kite: FakeKite
    ) -> None:
        response = await client.post(
            SESSION, json={"request_token": GOOD_TOKEN}, headers=await admin(app, client)
        )
        assert response.status_code == 200
        assert len(await credentials(app)) == 1

    async def test_refused_token_answers_kites_reason_and_stores_nothing(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        kite: FakeKite,
        restarts: TokenRecorder,
    ) -> None:
        response = await client.post(
            SESSION, json={"request_token": "staletoken99"}, headers=await admin(app, client)
        )
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "FEED_LOGIN_REFUSED"
        assert body["message"] == "Token is invalid or has expired."
        assert await credentials(app) == []
        assert [e for e in await audit_log(app) if e.action.startswith("feed.")] == []
        assert restarts.tokens == []

    @pytest.mark.parametrize(
        "body",
        [
            {"request_token": "short"},
            {"request_token": "has spaces in it"},
            {"request_token": "semi;colon123"},
            {"request_token": "x" * 65},
            {"request_token": ""},
            {},
            {"request_token": GOOD_TOKEN, "extra": 1},
        ],
    )
    async def test_malformed_request_token_is_422(
        self, client: httpx.AsyncClient, app: FastAPI, kite: FakeKite, body: dict[str, Any]
    ) -> None:
        response = await client.post(SESSION, json=body, headers=await admin(app, client))
        assert response.status_code == 422
        assert response.json()["code"] == "VALIDATION_ERROR"
        assert kite.exchanged == []


REPLAY = """timestamp,symbol,ltp,bid,ask,volume
2026-03-04T09:15:00+05:30,RELIANCE,1540.0,1539.9,1540.1,100
2026-03-04T09:15:30+05:30,RELIANCE,1543.5,1543.4,1543.6,250
2026-03-04T09:16:05+05:30,RELIANCE,1541.2,1541.1,1541.3,400
2026-03-04T09:16:10+05:30,TCS,3900.0,3899.5,3900.5,10
"""


@pytest.fixture
def replay_file(tmp_path: Path) -> Path:
    """Write a short recording of RELIANCE and TCS; return its path."""
    path = tmp_path / "recording.csv"
    path.write_text(REPLAY, encoding="utf-8")
    return path


@pytest.fixture
async def replay_app(tmp_path: Path, db: str, replay_file: Path) -> AsyncIterator[FastAPI]:
    """Yield an app whose market is the replayed recording."""
    settings = make_settings(tmp_path / "replay-data", db, feed=f"replay:{replay_file}")
    application = create_app(settings)
    yield application
    await application.state.wiring.feeds.stop()
    await application.state.wiring.engine.dispose()


class TestReplayedMarket:
    async def test_spot_price_comes_from_the_replay(
        self, replay_app: FastAPI, replay_file: Path
    ) -> None:
        async with client_for(replay_app) as client:
            before = await client.get("/api/spot_price/RELIANCE")
            assert before.status_code == 404
            assert before.json()["error"]["code"] == "NO_DATA"
            ticks = read_ticks(replay_file, {i.symbol: i for i in Catalogue.load()})
            await replay_app.state.wiring.feeds.sink(ticks)
            response = await client.get("/api/spot_price/RELIANCE")
        assert response.status_code == 200, response.text
        spot = response.json()["data"]
        assert spot["symbol"] == "RELIANCE"
        assert spot["spot_price"] == pytest.approx(1541.2)
        assert spot["previous_close"] == pytest.approx(1540.0)  # the day's open, no earlier day
        assert datetime.fromisoformat(spot["timestamp"]) == datetime(
            2026, 3, 4, 3, 46, 5, tzinfo=UTC
        )

    async def test_status_shows_the_replay_feed(
        self, replay_app: FastAPI, replay_file: Path
    ) -> None:
        wired = replay_app.state.wiring
        wired.feeds.start(wired.feed)
        async with client_for(replay_app) as client:
            status = await client.get("/api/status")
            assert status.status_code == 200
            feed = status.json()["feed"]
            assert feed["kind"] == f"replay:{replay_file}"
            assert feed["status"] in {"starting", "running"}
            _, headers = await admin_headers(replay_app, client)
            state = await client.get(FEEDS, headers=headers)
        assert state.json()["kind"] == f"replay:{replay_file}"
        assert state.json()["symbols"] == ["RELIANCE", "TCS"]
        await wired.feeds.stop()
        assert wired.feed.state.status == "stopped"

    async def test_a_missing_replay_file_is_named(self, tmp_path: Path, db: str) -> None:
        missing = tmp_path / "no-such-recording.csv"
        settings = make_settings(tmp_path / "data", db, feed=f"replay:{missing}")
        with pytest.raises(BadReplayFile, match=r"no-such-recording\.csv"):
            create_app(settings)

    @pytest.mark.parametrize("feed", ["bloomberg", "replay:", "ccxt:OKX!", "kite:extra", ""])
    def test_an_unknown_feed_is_refused_by_the_settings(self, tmp_path: Path, feed: str) -> None:
        with pytest.raises(ValidationError, match="feed"):
            make_settings(tmp_path / "data", "sqlite+aiosqlite:///unused.db", feed=feed)
