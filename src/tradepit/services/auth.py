"""Sign-up, login, logout, tokens, API keys and lockouts."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.domain.accounts import (
    LockoutPolicy,
    Role,
    check_password_strength,
    normalize_username,
    username_key,
)
from tradepit.domain.clock import Clock
from tradepit.domain.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    TooManyAttempts,
)
from tradepit.services import wallets
from tradepit.services.callers import Caller
from tradepit.services.identities import Identities
from tradepit.store import audit
from tradepit.store import users as store
from tradepit.store.users import ApiKey, LoginAttempt, RevokedToken, User

JWT_ALGORITHM = "HS256"
#: Longest login key recorded for a failed attempt (the width of its column).
LOGIN_KEY_MAX = 254
JWT_ISSUER = "tradepit"
API_KEY_PREFIX = "tp_"
#: The claim of a token that names the account to trade (``account_token``).
ACCOUNT_CLAIM = "account_id"


class UsernameTaken(Conflict):
    """Someone already registered this username."""

    code = "USERNAME_TAKEN"


class EmailTaken(Conflict):
    """Someone already registered this e-mail."""

    code = "EMAIL_TAKEN"


class InvalidCredentials(NotAuthenticated):
    """Wrong login or password. The failed attempt is kept, so the transaction commits."""

    code = "INVALID_CREDENTIALS"
    commits: ClassVar[bool] = True


class AccountLocked(TooManyAttempts):
    """Too many failed logins; the refused attempt is kept."""

    code = "ACCOUNT_LOCKED"
    commits: ClassVar[bool] = True


class AccountDisabled(PermissionDenied):
    """The account was deactivated by an administrator."""

    code = "ACCOUNT_DISABLED"
    commits: ClassVar[bool] = True


class InvalidToken(NotAuthenticated):
    """The bearer token or API key is malformed, expired, revoked or unknown."""

    code = "INVALID_TOKEN"


class RoleNotAllowed(PermissionDenied):
    """A sign-up asked for a role above user; only a superadmin grants roles."""

    code = "ROLE_NOT_ALLOWED"


@dataclass(frozen=True)
class AuthPolicy:
    """How authentication behaves; built once from settings by the composition root."""

    jwt_secret: str
    token_ttl: timedelta = timedelta(hours=24)
    #: Failures of one account from one address: locks that pair only.
    pair_lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    #: Failures from one address, whatever the accounts: locks the address.
    ip_lockout: LockoutPolicy = field(default_factory=lambda: LockoutPolicy(max_failures=20))
    #: Failures of one account from every address (a distributed guess): refuses the account
    #: to addresses it never logged in from within ``known_for``; its owner's still get in.
    account_ceiling: LockoutPolicy = field(default_factory=lambda: LockoutPolicy(max_failures=100))
    known_for: timedelta = timedelta(days=30)
    hasher: PasswordHasher = field(default_factory=PasswordHasher)

    @property
    def dummy_hash(self) -> str:
        """Return a hash to verify against when the user does not exist (equal timing)."""
        return _dummy_hash(self.hasher)


_DUMMY: dict[int, str] = {}


def _dummy_hash(hasher: PasswordHasher) -> str:
    key = id(hasher)
    if key not in _DUMMY:
        _DUMMY[key] = hasher.hash(secrets.token_urlsafe(16))
    return _DUMMY[key]


@dataclass(frozen=True)
class Session:
    """A successful login: the user and their new bearer token."""

    user: User
    access_token: str
    expires_in: int
    balance: Decimal


async def _hash(policy: AuthPolicy, password: str) -> str:
    return await asyncio.to_thread(policy.hasher.hash, password)


async def _verify(policy: AuthPolicy, stored: str, password: str) -> bool:
    try:
        return await asyncio.to_thread(policy.hasher.verify, stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def register(
    session: AsyncSession,
    policy: AuthPolicy,
    wall: Clock,
    clock: Clock,
    starting: Mapping[str, Decimal],
    *,
    username: str,
    password: str,
    email: str | None,
    ip: str,
    role: Role = Role.USER,
    requested: Role | None = None,
) -> tuple[User, Decimal]:
    """Create a user with default settings and funded wallets; return it and its bet balance.

    The username is unique ignoring case. ``requested`` is the role a sign-up body asked for:
    a sign-up never raises a role, so anything above user is refused before anything is
    written.
    """
    if requested is not None and requested is not Role.USER:
        raise RoleNotAllowed(
            f"sign-up creates a user; the {requested.value} role is granted by a superadmin "
            "(PUT /api/admin/users/{id}/role)"
        )
    name = normalize_username(username)
    check_password_strength(password)
    key = username_key(name)
    mail = email.strip().lower() if email else None
    name_taken, email_taken = await store.username_or_email_taken(session, key, mail)
    if name_taken:
        raise UsernameTaken(f"username '{name}' is already registered")
    if email_taken:
        raise EmailTaken("e-mail is already registered")
    now = wall.now()
    user = User(
        username=name,
        username_key=key,
        email=mail,
        password_hash=await _hash(policy, password),
        role=role.value,
        is_active=True,
        created_at=now,
    )
    session.add(user)
    await session.flush()
    session.add(store.UserSettings(user_id=user.id, updated_at=now, **DEFAULT_SETTINGS))
    audit.record(
        session,
        wall,
        action="user.register",
        actor_id=user.id,
        actor=name,
        target=f"user:{user.id}",
        ip=ip,
        details={"role": role.value},
    )
    return user, await wallets.open_for(session, clock, user, starting)


DEFAULT_SETTINGS: dict[str, Any] = {
    "default_product": "MIS",
    "default_quantity": 1,
    "watchlist": ["NIFTY 50", "BANKNIFTY", "RELIANCE", "BTC-USDT"],
    "notifications": {
        "order_fills": True,
        "price_alerts": True,
        "tournaments": True,
        "email": False,
    },
    "display": {
        "theme": "system",
        "chart_type": "candles",
        "timezone": "Asia/Kolkata",
        "compact": False,
    },
}


def _retry_after(until: datetime, now: datetime) -> int:
    return int((until - now).total_seconds()) + 1


async def login(
    session: AsyncSession,
    identities: Identities,
    policy: AuthPolicy,
    wall: Clock,
    *,
    login: str,
    password: str,
    ip: str,
) -> Session:
    """Check the password and issue a token; count failures and lock out brute force."""
    now = wall.now()
    typed = login.strip().removeprefix("@").lower()
    user = await store.find_by_login(session, typed)
    # Lower-casing can lengthen a login ('İ' becomes two characters): keep the recorded key
    # within its column, or PostgreSQL refuses the failed attempt with a 500.
    key = user.username_key if user else typed[:LOGIN_KEY_MAX]
    await _refuse_if_locked(session, policy, wall, now, key=key, ip=ip, user=user)

    ok = await _verify(policy, user.password_hash if user else policy.dummy_hash, password)
    if user is None or not ok:
        session.add(LoginAttempt(username_key=key, ip=ip, at=now, outcome="failure"))
        audit.record(
            session,
            wall,
            action="auth.login",
            result="failure",
            actor_id=user.id if user else None,
            actor=key,
            ip=ip,
        )
        await session.flush()
        for by, until in (await _locks(session, policy, now, key, ip)).items():
            audit.record(
                session,
                wall,
                action="auth.lockout",
                result="locked",
                actor=key,
                ip=ip,
                details={"by": by, "locked_until": until.isoformat()},
            )
        raise InvalidCredentials("invalid login or password")
    if not user.is_active:
        session.add(LoginAttempt(username_key=key, ip=ip, at=now, outcome="inactive"))
        audit.record(
            session,
            wall,
            action="auth.login",
            result="inactive",
            actor_id=user.id,
            actor=user.username,
            ip=ip,
        )
        raise AccountDisabled("this account is deactivated")

    if policy.hasher.check_needs_rehash(user.password_hash):
        user.password_hash = await _hash(policy, password)
    user.last_login_at = now
    await identities.changed(session, user.id)
    session.add(LoginAttempt(username_key=key, ip=ip, at=now, outcome="success"))
    audit.record(session, wall, action="auth.login", actor_id=user.id, actor=user.username, ip=ip)
    token, expires_in = issue_token(policy, user, now)
    balance = await wallets.balance_of(session, user.id, wallets.BET_CURRENCY)
    return Session(user=user, access_token=token, expires_in=expires_in, balance=balance)


async def _locks(
    session: AsyncSession, policy: AuthPolicy, now: datetime, key: str, ip: str
) -> dict[str, datetime]:
    """Return the locks that refuse a login to account ``key`` from ``ip`` now, by kind:
    ``account+ip``, ``ip``, ``account`` (the ceiling, for unknown addresses)."""
    found: dict[str, datetime] = {}
    pair = policy.pair_lockout
    since = now - pair.window - pair.lock_for
    last_ok = await store.last_success(session, key, ip=ip)
    if last_ok is not None and last_ok > since:
        since = last_ok  # a success from this address starts its count again
    failures = await store.recent_attempts(session, since=since, username_key=key, ip=ip)
    if (until := pair.locked_until(failures, now)) is not None:
        found["account+ip"] = until
    by_ip = policy.ip_lockout
    failures = await store.recent_attempts(
        session, since=now - by_ip.window - by_ip.lock_for, ip=ip
    )
    if (until := by_ip.locked_until(failures, now)) is not None:
        found["ip"] = until
    ceiling = policy.account_ceiling
    failures = await store.recent_attempts(
        session, since=now - ceiling.window - ceiling.lock_for, username_key=key
    )
    if (until := ceiling.locked_until(failures, now)) is not None:
        known = last_ok is not None and last_ok > now - policy.known_for
        if not known:
            found["account"] = until
    return found


async def _refuse_if_locked(
    session: AsyncSession,
    policy: AuthPolicy,
    wall: Clock,
    now: datetime,
    *,
    key: str,
    ip: str,
    user: User | None,
) -> None:
    locks = await _locks(session, policy, now, key, ip)
    if not locks:
        return
    by, until = max(locks.items(), key=lambda lock: lock[1])
    session.add(LoginAttempt(username_key=key, ip=ip, at=now, outcome="locked"))
    audit.record(
        session,
        wall,
        action="auth.login",
        result="locked",
        actor_id=user.id if user else None,
        actor=key,
        ip=ip,
        details={"locked_until": until.isoformat(), "by": by},
    )
    raise AccountLocked(
        "too many failed logins; try again later", retry_after=_retry_after(until, now)
    )


def issue_token(
    policy: AuthPolicy, user: User, now: datetime, extra: Mapping[str, Any] | None = None
) -> tuple[str, int]:
    """Return a signed JWT for ``user`` (with the ``extra`` claims) and its lifetime in
    seconds."""
    ttl = int(policy.token_ttl.total_seconds())
    issued = int(now.timestamp())
    claims: dict[str, Any] = {
        **(extra or {}),
        "sub": str(user.id),
        "role": user.role,
        "iat": issued,
        "exp": issued + ttl,
        "jti": uuid.uuid4().hex,
        "iss": JWT_ISSUER,
    }
    return jwt.encode(claims, policy.jwt_secret, algorithm=JWT_ALGORITHM), ttl


def account_token(
    policy: AuthPolicy, caller: Caller, now: datetime, account_id: int | None
) -> str | None:
    """Return a bearer token of the caller's login that names ``account_id`` as the account
    to trade (mt5-copier's connect answers one; ``send_orders`` without ``accounts`` sends to
    it); with ``account_id`` None, one that names no account.

    It is the same login, not a new one: the same user, ``jti`` and expiry as the token
    presented, so it lives no longer and logging out with either revokes both. An API key is
    not a login: None.
    """
    if caller.jti is None or caller.token_expires_at is None:
        return None
    claims: dict[str, Any] = {
        "sub": str(caller.user.id),
        "role": caller.user.role,
        "iat": int(now.timestamp()),
        "exp": int(caller.token_expires_at.timestamp()),
        "jti": caller.jti,
        "iss": JWT_ISSUER,
    }
    if account_id is not None:
        claims[ACCOUNT_CLAIM] = account_id
    return jwt.encode(claims, policy.jwt_secret, algorithm=JWT_ALGORITHM)


@functools.lru_cache(maxsize=10_000)
def signed_claims(secret: str, token: str) -> Mapping[str, Any]:
    """Return the claims of a token whose signature and issuer check out. A client sends the
    same token with every request, so the check runs once per token (and secret); a token
    that fails is checked again each time (exceptions are not cached). Times, revocation and
    the user are checked on every request."""
    claims: dict[str, Any] = jwt.decode(
        token,
        secret,
        algorithms=[JWT_ALGORITHM],
        issuer=JWT_ISSUER,
        # Times are checked by the caller against the wall clock, not PyJWT's system time.
        options={"require": ["sub", "exp", "iat", "jti"], "verify_exp": False, "verify_iat": False},
    )
    return MappingProxyType(claims)


def decode_token(policy: AuthPolicy, token: str, now: datetime) -> dict[str, Any]:
    """Return the verified claims of ``token``; refuse other algorithms and expired tokens."""
    try:
        claims = dict(signed_claims(policy.jwt_secret, token))
    except jwt.PyJWTError as exc:
        raise InvalidToken("invalid token") from exc
    if not isinstance(claims["iat"], int) or claims["iat"] > now.timestamp():
        raise InvalidToken("invalid token")
    if not isinstance(claims["exp"], int) or claims["exp"] <= now.timestamp():
        raise InvalidToken("token expired")
    if not str(claims["sub"]).isdigit():
        raise InvalidToken("invalid token")
    account = claims.get(ACCOUNT_CLAIM)
    if account is not None and (type(account) is not int or account < 1):
        raise InvalidToken("invalid token")
    return claims


async def authenticate_token(
    identities: Identities, policy: AuthPolicy, wall: Clock, token: str, ip: str
) -> Caller:
    """Return the caller a bearer token proves; refuse revoked tokens and inactive users."""
    now = wall.now()
    claims = decode_token(policy, token, now)
    held = await identities.user(int(claims["sub"]))
    if held is not None and claims["jti"] in held.revoked:
        raise InvalidToken("token revoked")
    if held is None or not held.identity.is_active:
        raise InvalidToken("account not active")
    return Caller(
        user=held.identity,
        ip=ip,
        jti=claims["jti"],
        token_expires_at=datetime.fromtimestamp(claims["exp"], now.tzinfo),
        account_id=claims.get(ACCOUNT_CLAIM),
    )


def hash_api_key(key: str) -> str:
    """Return the stored form of an API key (keys are random, so SHA-256 is enough)."""
    return hashlib.sha256(key.encode()).hexdigest()


async def authenticate_api_key(identities: Identities, wall: Clock, key: str, ip: str) -> Caller:
    """Return the caller an API key proves."""
    found = await identities.api_key(hash_api_key(key)) if key.startswith(API_KEY_PREFIX) else None
    if found is None or not found[0].identity.is_active:
        raise InvalidToken("invalid API key")
    held, key_id = found
    identities.note_key_use(key_id, wall.now())
    return Caller(user=held.identity, ip=ip, api_key_id=key_id)


async def logout(
    session: AsyncSession, identities: Identities, wall: Clock, caller: Caller
) -> None:
    """Revoke the caller's bearer token at once."""
    if caller.jti is None or caller.token_expires_at is None:
        raise InvalidInput(
            "logout revokes a bearer token; revoke API keys under /api/auth/api-keys"
        )
    session.add(
        RevokedToken(jti=caller.jti, user_id=caller.user.id, expires_at=caller.token_expires_at)
    )
    await identities.changed(session, caller.user.id)
    audit.record(
        session,
        wall,
        action="auth.logout",
        actor_id=caller.user.id,
        actor=caller.user.username,
        ip=caller.ip,
    )


