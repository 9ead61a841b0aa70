"""GS1 EPC (TDS) decoding and encoding: worked examples, typed errors, unknown headers.

Vectors: the TDS SGTIN-96 example (3074257BF7194E4000001A85) and the test vectors of public
tag data translation engines built from the TDS/TDT tables (GS1 TDT 'custom translation'
tests, Bytefeld.Epc), each cross-checked between decode and encode here.
"""

from __future__ import annotations

import pytest

from firmware_bridge.epc import EpcIdentity, decode_epc
from firmware_bridge.epc_encode import (
    encode_giai96,
    encode_grai96,
    encode_sgln96,
    encode_sgtin96,
    encode_sgtin198,
    encode_sscc96,
)
from firmware_bridge.epc_errors import (
    EpcHexError,
    FieldValueError,
    PaddingError,
    PartitionError,
    SerialCharacterError,
)
from firmware_bridge.epc_tables import EpcKind, EpcScheme


def pack(fields: list[tuple[int, int]], hex_length: int) -> str:
    """Independent test-side packer: (value, width) fields, MSB first, right-padded."""
    value = bits = 0
    for field_value, width in fields:
        value = (value << width) | field_value
        bits += width
    return f"{value << (hex_length * 4 - bits):0{hex_length}X}"


def sgtin(hex_: str, scheme: EpcScheme, f: int, p: int, cp: str, ref: str, serial: str,
          uri_serial: str, gtin: str) -> tuple[str, EpcIdentity]:  # fmt: skip
    body = f"{cp}.{ref}.{uri_serial}"
    return hex_, EpcIdentity(
        EpcKind.SGTIN, scheme, hex_, f, p, cp, ref, serial,
        f"urn:epc:id:sgtin:{body}", f"urn:epc:tag:{scheme}:{f}.{body}", gtin=gtin,
    )  # fmt: skip


S96, S198 = EpcScheme.SGTIN_96, EpcScheme.SGTIN_198
WORKED_EXAMPLES = [
    sgtin("3074257BF7194E4000001A85", S96, 3, 5, "0614141", "812345", "6789", "6789",
          "80614141123458"),
    sgtin("303613ACD83B9AC000000646", S96, 1, 5, "8710966", "061035", "1606", "1606",
          "08710966610350"),
    sgtin("302D28B329B0F6C000000001", S96, 1, 3, "311112347", "0987", "1", "1",
          "03111123479875"),
    sgtin("363613ACD83B9AD2B26AC9900000000000000000000000000000", S198, 1, 5, "8710966",
          "061035", "%2522", "%252522", "08710966610350"),
    sgtin("3639542C82FB0258B266D1AB66EE1CB062C99B46AD9BB872C000", S198, 1, 6, "348338",
          "0781321", "12345678901234567890", "12345678901234567890", "03483387813215"),
    ("31105E30A7055F2CC0000000", EpcIdentity(
        EpcKind.SSCC, EpcScheme.SSCC_96, "31105E30A7055F2CC0000000", 0, 4, "12345678",
        "090123456", None, "urn:epc:id:sscc:12345678.090123456",
        "urn:epc:tag:sscc-96:0.12345678.090123456", sscc="012345678901234560")),
    ("3159542C8000000001000000", EpcIdentity(
        EpcKind.SSCC, EpcScheme.SSCC_96, "3159542C8000000001000000", 2, 6, "348338",
        "00000000001", None, "urn:epc:id:sscc:348338.00000000001",
        "urn:epc:tag:sscc-96:2.348338.00000000001", sscc="034833800000000018")),
    ("32305E30A7466800499602D2", EpcIdentity(
        EpcKind.SGLN, EpcScheme.SGLN_96, "32305E30A7466800499602D2", 1, 4, "12345678",
        "9012", "1234567890", "urn:epc:id:sgln:12345678.9012.1234567890",
        "urn:epc:tag:sgln-96:1.12345678.9012.1234567890", gln="1234567890128")),
    ("330C75BCD150030000000001", EpcIdentity(
        EpcKind.GRAI, EpcScheme.GRAI_96, "330C75BCD150030000000001", 0, 3, "123456789",
        "012", "1", "urn:epc:id:grai:123456789.012.1", "urn:epc:tag:grai-96:0.123456789.012.1")),
    ("34344B5A1C00000000000001", EpcIdentity(
        EpcKind.GIAI, EpcScheme.GIAI_96, "34344B5A1C00000000000001", 1, 5, "1234567", "1",
        None, "urn:epc:id:giai:1234567.1", "urn:epc:tag:giai-96:1.1234567.1")),
]  # fmt: skip


