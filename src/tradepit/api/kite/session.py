"""Kite Connect's login page and sessions: ``/kite/connect/login``, ``/session/token``,
``/user/profile``."""

from __future__ import annotations

import html

from fastapi import APIRouter, Query, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from tradepit.api.deps import IpDep, SessionDep, WiringDep
from tradepit.api.kite.deps import FieldsDep, KiteCallerDep, parse, success
from tradepit.domain.errors import DomainError, InvalidInput, TooManyAttempts
from tradepit.schemas.kite import KiteSessionForm
from tradepit.services.kite import apps
from tradepit.services.kite.apps import AppOfAnotherUser, InvalidSession

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Log in - Tradepit</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 24rem; margin: 3rem auto">
<h1>Tradepit</h1>
{body}
</body></html>
"""
_FORM = """<p><strong>{app}</strong> asks to trade your Tradepit paper account.</p>
{notice}
<form method="post" action="/kite/connect/login">
<input type="hidden" name="api_key" value="{api_key}">
<p><label>Username or e-mail<br><input name="login" autocomplete="username" required></label></p>
<p><label>Password<br>
<input name="password" type="password" autocomplete="current-password" required></label></p>
<p><button type="submit">Log in</button></p>
</form>"""


def _html(body: str, code: int) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(body=body), status_code=code, headers={"Cache-Control": "no-store"}
    )


def _page(app: str, api_key: str, notice: str | None, code: int = 200) -> HTMLResponse:
    """Return the login form of an app, with ``notice`` above it."""
    shown = f'<p role="alert"><strong>{html.escape(notice)}</strong></p>' if notice else ""
    form = _FORM.format(app=html.escape(app), api_key=html.escape(api_key), notice=shown)
    return _html(form, code)


def _unknown(message: str) -> HTMLResponse:
    """Return the page of a login for an app that does not exist: no form."""
    return _html(f'<p role="alert">{html.escape(message)}</p>', status.HTTP_400_BAD_REQUEST)


@router.get("/kite/connect/login")
async def login_page(
    session: SessionDep,
    api_key: str = Query(default="", max_length=64),
    v: str = Query(default="3", max_length=8),
) -> Response:
    """Show the login form of the app ``api_key`` (no JavaScript needed)."""
    try:
        app = await apps.app_for_login(session, api_key)
    except InvalidInput as exc:
        return _unknown(exc.message)
    return _page(app.name, app.api_key, None)


@router.post("/kite/connect/login")
async def login(fields: FieldsDep, session: SessionDep, wired: WiringDep, ip: IpDep) -> Response:
    """Check Tradepit credentials; on success, go back to the app's redirect URL with a
    request token. A failure shows the form again (failures are counted and throttled as
    every login's)."""
    api_key = fields.get("api_key", "")[:64]
    try:
        app = await apps.app_for_login(session, api_key)
    except InvalidInput as exc:
        return _unknown(exc.message)
    try:
        target = await apps.login(
            session,
            wired.identities,
            wired.auth,
            wired.wall,
            api_key=api_key,
            login=fields.get("login", "")[:254],
            password=fields.get("password", "")[:1024],
            ip=ip,
        )
    except AppOfAnotherUser as exc:
        return _page(app.name, app.api_key, exc.message, status.HTTP_403_FORBIDDEN)
    except DomainError as exc:
        if not exc.commits:
            raise
        # The failed attempt is a fact to keep: the session commits when the page returns.
        code = 429 if isinstance(exc, TooManyAttempts) else status.HTTP_401_UNAUTHORIZED
        return _page(app.name, app.api_key, exc.message, code)
    return RedirectResponse(target, status_code=status.HTTP_302_FOUND)


@router.post("/session/token")
async def open_session(fields: FieldsDep, session: SessionDep, wired: WiringDep) -> JSONResponse:
    """Exchange a request token and its checksum for an access token (Kite's session)."""
    form = parse(KiteSessionForm, fields)
    opened = await apps.open_session(
        session,
        wired.sealer,
        wired.auth,
        wired.wall,
        api_key=form.api_key,
        request_token=form.request_token,
        given_checksum=form.checksum,
    )
    return success(opened)


@router.delete("/session/token")
async def close_session(fields: FieldsDep, wired: WiringDep, ip: IpDep) -> JSONResponse:
    """Log out: the access token is refused from now on."""
    api_key, access_token = fields.get("api_key", ""), fields.get("access_token", "")
    if not api_key or not access_token:
        raise InvalidSession("Send api_key and access_token.")
    await apps.close_session(
        wired.sessionmaker,
        wired.identities,
        wired.auth,
        wired.wall,
        api_key=api_key,
        access_token=access_token,
        ip=ip,
    )
    return success(True)


@router.get("/user/profile")
async def profile(caller: KiteCallerDep) -> JSONResponse:
    """Return the user's profile."""
    return success(apps.profile_of(caller.user))
