"""A Modbus bus and an RFID dock door on pseudo-terminals (simulator processes), a real gateway
process reading both, a real cloud: every measurement the probes served arrives, value for value.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from firmware_bridge.records import Measurement, TagEvent, TagEventType
from retailedge.processes import Child, retailedge_command, start_child
from tests.integration.cluster import (
    cloud_records,
    gateway_status,
    read_jsonl,
    run_gateway,
    start_cloud,
    wait_until,
)

pytestmark = pytest.mark.integration

SECONDS = 5
PROBE_IDS = {1: "probe-1", 2: "probe-2", 3: "probe-3", 4: "probe-4", 5: "probe-5"}


def _config(tmp: Path, cloud_url: str, token: str, bus: Path, door: Path) -> Path:
    gateway_dir = tmp / "gateways" / "coldroom-gw"
    config: dict[str, Any] = {
        "gateway": {"id": "coldroom-gw", "data_dir": str(gateway_dir)},
        "cloud": {"url": cloud_url, "token": token},
        "uplink": {"interval_s": 0.05, "backoff_initial_s": 0.1, "drain_timeout_s": 10.0},
        "local_api": {"enabled": False},
        "devices": [
            {
                "id": "coldroom-bus",
                "type": "modbus_rtu",
                "port": str(bus),
                "profile": "xy-md02",
                "poll_interval_s": 0.5,
                "timeout_s": 0.3,
                "offline_after": 2,
                "retry_initial_s": 1.0,
                "slaves": [
                    {"address": 1, "id": "probe-1"},
                    {"address": 2, "id": "probe-2", "profile": "rs-ws-n01-8"},
                    {"address": 3, "id": "probe-3"},
                    {"address": 4, "id": "probe-4"},
                    {"address": 5, "id": "probe-5", "profile": "rs-ws-n01-8"},
                ],
            },
            {
                "id": "dock-door-1",
                "type": "rfid_r2000",
                "port": str(door),
                "antennas": [1, 2],
                "zone": "dock-1",
                "hold_s": 1.0,
                "outside_antenna": 1,
                "inside_antenna": 2,
            },
        ],
    }
    gateway_dir.mkdir(parents=True, exist_ok=True)
    path = gateway_dir / "gateway.toml"
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    return path


def _expected_passes(door_log: list[dict[str, Any]]) -> dict[str, str]:
    """EPC -> direction for every tag of a pass the reader saw on both door antennas."""
    antennas: dict[str, set[int]] = {}
    for line in door_log:
        if line["event"] == "read":
            antennas.setdefault(line["epc_hex"], set()).add(int(line["antenna"]))
    return {
        tag["epc_hex"]: load["direction"]
        for load in door_log
        if load["event"] == "pass"
        for tag in load["tags"]
        if antennas.get(tag["epc_hex"]) == {1, 2}
    }


def _simulator(tmp: Path, name: str, *args: str) -> Child:
    return start_child(
        name, retailedge_command("simulate", *args), tmp / "logs" / f"{name.replace(' ', '-')}.log"
    )


def test_modbus_measurements_arrive_exactly_and_the_door_gives_events(
    tmp_path: Path, free_port: int
) -> None:
    cloud = start_cloud(tmp_path, free_port)
    # Before the simulators start: their run is short, and minting a token starts a process.
    token = cloud.create_gateway("coldroom-gw")
    bus, door = tmp_path / "bus.tty", tmp_path / "door.tty"
    served_log, door_log = tmp_path / "served.jsonl", tmp_path / "door.jsonl"
    common = ("--duration", str(SECONDS), "--seed", "3")
    children = [
        _simulator(tmp_path, "modbus bus", "modbus-bus", "--link", str(bus),
                   "--emit-log", str(served_log), *common),
        _simulator(tmp_path, "rfid portal", "rfid-portal", "--link", str(door), "--passes", "1",
                   "--speed", "4", "--emit-log", str(door_log), *common),
    ]  # fmt: skip
    gateway: Child | None = None
    try:
        wait_until(lambda: bus.exists() and door.exists(), 20, "the simulators' ptys")
        config = _config(tmp_path, cloud.url, token, bus, door)
        gateway_dir = config.parent
        gateway = run_gateway(tmp_path, config, gateway_dir)
        for child in children:
            assert child.process.wait(timeout=SECONDS + 30) == 0, child.tail()
        served = read_jsonl(served_log)
        assert len(served) >= 2 * 3 * 2  # three answering probes, two values, a few polls

        def produced(kind: str) -> int:
            assert gateway is not None
            gateway.ensure_running()
            count: int = gateway_status(gateway_dir).get("produced", {}).get(kind, 0)
            return count

        wait_until(lambda: produced("measurement") == len(served), 15, "all measurements")
        expected_passes = _expected_passes(read_jsonl(door_log))
        assert expected_passes, "the portal read no tag on both antennas"

        def passed() -> int:
            door = gateway_status(gateway_dir).get("connectors", {}).get("dock-door-1", {})
            count: int = door.get("events", {}).get("passed", 0)
            return count

        wait_until(lambda: passed() == len(expected_passes), 15, "a passed event per tag")
        status = gateway_status(gateway_dir)
        gateway.process.send_signal(signal.SIGTERM)
        assert gateway.process.wait(timeout=60) == 0, gateway.tail()

        slaves = status["connectors"]["coldroom-bus"]["slaves"]
        assert slaves["probe-4"]["status"] == "offline"
        assert slaves["probe-5"]["counters"]["exceptions"] >= 1
        door_status = status["connectors"]["dock-door-1"]
        assert door_status["counters"]["reads"] > 0
        assert door_status["events"]["arrived"] > 0

        stored = cloud_records(cloud, "coldroom-gw")
        measurements = [stored[seq] for seq in sorted(stored)]
        got = [
            (m.device_id, m.quantity.value, m.value, m.unit.value)
            for m in measurements
            if isinstance(m, Measurement)
        ]
        want = [(PROBE_IDS[s["slave"]], s["quantity"], s["value"], s["unit"]) for s in served]
        for device_id in ("probe-1", "probe-2", "probe-3"):
            assert [g for g in got if g[0] == device_id] == [w for w in want if w[0] == device_id]
        assert len(got) == len(want)

        tag_events = [r for r in measurements if isinstance(r, TagEvent)]
        cloud_passes = {
            e.epc_hex: e.direction.value if e.direction else None
            for e in tag_events
            if e.event is TagEventType.PASSED
        }
        assert cloud_passes == expected_passes
        assert all(e.zone == "dock-1" and e.reader_id == "dock-door-1" for e in tag_events)
        arrivals = {e.epc_hex for e in tag_events if e.event is TagEventType.ARRIVED}
        assert arrivals == {
            line["epc_hex"] for line in read_jsonl(door_log) if line["event"] == "read"
        }
    finally:
        for child in [*children, *([gateway] if gateway else []), cloud.child]:
            asyncio.run(child.stop(timeout_s=10))
