"""The library adapters (``docs/decisions.md``, "Library adapters").

The first tests fail when an upgrade changes a library's internals that an adapter uses, or
when pyproject.toml's pin moves without the adapter: read the adapter, check what its probe
looks at, then move its pin. The others run the gateways on the fast path and on the public
path (the fast paths switched off, or the libraries taken for other versions than the pinned
ones): a client of ``/ws`` and one of Socket.IO (python-socketio's own client) get ticks and
private events either way.
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.realtime.conftest import live_app, receive, receive_until, user_token, ws_url
from tests.realtime.test_socketio import sio_client
from tests.realtime.test_ws import BUY_ITC, ORDERS, private_until_balance
from tradepit import libraries
from tradepit.libraries import Missing, Pin, check_internals
from tradepit.market import kiteconnect_adapter
from tradepit.realtime.adapters import engineio_adapter, uvicorn_adapter
from tradepit.realtime.sio import SocketIOGateway

ADAPTERS = [uvicorn_adapter, engineio_adapter, kiteconnect_adapter]
#: The adapters of the gateways.
GATEWAYS = [uvicorn_adapter, engineio_adapter]
PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.LIBRARY)
def test_the_installed_library_has_the_internals_its_adapter_uses(adapter: ModuleType) -> None:
    found = check_internals(adapter.LIBRARY, adapter.PINS, adapter.probe)
    assert found.usable, (
        f"{adapter.__name__} cannot use its fast path: {found.problem}. The library changed: "
        "read the adapter against the new version, fix its probe, then move its pin."
    )
    assert adapter.internals().usable


def test_each_adapter_is_written_for_the_version_pyproject_pins() -> None:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += extra
    pinned = {}
    for requirement in declared:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^]]*\])?==([^;\s]+)", requirement)
        if match:
            pinned[match[1].lower()] = match[3]
    for adapter in ADAPTERS:
        for pin in adapter.PINS:
            assert pinned.get(pin.distribution) == pin.version, (adapter.__name__, pin)


def test_another_version_than_the_pin_means_the_public_path_and_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    probed: list[bool] = []
    with caplog.at_level(logging.WARNING, logger=libraries.log.name):
        found = check_internals("uvicorn", (Pin("uvicorn", "0.0.1"),), lambda: probed.append(True))
    assert not found.usable
    assert "written against 0.0.1" in found.problem
    assert "public path" in found.describe()
    assert probed == []  # other versions: their internals are not even looked at
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "uvicorn" in warnings[0].getMessage()


def test_a_failing_probe_means_the_public_path() -> None:
    def probe() -> None:
        raise Missing("protocol.writable is gone")

    found = check_internals("uvicorn", uvicorn_adapter.PINS, probe)
    assert not found.usable
    assert "protocol.writable is gone" in found.problem


# -- the gateways on either path ---------------------------------------------------------------


@dataclass
class Paths:
    """What the gateways did: frames written straight to a connection, batches handed to
    Engine.IO as encoded packets, batches ``emit``ted through python-socketio."""

    frames: int = 0
    handed: int = 0
    emitted: int = 0


@pytest.fixture(params=["fast", "switched off", "other versions"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run the test on the fast path, with ``TRADEPIT_LIBRARY_FAST_PATHS=0``, or with the
    gateways' adapters pinned to versions that are not installed."""
    if request.param == "other versions":
        for adapter in GATEWAYS:
            other = tuple(Pin(pin.distribution, "0.0.0") for pin in adapter.PINS)
            monkeypatch.setattr(adapter, "PINS", other)
            adapter.internals.cache_clear()
    yield request.param
    for adapter in GATEWAYS:  # the next call checks the pins again (restored by then)
        adapter.internals.cache_clear()


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch) -> Paths:
    """Count which way the gateways sent."""
    seen = Paths()
    write = uvicorn_adapter.Wire.write
    hand = SocketIOGateway._hand
    emit = SocketIOGateway._emit

    def counted_write(self: uvicorn_adapter.Wire, frame: bytes) -> bool:
        seen.frames += 1
        return write(self, frame)

    async def counted_hand(self: SocketIOGateway, *args: Any) -> None:
        seen.handed += 1
        await hand(self, *args)

    async def counted_emit(self: SocketIOGateway, *args: Any) -> None:
        seen.emitted += 1
        await emit(self, *args)

    monkeypatch.setattr(uvicorn_adapter.Wire, "write", counted_write)
    monkeypatch.setattr(SocketIOGateway, "_hand", counted_hand)
    monkeypatch.setattr(SocketIOGateway, "_emit", counted_emit)
    return seen


