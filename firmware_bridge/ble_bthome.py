"""BTHome v2 service data (UUID 0xFCD2), plain and AES-CCM encrypted with a bind key.

The first byte is the device information (bit 0 encrypted, bit 2 trigger-based, bits 5-7 the
version, 2). Then objects: an id from :data:`OBJECTS` and its little-endian value. Encrypted,
the objects are AES-CCM ciphertext followed by a 4-byte counter and a 4-byte MIC; the nonce is
the sensor's MAC, the UUID (``D2 FC``), the device information byte and the counter bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from firmware_bridge.ble_advert import Advertisement, mac_bytes, uuid16
from firmware_bridge.ble_bthome_objects import (
    BUTTON,
    BUTTON_EVENTS,
    EVENT_OBJECTS,
    OBJECTS,
    PACKET_ID,
    ObjectType,
)
from firmware_bridge.ble_errors import (
    BleDecodeError,
    DecryptionError,
    MissingPayload,
    PayloadLengthError,
    UnsupportedFormat,
)
from firmware_bridge.records import Measurement, Quantity, Unit

SERVICE_UUID = uuid16(0xFCD2)
_UUID_LE = b"\xd2\xfc"
_ENCRYPTED = 0x01
_TRIGGER_BASED = 0x04
_VERSION_2 = 2 << 5
_MIC_LEN = 4
_COUNTER_LEN = 4
_UNITS = {
    Quantity.TEMPERATURE: Unit.CELSIUS,
    Quantity.HUMIDITY: Unit.PERCENT_RH,
    Quantity.PRESSURE: Unit.HECTOPASCAL,
    Quantity.BATTERY_LEVEL: Unit.PERCENT,
    Quantity.BATTERY_VOLTAGE: Unit.VOLT,
    Quantity.DOOR_OPEN: Unit.BOOLEAN,
    Quantity.BUTTON_PRESS: Unit.COUNT,
}

Value = int | float | bytes


class UnknownObject(BleDecodeError):
    """An object id BTHome v2 does not define (its length, and so the rest, is unknown)."""


@dataclass(frozen=True, slots=True)
class BthomeObject:
    object_id: int
    value: Value

    @property
    def name(self) -> str:
        return OBJECTS[self.object_id].name


@dataclass(frozen=True, slots=True)
class BthomePacket:
    objects: tuple[BthomeObject, ...]
    encrypted: bool = False
    trigger_based: bool = False
    counter: int | None = None

    @property
    def packet_id(self) -> int | None:
        """The packet id object (a sensor repeats one packet under the same id), if sent."""
        for item in self.objects:
            if item.object_id == PACKET_ID and isinstance(item.value, int):
                return item.value
        return None

    @property
    def carries_event(self) -> bool:
        """Sent by a trigger-based device, or holding an event object (door, button ...)."""
        return self.trigger_based or any(item.object_id in EVENT_OBJECTS for item in self.objects)


def _check_key(bindkey: bytes) -> None:
    if len(bindkey) != 16:
        raise DecryptionError(f"bthome: bind key has {len(bindkey)} bytes, needs 16")


def _nonce(address: str, info: int, counter: bytes) -> bytes:
    return mac_bytes(address) + _UUID_LE + bytes([info]) + counter


def _decrypt(info: int, body: bytes, address: str | None, bindkey: bytes | None) -> bytes:
    if bindkey is None or address is None:
        raise DecryptionError("bthome: encrypted advert, a bind key and the address are needed")
    _check_key(bindkey)
    if len(body) < _COUNTER_LEN + _MIC_LEN:
        raise PayloadLengthError(f"bthome: encrypted payload of {len(body)} bytes is truncated")
    ciphertext, counter, mic = body[:-8], body[-8:-4], body[-4:]
    try:
        return AESCCM(bindkey, tag_length=_MIC_LEN).decrypt(
            _nonce(address, info, counter), ciphertext + mic, None
        )
    except InvalidTag:
        raise DecryptionError("bthome: wrong bind key, or the advert was tampered with") from None


def _scaled(kind: ObjectType, raw: int) -> int | float:
    if kind.factor == 1:
        return raw
    return round(raw * kind.factor, kind.decimals)


def parse_objects(data: bytes) -> tuple[BthomeObject, ...]:
    """The objects of decrypted BTHome v2 data."""
    objects: list[BthomeObject] = []
    position = 0
    while position < len(data):
        object_id = data[position]
        kind = OBJECTS.get(object_id)
        if kind is None:
            raise UnknownObject(f"bthome: unknown object id 0x{object_id:02X} at {position}")
        position += 1
        width = kind.width or (data[position] if position < len(data) else 0) + 1
        chunk = data[position : position + width]
        if len(chunk) != width or not chunk:
            raise PayloadLengthError(
                f"bthome: object 0x{object_id:02X} ({kind.name}) truncated at byte {position}"
            )
        position += width
        value: Value
        if kind.width == 0:
            value = chunk[1:]
        else:
            value = _scaled(kind, int.from_bytes(chunk, "little", signed=kind.signed))
        objects.append(BthomeObject(object_id, value))
    return tuple(objects)


def decode_bthome(
    payload: bytes, *, address: str | None = None, bindkey: bytes | None = None
) -> BthomePacket:
    """Service data of UUID 0xFCD2; ``address`` and ``bindkey`` are needed when encrypted."""
    if not payload:
        raise PayloadLengthError("bthome: empty service data")
    info = payload[0]
    version = info >> 5
    if version != 2:
        raise UnsupportedFormat(f"bthome: version {version}, only 2 is decoded")
    encrypted = bool(info & _ENCRYPTED)
    body = payload[1:]
    counter = None
    if encrypted:
        counter = int.from_bytes(body[-8:-4], "little") if len(body) >= 8 else None
        body = _decrypt(info, body, address, bindkey)
    return BthomePacket(parse_objects(body), encrypted, bool(info & _TRIGGER_BASED), counter)


def _raw(kind: ObjectType, object_id: int, value: Value) -> bytes:
    if kind.width == 0:
        if not isinstance(value, bytes):
            raise TypeError(f"bthome: object 0x{object_id:02X} ({kind.name}) takes bytes")
        return bytes([len(value)]) + value
    if isinstance(value, bytes):
        raise TypeError(f"bthome: object 0x{object_id:02X} ({kind.name}) takes a number")
    raw = round(value / kind.factor)
    return raw.to_bytes(kind.width, "little", signed=kind.signed)


def encode_bthome(
    objects: Sequence[BthomeObject],
    *,
    trigger_based: bool = False,
    bindkey: bytes | None = None,
    address: str | None = None,
    counter: int = 0,
) -> bytes:
    """BTHome v2 service data; encrypted when ``bindkey`` (and the sensor ``address``) given."""
    data = b"".join(
        bytes([item.object_id]) + _raw(OBJECTS[item.object_id], item.object_id, item.value)
        for item in objects
    )
    info = _VERSION_2 | (_TRIGGER_BASED if trigger_based else 0)
    if bindkey is None:
        return bytes([info]) + data
    if address is None:
        raise ValueError("bthome: encrypting needs the sensor's address")
    _check_key(bindkey)
    info |= _ENCRYPTED
    counter_bytes = counter.to_bytes(_COUNTER_LEN, "little")
    sealed = AESCCM(bindkey, tag_length=_MIC_LEN).encrypt(
        _nonce(address, info, counter_bytes), data, None
    )
    return bytes([info]) + sealed[:-_MIC_LEN] + counter_bytes + sealed[-_MIC_LEN:]


def _reading(item: BthomeObject) -> float | None:
    if item.object_id == BUTTON:
        event = BUTTON_EVENTS.get(int(item.value))
        return None if event is None or event[1] == 0 else float(event[1])
    return float(item.value) if not isinstance(item.value, bytes) else None


def bthome_measurements(packet: BthomePacket, device_id: str, time: datetime) -> list[Measurement]:
    """Readings of the objects we have a quantity for. A quantity that repeats in one packet
    (several probes or buttons on one sensor) is filed as ``device_id/2``, ``/3`` ...;
    button "none" events are no reading."""
    seen: Counter[Quantity] = Counter()
    readings: list[Measurement] = []
    for item in packet.objects:
        quantity = OBJECTS[item.object_id].quantity
        if quantity is None:
            continue
        seen[quantity] += 1
        value = _reading(item)
        if value is None:
            continue
        device = device_id if seen[quantity] == 1 else f"{device_id}/{seen[quantity]}"
        readings.append(Measurement(device, time, quantity, value, _UNITS[quantity]))
    return readings


def decode_bthome_advert(
    advert: Advertisement,
    time: datetime,
    device_id: str | None = None,
    bindkey: bytes | None = None,
) -> list[Measurement]:
    payload = advert.service_data.get(SERVICE_UUID)
    if payload is None:
        raise MissingPayload("bthome: no service data of UUID 0xFCD2")
    packet = decode_bthome(payload, address=advert.address, bindkey=bindkey)
    return bthome_measurements(packet, device_id or advert.address, time)