async def create_api_key(
    session: AsyncSession, identities: Identities, wall: Clock, caller: Caller, name: str
) -> tuple[ApiKey, str]:
    """Create an API key; return it with the plain key, which is never shown again."""
    plain = API_KEY_PREFIX + secrets.token_urlsafe(32)
    now = wall.now()
    key = ApiKey(
        user_id=caller.user.id,
        name=name,
        prefix=plain[:10],
        key_hash=hash_api_key(plain),
        created_at=now,
    )
    session.add(key)
    await session.flush()
    await identities.changed(session, caller.user.id)
    audit.record(
        session,
        wall,
        action="api_key.create",
        actor_id=caller.user.id,
        actor=caller.user.username,
        target=f"api_key:{key.id}",
        ip=caller.ip,
        details={"name": name},
    )
    return key, plain


async def list_api_keys(session: AsyncSession, caller: Caller) -> list[ApiKey]:
    """Return the caller's API keys (never their secrets)."""
    return await store.list_api_keys(session, caller.user.id)


async def revoke_api_key(
    session: AsyncSession, identities: Identities, wall: Clock, caller: Caller, key_id: int
) -> ApiKey:
    """Revoke one of the caller's API keys; another user's key is reported as not found."""
    key = await session.get(ApiKey, key_id)
    if key is None or key.user_id != caller.user.id:
        raise NotFound(f"API key {key_id} not found")
    now = wall.now()
    if key.revoked_at is None:
        key.revoked_at = now
        await identities.changed(session, caller.user.id)
        audit.record(
            session,
            wall,
            action="api_key.revoke",
            actor_id=caller.user.id,
            actor=caller.user.username,
            target=f"api_key:{key.id}",
            ip=caller.ip,
        )
    return key
