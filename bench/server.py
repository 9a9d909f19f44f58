"""A real ``tradepit serve`` subprocess on loopback, for benchmarks and crash tests."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tradepit.store.db import create_engine

TRADEPIT = Path(sys.executable).parent / "tradepit"
STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    """Return a loopback port nobody listens on right now."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(data_dir: Path) -> dict[str, str]:
    """Return the server's environment: ours without TRADEPIT_*, plus fast test settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEPIT_")}
    env.update(
        {
            "TRADEPIT_DATA_DIR": str(data_dir),
            "TRADEPIT_MARKET_HOURS": "always",
            "TRADEPIT_ARGON2_TIME_COST": "1",
            "TRADEPIT_ARGON2_MEMORY_COST_KIB": "1024",
            "TRADEPIT_ARGON2_PARALLELISM": "1",
            "TRADEPIT_RATE_LIMIT": "10000000/minute",
            "TRADEPIT_AUTH_RATE_LIMIT": "10000000/minute",
            "TRADEPIT_STARTING_BALANCE_INR": "1000000000",
            "TRADEPIT_LOG_LEVEL": "WARNING",
        }
    )
    return env


@dataclass
class Server:
    """A running ``tradepit serve`` subprocess."""

    process: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        """Return the server's root URL."""
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        """Return what the server printed so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")


async def wait_healthy(server: Server, within: float = STARTUP_TIMEOUT) -> None:
    """Poll ``GET /health`` until it answers 200; raise if the process exits or ``within``
    seconds pass."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=server.base_url, timeout=2.0) as http:
        while time.monotonic() < deadline:
            if server.process.returncode is not None:
                raise RuntimeError(
                    f"server exited with {server.process.returncode}:\n{server.output()}"
                )
            try:
                if (await http.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server not healthy after {within} s:\n{server.output()}")


async def stop(server: Server) -> None:
    """Terminate the server (SIGKILL if it lingers) and reap it."""
    if server.process.returncode is None:
        server.process.terminate()
        try:
            await asyncio.wait_for(server.process.wait(), timeout=15)
        except TimeoutError:
            server.process.kill()
    await server.process.wait()


@asynccontextmanager
async def running(
    command: list[str],
    env: dict[str, str],
    log: Path,
    *,
    cwd: Path | None = None,
    startup_timeout: float = STARTUP_TIMEOUT,
) -> AsyncIterator[Server]:
    """Run ``tradepit <command>`` with ``env`` on loopback and a free port (its output to
    ``log``); yield it once ``/health`` answers 200; stop it however we leave."""
    port = free_port()
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            str(TRADEPIT), *command, cwd=cwd,
            env=env | {"TRADEPIT_HOST": "127.0.0.1", "TRADEPIT_PORT": str(port)},
            stdin=asyncio.subprocess.DEVNULL, stdout=output, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        server = Server(process, port, log)
        try:
            await wait_healthy(server, startup_timeout)
            yield server
        finally:
            await stop(server)


@asynccontextmanager
async def serving(
    data_dir: Path, name: str, env: dict[str, str] | None = None
) -> AsyncIterator[Server]:
    """Start ``tradepit serve`` on ``data_dir``, with ``env`` added to the environment."""
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    log = data_dir.parent / f"{name}.log"
    async with running(
        ["serve"], server_env(data_dir) | (env or {}), log, cwd=data_dir.parent
    ) as server:
        yield server


@asynccontextmanager
async def scratch_postgres(url: str, name: str) -> AsyncIterator[str]:
    """Create the PostgreSQL database ``name`` on the server of ``url``, yield its URL and drop
    it afterwards (``OSError`` when the server cannot be reached)."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except BaseException:
        await admin.dispose()
        raise
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
