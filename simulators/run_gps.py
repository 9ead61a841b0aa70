"""Drive a :class:`GpsVanSimulator` in real time onto a :class:`PtyPort`.

Epoch ``k`` is due at ``start + k / rate_hz`` on the monotonic clock, so pacing does not drift. If
the writer falls more than one period behind (a stalled reader), the epochs it missed are skipped
and counted rather than sent in a burst. An epoch counts as emitted only once all of its bytes were
written to the pty; epochs written while no reader has the port open are dropped and counted.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Protocol

from firmware_bridge.records import Position
from firmware_bridge.wire import record_to_wire
from simulators.gps_van import Epoch, GpsVanSimulator, RunStats, quantise_time
from simulators.pty_port import NoReaderError

_TICK = timedelta(milliseconds=10)


class BytePort(Protocol):
    async def write(self, data: bytes) -> None: ...


def wall_clock() -> datetime:
    return datetime.now(UTC)


def next_epoch_time(now: datetime, previous: datetime | None) -> datetime:
    """``now`` to the centisecond, nudged past ``previous`` so times strictly increase."""
    moment = quantise_time(now)
    if previous is not None and moment <= previous:
        return previous + _TICK
    return moment


async def run_gps_van(
    sim: GpsVanSimulator,
    port: BytePort,
    duration_s: float | None = None,
    *,
    emit_log: Path | None = None,
    on_fix: Callable[[Position], object] | None = None,
    stats: RunStats | None = None,
    clock: Callable[[], datetime] = wall_clock,
) -> RunStats:
    """Send epochs until ``duration_s`` of drive time has passed (forever when None).

    Times come from ``sim.start_time`` when it is set, else from ``clock()`` at each epoch.
    Counters go to ``stats``, by default ``sim.stats``, so they stay readable after a
    cancellation; the same object is returned.
    """
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s >= 0):
        raise ValueError(f"duration_s must be a non-negative number, got {duration_s}")
    stats = sim.stats if stats is None else stats
    limit = None if duration_s is None else math.ceil(duration_s * sim.rate_hz - 1e-9)
    loop = asyncio.get_running_loop()
    log = None if emit_log is None else emit_log.open("w", encoding="utf-8")
    try:
        start = loop.time()
        previous: datetime | None = None
        index = 0
        while limit is None or index < limit:
            await asyncio.sleep(max(0.0, start + index * sim.period_s - loop.time()))
            behind = math.floor((loop.time() - start) * sim.rate_hz)
            if behind > index + 1:
                stats.skipped_late += behind - index
                index = behind
                if limit is not None and index >= limit:
                    break
            moment = None
            if sim.start_time is None:
                moment = next_epoch_time(clock(), previous)
            epoch = sim.epoch(index, moment)
            previous = epoch.time
            await _send(epoch, port, stats, log, on_fix)
            index += 1
    finally:
        if log is not None:
            log.close()
    return stats


async def _send(
    epoch: Epoch,
    port: BytePort,
    stats: RunStats,
    log: IO[str] | None,
    on_fix: Callable[[Position], object] | None,
) -> None:
    try:
        await port.write(epoch.data)
    except NoReaderError:
        stats.dropped_no_reader += 1
        return
    stats.fixes_emitted += 1
    stats.bytes_written += len(epoch.data)
    stats.last_fix = epoch.expected
    if log is not None:
        log.write(json.dumps(record_to_wire(epoch.expected)) + "\n")
        log.flush()
    if on_fix is not None:
        on_fix(epoch.expected)
    if epoch.fault is None:
        return
    try:
        await port.write(epoch.fault_data)
    except NoReaderError:
        return
    stats.faults[epoch.fault] += 1
    stats.bytes_written += len(epoch.fault_data)
