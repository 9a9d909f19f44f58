"""An app that nobody holds any more is freed, after it has answered requests (the test suite
builds thousands of apps in one process; a kept app kept its market data and simulator, and
the suite grew past the machine's memory)."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from tests.conftest import client_for, make_settings
from tradepit.app import create_app


async def test_a_dropped_app_is_freed(tmp_path: Path, db: str) -> None:
    app = create_app(make_settings(tmp_path / "data", db))
    async with client_for(app) as http:
        for path in ("/health", "/docs", "/redoc", "/api/option_chain?symbol=NIFTY"):
            assert (await http.get(path)).status_code == 200, path
    await app.state.wiring.engine.dispose()
    dropped = weakref.ref(app), weakref.ref(app.state.wiring.market)
    del app, http  # the client holds the app too
    gc.collect()
    assert [ref() for ref in dropped] == [None, None]
