"""Kite Connect apps, the login that hands a request token to the app, and the sessions.

An access token is a Tradepit login token (a JWT with ``sub``, ``jti`` and ``exp``) that also
names the app it was issued to (``kite_app``): revocation, expiry and deactivated users work
as for every other login, and a token only works with its own app's api_key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tradepit.domain.clock import Clock
from tradepit.domain.errors import InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from tradepit.domain.kite import checksum, kite_time
from tradepit.schemas.kite import KiteAppCreate, KiteAppCreated, KiteAppRead
from tradepit.services import auth
from tradepit.services.auth import AuthPolicy
from tradepit.services.callers import Caller
from tradepit.services.identities import Identities, Identity
from tradepit.store import audit
from tradepit.store import kite as store
from tradepit.store.crypto import SealBroken, Sealer
from tradepit.store.db import commit
from tradepit.store.kite import KiteApp, KiteRequestToken
from tradepit.store.users import User

#: How long a request token may wait to be exchanged.
REQUEST_TOKEN_TTL = timedelta(minutes=5)
#: The claim of an access token that names its app.
APP_CLAIM = "kite_app"
LOGIN_PATH = "/kite/connect/login"
#: What a session says the account may do (Kite's profile fields).
EXCHANGES = ["NSE", "BSE", "NFO", "BFO"]
PRODUCTS = ["CNC", "NRML", "MIS"]
ORDER_TYPES = ["MARKET", "LIMIT", "SL", "SL-M"]
BROKER = "TRADEPIT"


class UnknownApp(NotFound):
    """No live app of the caller has this id."""

    code = "KITE_APP_NOT_FOUND"


class UnknownApiKey(InvalidInput):
    """No live app has this api_key."""

    code = "KITE_API_KEY_INVALID"


class AppOfAnotherUser(PermissionDenied):
    """A login through an app by someone who does not own it."""

    code = "KITE_APP_OF_ANOTHER_USER"


class InvalidSession(NotAuthenticated):
    """A request token, checksum, api_key or access token that proves nothing."""

    code = "KITE_TOKEN_INVALID"


def _owner(api_key: str) -> str:
    return f"kite_app:{api_key}"


def _read(app: KiteApp) -> KiteAppRead:
    return KiteAppRead(
        id=app.id,
        name=app.name,
        api_key=app.api_key,
        redirect_url=app.redirect_url,
        postback_url=app.postback_url,
        login_url=f"{LOGIN_PATH}?api_key={app.api_key}&v=3",
        created_at=app.created_at,
    )


async def create(
    session: AsyncSession, sealer: Sealer, wall: Clock, caller: Caller, body: KiteAppCreate
) -> KiteAppCreated:
    """Create an app; return it with its secret, which is never shown again."""
    api_key = secrets.token_hex(16)
    api_secret = secrets.token_hex(16)
    app = KiteApp(
        user_id=caller.user.id,
        name=body.name,
        api_key=api_key,
        secret_sealed=sealer.seal(_owner(api_key), api_secret),
        redirect_url=body.redirect_url,
        postback_url=body.postback_url,
        created_at=wall.now(),
    )
    session.add(app)
    await session.flush()
    audit.record(
        session,
        wall,
        action="kite_app.create",
        actor_id=caller.user.id,
        actor=caller.user.username,
        target=f"kite_app:{app.id}",
        ip=caller.ip,
        details={"name": body.name},
    )
    return KiteAppCreated(**_read(app).model_dump(), api_secret=api_secret)


async def list_apps(session: AsyncSession, caller: Caller) -> list[KiteAppRead]:
    """Return the caller's apps (never their secrets)."""
    return [_read(app) for app in await store.apps_of(session, caller.user.id)]


async def delete(session: AsyncSession, wall: Clock, caller: Caller, app_id: int) -> None:
    """Delete one of the caller's apps: its key, its request tokens and its access tokens stop
    working at once. Another user's app is not found."""
    app = await session.get(KiteApp, app_id)
    if app is None or app.user_id != caller.user.id or app.deleted_at is not None:
        raise UnknownApp(f"Kite app {app_id} not found")
    app.deleted_at = wall.now()
    audit.record(
        session,
        wall,
        action="kite_app.delete",
        actor_id=caller.user.id,
        actor=caller.user.username,
        target=f"kite_app:{app.id}",
        ip=caller.ip,
    )


