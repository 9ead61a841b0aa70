"""Packaged profiles load; each class of profile error names the file, field and problem."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from device_profiles import (
    Codec,
    Parity,
    ProfileError,
    RegisterFieldSpec,
    RegisterTable,
    available_profiles,
    load_profile,
)
from device_profiles.loader import profile_from_dict
from firmware_bridge.modbus_registers import RegisterType, WordOrder
from firmware_bridge.records import Quantity, Unit


def packaged(name: str) -> dict[str, Any]:
    text = resources.files("device_profiles").joinpath("models", f"{name}.toml").read_text()
    return tomllib.loads(text)


def test_available_profiles_lists_every_shipped_model() -> None:
    assert available_profiles() == [
        "bthome-door",
        "bthome-thermometer",
        "ibeacon-tag",
        "lywsd03mmc-atc",
        "lywsd03mmc-pvvx",
        "nmea-gps",
        "r2000-uhf-reader",
        "rs-ws-n01-8",
        "ruuvitag",
        "xy-md02",
    ]


@pytest.mark.parametrize("name", available_profiles())
def test_each_packaged_profile_loads_and_is_named_after_its_file(name: str) -> None:
    assert load_profile(name).model == name


def test_xy_md02_register_map() -> None:
    profile = load_profile("xy-md02")
    assert profile.codec is Codec.MODBUS_RTU
    assert (profile.transport.baud, profile.transport.parity) == (9600, Parity.NONE)
    assert (profile.transport.data_bits, profile.transport.stop_bits) == (8, 1)
    assert profile.modbus is not None and profile.modbus.default_slave == 1
    assert profile.fields == (
        RegisterFieldSpec.model_validate(
            {
                "name": "temperature",
                "quantity": Quantity.TEMPERATURE,
                "unit": Unit.CELSIUS,
                "table": RegisterTable.INPUT,
                "register": 0x0001,
                "type": RegisterType.S16,
                "scale": 0.1,
                "offset": 0.0,
                "word_order": WordOrder.BIG,
                "valid": (-40.0, 80.0),
            }
        ),
        RegisterFieldSpec.model_validate(
            {
                "name": "humidity",
                "quantity": Quantity.HUMIDITY,
                "unit": Unit.PERCENT_RH,
                "table": RegisterTable.INPUT,
                "register": 0x0002,
                "type": RegisterType.U16,
                "scale": 0.1,
                "offset": 0.0,
                "word_order": WordOrder.BIG,
                "valid": (0.0, 100.0),
            }
        ),
    )
    assert [(s.name, s.address, s.range, s.default) for s in profile.settings] == [
        ("slave_address", 0x0101, (1, 247), 1),
        ("baud_rate", 0x0102, (0, 2), 0),
        ("temperature_correction", 0x0103, (-100, 100), 0),
        ("humidity_correction", 0x0104, (-100, 100), 0),
    ]


def test_second_probe_map_differs_only_in_data() -> None:
    profile = load_profile("rs-ws-n01-8")
    assert profile.transport.baud == 4800
    assert [(f.name, f.table, f.address, f.type) for f in profile.fields] == [
        ("humidity", RegisterTable.HOLDING, 0, RegisterType.U16),
        ("temperature", RegisterTable.HOLDING, 1, RegisterType.S16),
    ]


def test_rfid_and_gps_profiles() -> None:
    reader = load_profile("r2000-uhf-reader")
    assert reader.codec is Codec.R2000 and reader.transport.baud == 115200
    assert reader.rfid is not None and reader.rfid.antennas == (1, 2, 3, 4)
    assert "Serial Interface Protocol" in reader.rfid.source
    gps = load_profile("nmea-gps")
    assert gps.gps is not None
    assert (gps.transport.baud, gps.gps.rate_hz, gps.gps.max_hdop) == (9600, (1.0, 10.0), 5.0)


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return mutate


def _delete(key: str) -> Mutation:
    return lambda data: data.pop(key)


def _both(first: Mutation, second: Mutation) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        first(data)
        second(data)

    return mutate


ERROR_CASES: list[tuple[str, Mutation, str, str]] = [
    ("xy-md02", _delete("model"), "model", "Field required"),
    ("xy-md02", _set("fields.1.scale", "0.1"), "fields[1].scale", "valid number"),
    ("xy-md02", _set("fields.0.registr", 3), "fields[0].registr", "Extra inputs"),
    ("xy-md02", _set("fields.0.quantity", "heat"), "fields[0].quantity", "'temperature'"),
    ("xy-md02", _set("fields.0.type", "s8"), "fields[0].type", "'u16'"),
    ("xy-md02", _set("fields.0.register", 70000), "fields[0].register", "less than or equal"),
    ("xy-md02", _set("fields.0.scale", float("nan")), "fields[0].scale", "finite number"),
    ("xy-md02", _set("fields.0.unit", "%RH"), "fields[0].unit", "measured in 'Cel'"),
    ("xy-md02", _set("fields.1.valid", [100.0, 0.0]), "fields[1].valid", "must be below"),
    ("xy-md02", _set("fields.1.valid", [0.0]), "fields[1].valid[1]", "Field required"),
    ("xy-md02", _set("fields.0.scale", 0.0), "fields[0].scale", "must not be 0"),
    ("xy-md02", _set("fields.1.register", 1), "fields[1].register", "already holds"),
    ("xy-md02", _set("fields.1.name", "temperature"), "fields[1].name", "duplicate"),
    (
        "xy-md02",
        _both(_set("fields.1.register", 0xFFFF), _set("fields.1.type", "u32")),
        "fields[1].register",
        "a u32 at 65535 runs past 65535",
    ),
    ("xy-md02", _set("transport.baud", 9601), "transport.baud", "not a standard baud"),
    ("xy-md02", _set("transport.parity", "X"), "transport.parity", "'N'"),
    ("xy-md02", _set("transport.stop_bits", 3), "transport.stop_bits", "1 or 2"),
    ("xy-md02", _set("codec", "zigbee"), "codec", "'modbus_rtu'"),
    ("xy-md02", _delete("modbus"), "modbus", "required for codec modbus_rtu"),
    ("xy-md02", _set("fields", []), "fields", "at least one field"),
    ("xy-md02", _set("settings.0.default", 0), "settings[0].default", "outside [1, 247]"),
    ("xy-md02", _set("settings.2.range", [-40000, 0]), "settings[2].range", "-32768..32767"),
    ("xy-md02", _set("settings.1.register", 0x0101), "settings[1].register", "already holds"),
    ("xy-md02", _set("alarms.0.min", "cold"), "alarms[0].min", "valid number"),
    ("xy-md02", _set("alarms.0.min", 9.0), "alarms[0].min", "below max 8.0"),
    ("xy-md02", _set("alarms.0.quantity", "pressure"), "alarms[0].quantity", "does not measure"),
    ("xy-md02", _set("sample_period_s", 0), "sample_period_s", "greater than 0"),
    ("r2000-uhf-reader", _set("rfid.antennas", [1, 9]), "rfid.antennas[1]", "not in 1..8"),
    ("r2000-uhf-reader", _set("rfid.antennas", [2, 2]), "rfid.antennas", "repeat"),
    ("r2000-uhf-reader", _set("rfid.antennas", []), "rfid.antennas", "at least one"),
    ("r2000-uhf-reader", _delete("rfid"), "rfid", "required for codec r2000"),
    ("nmea-gps", _set("gps.rate_hz", [10.0, 1.0]), "gps.rate_hz", "positive and ordered"),
    ("nmea-gps", _set("sample_period_s", 0.05), "sample_period_s", "outside rate_hz"),
    ("nmea-gps", _set("modbus", {"default_slave": 1}), "modbus", "not allowed for codec"),
]


@pytest.mark.parametrize(("name", "mutate", "path", "message"), ERROR_CASES)
def test_profile_errors_name_file_field_and_problem(
    name: str, mutate: Mutation, path: str, message: str
) -> None:
    data = copy.deepcopy(packaged(name))
    mutate(data)
    with pytest.raises(ProfileError) as caught:
        profile_from_dict(data, f"{name}.toml")
    error = caught.value
    assert error.file == f"{name}.toml"
    assert path in [problem.path for problem in error.problems], str(error)
    problem = next(p for p in error.problems if p.path == path)
    assert message in problem.message
    assert str(error).startswith(f"{name}.toml: ")
    assert f"{path}: {problem.message}" in str(error)


def test_alarm_without_bounds_is_an_error() -> None:
    data = packaged("xy-md02")
    del data["alarms"][0]["min"], data["alarms"][0]["max"]
    with pytest.raises(ProfileError) as caught:
        profile_from_dict(data, "x.toml")
    assert (caught.value.field, caught.value.problem) == ("alarms[0]", "needs min, max or both")


def test_every_problem_is_reported_not_just_the_first() -> None:
    data = packaged("xy-md02")
    data["fields"][0]["scale"] = 0.0
    data["transport"]["baud"] = 1234
    with pytest.raises(ProfileError) as caught:
        profile_from_dict(data, "x.toml")
    assert [p.path for p in caught.value.problems] == ["transport.baud", "fields[0].scale"]


def test_load_by_path_and_toml_syntax_error(tmp_path: Path) -> None:
    source = resources.files("device_profiles").joinpath("models", "xy-md02.toml").read_text()
    good = tmp_path / "custom.toml"
    good.write_text(source)
    assert load_profile(good) == load_profile("xy-md02")
    assert load_profile(str(good)).model == "xy-md02"
    bad = tmp_path / "bad.toml"
    bad.write_text('model = "x"\nvendor = \n')
    with pytest.raises(ProfileError) as caught:
        load_profile(bad)
    assert caught.value.file == str(bad)
    assert caught.value.field == ""
    assert caught.value.problem.startswith("not valid TOML: ")
    assert "line 2" in caught.value.problem


def test_missing_file_and_unknown_name() -> None:
    with pytest.raises(ProfileError) as caught:
        load_profile("/nonexistent/dir/probe.toml")
    assert caught.value.file == "/nonexistent/dir/probe.toml"
    assert caught.value.problem.startswith("cannot read: ")
    with pytest.raises(ProfileError) as unknown:
        load_profile("xy-md03")
    assert str(unknown.value) == (
        "xy-md03: no such profile; available: bthome-door, bthome-thermometer, ibeacon-tag, "
        "lywsd03mmc-atc, lywsd03mmc-pvvx, nmea-gps, r2000-uhf-reader, rs-ws-n01-8, ruuvitag, "
        "xy-md02"
    )


def test_packaged_error_names_the_packaged_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tomllib, "loads", lambda text: {"model": "xy-md02"})
    with pytest.raises(ProfileError) as caught:
        load_profile("xy-md02")
    assert caught.value.file == "models/xy-md02.toml"
    assert (caught.value.field, caught.value.problem) == ("vendor", "Field required")