@pytest.mark.parametrize(("epc_hex", "expected"), WORKED_EXAMPLES, ids=lambda v: str(v)[:14])
def test_worked_examples_decode(epc_hex: str, expected: EpcIdentity) -> None:
    assert decode_epc(epc_hex) == expected
    assert decode_epc(f"  {epc_hex.lower()}\n") == expected


ENCODED = [
    (encode_sgtin96("0614141", "812345", 6789, 3), "3074257BF7194E4000001A85"),
    (encode_sgtin96("8710966", "061035", 1606), "303613ACD83B9AC000000646"),
    (encode_sgtin96("311112347", "0987", 1), "302D28B329B0F6C000000001"),
    (encode_sgtin198("8710966", "061035", "%2522"),
     "363613ACD83B9AD2B26AC9900000000000000000000000000000"),
    (encode_sgtin198("348338", "0781321", "12345678901234567890"),
     "3639542C82FB0258B266D1AB66EE1CB062C99B46AD9BB872C000"),
    (encode_sscc96("12345678", "090123456"), "31105E30A7055F2CC0000000"),
    (encode_sscc96("348338", "00000000001", 2), "3159542C8000000001000000"),
    (encode_sgln96("12345678", "9012", 1234567890, 1), "32305E30A7466800499602D2"),
    (encode_grai96("123456789", "012", 1), "330C75BCD150030000000001"),
    (encode_giai96("1234567", 1, 1), "34344B5A1C00000000000001"),
]  # fmt: skip


@pytest.mark.parametrize(("actual", "expected"), ENCODED, ids=lambda v: str(v)[:14])
def test_worked_examples_encode(actual: str, expected: str) -> None:
    assert actual == expected


def test_zero_digit_references_for_twelve_digit_prefixes() -> None:
    sgln = decode_epc(encode_sgln96("123456789012", "", 0))
    assert (sgln.reference, sgln.pure_uri, sgln.gln) == (
        "", "urn:epc:id:sgln:123456789012..0", "1234567890128",
    )  # fmt: skip
    grai = decode_epc(encode_grai96("123456789012", "", 42, 2))
    assert grai.tag_uri == "urn:epc:tag:grai-96:2.123456789012..42"


@pytest.mark.parametrize(
    ("epc_hex", "reason"),
    [
        ("350000004D20004D200004D2", "header 0x35 (GID-96) is not a supported EPC scheme"),
        ("000000000000000000000000",
         "header 0x00 (unprogrammed tag) is not a supported EPC scheme"),
        ("E2003412", "header 0xe2 is not a supported EPC scheme"),
        ("38344B5A1D8C1C30B14BD76BD217E9593264D52A54E9D2800000",
         "header 0x38 (GIAI-202) is not a supported EPC scheme"),
    ],
)  # fmt: skip
def test_unknown_headers_keep_raw_hex_and_say_why(epc_hex: str, reason: str) -> None:
    assert decode_epc(epc_hex.lower()) == EpcIdentity(
        EpcKind.UNKNOWN, EpcScheme.UNKNOWN, epc_hex, reason=reason
    )


SSCC_OK = "31105E30A7055F2CC0000000"
S198_OK = "363613ACD83B9AD2B26AC9900000000000000000000000000000"


def sgtin198_with_serial_codes(codes: list[int]) -> str:
    fields = [(0x36, 8), (1, 3), (5, 3), (614141, 24), (812345, 20)]
    fields += [(c, 7) for c in codes] + [(0, 7 * (20 - len(codes)))]
    return pack(fields, 52)


