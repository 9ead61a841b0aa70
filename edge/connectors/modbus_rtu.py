"""Modbus RTU master on one RS-485 line: poll every slave's register blocks, emit Measurements.

One request at a time (the line is half-duplex): wait until the line has been silent for t3.5,
send the request, feed the answer to a :class:`ResponseReader` until it is whole, bad, or the
per-request timeout passes. Waits end through futures resolved by the reader callback or by
``loop.call_later``; nothing is cancelled mid-read, so no received byte is thrown away.
Values outside a field's valid range are counted and emitted flagged ``out_of_range`` (a value
that is not a number at all is only counted). Configured settings are
written (function 06) before a slave's first read and again after it was offline; each echo is
checked against the request.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import serial

from device_profiles import DeviceProfile, load_profile
from device_profiles.modbus_map import RegisterBlock, decode_block
from device_profiles.modbus_settings import SettingWrite, setting_writes
from edge.config import ModbusRtuDevice
from edge.connectors.modbus_slaves import SlaveState, SlaveStatus, Timing, new_slave, next_due
from edge.connectors.serial_port import (
    ConnectorStatus,
    PortReader,
    SerialLink,
    SerialSettings,
    first_of,
    open_port,
    resolve,
)
from firmware_bridge.modbus import (
    CrcError,
    ExceptionResponse,
    ModbusError,
    RegistersResponse,
    Request,
    WriteResponse,
    build_request,
)
from firmware_bridge.modbus_framing import (
    Complete,
    ResponseReader,
    character_time_s,
    inter_frame_silence_s,
)
from firmware_bridge.records import Record

log = logging.getLogger(__name__)

Outcome = Complete | ModbusError | None
"""A whole response, why the answer was rejected, or None when nothing came in time."""


class _PortLost(Exception):
    pass


@dataclass(slots=True)
class _Pending:
    reader: ResponseReader
    done: asyncio.Future[Outcome]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def line_settings(device: ModbusRtuDevice, profile: DeviceProfile) -> SerialSettings:
    transport = profile.serial
    return SerialSettings(
        port=device.port,
        baudrate=device.baudrate or transport.baud,
        parity=transport.parity.value,
        bytesize=transport.data_bits,
        stopbits=transport.stop_bits,
    )


class ModbusRtuConnector:
    def __init__(
        self,
        device: ModbusRtuDevice,
        sink: Callable[[Sequence[Record]], None],
        *,
        now: Callable[[], datetime] = _utc_now,
        opener: Callable[[SerialSettings], serial.Serial] = open_port,
    ) -> None:
        self.device = device
        self._sink = sink
        self._now = now
        self.profile = load_profile(device.profile)
        settings = line_settings(device, self.profile)
        self._link = SerialLink(
            device.id,
            settings,
            reopen_initial_s=device.reopen_initial_s,
            reopen_max_s=device.reopen_max_s,
            opener=opener,
        )
        modbus = self.profile.modbus
        default_timeout = 0.5 if modbus is None else modbus.response_timeout_s
        self.timeout_s = device.timeout_s or default_timeout
        self.timing = Timing(
            poll_interval_s=device.poll_interval_s or self.profile.sample_period_s,
            offline_after=device.offline_after,
            retry_initial_s=device.retry_initial_s,
            retry_max_s=device.retry_max_s,
        )
        self._silence_s = inter_frame_silence_s(settings.baudrate)
        self._char_s = character_time_s(settings.baudrate)
        self.slaves = []
        for slave in device.slaves:
            profile = self.profile if slave.profile is None else load_profile(slave.profile)
            writes = setting_writes(profile, slave.settings)
            self.slaves.append(new_slave(slave.address, slave.id, profile, -math.inf, writes))
        self._pending: _Pending | None = None
        self._last_activity_s = -math.inf
        self._counts = Counter[str]()

    @property
    def name(self) -> str:
        return self.device.id

    @property
    def status(self) -> ConnectorStatus:
        return self._link.status

    @property
    def counters(self) -> dict[str, int]:
        totals = Counter[str]()
        for slave in self.slaves:
            totals.update(slave.counts)
        totals.update(self._counts)
        totals["disconnects"] = self._link.disconnects
        names = ("polls", "readings", "timeouts", "crc_errors", "frame_errors", "exceptions")
        more = ("out_of_range", "unexpected_bytes", "disconnects")
        writes = ("setting_writes", "setting_exceptions", "setting_mismatches")
        return {name: totals[name] for name in (*names, *more, *writes)}

    def snapshot(self) -> dict[str, Any]:
        return {
            "type": self.device.type,
            **self._link.snapshot(),
            "profile": self.profile.model,
            "counters": self.counters,
            "slaves": {slave.device_id: slave.snapshot() for slave in self.slaves},
        }

    def stop(self) -> None:
        """Ask :meth:`run` to return; a request on the line is answered (or times out) first."""
        self._link.stopping.set()

    async def run(self) -> None:
        await self._link.run(self._session)

    async def _session(self, port: serial.Serial) -> str | None:
        reader = PortReader(port, self._on_data)
        stopping = asyncio.ensure_future(self._link.stopping.wait())
        try:
            while not stopping.done():
                slave = next_due(self.slaves)
                delay = slave.due_s - asyncio.get_running_loop().time()
                if delay > 0:
                    await self._idle(delay, reader.lost, stopping)
                    _raise_if_lost(reader)
                    continue
                await self._poll(slave, reader)
            return None
        except _PortLost:
            return reader.lost.result()
        finally:
            self._pending = None
            reader.close()
            stopping.cancel()

    async def _idle(self, seconds: float, *interrupts: asyncio.Future[Any]) -> None:
        loop = asyncio.get_running_loop()
        elapsed: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(seconds, resolve, elapsed, None)
        try:
            await first_of(elapsed, *interrupts)
        finally:
            timer.cancel()

    async def _poll(self, slave: SlaveState, reader: PortReader) -> None:
        loop = asyncio.get_running_loop()
        if slave.due_s == -math.inf:
            slave.due_s = loop.time()
        slave.counts["polls"] += 1
        if await self._apply_settings(slave, reader):
            for block in slave.blocks:
                outcome = await self._transact(reader, block.request(slave.address))
                if outcome is None:
                    self._missed(slave)
                    break
                self._record(slave, block, outcome)
        slave.schedule_next(loop.time(), self.timing)

    async def _apply_settings(self, slave: SlaveState, reader: PortReader) -> bool:
        """Write the slave's pending settings; False when one went unanswered."""
        for write in list(slave.settings_pending):
            outcome = await self._transact(reader, write.request(slave.address))
            if outcome is None:
                self._missed(slave)
                return False
            self._record_write(slave, write, outcome)
        return True

    def _missed(self, slave: SlaveState) -> None:
        if slave.missed(self.timing):
            log.warning(
                "%s: slave %d (%s) stopped answering after %d requests; marked offline, "
                "retrying from every %.1f s - check its wiring, power and address",
                self.name,
                slave.address,
                slave.device_id,
                slave.misses,
                self.timing.retry_initial_s,
            )
        slave.last_error = f"no answer within {self.timeout_s:g} s"

    def _answered(self, slave: SlaveState) -> None:
        if slave.status is SlaveStatus.OFFLINE:
            log.info("%s: slave %d (%s) answers again", self.name, slave.address, slave.device_id)
        slave.answered()

    def _record_write(self, slave: SlaveState, write: SettingWrite, outcome: Outcome) -> None:
        if isinstance(outcome, Complete):
            self._answered(slave)
            echo = outcome.response
            assert isinstance(echo, WriteResponse)  # the reader checked the function
            if (echo.address, echo.value) == (write.address, write.word):
                slave.setting_applied(write)
                return
            reason = (
                f"echo {echo.value:#06x} at {echo.address:#06x}, "
                f"wrote {write.word:#06x} at {write.address:#06x}"
            )
            slave.setting_failed(write, "setting_mismatches", reason, final=True)
        elif isinstance(outcome, ExceptionResponse):
            self._answered(slave)
            reason = f"{outcome.name} ({outcome.code:#04x})"
            slave.setting_failed(write, "setting_exceptions", reason, final=True)
        elif isinstance(outcome, CrcError):
            slave.setting_failed(write, "crc_errors", str(outcome), final=False)
            return
        else:
            slave.setting_failed(write, "frame_errors", str(outcome), final=False)
            return
        log.warning(
            "%s: slave %d (%s) did not take %s = %g: %s",
            self.name,
            slave.address,
            slave.device_id,
            write.name,
            write.value,
            slave.settings_failed[write.name],
        )

    def _record(self, slave: SlaveState, block: RegisterBlock, outcome: Outcome) -> None:
        if isinstance(outcome, Complete):
            self._answered(slave)
            response = outcome.response
            assert isinstance(response, RegistersResponse)  # the reader checked the function
            readings, rejected = decode_block(
                block, response.registers, slave.device_id, self._now()
            )
            slave.counts["readings"] += len(readings)
            slave.counts["out_of_range"] += len(rejected)
            for problem in rejected:
                slave.last_error = str(problem)
            slave.remember(readings)
            if readings:
                self._sink(readings)
        elif isinstance(outcome, ExceptionResponse):
            slave.answered()
            slave.counts["exceptions"] += 1
            slave.exception_codes[outcome.name] += 1
            slave.last_error = str(outcome)
        elif isinstance(outcome, CrcError):
            slave.counts["crc_errors"] += 1
            slave.last_error = str(outcome)
        elif outcome is not None:
            slave.counts["frame_errors"] += 1
            slave.last_error = str(outcome)

    async def _transact(self, reader: PortReader, request: Request) -> Outcome:
        loop = asyncio.get_running_loop()
        quiet = self._last_activity_s + self._silence_s - loop.time()
        if quiet > 0:
            await self._idle(quiet, reader.lost)
            _raise_if_lost(reader)
        frame = build_request(request)
        done: asyncio.Future[Outcome] = loop.create_future()
        self._pending = _Pending(ResponseReader.for_request(request), done)
        reader.write(frame)
        sending_s = len(frame) * self._char_s
        self._last_activity_s = loop.time() + sending_s
        timer = loop.call_later(sending_s + self.timeout_s, resolve, done, None)
        try:
            await first_of(done, reader.lost)
        finally:
            timer.cancel()
            self._pending = None
        _raise_if_lost(reader)
        return done.result()

    def _on_data(self, data: bytes) -> None:
        self._last_activity_s = max(self._last_activity_s, asyncio.get_running_loop().time())
        pending = self._pending
        if pending is None or pending.done.done():
            # Late answers to a timed-out request, the tail of a rejected frame, line noise.
            self._counts["unexpected_bytes"] += len(data)
            return
        try:
            status = pending.reader.feed(data)
        except ModbusError as exc:
            pending.done.set_result(exc)
            return
        if isinstance(status, Complete):
            self._counts["unexpected_bytes"] += len(status.trailing)
            pending.done.set_result(status)


def _raise_if_lost(reader: PortReader) -> None:
    if reader.lost.done() and not reader.lost.cancelled():
        raise _PortLost
