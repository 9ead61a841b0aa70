"""iBeacon (Apple manufacturer data, company id 0x004C, type 0x02, length 0x15) for asset tags.

Payload after the company id: ``02 15``, proximity UUID (16), major uint16 BE, minor uint16 BE,
measured power int8 (the RSSI at 1 m). Distance is estimated with the log-distance path-loss
model ``d = 10 ** ((measured_power - rssi) / (10 * n))``, n = 2 in free space, 2.5-4 indoors.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from datetime import datetime

from firmware_bridge.ble_advert import Advertisement
from firmware_bridge.ble_errors import MissingPayload, PayloadLengthError, UnsupportedFormat
from firmware_bridge.records import Measurement, Quantity, Unit

MANUFACTURER_ID = 0x004C
_PREFIX = b"\x02\x15"
_LAYOUT = struct.Struct(">2s16sHHb")
FREE_SPACE_EXPONENT = 2.0


@dataclass(frozen=True, slots=True)
class IBeacon:
    uuid: str
    major: int
    minor: int
    measured_power_dbm: int


@dataclass(frozen=True, slots=True)
class IBeaconSighting:
    address: str
    time: datetime
    beacon: IBeacon
    rssi_dbm: int | None
    distance_m: float | None


def decode_ibeacon(payload: bytes) -> IBeacon:
    """Apple manufacturer data (without the company id) of an iBeacon advert."""
    if len(payload) < len(_PREFIX):
        raise PayloadLengthError(f"ibeacon: {len(payload)} bytes of Apple data is truncated")
    if payload[:2] != _PREFIX:
        raise UnsupportedFormat("ibeacon: Apple data that is not an iBeacon (type 0x02, 0x15)")
    if len(payload) != _LAYOUT.size:
        raise PayloadLengthError(f"ibeacon: {len(payload)} bytes, an iBeacon has {_LAYOUT.size}")
    _, proximity, major, minor, power = _LAYOUT.unpack(payload)
    return IBeacon(str(uuid.UUID(bytes=proximity)), major, minor, power)


def encode_ibeacon(beacon: IBeacon) -> bytes:
    return _LAYOUT.pack(
        _PREFIX, uuid.UUID(beacon.uuid).bytes, beacon.major, beacon.minor,
        beacon.measured_power_dbm,
    )  # fmt: skip


def estimate_distance(
    measured_power_dbm: int, rssi_dbm: int, path_loss_exponent: float = FREE_SPACE_EXPONENT
) -> float:
    """Metres from the transmitter by the log-distance model (a rough estimate)."""
    if path_loss_exponent <= 0:
        raise ValueError("path loss exponent must be positive")
    return round(10 ** ((measured_power_dbm - rssi_dbm) / (10 * path_loss_exponent)), 2)


def decode_ibeacon_advert(
    advert: Advertisement,
    time: datetime,
    path_loss_exponent: float = FREE_SPACE_EXPONENT,
) -> IBeaconSighting:
    payload = advert.manufacturer_data.get(MANUFACTURER_ID)
    if payload is None:
        raise MissingPayload("ibeacon: no manufacturer data of company 0x004C")
    beacon = decode_ibeacon(payload)
    distance = (
        None
        if advert.rssi is None
        else estimate_distance(beacon.measured_power_dbm, advert.rssi, path_loss_exponent)
    )
    return IBeaconSighting(advert.address, time, beacon, advert.rssi, distance)


def ibeacon_measurements(sighting: IBeaconSighting, device_id: str) -> list[Measurement]:
    """The tag's RSSI (dBm) and estimated distance (m) at the sighting; none without an RSSI."""
    if sighting.rssi_dbm is None or sighting.distance_m is None:
        return []
    return [
        Measurement(device_id, sighting.time, Quantity.RSSI, float(sighting.rssi_dbm), Unit.DBM),
        Measurement(device_id, sighting.time, Quantity.DISTANCE, sighting.distance_m, Unit.METRE),
    ]
