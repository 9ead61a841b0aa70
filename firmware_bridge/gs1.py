"""GS1 check digits (mod 10, weights 3-1 from the right) for GTIN, SSCC and GLN keys."""

from __future__ import annotations

GTIN_LENGTHS = frozenset({8, 12, 13, 14})
SSCC_LENGTH = 18
GLN_LENGTH = 13


def gs1_check_digit(digits: str) -> int:
    """Check digit for ``digits`` (the key without its check digit)."""
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ValueError(f"GS1 check digit needs a non-empty string of digits, got {digits!r}")
    total = 0
    for position, char in enumerate(reversed(digits)):
        total += int(char) * (3 if position % 2 == 0 else 1)
    return (10 - total % 10) % 10


def with_check_digit(digits: str) -> str:
    """``digits`` followed by its GS1 check digit."""
    return f"{digits}{gs1_check_digit(digits)}"


def _has_valid_check_digit(code: str, lengths: frozenset[int]) -> bool:
    if len(code) not in lengths or not code.isascii() or not code.isdigit():
        return False
    return gs1_check_digit(code[:-1]) == int(code[-1])


def is_valid_gtin(code: str) -> bool:
    """True for a GTIN-8, -12, -13 or -14 whose check digit matches."""
    return _has_valid_check_digit(code, GTIN_LENGTHS)


def is_valid_sscc(code: str) -> bool:
    """True for an 18-digit SSCC whose check digit matches."""
    return _has_valid_check_digit(code, frozenset({SSCC_LENGTH}))


def is_valid_gln(code: str) -> bool:
    """True for a 13-digit GLN whose check digit matches."""
    return _has_valid_check_digit(code, frozenset({GLN_LENGTH}))


def normalize_gtin(code: str) -> str:
    """A valid GTIN left-padded with zeros to 14 digits; raises ``ValueError`` if invalid."""
    if not is_valid_gtin(code):
        raise ValueError(f"not a valid GTIN: {code!r}")
    return code.rjust(14, "0")
