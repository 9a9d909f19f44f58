"""The interactive API docs, Swagger UI at ``/docs`` and ReDoc at ``/redoc``, served with every
asset they load (scripts, stylesheet, favicon) from here: no request leaves for another host.

The assets are the ones fastapi-offline ships as package data; the pages are FastAPI's own
(``fastapi.openapi.docs``). The routes are plain module functions that read the app from the
request: an app builds none of its own (FastAPI keeps a process-wide cache of the endpoints it
has seen, and an endpoint made per app would keep that app alive).
"""

from __future__ import annotations

from importlib.resources import as_file, files

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = f"{DOCS_URL}/oauth2-redirect"
ASSETS_URL = "/docs-assets"
#: The paths of the pages, which load scripts and styles (their security headers differ).
PAGES = frozenset({DOCS_URL, REDOC_URL, OAUTH2_REDIRECT_URL})

router = APIRouter(include_in_schema=False)


def assets() -> StaticFiles:
    """Return the app that serves the pages' assets (mount it at ``ASSETS_URL``)."""
    with as_file(files("fastapi_offline") / "static") as folder:  # a folder of the install
        return StaticFiles(directory=folder)


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


@router.get(DOCS_URL)
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI on this server's OpenAPI document."""
    root = _root(request)
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - Swagger UI",
        oauth2_redirect_url=OAUTH2_REDIRECT_URL,
        swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        swagger_ui_parameters={"validatorUrl": None},  # no "valid" badge from swagger.io
    )


@router.get(OAUTH2_REDIRECT_URL)
async def swagger_ui_redirect() -> HTMLResponse:
    """Swagger UI's OAuth2 redirect page."""
    return get_swagger_ui_oauth2_redirect_html()


@router.get(REDOC_URL)
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc on this server's OpenAPI document, without Google Fonts."""
    root = _root(request)
    return get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
        with_google_fonts=False,
        redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
    )
