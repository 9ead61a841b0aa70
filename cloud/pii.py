"""Encryption at rest for personal data (Fernet keys, rotatable through MultiFernet).

Keys come from ``RETAILEDGE_PII_KEYS`` (comma-separated, newest first). Without it, a key is
generated once in ``<data_dir>/pii.key`` (mode 0600) and reused; back that file up, or set
the variable in production. To rotate: put a new key first, run ``retailedge cloud
rotate-pii-key``, then drop the old key.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from cloud.settings import Settings

log = logging.getLogger(__name__)

KEY_FILE_NAME = "pii.key"


class PiiKeyError(ValueError):
    """The configured keys are not Fernet keys."""


class PiiDecryptError(ValueError):
    """A token that none of the configured keys opens (wrong or removed key, or tampering)."""


class PiiCipher:
    """Encrypts with the newest key; decrypts with any configured key."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise PiiKeyError("RETAILEDGE_PII_KEYS: give at least one Fernet key")
        try:
            fernets = [Fernet(key.strip().encode()) for key in keys]
        except ValueError:
            raise PiiKeyError(
                "RETAILEDGE_PII_KEYS: every key must be a urlsafe base64 32-byte Fernet key "
                "(generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            ) from None
        self._multi = MultiFernet(fernets)
        self.key_count = len(fernets)

    def encrypt(self, text: str) -> str:
        return self._multi.encrypt(text.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._multi.decrypt(token.encode()).decode()
        except InvalidToken:
            raise PiiDecryptError(
                "personal data cannot be decrypted with the configured keys; "
                "was a key removed before rotate-pii-key ran?"
            ) from None

    def rotate(self, token: str) -> str:
        """``token`` re-encrypted with the newest key (no-op content-wise)."""
        try:
            return self._multi.rotate(token.encode()).decode()
        except InvalidToken:
            raise PiiDecryptError(
                "personal data cannot be decrypted with the configured keys; "
                "add the old key after the new one and rotate again"
            ) from None


def _key_file(data_dir: Path) -> str:
    path = data_dir / KEY_FILE_NAME
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    # O_EXCL: two processes starting at once do not overwrite each other's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    log.warning(
        "generated a PII encryption key in %s; back it up (without it members' personal data "
        "is lost) or set RETAILEDGE_PII_KEYS in production",
        path,
    )
    return key


def pii_cipher(settings: Settings) -> PiiCipher:
    """The cipher for ``settings``: the configured keys, else the data directory's key file."""
    if settings.pii_keys is not None:
        keys = [key for key in settings.pii_keys.get_secret_value().split(",") if key.strip()]
        return PiiCipher(keys)
    return PiiCipher([_key_file(settings.data_dir)])
