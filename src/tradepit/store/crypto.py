"""Encryption at rest: Fernet with key rotation (MultiFernet), the owner sealed inside."""

from __future__ import annotations

import json
from collections.abc import Callable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SealBroken(Exception):
    """A ciphertext could not be opened: wrong key, tampered, or sealed for another owner."""


class Sealer:
    """Seal secrets for one owner; the first key encrypts, every key decrypts.

    With ``source`` (the keys as they are on disk now), the keys are looked at again before
    each use, so ``tradepit rotate-keys`` reaches a running server without a restart.
    """

    def __init__(self, keys: list[str], source: Callable[[], list[str]] | None = None) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._source = source
        self._keys = list(keys)
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def _current(self) -> MultiFernet:
        if self._source is not None:
            keys = self._source()
            if keys and keys != self._keys:
                self._keys = list(keys)
                self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        return self._fernet

    def seal(self, owner: str, secret: str) -> str:
        """Return the ciphertext of ``secret``, bound to ``owner``."""
        payload = json.dumps({"owner": owner, "secret": secret}).encode()
        return self._current().encrypt(payload).decode()

    def open(self, owner: str, sealed: str) -> str:
        """Return the secret; refuse a ciphertext sealed for another owner."""
        try:
            payload = json.loads(self._current().decrypt(sealed.encode()))
        except (InvalidToken, ValueError) as exc:
            raise SealBroken("the secret cannot be decrypted with the configured keys") from exc
        if payload.get("owner") != owner:
            raise SealBroken("the secret belongs to another owner")
        return str(payload["secret"])

    def rotate(self, sealed: str) -> str:
        """Return ``sealed`` re-encrypted under the newest key."""
        return self._current().rotate(sealed.encode()).decode()
