"""Hypothesis: encode/decode round trips over every partition; random hex only fails cleanly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.epc import decode_epc
from firmware_bridge.epc_bits import GS1_CHARSET_82
from firmware_bridge.epc_encode import (
    encode_giai96,
    encode_grai96,
    encode_sgln96,
    encode_sgtin96,
    encode_sgtin198,
    encode_sscc96,
)
from firmware_bridge.epc_errors import EpcError
from firmware_bridge.epc_tables import (
    GIAI_PARTITIONS,
    GRAI_PARTITIONS,
    SCHEMES,
    SGLN_PARTITIONS,
    SGTIN_PARTITIONS,
    SSCC_PARTITIONS,
    EpcKind,
    Partition,
)
from firmware_bridge.gs1 import is_valid_gln, is_valid_gtin, is_valid_sscc

PARTITION = st.integers(min_value=0, max_value=6)
FILTER = st.integers(min_value=0, max_value=7)
SERIAL_38 = st.integers(min_value=0, max_value=2**38 - 1)
SERIAL_198 = st.text(alphabet=sorted(GS1_CHARSET_82), min_size=1, max_size=20)


def digits(count: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=count, max_size=count)


@st.composite
def prefix_and_reference(draw: st.DrawFn, table: tuple[Partition, ...]) -> tuple[int, str, str]:
    row = table[draw(PARTITION)]
    return table.index(row), draw(digits(row.company_digits)), draw(digits(row.reference_digits))


@given(prefix_and_reference(SGTIN_PARTITIONS), SERIAL_38, FILTER)
def test_sgtin96_round_trip(parts: tuple[int, str, str], serial: int, f: int) -> None:
    partition, cp, ref = parts
    identity = decode_epc(encode_sgtin96(cp, ref, serial, f))
    assert (identity.filter, identity.partition) == (f, partition)
    assert (identity.company_prefix, identity.reference, identity.serial) == (cp, ref, str(serial))
    assert identity.tag_uri == f"urn:epc:tag:sgtin-96:{f}.{cp}.{ref}.{serial}"
    assert identity.gtin is not None and is_valid_gtin(identity.gtin)
    assert identity.gtin[:13] == ref[0] + cp + ref[1:]


@given(prefix_and_reference(SGTIN_PARTITIONS), SERIAL_198, FILTER)
def test_sgtin198_round_trip(parts: tuple[int, str, str], serial: str, f: int) -> None:
    partition, cp, ref = parts
    epc_hex = encode_sgtin198(cp, ref, serial, f)
    identity = decode_epc(epc_hex)
    assert len(epc_hex) == 52
    assert (identity.kind, identity.filter, identity.partition) == (EpcKind.SGTIN, f, partition)
    assert (identity.company_prefix, identity.reference, identity.serial) == (cp, ref, serial)


@given(prefix_and_reference(SSCC_PARTITIONS), FILTER)
def test_sscc96_round_trip(parts: tuple[int, str, str], f: int) -> None:
    partition, cp, ref = parts
    identity = decode_epc(encode_sscc96(cp, ref, f))
    assert identity.pure_uri == f"urn:epc:id:sscc:{cp}.{ref}"
    assert (identity.filter, identity.partition) == (f, partition)
    assert identity.sscc is not None and is_valid_sscc(identity.sscc)
    assert identity.sscc[:17] == ref[0] + cp + ref[1:]


@given(prefix_and_reference(SGLN_PARTITIONS), st.integers(0, 2**41 - 1), FILTER)
def test_sgln96_round_trip(parts: tuple[int, str, str], extension: int, f: int) -> None:
    partition, cp, ref = parts
    identity = decode_epc(encode_sgln96(cp, ref, extension, f))
    assert identity.tag_uri == f"urn:epc:tag:sgln-96:{f}.{cp}.{ref}.{extension}"
    assert identity.partition == partition
    assert identity.gln is not None and is_valid_gln(identity.gln)


@given(prefix_and_reference(GRAI_PARTITIONS), SERIAL_38, FILTER)
def test_grai96_round_trip(parts: tuple[int, str, str], serial: int, f: int) -> None:
    partition, cp, ref = parts
    identity = decode_epc(encode_grai96(cp, ref, serial, f))
    assert identity.tag_uri == f"urn:epc:tag:grai-96:{f}.{cp}.{ref}.{serial}"
    assert identity.partition == partition


@given(PARTITION.flatmap(lambda p: st.tuples(
    st.just(p), digits(GIAI_PARTITIONS[p].company_digits),
    st.integers(0, 2 ** GIAI_PARTITIONS[p].reference_bits - 1))), FILTER)  # fmt: skip
def test_giai96_round_trip(parts: tuple[int, str, int], f: int) -> None:
    partition, cp, asset = parts
    identity = decode_epc(encode_giai96(cp, asset, f))
    assert identity.tag_uri == f"urn:epc:tag:giai-96:{f}.{cp}.{asset}"
    assert identity.partition == partition


def decodes_or_raises_epc_error(epc_hex: str) -> None:
    try:
        identity = decode_epc(epc_hex)
    except EpcError:
        return
    assert identity.raw_hex == epc_hex.strip().upper()
    if identity.kind is EpcKind.UNKNOWN:
        assert identity.reason and identity.pure_uri is None
    else:
        assert identity.pure_uri and identity.tag_uri and identity.reason is None


@settings(max_examples=300)
@given(st.sampled_from(sorted(SCHEMES)), st.data())
def test_random_payload_behind_known_header(header: int, data: st.DataObject) -> None:
    size = SCHEMES[header].hex_length // 2 - 1
    payload = data.draw(st.binary(min_size=size, max_size=size))
    decodes_or_raises_epc_error(f"{header:02X}{payload.hex()}")


@settings(max_examples=300)
@given(st.binary(max_size=40))
def test_random_bytes(raw: bytes) -> None:
    decodes_or_raises_epc_error(raw.hex())


@given(st.text(max_size=60))
def test_random_text(text: str) -> None:
    decodes_or_raises_epc_error(text)
