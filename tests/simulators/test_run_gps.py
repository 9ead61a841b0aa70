"""Real-time pacing, accounting and the emit log, against an in-memory port."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from firmware_bridge.records import Position
from firmware_bridge.wire import record_to_wire
from simulators.gps_van import FaultKind, GpsVanSimulator, RunStats
from simulators.pty_port import NoReaderError
from simulators.routes import SHANGHAI
from simulators.run_gps import next_epoch_time, run_gps_van

START = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


class MemoryPort:
    def __init__(self, *, delay_s: float = 0.0, refuse: bool = False) -> None:
        self.writes: list[bytes] = []
        self.delay_s = delay_s
        self.refuse = refuse

    async def write(self, data: bytes) -> None:
        if self.refuse:
            raise NoReaderError(5, "no reader")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        self.writes.append(data)


def read_log(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_run_paces_writes_logs_and_calls_back(tmp_path: Path) -> None:
    sim = GpsVanSimulator(SHANGHAI, 10, "van-01", START, seed=3, faults=True, fault_probability=0.5)
    port, seen = MemoryPort(), list[Position]()
    log = tmp_path / "emit.jsonl"
    began = time.monotonic()
    stats = await run_gps_van(sim, port, 1.0, emit_log=log, on_fix=seen.append)
    took = time.monotonic() - began
    epochs = [sim.epoch(i) for i in range(10)]
    assert 0.85 <= took < 1.6  # the tenth epoch is due at 0.9 s
    assert stats.fixes_emitted == 10
    assert seen == [epoch.expected for epoch in epochs]
    assert read_log(log) == [record_to_wire(epoch.expected) for epoch in epochs]
    expected_writes = []
    for epoch in epochs:
        expected_writes.append(epoch.data)
        if epoch.fault is not None:
            expected_writes.append(epoch.fault_data)
    assert port.writes == expected_writes
    faults = [epoch.fault for epoch in epochs if epoch.fault is not None]
    assert stats.faults_injected == len(faults) > 0
    assert stats.faults == {kind: faults.count(kind) for kind in FaultKind if kind in faults}
    assert stats.bytes_written == sum(map(len, expected_writes))
    assert (stats.dropped_no_reader, stats.skipped_late) == (0, 0)
    assert stats.last_fix == epochs[-1].expected


async def test_epochs_without_a_reader_are_dropped_not_emitted(tmp_path: Path) -> None:
    sim = GpsVanSimulator(SHANGHAI, 10, "van-01", START, faults=True, fault_probability=1.0)
    log = tmp_path / "emit.jsonl"
    stats = await run_gps_van(sim, MemoryPort(refuse=True), 0.3, emit_log=log)
    assert (stats.fixes_emitted, stats.dropped_no_reader, stats.faults_injected) == (0, 3, 0)
    assert log.read_text() == ""


async def test_a_stalled_port_makes_the_runner_skip_epochs_not_burst() -> None:
    sim = GpsVanSimulator(SHANGHAI, 10, "van-01", START)
    port = MemoryPort(delay_s=0.35)
    stats = await run_gps_van(sim, port, 1.0)
    assert stats.skipped_late > 0
    assert stats.fixes_emitted + stats.skipped_late == 10
    assert stats.fixes_emitted == len(port.writes) < 10


async def test_cancellation_stops_cleanly_and_keeps_counters(tmp_path: Path) -> None:
    sim = GpsVanSimulator(SHANGHAI, 10, "van-01", START)
    stats, log = RunStats(), tmp_path / "emit.jsonl"
    task = asyncio.create_task(run_gps_van(sim, MemoryPort(), None, emit_log=log, stats=stats))
    await asyncio.sleep(0.35)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert 2 <= stats.fixes_emitted <= 5
    assert read_log(log) == [
        record_to_wire(sim.epoch(i).expected) for i in range(stats.fixes_emitted)
    ]


async def test_wall_clock_times_are_centiseconds_and_strictly_increasing() -> None:
    sim = GpsVanSimulator(SHANGHAI, 10, "van-01")
    frozen = datetime(2025, 3, 1, 8, 0, 0, 123_456, tzinfo=UTC)
    fixes: list[Position] = []
    await run_gps_van(sim, MemoryPort(), 0.3, on_fix=fixes.append, clock=lambda: frozen)
    first = frozen.replace(microsecond=120_000)
    assert [fix.time for fix in fixes] == [first + timedelta(milliseconds=10 * i) for i in range(3)]


def test_next_epoch_time() -> None:
    now = datetime(2025, 3, 1, 8, 0, 0, 994_999, tzinfo=UTC)
    assert next_epoch_time(now, None) == datetime(2025, 3, 1, 8, 0, 0, 990_000, tzinfo=UTC)
    later = datetime(2025, 3, 1, 8, 0, 1, tzinfo=UTC)
    assert next_epoch_time(now, later) == later + timedelta(milliseconds=10)


async def test_negative_duration_is_rejected() -> None:
    sim = GpsVanSimulator(SHANGHAI, 10, "van-01", START)
    with pytest.raises(ValueError, match="duration_s"):
        await run_gps_van(sim, MemoryPort(), -1.0)


async def test_counters_default_to_the_simulator_and_survive_cancellation() -> None:
    sim = GpsVanSimulator(SHANGHAI, 10, "van-01", START, faults=True, fault_probability=1.0)
    task = asyncio.create_task(run_gps_van(sim, MemoryPort()))
    await asyncio.sleep(0.25)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sim.fixes_emitted == sim.stats.fixes_emitted == sim.faults_injected
    assert 1 <= sim.fixes_emitted <= 4
