"""RuuviTag data format 5 ("RAWv2"), manufacturer data of company id 0x0499.

Layout (big-endian, after the company id): format (5), temperature int16 × 0.005 °C, humidity
uint16 × 0.0025 %, pressure uint16 + 50000 Pa, acceleration x/y/z int16 mG, power info uint16
(11 bits battery mV above 1600, 5 bits TX power in 2 dBm above −40), movement counter uint8,
measurement sequence uint16, MAC 6 bytes. Each field's "not available" value (0x8000 for signed,
all ones for unsigned) decodes to ``None``, never to a number.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime

from firmware_bridge.ble_advert import Advertisement, format_mac
from firmware_bridge.ble_errors import MissingPayload, PayloadLengthError, UnsupportedFormat
from firmware_bridge.records import Measurement, Quantity, Unit

MANUFACTURER_ID = 0x0499
FORMAT = 5
_LAYOUT = struct.Struct(">BhHHhhhHBH6s")
_INVALID_SIGNED = -0x8000
_NO_MAC = b"\xff" * 6


@dataclass(frozen=True, slots=True)
class RuuviData:
    temperature_c: float | None
    humidity_pct: float | None
    pressure_hpa: float | None
    acceleration_mg: tuple[int | None, int | None, int | None]
    battery_v: float | None
    tx_power_dbm: int | None
    movement_counter: int | None
    measurement_sequence: int | None
    mac: str | None


def _signed(raw: int) -> int | None:
    return None if raw == _INVALID_SIGNED else raw


def _unsigned(raw: int, invalid: int) -> int | None:
    return None if raw == invalid else raw


def decode_ruuvi(payload: bytes) -> RuuviData:
    """Manufacturer data (without the company id) of a format 5 advertisement."""
    if not payload:
        raise PayloadLengthError("ruuvi: empty manufacturer data")
    if payload[0] != FORMAT:
        raise UnsupportedFormat(f"ruuvi: data format {payload[0]}, only 5 (RAWv2) is decoded")
    if len(payload) != _LAYOUT.size:
        raise PayloadLengthError(f"ruuvi: {len(payload)} bytes, format 5 has {_LAYOUT.size}")
    _, temp, hum, pres, ax, ay, az, power, movement, sequence, mac = _LAYOUT.unpack(payload)
    temperature = _signed(temp)
    humidity = _unsigned(hum, 0xFFFF)
    pressure = _unsigned(pres, 0xFFFF)
    battery = _unsigned(power >> 5, 0x7FF)
    tx_power = _unsigned(power & 0x1F, 0x1F)
    return RuuviData(
        temperature_c=None if temperature is None else round(temperature * 0.005, 3),
        humidity_pct=None if humidity is None else round(humidity * 0.0025, 4),
        pressure_hpa=None if pressure is None else round((pressure + 50000) / 100, 2),
        acceleration_mg=(_signed(ax), _signed(ay), _signed(az)),
        battery_v=None if battery is None else round((battery + 1600) / 1000, 3),
        tx_power_dbm=None if tx_power is None else tx_power * 2 - 40,
        movement_counter=_unsigned(movement, 0xFF),
        measurement_sequence=_unsigned(sequence, 0xFFFF),
        mac=None if mac == _NO_MAC else format_mac(mac),
    )


def _raw(value: float | None, scale: float, offset: float, invalid: int) -> int:
    return invalid if value is None else round(value / scale - offset)


def encode_ruuvi(data: RuuviData) -> bytes:
    """Format 5 manufacturer data (without the company id); ``None`` becomes the sentinel."""
    ax, ay, az = (_INVALID_SIGNED if axis is None else axis for axis in data.acceleration_mg)
    battery = _raw(data.battery_v, 0.001, 1600, 0x7FF)
    tx_power = 0x1F if data.tx_power_dbm is None else (data.tx_power_dbm + 40) // 2
    return _LAYOUT.pack(
        FORMAT,
        _raw(data.temperature_c, 0.005, 0, _INVALID_SIGNED),
        _raw(data.humidity_pct, 0.0025, 0, 0xFFFF),
        _raw(data.pressure_hpa, 0.01, 50000, 0xFFFF),
        ax,
        ay,
        az,
        (battery << 5) | tx_power,
        0xFF if data.movement_counter is None else data.movement_counter,
        0xFFFF if data.measurement_sequence is None else data.measurement_sequence,
        _NO_MAC if data.mac is None else bytes.fromhex(data.mac.replace(":", "")),
    )


def ruuvi_measurements(data: RuuviData, device_id: str, time: datetime) -> list[Measurement]:
    """The readings ``data`` carries; absent ("not available") ones are left out."""
    readings = (
        (Quantity.TEMPERATURE, data.temperature_c, Unit.CELSIUS),
        (Quantity.HUMIDITY, data.humidity_pct, Unit.PERCENT_RH),
        (Quantity.PRESSURE, data.pressure_hpa, Unit.HECTOPASCAL),
        (Quantity.BATTERY_VOLTAGE, data.battery_v, Unit.VOLT),
    )
    return [
        Measurement(device_id, time, quantity, value, unit)
        for quantity, value, unit in readings
        if value is not None
    ]


def decode_ruuvi_advert(
    advert: Advertisement, time: datetime, device_id: str | None = None
) -> list[Measurement]:
    payload = advert.manufacturer_data.get(MANUFACTURER_ID)
    if payload is None:
        raise MissingPayload("ruuvi: no manufacturer data of company 0x0499")
    return ruuvi_measurements(decode_ruuvi(payload), device_id or advert.address, time)
