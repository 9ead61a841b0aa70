"""Custom-firmware formats of the Xiaomi LYWSD03MMC thermometer, service data UUID 0x181A.

- ATC1441 (13 bytes, big-endian): MAC (6, in order), temperature int16 × 0.1 °C, humidity
  uint8 %, battery uint8 %, battery uint16 mV, frame counter uint8.
- pvvx custom (15 bytes, little-endian): MAC (6, reversed), temperature int16 × 0.01 °C,
  humidity uint16 × 0.01 %, battery uint16 mV, battery uint8 %, measurement counter uint8,
  flags uint8.

The encrypted variants of both firmwares (8 and 11 bytes) are not decoded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from firmware_bridge.ble_advert import Advertisement, format_mac, uuid16
from firmware_bridge.ble_errors import MissingPayload, PayloadLengthError
from firmware_bridge.records import Measurement, Quantity, Unit

SERVICE_UUID = uuid16(0x181A)
_ATC = struct.Struct(">6shBBHB")
_PVVX = struct.Struct("<6shHHBBB")
XiaomiFormat = Literal["atc", "pvvx"]


@dataclass(frozen=True, slots=True)
class XiaomiData:
    format: XiaomiFormat
    mac: str
    temperature_c: float
    humidity_pct: float
    battery_v: float
    battery_pct: int
    counter: int
    flags: int | None = None


def _check_length(payload: bytes, layout: struct.Struct, name: str) -> None:
    if len(payload) != layout.size:
        raise PayloadLengthError(f"{name}: {len(payload)} bytes, the format has {layout.size}")


def decode_atc(payload: bytes) -> XiaomiData:
    _check_length(payload, _ATC, "atc")
    mac, temperature, humidity, battery_pct, battery_mv, counter = _ATC.unpack(payload)
    return XiaomiData(
        "atc", format_mac(mac), temperature / 10, float(humidity), battery_mv / 1000,
        battery_pct, counter,
    )  # fmt: skip


def decode_pvvx(payload: bytes) -> XiaomiData:
    _check_length(payload, _PVVX, "pvvx")
    mac, temperature, humidity, battery_mv, battery_pct, counter, flags = _PVVX.unpack(payload)
    return XiaomiData(
        "pvvx", format_mac(mac[::-1]), temperature / 100, humidity / 100, battery_mv / 1000,
        battery_pct, counter, flags,
    )  # fmt: skip


def decode_xiaomi(payload: bytes) -> XiaomiData:
    """Either format, told apart by length."""
    if len(payload) == _ATC.size:
        return decode_atc(payload)
    if len(payload) == _PVVX.size:
        return decode_pvvx(payload)
    raise PayloadLengthError(
        f"0x181A: {len(payload)} bytes, neither ATC1441 ({_ATC.size}) nor pvvx ({_PVVX.size})"
    )


def _mac(data: XiaomiData) -> bytes:
    return bytes.fromhex(data.mac.replace(":", ""))


def encode_atc(data: XiaomiData) -> bytes:
    return _ATC.pack(
        _mac(data), round(data.temperature_c * 10), round(data.humidity_pct),
        data.battery_pct, round(data.battery_v * 1000), data.counter,
    )  # fmt: skip


def encode_pvvx(data: XiaomiData) -> bytes:
    return _PVVX.pack(
        _mac(data)[::-1], round(data.temperature_c * 100), round(data.humidity_pct * 100),
        round(data.battery_v * 1000), data.battery_pct, data.counter, data.flags or 0,
    )  # fmt: skip


def xiaomi_measurements(data: XiaomiData, device_id: str, time: datetime) -> list[Measurement]:
    return [
        Measurement(device_id, time, Quantity.TEMPERATURE, data.temperature_c, Unit.CELSIUS),
        Measurement(device_id, time, Quantity.HUMIDITY, data.humidity_pct, Unit.PERCENT_RH),
        Measurement(device_id, time, Quantity.BATTERY_VOLTAGE, data.battery_v, Unit.VOLT),
        Measurement(device_id, time, Quantity.BATTERY_LEVEL, float(data.battery_pct), Unit.PERCENT),
    ]


def decode_xiaomi_advert(
    advert: Advertisement,
    time: datetime,
    device_id: str | None = None,
    expect: XiaomiFormat | None = None,
) -> list[Measurement]:
    """Measurements from the 0x181A service data; ``expect`` insists on one of the formats."""
    payload = advert.service_data.get(SERVICE_UUID)
    if payload is None:
        raise MissingPayload("0x181A: no service data of UUID 0x181A")
    decoders = {"atc": decode_atc, "pvvx": decode_pvvx, None: decode_xiaomi}
    data = decoders[expect](payload)
    return xiaomi_measurements(data, device_id or advert.address, time)
