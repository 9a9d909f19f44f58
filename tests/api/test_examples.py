"""Every request example in the OpenAPI document is a body its route accepts for a new user:
each is sent as /docs' "Try it out" would send it, and none is refused as malformed (400/422)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import admin_headers, user_with_token
from tradepit.domain.accounts import Role

#: Routes an administrator calls; the rest are called by a user who has just signed up.
ADMIN_PREFIXES = ("/api/admin/", "/api/broadcast_orders", "/api/broadcasts/")
#: Examples that need something outside Tradepit, and where they are tested instead.
ELSEWHERE = {
    ("POST", "/api/admin/feeds/kite/session"): "a Kite app: tests/api/test_feeds.py, stand-in",
}


def examples(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Return (method, path, body) for every JSON request example in ``spec``."""
    found = []
    schemas = spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            media = content.get("application/json")
            if media is None:
                continue
            schema = media.get("schema", {})
            named = schemas.get(schema.get("$ref", "").rsplit("/", 1)[-1], schema)
            bodies = [*named.get("examples", [])]
            if "example" in media:
                bodies.append(media["example"])
            bodies += [e["value"] for e in media.get("examples", {}).values()]
            found += [(method.upper(), path, body) for body in bodies]
    return found


class Resources:
    """What path parameters name: made on first use, through the API itself."""

    def __init__(self, client: httpx.AsyncClient, admin: dict[str, str]) -> None:
        self.client = client
        self.admin = admin

    async def made(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
        answer = await self.client.request(method, path, json=body, headers=headers)
        assert answer.status_code < 300, (path, answer.text)
        return answer.json()

    async def value(self, name: str, user: dict[str, Any], headers: dict[str, str]) -> str:
        """Return an id for path parameter ``name``, for ``user``."""
        if name == "user_id":
            other, _ = await user_with_token(self.client)
            return str(other["id"])
        body: dict[str, Any]
        if name == "order_id":
            body = {"symbol": "INFY", "order_type": "LIMIT", "order_side": "BUY",
                    "quantity": "1", "price": "1000", "product": "CNC"}  # fmt: skip
            order = await self.made("POST", "/api/paper-trading/orders", body, headers)
            return str(order["id"])
        if name == "account_id":
            body = {"account_name": "paper", "broker": "paper"}
            return str((await self.made("POST", "/api/accounts", body, headers))["id"])
        if name == "index":
            await self.made("POST", "/api/add_csv", {"broker": "paper"}, headers)
            return "0"
        if name == "tournament_id":
            body = {"name": "Example", "start_time": "2030-01-01T04:00:00Z",
                    "end_time": "2030-01-01T10:00:00Z", "starting_capital": "100000"}  # fmt: skip
            return str((await self.made("POST", "/api/admin/tournaments", body, self.admin))["id"])
        if name == "broadcast_id":
            _, owner = await user_with_token(self.client)
            account = {"account_name": "paper", "broker": "paper", "server": "USD"}
            made = await self.made("POST", "/api/accounts", account, owner)
            body = {
                "symbol": "XAUUSD",
                "side": "BUY",
                "lots": 0.01,
                "target_accounts": [made["id"]],
            }
            sent = await self.made("POST", "/api/broadcast_orders", body, self.admin)
            return str(sent["broadcasts"][0]["id"])
        raise AssertionError(f"no way to make a {name} for the examples test")


async def test_every_request_example_is_accepted(app: FastAPI, client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    found = examples(spec)
    assert len(found) >= 15  # the main write routes carry one
    _, admin = await admin_headers(app, client, Role.SUPERADMIN)
    resources = Resources(client, admin)
    refused = []
    for method, template, body in found:
        if (method, template) in ELSEWHERE:
            continue
        user, headers = await user_with_token(client)
        if template.startswith(ADMIN_PREFIXES):
            headers = admin
        path = template
        while "{" in path:
            name = path[path.index("{") + 1 : path.index("}")]
            path = path.replace(f"{{{name}}}", await resources.value(name, user, headers))
        answer = await client.request(method, path, json=body, headers=headers)
        if answer.status_code in (400, 422) or answer.status_code >= 500:
            refused.append((method, template, answer.status_code, answer.text[:300]))
    assert not refused, "\n".join(map(str, refused))


@pytest.mark.parametrize("family", ["/api/paper-trading/orders", "/api/bet", "/api/calculate"])
async def test_the_main_write_routes_carry_an_example(
    client: httpx.AsyncClient, family: str
) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert [path for _, path, _ in examples(spec) if path == family]
