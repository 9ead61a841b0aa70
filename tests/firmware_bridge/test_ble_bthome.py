"""BTHome v2 against bthome.io's documented packets, including its encryption example."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.ble_advert import Advertisement
from firmware_bridge.ble_bthome import (
    SERVICE_UUID,
    BthomeObject,
    BthomePacket,
    UnknownObject,
    bthome_measurements,
    decode_bthome,
    decode_bthome_advert,
    encode_bthome,
)
from firmware_bridge.ble_bthome_objects import OBJECTS
from firmware_bridge.ble_errors import (
    BleDecodeError,
    DecryptionError,
    PayloadLengthError,
    UnsupportedFormat,
)
from firmware_bridge.records import Measurement, Quantity, Unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
MAC = "54:48:E6:8F:80:A5"
TEMP_HUMIDITY = (BthomeObject(0x02, 25.06), BthomeObject(0x03, 50.55))


@pytest.mark.parametrize(
    ("hex_payload", "expected"),
    [
        ("4002ca0903bf13", BthomePacket(TEMP_HUMIDITY)),
        (
            "400009015d025d0903b718",
            BthomePacket(
                (
                    BthomeObject(0x00, 9),
                    BthomeObject(0x01, 93),
                    BthomeObject(0x02, 23.97),
                    BthomeObject(0x03, 63.27),
                )
            ),
        ),
        ("4004138a01", BthomePacket((BthomeObject(0x04, 1008.83),))),
        ("400c020c", BthomePacket((BthomeObject(0x0C, 3.074),))),
        ("40451101", BthomePacket((BthomeObject(0x45, 27.3),))),
        ("4057ea", BthomePacket((BthomeObject(0x57, -22),))),
        ("401101", BthomePacket((BthomeObject(0x11, 1),))),
        ("401a00", BthomePacket((BthomeObject(0x1A, 0),))),
        ("443a04", BthomePacket((BthomeObject(0x3A, 4),), trigger_based=True)),
        (
            "44530c48656c6c6f20576f726c6421",
            BthomePacket((BthomeObject(0x53, b"Hello World!"),), trigger_based=True),
        ),
    ],
    ids=[
        "temp-humidity", "packet-id", "pressure", "voltage", "temp-0.1", "temp-sint8",
        "opening", "door", "button-long-press", "text",
    ],
)  # fmt: skip
def test_documented_plain_packets(hex_payload: str, expected: BthomePacket) -> None:
    payload = bytes.fromhex(hex_payload)
    assert decode_bthome(payload) == expected
    assert encode_bthome(expected.objects, trigger_based=expected.trigger_based) == payload


@pytest.mark.parametrize(
    ("hex_payload", "counter"),
    [
        ("41a47266c95f730011223378237214", 0x33221100),
        ("41e445f3c9962b332211006c7c4519", 0x00112233),
    ],
    ids=["bthome.io-nonce", "counter-0x00112233"],
)
def test_encryption_example(hex_payload: str, counter: int) -> None:
    payload = bytes.fromhex(hex_payload)
    expected = BthomePacket(TEMP_HUMIDITY, encrypted=True, counter=counter)
    assert decode_bthome(payload, address=MAC, bindkey=KEY) == expected
    assert encode_bthome(TEMP_HUMIDITY, bindkey=KEY, address=MAC, counter=counter) == payload


@pytest.mark.parametrize(
    ("key", "address"),
    [(bytes(16), MAC), (KEY, "54:48:E6:8F:80:A6"), (None, MAC), (KEY[:8], MAC)],
    ids=["wrong-key", "wrong-address", "no-key", "short-key"],
)
def test_encrypted_advert_needs_the_right_key(key: bytes | None, address: str) -> None:
    with pytest.raises(DecryptionError):
        decode_bthome(bytes.fromhex("41a47266c95f730011223378237214"), address=address, bindkey=key)


def test_tampered_ciphertext_is_refused() -> None:
    payload = bytearray.fromhex("41a47266c95f730011223378237214")
    payload[2] ^= 0x01
    with pytest.raises(DecryptionError):
        decode_bthome(bytes(payload), address=MAC, bindkey=KEY)


@pytest.mark.parametrize(
    ("hex_payload", "error"),
    [
        ("", PayloadLengthError),
        ("2002ca09", UnsupportedFormat),
        ("4002ca", PayloadLengthError),
        ("40fe01", UnknownObject),
        ("4053", PayloadLengthError),
        ("41a4726600", PayloadLengthError),
    ],
    ids=["empty", "version-1", "truncated", "unknown-id", "text-no-length", "short-encrypted"],
)
def test_bad_packets(hex_payload: str, error: type[BleDecodeError]) -> None:
    with pytest.raises(error):
        decode_bthome(bytes.fromhex(hex_payload), address=MAC, bindkey=KEY)


def test_measurements_file_repeats_and_skip_what_we_do_not_measure() -> None:
    packet = decode_bthome(bytes.fromhex("400009010202ca0902cf091a013a003a020c020c05138a14"))
    assert bthome_measurements(packet, "shelf-4", T0) == [
        Measurement("shelf-4", T0, Quantity.BATTERY_LEVEL, 2.0, Unit.PERCENT),
        Measurement("shelf-4", T0, Quantity.TEMPERATURE, 25.06, Unit.CELSIUS),
        Measurement("shelf-4/2", T0, Quantity.TEMPERATURE, 25.11, Unit.CELSIUS),
        Measurement("shelf-4", T0, Quantity.DOOR_OPEN, 1.0, Unit.BOOLEAN),
        Measurement("shelf-4/2", T0, Quantity.BUTTON_PRESS, 2.0, Unit.COUNT),
        Measurement("shelf-4", T0, Quantity.BATTERY_VOLTAGE, 3.074, Unit.VOLT),
    ]


def test_encrypted_advert_to_measurements() -> None:
    advert = Advertisement(
        MAC, service_data={SERVICE_UUID: bytes.fromhex("41a47266c95f730011223378237214")}
    )
    assert decode_bthome_advert(advert, T0, bindkey=KEY) == [
        Measurement(MAC, T0, Quantity.TEMPERATURE, 25.06, Unit.CELSIUS),
        Measurement(MAC, T0, Quantity.HUMIDITY, 50.55, Unit.PERCENT_RH),
    ]


def _raw_objects() -> st.SearchStrategy[list[BthomeObject]]:
    def one(object_id: int) -> st.SearchStrategy[BthomeObject]:
        kind = OBJECTS[object_id]
        if kind.width == 0:
            return st.binary(max_size=10).map(lambda raw: BthomeObject(object_id, raw))
        bits = kind.width * 8
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if kind.signed else (0, 2**bits - 1)
        return st.integers(low, high).map(
            lambda raw: BthomeObject(
                object_id, raw if kind.factor == 1 else round(raw * kind.factor, kind.decimals)
            )
        )

    return st.lists(st.sampled_from(sorted(OBJECTS)).flatmap(one), max_size=8)


@given(_raw_objects(), st.booleans(), st.integers(0, 2**32 - 1))
def test_round_trip_plain_and_encrypted(
    objects: list[BthomeObject], encrypt: bool, counter: int
) -> None:
    key = KEY if encrypt else None
    payload = encode_bthome(objects, bindkey=key, address=MAC, counter=counter)
    packet = decode_bthome(payload, address=MAC, bindkey=key)
    assert packet == BthomePacket(tuple(objects), encrypt, False, counter if encrypt else None)


@given(st.binary(max_size=40))
def test_random_bytes_raise_only_decode_errors(payload: bytes) -> None:
    with contextlib.suppress(BleDecodeError):
        decode_bthome(payload, address=MAC, bindkey=KEY)
