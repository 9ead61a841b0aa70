"""``simulate gps`` from the command line, in-process and as a real process stopped by Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import serial
from click.testing import CliRunner

from firmware_bridge.nmea import FixAssembler, LineFramer, NmeaError, NoFix, parse_sentence
from firmware_bridge.records import Position
from firmware_bridge.wire import record_to_wire
from simulators.cli import simulate_group

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_gps_without_reader_reports_device_and_dropped_epochs(tmp_path: Path) -> None:
    link = tmp_path / "van-gps"
    result = CliRunner().invoke(
        simulate_group,
        [
            "gps",
            "--rate",
            "10",
            "--duration",
            "0.5",
            "--link",
            str(link),
            "--vehicle-id",
            "v9",
            "--city",
            "hangzhou",
        ],
    )
    assert result.exit_code == 0, result.output
    first, last = result.output.splitlines()
    assert first.startswith("GPS van v9 on /dev/pts/")
    assert first.endswith(f" (link {link}), 10 Hz, route hangzhou 6.7 km")
    assert last == "stopped: fixes 0, dropped (no reader) 5, skipped (late) 0, faults 0"
    assert not link.is_symlink()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "11"], "11.0 is not in the range 1.0<=x<=10.0"),
        (["--city", "paris"], "'paris' is not one of 'hangzhou', 'shanghai'"),
    ],
)
def test_gps_rejects_bad_options(args: list[str], message: str) -> None:
    result = CliRunner().invoke(simulate_group, ["gps", *args])
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.integration
def test_python_m_simulators_runs_until_ctrl_c(tmp_path: Path) -> None:
    link, log = tmp_path / "van-gps", tmp_path / "emit.jsonl"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulators",
            "gps",
            "--rate",
            "5",
            "--link",
            str(link),
            "--emit-log",
            str(log),
            "--faults",
            "--seed",
            "3",
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith("GPS van van-01 on /dev/pts/")
        with serial.Serial(str(link), 115200, timeout=0.1) as reader:
            data = read_until(reader, time.monotonic() + 1.5)
            process.send_signal(signal.SIGINT)
            # Keep reading until the simulator closes the pty (pyserial reports the hang-up).
            data += read_until(reader, time.monotonic() + 5)
        output, _ = process.communicate(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert output.splitlines()[-1].startswith("stopped: fixes ")
    assert not link.is_symlink()
    framer, assembler = LineFramer(), FixAssembler("van-01")
    fixes: list[Position | NoFix] = []
    for line in framer.feed(data):
        try:
            sentence = parse_sentence(line)
        except NmeaError:
            continue
        fixes.extend(assembler.push(sentence, datetime.now(UTC)))
    fixes.extend(assembler.flush())
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(logged) >= 5
    assert output.splitlines()[-1].startswith(f"stopped: fixes {len(logged)}, dropped (no reader) ")
    # Epochs before the reader opened were dropped, so the log and what was read line up exactly.
    assert all(isinstance(fix, Position) for fix in fixes)
    assert [record_to_wire(fix) for fix in fixes if isinstance(fix, Position)] == logged


def read_until(reader: serial.Serial, deadline: float) -> bytes:
    data = b""
    while time.monotonic() < deadline:
        try:
            data += reader.read(4096)
        except serial.SerialException:
            break
    return data
