"""A simulated RS-485 Modbus RTU bus: several temperature/humidity probes behind one pty.

Each probe answers 03/04/06 from the register map of its device profile, serving a seeded,
slowly varying cold-room climate (around 2-4 degC). Behaviours make the bad cases real: a
``drift`` probe warms out of band (from the start, or after ``drift_after_s``), a ``silent``
probe never answers (the master times out), an ``exception`` probe answers every request with
"illegal data address". A correction setting
written with 06 (``corrects`` in the profile) shifts the value served, as on the device. Frames
are delimited the RTU way, by at least 3.5 character times of line silence; CRC errors and
requests for absent slaves get no answer, as on a real bus. The pure part (:class:`ModbusBus`)
maps a request frame and a time to a reply; :func:`run_modbus_bus` moves bytes between it and
a pseudo-terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import math
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO

from device_profiles import DeviceProfile, RegisterFieldSpec, RegisterTable, load_profile
from device_profiles.modbus_map import TABLE_FUNCTION, encode_value, field_value
from firmware_bridge.modbus import (
    FunctionCode,
    ModbusError,
    ReadRequest,
    RegistersResponse,
    WriteRequest,
    WriteResponse,
    build_exception_response,
    build_response,
    parse_request,
)
from firmware_bridge.modbus_framing import inter_frame_silence_s
from firmware_bridge.modbus_registers import from_signed16, to_signed16
from firmware_bridge.records import Measurement, Quantity
from firmware_bridge.wire import record_to_wire
from simulators.pty_port import NoReaderError, PtyPort

ILLEGAL_FUNCTION = 0x01
ILLEGAL_DATA_ADDRESS = 0x02
ILLEGAL_DATA_VALUE = 0x03
DRIFT_C_PER_S = 0.05
"""How fast a ``drift`` probe warms: 3 degC a minute, out of a 2-4 degC band within a minute."""
DRIFT_CEILING_C = 25.0
"""A failed chiller warms to the room around it, no further (and stays inside the probes' range)."""
DEFAULT_PROBES = "1:xy-md02,2:rs-ws-n01-8,3:xy-md02:drift,4:xy-md02:silent,5:rs-ws-n01-8:exception"
_MIN_SILENCE_S = 0.002  # event-loop timers are not finer than this
_NO_READER_POLL_S = 0.05


class Behaviour(StrEnum):
    OK = "ok"
    DRIFT = "drift"
    SILENT = "silent"
    EXCEPTION = "exception"


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    slave: int
    profile: str
    behaviour: Behaviour = Behaviour.OK


def parse_probes(text: str) -> list[ProbeSpec]:
    """``"1:xy-md02,3:xy-md02:drift"`` -> probe specs; raises ValueError naming the bad item."""
    specs: list[ProbeSpec] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        parts = item.split(":")
        if len(parts) not in (2, 3) or not parts[0].isdigit():
            raise ValueError(f"{item!r}: expected SLAVE:PROFILE[:BEHAVIOUR]")
        slave = int(parts[0])
        if not 1 <= slave <= 247:
            raise ValueError(f"{item!r}: slave address must be 1..247")
        try:
            behaviour = Behaviour(parts[2]) if len(parts) == 3 else Behaviour.OK
        except ValueError:
            choices = ", ".join(b.value for b in Behaviour)
            raise ValueError(f"{item!r}: behaviour must be one of {choices}") from None
        if any(spec.slave == slave for spec in specs):
            raise ValueError(f"{item!r}: slave {slave} appears twice")
        specs.append(ProbeSpec(slave, parts[1], behaviour))
    if not specs:
        raise ValueError("no probes given")
    return specs


class ColdRoom:
    """Seeded true climate at one probe: slow sinusoids, plus a warming trend if drifting
    (from ``drift_after_s`` on: a compartment that holds its band for a while, then fails)."""

    def __init__(self, seed: int, slave: int, drifting: bool, drift_after_s: float = 0.0) -> None:
        rng = random.Random(f"cold-room:{seed}:{slave}")
        self._temperature = (rng.uniform(2.6, 3.4), rng.uniform(0.3, 0.5), rng.uniform(300, 900))
        self._humidity = (rng.uniform(82.0, 88.0), rng.uniform(1.0, 3.0), rng.uniform(400, 1200))
        self._phase = rng.uniform(0, 2 * math.pi)
        self._drift = DRIFT_C_PER_S if drifting else 0.0
        self._drift_after_s = drift_after_s

    def temperature(self, elapsed_s: float) -> float:
        base, amplitude, period = self._temperature
        wave = amplitude * math.sin(2 * math.pi * elapsed_s / period + self._phase)
        warming = self._drift * max(0.0, elapsed_s - self._drift_after_s)
        return base + wave + min(warming, DRIFT_CEILING_C - base)

    def humidity(self, elapsed_s: float) -> float:
        base, amplitude, period = self._humidity
        return base + amplitude * math.sin(2 * math.pi * elapsed_s / period + self._phase)

    def value(self, quantity: Quantity, elapsed_s: float) -> float:
        if quantity is Quantity.TEMPERATURE:
            return self.temperature(elapsed_s)
        if quantity is Quantity.HUMIDITY:
            return self.humidity(elapsed_s)
        raise ValueError(f"a cold room has no {quantity}")


@dataclass(frozen=True, slots=True)
class Served:
    """A value a probe put on the wire (ground truth, at the register's resolution)."""

    slave: int
    field: RegisterFieldSpec
    value: float


@dataclass(frozen=True, slots=True)
class Reply:
    frame: bytes | None
    served: tuple[Served, ...] = ()


class SimulatedProbe:
    """One slave: its profile's register map over a cold-room climate, plus its settings."""

    def __init__(
        self, spec: ProbeSpec, profile: DeviceProfile, seed: int, drift_after_s: float = 0.0
    ) -> None:
        self.spec = spec
        self.profile = profile
        drifting = spec.behaviour is Behaviour.DRIFT
        self.climate = ColdRoom(seed, spec.slave, drifting, drift_after_s)
        self.settings = {setting.address: setting.default for setting in profile.settings}

    @property
    def slave(self) -> int:
        return self.spec.slave

    def registers(self, table: RegisterTable, elapsed_s: float) -> dict[int, int]:
        """Every register of ``table`` the device maps, as served at ``elapsed_s``."""
        image: dict[int, int] = {}
        for spec in self.profile.register_fields:
            if spec.table is table:
                value = self.climate.value(spec.quantity, elapsed_s)
                words = encode_value(spec, value + self.correction(spec.quantity))
                image.update(
                    zip(range(spec.address, spec.address + spec.width), words, strict=True)
                )
        if table is RegisterTable.HOLDING:
            for setting in self.profile.settings:
                value = self.settings[setting.address]
                image[setting.address] = from_signed16(value) if setting.type == "s16" else value
        return image

    def correction(self, quantity: Quantity) -> float:
        """What the probe's written correction settings add to its reading of ``quantity``."""
        return sum(
            self.settings[setting.address] * setting.scale
            for setting in self.profile.settings
            if setting.corrects is quantity
        )

    def answer(self, request: ReadRequest | WriteRequest, elapsed_s: float) -> Reply:
        behaviour = self.spec.behaviour
        if behaviour is Behaviour.SILENT:
            return Reply(None)
        function = (
            request.function
            if isinstance(request, ReadRequest)
            else FunctionCode.WRITE_SINGLE_REGISTER
        )
        if behaviour is Behaviour.EXCEPTION:
            return Reply(build_exception_response(self.slave, function, ILLEGAL_DATA_ADDRESS))
        if isinstance(request, WriteRequest):
            return Reply(self._write(request))
        return self._read(request, elapsed_s)

    def _read(self, request: ReadRequest, elapsed_s: float) -> Reply:
        table = next(t for t, f in TABLE_FUNCTION.items() if f == request.function)
        image = self.registers(table, elapsed_s)
        addresses = range(request.address, request.address + request.count)
        if any(address not in image for address in addresses):
            return Reply(
                build_exception_response(self.slave, request.function, ILLEGAL_DATA_ADDRESS)
            )
        words = tuple(image[address] for address in addresses)
        served = tuple(
            Served(self.slave, spec, field_value(spec, words, request.address))
            for spec in self.profile.register_fields
            if spec.table is table
            and request.address <= spec.address
            and spec.address + spec.width <= request.address + request.count
        )
        frame = build_response(RegistersResponse(self.slave, request.function, words))
        return Reply(frame, served)

    def _write(self, request: WriteRequest) -> bytes | None:
        setting = next((s for s in self.profile.settings if s.address == request.address), None)
        function = FunctionCode.WRITE_SINGLE_REGISTER
        if setting is None:
            return build_exception_response(self.slave, function, ILLEGAL_DATA_ADDRESS)
        value = to_signed16(request.value) if setting.type == "s16" else request.value
        low, high = setting.range
        if not low <= value <= high:
            return build_exception_response(self.slave, function, ILLEGAL_DATA_VALUE)
        self.settings[setting.address] = value
        if request.slave == 0:
            return None  # broadcast writes are never answered
        return build_response(WriteResponse(self.slave, request.address, request.value))


@dataclass
class BusStats:
    frames: int = 0
    answered: int = 0
    exceptions: int = 0
    unanswered: int = 0
    bad_frames: int = 0
    unaddressed: int = 0
    by_slave: dict[int, int] = field(default_factory=dict)


class ModbusBus:
    """The slaves on one line; :meth:`handle` is what the line answers to one request frame."""

    def __init__(self, probes: Sequence[SimulatedProbe]) -> None:
        self.probes = {probe.slave: probe for probe in probes}
        if len(self.probes) != len(probes):
            raise ValueError("two probes share a slave address")
        self.stats = BusStats()

    @classmethod
    def from_specs(
        cls, specs: Sequence[ProbeSpec], seed: int, drift_after_s: float = 0.0
    ) -> ModbusBus:
        """``drift_after_s``: seconds of the bus's time before ``drift`` probes start warming."""
        profiles = {name: load_profile(name) for name in {spec.profile for spec in specs}}
        return cls(
            [SimulatedProbe(spec, profiles[spec.profile], seed, drift_after_s) for spec in specs]
        )

    def handle(self, frame: bytes, elapsed_s: float) -> Reply:
        stats = self.stats
        stats.frames += 1
        try:
            request = parse_request(frame)
        except ModbusError:
            stats.bad_frames += 1  # a slave stays silent on a corrupt frame
            return Reply(None)
        if isinstance(request, WriteRequest) and request.slave == 0:
            for each in self.probes.values():
                each.answer(request, elapsed_s)
            return Reply(None)
        probe = self.probes.get(request.slave)
        if probe is None:
            stats.unaddressed += 1
            return Reply(None)
        reply = probe.answer(request, elapsed_s)
        stats.by_slave[probe.slave] = stats.by_slave.get(probe.slave, 0) + 1
        if reply.frame is None:
            stats.unanswered += 1
        elif reply.frame[1] & 0x80:
            stats.exceptions += 1
        else:
            stats.answered += 1
        return reply


class BusPty(PtyPort):
    """A :class:`PtyPort` whose master side can also be read (the master sends requests)."""

    @classmethod
    def open(cls, link_path: Path | None = None) -> BusPty:
        port = super().open(link_path)
        if not isinstance(port, BusPty):  # PtyPort.open builds ``cls``; this narrows the type
            raise TypeError("PtyPort.open did not build a BusPty")
        return port

    def __enter__(self) -> BusPty:
        return self

    def fileno(self) -> int:
        return self._master


async def _read_some(fd: int, timeout_s: float) -> bytes | None:
    """Bytes from ``fd``; ``b""`` when the reader hung up; None on timeout.

    The timeout resolves the same future as the read instead of cancelling the wait, so bytes
    read in the loop iteration where the timer fires are never lost.
    """
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[bytes | None] = loop.create_future()

    def on_readable() -> None:
        if ready.done():
            return
        try:
            ready.set_result(os.read(fd, 4096))
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:
                ready.set_exception(exc)
            else:
                ready.set_result(b"")

    def on_timeout() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, on_readable)
    timer = loop.call_later(timeout_s, on_timeout)
    try:
        return await ready
    finally:
        timer.cancel()
        loop.remove_reader(fd)