async def app_for_login(session: AsyncSession, api_key: str) -> KiteApp:
    """Return the live app a login page names; an unknown key is refused."""
    app = await store.app_by_key(session, api_key)
    if app is None:
        raise UnknownApiKey("Invalid `api_key`: no app has this key")
    return app


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def redirect_with(url: str, request_token: str) -> str:
    """Return the app's redirect URL with Kite's login result added to its query."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [("action", "login"), ("type", "login"), ("status", "success")]
    query.append(("request_token", request_token))
    return urlunsplit(parts._replace(query=urlencode(query)))


async def login(
    session: AsyncSession,
    identities: Identities,
    policy: AuthPolicy,
    wall: Clock,
    *,
    api_key: str,
    login: str,
    password: str,
    ip: str,
) -> str:
    """Check Tradepit credentials (counted and throttled as every login is) and return the
    app's redirect URL carrying a new request token."""
    app = await app_for_login(session, api_key)
    done = await auth.login(
        session, identities, policy, wall, login=login, password=password, ip=ip
    )
    if done.user.id != app.user_id:
        # Whoever holds the app's secret would trade this account: an app opens only its
        # owner's account (Kite's personal apps are held to their developer's client too).
        raise AppOfAnotherUser(
            "This app belongs to another Tradepit user: log in with its owner's account, "
            "or create your own app (POST /api/kite/apps)."
        )
    token = secrets.token_urlsafe(24)
    session.add(
        KiteRequestToken(
            token_hash=_hash(token),
            app_id=app.id,
            user_id=done.user.id,
            expires_at=wall.now() + REQUEST_TOKEN_TTL,
        )
    )
    return redirect_with(app.redirect_url, token)


def profile_of(user: User | Identity) -> dict[str, Any]:
    """Return Kite's profile fields of a user."""
    return {
        "user_id": user.username,
        "user_name": user.username,
        "user_shortname": user.username,
        "email": user.email,
        "user_type": "individual",
        "broker": BROKER,
        "exchanges": EXCHANGES,
        "products": PRODUCTS,
        "order_types": ORDER_TYPES,
        "avatar_url": None,
        "meta": {"demat_consent": "physical"},
    }


async def open_session(
    session: AsyncSession,
    sealer: Sealer,
    policy: AuthPolicy,
    wall: Clock,
    *,
    api_key: str,
    request_token: str,
    given_checksum: str,
) -> dict[str, Any]:
    """Exchange a request token (once, before it expires) for an access token, given the
    checksum only the app's secret can make; return Kite's session fields."""
    now = wall.now()
    app = await store.app_by_key(session, api_key)
    row = await store.request_token(session, _hash(request_token))
    if (
        app is None
        or row is None
        or row.app_id != app.id
        or row.used_at is not None
        or row.expires_at <= now
    ):
        raise InvalidSession("Token is invalid or has expired.")
    try:
        secret = sealer.open(_owner(app.api_key), app.secret_sealed)
    except SealBroken as exc:
        raise InvalidSession("Token is invalid or has expired.") from exc
    expected = checksum(api_key, request_token, secret)
    if not hmac.compare_digest(expected.encode(), given_checksum.strip().lower().encode()):
        raise InvalidSession("Invalid checksum.")
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise InvalidSession("Token is invalid or has expired.")
    row.used_at = now
    access_token, _ = auth.issue_token(policy, user, now, extra={APP_CLAIM: app.id})
    audit.record(
        session,
        wall,
        action="kite_app.session",
        actor_id=user.id,
        actor=user.username,
        target=f"kite_app:{app.id}",
    )
    return {
        **profile_of(user),
        "api_key": app.api_key,
        "access_token": access_token,
        "public_token": secrets.token_hex(16),
        "refresh_token": "",
        "enctoken": "",
        "login_time": kite_time(now),
    }


async def authenticate(
    sessions: async_sessionmaker[AsyncSession],
    identities: Identities,
    policy: AuthPolicy,
    wall: Clock,
    *,
    api_key: str,
    access_token: str,
    ip: str,
) -> Caller:
    """Return the caller an ``api_key:access_token`` pair proves: a live app, and a login
    token issued to that app, neither expired nor revoked, of an active user. The app is
    looked up in a session of its own, closed before the caller opens one (an order is placed
    in the desk's session; SQLite has one connection)."""
    refused = InvalidSession("Incorrect `api_key` or `access_token`.")
    async with sessions() as session:
        app = await store.app_by_key(session, api_key)
    if app is None:
        raise refused
    claims = auth.decode_token(policy, access_token, wall.now())
    if claims.get(APP_CLAIM) != app.id:
        raise refused
    return await auth.authenticate_token(identities, policy, wall, access_token, ip)


async def close_session(
    sessions: async_sessionmaker[AsyncSession],
    identities: Identities,
    policy: AuthPolicy,
    wall: Clock,
    *,
    api_key: str,
    access_token: str,
    ip: str,
) -> None:
    """Revoke an access token of the app (Kite's logout): it is refused from now on."""
    caller = await authenticate(
        sessions, identities, policy, wall, api_key=api_key, access_token=access_token, ip=ip
    )
    async with sessions() as session:
        await auth.logout(session, identities, wall, caller)
        await commit(session)
