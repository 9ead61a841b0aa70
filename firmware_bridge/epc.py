"""Decode GS1 EPC binary encodings (TDS) read from UHF RFID tags into typed identities.

Supported: SGTIN-96, SGTIN-198, SSCC-96, SGLN-96, GRAI-96, GIAI-96. Any other header decodes to
an identity of kind ``unknown`` that keeps the raw hex and says why; nothing is guessed.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass

from firmware_bridge.epc_bits import BitReader, decode_string7, escape_uri_component
from firmware_bridge.epc_errors import EpcHexError, FieldValueError, PartitionError
from firmware_bridge.epc_tables import (
    NUMERIC_SERIAL_BITS,
    SCHEMES,
    SERIAL_198_CHARS,
    SGLN_EXTENSION_BITS,
    SSCC_RESERVED_BITS,
    UNSUPPORTED_HEADERS,
    EpcKind,
    EpcScheme,
    Partition,
    SchemeSpec,
)
from firmware_bridge.gs1 import with_check_digit

_HEX_DIGITS = frozenset(string.hexdigits)


@dataclass(frozen=True, slots=True)
class EpcIdentity:
    """A decoded EPC.

    ``reference`` is the second URI component (item reference with its indicator digit, serial
    reference with its extension digit, location reference, asset type, or the GIAI individual
    asset reference); ``serial`` is the third (SGTIN serial, SGLN extension, GRAI serial), or
    ``None``. Both hold the unescaped values; the URIs hold the escaped ones.
    """

    kind: EpcKind
    scheme: EpcScheme
    raw_hex: str
    filter: int | None = None
    partition: int | None = None
    company_prefix: str | None = None
    reference: str | None = None
    serial: str | None = None
    pure_uri: str | None = None
    tag_uri: str | None = None
    gtin: str | None = None
    sscc: str | None = None
    gln: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class _Prefix:
    """The fields every supported scheme starts with, after the header."""

    filter: int
    partition: int
    company_prefix: str
    reference_value: int
    row: Partition


def _digits(value: int, count: int, what: str) -> str:
    """``value`` as exactly ``count`` decimal digits (zero-filled); '' when ``count`` is 0."""
    if value >= 10**count:
        raise FieldValueError(f"{what} {value} has more than {count} digits")
    return str(value).zfill(count) if count else ""


def _read_prefix(reader: BitReader, spec: SchemeSpec) -> _Prefix:
    filter_value = reader.read(3)
    partition = reader.read(3)
    if partition >= len(spec.partitions):
        raise PartitionError(f"{spec.scheme}: partition value {partition} is invalid")
    row = spec.partitions[partition]
    company = _digits(reader.read(row.company_bits), row.company_digits, "company prefix")
    return _Prefix(filter_value, partition, company, reader.read(row.reference_bits), row)


def _identity(
    spec: SchemeSpec,
    raw_hex: str,
    prefix: _Prefix,
    components: list[str],
    *,
    gtin: str | None = None,
    sscc: str | None = None,
    gln: str | None = None,
) -> EpcIdentity:
    uri_parts = ".".join(escape_uri_component(part) for part in components)
    return EpcIdentity(
        kind=spec.kind,
        scheme=spec.scheme,
        raw_hex=raw_hex,
        filter=prefix.filter,
        partition=prefix.partition,
        company_prefix=components[0],
        reference=components[1],
        serial=components[2] if len(components) > 2 else None,
        pure_uri=f"urn:epc:id:{spec.kind}:{uri_parts}",
        tag_uri=f"urn:epc:tag:{spec.scheme}:{prefix.filter}.{uri_parts}",
        gtin=gtin,
        sscc=sscc,
        gln=gln,
    )


def _sgtin(spec: SchemeSpec, reader: BitReader, raw_hex: str) -> EpcIdentity:
    prefix = _read_prefix(reader, spec)
    item = _digits(prefix.reference_value, prefix.row.reference_digits, "item reference")
    if spec.scheme is EpcScheme.SGTIN_198:
        serial = decode_string7(reader, SERIAL_198_CHARS, "SGTIN-198 serial")
    else:
        serial = str(reader.read(NUMERIC_SERIAL_BITS))
    gtin = with_check_digit(item[0] + prefix.company_prefix + item[1:])
    return _identity(spec, raw_hex, prefix, [prefix.company_prefix, item, serial], gtin=gtin)


def _sscc(spec: SchemeSpec, reader: BitReader, raw_hex: str) -> EpcIdentity:
    prefix = _read_prefix(reader, spec)
    ref = _digits(prefix.reference_value, prefix.row.reference_digits, "serial reference")
    reader.require_zero(SSCC_RESERVED_BITS, "SSCC-96 reserved bits")
    sscc = with_check_digit(ref[0] + prefix.company_prefix + ref[1:])
    return _identity(spec, raw_hex, prefix, [prefix.company_prefix, ref], sscc=sscc)


def _sgln(spec: SchemeSpec, reader: BitReader, raw_hex: str) -> EpcIdentity:
    prefix = _read_prefix(reader, spec)
    location = _digits(prefix.reference_value, prefix.row.reference_digits, "location reference")
    extension = str(reader.read(SGLN_EXTENSION_BITS))
    gln = with_check_digit(prefix.company_prefix + location)
    return _identity(spec, raw_hex, prefix, [prefix.company_prefix, location, extension], gln=gln)


def _grai(spec: SchemeSpec, reader: BitReader, raw_hex: str) -> EpcIdentity:
    prefix = _read_prefix(reader, spec)
    asset_type = _digits(prefix.reference_value, prefix.row.reference_digits, "asset type")
    serial = str(reader.read(NUMERIC_SERIAL_BITS))
    return _identity(spec, raw_hex, prefix, [prefix.company_prefix, asset_type, serial])


def _giai(spec: SchemeSpec, reader: BitReader, raw_hex: str) -> EpcIdentity:
    prefix = _read_prefix(reader, spec)
    asset_reference = str(prefix.reference_value)
    return _identity(spec, raw_hex, prefix, [prefix.company_prefix, asset_reference])


_Decoder = Callable[[SchemeSpec, BitReader, str], EpcIdentity]
_DECODERS: dict[EpcKind, _Decoder] = {
    EpcKind.SGTIN: _sgtin,
    EpcKind.SSCC: _sscc,
    EpcKind.SGLN: _sgln,
    EpcKind.GRAI: _grai,
    EpcKind.GIAI: _giai,
}


def normalize_epc_hex(epc_hex: str) -> str:
    """Upper-case hex without surrounding whitespace; raises :class:`EpcHexError` if not hex."""
    text = epc_hex.strip().upper()
    if not text or len(text) % 2 or not _HEX_DIGITS.issuperset(text):
        raise EpcHexError(f"EPC must be a non-empty, whole-byte hex string, got {epc_hex!r}")
    return text


def _unknown(raw_hex: str, reason: str) -> EpcIdentity:
    return EpcIdentity(EpcKind.UNKNOWN, EpcScheme.UNKNOWN, raw_hex, reason=reason)


def decode_epc(epc_hex: str) -> EpcIdentity:
    """Decode an EPC memory-bank identifier given as hex; raises only :class:`EpcError`."""
    raw_hex = normalize_epc_hex(epc_hex)
    header = int(raw_hex[:2], 16)
    spec = SCHEMES.get(header)
    if spec is None:
        name = UNSUPPORTED_HEADERS.get(header)
        detail = f" ({name})" if name else ""
        return _unknown(raw_hex, f"header {header:#04x}{detail} is not a supported EPC scheme")
    if len(raw_hex) != spec.hex_length:
        raise EpcHexError(
            f"{spec.scheme} needs {spec.hex_length} hex digits, got {len(raw_hex)}: {raw_hex}"
        )
    padding = spec.hex_length * 4 - spec.bits
    reader = BitReader(int(raw_hex, 16), spec.hex_length * 4)
    reader.read(8)
    identity = _DECODERS[spec.kind](spec, reader, raw_hex)
    reader.require_zero(padding, f"{spec.scheme} word padding")
    return identity
