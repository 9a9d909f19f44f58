"""What Kite's routes depend on: the form-encoded body, the ``token api_key:access_token``
header, and Kite's success envelope."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from tradepit.api.deps import IpDep, Wiring, WiringDep
from tradepit.domain.errors import InvalidInput
from tradepit.services.callers import Caller
from tradepit.services.kite import apps
from tradepit.services.kite.apps import InvalidSession

Form = TypeVar("Form", bound=BaseModel)
#: The largest form a Kite route reads (an order is a few hundred bytes).
MAX_FORM_BYTES = 16_384


def success(data: Any, status_code: int = 200) -> JSONResponse:
    """Return Kite's success envelope around ``data``."""
    return JSONResponse({"status": "success", "data": data}, status_code=status_code)


async def form_fields(request: Request) -> dict[str, str]:
    """Return the request's form fields (``application/x-www-form-urlencoded``) with the
    query's: Kite's client sends a DELETE's fields in the query, a POST's or PUT's in the
    body."""
    fields = dict(request.query_params)
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InvalidInput("the form is too large")
    if body:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in ("application/x-www-form-urlencoded", ""):
            raise InvalidInput("send the fields form-encoded (application/x-www-form-urlencoded)")
        try:
            text = body.decode()
        except UnicodeDecodeError as exc:
            raise InvalidInput("the form is not UTF-8") from exc
        fields.update(parse_qsl(text, keep_blank_values=True))
    return fields


FieldsDep = Annotated[dict[str, str], Depends(form_fields)]


def parse(model: type[Form], fields: Mapping[str, str]) -> Form:
    """Return ``fields`` read as ``model``; bad fields are the caller's (InputException)."""
    try:
        return model.model_validate(dict(fields))
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_input=False)) from exc


def _token(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    api_key, _, access_token = credentials.strip().partition(":")
    if scheme.lower() != "token" or not api_key or not access_token:
        raise InvalidSession("Send 'Authorization: token api_key:access_token'.")
    return api_key, access_token


async def kite_login(wired: Wiring, api_key: str, access_token: str, ip: str) -> Caller:
    """Return the caller an app's ``api_key`` and ``access_token`` prove (the REST routes'
    header, the ticker's query, and its re-checks)."""
    return await apps.authenticate(
        wired.sessionmaker,
        wired.identities,
        wired.auth,
        wired.wall,
        api_key=api_key,
        access_token=access_token,
        ip=ip,
    )


async def kite_caller(request: Request, wired: WiringDep, ip: IpDep) -> Caller:
    """Return the caller the ``token api_key:access_token`` header proves."""
    return await kite_login(wired, *_token(request), ip)


KiteCallerDep = Annotated[Caller, Depends(kite_caller)]
