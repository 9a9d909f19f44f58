"""The console in a real browser: Playwright driving Debian's ``chromium`` by its path, against
the real server (``serving``) on a simulated market that trades round the clock.

Every page is watched: a console error, an uncaught exception, a request to another host, a
failed request, or an API answer of 400 and above fails the test, except a 401 after which the
login screen shows, and the refusals a test provokes on purpose (``Watch.expect``). Each
screen's screenshot is kept under ``$TRADEPIT_TEST_ARTIFACTS/console`` (default: pytest's
temporary folder), printed at the end of the run.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    Response,
    ViewportSize,
    async_playwright,
    expect,
)

from tests.conftest import empty_tables, make_settings, skip_or_fail
from tests.factories import make_user, unique_name
from tests.realtime.conftest import market_clock, serving
from tradepit.app import create_app
from tradepit.domain.accounts import Role
from tradepit.store.db import create_engine
from tradepit.store.migrate import upgrade

SCREENS_KEY = pytest.StashKey[Path]()
PASSWORD = "Secret123"
#: A phone's width (the issue's 390 px) and a laptop's.
PHONE: ViewportSize = {"width": 390, "height": 844}
LAPTOP: ViewportSize = {"width": 1280, "height": 900}


def chromium() -> str:
    """Return the path of Debian's chromium; skip (fail in CI) without it."""
    found = shutil.which("chromium")
    if found is None:
        skip_or_fail("the console's browser tests need Debian's chromium: apt-get install chromium")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def screens(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """Return the folder the screenshots are saved in."""
    root = os.environ.get("TRADEPIT_TEST_ARTIFACTS")
    folder = Path(root) / "console" if root else tmp_path_factory.getbasetemp() / "console"
    folder.mkdir(parents=True, exist_ok=True)
    request.config.stash[SCREENS_KEY] = folder
    return folder


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print where the screenshots are."""
    folder = terminalreporter.config.stash.get(SCREENS_KEY, None)
    if folder is not None:
        terminalreporter.write_line(f"console screenshots: {folder}")


@pytest.fixture(scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    """Yield Playwright's driver."""
    path = chromium()
    assert path
    async with async_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    """Yield one headless chromium for the run."""
    found = await playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
    yield found
    await found.close()


class Watch:
    """What went wrong on a page: console errors, page errors, foreign or failed requests and
    failed API calls."""

    def __init__(self, page: Page, origin: str) -> None:
        self.page = page
        self.origin = origin
        self.problems: list[str] = []
        self.expected: list[tuple[int, str]] = []
        self.checks: list[asyncio.Task[None]] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("request", self._request)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def expect(self, status: int, path: str) -> None:
        """Let one answer of ``status`` to a request whose path holds ``path`` pass."""
        self.expected.append((status, path))

    def _console(self, message: ConsoleMessage) -> None:
        # Chromium logs every answer of 400 and above as a console error too; those are
        # judged by ``_response``, as answers.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console error: {message.text}")

    def _request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in {"data", "blob"}:
            return
        if f"{parts.scheme}://{parts.netloc}" not in {
            self.origin,
            self.origin.replace("http", "ws"),
        }:
            self.problems.append(f"request to another host: {request.url}")

    def _failed(self, request: Request) -> None:
        if self.page.is_closed():
            return
        self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def _response(self, response: Response) -> None:
        status = response.status
        path = urlsplit(response.url).path
        if status < 400 or not path.startswith("/api/"):
            if status >= 400:
                self.problems.append(f"{status} from {response.url}")
            return
        for index, (wanted, fragment) in enumerate(self.expected):
            if wanted == status and fragment in path:
                del self.expected[index]
                return
        if status == 401:
            self.checks.append(asyncio.ensure_future(self._leads_to_login(response.url)))
            return
        self.problems.append(f"API call failed: {status} {response.request.method} {response.url}")

    async def _leads_to_login(self, url: str) -> None:
        try:
            heading = self.page.get_by_role("heading", name="Log in")
            await heading.wait_for(timeout=5000)
        except Exception:
            self.problems.append(f"401 from {url} did not lead to the login screen")

    async def check(self) -> None:
        """Fail with every problem seen so far."""
        await asyncio.gather(*self.checks)
        assert not self.problems, "\n".join(self.problems)


@pytest.fixture(scope="session")
async def console_sqlite(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """Yield the URL of a migrated SQLite database for the scenarios that need no other."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('console-db') / 'test.db'}"
    engine = create_engine(url)
    await upgrade(engine)
    yield url
    await engine.dispose()


@pytest.fixture
async def db_sqlite(console_sqlite: str) -> AsyncIterator[str]:
    """Yield the SQLite database; empty it when the test ends."""
    yield console_sqlite
    engine = create_engine(console_sqlite)
    try:
        await empty_tables(engine)
    finally:
        await engine.dispose()


@dataclass
class Server:
    """A running server: its base URL, its app (to create administrators) and the people
    whose pages use it."""

    base: str
    app: FastAPI
    people: list[Person] = field(default_factory=list)

    async def leave(self, check: bool) -> None:
        """Check every page for problems (``check``: the test passed so far), then close
        them, while the server still runs (a page left open would find it gone)."""
        try:
            for person in self.people if check else []:
                await person.watch.check()
        finally:
            for person in self.people:
                await person.page.context.close()

    async def admin(self, role: Role = Role.ADMIN) -> str:
        """Create an administrator; return their username (password ``factories.PASSWORD``)."""
        name = unique_name(role.value)
        await make_user(self.app, role, name)
        return name


@asynccontextmanager
async def console_server(data_dir: Path, db: str, speed: float = 1.0) -> AsyncIterator[Server]:
    """Run the server on a simulated market that trades round the clock, its clock running
    ``speed`` times the wall's."""
    settings = make_settings(data_dir, db, market_hours="always")
    app = create_app(settings, clock=market_clock(speed))
    try:
        async with serving(app) as address:
            server = Server(f"http://{address}", app)
            try:
                yield server
            except BaseException:
                await server.leave(check=False)
                raise
            await server.leave(check=True)
    finally:
        await app.state.wiring.engine.dispose()


class Person:
    """A person at a browser: a page of the console, its watch and its screenshots."""

    def __init__(self, page: Page, watch: Watch, base: str, screens: Path, name: str) -> None:
        self.page = page
        self.watch = watch
        self.base = base
        self.screens = screens
        self.name = name

    async def snap(self, screen: str) -> Path:
        """Save a screenshot of the whole page as ``<test>-<screen>.png``."""
        path = self.screens / f"{self.name}-{screen}.png"
        await self.page.screenshot(path=path, full_page=True)
        return path

    async def open(self) -> None:
        """Open the console at ``/``."""
        await self.page.goto(f"{self.base}/")

    async def sign_up(self, username: str, email: str | None = None) -> None:
        """Sign up on the login screen (which logs in)."""
        signup = self.page.get_by_role("form", name="Sign up")
        await signup.get_by_label("Email").fill(email or f"{username}@example.com")
        await signup.get_by_label("Username").fill(username)
        await signup.get_by_label("Password").fill(PASSWORD)
        await signup.get_by_role("button", name="Create account").click()
        await expect(self.page.get_by_role("button", name="Log out")).to_be_visible()

    async def log_in(self, login: str, password: str = PASSWORD) -> None:
        """Log in on the login screen."""
        form = self.page.get_by_role("form", name="Log in")
        await form.get_by_label("Username or email").fill(login)
        await form.get_by_label("Password").fill(password)
        await form.get_by_role("button", name="Log in").click()
        await expect(self.page.get_by_role("button", name="Log out")).to_be_visible()

    async def go(self, screen: str) -> None:
        """Follow the main navigation's link to ``screen``."""
        nav = self.page.get_by_role("navigation", name="Main")
        await nav.get_by_role("link", name=screen).click()
        await expect(self.page.get_by_role("heading", name=screen, level=2)).to_be_visible()

    async def no_horizontal_scroll(self) -> None:
        """Assert the page is no wider than the window."""
        width = await self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= await self.page.evaluate("window.innerWidth")


class People(Protocol):
    """Open a fresh browser context for a person named ``who`` using ``server``."""

    async def __call__(
        self, server: Server, who: str, viewport: ViewportSize | None = None
    ) -> Person:
        """Return the person."""
        ...


@pytest.fixture
async def people(
    browser: Browser, screens: Path, request: pytest.FixtureRequest
) -> AsyncIterator[People]:
    """Yield a function that opens a fresh browser context for a person; the server checks
    every page for problems and closes it before it stops."""
    test = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name).strip("-")

    async def make(server: Server, who: str, viewport: ViewportSize | None = None) -> Person:
        context = await browser.new_context(viewport=viewport or LAPTOP)
        page = await context.new_page()
        page.set_default_timeout(10_000)
        person = Person(page, Watch(page, server.base), server.base, screens, f"{test}-{who}")
        server.people.append(person)
        return person

    yield make
