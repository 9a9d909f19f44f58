"""The session cookie of a browser page that sends no ``Authorization`` header (okx-bets'
pages call ``/api/balance``, ``/api/bet`` and Socket.IO with no credential of their own).

``POST /api/login`` sets the cookie to the login's own JWT, so the cookie is checked, revoked
(logout) and expires exactly like the bearer token; a header credential, when a request has
one, wins over it. A browser attaches a cookie whichever page makes the request, so a request
that changes something (``WRITES``) and is authenticated by the cookie alone must show that a
page of this server's own origin, or of an origin the operator allows
(``TRADEPIT_CORS_ORIGINS``), sent it: its ``Origin`` header, or its ``Referer`` when the
browser sent no ``Origin``. Reads need no such proof: another site's page cannot read the
answer (CORS), and ``SameSite=Strict`` keeps the cookie off requests that other sites start.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.domain.clock import Clock
from tradepit.domain.errors import NotAuthenticated, PermissionDenied
from tradepit.services import auth
from tradepit.services.auth import AuthPolicy
from tradepit.services.callers import Caller
from tradepit.services.identities import Identities

#: The cookie's name. ``Path=/``, ``HttpOnly``, ``SameSite=Strict``; ``Secure`` over HTTPS.
SESSION_COOKIE = "tradepit_session"
#: The methods that change something: authenticated by the cookie, they need a same-origin page.
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: A socket's scheme names the same origin as the page's.
_PAGE_SCHEMES = {"ws": "http", "wss": "https"}
_WHY = (
    "a request authenticated by the session cookie that changes something must come from a "
    "page of this site or of TRADEPIT_CORS_ORIGINS"
)
_OTHERWISE = "; other clients send 'Authorization: Bearer <token>'"


class OriginRequired(PermissionDenied):
    """A cookie-authenticated write sent neither ``Origin`` nor ``Referer``."""

    code = "ORIGIN_REQUIRED"


class OriginNotAllowed(PermissionDenied):
    """A cookie-authenticated write came from another site's page."""

    code = "ORIGIN_NOT_ALLOWED"


def origin_of(url: str | None) -> str | None:
    """Return the origin ``scheme://host[:port]`` of ``url`` in one spelling (lower case, the
    scheme's default port left out), or None when it is not an http(s) URL (``null`` too)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a port out of range or not a number
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # IPv6
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def own_origin(scheme: str, host: str | None) -> str | None:
    """Return the origin a request was sent to: its scheme (``https`` when a trusted proxy
    said so, resolved before the app sees it; a socket's ``ws``/``wss`` count as ``http``/
    ``https``) and its ``Host`` header."""
    if not host:
        return None
    return origin_of(f"{_PAGE_SCHEMES.get(scheme, scheme)}://{host}")


def page_allowed(origin: str | None, own: str | None, allowed: Iterable[str]) -> bool:
    """Tell whether a page of ``origin`` is this server's own (``own``) or one the operator
    allows; a ``*`` entry allows no page here (it serves anonymous requests only)."""
    found = origin_of(origin)
    if found is None:
        return False
    return found == own or found in {origin_of(entry) for entry in allowed if entry != "*"}


def check_write(
    origin: str | None, referer: str | None, own: str | None, allowed: Iterable[str]
) -> None:
    """Refuse a cookie-authenticated write that no allowed page sent: the ``Origin`` decides
    when there is one (``null`` is refused), else the ``Referer``; neither is refused."""
    if origin:
        offered, header = origin, "Origin"
    elif referer:
        offered, header = referer, "Referer"
    else:
        raise OriginRequired(f"{_WHY}: it sent no Origin or Referer header{_OTHERWISE}")
    if not page_allowed(offered, own, allowed):
        raise OriginNotAllowed(f"{_WHY}: its {header} is another site's{_OTHERWISE}")


async def logout(
    session: AsyncSession,
    identities: Identities,
    policy: AuthPolicy,
    wall: Clock,
    caller: Caller,
    cookie: str | None,
) -> None:
    """Revoke the caller's token, and the session cookie's too when it holds another one (a
    header credential won over it): the browser's session ends with the logout."""
    await auth.logout(session, identities, wall, caller)
    if not cookie:
        return
    with contextlib.suppress(NotAuthenticated):  # expired, revoked or not ours: nothing to end
        held = await auth.authenticate_token(identities, policy, wall, cookie, caller.ip)
        if held.jti != caller.jti:
            await auth.logout(session, identities, wall, held)
