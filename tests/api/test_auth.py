"""Sign-up, login, logout and tokens, as clients of the seeds use them."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import httpx
import jwt
import pytest
from fastapi import FastAPI

from tests.factories import PASSWORD, login, register, unique_name, user_with_token


class TestRegister:
    async def test_okx_body_answers_okx_shape(self, client: httpx.AsyncClient) -> None:
        name = unique_name("tg")
        response = await client.post(
            "/api/register",
            json={"telegram": name, "email": f"{name}@example.com", "password": "password123"},
        )
        assert response.status_code == 201
        body = response.json()
        assert body["success"] is True
        assert body["message"] == "User registered successfully"
        assert body["balance"] == 0.0
        assert body["username"] == name and isinstance(body["id"], int)

    async def test_csv_accounts_body(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/register", json={"username": "carol", "password": "password123"}
        )
        assert response.status_code == 201
        assert response.json()["username"] == "carol"

    async def test_telegram_at_sign_is_dropped(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/register", json={"telegram": "@dave_tg", "password": "password123"}
        )
        assert response.json()["username"] == "dave_tg"
        token = await login(client, "@Dave_TG")
        assert token

    @pytest.mark.parametrize("second", ["erin", "ERIN", "@erin"])
    async def test_duplicate_username_is_409(self, client: httpx.AsyncClient, second: str) -> None:
        await register(client, "erin")
        response = await client.post(
            "/api/register", json={"telegram": second, "password": "password123"}
        )
        assert response.status_code == 409
        assert response.json()["code"] == "USERNAME_TAKEN"
        assert "already registered" in response.json()["message"]

    async def test_duplicate_email_is_409(self, client: httpx.AsyncClient) -> None:
        await register(client, email="same@example.com")
        response = await client.post(
            "/api/register",
            json={
                "username": unique_name(),
                "email": "SAME@example.com",
                "password": "password123",
            },
        )
        assert response.status_code == 409
        assert response.json()["code"] == "EMAIL_TAKEN"

    @pytest.mark.parametrize(
        ("password", "reason"),
        [
            ("short1", "at least 8"),
            ("onlyletters", "letters and digits"),
            ("12345678", "letters and digits"),
        ],
    )
    async def test_weak_password_is_400(
        self, client: httpx.AsyncClient, password: str, reason: str
    ) -> None:
        response = await client.post(
            "/api/register", json={"username": unique_name(), "password": password}
        )
        assert response.status_code == 400
        assert reason in response.json()["message"]

    @pytest.mark.parametrize(("field", "name"), [("username", "a!"), ("telegram", "-alice")])
    async def test_a_malformed_name_is_422_saying_the_rule_in_words(
        self, client: httpx.AsyncClient, field: str, name: str
    ) -> None:
        response = await client.post("/api/register", json={field: name, "password": "password123"})
        assert response.status_code == 422
        assert response.json()["message"] == (
            f"body.{field}: username must be 3-32 characters: letters, digits, '_', '.' or '-' "
            "(not starting with '.' or '-')"
        )

    async def test_missing_name_is_422_naming_the_rule(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/api/register", json={"password": "password123"})
        assert response.status_code == 422
        assert "telegram" in response.json()["message"]

    async def test_password_is_never_echoed(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/register", json={"username": "x", "password": "SecretValue99"}
        )
        assert response.status_code == 422
        assert "SecretValue99" not in response.text

    async def test_signup_creates_inr_wallet_user(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/auth/signup",
            json={"email": "pt@example.com", "username": "ptuser", "password": "SecurePass123"},
        )
        assert response.status_code == 201
        body = response.json()
        assert body["email"] == "pt@example.com" and body["role"] == "user"
        assert "password" not in response.text and "hash" not in response.text

    async def test_signup_requires_email(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/auth/signup", json={"username": "noemail", "password": "SecurePass123"}
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["field"] == "body.email"


class TestLogin:
    async def test_okx_login_shape(self, client: httpx.AsyncClient) -> None:
        name = unique_name("tg")
        await client.post("/api/register", json={"telegram": name, "password": PASSWORD})
        response = await client.post("/api/login", json={"telegram": name, "password": PASSWORD})
        assert response.status_code == 200
        body = response.json()
        assert body["success"] is True and body["telegram"] == name and body["username"] == name
        assert body["balance"] == 0.0 and body["token_type"] == "bearer"
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        assert set(claims) >= {"sub", "role", "exp", "iat", "jti"}
        assert claims["exp"] - claims["iat"] == body["expires_in"]

    async def test_paper_login_by_email(self, client: httpx.AsyncClient) -> None:
        await client.post(
            "/api/auth/signup",
            json={"email": "mail@example.com", "username": "mailer", "password": "SecurePass123"},
        )
        response = await client.post(
            "/api/auth/login", json={"email": "Mail@Example.com", "password": "SecurePass123"}
        )
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "bearer" and body["user"]["username"] == "mailer"
        me = await client.get(
            "/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert me.status_code == 200 and me.json()["email"] == "mail@example.com"

    async def test_wrong_password_is_401(self, client: httpx.AsyncClient) -> None:
        body = await register(client)
        response = await client.post(
            "/api/login", json={"username": body["username"], "password": "wrongpass1"}
        )
        assert response.status_code == 401
        assert response.json()["code"] == "INVALID_CREDENTIALS"

    async def test_unknown_user_looks_like_wrong_password(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/login", json={"username": "nobody_here", "password": "wrongpass1"}
        )
        assert response.status_code == 401
        assert response.json()["message"] == "invalid login or password"


class TestTokens:
    async def test_me_without_token_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/auth/me")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_logout_revokes_at_once(self, client: httpx.AsyncClient) -> None:
        body, headers = await user_with_token(client)
        assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
        response = await client.post("/api/logout", headers=headers)
        assert response.status_code == 200 and response.json()["success"] is True
        after = await client.get("/api/auth/me", headers=headers)
        assert after.status_code == 401
        assert after.json()["message"] == "token revoked"
        # A new login still works.
        assert await login(client, body["username"])

    async def test_paper_logout_route(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        assert (await client.post("/api/auth/logout", headers=headers)).status_code == 200
        assert (await client.get("/api/auth/me", headers=headers)).status_code == 401

    async def test_expired_token_is_401(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        body = await register(client)
        now = int(time.time())
        token = jwt.encode(
            {
                "sub": str(body["id"]),
                "role": "user",
                "iat": now - 7200,
                "exp": now - 3600,
                "jti": "x" * 32,
                "iss": "tradepit",
            },
            app.state.wiring.auth.jwt_secret,
            algorithm="HS256",
        )
        response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.json()["message"] == "token expired"

    async def test_alg_none_token_is_401(self, client: httpx.AsyncClient) -> None:
        body = await register(client)
        now = int(time.time())
        token = jwt.encode(
            {
                "sub": str(body["id"]),
                "role": "superadmin",
                "iat": now,
                "exp": now + 3600,
                "jti": "y" * 32,
                "iss": "tradepit",
            },
            # PyJWT's annotation leaves out None, the only key its "none" algorithm accepts.
            key=None,  # type: ignore[arg-type]
            algorithm="none",
        )
        response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401

    async def test_token_signed_with_another_key_is_401(self, client: httpx.AsyncClient) -> None:
        body = await register(client)
        now = int(time.time())
        token = jwt.encode(
            {
                "sub": str(body["id"]),
                "role": "user",
                "iat": now,
                "exp": now + 3600,
                "jti": "z" * 32,
                "iss": "tradepit",
            },
            "not-the-server-secret-but-long-enough-for-hs256",
            algorithm="HS256",
        )
        response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401

    async def test_garbage_token_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/auth/me", headers={"Authorization": "Bearer abc.def"})
        assert response.status_code == 401


class TestApiKeys:
    async def test_create_use_revoke(self, client: httpx.AsyncClient) -> None:
        body, headers = await user_with_token(client)
        created = await client.post("/api/auth/api-keys", json={"name": "bot"}, headers=headers)
        assert created.status_code == 201
        key = created.json()["key"]
        assert key.startswith("tp_") and created.json()["prefix"] == key[:10]

        me = await client.get("/api/auth/me", headers={"X-API-Key": key})
        assert me.status_code == 200 and me.json()["id"] == body["id"]

        listed = await client.get("/api/auth/api-keys", headers=headers)
        assert [k["name"] for k in listed.json()["api_keys"]] == ["bot"]
        assert key not in listed.text

        key_id = created.json()["id"]
        assert (
            await client.delete(f"/api/auth/api-keys/{key_id}", headers=headers)
        ).status_code == 200
        assert (await client.get("/api/auth/me", headers={"X-API-Key": key})).status_code == 401

    async def test_cannot_revoke_someone_elses_key(self, client: httpx.AsyncClient) -> None:
        _, alice = await user_with_token(client)
        _, bob = await user_with_token(client)
        created = await client.post("/api/auth/api-keys", json={"name": "a"}, headers=alice)
        response = await client.delete(f"/api/auth/api-keys/{created.json()['id']}", headers=bob)
        assert response.status_code == 404

    async def test_logout_with_api_key_is_400(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        key = (await client.post("/api/auth/api-keys", json={"name": "k"}, headers=headers)).json()[
            "key"
        ]
        response = await client.post("/api/logout", headers={"X-API-Key": key})
        assert response.status_code == 400


def test_timestamps_are_utc_with_offset() -> None:
    assert datetime.now(UTC).isoformat().endswith("+00:00")


SCHEMES = {"HTTPBearer", "APIKeyHeader", "APIKeyCookie"}


class TestTheDocumentSaysHowToAuthenticate:
    async def test_every_operation_it_marks_refuses_a_request_without_credentials(
        self, client: httpx.AsyncClient
    ) -> None:
        """The API document declares the bearer token, the API key and the session cookie,
        and every operation that requires them answers 401 without them (the caller is
        checked before the path, the query or the body)."""
        spec = (await client.get("/openapi.json")).json()
        assert set(spec["components"]["securitySchemes"]) == SCHEMES
        marked = [
            (method.upper(), re.sub(r"\{[^}]+\}", "1", path), operation["security"])
            for path, operations in spec["paths"].items()
            for method, operation in operations.items()
            if "security" in operation
        ]
        assert len(marked) > 80
        for method, path, security in marked:
            assert {name for scheme in security for name in scheme} == SCHEMES, path
            refused = await client.request(method, path)
            assert refused.status_code == 401, (method, path, refused.text)
        public = spec["paths"]["/health"]["get"]
        assert "security" not in public
