"""Who may open a socket: the ``Origin`` of a browser page, checked by ``/ws``, Socket.IO and
csv-accounts' ``/api/ws`` against the CORS allow-list, and the per-user cap of open sockets
across the three, against a running server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import socketio
from websockets import Origin
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.conftest import make_settings
from tests.realtime.conftest import (
    live_app,
    market_clock,
    receive,
    receive_until,
    serving,
    user_token,
    ws_url,
)
from tests.realtime.test_ws import closed_with
from tests.standins import until
from tradepit.app import create_app

ALLOWED = "http://localhost:3000"  # the default TRADEPIT_CORS_ORIGINS
FOREIGN = "https://evil.example"
POLLING = "/socket.io/?EIO=4&transport=polling"


def accounts_url(address: str, token: str) -> str:
    """Return csv-accounts' /api/ws URL with ``token``."""
    return f"ws://{address}/api/ws?token={token}"


@asynccontextmanager
async def sio(
    address: str, token: str | None = None, origin: str | None = None
) -> AsyncIterator[socketio.AsyncClient]:
    """Connect a Socket.IO client over the websocket transport, sending ``origin``."""
    headers = {"Origin": origin} if origin else {}
    auth = {"token": token} if token else None
    # Its own HTTP session: the client leaves it open when the handshake is refused.
    async with aiohttp.ClientSession() as session:
        client = socketio.AsyncClient(reconnection=False, http_session=session, handle_sigint=False)
        await client.connect(
            f"http://{address}",
            auth=auth,
            headers=headers,
            transports=["websocket"],
            wait_timeout=5,
        )
        try:
            yield client
        finally:
            await client.disconnect()


def refused_body(refusal: InvalidStatus) -> dict[str, Any]:
    """Return the JSON body of a refused handshake."""
    body: dict[str, Any] = json.loads(refusal.response.body or b"{}")
    return body


class TestOrigin:
    async def test_ws_refuses_a_foreign_page_with_403(
        self, live: str, http: httpx.AsyncClient
    ) -> None:
        _, token = await user_token(http)
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ws_url(live, token=token), origin=Origin(FOREIGN)):
                pass
        assert refused.value.response.status_code == 403
        body = refused_body(refused.value)
        assert body["success"] is False and body["code"] == "ORIGIN_NOT_ALLOWED"

    async def test_ws_lets_an_allowed_page_and_a_bot_in(
        self, live: str, http: httpx.AsyncClient
    ) -> None:
        user, token = await user_token(http)
        async with connect(ws_url(live, token=token), origin=Origin(ALLOWED)) as page:
            assert (await receive(page))["user_id"] == user["id"]
        async with connect(ws_url(live, token=token)) as bot:  # no Origin at all
            assert (await receive(bot))["user_id"] == user["id"]

    async def test_ws_and_accounts_socket_let_the_servers_own_page_in(
        self, live: str, http: httpx.AsyncClient
    ) -> None:
        """The web console at ``/`` is this server's own page, as okx-bets' is Socket.IO's."""
        user, token = await user_token(http)
        own = Origin(f"http://{live}")
        async with connect(ws_url(live, token=token), origin=own) as page:
            assert (await receive(page))["user_id"] == user["id"]
        async with connect(accounts_url(live, token), origin=own) as page:
            assert (await receive(page))["type"] == "lock_status"
        # Another port of the same host is another origin.
        host, port = live.rsplit(":", 1)
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                ws_url(live, token=token), origin=Origin(f"http://{host}:{int(port) + 1}")
            ):
                pass
        assert refused.value.response.status_code == 403

    async def test_accounts_socket_refuses_a_foreign_page_with_403(
        self, live: str, http: httpx.AsyncClient
    ) -> None:
        _, token = await user_token(http)
        with pytest.raises(InvalidStatus) as refused:
            async with connect(accounts_url(live, token), origin=Origin(FOREIGN)):
                pass
        assert refused.value.response.status_code == 403
        assert refused_body(refused.value)["code"] == "ORIGIN_NOT_ALLOWED"
        async with connect(accounts_url(live, token), origin=Origin(ALLOWED)) as page:
            assert (await receive(page))["type"] == "lock_status"

    async def test_socketio_refuses_a_foreign_page(
        self, live: str, http: httpx.AsyncClient
    ) -> None:
        _, token = await user_token(http)
        with pytest.raises(socketio.exceptions.ConnectionError):
            async with sio(live, token, origin=FOREIGN):
                pass
        async with sio(live, token, origin=ALLOWED) as client:
            assert client.connected
        async with sio(live, token) as client:  # a bot: no Origin
            assert client.connected

    async def test_socketio_polling_refuses_a_foreign_page(self, http: httpx.AsyncClient) -> None:
        foreign = await http.get(POLLING, headers={"Origin": FOREIGN})
        assert foreign.status_code == 400
        assert "access-control-allow-origin" not in foreign.headers
        allowed = await http.get(POLLING, headers={"Origin": ALLOWED})
        assert allowed.status_code == 200
        assert allowed.headers.get_list("access-control-allow-origin") == [ALLOWED]
        assert allowed.headers.get_list("access-control-allow-credentials") == ["true"]

    async def test_a_wildcard_allows_every_page(self, tmp_path: Path, db: str) -> None:
        async with (
            live_app(tmp_path / "data", db, cors_origins=["*"]) as address,
            httpx.AsyncClient(base_url=f"http://{address}") as http,
        ):
            user, token = await user_token(http)
            async with connect(ws_url(address, token=token), origin=Origin(FOREIGN)) as ws:
                assert (await receive(ws))["user_id"] == user["id"]
            async with sio(address, token, origin=FOREIGN) as client:
                assert client.connected
            polled = await http.get(POLLING, headers={"Origin": FOREIGN})
            assert polled.status_code == 200
            # '*' serves anonymous requests only: never credentials for any page.
            assert polled.headers.get("access-control-allow-credentials") != "true"


