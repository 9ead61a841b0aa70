"""Declarative device descriptions (one TOML file per device model) and their loader."""

from device_profiles.errors import Problem, ProfileError
from device_profiles.loader import available_profiles, load_profile, parse_profile
from device_profiles.quality import flag_out_of_range, judged
from device_profiles.schema import (
    BLE_CODECS,
    AlarmThreshold,
    BleTransport,
    Codec,
    DeviceProfile,
    FieldSpec,
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
    "BLE_CODECS",
    "AlarmThreshold",
    "BleTransport",
    "Codec",
    "DeviceProfile",
    "FieldSpec",
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
    "flag_out_of_range",
    "judged",
    "load_profile",
    "parse_profile",
]
