"""Declarative device descriptions (one TOML file per device model) and their loader."""

from device_profiles.errors import Problem, ProfileError
from device_profiles.loader import available_profiles, load_profile, parse_profile
from device_profiles.schema import (
    AlarmThreshold,
    Codec,
    DeviceProfile,
    GpsSettings,
    ModbusSettings,
    Parity,
    RegisterFieldSpec,
    RegisterTable,
    RfidSettings,
    SerialTransport,
    SettingSpec,
)

__all__ = [
    "AlarmThreshold",
    "Codec",
    "DeviceProfile",
    "GpsSettings",
    "ModbusSettings",
    "Parity",
    "Problem",
    "ProfileError",
    "RegisterFieldSpec",
    "RegisterTable",
    "RfidSettings",
    "SerialTransport",
    "SettingSpec",
    "available_profiles",
    "load_profile",
    "parse_profile",
]
