"""Configuration writes (function 06) a gateway may make to a Modbus probe, from its profile (pure).

A gateway config names profile settings and gives engineering values; :func:`setting_writes`
turns them into register writes or says exactly why it will not: unknown name, a ``link``
setting (address, baud) whose write would cut the probe off the bus, a value outside the
profile's range or finer than the register's resolution.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from device_profiles.schema import DeviceProfile, SettingSpec
from firmware_bridge.modbus import WriteRequest
from firmware_bridge.modbus_registers import from_signed16

_RESOLUTION_SLACK = 1e-6  # in raw steps: -0.5 / 0.1 is -4.999999999999999


class SettingError(ValueError):
    """A configured setting the gateway refuses to write; ``name`` is the setting's key."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


@dataclass(frozen=True, slots=True)
class SettingWrite:
    """One setting to write: the engineering value and the register word that carries it."""

    name: str
    address: int
    word: int
    value: float

    def request(self, slave: int) -> WriteRequest:
        return WriteRequest(slave, self.address, self.word)


def setting_writes(profile: DeviceProfile, values: Mapping[str, float]) -> tuple[SettingWrite, ...]:
    """The writes for ``values``, in the profile's setting order; raises SettingError."""
    writes = {name: setting_write(profile, name, value) for name, value in values.items()}
    return tuple(writes[spec.name] for spec in profile.settings if spec.name in writes)


def setting_write(profile: DeviceProfile, name: str, value: float) -> SettingWrite:
    spec = _spec(profile, name)
    if spec.link:
        raise SettingError(
            name,
            f"{name!r} decides how the gateway reaches the probe; writing it would cut the probe "
            "off the bus. Set it on the probe with its own tool, then change this config to match",
        )
    raw = value / spec.scale
    if not math.isfinite(raw) or abs(raw - round(raw)) > _RESOLUTION_SLACK:
        raise SettingError(name, f"{value:g} is not a multiple of the step {spec.scale:g}")
    number = round(raw)
    low, high = spec.range
    if not low <= number <= high:
        valid_low, valid_high = spec.valid
        unit = "" if spec.unit is None else f" {spec.unit.value}"
        raise SettingError(
            name,
            f"{value:g} is outside the range [{valid_low:g}, {valid_high:g}]{unit} "
            f"of {profile.model}",
        )
    word = from_signed16(number) if spec.type == "s16" else number
    return SettingWrite(spec.name, spec.address, word, round(number * spec.scale, 9))


def _spec(profile: DeviceProfile, name: str) -> SettingSpec:
    for spec in profile.settings:
        if spec.name == name:
            return spec
    writable = [spec.name for spec in profile.settings if not spec.link]
    known = ", ".join(writable) if writable else "none"
    raise SettingError(name, f"{profile.model} has no setting {name!r} (writable: {known})")
