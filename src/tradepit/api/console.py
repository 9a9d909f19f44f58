"""The web console: one page at ``/`` for a browser, its ES modules, stylesheet and the
vendored chart library under ``/console``, all package data of ``tradepit/console/static``.

No build step: the browser runs the modules as they are stored. ``/`` answers the page to a
request that accepts HTML (a browser opening the address) and the API information as JSON to
every other (``health.root``), so clients of the API see what they saw before.
"""

from __future__ import annotations

from importlib.resources import as_file, files

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

#: Where the console's files are served.
ASSETS_URL = "/console"
#: The paths that answer the console's page (its security headers differ).
PAGES = frozenset({"/"})
_STATIC = files("tradepit") / "console" / "static"


def assets() -> StaticFiles:
    """Return the app that serves the console's files (mount it at ``ASSETS_URL``)."""
    with as_file(_STATIC) as folder:  # a folder of the install
        return StaticFiles(directory=folder)


def wants_page(request: Request) -> bool:
    """Tell whether ``request`` asks for a page (a browser's ``Accept: text/html, ...``)
    rather than data (no ``Accept``, ``*/*`` or ``application/json``)."""
    return "text/html" in request.headers.get("accept", "")


def page() -> HTMLResponse:
    """Return the console's page, never cached (it names the modules of this version)."""
    html = (_STATIC / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers={"Cache-Control": "no-cache", "Vary": "Accept"})
