"""Secrets made on first start: private, reused, and one value for processes that race."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from tradepit.store.secrets import load_or_create


def _create(path: str, start: Any, results: Any) -> None:
    start.wait()
    results.put(load_or_create(Path(path), "fernet"))


class TestLoadOrCreate:
    def test_made_once_private_and_reused(self, tmp_path: Path) -> None:
        path = tmp_path / "secrets" / "jwt_secret"
        first = load_or_create(path, "token")
        assert len(first) > 60
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert load_or_create(path, "token") == first
        assert [p.name for p in path.parent.iterdir()] == ["jwt_secret"]  # no temporary left

    def test_processes_starting_together_agree_on_one_secret(self, tmp_path: Path) -> None:
        path = tmp_path / "secrets" / "fernet_key"
        context = multiprocessing.get_context("spawn")
        start, results = context.Barrier(6), context.Queue()
        processes = [
            context.Process(target=_create, args=(str(path), start, results)) for _ in range(6)
        ]
        for process in processes:
            process.start()
        values = [results.get(timeout=60) for _ in processes]
        for process in processes:
            process.join(timeout=60)
        assert len(set(values)) == 1
        assert path.read_text().strip() == values[0]

    def test_a_process_that_loses_the_race_takes_the_winners_secret(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        path = tmp_path / "fernet_key"
        winner = Fernet.generate_key().decode()

        def generate_while_another_process_writes() -> bytes:
            path.write_text(winner + "\n")  # the other process got there first
            return b"this-process-key"

        monkeypatch.setattr(Fernet, "generate_key", generate_while_another_process_writes)
        assert load_or_create(path, "fernet") == winner
        assert path.read_text().strip() == winner

    def test_an_empty_file_is_replaced(self, tmp_path: Path) -> None:
        path = tmp_path / "jwt_secret"
        path.write_text("")
        value = load_or_create(path, "token")
        assert value and path.read_text().strip() == value
