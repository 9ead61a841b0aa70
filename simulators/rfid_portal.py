"""A dock-door portal reader speaking the R2000 "0xA0" protocol; the logic, without any I/O.

:class:`PortalReader` answers host frames the way the protocol document describes (reset,
firmware version, work antenna, real-time and fast-switch inventory) and, while an inventory
runs, produces the tag reports of the round that is in progress. Time is passed in, so the
same seed and the same commands at the same times give the same bytes. The ground truth
(every read actually put on the wire, every injected fault) comes back as emit-log events.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from firmware_bridge.rfid_r2000 import (
    ANTENNA_MISSING,
    AntennaMissing,
    Command,
    CommandStatus,
    FastSwitchEnd,
    FastSwitchInventory,
    FirmwareVersion,
    GetFirmwareVersion,
    GetWorkAntenna,
    InventoryEnd,
    RealTimeInventory,
    Request,
    Reset,
    Response,
    SetWorkAntenna,
    TagReport,
    WorkAntenna,
    decode_request,
    encode_response,
    pc_for_epc,
)
from firmware_bridge.rfid_r2000_framing import (
    BROADCAST_ADDRESS,
    Frame,
    R2000Framer,
    RfidError,
    RfidUnknownCommandError,
)
from simulators.rfid_scene import (
    RSSI_NOISE_DB,
    Scene,
    SceneTag,
    mean_rssi_dbm,
    read_probability,
)

FIRMWARE_VERSION = (3, 7)
ROUND_BASE_S = 0.015
ROUND_PER_READ_S = 0.003
COMMAND_FAIL = 0x11
PARAMETER_INVALID = 0x41
REPORTED_RSSI_RANGE = (-98, -31)
FREQUENCY_POINTS = 50
"""FCC hopping: 50 channels, 902.75 MHz + 0.5 MHz steps."""
MAX_NOISE_BYTES = 8

Event = dict[str, Any]


class FaultKind(StrEnum):
    NOISE = "noise"
    BAD_CHECKSUM = "bad_checksum"
    TRUNCATED = "truncated"


@dataclass(slots=True)
class PortalStats:
    commands: int = 0
    rejected_commands: int = 0
    other_address: int = 0
    rounds: int = 0
    reads_emitted: int = 0
    faults: Counter[FaultKind] = field(default_factory=Counter)


@dataclass(slots=True)
class Output:
    """Bytes to write now, and the emit-log events describing them."""

    data: bytes = b""
    events: list[Event] = field(default_factory=list)

    def extend(self, other: Output) -> None:
        self.data += other.data
        self.events.extend(other.events)


@dataclass(frozen=True, slots=True)
class _Step:
    antenna: int
    missing: bool = False
    pause_s: float = 0.0


@dataclass(slots=True)
class _Job:
    cmd: Command
    steps: list[_Step]
    started_s: float
    total_read: int = 0
    due_s: float = 0.0
    pending: Output = field(default_factory=Output)


class PortalReader:
    """One reader at one door. Feed it host bytes with :meth:`receive`; call :meth:`advance`."""

    def __init__(
        self,
        scene: Scene,
        *,
        seed: int = 0,
        address: int = 1,
        fault_probability: float = 0.0,
    ) -> None:
        self.scene = scene
        self.address = address
        self.work_antenna = 1
        self.fault_probability = fault_probability
        self.stats = PortalStats()
        self.framer = R2000Framer()
        self._rng = random.Random(seed)
        self._job: _Job | None = None

    @property
    def due_s(self) -> float | None:
        """When the round in progress ends (its reports are sent then); None when idle."""
        return None if self._job is None else self._job.due_s

    def receive(self, data: bytes, now_s: float) -> Output:
        out = Output()
        for frame in self.framer.feed(data):
            out.extend(self.handle(frame, now_s))
        return out

    def handle(self, frame: Frame, now_s: float) -> Output:
        if frame.address not in (self.address, BROADCAST_ADDRESS):
            self.stats.other_address += 1
            return Output()
        self.stats.commands += 1
        try:
            request = decode_request(frame)
        except RfidUnknownCommandError:
            self.stats.rejected_commands += 1
            return self._send(CommandStatus(frame.cmd, COMMAND_FAIL, self.address), now_s)
        except RfidError:
            self.stats.rejected_commands += 1
            return self._send(CommandStatus(frame.cmd, PARAMETER_INVALID, self.address), now_s)
        return self._execute(request, now_s)

    def advance(self, now_s: float) -> Output:
        """Finish the round in progress if it is due, and start the next one."""
        job = self._job
        if job is None or now_s < job.due_s:
            return Output()
        out = job.pending
        job.pending = Output()
        out.extend(self._start_round(job, now_s))
        return out

    def _execute(self, request: Request, now_s: float) -> Output:
        match request:
            case Reset():
                # The reader reboots: nothing is answered on success.
                self._job = None
                self.work_antenna = 1
                return Output()
            case GetFirmwareVersion():
                return self._send(FirmwareVersion(*FIRMWARE_VERSION, self.address), now_s)
            case SetWorkAntenna(antenna=antenna):
                self.work_antenna = antenna
                return self._status(Command.SET_WORK_ANTENNA, 0x10, now_s)
            case GetWorkAntenna():
                return self._send(WorkAntenna(self.work_antenna, self.address), now_s)
            case RealTimeInventory(repeat=repeat):
                if self.work_antenna not in self.scene.antennas:
                    return self._status(Command.REAL_TIME_INVENTORY, ANTENNA_MISSING, now_s)
                steps = [_Step(self.work_antenna)] * repeat
                return self._start(_Job(Command.REAL_TIME_INVENTORY, steps, now_s), now_s)
            case FastSwitchInventory():
                steps = self._fast_switch_steps(request)
                return self._start(_Job(Command.FAST_SWITCH_ANT_INVENTORY, steps, now_s), now_s)

    def _fast_switch_steps(self, request: FastSwitchInventory) -> list[_Step]:
        pause_s = request.interval_ms / 1000
        steps: list[_Step] = []
        for _ in range(request.repeat):
            for step in request.steps:
                if step.antenna not in self.scene.antennas:
                    steps.append(_Step(step.antenna, missing=True))
                    continue
                steps.extend(_Step(step.antenna) for _ in range(step.stay - 1))
                steps.append(_Step(step.antenna, pause_s=pause_s))
        return steps

    def _start(self, job: _Job, now_s: float) -> Output:
        self._job = job
        return self._start_round(job, now_s)

    def _start_round(self, job: _Job, now_s: float) -> Output:
        """Report missing antennas at once; plan the next real round, or end the job."""
        out = Output()
        while job.steps and job.steps[0].missing:
            antenna = job.steps.pop(0).antenna
            out.extend(self._send(AntennaMissing(antenna, address=self.address), now_s))
        if not job.steps:
            out.extend(self._send(self._end_frame(job, now_s), now_s))
            self._job = None
            return out
        step = job.steps.pop(0)
        reports = self._round_reads(job.cmd, step.antenna, now_s)
        self.stats.rounds += 1
        job.total_read += len(reports)
        job.due_s = now_s + ROUND_BASE_S + ROUND_PER_READ_S * len(reports) + step.pause_s
        for report, tag in reports:
            job.pending.extend(self._send(report, now_s, tag))
        return out

    def _round_reads(
        self, cmd: Command, antenna: int, now_s: float
    ) -> list[tuple[TagReport, SceneTag]]:
        rng = self._rng
        reads = []
        frequency = rng.randrange(FREQUENCY_POINTS)
        for tag, x in self.scene.tags_near(now_s):
            rssi = mean_rssi_dbm(tag, x, antenna) + rng.gauss(0.0, RSSI_NOISE_DB)
            if rng.random() >= read_probability(rssi):
                continue
            low, high = REPORTED_RSSI_RANGE
            reported = max(low, min(high, round(rssi)))
            epc = bytes.fromhex(tag.epc_hex)
            report = TagReport(
                antenna, frequency, pc_for_epc(epc), epc, reported, cmd, self.address
            )
            reads.append((report, tag))
        rng.shuffle(reads)
        return reads

    def _end_frame(self, job: _Job, now_s: float) -> Response:
        elapsed_s = max(now_s - job.started_s, 1e-3)
        if job.cmd is Command.REAL_TIME_INVENTORY:
            rate = min(0xFFFF, round(job.total_read / elapsed_s))
            return InventoryEnd(self.work_antenna, rate, job.total_read, self.address)
        return FastSwitchEnd(job.total_read, round(elapsed_s * 1000), self.address)

    def _status(self, cmd: Command, code: int, now_s: float) -> Output:
        return self._send(CommandStatus(cmd, code, self.address), now_s)

    def _send(self, response: Response, now_s: float, tag: SceneTag | None = None) -> Output:
        frame = encode_response(response)
        fault = self._pick_fault()
        if fault is FaultKind.BAD_CHECKSUM or fault is FaultKind.TRUNCATED:
            return self._faulty(fault, frame, now_s)
        out = Output(frame)
        if fault is FaultKind.NOISE:
            noise = self._rng.randbytes(self._rng.randint(1, MAX_NOISE_BYTES))
            out = Output(noise + frame, [_fault_event(fault, noise, now_s)])
            self.stats.faults[fault] += 1
        if isinstance(response, TagReport) and tag is not None:
            self.stats.reads_emitted += 1
            out.events.append(_read_event(response, tag, now_s))
        return out

    def _pick_fault(self) -> FaultKind | None:
        if self.fault_probability <= 0 or self._rng.random() >= self.fault_probability:
            return None
        return self._rng.choice(list(FaultKind))

    def _faulty(self, fault: FaultKind, frame: bytes, now_s: float) -> Output:
        if fault is FaultKind.BAD_CHECKSUM:
            data = frame[:-1] + bytes((frame[-1] ^ self._rng.randint(1, 0xFF),))
        else:
            data = frame[: self._rng.randint(1, len(frame) - 1)]
        self.stats.faults[fault] += 1
        return Output(data, [_fault_event(fault, data, now_s)])


def _read_event(report: TagReport, tag: SceneTag, now_s: float) -> Event:
    return {
        "event": "read",
        "t_s": round(now_s, 4),
        "epc_hex": report.epc_hex,
        "epc_uri": tag.epc_uri,
        "kind": tag.kind.value,
        "antenna": report.antenna,
        "rssi_dbm": report.rssi_dbm,
    }


def _fault_event(fault: FaultKind, data: bytes, now_s: float) -> Event:
    return {"event": "fault", "t_s": round(now_s, 4), "fault": fault.value, "bytes": data.hex()}


def scene_events(scene: Scene) -> list[Event]:
    """Ground truth of the passes, for the head of the emit log."""
    return [
        {
            "event": "pass",
            "pass": load.index,
            "direction": load.direction.value,
            "start_s": round(load.start_s, 4),
            "crossing_s": round(load.crossing_s, 4),
            "end_s": round(load.end_s, 4),
            "tags": [
                {"epc_hex": tag.epc_hex, "epc_uri": tag.epc_uri, "kind": tag.kind.value}
                for tag in load.tags
            ],
        }
        for load in scene.passes
    ]
