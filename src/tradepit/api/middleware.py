"""ASGI middleware: request ids, access logs and metrics; security headers; body-size limit;
rate limits."""

from __future__ import annotations

import base64
import contextvars
import hashlib
import logging
import re
import time
import uuid
from collections.abc import Callable, Collection
from typing import Any

import jwt
from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradepit.api.errors import error_response, internal_error
from tradepit.logs import AccessLog
from tradepit.services.auth import signed_claims
from tradepit.services.browser_sessions import SESSION_COOKIE

log = logging.getLogger("tradepit.access")
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


class RequestContext:
    """Give each request an id (``X-Request-ID``), count it in metrics and write its access
    line as JSON (the only one: uvicorn's access logger is off) if ``access`` wants it."""

    def __init__(
        self, app: ASGIApp, registry: CollectorRegistry, access: AccessLog | None = None
    ) -> None:
        self.app = app
        self.access = access or AccessLog()
        self.requests = Counter(
            "tradepit_http_requests",
            "HTTP requests",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "tradepit_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        rid = incoming if _SAFE_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            self.requests.labels(scope["method"], template, str(status)).inc()
            self.latency.labels(scope["method"], template).observe(elapsed)
            if log.isEnabledFor(logging.INFO) and self.access.wants(scope["path"], status):
                # The query string is never logged: it may carry a token.
                fields: dict[str, Any] = {
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "client": (scope.get("client") or ("-",))[0],
                }
                if self.access.mode == "sampled" and status < 400:
                    fields["sample_rate"] = self.access.sample_rate
                log.info("request", extra=fields)
            request_id.reset(token)


#: What every answer says: never sniff a type, never framed; answers are JSON, so the API's
#: policy lets a browser that opens one load nothing and frame it nowhere.
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
#: What the docs pages load, all from this server (``fastapi-offline``'s copies of Swagger UI
#: and ReDoc): the bundles, Swagger UI's stylesheet, the favicon, Swagger UI's SVG icons
#: (``data:``), the schema and "Try it out" (``connect-src``), ReDoc's search worker
#: (``blob:``). Inline styles: both UIs set them. Inline scripts: only the page's own, by hash
#: (``docs_policy``). Nothing from another host.
DOCS_SOURCES = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "font-src": "'self' data:",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "worker-src": "blob:",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
#: The console's page (``/`` to a browser): its modules, stylesheet and chart library from
#: here, requests and its socket to this server only; no inline script or style at all.
CONSOLE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL | re.IGNORECASE)
#: Headers that carry a credential: an answer to such a request is never stored by a cache.
CREDENTIAL_HEADERS = (b"authorization", b"x-api-key", b"cookie")
_EVERY_ANSWER = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
_NO_STORE = (b"cache-control", b"no-store")
_CSP = b"content-security-policy"