async def fast_path_metric(http: httpx.AsyncClient) -> dict[str, float]:
    """Return ``tradepit_library_fast_path`` by library, from ``/metrics``."""
    text = (await http.get("/metrics")).text
    found = re.findall(r'^tradepit_library_fast_path\{library="([^"]+)"\} (\S+)$', text, re.M)
    return {library: float(value) for library, value in found}


async def test_ws_delivers_ticks_and_private_events_on_either_path(
    path: str, paths: Paths, tmp_path: Path, db: str
) -> None:
    fast = path == "fast"
    async with (
        live_app(tmp_path / "data", db, library_fast_paths=path != "switched off") as address,
        httpx.AsyncClient(base_url=f"http://{address}", timeout=10) as http,
    ):
        _, token = await user_token(http)
        async with connect(ws_url(address, token=token)) as ws:
            await receive(ws)
            await ws.send(json.dumps({"type": "subscribe", "symbol": "ITC"}))
            await receive_until(ws, "subscribed")
            ticks = [(await receive_until(ws, "tick"))[0] for _ in range(4)]
            headers = {"Authorization": f"Bearer {token}"}
            placed = await http.post(ORDERS, json=BUY_ITC, headers=headers)
            assert placed.status_code == 201, placed.text
            events = await private_until_balance(ws)
        metric = await fast_path_metric(http)
    assert {t["symbol"] for t in ticks} == {"ITC"}
    assert [(m["type"], m.get("event")) for m in events] == [
        ("order", "new"), ("order", "fill"), ("position", None), ("balance", None)
    ]  # fmt: skip
    assert events[1]["order"]["id"] == placed.json()["id"]
    assert metric == {"uvicorn": float(fast), "python-engineio": float(fast)}
    assert (paths.frames > 0) is fast


async def test_socketio_delivers_ticks_and_private_events_on_either_path(
    path: str, paths: Paths, tmp_path: Path, db: str
) -> None:
    fast = path == "fast"
    async with (
        live_app(
            tmp_path / "data",
            db,
            starting_balance_usdt="100000",
            library_fast_paths=path != "switched off",
        ) as address,
        httpx.AsyncClient(base_url=f"http://{address}", timeout=10) as http,
    ):
        me, token = await user_token(http)
        async with sio_client(address, token) as (client, received):
            status = await received.next("connection_status")
            ack = await client.call("subscribe_symbol", {"symbol": "NIFTY"}, timeout=5)
            ticks = [await received.next("symbol_update") for _ in range(4)]
            body = {"symbol": "BTC-USDT", "order_type": "MARKET", "order_side": "BUY",
                    "quantity": "0.01", "product": "CNC"}  # fmt: skip
            headers = {"Authorization": f"Bearer {token}"}
            placed = await http.post(ORDERS, json=body, headers=headers)
            assert placed.status_code == 201, placed.text
            pushed = await received.next("balance_update")
            await client.emit("request_balance", {"telegram_username": me["username"]})
            answered = await received.next("balance_update")
    assert status["authenticated"] is True
    assert ack == {"success": True, "symbol": "NIFTY"}
    assert {t["symbol"] for t in ticks} == {"NIFTY"}
    assert pushed["telegram_username"] == me["username"]
    assert pushed["balance"] < 100000
    assert answered["balance"] == pushed["balance"]
    if fast:
        assert paths.emitted == 0
        assert paths.frames + paths.handed > 0
    else:
        assert paths.frames == paths.handed == 0
        assert paths.emitted > 0
