"""A user's own settings: defaults at sign-up, partial changes, validation and privacy."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import user_with_token

SETTINGS = "/api/users/me/settings"

DEFAULT_NOTIFICATIONS = {
    "order_fills": True,
    "price_alerts": True,
    "tournaments": True,
    "email": False,
}
DEFAULT_DISPLAY = {
    "theme": "system",
    "chart_type": "candles",
    "timezone": "Asia/Kolkata",
    "compact": False,
}


async def get_settings(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    """Return the caller's settings."""
    response = await client.get(SETTINGS, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def put_settings(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    """Change the caller's settings; return the answer, which must be a success."""
    response = await client.put(SETTINGS, json=body, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def without_time(settings: dict[str, Any]) -> dict[str, Any]:
    """Return the settings without ``updated_at``."""
    return {k: v for k, v in settings.items() if k != "updated_at"}


class TestDefaults:
    async def test_created_at_sign_up(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        settings = await get_settings(client, headers)
        assert settings["default_product"] == "MIS"
        assert settings["default_quantity"] == 1
        assert isinstance(settings["watchlist"], list) and settings["watchlist"]
        assert all(isinstance(s, str) and s == s.upper() for s in settings["watchlist"])
        assert settings["notifications"] == DEFAULT_NOTIFICATIONS
        assert settings["display"] == DEFAULT_DISPLAY
        assert settings["updated_at"]

    async def test_paper_signup_gets_defaults_too(self, client: httpx.AsyncClient) -> None:
        await client.post(
            "/api/auth/signup",
            json={"email": "set@example.com", "username": "setuser", "password": "SecurePass123"},
        )
        login = await client.post(
            "/api/auth/login", json={"email": "set@example.com", "password": "SecurePass123"}
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        settings = await get_settings(client, headers)
        assert settings["default_product"] == "MIS" and settings["display"] == DEFAULT_DISPLAY

    async def test_reading_twice_gives_the_same(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        assert await get_settings(client, headers) == await get_settings(client, headers)


class TestPartialUpdate:
    async def test_changed_field_is_stored(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        answer = await put_settings(client, headers, {"default_product": "CNC"})
        assert answer["default_product"] == "CNC"
        assert (await get_settings(client, headers))["default_product"] == "CNC"

    async def test_fields_left_out_keep_their_value(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        before = await get_settings(client, headers)
        answer = await put_settings(client, headers, {"default_quantity": 25})
        assert without_time(answer) == {**without_time(before), "default_quantity": 25}
        assert without_time(await get_settings(client, headers)) == without_time(answer)

    async def test_empty_body_changes_nothing(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        before = await get_settings(client, headers)
        answer = await put_settings(client, headers, {})
        assert without_time(answer) == without_time(before)

    async def test_display_group_merges(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        answer = await put_settings(client, headers, {"display": {"theme": "dark"}})
        assert answer["display"] == {**DEFAULT_DISPLAY, "theme": "dark"}
        assert answer["display"]["timezone"] == "Asia/Kolkata"
        assert (await get_settings(client, headers))["display"] == answer["display"]

    async def test_group_merges_with_what_is_stored_not_the_defaults(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        await put_settings(client, headers, {"display": {"theme": "dark"}})
        answer = await put_settings(client, headers, {"display": {"timezone": "Europe/Berlin"}})
        assert answer["display"] == {
            **DEFAULT_DISPLAY,
            "theme": "dark",
            "timezone": "Europe/Berlin",
        }
        assert (await get_settings(client, headers))["display"] == answer["display"]

    async def test_notifications_group_merges(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        answer = await put_settings(
            client, headers, {"notifications": {"email": True, "price_alerts": False}}
        )
        assert answer["notifications"] == {
            **DEFAULT_NOTIFICATIONS,
            "email": True,
            "price_alerts": False,
        }
        assert (await get_settings(client, headers))["notifications"] == answer["notifications"]

    async def test_several_fields_at_once(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        answer = await put_settings(
            client,
            headers,
            {
                "default_product": "NRML",
                "default_quantity": 1_000_000,
                "watchlist": ["TCS"],
                "display": {"compact": True, "chart_type": "heikin_ashi"},
            },
        )
        assert answer["default_product"] == "NRML" and answer["default_quantity"] == 1_000_000
        assert answer["watchlist"] == ["TCS"]
        assert answer["display"] == {
            **DEFAULT_DISPLAY,
            "compact": True,
            "chart_type": "heikin_ashi",
        }
        assert answer["notifications"] == DEFAULT_NOTIFICATIONS
        assert without_time(await get_settings(client, headers)) == without_time(answer)

    async def test_updated_at_moves_forward(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        before = await get_settings(client, headers)
        answer = await put_settings(client, headers, {"default_quantity": 3})
        assert answer["updated_at"] >= before["updated_at"]


class TestWatchlist:
    async def test_symbols_are_upper_cased_and_deduplicated(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        answer = await put_settings(
            client,
            headers,
            {"watchlist": ["tcs", "Infy", "TCS", " reliance ", "nifty 50", "INFY"]},
        )
        assert answer["watchlist"] == ["TCS", "INFY", "RELIANCE", "NIFTY 50"]
        assert (await get_settings(client, headers))["watchlist"] == answer["watchlist"]

    async def test_watchlist_is_replaced_not_merged(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        await put_settings(client, headers, {"watchlist": ["TCS", "INFY"]})
        answer = await put_settings(client, headers, {"watchlist": ["SBIN"]})
        assert answer["watchlist"] == ["SBIN"]

    async def test_watchlist_can_be_emptied(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        answer = await put_settings(client, headers, {"watchlist": []})
        assert answer["watchlist"] == []
        assert (await get_settings(client, headers))["watchlist"] == []

    async def test_a_malformed_symbol_is_422_saying_what_a_symbol_is(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.put(SETTINGS, json={"watchlist": ["TCS", "$$"]}, headers=headers)
        assert response.status_code == 422
        assert response.json()["message"] == (
            "body.watchlist.1: a symbol is 1-40 letters, digits, spaces, '&', '.', '_', ':' or "
            "'-', starting with a letter or digit"
        )

    async def test_more_than_100_symbols_is_422(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        symbols = [f"SYM{i}" for i in range(101)]
        response = await client.put(SETTINGS, json={"watchlist": symbols}, headers=headers)
        assert response.status_code == 422
        assert response.json()["detail"][0]["field"] == "body.watchlist"


class TestValidation:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"default_product": "XYZ"}, "body.default_product"),
            ({"default_product": "mis"}, "body.default_product"),
            ({"default_quantity": 0}, "body.default_quantity"),
            ({"default_quantity": -5}, "body.default_quantity"),
            ({"default_quantity": 1_000_001}, "body.default_quantity"),
            ({"default_quantity": "many"}, "body.default_quantity"),
            ({"display": {"timezone": "Mars/Base"}}, "body.display.timezone"),
            ({"display": {"timezone": "../../etc/passwd"}}, "body.display.timezone"),
            ({"display": {"theme": "neon"}}, "body.display.theme"),
            ({"display": {"font": "serif"}}, "body.display.font"),
            ({"notifications": {"sms": True}}, "body.notifications.sms"),
            ({"watchlist": ["TCS", "bad$symbol"]}, "body.watchlist.1"),
            ({"watchlist": "TCS"}, "body.watchlist"),
            ({"colour": "red"}, "body.colour"),
        ],
    )
    async def test_invalid_value_is_422_naming_the_field(
        self, client: httpx.AsyncClient, body: dict[str, Any], field: str
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.put(SETTINGS, json=body, headers=headers)
        assert response.status_code == 422
        answer = response.json()
        assert answer["code"] == "VALIDATION_ERROR"
        assert field in [error["field"] for error in answer["detail"]]
        assert answer["message"].startswith(field)

    async def test_unknown_time_zone_is_named_in_the_message(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.put(
            SETTINGS, json={"display": {"timezone": "Mars/Base"}}, headers=headers
        )
        assert response.status_code == 422
        assert "unknown time zone" in response.json()["message"]

    async def test_invalid_update_changes_nothing(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        before = await get_settings(client, headers)
        response = await client.put(
            SETTINGS,
            json={"default_product": "CNC", "display": {"theme": "dark", "timezone": "Mars/Base"}},
            headers=headers,
        )
        assert response.status_code == 422
        assert await get_settings(client, headers) == before


class TestPrivacy:
    async def test_one_users_change_is_not_seen_by_another(self, client: httpx.AsyncClient) -> None:
        _, alice = await user_with_token(client)
        _, bob = await user_with_token(client)
        bob_before = await get_settings(client, bob)
        await put_settings(
            client,
            alice,
            {"default_product": "CNC", "watchlist": ["TCS"], "display": {"theme": "dark"}},
        )
        assert await get_settings(client, bob) == bob_before
        assert (await get_settings(client, alice))["display"]["theme"] == "dark"

    @pytest.mark.parametrize("method", ["GET", "PUT"])
    async def test_no_token_is_401(self, client: httpx.AsyncClient, method: str) -> None:
        body = {"default_product": "CNC"} if method == "PUT" else None
        response = await client.request(method, SETTINGS, json=body)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_bad_token_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get(SETTINGS, headers={"Authorization": "Bearer not.a.token"})
        assert response.status_code == 401

    async def test_logged_out_token_cannot_change_settings(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        await client.post("/api/logout", headers=headers)
        response = await client.put(SETTINGS, json={"default_product": "CNC"}, headers=headers)
        assert response.status_code == 401

    async def test_api_key_reads_and_writes_own_settings(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        created = await client.post("/api/auth/api-keys", json={"name": "bot"}, headers=headers)
        key = {"X-API-Key": created.json()["key"]}
        await put_settings(client, key, {"default_quantity": 7})
        assert (await get_settings(client, headers))["default_quantity"] == 7
