"""The R2000 RFID connector against the dock-door portal simulator on a real pty."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edge.config import RfidR2000Device
from edge.connectors.rfid_r2000 import RfidR2000Connector, state_path
from edge.rfid_smoothing import TagSmoother
from firmware_bridge.records import Record, TagEvent, TagEventType, TagRead
from simulators.rfid_portal import PortalReader
from simulators.rfid_portal_run import DuplexPtyPort, run_portal
from simulators.rfid_scene import Scene, build_scene
from tests.edge.pty_gps import until


def device(link: Path, **overrides: Any) -> RfidR2000Device:
    settings: dict[str, Any] = {
        "id": "dock-door-1",
        "type": "rfid_r2000",
        "port": str(link),
        "antennas": [1, 2],
        "zone": "dock-1",
        "hold_s": 0.5,
        "outside_antenna": 1,
        "inside_antenna": 2,
        "reopen_initial_s": 0.05,
        "reopen_max_s": 0.2,
    }
    return RfidR2000Device.model_validate({**settings, **overrides})


@asynccontextmanager
async def portal(
    link: Path, scene: Scene, emit_log: Path, faults: float, duration_s: float
) -> AsyncIterator[asyncio.Task[Any]]:
    reader = PortalReader(scene, seed=5, address=1, fault_probability=faults)
    port = DuplexPtyPort.open_duplex(link)
    task = asyncio.create_task(run_portal(reader, port, duration_s, emit_log=emit_log))
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        port.close()


def log_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_passes_give_events_with_the_simulated_directions(tmp_path: Path) -> None:
    link, log = tmp_path / "door0", tmp_path / "emitted.jsonl"
    scene = build_scene(11, 3, speed_mps=10.0, first_start_s=0.3, gap_s=0.6)
    duration = scene.passes[-1].end_s + 0.2
    records: list[Record] = []
    dev = device(link, raw_reads="sampled", raw_sample_every_s=0.5, hold_s=1.0)
    connector = RfidR2000Connector(dev, records.extend, state_dir=tmp_path)
    task = asyncio.create_task(connector.run())
    try:
        async with portal(link, scene, log, faults=0.0, duration_s=duration) as sim:
            await asyncio.wait_for(asyncio.shield(sim), duration + 5)
            await until(lambda: connector.smoother.present == 0, within=3)
    finally:
        connector.stop()
        await asyncio.wait_for(task, 3)

    truth = log_events(log)
    passes = [e for e in truth if e["event"] == "pass"]
    reads = [e for e in truth if e["event"] == "read"]
    direction_of = {t["epc_hex"]: p["direction"] for p in passes for t in p["tags"]}
    events = [r for r in records if isinstance(r, TagEvent)]
    raw = [r for r in records if isinstance(r, TagRead)]

    read_epcs = {e["epc_hex"] for e in reads}
    arrived = [e.epc_hex for e in events if e.event is TagEventType.ARRIVED]
    departed = [e.epc_hex for e in events if e.event is TagEventType.DEPARTED]
    passed = [e for e in events if e.event is TagEventType.PASSED]
    assert sorted(arrived) == sorted(departed) == sorted(read_epcs)
    assert passed, "no tag was seen on both antennas"
    assert {e.epc_hex: e.direction.value if e.direction else None for e in passed} == {
        e.epc_hex: direction_of[e.epc_hex] for e in passed
    }
    # Every tag the simulator reported on both antennas passed, and every pallet was read.
    antennas: dict[str, set[int]] = {}
    for e in reads:
        antennas.setdefault(e["epc_hex"], set()).add(e["antenna"])
    both = {epc for epc, seen in antennas.items() if seen == {1, 2}}
    assert {e.epc_hex for e in passed} == both
    pallets = {t["epc_hex"] for p in passes for t in p["tags"] if t["kind"] == "pallet"}
    assert pallets <= read_epcs
    for item in events:
        assert (item.reader_id, item.zone) == ("dock-door-1", "dock-1")
        assert item.epc_uri == next(
            t["epc_uri"] for p in passes for t in p["tags"] if t["epc_hex"] == item.epc_hex
        )
    counts = {e["epc_hex"]: 0 for e in reads}
    for e in reads:
        counts[e["epc_hex"]] += 1
    assert {e.epc_hex: e.read_count for e in passed} == {
        e.epc_hex: counts[e.epc_hex] for e in passed
    }

    counters = connector.counters
    assert counters["reads"] == len(reads)
    assert counters["inventory_rounds"] >= 10
    assert counters["decode_errors"] == 0
    assert (counters["checksum_errors"], counters["noise_bytes"]) == (0, 0)
    assert counters["raw_reads_sent"] == len(raw) > 0
    assert {(r.epc_hex, r.antenna) for r in raw} <= {(e["epc_hex"], e["antenna"]) for e in reads}
    snap = connector.snapshot()
    assert snap["events"]["arrived"] == len(read_epcs)
    assert snap["status"] == "stopped"
    saved = json.loads(state_path(tmp_path, "dock-door-1").read_text())
    assert saved["tags"] == []


async def test_tags_in_the_zone_survive_a_restart(tmp_path: Path) -> None:
    link, log = tmp_path / "door1", tmp_path / "emitted.jsonl"
    dev = device(link, hold_s=1.0)
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    smoother = TagSmoother(RfidR2000Connector(dev, lambda _: None).smoothing)
    first = TagRead("dock-door-1", 1, "3174257BF4499602D2000000", long_ago, -50.0)
    smoother.push(first)
    smoother.push(TagRead("dock-door-1", 1, first.epc_hex, long_ago + timedelta(seconds=0.5), -51))
    smoother.push(TagRead("dock-door-1", 2, first.epc_hex, long_ago + timedelta(seconds=2), -52))
    state_path(tmp_path, "dock-door-1").write_text(json.dumps(smoother.to_json()))

    records: list[Record] = []
    connector = RfidR2000Connector(dev, records.extend, state_dir=tmp_path)
    assert connector.smoother.present == 1
    task = asyncio.create_task(connector.run())
    try:
        async with portal(link, Scene(()), log, faults=0.0, duration_s=10):
            await until(lambda: len(records) == 2)
    finally:
        connector.stop()
        await asyncio.wait_for(task, 3)
    assert [(e.event, e.direction) for e in records if isinstance(e, TagEvent)] == [
        (TagEventType.PASSED, "in"),
        (TagEventType.DEPARTED, None),
    ]
    assert records[1].time == long_ago + timedelta(seconds=3)  # type: ignore[union-attr]


async def test_corrupt_state_file_is_counted_and_ignored(tmp_path: Path) -> None:
    state_path(tmp_path, "dock-door-1").write_text("{not json")
    connector = RfidR2000Connector(device(tmp_path / "x"), lambda _: None, state_dir=tmp_path)
    assert connector.smoother.present == 0
    assert connector.counters["state_restore_failures"] == 1


async def test_line_faults_are_counted_and_never_give_wrong_events(tmp_path: Path) -> None:
    """Noise, bad checksums and truncated frames: with an 8-bit checksum a read can be lost,
    but every event is of a tag that was there, with the direction it really went."""
    link, log = tmp_path / "door2", tmp_path / "emitted.jsonl"
    scene = build_scene(4, 2, speed_mps=10.0, first_start_s=0.3, gap_s=0.3)
    duration = scene.passes[-1].end_s + 0.2
    records: list[Record] = []
    dev = device(link, hold_s=0.8)
    # An end frame lost to a fault stalls the inventory until the watchdog re-issues it.
    connector = RfidR2000Connector(dev, records.extend, watchdog_s=0.25)
    task = asyncio.create_task(connector.run())
    try:
        async with portal(link, scene, log, faults=0.08, duration_s=duration) as sim:
            await asyncio.wait_for(asyncio.shield(sim), duration + 5)
            await until(lambda: connector.smoother.present == 0, within=3)
    finally:
        connector.stop()
        await asyncio.wait_for(task, 3)
    truth = log_events(log)
    reads = [e for e in truth if e["event"] == "read"]
    faults = {e["fault"] for e in truth if e["event"] == "fault"}
    direction_of = {
        t["epc_hex"]: p["direction"] for p in truth if p["event"] == "pass" for t in p["tags"]
    }
    events = [r for r in records if isinstance(r, TagEvent)]
    assert events
    assert {e.epc_hex for e in events} <= {e["epc_hex"] for e in reads}
    for e in events:
        if e.event is TagEventType.PASSED:
            assert e.direction == direction_of[e.epc_hex]
    counters = connector.counters
    assert 0.8 * len(reads) <= counters["reads"] <= len(reads)
    assert faults, "the seed should inject faults"
    if faults & {"bad_checksum", "truncated"}:
        assert counters["checksum_errors"] + counters["length_errors"] >= 1
    if "noise" in faults:
        assert counters["noise_bytes"] >= 1
