"""Small helpers that create users and log them in through the public API or the services."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
from fastapi import FastAPI

from tradepit.domain.accounts import Role
from tradepit.services import auth

PASSWORD = "password123"
_names = itertools.count(1)


def unique_name(prefix: str = "user") -> str:
    """Return a username not used before in this run."""
    return f"{prefix}{next(_names)}"


async def register(
    client: httpx.AsyncClient, name: str | None = None, password: str = PASSWORD, **extra: Any
) -> dict[str, Any]:
    """Register through ``POST /api/register``; return the response body."""
    response = await client.post(
        "/api/register", json={"username": name or unique_name(), "password": password, **extra}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def login(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> str:
    """Log in through ``POST /api/login``; return the bearer token."""
    response = await client.post("/api/login", json={"username": name, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def user_with_token(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, str]]:
    """Register a fresh user; return their registration body and auth headers."""
    body = await register(client)
    token = await login(client, body["username"])
    return body, {"Authorization": f"Bearer {token}"}


async def make_user(app: FastAPI, role: Role = Role.USER, name: str | None = None) -> int:
    """Create a user with ``role`` directly through the service; return the id."""
    wired = app.state.wiring
    async with wired.sessionmaker() as session:
        user, _ = await auth.register(
            session,
            wired.auth,
            wired.wall,
            wired.clock,
            wired.starting_balances,
            username=name or unique_name(role.value),
            password=PASSWORD,
            email=None,
            ip="test",
            role=role,
        )
        await session.commit()
        return user.id


async def admin_headers(
    app: FastAPI, client: httpx.AsyncClient, role: Role = Role.ADMIN
) -> tuple[int, dict[str, str]]:
    """Create an administrator with ``role``; return their id and auth headers."""
    name = unique_name(role.value)
    user_id = await make_user(app, role, name)
    return user_id, {"Authorization": f"Bearer {await login(client, name)}"}
