"""Apps, the login page and sessions, driven by the official ``kiteconnect`` client."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime

import httpx
import pytest
from kiteconnect import KiteConnect
from kiteconnect import exceptions as ex

from tests.factories import PASSWORD, register
from tests.kite.conftest import REDIRECT, Bot, new_app, new_bot, request_token


async def _bearer(http: httpx.AsyncClient) -> tuple[str, str]:
    user = await register(http)
    answer = await http.post(
        "/api/login", json={"username": user["username"], "password": PASSWORD}
    )
    return user["username"], answer.json()["access_token"]


class TestApps:
    async def test_the_secret_is_shown_once_and_only_the_owner_lists_and_deletes(
        self, http: httpx.AsyncClient
    ) -> None:
        _, owner = await _bearer(http)
        _, other = await _bearer(http)
        created = await new_app(http, owner, postback_url="https://bot.example/postback")
        assert len(created["api_key"]) == 32 and len(created["api_secret"]) == 32
        assert created["login_url"] == f"/kite/connect/login?api_key={created['api_key']}&v=3"
        listed = await http.get("/api/kite/apps", headers={"Authorization": f"Bearer {owner}"})
        assert [a["api_key"] for a in listed.json()] == [created["api_key"]]
        assert "api_secret" not in listed.json()[0]
        theirs = await http.get("/api/kite/apps", headers={"Authorization": f"Bearer {other}"})
        assert theirs.json() == []
        path = f"/api/kite/apps/{created['id']}"
        refused = await http.delete(path, headers={"Authorization": f"Bearer {other}"})
        assert refused.status_code == 404
        gone = await http.delete(path, headers={"Authorization": f"Bearer {owner}"})
        assert gone.status_code == 204
        again = await http.get("/api/kite/apps", headers={"Authorization": f"Bearer {owner}"})
        assert again.json() == []

    async def test_a_redirect_url_must_be_a_web_address(self, http: httpx.AsyncClient) -> None:
        _, owner = await _bearer(http)
        answer = await http.post(
            "/api/kite/apps",
            json={"name": "bot", "redirect_url": "javascript:alert(1)"},
            headers={"Authorization": f"Bearer {owner}"},
        )
        assert answer.status_code == 422

    async def test_the_secret_is_stored_sealed(self, http: httpx.AsyncClient, live: str) -> None:
        _, owner = await _bearer(http)
        created = await new_app(http, owner)
        assert created["api_secret"] not in (await http.get("/api/kite/apps",
            headers={"Authorization": f"Bearer {owner}"})).text  # fmt: skip


class TestLogin:
    async def test_the_official_client_logs_in_and_reads_its_profile(
        self, http: httpx.AsyncClient, live: str
    ) -> None:
        username, owner = await _bearer(http)
        app = await new_app(http, owner)
        kite = KiteConnect(app["api_key"], root=f"http://{live}")
        assert kite.login_url().endswith(f"?api_key={app['api_key']}&v=3")
        rt = await request_token(http, app["api_key"], username)
        opened = await asyncio.to_thread(kite.generate_session, rt, app["api_secret"])
        assert opened["user_id"] == username and opened["api_key"] == app["api_key"]
        assert isinstance(opened["login_time"], datetime)
        assert kite.access_token == opened["access_token"]
        profile = await asyncio.to_thread(kite.profile)
        assert profile["user_name"] == username
        assert "NSE" in profile["exchanges"] and "SL-M" in profile["order_types"]

    async def test_a_request_token_works_once(self, http: httpx.AsyncClient, live: str) -> None:
        username, owner = await _bearer(http)
        app = await new_app(http, owner)
        kite = KiteConnect(app["api_key"], root=f"http://{live}")
        rt = await request_token(http, app["api_key"], username)
        await asyncio.to_thread(kite.generate_session, rt, app["api_secret"])
        with pytest.raises(ex.TokenException) as refused:
            await asyncio.to_thread(kite.generate_session, rt, app["api_secret"])
        assert refused.value.code == 403

    async def test_a_wrong_checksum_or_key_gets_nothing(
        self, http: httpx.AsyncClient, live: str
    ) -> None:
        username, owner = await _bearer(http)
        app = await new_app(http, owner)
        rt = await request_token(http, app["api_key"], username)
        kite = KiteConnect(app["api_key"], root=f"http://{live}")
        with pytest.raises(ex.TokenException):
            await asyncio.to_thread(kite.generate_session, rt, "not-the-secret")
        stranger = KiteConnect("0" * 32, root=f"http://{live}")
        with pytest.raises(ex.TokenException):
            await asyncio.to_thread(stranger.generate_session, rt, app["api_secret"])
        # Neither attempt used the token up.
        opened = await asyncio.to_thread(kite.generate_session, rt, app["api_secret"])
        assert opened["user_id"] == username

    async def test_the_checksum_is_sha256_of_key_token_and_secret(
        self, http: httpx.AsyncClient
    ) -> None:
        username, owner = await _bearer(http)
        app = await new_app(http, owner)
        rt = await request_token(http, app["api_key"], username)
        digest = hashlib.sha256((app["api_key"] + rt + app["api_secret"]).encode()).hexdigest()
        answer = await http.post(
            "/session/token",
            data={"api_key": app["api_key"], "request_token": rt, "checksum": digest},
            headers={"X-Kite-Version": "3"},
        )
        assert answer.status_code == 200
        body = answer.json()
        assert body["status"] == "success"
        assert len(body["data"]["login_time"]) == 19

    async def test_a_wrong_password_shows_the_form_again(self, http: httpx.AsyncClient) -> None:
        username, owner = await _bearer(http)
        app = await new_app(http, owner)
        answer = await http.post(
            "/kite/connect/login",
            data={"api_key": app["api_key"], "login": username, "password": "wrong-password"},
        )
        assert answer.status_code == 401
        assert "<form" in answer.text and "invalid login or password" in answer.text
        assert "location" not in answer.headers

    async def test_an_app_opens_only_its_owners_account(self, http: httpx.AsyncClient) -> None:
        """Whoever holds an app's secret trades the accounts that log in through it: another
        user's right password gets the form again, no request token, and a session opened by
        the owner is unaffected."""
        _, owner = await _bearer(http)
        app = await new_app(http, owner)
        someone, _ = await _bearer(http)
        answer = await http.post(
            "/kite/connect/login",
            data={"api_key": app["api_key"], "login": someone, "password": PASSWORD},
        )
        assert answer.status_code == 403
        assert "<form" in answer.text and "belongs to another Tradepit user" in answer.text
        assert "location" not in answer.headers and "request_token" not in answer.text

    async def test_repeated_failures_are_throttled(self, http: httpx.AsyncClient) -> None:
        username, owner = await _bearer(http)
        app = await new_app(http, owner)
        codes = []
        for _ in range(12):
            answer = await http.post(
                "/kite/connect/login",
                data={"api_key": app["api_key"], "login": username, "password": "wrong-password"},
            )
            codes.append(answer.status_code)
        assert codes[0] == 401 and codes[-1] == 429

    async def test_an_unknown_app_has_no_login_page(self, http: httpx.AsyncClient) -> None:
        answer = await http.get("/kite/connect/login", params={"api_key": "nope", "v": "3"})
        assert answer.status_code == 400 and "<form" not in answer.text

    async def test_a_deleted_app_ends_its_sessions(
        self, http: httpx.AsyncClient, live: str
    ) -> None:
        bot = await new_bot(http, live)
        listed = await http.get("/api/kite/apps", headers={"Authorization": f"Bearer {bot.bearer}"})
        app_id = listed.json()[0]["id"]
        await http.delete(
            f"/api/kite/apps/{app_id}", headers={"Authorization": f"Bearer {bot.bearer}"}
        )
        with pytest.raises(ex.TokenException):
            await bot.call(bot.kite.profile)


class TestLogout:
    async def test_a_logged_out_token_is_refused(self, bot: Bot) -> None:
        assert await bot.call(bot.kite.invalidate_access_token) is True
        with pytest.raises(ex.TokenException) as refused:
            await bot.call(bot.kite.profile)
        assert refused.value.code == 403

    async def test_a_token_works_only_with_its_own_app(
        self, http: httpx.AsyncClient, live: str, bot: Bot
    ) -> None:
        other = await new_bot(http, live)
        crossed = KiteConnect(
            other.api_key, access_token=bot.kite.access_token, root=f"http://{live}"
        )
        with pytest.raises(ex.TokenException):
            await asyncio.to_thread(crossed.profile)

    async def test_a_garbage_token_is_a_token_exception(self, bot: Bot, live: str) -> None:
        kite = KiteConnect(bot.api_key, access_token="garbage", root=f"http://{live}")
        with pytest.raises(ex.TokenException):
            await asyncio.to_thread(kite.profile)
        assert REDIRECT.startswith("http://")


class TestAppInput:
    @pytest.mark.parametrize(
        "url",
        ["ftp://bot.example/cb", "http://bot.example:99999/cb", "http://[::1/cb", "http:///cb",
         "http://bot.example/cb#frag", "http://bot.example/\x00"],
    )  # fmt: skip
    async def test_malformed_addresses_are_422(self, http: httpx.AsyncClient, url: str) -> None:
        _, owner = await _bearer(http)
        for field in ("redirect_url", "postback_url"):
            body = {"name": "bot", "redirect_url": "http://bot.example/cb", field: url}
            answer = await http.post(
                "/api/kite/apps", json=body, headers={"Authorization": f"Bearer {owner}"}
            )
            assert answer.status_code == 422, (field, url, answer.text)
