"""One received BLE advertisement, shaped like bleak's ``AdvertisementData``, and its JSON form.

JSON form (one object per line for ``retailedge decode`` and for replay)::

    {"address": "AA:BB:CC:DD:EE:FF", "rssi": -60, "local_name": "Ruuvi 884F",
     "manufacturer_data": {"1177": "05...", "0x004C": "0215..."},
     "service_data": {"fcd2": "40...", "0000181a-0000-1000-8000-00805f9b34fb": "..."},
     "time": "2026-01-01T00:00:00Z"}

Manufacturer ids are decimal or ``0x`` hex; service UUIDs 16-bit hex or full 128-bit, kept
in bleak's full lowercase form. ``time`` (receive time) is optional.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from firmware_bridge.ble_errors import AdvertFormatError
from firmware_bridge.wire import format_time, parse_time

BASE_UUID_SUFFIX = "-0000-1000-8000-00805f9b34fb"
_FULL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SHORT_UUID = re.compile(r"^(0x)?([0-9a-f]{4})$")
_ADDRESS = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")
_FIELDS = frozenset({"address", "rssi", "local_name", "manufacturer_data", "service_data", "time"})


def uuid16(short: int) -> str:
    """The full 128-bit form of a 16-bit Bluetooth SIG UUID, as bleak spells it."""
    return f"0000{short:04x}{BASE_UUID_SUFFIX}"


def normalize_uuid(text: str) -> str:
    """``text`` (16-bit hex, optionally ``0x``, or 128-bit) in full lowercase 128-bit form."""
    lowered = text.strip().lower()
    short = _SHORT_UUID.match(lowered)
    if short:
        return uuid16(int(short.group(2), 16))
    if _FULL_UUID.match(lowered):
        return lowered
    raise AdvertFormatError(f"service_data: {text!r} is not a UUID")


@dataclass(frozen=True, slots=True)
class Advertisement:
    address: str
    rssi: int | None = None
    local_name: str | None = None
    manufacturer_data: Mapping[int, bytes] = field(default_factory=dict)
    service_data: Mapping[str, bytes] = field(default_factory=dict)
    time: datetime | None = None


def mac_bytes(address: str) -> bytes:
    """The 6 bytes of a ``AA:BB:CC:DD:EE:FF`` address, most significant first."""
    text = address.strip().upper()
    if not _ADDRESS.match(text):
        raise AdvertFormatError(f"address: {address!r} is not a MAC address AA:BB:CC:DD:EE:FF")
    return bytes.fromhex(text.replace(":", ""))


def format_mac(raw: bytes) -> str:
    return ":".join(f"{byte:02X}" for byte in raw)


def _hex(where: str, value: Any) -> bytes:
    if not isinstance(value, str):
        raise AdvertFormatError(f"{where}: expected a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise AdvertFormatError(f"{where}: {value!r} is not hex") from None


def _company_id(key: str) -> int:
    text = key.strip().lower()
    try:
        value = int(text, 16) if text.startswith("0x") else int(text, 10)
    except ValueError:
        raise AdvertFormatError(f"manufacturer_data: {key!r} is not a company id") from None
    if not 0 <= value <= 0xFFFF:
        raise AdvertFormatError(f"manufacturer_data: {key!r} is not a 16-bit company id")
    return value


def _mapping(obj: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = obj.get(name, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AdvertFormatError(f"{name}: expected an object")
    return value


def _optional(obj: Mapping[str, Any], name: str, kind: type) -> Any:
    value = obj.get(name)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise AdvertFormatError(f"{name}: expected {kind.__name__}")
    return value


RSSI_NOT_AVAILABLE = 127
"""The HCI's "RSSI not available" value; other RSSIs are -127..+20 dBm (Core spec, HCI LE
Advertising Report)."""


def _rssi(obj: dict[str, Any]) -> int | None:
    rssi: int | None = _optional(obj, "rssi", int)
    if rssi is None or rssi == RSSI_NOT_AVAILABLE:
        return None
    if not -127 <= rssi <= 20:
        raise AdvertFormatError(f"rssi: {rssi} is outside -127..20 dBm")
    return rssi


def advert_from_json(obj: Any) -> Advertisement:
    """An :class:`Advertisement` from its JSON form; :class:`AdvertFormatError` names the field."""
    if not isinstance(obj, dict):
        raise AdvertFormatError("advertisement: expected a JSON object")
    unknown = sorted(set(obj) - _FIELDS)
    if unknown:
        raise AdvertFormatError(f"{unknown[0]}: unknown field")
    address = obj.get("address")
    if not isinstance(address, str):
        raise AdvertFormatError("address: required string")
    mac_bytes(address)
    time_text = _optional(obj, "time", str)
    try:
        time = None if time_text is None else parse_time(time_text)
    except ValueError as exc:
        raise AdvertFormatError(f"time: {exc}") from None
    return Advertisement(
        address=address.strip().upper(),
        rssi=_rssi(obj),
        local_name=_optional(obj, "local_name", str),
        manufacturer_data={
            _company_id(key): _hex(f"manufacturer_data.{key}", value)
            for key, value in _mapping(obj, "manufacturer_data").items()
        },
        service_data={
            normalize_uuid(key): _hex(f"service_data.{key}", value)
            for key, value in _mapping(obj, "service_data").items()
        },
        time=time,
    )


def advert_to_json(advert: Advertisement) -> dict[str, Any]:
    """The JSON form of ``advert`` (manufacturer ids as decimal strings, data as hex)."""
    obj: dict[str, Any] = {
        "address": advert.address,
        "rssi": advert.rssi,
        "local_name": advert.local_name,
        "manufacturer_data": {
            str(key): value.hex() for key, value in advert.manufacturer_data.items()
        },
        "service_data": {key: value.hex() for key, value in advert.service_data.items()},
    }
    if advert.time is not None:
        obj["time"] = format_time(advert.time)
    return obj
