"""The bus on a real pseudo-terminal, polled by a pyserial master as a gateway would."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from firmware_bridge.modbus import (
    ExceptionResponse,
    RegistersResponse,
    parse_request,
    read_holding_registers,
    read_input_registers,
)
from firmware_bridge.modbus_framing import Complete, ResponseReader
from simulators.modbus_bus import DEFAULT_PROBES, BusPty, ModbusBus, parse_probes, run_modbus_bus

pytestmark = pytest.mark.integration
TIMEOUT_S = 0.3


def poll(link: serial.Serial, request: bytes) -> RegistersResponse | ExceptionResponse | None:
    """One master transaction; None when the slave stays silent past the timeout."""
    reader = ResponseReader.for_request(parse_request(request))
    link.write(request)
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        chunk = link.read(link.in_waiting or 1)
        if not chunk:
            continue
        try:
            status = reader.feed(chunk)
        except ExceptionResponse as exc:
            return exc
        if isinstance(status, Complete):
            assert isinstance(status.response, RegistersResponse)
            return status.response
    return None


async def stop(runner: asyncio.Task[object]) -> None:
    runner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await runner


async def test_master_polls_every_slave_through_a_pty(tmp_path: Path) -> None:
    bus = ModbusBus.from_specs(parse_probes(DEFAULT_PROBES), seed=3)
    log = tmp_path / "served.jsonl"
    with BusPty.open(tmp_path / "bus") as port:
        runner = asyncio.create_task(run_modbus_bus(bus, port, duration_s=4.0, emit_log=log))

        def master() -> list[object]:
            with serial.Serial(str(tmp_path / "bus"), 9600, timeout=0.05) as link:
                time.sleep(0.1)
                answers: list[object] = []
                for request in (
                    read_input_registers(1, 1, 2),
                    read_holding_registers(2, 0, 2),
                    read_input_registers(3, 1, 2),
                    read_input_registers(4, 1, 2),  # silent: the master times out...
                    read_holding_registers(5, 0, 2),
                    read_input_registers(1, 1, 2),  # ...and the bus keeps serving the others
                ):
                    answers.append(poll(link, request))
                return answers

        answers = await asyncio.to_thread(master)
        await stop(runner)
    ok1, ok2, drift3, silent4, exception5, again1 = answers
    served = [json.loads(line) for line in log.read_text().splitlines()]
    by_slave: dict[int, list[float]] = {}
    for item in served:
        by_slave.setdefault(item["slave"], []).append(round(item["value"] * 10))
    assert isinstance(ok1, RegistersResponse) and isinstance(again1, RegistersResponse)
    assert isinstance(ok2, RegistersResponse) and isinstance(drift3, RegistersResponse)
    assert by_slave == {
        1: [*ok1.registers, *again1.registers],
        2: list(ok2.registers),
        3: list(drift3.registers),
    }
    assert silent4 is None
    assert isinstance(exception5, ExceptionResponse) and exception5.code == 0x02
    assert {item["kind"] for item in served} == {"measurement"}
    assert served[0]["device_id"] == "slave-1" and served[0]["field"] == "temperature"
    assert (bus.stats.answered, bus.stats.exceptions, bus.stats.unanswered) == (4, 1, 1)


async def test_frames_split_across_writes_and_noise_before_silence(tmp_path: Path) -> None:
    bus = ModbusBus.from_specs(parse_probes("1:xy-md02"), seed=3)
    with BusPty.open() as port:
        runner = asyncio.create_task(run_modbus_bus(bus, port, duration_s=4.0))

        def master() -> tuple[object, object]:
            with serial.Serial(port.slave_path, 9600, timeout=0.05) as link:
                time.sleep(0.1)
                link.write(b"\x55\xaa\x01")  # line noise, then inter-frame silence
                time.sleep(0.05)
                request = read_input_registers(1, 1, 2)
                reader = ResponseReader.for_request(parse_request(request))
                link.write(request[:3])  # the rest follows within t3.5
                link.flush()
                link.write(request[3:])
                deadline = time.monotonic() + TIMEOUT_S
                status: object = None
                while time.monotonic() < deadline and not isinstance(status, Complete):
                    chunk = link.read(link.in_waiting or 1)
                    if chunk:
                        status = reader.feed(chunk)
                return status, link.read(16)

        status, extra = await asyncio.to_thread(master)
        await stop(runner)
    assert isinstance(status, Complete) and status.trailing == b""
    assert extra == b""
    assert (bus.stats.bad_frames, bus.stats.answered) == (1, 1)


def test_simulate_modbus_bus_command(tmp_path: Path) -> None:
    link, log = tmp_path / "bus", tmp_path / "served.jsonl"
    command = [sys.executable, "-m", "retailedge", "simulate", "modbus-bus", "--link", str(link)]
    command += ["--probes", "7:rs-ws-n01-8", "--duration", "2", "--emit-log", str(log)]
    root = Path(__file__).resolve().parents[2]
    with subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, text=True) as process:
        deadline = time.monotonic() + 10
        while not link.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        with serial.Serial(str(link), 4800, timeout=0.05) as port:
            answer = poll(port, read_holding_registers(7, 0, 2))
        out, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert isinstance(answer, RegistersResponse)
    served = [json.loads(line) for line in log.read_text().splitlines()]
    assert [round(item["value"] * 10) for item in served] == list(answer.registers)
    assert out.splitlines()[0].endswith(": 7:rs-ws-n01-8:ok")
    assert out.splitlines()[-1] == (
        "stopped: frames 1, answered 1, exceptions 0, unanswered 0, bad frames 0, unaddressed 0"
    )
