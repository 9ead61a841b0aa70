"""One advertisement of a configured BLE sensor -> its readings and what admission needs (pure)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime

from edge.config import BleSensor
from firmware_bridge import ble_bthome
from firmware_bridge.ble_advert import Advertisement
from firmware_bridge.ble_decode import decode_measurements
from firmware_bridge.ble_errors import MissingPayload
from firmware_bridge.ble_ibeacon import decode_ibeacon_advert, ibeacon_measurements
from firmware_bridge.records import Measurement


@dataclass(frozen=True, slots=True)
class Decoded:
    readings: list[Measurement]
    event: Hashable | None = None
    """The packet's identity when it carries an event: its packet id, else its counter, else
    its bytes."""
    counter: int | None = None
    """The (authenticated) counter of an encrypted BTHome advert."""


def decode_sensor_advert(
    sensor: BleSensor, advert: Advertisement, when: datetime, bindkey: bytes | None
) -> Decoded:
    """Raises a :class:`~firmware_bridge.ble_errors.BleDecodeError` subclass."""
    if sensor.format == "bthome":
        payload = advert.service_data.get(ble_bthome.SERVICE_UUID)
        if payload is None:
            raise MissingPayload("bthome: no service data of UUID 0xFCD2")
        packet = ble_bthome.decode_bthome(payload, address=advert.address, bindkey=bindkey)
        event: Hashable | None = None
        if packet.carries_event:
            event = next(
                key for key in (packet.packet_id, packet.counter, payload) if key is not None
            )
        return Decoded(
            ble_bthome.bthome_measurements(packet, sensor.id, when),
            event,
            packet.counter if packet.encrypted else None,
        )
    if sensor.format == "ibeacon":
        sighting = decode_ibeacon_advert(advert, when, sensor.path_loss_exponent)
        return Decoded(ibeacon_measurements(sighting, sensor.id))
    return Decoded(decode_measurements(advert, when, sensor.format, device_id=sensor.id))
