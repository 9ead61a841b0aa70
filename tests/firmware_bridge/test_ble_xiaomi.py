"""LYWSD03MMC custom firmware formats (ATC1441 and pvvx) on service data 0x181A."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.ble_advert import Advertisement
from firmware_bridge.ble_errors import BleDecodeError, MissingPayload, PayloadLengthError
from firmware_bridge.ble_xiaomi import (
    SERVICE_UUID,
    XiaomiData,
    decode_atc,
    decode_pvvx,
    decode_xiaomi,
    decode_xiaomi_advert,
    encode_atc,
    encode_pvvx,
)
from firmware_bridge.records import Measurement, Quantity, Unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MAC = "A4:C1:38:AA:BB:CC"
# Built by hand from the published layouts (ATC1441 README, pvvx "custom format").
ATC = "a4c138aabbcc00ce33430a6ec3"
ATC_NEGATIVE = "a4c138aabbccff9c5a1e0bb801"
PVVX = "ccbbaa38c1a46c07fa13d60a52090f"


@pytest.mark.parametrize(
    ("hex_payload", "expected"),
    [
        (ATC, XiaomiData("atc", MAC, 20.6, 51.0, 2.67, 67, 195)),
        (ATC_NEGATIVE, XiaomiData("atc", MAC, -10.0, 90.0, 3.0, 30, 1)),
        (PVVX, XiaomiData("pvvx", MAC, 19.0, 51.14, 2.774, 82, 9, 15)),
    ],
    ids=["atc", "atc-below-zero", "pvvx"],
)
def test_documented_layouts(hex_payload: str, expected: XiaomiData) -> None:
    payload = bytes.fromhex(hex_payload)
    assert decode_xiaomi(payload) == expected
    encode = encode_atc if expected.format == "atc" else encode_pvvx
    assert encode(expected) == payload


# Captured from real thermometers: the service data 0x181A inside HCI LE advertising reports
# published as parser test data by the ble_monitor project (Home Assistant custom component).
CAPTURED = [
    (
        "043e1d02010000f4830238c1a41110161a18a4c1380283f400a22f5f0bf819df",
        XiaomiData("atc", "A4:C1:38:02:83:F4", 16.2, 47.0, 3.064, 95, 25),
    ),
    (
        "043E2B0D011300004E7CBC38C1A40100FF7FB90000000000000000001110161A18A4C138BC7C4E0102284F0B6720",
        XiaomiData("atc", "A4:C1:38:BC:7C:4E", 25.8, 40.0, 2.919, 79, 32),
    ),
    (
        "043e1f02010000f4830238c1a41312161a18f4830238c1a4a9066911b60b58f70dde",
        XiaomiData("pvvx", "A4:C1:38:02:83:F4", 17.05, 44.57, 2.998, 88, 247, 13),
    ),
    (
        "043E2202010000B2188D38C1A41602010612161A18B2188D38C1A42B089011F70A43200FC2",
        XiaomiData("pvvx", "A4:C1:38:8D:18:B2", 20.91, 44.96, 2.807, 67, 32, 15),
    ),
]


def _service_data_181a(hci_report: bytes) -> bytes:
    """The payload of the first 16-bit service data AD structure with UUID 0x181A."""
    marker = b"\x16\x1a\x18"
    start = hci_report.index(marker)
    length = hci_report[start - 1]  # the AD length counts the type byte and the UUID
    return hci_report[start + len(marker) : start + len(marker) + length - 3]


@pytest.mark.parametrize(
    ("hci_hex", "expected"), CAPTURED, ids=["atc", "atc-ext", "pvvx", "pvvx-2.9"]
)
def test_adverts_captured_from_real_thermometers(hci_hex: str, expected: XiaomiData) -> None:
    payload = _service_data_181a(bytes.fromhex(hci_hex))
    assert decode_xiaomi(payload) == expected
    encode = encode_atc if expected.format == "atc" else encode_pvvx
    assert encode(expected) == payload


def test_advert_to_measurements() -> None:
    advert = Advertisement(MAC, -71, "ATC_AABBCC", service_data={SERVICE_UUID: bytes.fromhex(PVVX)})
    assert decode_xiaomi_advert(advert, T0, device_id="cold-box-3") == [
        Measurement("cold-box-3", T0, Quantity.TEMPERATURE, 19.0, Unit.CELSIUS),
        Measurement("cold-box-3", T0, Quantity.HUMIDITY, 51.14, Unit.PERCENT_RH),
        Measurement("cold-box-3", T0, Quantity.BATTERY_VOLTAGE, 2.774, Unit.VOLT),
        Measurement("cold-box-3", T0, Quantity.BATTERY_LEVEL, 82.0, Unit.PERCENT),
    ]


def test_insisting_on_a_format_refuses_the_other() -> None:
    advert = Advertisement(MAC, service_data={SERVICE_UUID: bytes.fromhex(ATC)})
    with pytest.raises(PayloadLengthError):
        decode_xiaomi_advert(advert, T0, expect="pvvx")
    with pytest.raises(MissingPayload):
        decode_xiaomi_advert(Advertisement(MAC), T0)


@pytest.mark.parametrize("length", [0, 8, 11, 12, 14, 16])
def test_other_lengths_are_refused(length: int) -> None:
    with pytest.raises(PayloadLengthError):
        decode_xiaomi(bytes(length))


@given(st.binary(min_size=15, max_size=15))
def test_pvvx_round_trip(payload: bytes) -> None:
    assert encode_pvvx(decode_pvvx(payload)) == payload


@given(st.binary(min_size=13, max_size=13))
def test_atc_round_trip(payload: bytes) -> None:
    assert encode_atc(decode_atc(payload)) == payload


@given(st.binary(max_size=30))
def test_random_bytes_raise_only_decode_errors(payload: bytes) -> None:
    with contextlib.suppress(BleDecodeError):
        decode_xiaomi(payload)
