"""Encode GS1 identities into EPC binary (TDS) as upper-case hex, ready to write to a tag.

The partition is chosen from the company prefix length (6 to 12 digits); reference fields must
have exactly the digit count that partition leaves. Invalid input raises an :class:`EpcError`.
"""

from __future__ import annotations

from firmware_bridge.epc_bits import BitWriter, encode_string7
from firmware_bridge.epc_errors import FieldValueError, PartitionError
from firmware_bridge.epc_tables import (
    HEADER_BY_SCHEME,
    NUMERIC_SERIAL_BITS,
    SCHEMES,
    SERIAL_198_CHARS,
    SGLN_EXTENSION_BITS,
    SSCC_RESERVED_BITS,
    EpcScheme,
    Partition,
)


def _check_digits(value: str, count: int, what: str) -> None:
    if len(value) != count or not value.isascii() or (count and not value.isdigit()):
        raise FieldValueError(f"{what} must be exactly {count} digits, got {value!r}")


def _check_range(value: int, bits: int, what: str) -> None:
    if not 0 <= value < (1 << bits):
        raise FieldValueError(f"{what} must be in 0..{(1 << bits) - 1}, got {value}")


def _start(
    scheme: EpcScheme, filter_value: int, company_prefix: str
) -> tuple[BitWriter, Partition]:
    """Header, filter, partition and company prefix; returns the writer and partition row."""
    spec = SCHEMES[HEADER_BY_SCHEME[scheme]]
    if not 0 <= filter_value <= 7:
        raise FieldValueError(f"filter value must be 0..7, got {filter_value}")
    rows = [i for i, row in enumerate(spec.partitions) if row.company_digits == len(company_prefix)]
    if not rows:
        raise PartitionError(
            f"{scheme}: company prefix must have 6 to 12 digits, got {company_prefix!r}"
        )
    partition = rows[0]
    row = spec.partitions[partition]
    _check_digits(company_prefix, row.company_digits, "company prefix")
    writer = BitWriter()
    writer.write(HEADER_BY_SCHEME[scheme], 8)
    writer.write(filter_value, 3)
    writer.write(partition, 3)
    writer.write(int(company_prefix), row.company_bits)
    return writer, row


def _finish(writer: BitWriter, scheme: EpcScheme) -> str:
    return writer.to_hex(SCHEMES[HEADER_BY_SCHEME[scheme]].hex_length)


def _start_with_reference(
    scheme: EpcScheme, filter_value: int, company_prefix: str, reference: str, what: str
) -> BitWriter:
    writer, row = _start(scheme, filter_value, company_prefix)
    _check_digits(reference, row.reference_digits, what)
    writer.write(int(reference or "0"), row.reference_bits)
    return writer


def encode_sgtin96(
    company_prefix: str, item_reference: str, serial: int, filter_value: int = 1
) -> str:
    """SGTIN-96; ``item_reference`` includes the GTIN indicator digit as its first digit."""
    _check_range(serial, NUMERIC_SERIAL_BITS, "SGTIN-96 serial")
    scheme = EpcScheme.SGTIN_96
    writer = _start_with_reference(
        scheme, filter_value, company_prefix, item_reference, "item reference"
    )
    writer.write(serial, NUMERIC_SERIAL_BITS)
    return _finish(writer, scheme)


def encode_sgtin198(
    company_prefix: str, item_reference: str, serial: str, filter_value: int = 1
) -> str:
    """SGTIN-198; ``serial`` is 1 to 20 characters of the GS1 AI encodable set 82."""
    scheme = EpcScheme.SGTIN_198
    writer = _start_with_reference(
        scheme, filter_value, company_prefix, item_reference, "item reference"
    )
    encode_string7(writer, serial, SERIAL_198_CHARS, "SGTIN-198 serial")
    return _finish(writer, scheme)


def encode_sscc96(company_prefix: str, serial_reference: str, filter_value: int = 0) -> str:
    """SSCC-96; ``serial_reference`` includes the SSCC extension digit as its first digit."""
    scheme = EpcScheme.SSCC_96
    writer = _start_with_reference(
        scheme, filter_value, company_prefix, serial_reference, "serial reference"
    )
    writer.write(0, SSCC_RESERVED_BITS)
    return _finish(writer, scheme)


def encode_sgln96(
    company_prefix: str, location_reference: str, extension: int = 0, filter_value: int = 0
) -> str:
    """SGLN-96; ``extension`` 0 means "no extension"; ``location_reference`` is '' for 12-digit
    company prefixes."""
    _check_range(extension, SGLN_EXTENSION_BITS, "SGLN-96 extension")
    scheme = EpcScheme.SGLN_96
    writer = _start_with_reference(
        scheme, filter_value, company_prefix, location_reference, "location reference"
    )
    writer.write(extension, SGLN_EXTENSION_BITS)
    return _finish(writer, scheme)


def encode_grai96(company_prefix: str, asset_type: str, serial: int, filter_value: int = 0) -> str:
    """GRAI-96; ``asset_type`` is '' for 12-digit company prefixes."""
    _check_range(serial, NUMERIC_SERIAL_BITS, "GRAI-96 serial")
    scheme = EpcScheme.GRAI_96
    writer = _start_with_reference(scheme, filter_value, company_prefix, asset_type, "asset type")
    writer.write(serial, NUMERIC_SERIAL_BITS)
    return _finish(writer, scheme)


def encode_giai96(company_prefix: str, asset_reference: int, filter_value: int = 0) -> str:
    """GIAI-96; ``asset_reference`` is an integer below 2**(82 - company prefix bits)."""
    scheme = EpcScheme.GIAI_96
    writer, row = _start(scheme, filter_value, company_prefix)
    _check_range(asset_reference, row.reference_bits, "GIAI-96 individual asset reference")
    writer.write(asset_reference, row.reference_bits)
    return _finish(writer, scheme)
