"""Run a :class:`~simulators.rfid_portal.PortalReader` on a pseudo-terminal, in real time."""

from __future__ import annotations

import asyncio
import errno
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from simulators.pty_port import NoReaderError, PtyPort
from simulators.rfid_portal import Output, PortalReader, scene_events

POLL_S = 0.005
IDLE_WAIT_S = 0.05
READ_CHUNK = 4096


class DuplexPtyPort(PtyPort):
    """A :class:`PtyPort` that also reads what the host writes to the slave side."""

    @classmethod
    def open_duplex(cls, link_path: Path | None = None) -> DuplexPtyPort:
        port = cls.open(link_path)
        if not isinstance(port, DuplexPtyPort):
            port.close()
            raise TypeError("PtyPort.open did not build the subclass it was called on")
        return port

    async def read(self, timeout_s: float) -> bytes:
        """Whatever the host has written, or ``b""`` after ``timeout_s`` without any."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            if self.has_reader():
                try:
                    return os.read(self._master, READ_CHUNK)
                except BlockingIOError:
                    pass
                except OSError as exc:
                    if exc.errno != errno.EIO:
                        raise
            remaining = deadline - loop.time()
            if remaining <= 0:
                return b""
            await asyncio.sleep(min(POLL_S, remaining))


class DuplexPort(Protocol):
    async def read(self, timeout_s: float) -> bytes: ...

    async def write(self, data: bytes) -> None: ...


@dataclass(slots=True)
class RunStats:
    bytes_received: int = 0
    writes: int = 0
    dropped_no_reader: int = 0


async def run_portal(
    reader: PortalReader,
    port: DuplexPort,
    duration_s: float | None,
    *,
    emit_log: Path | None = None,
    stats: RunStats | None = None,
) -> RunStats:
    """Answer the host and stream inventory rounds until ``duration_s`` (or cancellation).

    Pass ``stats`` to keep the counters when the run is cancelled.
    """
    stats = RunStats() if stats is None else stats
    log = emit_log.open("w", encoding="utf-8") if emit_log is not None else None
    try:
        _log_events(log, scene_events(reader.scene))
        await _serve(reader, port, duration_s, stats, log)
    finally:
        if log is not None:
            log.close()
    return stats


async def _serve(
    reader: PortalReader,
    port: DuplexPort,
    duration_s: float | None,
    stats: RunStats,
    log: IO[str] | None,
) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    while True:
        now = loop.time() - start
        if duration_s is not None and now >= duration_s:
            return
        await _deliver(reader.advance(now), port, stats, log)
        due = reader.due_s
        wait = IDLE_WAIT_S if due is None else max(0.0, due - now)
        if duration_s is not None:
            wait = min(wait, duration_s - now)
        data = await port.read(wait)
        if data:
            stats.bytes_received += len(data)
            await _deliver(reader.receive(data, loop.time() - start), port, stats, log)


async def _deliver(out: Output, port: DuplexPort, stats: RunStats, log: IO[str] | None) -> None:
    if not out.data:
        return
    try:
        await port.write(out.data)
    except NoReaderError:
        # Nobody heard these frames, so they are not part of the ground truth.
        stats.dropped_no_reader += 1
        return
    stats.writes += 1
    _log_events(log, out.events)


def _log_events(log: IO[str] | None, events: list[dict[str, object]]) -> None:
    if log is None:
        return
    for event in events:
        log.write(json.dumps(event, separators=(",", ":")) + "\n")
    log.flush()
