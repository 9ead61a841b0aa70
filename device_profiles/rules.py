"""Cross-field rules a structurally valid profile must also satisfy (pure)."""

from __future__ import annotations

from collections.abc import Iterator

from device_profiles.errors import Problem
from device_profiles.schema import (
    BLE_CODECS,
    BleTransport,
    Codec,
    DeviceProfile,
    RegisterFieldSpec,
    RegisterTable,
    SerialTransport,
)
from firmware_bridge.records import Quantity, Unit

STANDARD_BAUDS = frozenset(
    {1200, 2400, 4800, 9600, 14400, 19200, 38400, 57600, 115200, 230400, 460800, 921600}
)
QUANTITY_UNITS: dict[Quantity, Unit] = {
    Quantity.TEMPERATURE: Unit.CELSIUS,
    Quantity.HUMIDITY: Unit.PERCENT_RH,
    Quantity.BATTERY_VOLTAGE: Unit.VOLT,
    Quantity.BATTERY_LEVEL: Unit.PERCENT,
    Quantity.PRESSURE: Unit.HECTOPASCAL,
    Quantity.DOOR_OPEN: Unit.BOOLEAN,
    Quantity.BUTTON_PRESS: Unit.COUNT,
    Quantity.RSSI: Unit.DBM,
    Quantity.DISTANCE: Unit.METRE,
}
MAX_ANTENNAS = 8

_SECTION_FOR_CODEC = {Codec.MODBUS_RTU: "modbus", Codec.R2000: "rfid", Codec.NMEA0183: "gps"}


def profile_problems(profile: DeviceProfile) -> list[Problem]:
    """Every rule the profile breaks, in file order; empty when it is usable."""
    return [
        *_codec_sections(profile),
        *_transport(profile),
        *_fields(profile),
        *_settings(profile),
        *_alarms(profile),
        *_rfid(profile),
        *_gps(profile),
    ]


def _codec_sections(profile: DeviceProfile) -> Iterator[Problem]:
    wanted = _SECTION_FOR_CODEC.get(profile.codec)
    for section in _SECTION_FOR_CODEC.values():
        present = getattr(profile, section) is not None
        if section == wanted and not present:
            yield Problem(section, f"required for codec {profile.codec.value}")
        elif section != wanted and present:
            yield Problem(section, f"not allowed for codec {profile.codec.value}")
    register_map = profile.codec is Codec.MODBUS_RTU
    if register_map and not profile.fields:
        yield Problem("fields", "a modbus_rtu profile needs at least one field")
    if register_map:
        for index, spec in enumerate(profile.fields):
            if not isinstance(spec, RegisterFieldSpec):
                yield Problem(f"fields[{index}]", "a modbus_rtu field needs table, register, type")
    elif profile.codec in BLE_CODECS:
        if profile.settings:
            yield Problem("settings", f"register maps are only for modbus_rtu, not {profile.codec}")
        for index, spec in enumerate(profile.fields):
            if isinstance(spec, RegisterFieldSpec):
                yield Problem(f"fields[{index}]", f"a {profile.codec} field has no register")
    else:
        for key in ("fields", "settings"):
            if getattr(profile, key):
                yield Problem(key, f"register maps are only for modbus_rtu, not {profile.codec}")


def _transport(profile: DeviceProfile) -> Iterator[Problem]:
    transport = profile.transport
    ble = profile.codec in BLE_CODECS
    if ble and not isinstance(transport, BleTransport):
        yield Problem("transport.kind", f"codec {profile.codec} is heard over ble, not serial")
    elif not ble and not isinstance(transport, SerialTransport):
        yield Problem("transport.kind", f"codec {profile.codec} is read over serial, not ble")
    if isinstance(transport, SerialTransport) and transport.baud not in STANDARD_BAUDS:
        yield Problem("transport.baud", f"{transport.baud} is not a standard baud rate")


