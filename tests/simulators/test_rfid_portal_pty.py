"""A host talks R2000 to the portal simulator through a real pseudo-terminal, with pyserial."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import serial

from firmware_bridge.rfid_r2000 import (
    AntennaStep,
    FastSwitchEnd,
    FastSwitchInventory,
    FirmwareVersion,
    GetFirmwareVersion,
    Request,
    Response,
    TagReport,
    decode_response,
    encode_request,
    to_tag_read,
)
from firmware_bridge.rfid_r2000_framing import R2000Framer
from simulators.rfid_portal import PortalReader
from simulators.rfid_portal_run import DuplexPtyPort, run_portal
from simulators.rfid_scene import Direction, build_scene

BOTH = FastSwitchInventory((AntennaStep(1), AntennaStep(2)), repeat=10, address=1)
TIME = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


class Host:
    def __init__(self, path: str) -> None:
        self.port = serial.Serial(path, 115200, timeout=0.05)
        self.framer = R2000Framer()
        self.pending: list[Response] = []

    def ask(
        self, request: Request, until: type[Response], timeout_s: float = 2.0
    ) -> list[Response]:
        """Send ``request``; everything received up to and including an ``until`` response."""
        self.port.write(encode_request(request))
        got: list[Response] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for frame in self.framer.feed(self.port.read(512)):
                response = decode_response(frame)
                got.append(response)
                if isinstance(response, until):
                    return got
        raise AssertionError(f"no {until.__name__} within {timeout_s} s; got {got[-3:]}")


def host_session(path: str, inventory_s: float) -> tuple[FirmwareVersion, list[TagReport]]:
    host = Host(path)
    try:
        version = host.ask(GetFirmwareVersion(1), FirmwareVersion)[-1]
        assert isinstance(version, FirmwareVersion)
        reports: list[TagReport] = []
        stop = time.monotonic() + inventory_s
        while time.monotonic() < stop:
            got = host.ask(BOTH, FastSwitchEnd)
            reports.extend(r for r in got if isinstance(r, TagReport))
        return version, reports
    finally:
        host.port.close()


def read_log(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_inventory_through_a_pty_matches_the_emit_log(tmp_path: Path) -> None:
    scene = build_scene(21, 2, speed_mps=8.0, first_start_s=0.2, gap_s=0.2)
    reader = PortalReader(scene, seed=21, address=1)
    log = tmp_path / "emit.jsonl"
    link = tmp_path / "portal"
    port = DuplexPtyPort.open_duplex(link)
    runner = asyncio.create_task(run_portal(reader, port, None, emit_log=log))
    try:
        inventory_s = scene.passes[-1].end_s + 0.1
        version, reports = await asyncio.to_thread(host_session, str(link), inventory_s)
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        port.close()

    assert version == FirmwareVersion(3, 7, 1)
    events = read_log(log)
    passes = [e for e in events if e["event"] == "pass"]
    logged = [e for e in events if e["event"] == "read"]
    assert [p["direction"] for p in passes] == [load.direction.value for load in scene.passes]
    assert len(reports) > 100
    assert [(r.epc_hex, r.antenna, r.rssi_dbm) for r in reports] == [
        (e["epc_hex"], e["antenna"], e["rssi_dbm"]) for e in logged
    ]
    uris = {tag.epc_hex: tag.epc_uri for load in scene.passes for tag in load.tags}
    records = [to_tag_read(r, "dock-1", TIME) for r in reports]
    assert all(record.epc_uri == uris[record.epc_hex] for record in records)
    assert {record.epc_hex for record in records} == set(uris)
    for load in scene.passes:
        first, last = (1, 2) if load.direction is Direction.IN else (2, 1)
        seen = [r.antenna for r in records if r.epc_hex == load.tags[0].epc_hex]
        assert (seen[0], seen[-1]) == (first, last)


def test_cli_serves_a_host_and_reports(tmp_path: Path) -> None:
    link, log = tmp_path / "door", tmp_path / "emit.jsonl"
    command = [sys.executable, "-m", "simulators", "rfid-portal", "--link", str(link)]
    command += ["--duration", "3", "--passes", "1", "--speed", "10", "--emit-log", str(log)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        deadline = time.monotonic() + 5
        while not link.exists():
            assert time.monotonic() < deadline, "the simulator never created its pty link"
            time.sleep(0.02)
        version, reports = host_session(str(link), 1.6)
        out, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert version == FirmwareVersion(3, 7, 1)
    assert reports
    assert "stopped: commands" in out
    logged = [e for e in read_log(log) if e["event"] == "read"]
    assert [(r.epc_hex, r.antenna) for r in reports] == [
        (e["epc_hex"], e["antenna"]) for e in logged
    ]
