"""iBeacon asset tags: Apple's layout and the log-distance estimate."""

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
from firmware_bridge.ble_ibeacon import (
    IBeacon,
    IBeaconSighting,
    decode_ibeacon,
    decode_ibeacon_advert,
    encode_ibeacon,
    estimate_distance,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
# Apple's AirLocate sample UUID, major 1, minor 2, measured power -59 dBm.
PAYLOAD = bytes.fromhex("0215e2c56db5dffb48d2b060d0f5a71096e000010002c5")
BEACON = IBeacon("e2c56db5-dffb-48d2-b060-d0f5a71096e0", 1, 2, -59)


def test_decode_and_encode() -> None:
    assert decode_ibeacon(PAYLOAD) == BEACON
    assert encode_ibeacon(BEACON) == PAYLOAD


@pytest.mark.parametrize(
    ("measured", "rssi", "exponent", "metres"),
    [(-59, -59, 2.0, 1.0), (-59, -79, 2.0, 10.0), (-59, -89, 3.0, 10.0), (-59, -49, 2.0, 0.32)],
)
def test_log_distance_model(measured: int, rssi: int, exponent: float, metres: float) -> None:
    assert estimate_distance(measured, rssi, exponent) == metres


def test_sighting() -> None:
    advert = Advertisement("C0:FF:EE:00:00:01", -79, None, {0x004C: PAYLOAD})
    assert decode_ibeacon_advert(advert, T0) == IBeaconSighting(
        "C0:FF:EE:00:00:01", T0, BEACON, -79, 10.0
    )
    no_rssi = Advertisement("C0:FF:EE:00:00:01", None, None, {0x004C: PAYLOAD})
    assert decode_ibeacon_advert(no_rssi, T0).distance_m is None


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"\x02", PayloadLengthError),
        (PAYLOAD[:-1], PayloadLengthError),
        (PAYLOAD + b"\x00", PayloadLengthError),
        (bytes.fromhex("10050b1c"), UnsupportedFormat),
    ],
    ids=["one-byte", "truncated", "oversized", "apple-nearby"],
)
def test_bad_payloads(payload: bytes, error: type[BleDecodeError]) -> None:
    with pytest.raises(error):
        decode_ibeacon(payload)


def test_advert_without_apple_data() -> None:
    with pytest.raises(MissingPayload):
        decode_ibeacon_advert(Advertisement("C0:FF:EE:00:00:01"), T0)


@given(st.binary(min_size=21, max_size=21))
def test_round_trip(tail: bytes) -> None:
    payload = b"\x02\x15" + tail
    assert encode_ibeacon(decode_ibeacon(payload)) == payload


@given(st.binary(max_size=30))
def test_random_bytes_raise_only_decode_errors(payload: bytes) -> None:
    with contextlib.suppress(BleDecodeError):
        decode_ibeacon(payload)
