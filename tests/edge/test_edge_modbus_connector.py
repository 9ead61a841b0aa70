"""The Modbus RTU connector against the simulated bus (simulators/modbus_bus.py) on a real pty."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from device_profiles import load_profile
from edge.config import ModbusRtuDevice, ModbusSlave
from edge.connectors.modbus_rtu import ModbusRtuConnector
from edge.connectors.serial_port import ConnectorStatus
from firmware_bridge.modbus import FunctionCode, RegistersResponse, build_response
from firmware_bridge.modbus_registers import from_signed16
from firmware_bridge.records import Measurement, MeasurementQuality, Record
from simulators.modbus_bus import (
    Behaviour,
    BusPty,
    ModbusBus,
    ProbeSpec,
    SimulatedProbe,
    _read_some,
    run_modbus_bus,
)
from tests.edge.pty_gps import until

PROFILES_DIR = Path(__file__).resolve().parents[2] / "device_profiles" / "models"


def device(link: Path, **overrides: Any) -> ModbusRtuDevice:
    slaves = [
        ModbusSlave(address=1, id="probe-1"),
        ModbusSlave(address=2, id="probe-2", profile="rs-ws-n01-8"),
        ModbusSlave(address=3, id="probe-3"),
        ModbusSlave(address=4, id="probe-silent"),
        ModbusSlave(address=5, id="probe-exception", profile="rs-ws-n01-8"),
    ]
    settings: dict[str, Any] = {
        "id": "coldroom-bus",
        "type": "modbus_rtu",
        "port": str(link),
        "profile": "xy-md02",
        "slaves": slaves,
        "poll_interval_s": 0.25,
        "timeout_s": 0.2,
        "offline_after": 2,
        "retry_initial_s": 0.4,
        "retry_max_s": 0.8,
        "reopen_initial_s": 0.05,
        "reopen_max_s": 0.2,
    }
    return ModbusRtuDevice.model_validate({**settings, **overrides})


def bus(probes: list[tuple[int, str, Behaviour]]) -> ModbusBus:
    return ModbusBus(
        [
            SimulatedProbe(ProbeSpec(slave, name, behaviour), load_profile(name), seed=3)
            for slave, name, behaviour in probes
        ]
    )


DEFAULT_BUS = [
    (1, "xy-md02", Behaviour.OK),
    (2, "rs-ws-n01-8", Behaviour.OK),
    (3, "xy-md02", Behaviour.DRIFT),
    (4, "xy-md02", Behaviour.SILENT),
    (5, "rs-ws-n01-8", Behaviour.EXCEPTION),
]


@contextlib.asynccontextmanager
async def running_bus(
    link: Path, sim: ModbusBus, emit_log: Path
) -> AsyncIterator[asyncio.Task[Any]]:
    with BusPty.open(link) as port:
        task = asyncio.create_task(run_modbus_bus(sim, port, baudrate=9600, emit_log=emit_log))
        try:
            yield task
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def running(connector: ModbusRtuConnector) -> AsyncIterator[None]:
    task = asyncio.create_task(connector.run())
    try:
        yield
    finally:
        connector.stop()
        await asyncio.wait_for(task, 3)


def served(emit_log: Path) -> dict[int, list[tuple[str, float]]]:
    out: dict[int, list[tuple[str, float]]] = {}
    for line in emit_log.read_text().splitlines():
        item = json.loads(line)
        out.setdefault(item["slave"], []).append((item["quantity"], item["value"]))
    return out


def emitted(records: list[Record], device_id: str) -> list[tuple[str, float]]:
    return [
        (r.quantity.value, r.value)
        for r in records
        if isinstance(r, Measurement) and r.device_id == device_id
    ]


async def test_polls_every_slave_silent_goes_offline_without_stalling_others(
    tmp_path: Path,
) -> None:
    link, log = tmp_path / "bus0", tmp_path / "served.jsonl"
    records: list[Record] = []
    sim = bus(DEFAULT_BUS)
    connector = ModbusRtuConnector(device(link), records.extend)
    async with running_bus(link, sim, log), running(connector):
        await asyncio.sleep(2.6)
    snap = connector.snapshot()
    slaves = snap["slaves"]

    truth = served(log)
    assert sorted(truth) == [1, 2, 3]
    for address, device_id in ((1, "probe-1"), (2, "probe-2"), (3, "probe-3")):
        assert emitted(records, device_id) == truth[address]
        assert slaves[device_id]["status"] == "online"
        # 2.6 s at a 0.25 s cadence: a stalled bus would give far fewer.
        assert slaves[device_id]["counters"]["polls"] >= 9
        assert slaves[device_id]["counters"]["readings"] == len(truth[address])
    for device_id in ("probe-1", "probe-2", "probe-3"):
        times = [r.time for r in records if isinstance(r, Measurement) and r.device_id == device_id]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        assert max(gaps) < 0.25 + 0.2 + 0.15, gaps

    silent = slaves["probe-silent"]
    assert silent["status"] == "offline"
    assert silent["last_readings"] == {}
    # 2 misses, then retries after 0.4, 0.8, 0.8 ... s: a handful, not one per cycle.
    assert 3 <= silent["counters"]["polls"] <= 5
    assert silent["counters"]["timeouts"] == silent["counters"]["polls"]
    assert silent["last_error"] == "no answer within 0.2 s"

    failing = slaves["probe-exception"]
    assert failing["status"] == "online"
    assert failing["counters"]["readings"] == 0
    assert failing["counters"]["exceptions"] == failing["counters"]["polls"] >= 9
    assert failing["exception_codes"] == {"illegal data address": failing["counters"]["polls"]}

    counters = snap["counters"]
    assert (counters["crc_errors"], counters["frame_errors"], counters["out_of_range"]) == (0, 0, 0)
    assert sim.stats.exceptions == failing["counters"]["exceptions"]
    assert sim.stats.unanswered == silent["counters"]["polls"]
    assert sim.stats.bad_frames == 0
    assert snap["status"] == "stopped"
    latest = slaves["probe-2"]["last_readings"]
    assert set(latest) == {"temperature", "humidity"}
    assert latest["temperature"]["value"] == [v for q, v in truth[2] if q == "temperature"][-1]


async def test_out_of_range_values_are_counted_and_emitted_flagged(tmp_path: Path) -> None:
    text = (PROFILES_DIR / "xy-md02.toml").read_text()
    narrow = text.replace("valid = [-40.0, 80.0]", "valid = [-40.0, 1.0]")
    assert narrow != text
    profile_path = tmp_path / "xy-md02-narrow.toml"
    profile_path.write_text(narrow)
    link, log = tmp_path / "bus1", tmp_path / "served.jsonl"
    sim = ModbusBus([SimulatedProbe(ProbeSpec(1, "xy-md02"), load_profile(profile_path), 3)])
    records: list[Record] = []
    dev = device(link, slaves=[ModbusSlave(address=1, id="p1")], profile=str(profile_path))
    connector = ModbusRtuConnector(dev, records.extend)
    async with running_bus(link, sim, log), running(connector):
        await until(lambda: connector.counters["polls"] >= 3)
    truth = served(log)[1]
    temperatures = [v for q, v in truth if q == "temperature"]
    assert all(2.0 < t < 4.0 for t in temperatures)
    assert emitted(records, "p1") == [(q, v) for q, v in truth]
    flagged = [
        r.value
        for r in records
        if isinstance(r, Measurement) and r.quality is MeasurementQuality.OUT_OF_RANGE
    ]
    assert flagged == temperatures
    slave = connector.snapshot()["slaves"]["p1"]
    assert slave["counters"]["out_of_range"] == len(temperatures)
    assert slave["last_error"].startswith("temperature = ")
    assert slave["last_error"].endswith("is outside the valid range [-40, 1]")


async def test_offline_slave_comes_back_when_it_answers_again(tmp_path: Path) -> None:
    link, log = tmp_path / "bus2", tmp_path / "served.jsonl"
    sim = bus([(1, "xy-md02", Behaviour.SILENT)])
    records: list[Record] = []
    dev = device(link, slaves=[ModbusSlave(address=1, id="p1")], retry_max_s=0.4)
    connector = ModbusRtuConnector(dev, records.extend)
    async with running_bus(link, sim, log), running(connector):
        await until(lambda: connector.snapshot()["slaves"]["p1"]["status"] == "offline")
        assert records == []
        sim.probes[1] = SimulatedProbe(ProbeSpec(1, "xy-md02"), load_profile("xy-md02"), 3)
        await until(lambda: connector.snapshot()["slaves"]["p1"]["status"] == "online")
        await until(lambda: len(records) >= 4)
    assert emitted(records, "p1") == served(log)[1]
    assert connector.status is ConnectorStatus.STOPPED


@pytest.mark.parametrize("answer", ["crc", "noise", "wrong_slave", "truncated_then_gone"])
async def test_bad_answers_are_counted_never_read(tmp_path: Path, answer: str) -> None:
    link = tmp_path / "bus3"
    good = build_response(
        RegistersResponse(1, FunctionCode.READ_INPUT_REGISTERS, (from_signed16(-205), 555))
    )
    replies = {
        "crc": good[:-1] + bytes((good[-1] ^ 0xFF,)),
        "noise": b"\x13\x37\x00",
        "wrong_slave": build_response(
            RegistersResponse(9, FunctionCode.READ_INPUT_REGISTERS, (1, 2))
        ),
        "truncated_then_gone": good[:4],
    }
    records: list[Record] = []
    dev = device(link, slaves=[ModbusSlave(address=1, id="p1")], poll_interval_s=0.3)
    connector = ModbusRtuConnector(dev, records.extend)
    port = BusPty.open(link)
    try:
        async with running(connector):
            # The XY-MD02 sheet's read, for two registers: temperature and humidity.
            assert await _read_request(port) == bytes.fromhex("010400010002200b")
            await port.write(replies[answer])
            if answer == "truncated_then_gone":
                await asyncio.sleep(0.05)
                port.close()
                await until(lambda: connector.status is ConnectorStatus.DISCONNECTED)
                port = BusPty.open(link)
            else:
                await until(lambda: _settled(connector))
            assert records == []
            assert await _read_request(port) == bytes.fromhex("010400010002200b")
            await port.write(good)
            await until(lambda: len(records) == 2)
    finally:
        port.close()
    assert emitted(records, "p1") == [("temperature", -20.5), ("humidity", 55.5)]
    counters = connector.counters
    expected = {
        "crc": "crc_errors",
        "noise": "frame_errors",
        "wrong_slave": "frame_errors",
        "truncated_then_gone": "disconnects",
    }[answer]
    names = ("crc_errors", "frame_errors", "disconnects", "timeouts", "out_of_range")
    assert {name: counters[name] for name in names} == {
        name: int(name == expected) for name in names
    }


def _settled(connector: ModbusRtuConnector) -> bool:
    counters = connector.counters
    return counters["crc_errors"] + counters["frame_errors"] == 1


async def _read_request(port: BusPty) -> bytes:
    """One 8-byte request; EIO (no reader yet, the connector is reopening) is waited out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 3.0
    data = b""
    while len(data) < 8:
        if loop.time() > deadline:
            raise AssertionError(f"no whole request; got {data.hex()}")
        chunk = await _read_some(port.fileno(), 0.1)
        if chunk == b"":
            await asyncio.sleep(0.02)
        data += chunk or b""
    return data
