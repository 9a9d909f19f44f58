"""The ticker through the official ``KiteTicker``: ticks in every mode, order updates, and
a refused token."""

from __future__ import annotations

import asyncio
import json
import struct
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.kite.conftest import Bot, new_bot
from tests.realtime.conftest import live_app


async def _tokens(bot: Bot, *keys: str) -> dict[str, int]:
    found = await bot.call(bot.kite.ltp, list(keys))
    return {key: found[key]["instrument_token"] for key in keys}


async def _ticker(
    live: str, api_key: str, access_token: str, mode: str, seconds: float, tokens: list[int],
    during: Any = None,
) -> dict[str, Any]:  # fmt: skip
    """Run the official ticker in a process for ``seconds``; run ``during`` once it is
    connected; return what it received."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.kite.ticker_client", f"ws://{live}/kite/ws", api_key,
        access_token, mode, str(seconds), *(str(t) for t in tokens),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    first = await asyncio.wait_for(process.stdout.readline(), 30)
    if first.strip() == b"connected" and during is not None:
        await during()
    rest = await asyncio.wait_for(process.stdout.read(), 60)
    await process.wait()
    lines = [line for line in (first + rest).decode().splitlines() if line.startswith("{")]
    assert lines, (first, rest, await process.stderr.read() if process.stderr else b"")
    got: dict[str, Any] = json.loads(lines[-1])
    return got


class TestModes:
    async def test_ltp_quote_and_full_ticks(self, live: str, bot: Bot) -> None:
        tokens = await _tokens(bot, "NSE:RELIANCE", "NSE:NIFTY 50")
        reliance, nifty = tokens["NSE:RELIANCE"], tokens["NSE:NIFTY 50"]
        price = (await bot.call(bot.kite.ltp, "NSE:RELIANCE"))["NSE:RELIANCE"]["last_price"]
        for mode in ("ltp", "quote", "full"):
            got = await _ticker(
                live, bot.api_key, bot.kite.access_token, mode, 3, [reliance, nifty]
            )
            assert got["errors"] == [], got
            ticks = [t for t in got["ticks"] if t["mode"] == mode]
            seen = {t["instrument_token"] for t in ticks}
            assert seen == {reliance, nifty}, (mode, got["ticks"][:3])
            share = next(t for t in ticks if t["instrument_token"] == reliance)
            index = next(t for t in ticks if t["instrument_token"] == nifty)
            assert share["tradable"] is True and index["tradable"] is False
            # Paise on the wire: the client's scaling gives back rupees.
            assert abs(share["last_price"] - price) / price < 0.05
            if mode != "ltp":
                assert share["ohlc"]["low"] <= share["last_price"] <= share["ohlc"]["high"]
                assert index["ohlc"]["close"] > 0
            if mode == "full":
                depth = share["depth"]
                assert len(depth["buy"]) == len(depth["sell"]) == 5
                assert 0 < depth["buy"][0]["price"] <= depth["sell"][0]["price"]
                assert "exchange_timestamp" in index

    async def test_order_updates_arrive_as_text(self, live: str, bot: Bot) -> None:
        token = (await _tokens(bot, "NSE:INFY"))["NSE:INFY"]

        async def place() -> None:
            await bot.call(
                bot.kite.place_order, variety="regular", exchange="NSE", tradingsymbol="INFY",
                transaction_type="BUY", quantity=1, product="MIS", order_type="MARKET",
            )  # fmt: skip

        got = await _ticker(live, bot.api_key, bot.kite.access_token, "ltp", 3, [token], place)
        statuses = [o["status"] for o in got["orders"]]
        assert "COMPLETE" in statuses, got["orders"]
        done = next(o for o in got["orders"] if o["status"] == "COMPLETE")
        assert done["tradingsymbol"] == "INFY" and done["filled_quantity"] == 1
        assert done["instrument_token"] == token

    async def test_a_future_ticks_on_its_token(self, live: str, bot: Bot) -> None:
        listed = await bot.call(bot.kite.instruments, "NFO")
        future = next(i for i in listed if i["segment"] == "NFO-FUT" and i["name"] == "NIFTY")
        token = future["instrument_token"]
        assert token & 0xFF == 2
        got = await _ticker(live, bot.api_key, bot.kite.access_token, "quote", 3, [token])
        assert got["errors"] == [], got
        assert {t["instrument_token"] for t in got["ticks"]} == {token}
        assert all(t["tradable"] and t["last_price"] > 0 for t in got["ticks"])


class TestRefused:
    async def test_a_bad_or_revoked_token_gets_no_ticks(
        self, http: httpx.AsyncClient, live: str, bot: Bot
    ) -> None:
        token = (await _tokens(bot, "NSE:INFY"))["NSE:INFY"]
        got = await _ticker(live, bot.api_key, "garbage", "ltp", 2, [token])
        assert got["ticks"] == [] and got["errors"]
        access = bot.kite.access_token
        await bot.call(bot.kite.invalidate_access_token)
        got = await _ticker(live, bot.api_key, access, "ltp", 2, [token])
        assert got["ticks"] == [] and got["errors"]


async def _packets(ws: ClientConnection, within: float = 5.0) -> list[tuple[int, int]]:
    """Return (token, length) of the packets of the next binary frame with packets."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        message = await asyncio.wait_for(ws.recv(), max(0.01, deadline - loop.time()))
        if isinstance(message, bytes) and len(message) > 2:
            found, at = [], 2
            for _ in range(struct.unpack(">H", message[:2])[0]):
                (length,) = struct.unpack(">H", message[at : at + 2])
                found.append((struct.unpack(">I", message[at + 2 : at + 6])[0], length))
                at += 2 + length
            return found


