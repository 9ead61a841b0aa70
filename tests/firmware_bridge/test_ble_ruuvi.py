"""RuuviTag RAWv2 against the data format 5 specification's test vectors."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.ble_advert import Advertisement
from firmware_bridge.ble_errors import (
    BleDecodeError,
    MissingPayload,
    PayloadLengthError,
    UnsupportedFormat,
)
from firmware_bridge.ble_ruuvi import (
    RuuviData,
    decode_ruuvi,
    decode_ruuvi_advert,
    encode_ruuvi,
)
from firmware_bridge.records import Measurement, Quantity, Unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)
VALID = "0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F"
MAXIMUM = "057FFFFFFEFFFE7FFF7FFF7FFFFFDEFEFFFECBB8334C884F"
MINIMUM = "058001000000008001800180010000000000CBB8334C884F"
INVALID = "058000FFFFFFFF800080008000FFFFFFFFFFFFFFFFFFFFFF"
MAC = "CB:B8:33:4C:88:4F"


@pytest.mark.parametrize(
    ("hex_payload", "expected"),
    [
        (VALID, RuuviData(24.3, 53.49, 1000.44, (4, -4, 1036), 2.977, 4, 66, 205, MAC)),
        (
            MAXIMUM,
            RuuviData(163.835, 163.835, 1155.34, (32767, 32767, 32767), 3.646, 20, 254, 65534, MAC),
        ),
        (
            MINIMUM,
            RuuviData(-163.835, 0.0, 500.0, (-32767, -32767, -32767), 1.6, -40, 0, 0, MAC),
        ),
        (INVALID, RuuviData(None, None, None, (None, None, None), None, None, None, None, None)),
    ],
    ids=["valid", "maximum", "minimum", "invalid"],
)
def test_specification_vectors(hex_payload: str, expected: RuuviData) -> None:
    payload = bytes.fromhex(hex_payload)
    assert decode_ruuvi(payload) == expected
    assert encode_ruuvi(expected) == payload


def test_advert_to_measurements_uses_the_address() -> None:
    advert = Advertisement("CB:B8:33:4C:88:4F", -60, None, {0x0499: bytes.fromhex(VALID)})
    assert decode_ruuvi_advert(advert, T0) == [
        Measurement(MAC, T0, Quantity.TEMPERATURE, 24.3, Unit.CELSIUS),
        Measurement(MAC, T0, Quantity.HUMIDITY, 53.49, Unit.PERCENT_RH),
        Measurement(MAC, T0, Quantity.PRESSURE, 1000.44, Unit.HECTOPASCAL),
        Measurement(MAC, T0, Quantity.BATTERY_VOLTAGE, 2.977, Unit.VOLT),
    ]


def test_not_available_values_are_absent_readings() -> None:
    advert = Advertisement(MAC, manufacturer_data={0x0499: bytes.fromhex(INVALID)})
    assert decode_ruuvi_advert(advert, T0, device_id="tote-7") == []


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"", PayloadLengthError),
        (bytes.fromhex(VALID)[:-1], PayloadLengthError),
        (bytes.fromhex(VALID) + b"\x00", PayloadLengthError),
        (bytes.fromhex("03291A1ECE1EFC18F94202CA0B53"), UnsupportedFormat),
    ],
    ids=["empty", "truncated", "oversized", "format-3"],
)
def test_bad_payloads(payload: bytes, error: type[BleDecodeError]) -> None:
    with pytest.raises(error):
        decode_ruuvi(payload)


def test_advert_without_ruuvi_data() -> None:
    with pytest.raises(MissingPayload):
        decode_ruuvi_advert(Advertisement(MAC, manufacturer_data={0x004C: b"\x02"}), T0)


@given(st.binary(min_size=23, max_size=23))
def test_every_format_5_payload_round_trips(tail: bytes) -> None:
    payload = b"\x05" + tail
    assert encode_ruuvi(decode_ruuvi(payload)) == payload


@given(st.binary(max_size=40))
def test_random_bytes_raise_only_decode_errors(payload: bytes) -> None:
    with contextlib.suppress(BleDecodeError):
        decode_ruuvi(payload)
