"""GS1 EPC Tag Data Standard tables: headers, schemes and partition tables, keyed by wire value."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EpcKind(StrEnum):
    """The GS1 key family, as in the pure-identity URI ``urn:epc:id:<kind>:...``."""

    SGTIN = "sgtin"
    SSCC = "sscc"
    SGLN = "sgln"
    GRAI = "grai"
    GIAI = "giai"
    UNKNOWN = "unknown"


class EpcScheme(StrEnum):
    """The binary coding scheme, as in the tag URI ``urn:epc:tag:<scheme>:...``."""

    SGTIN_96 = "sgtin-96"
    SGTIN_198 = "sgtin-198"
    SSCC_96 = "sscc-96"
    SGLN_96 = "sgln-96"
    GRAI_96 = "grai-96"
    GIAI_96 = "giai-96"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Partition:
    """One row of a partition table: how the bits after the partition field are split."""

    company_bits: int
    company_digits: int
    reference_bits: int
    reference_digits: int


def _table(*rows: tuple[int, int, int, int]) -> tuple[Partition, ...]:
    return tuple(Partition(*row) for row in rows)


# Partition values 0..6 index these tuples; 7 is reserved and invalid in every scheme.
SGTIN_PARTITIONS = _table(
    (40, 12, 4, 1), (37, 11, 7, 2), (34, 10, 10, 3), (30, 9, 14, 4),
    (27, 8, 17, 5), (24, 7, 20, 6), (20, 6, 24, 7),
)  # fmt: skip
SSCC_PARTITIONS = _table(
    (40, 12, 18, 5), (37, 11, 21, 6), (34, 10, 24, 7), (30, 9, 28, 8),
    (27, 8, 31, 9), (24, 7, 34, 10), (20, 6, 38, 11),
)  # fmt: skip
SGLN_PARTITIONS = _table(
    (40, 12, 1, 0), (37, 11, 4, 1), (34, 10, 7, 2), (30, 9, 11, 3),
    (27, 8, 14, 4), (24, 7, 17, 5), (20, 6, 21, 6),
)  # fmt: skip
GRAI_PARTITIONS = _table(
    (40, 12, 4, 0), (37, 11, 7, 1), (34, 10, 10, 2), (30, 9, 14, 3),
    (27, 8, 17, 4), (24, 7, 20, 5), (20, 6, 24, 6),
)  # fmt: skip
# GIAI-96 encodes the individual asset reference as an integer: only its bit width binds;
# the digit column is the standard's stated maximum and is informative.
GIAI_PARTITIONS = _table(
    (40, 12, 42, 12), (37, 11, 45, 13), (34, 10, 48, 14), (30, 9, 52, 15),
    (27, 8, 55, 16), (24, 7, 58, 17), (20, 6, 62, 18),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SchemeSpec:
    scheme: EpcScheme
    kind: EpcKind
    bits: int
    partitions: tuple[Partition, ...]

    @property
    def hex_length(self) -> int:
        """Hex digits on the tag: the bit length rounded up to whole 16-bit words."""
        return (self.bits + 15) // 16 * 4


SCHEMES: dict[int, SchemeSpec] = {
    0x30: SchemeSpec(EpcScheme.SGTIN_96, EpcKind.SGTIN, 96, SGTIN_PARTITIONS),
    0x31: SchemeSpec(EpcScheme.SSCC_96, EpcKind.SSCC, 96, SSCC_PARTITIONS),
    0x32: SchemeSpec(EpcScheme.SGLN_96, EpcKind.SGLN, 96, SGLN_PARTITIONS),
    0x33: SchemeSpec(EpcScheme.GRAI_96, EpcKind.GRAI, 96, GRAI_PARTITIONS),
    0x34: SchemeSpec(EpcScheme.GIAI_96, EpcKind.GIAI, 96, GIAI_PARTITIONS),
    0x36: SchemeSpec(EpcScheme.SGTIN_198, EpcKind.SGTIN, 198, SGTIN_PARTITIONS),
}
HEADER_BY_SCHEME: dict[EpcScheme, int] = {spec.scheme: h for h, spec in SCHEMES.items()}

# Headers the standard assigns that this codec does not decode; named in the "unknown" reason.
UNSUPPORTED_HEADERS: dict[int, str] = {
    0x00: "unprogrammed tag",
    0x2C: "GDTI-96",
    0x2D: "GSRN-96",
    0x2E: "GSRNP-96",
    0x2F: "USDOD-96",
    0x35: "GID-96",
    0x37: "GRAI-170",
    0x38: "GIAI-202",
    0x39: "SGLN-195",
    0x3A: "GDTI-113",
    0x3B: "ADI-var",
    0x3C: "CPI-96",
    0x3D: "CPI-var",
    0x3E: "GDTI-174",
    0x3F: "SGCN-96",
}

SERIAL_198_CHARS = 20
"""SGTIN-198 carries up to 20 serial characters of 7 bits each (140 bits)."""
NUMERIC_SERIAL_BITS = 38
"""SGTIN-96 and GRAI-96 serial width."""
SGLN_EXTENSION_BITS = 41
SSCC_RESERVED_BITS = 24
