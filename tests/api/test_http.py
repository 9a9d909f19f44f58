"""Cross-cutting HTTP behaviour: error shapes, body limit, rate limits, CORS, security headers,
request ids, metrics, health and status, and the API docs."""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import pkgutil
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIRouter
from limits.aio.storage import RedisStorage
from limits.aio.storage.redis.redispy import RedispyBridge
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url

import tradepit.api
from tests.conftest import REDIS_URL, client_for, make_settings, skip_or_fail
from tests.factories import PASSWORD, unique_name, user_with_token
from tradepit import __version__
from tradepit.api.middleware import API_POLICY, RateLimit
from tradepit.app import create_app

OTHER_IP = "198.51.100.9"
THIRD_IP = "192.0.2.44"
ALLOWED_ORIGIN = "http://localhost:3000"
FOREIGN_ORIGIN = "https://evil.example"
LOOPBACK = "127.0.0.1"
METRICS_TOKEN = "scrape-" + "k" * 32
REDIS = REDIS_URL or "redis://127.0.0.1:6379/0"


async def _close_rate_limit_redis(app: FastAPI) -> None:
    """Close the Redis client of the app's rate limiter, if it has one and it was used."""
    layer: object | None = app.middleware_stack
    while layer is not None and not isinstance(layer, RateLimit):
        layer = getattr(layer, "app", None)
    if isinstance(layer, RateLimit) and isinstance(layer.limiter.storage, RedisStorage):
        bridge = layer.limiter.storage.bridge
        assert isinstance(bridge, RedispyBridge)  # tradepit.app asks for implementation="redispy"
        await bridge.storage.aclose()


@asynccontextmanager
async def app_with(tmp_path: Path, db: str, **overrides: object) -> AsyncIterator[FastAPI]:
    """Yield an app on the test database with settings ``overrides``."""
    application = create_app(make_settings(tmp_path / "data", db, **overrides))
    try:
        yield application
    finally:
        await _close_rate_limit_redis(application)
        await application.state.wiring.engine.dispose()


@dataclass(frozen=True)
class RedisServer:
    """A reachable Redis, a key prefix no other test uses, and a client to inspect it."""

    url: str
    prefix: str
    client: Redis

    async def keys(self) -> list[bytes]:
        """Return the keys written under this test's prefix."""
        return [key async for key in self.client.scan_iter(match=f"{self.prefix}*")]


@pytest.fixture
async def redis_server() -> AsyncIterator[RedisServer]:
    """Yield the test Redis with a fresh prefix; delete that prefix's keys afterwards."""
    client = Redis.from_url(REDIS, socket_connect_timeout=1, socket_timeout=2)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        skip_or_fail(f"Redis at {REDIS} is unreachable: {exc}")
    server = RedisServer(url=REDIS, prefix=f"tp-test-{uuid4().hex}", client=client)
    try:
        yield server
    finally:
        keys = await server.keys()
        if keys:
            await client.delete(*keys)
        await client.aclose()


def _padded_registration(name: str, size: int) -> bytes:
    """Return a valid registration body padded with JSON whitespace to ``size`` bytes."""
    body = json.dumps({"username": name, "password": PASSWORD}).encode()
    assert len(body) < size
    return body + b" " * (size - len(body))


def _routes_of_every_api_module() -> Iterator[tuple[str, str]]:
    """Yield (method, path) of every route declared by a router in ``tradepit.api``."""
    for info in pkgutil.iter_modules(tradepit.api.__path__):
        router = getattr(importlib.import_module(f"tradepit.api.{info.name}"), "router", None)
        if not isinstance(router, APIRouter):
            continue
        for route in router.routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                assert route.methods is not None  # APIRoute always sets them (GET by default)
                for method in route.methods:
                    yield method, route.path_format


async def _in_chunks(payload: bytes, size: int = 500) -> AsyncIterator[bytes]:
    for start in range(0, len(payload), size):
        yield payload[start : start + size]


JSON = {"Content-Type": "application/json"}


