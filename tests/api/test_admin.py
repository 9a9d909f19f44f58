"""The admin routes: listing users, activation, roles, platform stats and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import CLIENT_IP, client_for, make_settings
from tests.factories import (
    PASSWORD,
    admin_headers,
    login,
    make_user,
    register,
    unique_name,
    user_with_token,
)
from tradepit.app import create_app
from tradepit.domain.accounts import Role
from tradepit.domain.clock import ManualClock

#: Every admin route, with a body that would be valid, for the access checks.
ADMIN_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/admin/users", None),
    ("PUT", "/api/admin/users/{id}/activate", None),
    ("PUT", "/api/admin/users/{id}/deactivate", None),
    ("PUT", "/api/admin/users/{id}/role", {"role": "admin"}),
    ("GET", "/api/admin/stats", None),
    ("GET", "/api/admin/audit-log", None),
    ("GET", "/api/admin/books", None),
]


def bearer(token: str) -> dict[str, str]:
    """Return the auth headers for a bearer token."""
    return {"Authorization": f"Bearer {token}"}


async def me(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    """Return the answer of ``GET /api/auth/me`` with ``headers``."""
    return await client.get("/api/auth/me", headers=headers)


async def user_row(
    client: httpx.AsyncClient, headers: dict[str, str], user_id: int
) -> dict[str, Any]:
    """Return the admin listing's row of one user."""
    response = await client.get("/api/admin/users?page_size=200", headers=headers)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = [u for u in response.json()["users"] if u["id"] == user_id]
    assert len(rows) == 1
    return rows[0]


