"""Access lines: which requests get one under each ``TRADEPIT_ACCESS_LOG`` setting, and how
many (exactly one per logged request)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from tests.conftest import client_for, make_settings
from tradepit.app import create_app
from tradepit.logs import AccessLog
from tradepit.settings import Settings

#: One request of each kind: (path, the status it answers a loopback client without a token).
REQUESTS = [
    ("/health", 200),
    ("/api/health", 200),
    ("/metrics", 200),
    ("/openapi.json", 200),
    ("/api/auth/me", 401),
    ("/api/no-such-route", 404),
]
OK, UNAUTHENTICATED, MISSING = "/openapi.json", "/api/auth/me", "/api/no-such-route"


@pytest.fixture
async def access_app(
    request: pytest.FixtureRequest, tmp_path: Path, db: str
) -> AsyncIterator[FastAPI]:
    """Yield an app with the access-log settings the test is parametrized with."""
    overrides: dict[str, object] = getattr(request, "param", {})
    application = create_app(make_settings(tmp_path / "data", db, **overrides))
    yield application
    await application.state.wiring.engine.dispose()


async def logged_paths(app: FastAPI, caplog: pytest.LogCaptureFixture, times: int = 1) -> list[str]:
    """Send every request of ``REQUESTS`` ``times`` times from loopback; return the path of
    each access line written, in order."""
    caplog.set_level(logging.INFO, logger="tradepit.access")
    caplog.clear()
    async with client_for(app, "127.0.0.1") as http:
        for _ in range(times):
            for path, status in REQUESTS:
                assert (await http.get(path)).status_code == status, path
    lines = [r for r in caplog.records if r.name == "tradepit.access"]
    assert all(r.getMessage() == "request" for r in lines)
    return [str(r.__dict__["path"]) for r in lines]


def with_setting(**overrides: object) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("access_app", [overrides], indirect=True)


class TestSettings:
    async def test_by_default_every_request_but_health_and_metrics_is_logged_once(
        self, access_app: FastAPI, caplog: pytest.LogCaptureFixture
    ) -> None:
        assert await logged_paths(access_app, caplog) == [OK, UNAUTHENTICATED, MISSING]

    @with_setting(access_log="errors")
    async def test_errors_logs_only_answers_of_400_and_above(
        self, access_app: FastAPI, caplog: pytest.LogCaptureFixture
    ) -> None:
        assert await logged_paths(access_app, caplog) == [UNAUTHENTICATED, MISSING]

    @with_setting(access_log="off")
    async def test_off_logs_nothing(
        self, access_app: FastAPI, caplog: pytest.LogCaptureFixture
    ) -> None:
        assert await logged_paths(access_app, caplog) == []

    @with_setting(access_log="sampled", access_log_sample_rate=0)
    async def test_sampled_at_zero_keeps_the_errors(
        self, access_app: FastAPI, caplog: pytest.LogCaptureFixture
    ) -> None:
        assert await logged_paths(access_app, caplog, times=3) == [UNAUTHENTICATED, MISSING] * 3

    @with_setting(access_log="sampled", access_log_sample_rate=1)
    async def test_sampled_at_one_logs_every_request_with_its_rate(
        self, access_app: FastAPI, caplog: pytest.LogCaptureFixture
    ) -> None:
        assert await logged_paths(access_app, caplog) == [OK, UNAUTHENTICATED, MISSING]
        ok = next(r for r in caplog.records if r.__dict__.get("path") == OK)
        assert ok.__dict__["sample_rate"] == 1

    @with_setting(access_log_quiet_paths="")
    async def test_health_and_metrics_are_logged_when_no_path_is_quiet(
        self, access_app: FastAPI, caplog: pytest.LogCaptureFixture
    ) -> None:
        assert await logged_paths(access_app, caplog) == [path for path, _ in REQUESTS]

    async def test_a_failed_metrics_scrape_is_logged(
        self, access_app: FastAPI, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="tradepit.access")
        async with client_for(access_app) as http:  # not loopback, no token: 403
            assert (await http.get("/metrics")).status_code == 403
        assert [r.__dict__["status"] for r in caplog.records if r.name == "tradepit.access"] == [
            403
        ]

    def test_the_settings_read_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("TRADEPIT_ACCESS_LOG", "sampled")
        monkeypatch.setenv("TRADEPIT_ACCESS_LOG_SAMPLE_RATE", "0.25")
        monkeypatch.setenv("TRADEPIT_ACCESS_LOG_QUIET_PATHS", "/health, /ready")
        settings = Settings(_env_file=None)
        assert settings.access_log == "sampled"
        assert settings.access_log_sample_rate == 0.25
        assert settings.access_log_quiet_paths == ["/health", "/ready"]

    @pytest.mark.parametrize(
        ("name", "value"),
        [("TRADEPIT_ACCESS_LOG", "some"), ("TRADEPIT_ACCESS_LOG_SAMPLE_RATE", "1.5")],
    )
    def test_a_bad_setting_is_refused(
        self, monkeypatch: pytest.MonkeyPatch, name: str, value: str
    ) -> None:
        monkeypatch.setenv(name, value)
        with pytest.raises(ValueError, match=name.removeprefix("TRADEPIT_").lower()):
            Settings(_env_file=None)


class TestPolicy:
    def test_sampled_keeps_about_its_share_of_successes(self) -> None:
        draws = iter(i / 100 for i in range(100))
        policy = AccessLog("sampled", 0.1, chance=lambda: next(draws))
        assert sum(policy.wants("/api/symbols", 200) for _ in range(100)) == 10

    @pytest.mark.parametrize("mode", ["all", "errors", "sampled"])
    def test_a_failing_health_check_follows_the_mode(self, mode: str) -> None:
        policy = AccessLog(mode, 0)  # type: ignore[arg-type]
        assert policy.wants("/health", 503)
        assert not policy.wants("/health", 200)