class TestErrorShapes:
    async def test_unknown_route_is_404_in_the_default_shape(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/no-such-route")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert set(body) == {"success", "message", "detail", "code", "error"}
        assert body["success"] is False and body["code"] == "NOT_FOUND"
        assert body["message"] and body["detail"]
        assert body["error"] == body["message"]  # what mt5-copier's page shows

    async def test_unknown_route_under_smd_prefix_uses_its_envelope(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/health/no-such-route")
        assert response.status_code == 404
        body = response.json()
        assert body["success"] is False and body["error"]["code"] == "NOT_FOUND"
        assert datetime.fromisoformat(body["timestamp"]).utcoffset() is not None

    async def test_wrong_method_is_405_naming_the_allowed_one(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/register")
        assert response.status_code == 405
        body = response.json()
        assert body["success"] is False and body["code"] == "METHOD_NOT_ALLOWED"
        assert "POST" in response.headers["allow"]

    async def test_malformed_json_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/register", content=b'{"username": "alice", "password":', headers=JSON
        )
        assert response.status_code == 422
        body = response.json()
        assert body["success"] is False and body["code"] == "VALIDATION_ERROR"
        assert body["message"]


class TestBodyLimit:
    async def test_body_over_the_limit_is_413_and_registers_nobody(
        self, tmp_path: Path, db: str
    ) -> None:
        name = unique_name()
        async with app_with(tmp_path, db, max_body_bytes=2048) as app, client_for(app) as http:
            response = await http.post(
                "/api/register", content=_padded_registration(name, 4000), headers=JSON
            )
            assert response.status_code == 413
            body = response.json()
            assert body["code"] == "PAYLOAD_TOO_LARGE" and "2048" in body["message"]
            login = await http.post("/api/login", json={"username": name, "password": PASSWORD})
            assert login.status_code == 401

    async def test_streamed_body_over_the_limit_is_413_and_registers_nobody(
        self, tmp_path: Path, db: str
    ) -> None:
        name = unique_name()
        async with app_with(tmp_path, db, max_body_bytes=2048) as app, client_for(app) as http:
            response = await http.post(
                "/api/register",
                content=_in_chunks(_padded_registration(name, 4000)),
                headers=JSON,
            )
            assert "content-length" not in response.request.headers
            assert response.request.headers["transfer-encoding"] == "chunked"
            assert response.status_code == 413
            assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
            login = await http.post("/api/login", json={"username": name, "password": PASSWORD})
            assert login.status_code == 401

    async def test_streamed_body_under_the_limit_is_served(self, tmp_path: Path, db: str) -> None:
        name = unique_name()
        async with app_with(tmp_path, db, max_body_bytes=2048) as app, client_for(app) as http:
            response = await http.post(
                "/api/register",
                content=_in_chunks(_padded_registration(name, 2000)),
                headers=JSON,
            )
            assert response.status_code == 201
            assert response.json()["username"] == name


class TestRateLimits:
    async def test_sixth_request_in_a_minute_is_429_with_retry_after(
        self, tmp_path: Path, db: str
    ) -> None:
        async with app_with(tmp_path, db, rate_limit="5/minute") as app, client_for(app) as http:
            for _ in range(5):
                assert (await http.get("/")).status_code == 200
            response = await http.get("/")
            assert response.status_code == 429
            body = response.json()
            assert body["success"] is False and body["code"] == "RATE_LIMITED"
            assert 1 <= int(response.headers["retry-after"]) <= 61

    async def test_another_address_is_not_limited(self, tmp_path: Path, db: str) -> None:
        async with app_with(tmp_path, db, rate_limit="5/minute") as app, client_for(app) as http:
            for _ in range(6):
                await http.get("/")
            async with client_for(app, OTHER_IP) as other:
                assert (await other.get("/")).status_code == 200

    async def test_one_user_from_two_addresses_shares_a_budget(
        self, tmp_path: Path, db: str
    ) -> None:
        async with app_with(tmp_path, db, rate_limit="5/minute") as app:
            async with client_for(app, "192.0.2.200") as signup:
                _, headers = await user_with_token(signup)
            async with client_for(app) as first, client_for(app, OTHER_IP) as second:
                for _ in range(3):
                    assert (await first.get("/api/auth/me", headers=headers)).status_code == 200
                for _ in range(2):
                    assert (await second.get("/api/auth/me", headers=headers)).status_code == 200
            async with client_for(app, THIRD_IP) as third:
                refused = await third.get("/api/auth/me", headers=headers)
                assert refused.status_code == 429
                assert refused.json()["code"] == "RATE_LIMITED"
                assert (await third.get("/")).status_code == 200

    async def test_auth_routes_have_their_own_stricter_limit(self, tmp_path: Path, db: str) -> None:
        async with (
            app_with(tmp_path, db, rate_limit="100/minute", auth_rate_limit="2/minute") as app,
            client_for(app) as http,
        ):
            wrong = {"username": "nobody_here", "password": "wrongpass1"}
            for _ in range(2):
                assert (await http.post("/api/login", json=wrong)).status_code == 401
            response = await http.post("/api/login", json=wrong)
            assert response.status_code == 429
            assert response.json()["code"] == "RATE_LIMITED"
            assert "retry-after" in response.headers
            assert (await http.get("/")).status_code == 200

    @pytest.mark.parametrize("path", ["/health", "/api/health"])
    async def test_health_is_exempt(self, tmp_path: Path, db: str, path: str) -> None:
        async with app_with(tmp_path, db, rate_limit="2/minute") as app, client_for(app) as http:
            for _ in range(5):
                assert (await http.get(path)).status_code == 200

    @pytest.mark.redis
    async def test_redis_shares_the_budget_across_workers(
        self, tmp_path: Path, db: str, redis_server: RedisServer
    ) -> None:
        shared = {
            "rate_limit": "3/minute",
            "redis_url": redis_server.url,
            "redis_prefix": redis_server.prefix,
        }
        async with (
            app_with(tmp_path / "a", db, **shared) as worker_a,
            app_with(tmp_path / "b", db, **shared) as worker_b,
            client_for(worker_a) as via_a,
            client_for(worker_b) as via_b,
        ):
            assert (await via_a.get("/")).status_code == 200
            assert (await via_a.get("/")).status_code == 200
            assert (await via_b.get("/")).status_code == 200
            fourth = await via_b.get("/")
            assert fourth.status_code == 429
            assert fourth.json()["code"] == "RATE_LIMITED"
            assert await redis_server.keys()


class TestCors:
    async def test_allowed_origin_preflight_allows_credentials(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.options(
            "/api/login",
            headers={
                "Origin": ALLOWED_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "Content-Type, Authorization",
            },
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert response.headers["access-control-allow-credentials"] == "true"
        assert "POST" in response.headers["access-control-allow-methods"]

    async def test_foreign_origin_preflight_gets_no_allow_origin(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.options(
            "/api/login",
            headers={"Origin": FOREIGN_ORIGIN, "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in response.headers
        assert response.status_code >= 400

    async def test_foreign_origin_request_gets_no_allow_origin(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/", headers={"Origin": FOREIGN_ORIGIN})
        assert response.status_code == 200
        assert "access-control-allow-origin" not in response.headers

    async def test_wildcard_origins_never_allow_credentials(self, tmp_path: Path, db: str) -> None:
        async with app_with(tmp_path, db, cors_origins=["*"]) as app, client_for(app) as http:
            response = await http.options(
                "/api/login",
                headers={"Origin": FOREIGN_ORIGIN, "Access-Control-Request-Method": "POST"},
            )
            assert response.status_code == 200
            assert response.headers["access-control-allow-origin"] == "*"
            assert response.headers.get("access-control-allow-credentials") != "true"
            simple = await http.get("/", headers={"Origin": FOREIGN_ORIGIN})
            assert simple.headers.get("access-control-allow-credentials") != "true"


class TestRequestId:
    async def test_safe_id_is_echoed(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/", headers={"X-Request-ID": "trace-42.A_b"})
        assert response.headers["x-request-id"] == "trace-42.A_b"

    async def test_missing_id_is_generated(self, client: httpx.AsyncClient) -> None:
        first = await client.get("/")
        second = await client.get("/")
        assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])
        assert first.headers["x-request-id"] != second.headers["x-request-id"]

    @pytest.mark.parametrize("unsafe", ["has space", "a" * 65, "<script>", "id;drop"])
    async def test_unsafe_id_is_replaced(self, client: httpx.AsyncClient, unsafe: str) -> None:
        response = await client.get("/", headers={"X-Request-ID": unsafe})
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])

    async def test_error_answers_carry_the_id_too(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/no-such-route", headers={"X-Request-ID": "err-1"})
        assert response.status_code == 404
        assert response.headers["x-request-id"] == "err-1"


def assert_secured(response: httpx.Response, policy: str | None = API_POLICY) -> None:
    """Check the security headers every answer carries, each once."""
    headers = response.headers
    assert headers.get_list("x-content-type-options") == ["nosniff"]
    assert headers.get_list("x-frame-options") == ["DENY"]
    assert headers.get_list("referrer-policy") == ["no-referrer"]
    assert len(headers.get_list("content-security-policy")) == 1
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    if policy is not None:
        assert headers["content-security-policy"] == policy


def csp(response: httpx.Response) -> dict[str, list[str]]:
    """Return the answer's Content-Security-Policy, directive by directive."""
    directives = [d.split() for d in response.headers["content-security-policy"].split(";")]
    return {name: sources for name, *sources in directives}


def _attributes(tag: str) -> dict[str, str]:
    return dict(re.findall(r'([a-z-]+)="([^"]*)"', tag))


def loaded_by(page: str) -> list[tuple[str, str]]:
    """Return what an HTML page loads from elsewhere: (CSP directive, URL)."""
    loads = []
    for kind, tag in re.findall(r"<(script|link)\b([^>]*)>", page):
        attributes = _attributes(tag)
        if kind == "script" and "src" in attributes:
            loads.append(("script-src", attributes["src"]))
        elif kind == "link" and attributes.get("rel") == "stylesheet":
            loads.append(("style-src", attributes["href"]))
        elif kind == "link" and "icon" in attributes.get("rel", ""):
            loads.append(("img-src", attributes["href"]))
    return loads


class TestSecurityHeaders:
    async def test_every_answer_carries_them(self, client: httpx.AsyncClient) -> None:
        preflight = {"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"}
        answers = [
            await client.get("/"),
            await client.get("/health"),
            await client.get("/openapi.json"),
            await client.get("/api/no-such-route"),  # 404
            await client.get("/api/health/no-such-route"),  # 404, smd-options envelope
            await client.get("/api/register"),  # 405
            await client.post("/api/register", content=b"{", headers=JSON),  # 422
            await client.get("/api/auth/me"),  # 401
            await client.get("/metrics"),  # 403
            await client.options("/api/login", headers=preflight),  # CORS preflight
        ]
        assert [a.status_code for a in answers] == [200, 200, 200, 404, 404, 405, 422, 401, 403,
                                                    200]  # fmt: skip
        for answer in answers:
            assert_secured(answer)

    async def test_the_middlewares_refusals_carry_them(self, tmp_path: Path, db: str) -> None:
        async with (
            app_with(tmp_path, db, rate_limit="1/minute", max_body_bytes=2048) as app,
            client_for(app) as http,
        ):
            too_big = await http.post(
                "/api/register", content=_padded_registration("big", 4000), headers=JSON
            )
            assert too_big.status_code == 413
            assert_secured(too_big)
            assert (await http.get("/")).status_code == 200
            limited = await http.get("/")
            assert limited.status_code == 429
            assert_secured(limited)

    async def test_an_unexpected_error_is_a_500_that_carries_them(self, app: FastAPI) -> None:
        async def boom() -> None:
            raise RuntimeError("a bug with a secret in it")

        app.add_api_route("/api/boom", boom)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(LOOPBACK, 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.get("/api/boom", headers={"X-Request-ID": "boom-1"})
        assert response.status_code == 500
        body = response.json()
        assert body["code"] == "INTERNAL_ERROR" and body["message"] == "internal error"
        assert "secret" not in response.text
        assert response.headers["x-request-id"] == "boom-1"
        assert_secured(response)

    async def test_authenticated_answers_are_never_stored(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        mine = await client.get("/api/auth/me", headers=headers)
        assert mine.status_code == 200
        assert mine.headers.get_list("cache-control") == ["no-store"]
        refused = await client.get("/api/auth/me", headers={"X-API-Key": "tp_not-a-key"})
        assert refused.status_code == 401
        assert refused.headers.get_list("cache-control") == ["no-store"]
        assert_secured(refused)
        client.cookies.clear()  # the login's session cookie is a credential too
        anonymous = await client.get("/")
        assert "no-store" not in anonymous.headers.get("cache-control", "")

    async def test_answers_that_hand_out_a_token_are_never_stored(
        self, client: httpx.AsyncClient
    ) -> None:
        user, _ = await user_with_token(client)
        credentials = {"username": user["username"], "password": PASSWORD}
        for path in ("/api/login", "/api/auth/login"):
            response = await client.post(path, json=credentials)
            assert response.status_code == 200 and response.json()["access_token"]
            assert response.headers.get_list("cache-control") == ["no-store"]

    @pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
    async def test_docs_pages_may_load_what_they_load_and_run_only_their_own_scripts(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        response = await client.get(path)
        assert response.status_code == 200
        assert_secured(response, policy=None)
        policy = csp(response)
        assert policy["default-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert "'self'" in policy["connect-src"]  # the schema, "Try it out"
        for directive, url in loaded_by(response.text):
            assert url.startswith("/"), f"{url} is not served by Tradepit"
            assert "'self'" in policy[directive], f"{url} is blocked by {directive}"
        inline = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
        hashes = {
            "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
            for s in inline
        }
        scripts = policy["script-src"]
        assert hashes <= set(scripts)
        assert len(hashes) == len(inline) == (0 if path == "/redoc" else 1)
        assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts
        if path == "/redoc":  # its bundle starts a search worker
            assert "blob:" in policy["worker-src"]
        assert not [v for values in policy.values() for v in values if "://" in v]

    async def test_the_api_policy_forbids_everything(self, client: httpx.AsyncClient) -> None:
        assert csp(await client.get("/")) == {"default-src": ["'none'"],
                                              "frame-ancestors": ["'none'"]}  # fmt: skip


class TestMetrics:
    async def test_requests_are_counted_by_route_template(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        await client.get("/api/auth/me")
        async with client_for(app, LOOPBACK) as local:
            response = await local.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert (
            'tradepit_http_requests_total{method="GET",route="/api/auth/me",status="401"} 1.0'
            in response.text
        )
        assert 'tradepit_http_request_seconds_count{method="GET",route="/api/auth/me"} 1.0' in (
            response.text
        )

    async def test_path_parameters_are_not_labels(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        await client.delete("/api/auth/api-keys/7")
        async with client_for(app, LOOPBACK) as local:
            text = (await local.get("/metrics")).text
        assert 'route="/api/auth/api-keys/{key_id}"' in text
        assert "/api/auth/api-keys/7" not in text

    @pytest.mark.parametrize("ip", ["127.0.0.1", "::1"])
    async def test_loopback_clients_get_them(self, app: FastAPI, ip: str) -> None:
        async with client_for(app, ip) as local:
            response = await local.get("/metrics")
        assert response.status_code == 200
        assert "tradepit_http_requests" in response.text

    async def test_other_clients_get_403_in_the_error_shape(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/metrics")
        assert response.status_code == 403
        body = response.json()
        assert body["success"] is False and body["code"] == "FORBIDDEN"
        assert "TRADEPIT_METRICS_TOKEN" in body["message"]
        assert "tradepit_http_requests" not in response.text
        # No token is set: no bearer opens them.
        for bearer in ("", "anything", METRICS_TOKEN):
            guess = await client.get("/metrics", headers={"Authorization": f"Bearer {bearer}"})
            assert guess.status_code == 403

    async def test_a_client_behind_a_local_proxy_is_not_loopback(self, app: FastAPI) -> None:
        async with client_for(app, LOOPBACK) as proxy:
            response = await proxy.get("/metrics", headers={"X-Forwarded-For": OTHER_IP})
        assert response.status_code == 403

    async def test_the_operators_token_opens_them_from_anywhere(
        self, tmp_path: Path, db: str
    ) -> None:
        async with app_with(tmp_path, db, metrics_token=METRICS_TOKEN) as app:
            async with client_for(app) as remote:
                scraped = await remote.get(
                    "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
                )
                assert scraped.status_code == 200
                assert "tradepit_http_requests" in scraped.text
                assert scraped.headers.get_list("cache-control") == ["no-store"]
                for wrong in (
                    f"Bearer {METRICS_TOKEN}x",
                    f"Bearer {METRICS_TOKEN[:-1]}",
                    f"Basic {METRICS_TOKEN}",
                    METRICS_TOKEN,
                ):
                    refused = await remote.get("/metrics", headers={"Authorization": wrong})
                    assert refused.status_code == 403, wrong
                assert (await remote.get("/metrics")).status_code == 403
            async with client_for(app, LOOPBACK) as local:
                assert (await local.get("/metrics")).status_code == 200

    def test_a_short_token_is_refused_at_start(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="metrics_token"):
            make_settings(tmp_path, "sqlite+aiosqlite://", metrics_token="short")
        unset = make_settings(tmp_path, "sqlite+aiosqlite://", metrics_token="")
        assert unset.metrics_token is None


class TestHealth:
    @pytest.mark.parametrize("path", ["/health", "/api/health"])
    async def test_health_answers_the_smd_envelope(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        response = await client.get(path)
        assert response.status_code == 200
        body = response.json()
        assert body["success"] is True and body["message"]
        assert datetime.fromisoformat(body["timestamp"]).utcoffset() is not None
        data = body["data"]
        assert data["status"] == "healthy" and data["version"] == __version__
        assert isinstance(data["uptime_seconds"], int | float) and data["uptime_seconds"] >= 0
        assert data["role"] == "all" and isinstance(data["leading"], bool)

    async def test_status_reports_database_redis_and_clock(
        self, client: httpx.AsyncClient, db: str
    ) -> None:
        response = await client.get("/api/status")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok" and body["version"] == __version__
        assert body["database"] == {"ok": True, "backend": make_url(db).get_backend_name()}
        assert body["redis"] == "not_configured"
        assert body["role"] == "all" and isinstance(body["leading"], bool)
        assert body["clock"]["speed"] == 1.0
        assert datetime.fromisoformat(body["clock"]["now"]).utcoffset() is not None

    async def test_status_shows_a_fast_clock(self, tmp_path: Path, db: str) -> None:
        async with app_with(tmp_path, db, clock_speed=60) as app, client_for(app) as http:
            body = (await http.get("/api/status")).json()
        assert body["clock"]["speed"] == 60
        assert datetime.fromisoformat(body["clock"]["now"]).utcoffset() is not None

    @pytest.mark.redis
    async def test_status_reports_a_reachable_redis(
        self, tmp_path: Path, db: str, redis_server: RedisServer
    ) -> None:
        async with (
            app_with(
                tmp_path, db, redis_url=redis_server.url, redis_prefix=redis_server.prefix
            ) as app,
            client_for(app) as http,
        ):
            body = (await http.get("/api/status")).json()
        assert body["redis"] == "ok" and body["status"] == "ok"

    async def test_root_names_the_api_and_its_docs(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/")
        assert response.status_code == 200
        body = response.json()
        assert body["name"] == "Tradepit" and body["version"] == __version__
        assert body["docs"] == "/docs"


class TestDocs:
    @pytest.mark.parametrize("path", ["/docs", "/redoc"])
    async def test_docs_pages_are_served(self, client: httpx.AsyncClient, path: str) -> None:
        response = await client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")

    @pytest.mark.parametrize("path", ["/docs", "/redoc"])
    async def test_docs_pages_load_everything_from_tradepit(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        page = (await client.get(path)).text
        assert not re.findall(r"""(?:src|href|url)\s*[=:(]\s*['"]?(?:https?:)?//""", page)
        assets = [url for _, url in loaded_by(page)]
        kinds = {url.rsplit(".", 1)[-1] for url in assets}
        assert kinds == ({"js", "css", "png"} if path == "/docs" else {"js", "png"})
        for url in [*assets, "/openapi.json"]:
            answer = await client.get(url)
            assert answer.status_code == 200, url
            assert len(answer.content) > 1000, url

    async def test_openapi_lists_every_route_with_a_summary(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/openapi.json")
        assert response.status_code == 200
        paths = response.json()["paths"]
        routes = list(_routes_of_every_api_module())
        assert len(routes) > 10
        for method, path in routes:
            assert path in paths, f"{path} is missing from the schema"
            operation = paths[path].get(method.lower())
            assert operation is not None, f"{method} {path} is missing from the schema"
            assert operation.get("summary"), f"{method} {path} has no summary"
