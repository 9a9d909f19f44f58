"""One handler per error type, and the two error shapes route families use.

- smd-options routes answer in its envelope:
  ``{"success": false, "message", "timestamp", "error": {"code", "details"}}``.
- Every other route answers ``{"success": false, "message", "detail", "code", "error"}``:
  ``detail`` is what FastAPI clients (paper-tournaments, csv-accounts) read,
  ``success``/``message`` what okx-bets' clients read, and ``error`` (the message again) what
  mt5-copier's page shows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError
from starlette.exceptions import HTTPException

from tradepit.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    TooManyAttempts,
)

log = logging.getLogger("tradepit.api")

#: Path prefixes of the smd-options family, which uses its response envelope.
ENVELOPE_PREFIXES = (
    "/health",
    "/api/health",
    "/api/symbols",
    "/api/expiries",
    "/api/spot_price",
    "/api/option_chain",
    "/api/dashboard_data",
    "/api/market-status",
    "/api/historical-data",
    "/api/ohlc_data",
    "/api/websocket/stats",
    # Routes smd-options' own frontend calls, beyond its README's.
    "/api/market_status",
    "/api/underlying_ohlc",
    "/api/real-data",
    "/api/ping",
    "/api/websocket/test",
)

STATUS_BY_FAMILY: list[tuple[type[DomainError], int]] = [
    (InvalidInput, 400),
    (NotAuthenticated, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (TooManyAttempts, 429),
]

HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "NOT_AUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "UNAVAILABLE",
}


#: Path prefixes of Kite Connect's routes (at the origin's root, as the official client
#: joins them), which answer ``{"status": "error", "message", "error_type", "data"}``.
KITE_PREFIXES = (
    "/session",
    "/user",
    "/orders",
    "/trades",
    "/portfolio",
    "/quote",
    "/instruments",
    "/margins",
    "/charges",
    "/gtt",
    "/mf",
    "/kite",
)


def is_kite(path: str) -> bool:
    """Tell whether ``path`` belongs to the Kite Connect family."""
    return any(path == p or path.startswith(p + "/") for p in KITE_PREFIXES)


def kite_error(status: int, code: str) -> tuple[int, str]:
    """Return the status and the client's exception class (``error_type``) Kite answers for
    an error of ``status`` and ``code``: the official client raises that class."""
    if status == 401:
        return 403, "TokenException"
    if status == 403:
        return 403, "PermissionException"
    if status in (400, 413, 415, 422):
        return 400, "OrderException" if code == "ORDER_REJECTED" else "InputException"
    if status == 404:
        if "ORDER" in code:
            return 404, "OrderException"
        return 404, "GeneralException" if code == "NOT_FOUND" else "InputException"
    if status == 409:
        return 400, "OrderException"
    if status in (429, 503):
        return status, "NetworkException"
    return status, "GeneralException"


def uses_envelope(path: str) -> bool:
    """Tell whether ``path`` belongs to the smd-options family."""
    return path == "/api" or any(path == p or path.startswith(p + "/") for p in ENVELOPE_PREFIXES)


def timestamp() -> str:
    """Return now in ISO 8601 with milliseconds and offset."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def error_body(path: str, code: str, message: str, details: Any = None) -> dict[str, Any]:
    """Return the error body in the shape of the family ``path`` belongs to."""
    if uses_envelope(path):
        return {
            "success": False,
            "message": message,
            "timestamp": timestamp(),
            "error": {"code": code, "details": details or {}},
        }
    return {
        "success": False,
        "message": message,
        "detail": details or message,
        "code": code,
        "error": message,
    }


def error_response(
    path: str,
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """Return a JSON error response in the family's shape."""
    if is_kite(path):
        status, error_type = kite_error(status, code)
        body = {"status": "error", "message": message, "error_type": error_type, "data": None}
        return JSONResponse(body, status_code=status, headers=headers)
    return JSONResponse(
        error_body(path, code, message, details), status_code=status, headers=headers
    )


def status_of(exc: DomainError) -> int:
    """Return the HTTP status for a domain error, by its family."""
    for family, status in STATUS_BY_FAMILY:
        if isinstance(exc, family):
            return status
    return 400


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyAttempts) else None
    if isinstance(exc, NotAuthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    return error_response(request.url.path, status_of(exc), exc.code, exc.message, headers=headers)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Never echo the input back: it may be a password.
    return [
        {
            "loc": list(err.get("loc", ())),
            "field": ".".join(str(part) for part in err.get("loc", ())),
            "msg": err.get("msg", "invalid"),
            "type": err.get("type", "value_error"),
        }
        for err in exc.errors()
    ]


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _field_errors(exc)
    first = errors[0] if errors else {"field": "", "msg": "invalid request"}
    message = f"{first['field']}: {first['msg']}" if first["field"] else str(first["msg"])
    # smd-options documents bad parameters as 400 VALIDATION_ERROR; FastAPI families use 422.
    status = 400 if uses_envelope(request.url.path) else 422
    return error_response(request.url.path, status, "VALIDATION_ERROR", message, errors)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "ERROR")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").lower()
    return error_response(request.url.path, exc.status_code, code, message, headers=exc.headers)


async def _integrity(request: Request, exc: Exception) -> JSONResponse:
    log.info("integrity conflict: %s", exc.__class__.__name__)
    return error_response(
        request.url.path, 409, "CONFLICT", "the request conflicts with data stored meanwhile; retry"
    )


async def _operational(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", exc)
    return error_response(
        request.url.path,
        503,
        "UNAVAILABLE",
        "the database is busy; retry shortly",
        headers={"Retry-After": "1"},
    )


async def _statement(request: Request, exc: Exception) -> JSONResponse:
    # A value the database type refused (an amount beyond the exact range) is the caller's.
    assert isinstance(exc, StatementError)
    if isinstance(exc.orig, DomainError):
        return await _domain(request, exc.orig)
    return await _unexpected(request, exc)


def internal_error(path: str) -> JSONResponse:
    """Return the answer to an error no handler knows: 500, and nothing of what went wrong."""
    return error_response(path, 500, "INTERNAL_ERROR", "internal error")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return internal_error(request.url.path)


def install(app: FastAPI) -> None:
    """Register the error handlers on ``app``."""
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(OperationalError, _operational)
    app.add_exception_handler(StatementError, _statement)
    app.add_exception_handler(Exception, _unexpected)
