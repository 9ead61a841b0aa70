"""scrypt password hashing: per-user salt, constant parameters recorded, strength rules."""

from __future__ import annotations

import pytest

from cloud.console.passwords import (
    PasswordHash,
    WeakPassword,
    check_strength,
    hash_password,
    verify_password,
)


def test_hash_verifies_only_the_same_password_and_salts_differ() -> None:
    first = hash_password("correct horse battery")
    second = hash_password("correct horse battery")
    assert first.salt_hex != second.salt_hex and first.hash_hex != second.hash_hex
    assert first.params == "scrypt:n=16384,r=8,p=1"
    assert len(first.salt_hex) == 32 and len(first.hash_hex) == 128
    assert verify_password("correct horse battery", first)
    assert verify_password("correct horse battery", second)
    assert not verify_password("correct horse batterY", first)
    assert not verify_password("", first)


def test_a_known_salt_gives_a_known_hash() -> None:
    hashed = hash_password("0123456789", salt=bytes(range(16)))
    assert hashed.salt_hex == bytes(range(16)).hex()
    assert hashed == hash_password("0123456789", salt=bytes(range(16)))
    assert verify_password("0123456789", hashed)


def test_unknown_parameters_never_verify() -> None:
    hashed = hash_password("0123456789")
    tampered = PasswordHash(hashed.salt_hex, hashed.hash_hex, "md5")
    assert not verify_password("0123456789", tampered)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "at least 10"),
        ("x" * 1025, "at most 1024"),
        (" leading-space-password", "no leading or trailing spaces"),
    ],
)
def test_weak_passwords_are_refused_naming_the_field(password: str, problem: str) -> None:
    with pytest.raises(WeakPassword, match=problem) as caught:
        check_strength(password)
    assert str(caught.value).startswith("password: ")
    with pytest.raises(WeakPassword):
        hash_password(password)
