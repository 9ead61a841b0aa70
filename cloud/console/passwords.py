"""Password hashing with scrypt and a per-user salt (pure: no database)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

MIN_LENGTH = 10
MAX_LENGTH = 1024
_N, _R, _P = 2**14, 8, 1
_PARAMS = re.compile(r"^scrypt:n=(\d+),r=(\d+),p=(\d+)$")


class WeakPassword(ValueError):
    """The password does not meet the length rules; the message says which."""


@dataclass(frozen=True, slots=True)
class PasswordHash:
    salt_hex: str
    hash_hex: str
    params: str


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"password: use at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"password: use at most {MAX_LENGTH} characters")
    if password.strip() != password:
        raise WeakPassword("password: no leading or trailing spaces")


def hash_password(password: str, *, salt: bytes | None = None) -> PasswordHash:
    """scrypt(password) with a fresh 16-byte salt (or ``salt``, for tests)."""
    check_strength(password)
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = _scrypt(password, salt, _N, _R, _P)
    return PasswordHash(salt.hex(), digest.hex(), f"scrypt:n={_N},r={_R},p={_P}")


def verify_password(password: str, stored: PasswordHash) -> bool:
    """True when ``password`` hashes to ``stored`` (constant-time compare)."""
    match = _PARAMS.match(stored.params)
    if match is None or len(password) > MAX_LENGTH:
        return False
    n, r, p = (int(group) for group in match.groups())
    digest = _scrypt(password, bytes.fromhex(stored.salt_hex), n, r, p)
    return hmac.compare_digest(digest.hex(), stored.hash_hex)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024)
