"""Configured probe settings written with function 06, through the simulated bus on a real pty."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_profiles import load_profile
from edge.config import ConfigError, ModbusSlave, load_config
from edge.connectors.modbus_rtu import ModbusRtuConnector
from firmware_bridge.modbus import WriteResponse, build_response, write_single_register
from firmware_bridge.records import Measurement, Record
from simulators.modbus_bus import Behaviour, BusPty, ModbusBus, ProbeSpec, SimulatedProbe
from tests.edge.pty_gps import until
from tests.edge.test_edge_modbus_connector import (
    PROFILES_DIR,
    _read_request,
    bus,
    device,
    emitted,
    running,
    running_bus,
    served,
)

DEFAULT_XY_MD02 = {0x0101: 1, 0x0102: 0, 0x0103: 0, 0x0104: 0}


def temperatures(records: list[Record]) -> list[float]:
    return [
        r.value for r in records if isinstance(r, Measurement) and r.quantity.value == "temperature"
    ]


async def test_correction_is_written_echoed_and_shifts_the_readings(tmp_path: Path) -> None:
    link, log = tmp_path / "bus", tmp_path / "served.jsonl"
    sim = bus([(1, "xy-md02", Behaviour.OK)])
    settings = {"temperature_correction": -5.0, "humidity_correction": 2.5}
    slave = ModbusSlave(address=1, id="p1", settings=settings)
    records: list[Record] = []
    connector = ModbusRtuConnector(device(link, slaves=[slave]), records.extend)
    async with running_bus(link, sim, log), running(connector):
        await until(lambda: len(records) >= 6)
    assert sim.probes[1].settings == {0x0101: 1, 0x0102: 0, 0x0103: -50, 0x0104: 25}
    snap = connector.snapshot()["slaves"]["p1"]
    assert snap["settings"] == {"applied": settings, "failed": {}, "pending": []}
    assert snap["counters"]["setting_writes"] == 2
    assert (snap["counters"]["setting_exceptions"], snap["counters"]["setting_mismatches"]) == (
        0,
        0,
    )
    # The cold room is at 2-4 degC; every reading came after the -5.0 correction was written.
    assert emitted(records, "p1") == served(log)[1]
    assert all(-3.0 < t < -1.0 for t in temperatures(records)), temperatures(records)
    assert sim.stats.answered == sim.stats.frames


async def test_refused_write_is_counted_reported_and_not_repeated(tmp_path: Path) -> None:
    # The gateway's copy of the profile claims a wider range than the probe accepts.
    text = (PROFILES_DIR / "xy-md02.toml").read_text()
    wide = text.replace(
        'range = [-100, 100]\ndefault = 0\nscale = 0.1\nunit = "Cel"',
        'range = [-200, 200]\ndefault = 0\nscale = 0.1\nunit = "Cel"',
    )
    assert wide != text
    profile_path = tmp_path / "xy-md02-wide.toml"
    profile_path.write_text(wide)
    link, log = tmp_path / "bus", tmp_path / "served.jsonl"
    sim = bus([(1, "xy-md02", Behaviour.OK)])
    slave = ModbusSlave(address=1, id="p1", settings={"temperature_correction": 15.0})
    records: list[Record] = []
    dev = device(link, slaves=[slave], profile=str(profile_path))
    connector = ModbusRtuConnector(dev, records.extend)
    async with running_bus(link, sim, log), running(connector):
        await until(lambda: connector.counters["polls"] >= 4)
    snap = connector.snapshot()["slaves"]["p1"]
    assert snap["settings"] == {
        "applied": {},
        "failed": {"temperature_correction": "illegal data value (0x03)"},
        "pending": [],
    }
    counters = snap["counters"]
    assert (counters["setting_writes"], counters["setting_exceptions"]) == (0, 1)
    assert counters["exceptions"] == 0  # reads were answered normally
    assert snap["status"] == "online"
    assert sim.stats.exceptions == 1
    assert sim.probes[1].settings == DEFAULT_XY_MD02
    assert all(2.0 < t < 4.0 for t in temperatures(records))
    assert emitted(records, "p1") == served(log)[1]


async def test_settings_are_written_again_after_the_probe_was_offline(tmp_path: Path) -> None:
    link, log = tmp_path / "bus", tmp_path / "served.jsonl"
    sim = bus([(1, "xy-md02", Behaviour.OK)])
    slave = ModbusSlave(address=1, id="p1", settings={"temperature_correction": -0.5})
    records: list[Record] = []
    dev = device(link, slaves=[slave], retry_max_s=0.4)
    connector = ModbusRtuConnector(dev, records.extend)

    def status() -> str:
        return str(connector.snapshot()["slaves"]["p1"]["status"])

    profile = load_profile("xy-md02")
    async with running_bus(link, sim, log), running(connector):
        await until(lambda: len(records) >= 2)
        assert sim.probes[1].settings[0x0103] == -5
        sim.probes[1] = SimulatedProbe(ProbeSpec(1, "xy-md02", Behaviour.SILENT), profile, 3)
        await until(lambda: status() == "offline")
        assert connector.snapshot()["slaves"]["p1"]["settings"]["pending"] == [
            "temperature_correction"
        ]
        # A swapped (or power-cycled) probe starts from its defaults.
        fresh = SimulatedProbe(ProbeSpec(1, "xy-md02"), profile, 3)
        assert fresh.settings == DEFAULT_XY_MD02
        before = len(records)
        sim.probes[1] = fresh
        await until(lambda: status() == "online")
        await until(lambda: len(records) >= before + 2)
    assert fresh.settings[0x0103] == -5
    snap = connector.snapshot()["slaves"]["p1"]
    assert snap["counters"]["setting_writes"] == 2
    assert snap["settings"] == {
        "applied": {"temperature_correction": -0.5},
        "failed": {},
        "pending": [],
    }


async def test_wrong_echo_is_a_mismatch_not_an_applied_setting(tmp_path: Path) -> None:
    link = tmp_path / "bus"
    slave = ModbusSlave(address=1, id="p1", settings={"temperature_correction": -0.5})
    connector = ModbusRtuConnector(device(link, slaves=[slave]), lambda records: None)
    with BusPty.open(link) as port:
        async with running(connector):
            # 01 06 0103 FFFB: write -5 tenths to the temperature correction register.
            assert await _read_request(port) == write_single_register(1, 0x0103, 0xFFFB)
            await port.write(build_response(WriteResponse(1, 0x0103, 0xFFFA)))
            await until(lambda: connector.counters["setting_mismatches"] == 1)
            # Not written again: the next request is the ordinary read.
            assert await _read_request(port) == bytes.fromhex("010400010002200b")
    snap = connector.snapshot()["slaves"]["p1"]
    assert snap["settings"] == {
        "applied": {},
        "failed": {"temperature_correction": "echo 0xfffa at 0x0103, wrote 0xfffb at 0x0103"},
        "pending": [],
    }
    assert snap["counters"]["setting_writes"] == 0


CONFIG = """
[gateway]
id = "store-7"
data_dir = "data"