class TestProtocol:
    async def test_modes_switch_and_unsubscribe_stops_ticks(self, live: str, bot: Bot) -> None:
        tokens = await _tokens(bot, "NSE:RELIANCE", "NSE:NIFTY 50")
        share, index = tokens["NSE:RELIANCE"], tokens["NSE:NIFTY 50"]
        url = f"ws://{live}/kite/ws?api_key={bot.api_key}&access_token={bot.kite.access_token}"
        async with connect(url) as ws:
            await ws.send(json.dumps({"a": "subscribe", "v": [share, index, 999_999_999]}))
            await ws.send(json.dumps({"a": "mode", "v": ["ltp", [share, index]]}))
            while {length for _, length in await _packets(ws)} != {8}:
                pass
            await ws.send(json.dumps({"a": "mode", "v": ["full", [share, index]]}))
            while True:
                found = dict(await _packets(ws))
                if found.get(share) == 184:
                    break
            await ws.send(json.dumps({"a": "unsubscribe", "v": [share]}))
            await asyncio.sleep(0.5)
            later = [token for _ in range(3) for token, _ in await _packets(ws)]
            assert share not in later and index in later
            await ws.send("not json")
            while True:
                reply = await asyncio.wait_for(ws.recv(), 5)
                if isinstance(reply, str):
                    assert json.loads(reply)["type"] == "error"
                    break

    async def test_a_quiet_connection_gets_heartbeats(self, live: str, bot: Bot) -> None:
        url = f"ws://{live}/kite/ws?api_key={bot.api_key}&access_token={bot.kite.access_token}"
        async with connect(url) as ws:
            beat = await asyncio.wait_for(ws.recv(), 5)
            assert beat == b"\x00"


class TestSessionEnds:
    async def test_a_deleted_app_or_a_logout_closes_the_ticker(
        self, tmp_path: Path, db: str
    ) -> None:
        async with (
            live_app(tmp_path / "data", db, ws_recheck_seconds=0.2) as live,
            httpx.AsyncClient(base_url=f"http://{live}", timeout=10) as http,
        ):
            for end in ("logout", "delete"):
                bot = await new_bot(http, live)
                url = f"ws://{live}/kite/ws?api_key={bot.api_key}&access_token={bot.kite.access_token}"
                async with connect(url) as ws:
                    await asyncio.wait_for(ws.recv(), 5)  # a heartbeat: it is open
                    if end == "logout":
                        await bot.call(bot.kite.invalidate_access_token)
                    else:
                        listed = await http.get(
                            "/api/kite/apps", headers={"Authorization": f"Bearer {bot.bearer}"}
                        )
                        await http.delete(
                            f"/api/kite/apps/{listed.json()[0]['id']}",
                            headers={"Authorization": f"Bearer {bot.bearer}"},
                        )
                    with pytest.raises(ConnectionClosed) as closed:
                        while True:
                            await asyncio.wait_for(ws.recv(), 5)
                    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