async def run_modbus_bus(
    bus: ModbusBus,
    port: BusPty,
    *,
    baudrate: int = 9600,
    duration_s: float | None = None,
    emit_log: Path | None = None,
) -> BusStats:
    """Serve requests arriving on ``port`` until ``duration_s`` passes (forever when None)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = None if duration_s is None else start + duration_s
    silence = max(inter_frame_silence_s(baudrate), _MIN_SILENCE_S)
    log = None if emit_log is None else emit_log.open("w", encoding="utf-8")
    buffer = bytearray()
    try:
        while deadline is None or loop.time() < deadline:
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            if not port.has_reader():
                buffer.clear()
                await asyncio.sleep(min(_NO_READER_POLL_S, remaining or _NO_READER_POLL_S))
                continue
            wait = silence if buffer else min(_NO_READER_POLL_S, remaining or _NO_READER_POLL_S)
            data = await _read_some(port.fileno(), wait)
            if data:
                buffer += data
            elif data == b"":
                buffer.clear()  # the master went away mid-frame
                await asyncio.sleep(_NO_READER_POLL_S)
            elif buffer:
                frame, buffer = bytes(buffer), bytearray()
                reply = bus.handle(frame, loop.time() - start)
                await _send(port, reply)
                _log_served(log, reply.served)
    finally:
        if log is not None:
            log.close()
    return bus.stats


async def _send(port: PtyPort, reply: Reply) -> None:
    if reply.frame is None:
        return
    # The master may leave before the answer; a real slave would not notice either.
    with contextlib.suppress(NoReaderError):
        await port.write(reply.frame)


def _log_served(log: IO[str] | None, served: Sequence[Served]) -> None:
    if log is None or not served:
        return
    now = datetime.now(UTC)
    for item in served:
        spec = item.field
        record = Measurement(f"slave-{item.slave}", now, spec.quantity, item.value, spec.unit)
        line = {**record_to_wire(record), "slave": item.slave, "field": spec.name}
        log.write(json.dumps(line) + "\n")
    log.flush()
