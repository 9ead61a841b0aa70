"""NMEA GPS receiver on a serial port: bytes -> lines -> sentences -> Position records.

The port is opened non-blocking and read from the event loop's reader callback; no threads. A
missing or vanished port (EIO when a USB adapter or pty goes away) is reopened with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import serial

from device_profiles import load_profile
from edge.config import NmeaGpsDevice
from edge.connectors.serial_port import (
    READ_SIZE,
    ConnectorStatus,
    close_quietly,
    stopped_within,
)
from edge.gps_filter import GpsFilter, GpsLimits
from firmware_bridge.nmea import (
    ChecksumError,
    FixAssembler,
    LineFramer,
    MalformedSentence,
    NmeaError,
    NoFix,
    UnsupportedSentence,
    parse_sentence,
)
from firmware_bridge.records import Position, Record

log = logging.getLogger(__name__)

COUNTER_NAMES = (
    "positions",
    "checksum",
    "malformed",
    "unsupported",
    "no_fix",
    "discarded_bytes",
    "overlong",
    "disconnects",
)
MAX_PENDING_READS = 64
"""At stop, at most this many reads of READ_SIZE (256 KiB) of what the port still holds."""


def open_serial(device: NmeaGpsDevice) -> serial.Serial:
    # exclusive: a second reader on the same port would silently steal half of the bytes.
    return serial.Serial(device.port, baudrate=device.baudrate, timeout=0, exclusive=True)


def gps_limits(device: NmeaGpsDevice) -> GpsLimits:
    """The device's limits, each defaulting to its profile's."""
    gps = load_profile(device.profile).gps
    if gps is None:  # the config validator only accepts nmea0183 profiles, which have one
        raise ValueError(f"profile {device.profile} has no [gps] section")
    return GpsLimits(
        max_hdop=device.max_hdop or gps.max_hdop,
        max_speed_mps=device.max_speed_mps or gps.max_speed_mps,
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SerialNmeaConnector:
    def __init__(
        self,
        device: NmeaGpsDevice,
        sink: Callable[[Sequence[Record]], None],
        *,
        silence_flush_s: float = 1.0,
        now: Callable[[], datetime] = _utc_now,
        open_port: Callable[[NmeaGpsDevice], serial.Serial] = open_serial,
    ) -> None:
        self.device = device
        self._sink = sink
        self._silence_flush_s = silence_flush_s
        self._now = now
        self._open_port = open_port
        self._assembler = FixAssembler(device.vehicle_id)
        self.gps_filter = GpsFilter(gps_limits(device))
        self._framer = LineFramer()
        self._framer_base = Counter[str]()
        self._counts = Counter[str]()
        self._silence: asyncio.TimerHandle | None = None
        self._stopping = asyncio.Event()
        self.status = ConnectorStatus.STARTING
        self.last_error: str | None = None

    @property
    def name(self) -> str:
        return self.device.id

    @property
    def counters(self) -> dict[str, int]:
        counts = self._counts + self._framer_base
        counts["discarded_bytes"] += self._framer.discarded_bytes
        counts["overlong"] += self._framer.overlong_lines
        return {name: counts[name] for name in COUNTER_NAMES}

    def snapshot(self) -> dict[str, Any]:
        return {
            "type": self.device.type,
            "port": self.device.port,
            "status": self.status.value,
            "last_error": self.last_error,
            "counters": self.counters,
            "rejected": self.gps_filter.counters(),
        }

    def stop(self) -> None:
        """Ask :meth:`run` to return; it flushes the fix in progress first."""
        self._stopping.set()

    async def run(self) -> None:
        delay = self.device.reopen_initial_s
        try:
            while not self._stopping.is_set():
                try:
                    port = self._open_port(self.device)
                except (serial.SerialException, OSError) as exc:
                    self._disconnected(f"cannot open {self.device.port}: {exc}")
                    if await self._stopped_within(delay):
                        break
                    delay = min(delay * 2, self.device.reopen_max_s)
                    continue
                delay = self.device.reopen_initial_s
                self._connected()
                try:
                    lost = await self._read_until_lost(port)
                finally:
                    close_quietly(port)
                if lost is not None:
                    self._counts["disconnects"] += 1
                    self._disconnected(f"lost {self.device.port}: {lost}")
                    if await self._stopped_within(delay):
                        break
        finally:
            self._flush()
            self.status = ConnectorStatus.STOPPED
            log.info("%s: stopped", self.name)

    async def _stopped_within(self, seconds: float) -> bool:
        return await stopped_within(self._stopping, seconds)

    def _connected(self) -> None:
        verb = "reopened" if self.status is ConnectorStatus.DISCONNECTED else "opened"
        log.info("%s: %s %s at %d baud", self.name, verb, self.device.port, self.device.baudrate)
        self.status = ConnectorStatus.CONNECTED

    def _disconnected(self, error: str) -> None:
        if self.status is not ConnectorStatus.DISCONNECTED or error != self.last_error:
            log.warning(
                "%s: %s; retrying every %.1f-%.1f s - check the cable/adapter and the port name",
                self.name,
                error,
                self.device.reopen_initial_s,
                self.device.reopen_max_s,
            )
        self.status = ConnectorStatus.DISCONNECTED
        self.last_error = error

    async def _read_until_lost(self, port: serial.Serial) -> str | None:
        """Read until the port fails (returns why) or :meth:`stop` is called (returns None)."""
        loop = asyncio.get_running_loop()
        self._new_framer()
        lost: asyncio.Future[str] = loop.create_future()
        stopping = asyncio.ensure_future(self._stopping.wait())
        waiters: set[asyncio.Future[Any]] = {lost, stopping}
        fd = port.fileno()
        loop.add_reader(fd, self._on_readable, port, lost)
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            return lost.result() if lost.done() else None
        finally:
            loop.remove_reader(fd)
            stopping.cancel()
            lost.cancel()
            if self._stopping.is_set():
                self._read_pending(port)
            self._flush()

    def _read_pending(self, port: serial.Serial) -> None:
        """On stop, take what the receiver already sent and the OS still holds: closing the
        port would discard it, and a fix written before the gateway was asked to stop is one
        the device considers delivered."""
        for _ in range(MAX_PENDING_READS):
            try:
                data = port.read(READ_SIZE)
            except (serial.SerialException, OSError):
                return
            if not data:
                return
            self.feed(data)

    def _on_readable(self, port: serial.Serial, lost: asyncio.Future[str]) -> None:
        try:
            data = port.read(READ_SIZE)
        except (serial.SerialException, OSError) as exc:
            data, reason = b"", str(exc)
        else:
            reason = "end of file"
        if not data:
            # Stop polling a dead fd at once; run() closes the port and reopens.
            asyncio.get_running_loop().remove_reader(port.fileno())
            if not lost.done():
                lost.set_result(reason)
            return
        self.feed(data)

    def feed(self, data: bytes) -> None:
        """Decode raw bytes received now and hand finished positions to the sink."""
        received_at = self._now()
        results: list[Position | NoFix] = []
        for line in self._framer.feed(data):
            try:
                sentence = parse_sentence(line)
            except ChecksumError:
                self._counts["checksum"] += 1
            except UnsupportedSentence:
                self._counts["unsupported"] += 1
            except (MalformedSentence, NmeaError):
                self._counts["malformed"] += 1
            else:
                results.extend(self._assembler.push(sentence, received_at))
        self._emit(results)
        self._arm_silence_flush()

    def _arm_silence_flush(self) -> None:
        if self._silence is not None:
            self._silence.cancel()
        # A receiver sends one burst per epoch; a quiet second means the epoch is complete.
        self._silence = asyncio.get_running_loop().call_later(self._silence_flush_s, self._flush)

    def _flush(self) -> None:
        if self._silence is not None:
            self._silence.cancel()
            self._silence = None
        self._emit(self._assembler.flush())

    def _emit(self, results: list[Position | NoFix]) -> None:
        fixes = [r for r in results if isinstance(r, Position)]
        self._counts["no_fix"] += len(results) - len(fixes)
        positions = self.gps_filter.accept(fixes)
        self._counts["positions"] += len(positions)
        if positions:
            self._sink(positions)

    def _new_framer(self) -> None:
        # A partial line from the previous connection must not be glued to the next one.
        self._framer_base["discarded_bytes"] += self._framer.discarded_bytes
        self._framer_base["overlong"] += self._framer.overlong_lines
        self._framer = LineFramer()
