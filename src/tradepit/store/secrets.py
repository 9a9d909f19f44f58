"""Secrets generated into the data directory on first start (mode 0600) and reused after."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet


def load_or_create(path: Path, make: str) -> str:
    """Return the secret stored at ``path``, creating it with ``make`` ('token' or 'fernet')."""
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    path.parent.mkdir(parents=True, exist_ok=True)
    value = Fernet.generate_key().decode() if make == "fernet" else secrets.token_urlsafe(64)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    os.chmod(path, 0o600)
    return value


class Secrets:
    """The server's own secrets, kept under ``<data_dir>/secrets/``."""

    def __init__(self, data_dir: Path) -> None:
        folder = data_dir / "secrets"
        self.jwt_secret = load_or_create(folder / "jwt_secret", "token")
        self.encryption_keys = [load_or_create(folder / "fernet_key", "fernet")]