def docs_policy(page: bytes) -> str:
    """Return the Content-Security-Policy of a docs page: ``DOCS_SOURCES``, and its own inline
    scripts allowed by their SHA-256 (nothing else inline runs)."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(page)
    ]
    sources = dict(DOCS_SOURCES)
    sources["script-src"] = " ".join([sources["script-src"], *hashes])
    return "; ".join(f"{name} {value}" for name, value in sources.items())


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)


class SecurityHeaders:
    """Add the security headers to every HTTP answer, errors included.

    ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, ``Referrer-Policy:
    no-referrer``, a Content-Security-Policy (``API_POLICY``; the docs pages: ``docs_policy``;
    an HTML answer of ``console_paths``: ``CONSOLE_POLICY``),
    and ``Cache-Control: no-store`` on the answers to a request that carried a credential
    (bearer token, API key, cookie) and on those of ``private_paths`` (they hand out tokens).
    An exception no handler turned into an answer gets its 500 here (Starlette's outermost
    error middleware would send it past this one), then goes on up to be logged.
    """

    def __init__(
        self,
        app: ASGIApp,
        docs_paths: Collection[str] = frozenset(),
        private_paths: Collection[str] = frozenset(),
        console_paths: Collection[str] = frozenset(),
    ) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)
        self.private_paths = frozenset(private_paths)
        self.console_paths = frozenset(console_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        private = path in self.private_paths or any(
            name in CREDENTIAL_HEADERS for name, _ in scope["headers"]
        )
        docs = path in self.docs_paths
        console = path in self.console_paths
        added = [*_EVERY_ANSWER, _NO_STORE] if private else _EVERY_ANSWER
        replaced = {name for name, _ in added} | {_CSP}
        answered = False
        start: Message | None = None  # a docs page's, held until its body is known
        page: list[bytes] = []

        async def secured(message: Message) -> None:
            nonlocal answered, start
            if message["type"] == "http.response.start":
                answered = True
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in replaced]
                message = {**message, "headers": [*kept, *added]}
                if docs:
                    start = message
                    return
                html = console and _is_html(message["headers"])
                policy = CONSOLE_POLICY if html else API_POLICY
                message["headers"].append((_CSP, policy.encode()))
            elif start is not None and message["type"] == "http.response.body":
                page.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(page)
                start["headers"].append((_CSP, docs_policy(body).encode()))
                await send(start)
                start = None
                message = {"type": "http.response.body", "body": body}
            await send(message)

        try:
            await self.app(scope, receive, secured)
        except Exception:
            if not answered:
                await internal_error(path)(scope, receive, secured)
            raise


class BodyLimit:
    """Answer 413 to a request body larger than ``max_bytes`` before the app reads it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in {"GET", "HEAD", "OPTIONS"}:
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            scope["path"],
            413,
            "PAYLOAD_TOO_LARGE",
            f"request body is larger than {self.max_bytes} bytes",
        )
        await response(scope, receive, send)


AUTH_PATHS = frozenset(
    {
        "/api/login",
        "/api/register",
        "/api/auth/login",
        "/api/auth/signup",
        "/kite/connect/login",
        "/session/token",
    }
)
EXEMPT_PATHS = frozenset({"/health", "/api/health", "/metrics", "/docs", "/redoc", "/openapi.json"})


def caller_identity(jwt_secret: str) -> Callable[[Headers], str | None]:
    """Return a function naming the authenticated caller of a request, for per-user limits.

    Only a correctly signed token names a user, so nobody can spend another user's budget.
    The credential that authenticates the request names it: a header, else the session cookie.
    """

    def user_of(token: str) -> str | None:
        try:  # the signature check is cached per token, shared with authentication
            claims = signed_claims(jwt_secret, token)
        except jwt.PyJWTError:
            return None
        return f"user:{claims.get('sub')}"

    def identify(headers: Headers) -> str | None:
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            return user_of(authorization[7:])
        api_key = headers.get("x-api-key")
        if api_key:
            return "key:" + hashlib.sha256(api_key.encode()).hexdigest()[:24]
        cookie = cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE)
        return user_of(cookie) if cookie else None

    return identify


class RateLimit:
    """Limit requests per client address and per authenticated user; 429 with Retry-After."""

    def __init__(
        self,
        app: ASGIApp,
        storage: Storage,
        general: str,
        auth: str,
        identify: Callable[[Headers], str | None],
    ) -> None:
        self.app = app
        self.limiter = SlidingWindowCounterRateLimiter(storage)
        self.general = parse_many(general)
        self.auth = parse_many(auth)
        self.identify = identify

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        ip = (scope.get("client") or ("unknown",))[0]
        keys: list[tuple[list[RateLimitItem], str]] = [(self.general, f"ip:{ip}")]
        if scope["path"] in AUTH_PATHS:
            keys.append((self.auth, f"auth-ip:{ip}"))
        who = self.identify(Headers(scope=scope))
        if who is not None:
            keys.append((self.general, who))
        for items, key in keys:
            for item in items:
                if not await self.limiter.hit(item, key):
                    await self._refuse(scope, receive, send, item, key)
                    return
        await self.app(scope, receive, send)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, item: RateLimitItem, key: str
    ) -> None:
        stats: Any = await self.limiter.get_window_stats(item, key)
        retry_after = max(1, int(stats.reset_time - time.time()) + 1)
        response = error_response(
            scope["path"],
            429,
            "RATE_LIMITED",
            f"rate limit of {item} exceeded; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )
        await response(scope, receive, send)