async def test_one_user_holds_at_most_the_cap_of_sockets_across_gateways(
    tmp_path: Path, db: str
) -> None:
    settings = make_settings(tmp_path / "data", db, ws_max_connections_per_user=2)
    app = create_app(settings, clock=market_clock())
    hub = app.state.wiring.hub
    try:
        async with (
            serving(app) as address,
            httpx.AsyncClient(base_url=f"http://{address}") as http,
        ):
            user, token = await user_token(http)
            other, other_token = await user_token(http)
            async with connect(ws_url(address, token=token)) as first:
                await receive(first)
                async with connect(accounts_url(address, token)) as second:
                    await receive(second)
                    assert hub.sockets_of(user["id"]) == 2
                    # The third socket of the same user, whichever the gateway, is refused.
                    async with connect(ws_url(address, token=token)) as third:
                        error, _ = await receive_until(third, "error")
                        code, reason = await closed_with(third)
                    assert error["code"] == "TOO_MANY_USER_CONNECTIONS"
                    assert "at most 2" in error["message"]
                    assert (code, reason) == (1008, error["message"])
                    async with connect(accounts_url(address, token)) as fourth:
                        code, reason = await closed_with(fourth)
                    assert code == 1008 and "at most 2" in str(reason)
                    with pytest.raises(socketio.exceptions.ConnectionError):
                        async with sio(address, token):
                            pass
                    assert hub.sockets_of(user["id"]) == 2  # the refused ones hold none
                    # Another user is not affected.
                    async with connect(ws_url(address, token=other_token)) as theirs:
                        assert (await receive(theirs))["user_id"] == other["id"]
                # A closed socket frees its slot.
                await until(lambda: hub.sockets_of(user["id"]) == 1)
                async with sio(address, token) as client:
                    assert client.connected
                    assert hub.sockets_of(user["id"]) == 2
            await until(lambda: hub.sockets_of(user["id"]) == 0)
            await until(lambda: hub.sockets_of(other["id"]) == 0)
    finally:
        await app.state.wiring.engine.dispose()
