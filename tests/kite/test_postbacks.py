"""Postbacks: order updates POSTed to an app's postback URL with Kite's checksum, only to
allowed addresses, tried again with backoff."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.kite.conftest import Bot, new_bot
from tests.realtime.conftest import live_app
from tradepit.services.kite.postbacks import PostbackPolicy, Postbacks


@asynccontextmanager
async def receiver() -> AsyncIterator[tuple[str, asyncio.Queue[dict[str, Any]]]]:
    """Run a tiny HTTP server on loopback; yield its URL and the JSON bodies it receives."""
    bodies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await bodies.put(json.loads(await reader.readexactly(length)))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hook", bodies
    finally:
        server.close()
        await server.wait_closed()


async def _bot_with_postback(http: httpx.AsyncClient, live: str, url: str) -> Bot:
    bot = await new_bot(http, live)
    answer = await http.post(
        "/api/kite/apps",
        json={"name": "hooked", "redirect_url": "http://bot.example/cb", "postback_url": url},
        headers={"Authorization": f"Bearer {bot.bearer}"},
    )
    assert answer.status_code == 201
    created = answer.json()
    bot.api_key, bot.api_secret = created["api_key"], created["api_secret"]
    return bot


async def _buy(bot: Bot) -> str:
    order_id: str = await bot.call(
        bot.kite.place_order, variety="regular", exchange="NSE", tradingsymbol="INFY",
        transaction_type="BUY", quantity=1, product="MIS", order_type="MARKET",
    )  # fmt: skip
    return order_id


class TestPolicy:
    def test_public_addresses_only_unless_allowed(self) -> None:
        policy = PostbackPolicy.of([])
        assert policy.allows("8.8.8.8") and policy.allows("2606:4700:4700::1111")
        for private in ("127.0.0.1", "10.1.2.3", "192.168.1.1", "169.254.169.254", "::1"):
            assert not policy.allows(private)
        allowed = PostbackPolicy.of(["10.0.0.0/8", "127.0.0.1"])
        assert allowed.allows("10.1.2.3") and allowed.allows("127.0.0.1")
        assert not allowed.allows("192.168.1.1")


class TestDelivery:
    async def test_a_failed_post_is_tried_again_with_backoff(self) -> None:
        answers = [500, 0, 200]
        sent: list[bytes] = []
        slept: list[float] = []

        async def send(url: str, body: bytes) -> int:
            sent.append(body)
            status = answers.pop(0)
            if status == 0:
                raise OSError("connection refused")
            return status

        async def sleep(seconds: float) -> None:
            slept.append(seconds)

        job = Postbacks(None, None, None, PostbackPolicy.of(["127.0.0.1"]), send, sleep)  # type: ignore[arg-type]
        await job.deliver("http://127.0.0.1:9/hook", {"order_id": "1"})
        assert len(sent) == 3 and slept == [1.0, 2.0]

    async def test_it_gives_up_and_never_posts_to_a_refused_address(self) -> None:
        sent: list[bytes] = []

        async def send(url: str, body: bytes) -> int:
            sent.append(body)
            return 503

        async def sleep(seconds: float) -> None:
            return None

        job = Postbacks(None, None, None, PostbackPolicy.of(["127.0.0.1"]), send, sleep)  # type: ignore[arg-type]
        await job.deliver("http://127.0.0.1:9/hook", {"order_id": "1"})
        assert len(sent) == 5
        refusing = Postbacks(None, None, None, PostbackPolicy.of([]), send, sleep)  # type: ignore[arg-type]
        await refusing.deliver("http://127.0.0.1:9/hook", {"order_id": "1"})
        await refusing.deliver("http://localhost:9/hook", {"order_id": "1"})
        assert len(sent) == 5


class TestLive:
    async def test_an_order_update_is_posted_with_kites_checksum(
        self, tmp_path: Path, db: str
    ) -> None:
        async with (
            receiver() as (url, bodies),
            live_app(tmp_path / "data", db, kite_postback_allow=["127.0.0.1/32"]) as live,
            httpx.AsyncClient(base_url=f"http://{live}", timeout=10) as http,
        ):
            bot = await _bot_with_postback(http, live, url)
            order_id = await _buy(bot)
            seen: list[dict[str, Any]] = []
            while not any(b["status"] == "COMPLETE" for b in seen):
                seen.append(await asyncio.wait_for(bodies.get(), 10))
            done = next(b for b in seen if b["status"] == "COMPLETE")
            assert done["order_id"] == order_id and done["app_id"] == bot.api_key
            text = done["order_id"] + done["order_timestamp"] + bot.api_secret
            assert done["checksum"] == hashlib.sha256(text.encode()).hexdigest()

    async def test_loopback_is_refused_unless_the_operator_allows_it(
        self, tmp_path: Path, db: str
    ) -> None:
        async with (
            receiver() as (url, bodies),
            live_app(tmp_path / "data", db) as live,
            httpx.AsyncClient(base_url=f"http://{live}", timeout=10) as http,
        ):
            bot = await _bot_with_postback(http, live, url)
            await _buy(bot)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(bodies.get(), 3)