@pytest.mark.parametrize(
    ("epc_hex", "error"),
    [
        ("", EpcHexError),
        ("30", EpcHexError),  # known header, too short
        ("3074257BF7194E4000001A8", EpcHexError),  # odd length
        ("3074257BF7194E4000001A8500", EpcHexError),  # too long for SGTIN-96
        ("3074257BF7194E4000001A8G", EpcHexError),
        ("3074 257BF7194E4000001A85", EpcHexError),
        (pack([(0x30, 8), (0, 3), (7, 3)], 24), PartitionError),
        (pack([(0x34, 8), (3, 3), (7, 3)], 24), PartitionError),
        (pack([(0x30, 8), (0, 3), (0, 3), (10**12, 40)], 24), FieldValueError),
        (pack([(0x30, 8), (0, 3), (5, 3), (614141, 24), (10**6, 20)], 24), FieldValueError),
        (pack([(0x32, 8), (0, 3), (0, 3), (1, 40), (1, 1)], 24), FieldValueError),
        (SSCC_OK[:-1] + "1", PaddingError),
        (SSCC_OK[:-6] + "800000", PaddingError),
        (S198_OK[:-1] + "1", PaddingError),  # word padding after bit 198
        (sgtin198_with_serial_codes([0x41, 0, 0x42]), PaddingError),
        (sgtin198_with_serial_codes([]), SerialCharacterError),
        (sgtin198_with_serial_codes([0x41, ord("#")]), SerialCharacterError),
        (sgtin198_with_serial_codes([0x7F]), SerialCharacterError),
        (sgtin198_with_serial_codes([ord(" ")]), SerialCharacterError),
    ],
)
def test_decode_errors_are_typed(epc_hex: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_epc(epc_hex)


def test_sgtin198_full_character_set_round_trips() -> None:
    serial = "!\"%&'()*+,-./:;<=>?_"
    identity = decode_epc(encode_sgtin198("0614141", "812345", serial, 3))
    assert identity.serial == serial
    assert identity.pure_uri == (
        "urn:epc:id:sgtin:0614141.812345.!%22%25%26'()*+,-.%2F:;%3C=%3E%3F_"
    )


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: encode_sgtin96("06141", "8123456", 1), PartitionError),
        (lambda: encode_sgtin96("0614141234567", "8", 1), PartitionError),
        (lambda: encode_sgtin96("0614141", "81234", 1), FieldValueError),
        (lambda: encode_sgtin96("0614141", "81234a", 1), FieldValueError),
        (lambda: encode_sgtin96("06141a1", "812345", 1), FieldValueError),
        (lambda: encode_sgtin96("0614141", "812345", 2**38), FieldValueError),
        (lambda: encode_sgtin96("0614141", "812345", -1), FieldValueError),
        (lambda: encode_sgtin96("0614141", "812345", 1, 8), FieldValueError),
        (lambda: encode_sgtin198("0614141", "812345", ""), SerialCharacterError),
        (lambda: encode_sgtin198("0614141", "812345", "A" * 21), SerialCharacterError),
        (lambda: encode_sgtin198("0614141", "812345", "A#B"), SerialCharacterError),
        (lambda: encode_sgtin198("0614141", "812345", "é"), SerialCharacterError),
        (lambda: encode_sscc96("0614141", "123456789"), FieldValueError),
        (lambda: encode_sgln96("123456789012", "0"), FieldValueError),
        (lambda: encode_sgln96("0614141", "12345", 2**41), FieldValueError),
        (lambda: encode_grai96("0614141", "12345", 2**38), FieldValueError),
        (lambda: encode_giai96("0614141", 2**58), FieldValueError),
        (lambda: encode_giai96("123456789012", -5), FieldValueError),
    ],
)
def test_encode_errors_are_typed(call: object, error: type[Exception]) -> None:
    assert callable(call)
    with pytest.raises(error):
        call()


def test_largest_values_fit() -> None:
    assert decode_epc(encode_giai96("0614141", 2**58 - 1)).reference == str(2**58 - 1)
    assert decode_epc(encode_sgtin96("0614141", "812345", 2**38 - 1)).serial == str(2**38 - 1)
    assert decode_epc(encode_sgln96("0614141", "12345", 2**41 - 1)).serial == str(2**41 - 1)