[cloud]
url = "http://127.0.0.1:8800"
token = "s3cret"

[[devices]]
id = "coldroom-bus"
type = "modbus_rtu"
port = "/dev/ttyUSB0"
profile = "xy-md02"
slaves = [
  { address = 1, id = "chiller-1", settings = { temperature_correction = -0.5 } },
  { address = 2, id = "chiller-2", settings = { %s } },
]
"""


def test_config_accepts_declared_settings(tmp_path: Path) -> None:
    path = tmp_path / "gw.toml"
    path.write_text(CONFIG % "humidity_correction = 1.5, temperature_correction = 0.3")
    bus_device = load_config(path).devices[0]
    assert [s.settings for s in bus_device.slaves] == [  # type: ignore[union-attr]
        {"temperature_correction": -0.5},
        {"humidity_correction": 1.5, "temperature_correction": 0.3},
    ]


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        (
            "slave_address = 9",
            "slave_address: 'slave_address' decides how the gateway reaches the probe; writing "
            "it would cut the probe off the bus. Set it on the probe with its own tool, then "
            "change this config to match",
        ),
        (
            "baud_rate = 2",
            "baud_rate: 'baud_rate' decides how the gateway reaches the probe; writing "
            "it would cut the probe off the bus. Set it on the probe with its own tool, then "
            "change this config to match",
        ),
        (
            "temperature_correction = 12.0",
            "temperature_correction: 12 is outside the range [-10, 10] Cel of xy-md02",
        ),
        (
            "humidity_correction = 0.05",
            "humidity_correction: 0.05 is not a multiple of the step 0.1",
        ),
    ],
)
def test_config_refuses_unsafe_or_out_of_range_settings(
    tmp_path: Path, setting: str, problem: str
) -> None:
    path = tmp_path / "gw.toml"
    path.write_text(CONFIG % setting)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: devices[0]: slaves[1].settings.{problem}"


def test_config_refuses_a_setting_that_is_not_a_number(tmp_path: Path) -> None:
    path = tmp_path / "gw.toml"
    path.write_text(CONFIG % "temperature_correction = true")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}: devices[0].slaves[1].settings.temperature_correction: "
        "Input should be a valid number"
    )


def test_simulated_probe_serves_its_written_correction() -> None:
    probe = ModbusBus.from_specs([ProbeSpec(1, "xy-md02")], seed=3).probes[1]
    assert probe.correction(load_profile("xy-md02").fields[0].quantity) == 0
    probe.settings[0x0103] = -25
    probe.settings[0x0104] = 30
    assert probe.correction(load_profile("xy-md02").fields[0].quantity) == pytest.approx(-2.5)
    assert probe.correction(load_profile("xy-md02").fields[1].quantity) == pytest.approx(3.0)
