"""Secrets generated into the data directory on first start (mode 0600) and reused after."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet


def load_or_create(path: Path, make: str) -> str:
    """Return the secret stored at ``path``, creating it with ``make`` ('token' or 'fernet').

    Processes that start together on one data directory (an engine and API workers sharing a
    volume) agree on one value: the secret is written to a private temporary file and linked
    into place, which fails for every process but the first; the others read the winner's.
    """
    value = _read(path)
    if value:
        return value
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = Fernet.generate_key().decode() if make == "fernet" else secrets.token_urlsafe(64)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(fresh + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            if not _read(path):  # an empty file left by a crash before this version
                os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, readable by the owner only."""
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)


class Secrets:
    """The server's own secrets, kept under ``<data_dir>/secrets/``.

    Encryption keys: ``fernet_keys`` (newest first, one per line) once keys were rotated,
    else the first start's ``fernet_key``.
    """

    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / "secrets"
        self.jwt_secret = load_or_create(self.folder / "jwt_secret", "token")
        self.first_key = load_or_create(self.folder / "fernet_key", "fernet")
        self.encryption_keys = self.read_encryption_keys()

    def read_encryption_keys(self) -> list[str]:
        """Return the encryption keys as they are on disk now, newest first."""
        ring = self.folder / "fernet_keys"
        if ring.exists():
            keys = [line.strip() for line in ring.read_text(encoding="utf-8").splitlines()]
            if any(keys):
                return [key for key in keys if key]
        return [self.first_key]

    def add_encryption_key(self) -> list[str]:
        """Make a new newest key, keep the one before it for reading, drop older ones; return
        the keys, newest first. Servers pick the change up on their next seal or open."""
        keys = [Fernet.generate_key().decode(), self.read_encryption_keys()[0]]
        _write_private(self.folder / "fernet_keys", "\n".join(keys) + "\n")
        self.encryption_keys = keys
        return keys
