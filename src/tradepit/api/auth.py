"""Sign-up, login, logout, the current user and API keys (okx-bets, csv-accounts,
mt5-copier and paper-tournaments routes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from tradepit.api.deps import CallerDep, IdPath, IpDep, SessionDep, WiringDep
from tradepit.api.examples import example
from tradepit.domain.accounts import Role
from tradepit.domain.money import as_float
from tradepit.schemas.users import (
    API_KEY_CREATED,
    API_KEY_REVOKED,
    API_KEYS,
    LOGGED_IN,
    LOGGED_OUT,
    MT5_COPIER_ROLES,
    REGISTERED,
    TOKEN_READ,
    USER,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    ApiKeysRead,
    LoggedIn,
    LoggedOut,
    LoginBody,
    RegisterBody,
    Registered,
    SignupBody,
    TokenRead,
    UserRead,
)
from tradepit.services import auth, browser_sessions
from tradepit.services.browser_sessions import SESSION_COOKIE

router = APIRouter(tags=["auth"])

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Wrong login or password, or a bad token"},
    403: {"description": "Account deactivated"},
    422: {"description": "Malformed body"},
    429: {"description": "Too many failed logins or requests; see Retry-After"},
}


@router.post(
    "/api/register",
    status_code=status.HTTP_201_CREATED,
    summary="Register (okx-bets / csv-accounts / mt5-copier)",
    responses={
        409: {"description": "Username or e-mail already registered"},
        400: {"description": "Weak password"},
        403: {"description": "The body asks for a role above user (ROLE_NOT_ALLOWED)"},
        201: example(REGISTERED),
    },
)
async def register(
    body: RegisterBody, session: SessionDep, wired: WiringDep, ip: IpDep
) -> Registered:
    """Create an account, always a user (a higher ``role`` is 403). A telegram handle is the
    username. Balance is the USDT wallet."""
    user, balance = await auth.register(
        session,
        wired.auth,
        wired.wall,
        wired.clock,
        wired.starting_balances,
        username=body.name,
        password=body.password,
        email=str(body.email) if body.email else None,
        ip=ip,
        requested=body.requested_role,
    )
    return Registered(
        success=True,
        message="User registered successfully",
        balance=as_float(balance),
        id=user.id,
        username=user.username,
        telegram=user.username,
        user_id=user.id,
        role=MT5_COPIER_ROLES[Role(user.role)],
    )


async def logged_in(
    body: LoginBody, session: SessionDep, wired: WiringDep, ip: IpDep
) -> auth.Session:
    """Check the login body's password and issue a token (both login routes' first step)."""
    return await auth.login(
        session,
        wired.identities,
        wired.auth,
        wired.wall,
        login=body.login,
        password=body.password,
        ip=ip,
    )


LoginDep = Annotated[auth.Session, Depends(logged_in)]


@router.post(
    "/api/login",
    summary="Log in (okx-bets / csv-accounts / mt5-copier)",
    responses={**AUTH_ERRORS, 200: example(LOGGED_IN)},
)
async def login(result: LoginDep, request: Request, response: Response) -> LoggedIn:
    """Log in with a telegram handle, username or e-mail; returns a bearer token (and sets
    it as the ``tradepit_session`` cookie for pages that send no token: okx-bets' pages, and
    csv-accounts' page, which opens ``/api/ws`` without one)."""
    _set_session_cookie(request, response, result.access_token, result.expires_in)
    return LoggedIn(
        success=True,
        telegram=result.user.username,
        username=result.user.username,
        balance=as_float(result.balance),
        access_token=result.access_token,
        expires_in=result.expires_in,
        # mt5-copier's page reads these; its role spelling (super_admin is our superadmin).
        message="Login successful",
        token=result.access_token,
        user_id=result.user.id,
        role=MT5_COPIER_ROLES[Role(result.user.role)],
    )


def _set_session_cookie(request: Request, response: Response, token: str, max_age: int) -> None:
    """Set the session cookie (``browser_sessions``): the login's JWT for every path, never
    readable by scripts, never sent on requests other sites start, ``Secure`` when the login
    came over HTTPS (as a trusted proxy reports it, ``TRADEPIT_TRUSTED_PROXIES``)."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


@router.post(
    "/api/logout",
    summary="Log out: revoke this token",
    responses={**AUTH_ERRORS, 200: example(LOGGED_OUT)},
)
async def logout(
    caller: CallerDep,
    session: SessionDep,
    wired: WiringDep,
    request: Request,
    response: Response,
) -> LoggedOut:
    """Revoke the presented bearer token (from the header, else the session cookie) and the
    session cookie's; both stop working at once, and the cookies are cleared."""
    cookie = request.cookies.get(SESSION_COOKIE)
    await browser_sessions.logout(session, wired.identities, wired.auth, wired.wall, caller, cookie)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return LoggedOut(success=True, message="Logged out")


@router.post(
    "/api/auth/signup",
    status_code=status.HTTP_201_CREATED,
    summary="Sign up (paper-tournaments)",
    responses={
        409: {"description": "Username or e-mail already registered"},
        400: {"description": "Weak password"},
        201: example(USER),
    },
)
async def signup(body: SignupBody, session: SessionDep, wired: WiringDep, ip: IpDep) -> UserRead:
    """Create an account with e-mail, username and a password of 8+ letters and digits."""
    user, _ = await auth.register(
        session,
        wired.auth,
        wired.wall,
        wired.clock,
        wired.starting_balances,
        username=body.username,
        password=body.password,
        email=str(body.email),
        ip=ip,
    )
    return UserRead.model_validate(user)


@router.post(
    "/api/auth/login",
    summary="Log in (paper-tournaments)",
    responses={**AUTH_ERRORS, 200: example(TOKEN_READ)},
)
async def auth_login(result: LoginDep) -> TokenRead:
    """Log in with e-mail (or username) and password; returns a bearer JWT and the user."""
    return TokenRead(
        access_token=result.access_token,
        expires_in=result.expires_in,
        user=UserRead.model_validate(result.user),
    )


@router.get(
    "/api/auth/me", summary="The current user", responses={**AUTH_ERRORS, 200: example(USER)}
)
async def me(caller: CallerDep) -> UserRead:
    """Return the authenticated user."""
    return UserRead.model_validate(caller.user)


@router.post(
    "/api/auth/logout",
    summary="Log out (paper-tournaments)",
    responses={**AUTH_ERRORS, 200: example(LOGGED_OUT)},
)
async def auth_logout(caller: CallerDep, session: SessionDep, wired: WiringDep) -> LoggedOut:
    """Revoke the presented bearer token."""
    await auth.logout(session, wired.identities, wired.wall, caller)
    return LoggedOut(success=True, message="Logged out")


@router.get(
    "/api/auth/api-keys",
    summary="List my API keys",
    responses={**AUTH_ERRORS, 200: example(API_KEYS)},
)
async def list_keys(caller: CallerDep, session: SessionDep) -> ApiKeysRead:
    """Return the caller's API keys; secrets are never shown again."""
    keys = await auth.list_api_keys(session, caller)
    return ApiKeysRead(api_keys=[ApiKeyRead.model_validate(k) for k in keys])


@router.post(
    "/api/auth/api-keys",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key",
    responses={**AUTH_ERRORS, 201: example(API_KEY_CREATED)},
)
async def create_key(
    body: ApiKeyCreate, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> ApiKeyCreated:
    """Create an API key, accepted as ``X-API-Key``; the key is shown only in this answer."""
    key, plain = await auth.create_api_key(session, wired.identities, wired.wall, caller, body.name)
    return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), key=plain)


@router.delete(
    "/api/auth/api-keys/{key_id}",
    summary="Revoke an API key",
    responses={
        **AUTH_ERRORS,
        404: {"description": "No such key of yours"},
        200: example(API_KEY_REVOKED),
    },
)
async def revoke_key(
    key_id: IdPath, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> ApiKeyRead:
    """Revoke one of the caller's API keys."""
    key = await auth.revoke_api_key(session, wired.identities, wired.wall, caller, key_id)
    return ApiKeyRead.model_validate(key)
