"""Profile settings to configuration writes (function 06), and what is refused."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from device_profiles import ProfileError, load_profile
from device_profiles.loader import profile_from_dict
from device_profiles.modbus_settings import SettingError, SettingWrite, setting_writes
from firmware_bridge.modbus import WriteRequest

MODELS = Path(__file__).resolve().parents[2] / "device_profiles" / "models"


def test_xy_md02_corrections_become_signed_register_words() -> None:
    writes = setting_writes(
        load_profile("xy-md02"), {"humidity_correction": 2.5, "temperature_correction": -0.5}
    )
    assert writes == (
        SettingWrite("temperature_correction", 0x0103, 0xFFFB, -0.5),
        SettingWrite("humidity_correction", 0x0104, 25, 2.5),
    )
    assert writes[0].request(7) == WriteRequest(7, 0x0103, 0xFFFB)


def test_profile_settings_declare_scale_unit_and_link() -> None:
    described = {
        (s.name, s.scale, s.unit, s.corrects, s.link, s.valid)
        for name in ("xy-md02", "rs-ws-n01-8")
        for s in load_profile(name).settings
    }
    assert described == {
        ("slave_address", 1.0, None, None, True, (1.0, 247.0)),
        ("baud_rate", 1.0, None, None, True, (0.0, 2.0)),
        ("temperature_correction", 0.1, "Cel", "temperature", False, (-10.0, 10.0)),
        ("humidity_correction", 0.1, "%RH", "humidity", False, (-10.0, 10.0)),
        ("slave_address", 1.0, None, None, True, (1.0, 254.0)),
    }


@pytest.mark.parametrize(
    ("model", "name", "value", "message"),
    [
        (
            "xy-md02",
            "slave_address",
            2,
            "'slave_address' decides how the gateway reaches the probe; writing it would cut "
            "the probe off the bus. Set it on the probe with its own tool, then change this "
            "config to match",
        ),
        (
            "rs-ws-n01-8",
            "baud_rate",
            2,
            "'baud_rate' decides how the gateway reaches the probe; writing it would cut "
            "the probe off the bus. Set it on the probe with its own tool, then change this "
            "config to match",
        ),
        (
            "xy-md02",
            "temperature_correction",
            -10.5,
            "-10.5 is outside the range [-10, 10] Cel of xy-md02",
        ),
        ("xy-md02", "humidity_correction", 0.25, "0.25 is not a multiple of the step 0.1"),
        (
            "xy-md02",
            "offset",
            1,
            "xy-md02 has no setting 'offset' (writable: temperature_correction, "
            "humidity_correction)",
        ),
        ("rs-ws-n01-8", "offset", 1, "rs-ws-n01-8 has no setting 'offset' (writable: none)"),
    ],
)
def test_refused_settings_say_why(model: str, name: str, value: float, message: str) -> None:
    with pytest.raises(SettingError) as caught:
        setting_writes(load_profile(model), {name: value})
    assert (caught.value.name, str(caught.value)) == (name, message)


def _xy_md02_with(index: int, **changes: Any) -> dict[str, Any]:
    data = tomllib.loads((MODELS / "xy-md02.toml").read_text())
    data["settings"][index].update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        ({"unit": "%RH"}, "settings[2].unit", "a temperature correction is in 'Cel'"),
        ({"corrects": "pressure"}, "settings[2].corrects", "xy-md02 does not measure it"),
        ({"name": "humidity_correction"}, "settings[3].name", "duplicate setting name"),
    ],
)
def test_profile_rules_for_settings(changes: dict[str, Any], path: str, message: str) -> None:
    # All change settings[2], the temperature correction; a clashing name shows on the later one.
    with pytest.raises(ProfileError) as caught:
        profile_from_dict(_xy_md02_with(2, **changes), "x.toml")
    assert caught.value.field == path
    assert message in caught.value.problem


def test_setting_scale_must_be_positive() -> None:
    with pytest.raises(ProfileError) as caught:
        profile_from_dict(_xy_md02_with(2, scale=0.0), "x.toml")
    assert caught.value.field == "settings[2].scale"
