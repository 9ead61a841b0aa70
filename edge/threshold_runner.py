"""Run the device-profile thresholds inside the gateway: a :class:`~edge.band_runner.BandRunner`
over the ``[[alarms]]`` of the profiles of the configured devices, state under ``threshold:``
rows. Only connectors that know their device's profile take part: Modbus RTU slaves and BLE
sensors (an MQTT field device names no profile)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from device_profiles import DeviceProfile, load_profile
from edge.band_runner import BandRunner
from edge.config import BLE_DEFAULT_PROFILES, BleDevice, DeviceSettings, ModbusRtuDevice
from edge.device_thresholds import CODEC, PREFIX, ThresholdEngine, ThresholdRule

__all__ = ["PREFIX", "ThresholdRunner", "profiles_by_device"]


def profiles_by_device(devices: Iterable[DeviceSettings]) -> dict[str, DeviceProfile]:
    """Device id of each Modbus slave and BLE sensor -> its profile, as its connector loads it."""
    names: dict[str, str] = {}
    for device in devices:
        if isinstance(device, ModbusRtuDevice):
            names.update((slave.id, slave.profile or device.profile) for slave in device.slaves)
        elif isinstance(device, BleDevice):
            names.update(
                (sensor.id, sensor.profile or BLE_DEFAULT_PROFILES[sensor.format])
                for sensor in device.sensors
            )
    loaded = {name: load_profile(name) for name in set(names.values())}
    return {device_id: loaded[name] for device_id, name in names.items()}


class ThresholdRunner(BandRunner[ThresholdRule]):
    engine_class = ThresholdEngine
    codec = CODEC

    def snapshot(self) -> dict[str, Any]:
        return {
            "thresholds": [
                {
                    "subject": rule.key,
                    "profile": rule.profile,
                    "min": rule.min,
                    "max": rule.max,
                    "hold_s": rule.hold_s,
                    "severity": rule.severity.value,
                }
                for rule in sorted(self.rules, key=lambda rule: rule.key)
            ],
            **super().snapshot(),
        }
