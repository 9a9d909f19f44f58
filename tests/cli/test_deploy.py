"""The container files, tested without a container engine: the image's build context builds the
package, its entrypoint runs `tradepit`, and the compose file's services, run here as plain
processes with the compose file's settings, come up healthy on PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml  # type: ignore[import-untyped]
from bench.server import free_port, running
from sqlalchemy.engine import make_url

from tests.conftest import REDIS_URL, postgres_database, skip_or_fail
from tradepit import __version__

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def compose() -> dict[str, Any]:
    """Return compose.yaml as data."""
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def dockerignored(path: str) -> bool:
    """Tell whether .dockerignore leaves ``path`` (relative to the root) out of the context."""
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    first = path.split("/", maxsplit=1)[0]
    return any(p and not p.startswith("#") and p in (path, first) for p in patterns)


class TestImage:
    def test_what_the_dockerfile_copies_is_in_the_context(self) -> None:
        copied = []
        for line in (ROOT / "Dockerfile").read_text().splitlines():
            words = line.split()
            if words[:1] == ["COPY"] and not words[1].startswith("--from"):
                copied += words[1:-1]
        assert copied == ["pyproject.toml", "README.md", "src", "deploy/entrypoint.sh"]
        for path in copied:
            assert (ROOT / path).exists(), path
            assert not dockerignored(path), path
        assert dockerignored("tests") and dockerignored(".venv") and dockerignored("data")

    def test_the_context_builds_the_runtime_package(self, tmp_path: Path) -> None:
        context = tmp_path / "context"
        context.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, context / name)
        shutil.copytree(ROOT / "src", context / "src", ignore=shutil.ignore_patterns("*.pyc"))
        built = subprocess.run(  # noqa: S603 - a fixed command
            [sys.executable, "-m", "pip", "wheel", "--no-deps",
             "--disable-pip-version-check", "-q", "-w", str(tmp_path / "wheels"), str(context)],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert built.returncode == 0, built.stderr
        wheels = list((tmp_path / "wheels").glob("tradepit-*.whl"))
        assert [w.name.split("-")[1] for w in wheels] == [__version__]

    def test_the_entrypoint_migrates_when_asked_then_runs_the_command(self, tmp_path: Path) -> None:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TRADEPIT_")},
            "PATH": f"{BIN}:{os.environ['PATH']}",
            "TRADEPIT_DATA_DIR": str(tmp_path / "data"),
            "TRADEPIT_MIGRATE_ON_START": "1",
        }
        ran = subprocess.run(  # noqa: S603 - a fixed command
            ["/bin/sh", str(ROOT / "deploy/entrypoint.sh"), "version"],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        assert "migrated sqlite" in ran.stdout
        assert ran.stdout.strip().endswith(__version__)
        assert (tmp_path / "data" / "tradepit.db").exists()


class TestCompose:
    def test_services_and_their_order(self) -> None:
        services = compose()["services"]
        assert set(services) == {"postgres", "redis", "migrate", "engine", "engine-standby", "api"}
        assert services["migrate"]["command"] == ["migrate"]
        for name in ("engine", "engine-standby", "api"):
            needs = services[name]["depends_on"]
            assert needs["migrate"] == {"condition": "service_completed_successfully"}

    def test_every_tradepit_service_bounds_its_log(self) -> None:
        services = compose()["services"]
        for name in ("migrate", "engine", "engine-standby", "api"):
            logging = services[name]["logging"]
            assert logging["driver"] == "json-file"
            assert logging["options"] == {"max-size": "10m", "max-file": "5"}

    async def test_its_commands_run_the_split_shape_here(self, tmp_path: Path) -> None:
        if not REDIS_URL:
            skip_or_fail("the split shape needs Redis: TRADEPIT_TEST_REDIS_URL (CI sets it)")
        services = compose()["services"]
        async with postgres_database("tradepit_compose") as url:
            local = {  # the compose file's settings, its hosts replaced by this machine's
                **services["api"]["environment"],
                "TRADEPIT_DATABASE_URL": make_url(url).render_as_string(hide_password=False),
                "TRADEPIT_REDIS_URL": REDIS_URL,
                "TRADEPIT_REDIS_PREFIX": f"compose{free_port()}",
                "TRADEPIT_DATA_DIR": str(tmp_path / "data"),
            }
            env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEPIT_")} | local
            migrate = await asyncio.create_subprocess_exec(
                str(BIN / "tradepit"), *services["migrate"]["command"], env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            said, _ = await asyncio.wait_for(migrate.communicate(), 120)
            assert migrate.returncode == 0, said.decode()
            engine_log, api_log = tmp_path / "engine.log", tmp_path / "api.log"
            async with (
                running(services["engine"]["command"], env, engine_log, startup_timeout=60),
                running(services["api"]["command"], env, api_log, startup_timeout=60) as api,
                httpx.AsyncClient(base_url=api.base_url, timeout=10) as http,
            ):
                body = {"username": "composer", "password": "compose-pass-1"}
                assert (await http.post("/api/register", json=body)).status_code == 201
                token = (await http.post("/api/login", json=body)).json()["access_token"]
                me = await http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
                assert me.status_code == 200 and me.json()["username"] == "composer"