def _fields(profile: DeviceProfile) -> Iterator[Problem]:
    names: set[str] = set()
    occupied: dict[tuple[RegisterTable, int], str] = {}
    for index, spec in enumerate(profile.fields):
        path = f"fields[{index}]"
        if spec.name in names:
            yield Problem(f"{path}.name", f"duplicate field name {spec.name!r}")
        names.add(spec.name)
        expected_unit = QUANTITY_UNITS[spec.quantity]
        if spec.unit is not expected_unit:
            yield Problem(
                f"{path}.unit",
                f"{spec.quantity.value} is measured in {expected_unit.value!r}, "
                f"not {spec.unit.value!r}",
            )
        if isinstance(spec, RegisterFieldSpec) and spec.scale == 0:
            yield Problem(f"{path}.scale", "must not be 0")
        low, high = spec.valid
        if low >= high:
            yield Problem(f"{path}.valid", f"min {low} must be below max {high}")
        if not isinstance(spec, RegisterFieldSpec):
            continue
        last = spec.address + spec.width - 1
        if last > 0xFFFF:
            yield Problem(f"{path}.register", f"a {spec.type} at {spec.address} runs past 65535")
            continue
        for register in range(spec.address, last + 1):
            other = occupied.setdefault((spec.table, register), spec.name)
            if other != spec.name:
                yield Problem(
                    f"{path}.register",
                    f"{spec.table.value} register {register:#06x} already holds {other!r}",
                )
                break


def _settings(profile: DeviceProfile) -> Iterator[Problem]:
    measured = {spec.quantity for spec in profile.fields}
    seen: dict[int, str] = {}
    for index, setting in enumerate(profile.settings):
        path = f"settings[{index}]"
        if any(earlier.name == setting.name for earlier in profile.settings[:index]):
            yield Problem(f"{path}.name", f"duplicate setting name {setting.name!r}")
        other = seen.setdefault(setting.address, setting.name)
        if other != setting.name:
            yield Problem(f"{path}.register", f"{setting.address:#06x} already holds {other!r}")
        low, high = setting.range
        lowest, highest = (-0x8000, 0x7FFF) if setting.type == "s16" else (0, 0xFFFF)
        if not lowest <= low <= high <= highest:
            yield Problem(
                f"{path}.range",
                f"[{low}, {high}] is not an ordered range in {lowest}..{highest}",
            )
        elif not low <= setting.default <= high:
            yield Problem(f"{path}.default", f"{setting.default} is outside [{low}, {high}]")
        if setting.corrects is not None:
            expected_unit = QUANTITY_UNITS[setting.corrects]
            if setting.corrects not in measured:
                yield Problem(f"{path}.corrects", f"{profile.model} does not measure it")
            elif setting.unit is not expected_unit:
                yield Problem(
                    f"{path}.unit",
                    f"a {setting.corrects.value} correction is in {expected_unit.value!r}",
                )


def _alarms(profile: DeviceProfile) -> Iterator[Problem]:
    measured = {spec.quantity for spec in profile.fields}
    first_of: dict[str, int] = {}
    for index, alarm in enumerate(profile.alarms):
        path = f"alarms[{index}]"
        if alarm.quantity not in measured:
            yield Problem(f"{path}.quantity", f"{profile.model} does not measure {alarm.quantity}")
        # The gateway's alarm subject is device/quantity: one threshold (band) per quantity.
        earlier = first_of.setdefault(alarm.quantity, index)
        if earlier != index:
            yield Problem(
                f"{path}.quantity", f"{alarm.quantity} has a threshold in alarms[{earlier}]"
            )
        if alarm.min is None and alarm.max is None:
            yield Problem(path, "needs min, max or both")
        elif alarm.min is not None and alarm.max is not None and alarm.min >= alarm.max:
            yield Problem(f"{path}.min", f"{alarm.min} must be below max {alarm.max}")


def _rfid(profile: DeviceProfile) -> Iterator[Problem]:
    if profile.rfid is None:
        return
    antennas = profile.rfid.antennas
    if not antennas:
        yield Problem("rfid.antennas", "needs at least one antenna")
    if len(set(antennas)) != len(antennas):
        yield Problem("rfid.antennas", "antenna numbers repeat")
    for index, antenna in enumerate(antennas):
        if not 1 <= antenna <= MAX_ANTENNAS:
            yield Problem(f"rfid.antennas[{index}]", f"{antenna} is not in 1..{MAX_ANTENNAS}")


def _gps(profile: DeviceProfile) -> Iterator[Problem]:
    if profile.gps is None:
        return
    low, high = profile.gps.rate_hz
    if not 0 < low <= high:
        yield Problem("gps.rate_hz", f"[{low}, {high}] must be positive and ordered")
    elif not low <= 1 / profile.sample_period_s <= high:
        yield Problem(
            "sample_period_s", f"{profile.sample_period_s} s is outside rate_hz [{low}, {high}]"
        )