async def audit_entries(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    """Return the audit log (newest first) as an administrator sees it."""
    response = await client.get(
        "/api/admin/audit-log", params={"page_size": 200, **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def only(entries: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    """Return the one entry whose fields equal ``match``."""
    found = [e for e in entries if all(e.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, entries)
    return found[0]


class TestListUsers:
    async def test_lists_users_with_total(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        admin_id, admin = await admin_headers(app, client)
        alice = await register(client, unique_name("alice"))
        bob = await register(client, unique_name("bob"))
        response = await client.get("/api/admin/users", headers=admin)
        assert response.status_code == 200
        body = response.json()
        assert body["total"] == 3 and body["page"] == 1 and body["page_size"] == 50
        assert [u["id"] for u in body["users"]] == [admin_id, alice["id"], bob["id"]]
        row = body["users"][1]
        assert row["username"] == alice["username"] and row["role"] == "user"
        assert row["is_active"] is True
        assert "password" not in response.text and "hash" not in response.text

    async def test_pages_in_id_order(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        admin_id, admin = await admin_headers(app, client)
        ids = [admin_id] + [(await register(client))["id"] for _ in range(4)]
        page2 = await client.get("/api/admin/users?page=2&page_size=2", headers=admin)
        assert page2.status_code == 200
        body = page2.json()
        assert [u["id"] for u in body["users"]] == ids[2:4]
        assert body["total"] == 5 and body["page"] == 2 and body["page_size"] == 2
        last = (await client.get("/api/admin/users?page=3&page_size=2", headers=admin)).json()
        assert [u["id"] for u in last["users"]] == ids[4:]

    async def test_page_past_the_end_is_empty(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, admin = await admin_headers(app, client)
        response = await client.get("/api/admin/users?page=9&page_size=10", headers=admin)
        assert response.status_code == 200
        assert response.json()["users"] == [] and response.json()["total"] == 1

    @pytest.mark.parametrize(("name", "value"), [("page", 0), ("page_size", 0), ("page_size", 201)])
    async def test_bad_paging_is_422(
        self, client: httpx.AsyncClient, app: FastAPI, name: str, value: int
    ) -> None:
        _, admin = await admin_headers(app, client)
        response = await client.get("/api/admin/users", params={name: value}, headers=admin)
        assert response.status_code == 422
        assert response.json()["message"].startswith(f"query.{name}")

    async def test_search_by_username(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        _, admin = await admin_headers(app, client)
        zed = await register(client, "zedediah")
        await register(client, "quinn")
        response = await client.get("/api/admin/users", params={"q": "EDED"}, headers=admin)
        assert response.status_code == 200
        assert [u["id"] for u in response.json()["users"]] == [zed["id"]]
        assert response.json()["total"] == 1

    async def test_search_by_email(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        _, admin = await admin_headers(app, client)
        found = await register(client, "plainname", email="hidden.match@corp.example")
        await register(client, "othername", email="someone@else.example")
        response = await client.get("/api/admin/users", params={"q": "corp.EXAMPLE"}, headers=admin)
        assert [u["id"] for u in response.json()["users"]] == [found["id"]]
        assert response.json()["users"][0]["email"] == "hidden.match@corp.example"
        assert response.json()["total"] == 1

    async def test_search_total_counts_all_matches_not_the_page(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, admin = await admin_headers(app, client)
        for _ in range(3):
            await register(client, unique_name("trader"))
        await register(client, "bystander")
        response = await client.get(
            "/api/admin/users", params={"q": "trader", "page_size": 2}, headers=admin
        )
        assert len(response.json()["users"]) == 2 and response.json()["total"] == 3

    async def test_search_without_match_is_empty(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, admin = await admin_headers(app, client)
        await register(client)
        response = await client.get("/api/admin/users", params={"q": "nomatch"}, headers=admin)
        assert response.status_code == 200
        assert response.json() == {"users": [], "total": 0, "page": 1, "page_size": 50}

    @pytest.mark.parametrize("query", ["%", "_", "a_c"])
    async def test_search_wildcards_are_literal(
        self, client: httpx.AsyncClient, app: FastAPI, query: str
    ) -> None:
        _, admin = await admin_headers(app, client)
        await register(client, "abc_trader")
        literal = await register(client, "a_c_trader")
        response = await client.get("/api/admin/users", params={"q": query}, headers=admin)
        assert response.status_code == 200
        names = [u["username"] for u in response.json()["users"]]
        expected = [u for u in ("abc_trader", "a_c_trader") if query in u]
        assert names == expected
        if query == "a_c":
            assert [u["id"] for u in response.json()["users"]] == [literal["id"]]


class TestActivation:
    async def test_deactivated_user_cannot_log_in(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, admin = await admin_headers(app, client)
        user = await register(client)
        response = await client.put(f"/api/admin/users/{user['id']}/deactivate", headers=admin)
        assert response.status_code == 200
        assert response.json()["id"] == user["id"] and response.json()["is_active"] is False

        refused = await client.post(
            "/api/login", json={"username": user["username"], "password": PASSWORD}
        )
        assert refused.status_code == 403
        assert refused.json()["code"] == "ACCOUNT_DISABLED"
        assert "access_token" not in refused.json()
        assert (await user_row(client, admin, user["id"]))["is_active"] is False

    async def test_deactivated_user_with_wrong_password_learns_nothing(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, admin = await admin_headers(app, client)
        user = await register(client)
        await client.put(f"/api/admin/users/{user['id']}/deactivate", headers=admin)
        response = await client.post(
            "/api/login", json={"username": user["username"], "password": "wrongpass1"}
        )
        assert response.status_code == 401
        assert response.json()["code"] == "INVALID_CREDENTIALS"

    async def test_deactivation_stops_the_bearer_token_at_once(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, admin = await admin_headers(app, client)
        user, headers = await user_with_token(client)
        assert (await me(client, headers)).status_code == 200
        await client.put(f"/api/admin/users/{user['id']}/deactivate", headers=admin)
        after = await me(client, headers)
        assert after.status_code == 401
        assert after.json()["code"] == "INVALID_TOKEN"
        settings = await client.get("/api/users/me/settings", headers=headers)
        assert settings.status_code == 401

    async def test_deactivation_stops_the_api_key_at_once(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, admin = await admin_headers(app, client)
        user, headers = await user_with_token(client)
        created = await client.post("/api/auth/api-keys", json={"name": "bot"}, headers=headers)
        key = {"X-API-Key": created.json()["key"]}
        assert (await me(client, key)).status_code == 200
        await client.put(f"/api/admin/users/{user['id']}/deactivate", headers=admin)
        after = await me(client, key)
        assert after.status_code == 401
        assert after.json()["code"] == "INVALID_TOKEN"

    async def test_reactivated_user_can_log_in_again(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, admin = await admin_headers(app, client)
        user = await register(client)
        await client.put(f"/api/admin/users/{user['id']}/deactivate", headers=admin)
        response = await client.put(f"/api/admin/users/{user['id']}/activate", headers=admin)
        assert response.status_code == 200 and response.json()["is_active"] is True
        token = await login(client, user["username"])
        assert (await me(client, bearer(token))).json()["id"] == user["id"]

    async def test_activating_an_active_user_changes_nothing(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, admin = await admin_headers(app, client)
        user, headers = await user_with_token(client)
        response = await client.put(f"/api/admin/users/{user['id']}/activate", headers=admin)
        assert response.status_code == 200 and response.json()["is_active"] is True
        assert (await me(client, headers)).status_code == 200


class TestRoles:
    async def test_promotion_takes_effect_at_once(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, root = await admin_headers(app, client, Role.SUPERADMIN)
        user, headers = await user_with_token(client)
        assert (await client.get("/api/admin/stats", headers=headers)).status_code == 403

        response = await client.put(
            f"/api/admin/users/{user['id']}/role", json={"role": "admin"}, headers=root
        )
        assert response.status_code == 200
        assert response.json()["id"] == user["id"] and response.json()["role"] == "admin"
        # The token from before the promotion now opens the admin routes.
        assert (await client.get("/api/admin/stats", headers=headers)).status_code == 200
        assert (await me(client, headers)).json()["role"] == "admin"

    async def test_demotion_takes_effect_at_once(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, root = await admin_headers(app, client, Role.SUPERADMIN)
        admin_id, admin = await admin_headers(app, client)
        assert (await client.get("/api/admin/users", headers=admin)).status_code == 200
        response = await client.put(
            f"/api/admin/users/{admin_id}/role", json={"role": "user"}, headers=root
        )
        assert response.status_code == 200 and response.json()["role"] == "user"
        assert (await client.get("/api/admin/users", headers=admin)).status_code == 403

    async def test_admin_cannot_change_roles(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        _, admin = await admin_headers(app, client)
        user = await register(client)
        response = await client.put(
            f"/api/admin/users/{user['id']}/role", json={"role": "admin"}, headers=admin
        )
        assert response.status_code == 403
        assert response.json()["code"] == "FORBIDDEN"
        assert (await user_row(client, admin, user["id"]))["role"] == "user"

    async def test_admin_cannot_promote_themselves(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        admin_id, admin = await admin_headers(app, client)
        response = await client.put(
            f"/api/admin/users/{admin_id}/role", json={"role": "superadmin"}, headers=admin
        )
        assert response.status_code == 403
        assert (await me(client, admin)).json()["role"] == "admin"

    @pytest.mark.parametrize("body", [{"role": "owner"}, {"role": "ADMIN "}, {}, {"x": "admin"}])
    async def test_bad_role_body_is_422(
        self, client: httpx.AsyncClient, app: FastAPI, body: dict[str, Any]
    ) -> None:
        _, root = await admin_headers(app, client, Role.SUPERADMIN)
        user = await register(client)
        response = await client.put(f"/api/admin/users/{user['id']}/role", json=body, headers=root)
        assert response.status_code == 422
        assert (await user_row(client, root, user["id"]))["role"] == "user"


class TestWhoMayChangeWhom:
    @pytest.mark.parametrize("role", [Role.ADMIN, Role.SUPERADMIN])
    @pytest.mark.parametrize("action", ["activate", "deactivate"])
    async def test_administrators_cannot_change_themselves(
        self, client: httpx.AsyncClient, app: FastAPI, role: Role, action: str
    ) -> None:
        own_id, headers = await admin_headers(app, client, role)
        response = await client.put(f"/api/admin/users/{own_id}/{action}", headers=headers)
        assert response.status_code == 409
        assert response.json()["code"] == "CANNOT_CHANGE_SELF"
        assert (await me(client, headers)).json()["is_active"] is True

    async def test_superadmin_cannot_change_own_role(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        own_id, root = await admin_headers(app, client, Role.SUPERADMIN)
        response = await client.put(
            f"/api/admin/users/{own_id}/role", json={"role": "user"}, headers=root
        )
        assert response.status_code == 409
        assert response.json()["code"] == "CANNOT_CHANGE_SELF"
        assert (await me(client, root)).json()["role"] == "superadmin"

    @pytest.mark.parametrize("target_role", [Role.ADMIN, Role.SUPERADMIN])
    async def test_admin_cannot_deactivate_an_equal_or_higher_rank(
        self, client: httpx.AsyncClient, app: FastAPI, target_role: Role
    ) -> None:
        _, admin = await admin_headers(app, client)
        target_name = unique_name(target_role.value)
        target_id = await make_user(app, target_role, target_name)
        response = await client.put(f"/api/admin/users/{target_id}/deactivate", headers=admin)
        assert response.status_code == 403
        assert response.json()["code"] == "OUTRANKS_CALLER"
        # The target can still log in.
        assert await login(client, target_name)

    async def test_admin_can_deactivate_a_plain_user(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, admin = await admin_headers(app, client)
        user = await register(client)
        response = await client.put(f"/api/admin/users/{user['id']}/deactivate", headers=admin)
        assert response.status_code == 200 and response.json()["is_active"] is False

    @pytest.mark.parametrize("target_role", [Role.ADMIN, Role.SUPERADMIN])
    async def test_superadmin_can_deactivate_administrators(
        self, client: httpx.AsyncClient, app: FastAPI, target_role: Role
    ) -> None:
        _, root = await admin_headers(app, client, Role.SUPERADMIN)
        target_id, target = await admin_headers(app, client, target_role)
        response = await client.put(f"/api/admin/users/{target_id}/deactivate", headers=root)
        assert response.status_code == 200 and response.json()["is_active"] is False
        assert (await client.get("/api/admin/users", headers=target)).status_code == 401

    @pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES[1:4])
    async def test_unknown_user_is_404(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        method: str,
        path: str,
        body: dict[str, Any] | None,
    ) -> None:
        _, root = await admin_headers(app, client, Role.SUPERADMIN)
        response = await client.request(method, path.format(id=999_999), json=body, headers=root)
        assert response.status_code == 404
        assert response.json()["code"] == "USER_NOT_FOUND"

    @pytest.mark.parametrize("bad_id", ["0", "-1", "abc", str(2**63)])
    async def test_malformed_user_id_is_422(
        self, client: httpx.AsyncClient, app: FastAPI, bad_id: str
    ) -> None:
        _, root = await admin_headers(app, client, Role.SUPERADMIN)
        response = await client.put(f"/api/admin/users/{bad_id}/deactivate", headers=root)
        assert response.status_code == 422


class TestAccess:
    @pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
    async def test_plain_user_is_403(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        body: dict[str, Any] | None,
    ) -> None:
        target = await register(client)
        _, headers = await user_with_token(client)
        response = await client.request(
            method, path.format(id=target["id"]), json=body, headers=headers
        )
        assert response.status_code == 403
        assert response.json()["code"] == "FORBIDDEN"

    @pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
    async def test_no_token_is_401(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        body: dict[str, Any] | None,
    ) -> None:
        target = await register(client)
        response = await client.request(method, path.format(id=target["id"]), json=body)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_plain_user_with_api_key_is_403(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        created = await client.post("/api/auth/api-keys", json={"name": "k"}, headers=headers)
        response = await client.get(
            "/api/admin/users", headers={"X-API-Key": created.json()["key"]}
        )
        assert response.status_code == 403

    async def test_user_cannot_deactivate_anyone(self, client: httpx.AsyncClient) -> None:
        victim, victim_headers = await user_with_token(client)
        _, headers = await user_with_token(client)
        await client.put(f"/api/admin/users/{victim['id']}/deactivate", headers=headers)
        assert (await me(client, victim_headers)).status_code == 200


class TestStats:
    async def test_user_counts(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        _, root = await admin_headers(app, client, Role.SUPERADMIN)
        await make_user(app, Role.ADMIN)
        users = [await register(client) for _ in range(3)]
        await client.put(f"/api/admin/users/{users[2]['id']}/deactivate", headers=root)

        response = await client.get("/api/admin/stats", headers=root)
        assert response.status_code == 200
        assert response.json()["users"] == {
            "total": 5,
            "active": 4,
            "role_user": 3,
            "role_admin": 1,
            "role_superadmin": 1,
        }
        assert response.json()["generated_at"]

    async def test_logins_of_the_last_day(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        _, admin = await admin_headers(app, client)  # one successful login
        alice = await register(client)
        bob = await register(client)
        await login(client, alice["username"])
        await login(client, alice["username"])
        for name in (bob["username"], bob["username"], "nobody_at_all"):
            failed = await client.post(
                "/api/login", json={"username": name, "password": "nope1234"}
            )
            assert failed.status_code == 401

        response = await client.get("/api/admin/stats", headers=admin)
        assert response.status_code == 200
        assert response.json()["logins_24h"] == {"success": 3, "failure": 3, "locked": 0}

    async def test_disabled_logins_are_not_successes(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, admin = await admin_headers(app, client)
        user = await register(client)
        await client.put(f"/api/admin/users/{user['id']}/deactivate", headers=admin)
        refused = await client.post(
            "/api/login", json={"username": user["username"], "password": PASSWORD}
        )
        assert refused.status_code == 403
        figures = (await client.get("/api/admin/stats", headers=admin)).json()["logins_24h"]
        assert figures["success"] == 1 and figures["failure"] == 0


class TestAuditLog:
    async def test_records_the_account_lifecycle(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, root = await admin_headers(app, client, Role.SUPERADMIN)
        root_user = (await me(client, root)).json()
        name = unique_name("audited")
        user = await register(client, name)
        token = await login(client, name)
        failed = await client.post("/api/login", json={"username": name, "password": "wrongpass1"})
        assert failed.status_code == 401
        assert (await client.post("/api/logout", headers=bearer(token))).status_code == 200
        await client.put(
            f"/api/admin/users/{user['id']}/role", json={"role": "admin"}, headers=root
        )
        await client.put(f"/api/admin/users/{user['id']}/deactivate", headers=root)

        entries = await audit_entries(client, root)
        assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
        mine = [e for e in entries if e["actor_id"] == user["id"]]
        by_user = ["user.register", "auth.login", "auth.login", "auth.logout"]
        assert [e["action"] for e in reversed(mine)] == by_user
        for entry in mine:
            assert entry["actor"] == name and entry["ip"] == CLIENT_IP

        registered = only(entries, action="user.register", actor_id=user["id"])
        assert registered["result"] == "ok" and registered["target"] == f"user:{user['id']}"
        assert registered["details"] == {"role": "user"}
        assert only(entries, action="auth.login", actor_id=user["id"], result="ok")
        assert only(entries, action="auth.login", actor_id=user["id"], result="failure")
        assert only(entries, action="auth.logout", actor_id=user["id"])["result"] == "ok"

        role = only(entries, action="admin.user.role")
        deactivated = only(entries, action="admin.user.deactivate")
        for entry in (role, deactivated):
            assert entry["actor_id"] == root_user["id"]
            assert entry["actor"] == root_user["username"]
            assert entry["target"] == f"user:{user['id']}"
            assert entry["ip"] == CLIENT_IP and entry["result"] == "ok"
        assert role["details"] == {"from": "user", "to": "admin"}

    async def test_failed_login_of_unknown_user_is_recorded(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, admin = await admin_headers(app, client)
        await client.post("/api/login", json={"username": "Ghost_User", "password": "wrongpass1"})
        entry = only(await audit_entries(client, admin), result="failure")
        assert entry["action"] == "auth.login" and entry["actor_id"] is None
        assert entry["actor"] == "ghost_user" and entry["ip"] == CLIENT_IP

    async def test_disabled_login_is_recorded(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, admin = await admin_headers(app, client)
        user = await register(client)
        await client.put(f"/api/admin/users/{user['id']}/deactivate", headers=admin)
        await client.post("/api/login", json={"username": user["username"], "password": PASSWORD})
        entry = only(await audit_entries(client, admin), result="inactive")
        assert entry["action"] == "auth.login" and entry["actor_id"] == user["id"]

    async def test_never_contains_a_password(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        _, root = await admin_headers(app, client, Role.SUPERADMIN)
        secret, wrong = "Kumquat4Zebra77", "Pineapple9Wrong"
        name = unique_name("secretive")
        user = await register(client, name, password=secret, email=f"{name}@example.com")
        token = await login(client, name, password=secret)
        await client.post("/api/login", json={"username": name, "password": wrong})
        await client.post("/api/login", json={"email": f"{name}@example.com", "password": wrong})
        await client.post("/api/logout", headers=bearer(token))
        await client.put(
            f"/api/admin/users/{user['id']}/role", json={"role": "admin"}, headers=root
        )

        response = await client.get("/api/admin/audit-log?page_size=200", headers=root)
        assert response.status_code == 200
        assert response.json()["total"] >= 7
        for password in (secret, wrong):
            assert password.lower() not in response.text.lower()
        assert "argon2" not in response.text
        assert token not in response.text

    async def test_filters_by_action_and_actor(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        _, admin = await admin_headers(app, client)
        alice = await register(client)
        bob = await register(client)
        await login(client, alice["username"])
        await login(client, bob["username"])

        logins = await audit_entries(client, admin, action="auth.login")
        assert logins and all(e["action"] == "auth.login" for e in logins)
        assert {alice["id"], bob["id"]} <= {e["actor_id"] for e in logins}

        alices = await audit_entries(client, admin, actor_id=alice["id"])
        assert [e["action"] for e in alices] == ["auth.login", "user.register"]

        both = await audit_entries(client, admin, action="auth.login", actor_id=bob["id"])
        assert len(both) == 1 and both[0]["actor_id"] == bob["id"]

    async def test_pages_newest_first(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        _, admin = await admin_headers(app, client)
        for _ in range(3):
            await register(client)
        everything = await audit_entries(client, admin)
        page = await client.get("/api/admin/audit-log?page=2&page_size=2", headers=admin)
        assert page.status_code == 200
        assert page.json()["total"] == len(everything)
        assert [e["id"] for e in page.json()["entries"]] == [e["id"] for e in everything[2:4]]


class TestAuditTime:
    async def test_entries_are_stamped_with_wall_time_not_the_market_clock(
        self, tmp_path: Path, db: str
    ) -> None:
        market = ManualClock(datetime(2031, 3, 4, 5, 30, tzinfo=UTC))  # a replayed market
        wall = ManualClock(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
        app = create_app(make_settings(tmp_path / "data", db, market_hours="always"),
                         clock=market, wall=wall)  # fmt: skip
        try:
            async with client_for(app) as client:
                _, root = await admin_headers(app, client, Role.SUPERADMIN)
                user, _ = await user_with_token(client)
                adjusted = await client.post(
                    f"/api/admin/users/{user['id']}/wallet-adjustments",
                    json={"currency": "INR", "amount": "1000", "reason": "bonus"},
                    headers=root,
                )
                assert adjusted.status_code in (200, 201), adjusted.text
                terms = {
                    "name": "Wall time", "start_time": "2031-03-04T06:00:00+00:00",
                    "end_time": "2031-03-04T07:00:00+00:00", "starting_capital": "100000",
                }  # fmt: skip
                made = await client.post("/api/admin/tournaments", json=terms, headers=root)
                assert made.status_code == 201, made.text
                tid = made.json()["id"]
                started = await client.post(f"/api/admin/tournaments/{tid}/start", headers=root)
                assert started.status_code == 200, started.text
                entries = await audit_entries(client, root)
        finally:
            await app.state.wiring.engine.dispose()
        actions = {e["action"] for e in entries}
        assert {
            "admin.wallet.adjust",
            "admin.tournament.create",
            "admin.tournament.start",
        } <= actions
        assert {datetime.fromisoformat(e["at"]) for e in entries} == {wall.now()}
