"""Response examples for the OpenAPI document: what /docs shows as a route's answer.

An example is the answer's JSON exactly as the route sends it (the data lives beside its model
in ``schemas/``); ``tests/api/test_reference.py`` reads each one through the route's response
model and writes it back, and it must come out unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute

JSON = "application/json"


def example(value: Any, **response: Any) -> dict[str, Any]:
    """Return a ``responses`` entry showing ``value`` as the JSON answer; ``response`` adds the
    entry's other keys (``description``, ``headers``, ``model``)."""
    return {**response, "content": {JSON: {"example": value}}}


def as_declared(
    generate: Callable[[], dict[str, Any]], routers: Iterable[APIRouter]
) -> Callable[[], dict[str, Any]]:
    """Return ``generate`` (an app's ``openapi``) with the document as ``routers`` declare it:
    - their paths in their order (the app includes the busiest routers first, for speed);
    - their routes' response examples put back as declared: FastAPI drops every null from the
      document it writes, and an example without its null fields would hide them (``"price":
      null`` of a MARKET order)."""
    routes = [
        route
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and route.include_in_schema
    ]
    rank = {path: n for n, path in enumerate(dict.fromkeys(route.path_format for route in routes))}
    declared = [
        (route.path_format, method.lower(), str(status), answer["content"][JSON]["example"])
        for route in routes
        for method in route.methods or ()
        for status, answer in route.responses.items()
        if "example" in answer.get("content", {}).get(JSON, {})
    ]

    def openapi() -> dict[str, Any]:
        spec = generate()
        paths = spec["paths"]  # the app's own (health) first, as included, then ``routers``'
        spec["paths"] = {path: paths[path] for path in sorted(paths, key=lambda p: rank.get(p, -1))}
        for path, method, status, value in declared:
            media = spec["paths"][path][method]["responses"][status]["content"][JSON]
            media["example"] = value
        return spec

    return openapi
