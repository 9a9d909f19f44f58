"""The main routes read as a reference in /docs: every answer they give has an example, every
field of their request and response schemas says what it is, and every example is exactly
what the route's response model sends (so an example cannot drift from its model)."""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError

import tradepit.api

#: The main routes: auth, orders, positions, wallet and ledger (paper trading), bets
#: (predictions), tournaments, the calculator and linked accounts (broker accounts) by tag...
MAIN_TAGS = frozenset({"auth", "paper trading", "predictions", "tournaments", "broker accounts"})
#: ...and the option chain under each of the names its clients call.
CHAIN_PATHS = frozenset(
    {
        "/api/option_chain",
        "/api/real-data/option-chain/{symbol}",
        "/api/candles/options-chain/{symbol}",
    }
)
JSON = "application/json"


def main_operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yield (method, path, operation) for every main route of ``spec``."""
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if MAIN_TAGS & set(operation.get("tags", [])) or path in CHAIN_PATHS:
                yield method.upper(), path, operation


def answers(operation: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (status, response) for every 2xx answer of ``operation``."""
    for status, response in operation["responses"].items():
        if status.startswith("2"):
            yield status, response


def undescribed(spec: dict[str, Any], roots: list[Any]) -> list[str]:
    """Return ``Schema.property`` for every property without a description in the schemas
    ``roots`` reach (through ``$ref``, items, ``anyOf``... at any depth)."""
    components = spec["components"]["schemas"]
    seen: set[str] = set()
    found: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, where)
            return
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                walk(components[name], name)
        for prop, schema in node.get("properties", {}).items():
            if not schema.get("description"):
                found.append(f"{where}.{prop}")
        for key, value in node.items():
            if key != "$ref":
                walk(value, where)

    walk(roots, "(inline)")
    return sorted(set(found))


def routes_by_operation() -> dict[tuple[str, str], APIRoute]:
    """Return the routes of every router in ``tradepit.api`` by (method, OpenAPI path)."""
    found: dict[tuple[str, str], APIRoute] = {}
    for info in pkgutil.iter_modules(tradepit.api.__path__):
        module = importlib.import_module(f"tradepit.api.{info.name}")
        for router in vars(module).values():
            if isinstance(router, APIRouter):
                for route in router.routes:
                    if isinstance(route, APIRoute):
                        found |= {
                            (method, route.path_format): route for method in route.methods or ()
                        }
    return found


@pytest.fixture
async def spec(client: httpx.AsyncClient) -> dict[str, Any]:
    """Return the OpenAPI document the app serves."""
    document: dict[str, Any] = (await client.get("/openapi.json")).json()
    return document


def test_the_main_routes_are_all_there(spec: dict[str, Any]) -> None:
    found = {(method, path) for method, path, _ in main_operations(spec)}
    assert len(found) >= 60
    for expected in [
        ("POST", "/api/login"),
        ("POST", "/api/paper-trading/orders"),
        ("GET", "/api/paper-trading/positions"),
        ("GET", "/api/paper-trading/wallet"),
        ("GET", "/api/option_chain"),
        ("POST", "/api/bet"),
        ("GET", "/api/tournaments/{tournament_id}/leaderboard"),
        ("POST", "/api/calculate"),
        ("GET", "/api/accounts"),
    ]:
        assert expected in found


def test_every_answer_of_a_main_route_has_an_example(spec: dict[str, Any]) -> None:
    missing = []
    for method, path, operation in main_operations(spec):
        for status, response in answers(operation):
            content = response.get("content", {})
            if status == "204":
                assert not content, (method, path)
            elif "example" not in content.get(JSON, {}):
                missing.append(f"{method} {path} {status}")
    assert not missing, "answers without an example:\n" + "\n".join(missing)


def test_every_field_of_a_main_route_says_what_it_is(spec: dict[str, Any]) -> None:
    roots: list[Any] = []
    for _, _, operation in main_operations(spec):
        roots.append(operation.get("requestBody", {}))
        roots += [response.get("content", {}) for _, response in answers(operation)]
    missing = undescribed(spec, roots)
    assert not missing, "fields without a description:\n" + "\n".join(missing)


def differences(sent: Any, shown: Any, where: str = "") -> list[str]:
    """Return where ``sent`` and ``shown`` differ, as ``path: sent != shown``."""
    if isinstance(sent, dict) and isinstance(shown, dict):
        return [
            line
            for key in sorted(sent.keys() | shown.keys(), key=str)
            for line in differences(
                sent.get(key, "<absent>"), shown.get(key, "<absent>"), f"{where}.{key}"
            )
        ]
    if isinstance(sent, list) and isinstance(shown, list) and len(sent) == len(shown):
        return [
            line
            for i, (one, other) in enumerate(zip(sent, shown, strict=True))
            for line in differences(one, other, f"{where}[{i}]")
        ]
    return (
        [] if sent == shown and type(sent) is type(shown) else [f"{where}: {sent!r} != {shown!r}"]
    )


def test_every_example_is_what_its_model_sends(spec: dict[str, Any]) -> None:
    """Read each example through the route's response model (as a client reads the JSON) and
    write it back as the route would: it must come out unchanged, every field and format."""
    routes = routes_by_operation()
    problems = []
    checked = 0
    for method, path, operation in main_operations(spec):
        route = routes[(method, path)]
        for status, response in answers(operation):
            media = response.get("content", {}).get(JSON, {})
            if "example" not in media:
                continue
            checked += 1
            model = route.responses.get(int(status), {}).get("model", route.response_model)
            adapter: TypeAdapter[Any] = TypeAdapter(model)
            example = media["example"]
            try:
                read = adapter.validate_json(json.dumps(example))
            except ValidationError as exc:
                problems.append(f"{method} {path} {status}: {exc}")
                continue
            sent = adapter.dump_python(read, mode="json", by_alias=True)
            problems += [f"{method} {path} {status}{d}" for d in differences(sent, example)]
    assert not problems, "examples unlike what the model sends:\n" + "\n".join(problems)
    assert checked >= 60


@pytest.mark.parametrize(
    ("properties", "missing"),
    [
        ({"a": {"type": "string", "description": "An A"}}, []),
        ({"a": {"type": "string", "description": "An A"}, "b": {"type": "string"}}, ["Row.b"]),
    ],
)
def test_an_undescribed_field_is_found(properties: dict[str, Any], missing: list[str]) -> None:
    row = {"$ref": "#/components/schemas/Row"}
    page = {"properties": {"rows": {"items": row, "description": "Rows"}}}
    spec = {"components": {"schemas": {"Page": page, "Row": {"properties": properties}}}}
    roots = [{"schema": {"anyOf": [{"$ref": "#/components/schemas/Page"}, {"type": "null"}]}}]
    assert undescribed(spec, roots) == missing
