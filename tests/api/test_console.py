"""The web console's page at ``/`` for a browser (the API information stays JSON for every other
client) and its files under ``/console``, all from this server."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.api.test_http import assert_secured, csp, loaded_by
from tradepit.api.middleware import CONSOLE_POLICY

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
VENDOR = "/console/vendor/lightweight-charts"


class TestRoot:
    async def test_a_browser_gets_the_console(self, client: httpx.AsyncClient) -> None:
        page = await client.get("/", headers=BROWSER)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<meta name="viewport" content="width=device-width' in page.text
        assert "Accept" in page.headers["vary"]
        assert_secured(page, CONSOLE_POLICY)

    async def test_every_other_client_gets_the_api_information(
        self, client: httpx.AsyncClient
    ) -> None:
        for headers in ({}, {"Accept": "*/*"}, {"Accept": "application/json"}):
            answer = await client.get("/", headers=headers)
            assert answer.status_code == 200
            body = answer.json()
            assert body["name"] == "Tradepit" and body["docs"] == "/docs"
            assert_secured(answer)


class TestAssets:
    async def test_the_page_loads_only_this_servers_files(self, client: httpx.AsyncClient) -> None:
        page = await client.get("/", headers=BROWSER)
        policy = csp(page)
        assert policy["connect-src"] == ["'self'"]
        assert policy["script-src"] == ["'self'"]
        assert policy["style-src"] == ["'self'"]
        loads = loaded_by(page.text)
        assert {kind for kind, _ in loads} == {"script-src", "style-src", "img-src"}
        for _, url in loads:
            assert url.startswith("/console/")
            assert (await client.get(url)).status_code == 200

    async def test_modules_are_served_as_javascript(self, client: httpx.AsyncClient) -> None:
        static = Path(__file__).parents[2] / "src/tradepit/console/static"
        modules = sorted(static.glob("js/*.js"))
        assert modules
        for module in modules:
            answer = await client.get(f"/console/js/{module.name}")
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/javascript")
            # Every import is relative: nothing comes from another host.
            for target in re.findall(r'from "([^"]+)"', answer.text):
                assert target.startswith("./") or target.startswith("../vendor/"), target

    async def test_the_chart_library_ships_with_its_licence_and_notice(
        self, client: httpx.AsyncClient
    ) -> None:
        library = await client.get(f"{VENDOR}/lightweight-charts.standalone.production.mjs")
        assert library.status_code == 200
        assert library.headers["content-type"].startswith("text/javascript")
        assert "TradingView Lightweight Charts" in library.text[:300]
        licence = await client.get(f"{VENDOR}/LICENSE")
        assert "Apache License" in licence.text
        notice = await client.get(f"{VENDOR}/NOTICE")
        assert "TradingView, Inc." in notice.text
        page = await client.get("/", headers=BROWSER)
        assert 'href="https://www.tradingview.com/"' in page.text
