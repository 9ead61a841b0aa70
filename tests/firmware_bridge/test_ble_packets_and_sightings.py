"""What a gateway needs beyond readings: a BTHome packet's id and whether it carries an event,
and an iBeacon sighting as measurements of the tag."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from firmware_bridge.ble_advert import Advertisement
from firmware_bridge.ble_bthome import decode_bthome
from firmware_bridge.ble_ibeacon import decode_ibeacon_advert, ibeacon_measurements
from firmware_bridge.records import Measurement, Quantity, Unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
MAC = "54:48:E6:8F:80:A5"


@pytest.mark.parametrize(
    ("hex_payload", "packet_id", "event"),
    [
        ("4002ca0903bf13", None, False),  # temperature, humidity: a periodic reading
        ("400009015d025d0903b718", 9, False),  # with packet id 9
        ("401101", None, True),  # opening
        ("401a00", None, True),  # door closed
        ("40002a2d01", 42, True),  # window open, packet 42
        ("402101", None, True),  # motion
        ("443a04", None, True),  # button long press, trigger-based device
        ("443a00", None, True),  # trigger-based: every packet is an event
        ("403c0103", None, True),  # dimmer rotated 3 steps left
    ],
)
def test_packet_id_and_event(hex_payload: str, packet_id: int | None, event: bool) -> None:
    packet = decode_bthome(bytes.fromhex(hex_payload))
    assert (packet.packet_id, packet.carries_event) == (packet_id, event)


def test_an_encrypted_packet_has_its_counter_and_no_packet_id() -> None:
    # bthome.io's encryption example (temperature and humidity) with counter 0x00112233.
    payload = bytes.fromhex("41e445f3c9962b332211006c7c4519")
    packet = decode_bthome(payload, address=MAC, bindkey=KEY)
    assert (packet.counter, packet.packet_id, packet.carries_event) == (0x00112233, None, False)


IBEACON = bytes.fromhex("0215e2c56db5dffb48d2b060d0f5a71096e000010002c5")  # -59 dBm at 1 m


def test_a_sighting_is_the_tags_rssi_and_distance() -> None:
    advert = Advertisement("C0:FF:EE:00:00:01", -79, None, {0x004C: IBEACON})
    assert ibeacon_measurements(decode_ibeacon_advert(advert, T0), "pallet-1") == [
        Measurement("pallet-1", T0, Quantity.RSSI, -79.0, Unit.DBM),
        Measurement("pallet-1", T0, Quantity.DISTANCE, 10.0, Unit.METRE),
    ]
    unheard = Advertisement("C0:FF:EE:00:00:01", None, None, {0x004C: IBEACON})
    assert ibeacon_measurements(decode_ibeacon_advert(unheard, T0), "pallet-1") == []
