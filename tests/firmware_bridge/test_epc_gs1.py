"""GS1 check digits for GTIN, SSCC and GLN keys."""

from __future__ import annotations

import pytest

from firmware_bridge.gs1 import (
    gs1_check_digit,
    is_valid_gln,
    is_valid_gtin,
    is_valid_sscc,
    normalize_gtin,
    with_check_digit,
)


@pytest.mark.parametrize(
    ("digits", "check"),
    [
        ("8061414112345", 8),  # GTIN-14 of the TDS SGTIN-96 example
        ("0871096661035", 0),
        ("10614141123456789", 7),  # SSCC 106141411234567897
        ("123456789012", 8),  # GLN 1234567890128
        ("400638133393", 1),  # EAN-13 4006381333931
        ("9638507", 4),  # GTIN-8 96385074
        ("0000000000000", 0),
    ],
)
def test_check_digit(digits: str, check: int) -> None:
    assert gs1_check_digit(digits) == check
    assert with_check_digit(digits) == f"{digits}{check}"


@pytest.mark.parametrize("bad", ["", "12a4", "١٢٣", " 123"])
def test_check_digit_rejects_non_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        gs1_check_digit(bad)


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("80614141123458", True),
        ("80614141123459", False),
        ("4006381333931", True),
        ("4006381333932", False),
        ("96385074", True),
        ("036000291452", True),  # UPC-A
        ("0360002914521", False),  # 13 digits, wrong check
        ("8061414112345", False),  # check digit missing: 13 digits do not validate
        ("806141411234581", False),  # 15 digits
        ("8061414112345X", False),
        ("", False),
    ],
)
def test_is_valid_gtin(code: str, valid: bool) -> None:
    assert is_valid_gtin(code) is valid


def test_sscc_and_gln() -> None:
    assert is_valid_sscc("106141412345678908")
    assert not is_valid_sscc("106141412345678907")
    assert not is_valid_sscc("80614141123458")
    assert is_valid_gln("1234567890128")
    assert not is_valid_gln("1234567890127")


def test_normalize_gtin() -> None:
    assert normalize_gtin("96385074") == "00000096385074"
    assert normalize_gtin("4006381333931") == "04006381333931"
    with pytest.raises(ValueError):
        normalize_gtin("4006381333932")
