"""Encryption at rest: Fernet with key rotation (MultiFernet), the owner sealed inside."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SealBroken(Exception):
    """A ciphertext could not be opened: wrong key, tampered, or sealed for another owner."""


class Sealer:
    """Seal secrets for one owner; the first key encrypts, every key decrypts."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def seal(self, owner: str, secret: str) -> str:
        """Return the ciphertext of ``secret``, bound to ``owner``."""
        payload = json.dumps({"owner": owner, "secret": secret}).encode()
        return self._fernet.encrypt(payload).decode()

    def open(self, owner: str, sealed: str) -> str:
        """Return the secret; refuse a ciphertext sealed for another owner."""
        try:
            payload = json.loads(self._fernet.decrypt(sealed.encode()))
        except (InvalidToken, ValueError) as exc:
            raise SealBroken("the secret cannot be decrypted with the configured keys") from exc
        if payload.get("owner") != owner:
            raise SealBroken("the secret belongs to another owner")
        return str(payload["secret"])

    def rotate(self, sealed: str) -> str:
        """Return ``sealed`` re-encrypted under the newest key."""
        return self._fernet.rotate(sealed.encode()).decode()
