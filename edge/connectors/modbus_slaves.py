"""Which Modbus slave to poll next, and what each one's answers say about it (pure, no I/O).

Slaves share one half-duplex line, so requests go out one at a time. Each slave has its own due
time: an answering slave is polled every ``poll_interval_s``; one that missed ``offline_after``
requests in a row is marked offline and retried after an exponentially growing pause, so a dead
probe costs the line one timeout per retry instead of one per cycle, and the others keep their
cadence.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from device_profiles import DeviceProfile
from device_profiles.modbus_map import RegisterBlock, read_blocks
from firmware_bridge.records import Measurement
from firmware_bridge.wire import format_time

SLAVE_COUNTERS = (
    "polls",
    "responses",
    "readings",
    "timeouts",
    "crc_errors",
    "frame_errors",
    "exceptions",
    "out_of_range",
)


class SlaveStatus(StrEnum):
    UNKNOWN = "unknown"
    ONLINE = "online"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class Timing:
    poll_interval_s: float
    offline_after: int
    retry_initial_s: float
    retry_max_s: float


@dataclass(slots=True)
class SlaveState:
    address: int
    device_id: str
    profile: DeviceProfile
    blocks: list[RegisterBlock]
    due_s: float = 0.0
    status: SlaveStatus = SlaveStatus.UNKNOWN
    misses: int = 0
    retry_s: float = 0.0
    counts: Counter[str] = field(default_factory=Counter)
    exception_codes: Counter[str] = field(default_factory=Counter)
    last_readings: dict[str, Any] = field(default_factory=dict)
    last_error: str | None = None

    def answered(self) -> None:
        """The slave put a valid frame on the line (a reading or an exception response)."""
        self.counts["responses"] += 1
        self.misses = 0
        self.retry_s = 0.0
        self.status = SlaveStatus.ONLINE

    def missed(self, timing: Timing) -> bool:
        """A request went unanswered; True when this marks the slave offline."""
        self.counts["timeouts"] += 1
        self.misses += 1
        if self.status is not SlaveStatus.OFFLINE and self.misses >= timing.offline_after:
            self.status = SlaveStatus.OFFLINE
            return True
        return False

    def schedule_next(self, now_s: float, timing: Timing) -> None:
        """Set the next due time after a poll that started at ``self.due_s`` and ended now."""
        if self.status is SlaveStatus.OFFLINE:
            self.retry_s = (
                timing.retry_initial_s
                if self.retry_s == 0
                else min(self.retry_s * 2, timing.retry_max_s)
            )
            self.due_s = now_s + self.retry_s
            return
        # Keep the cadence; a slave that fell behind is polled at once but not in a burst.
        self.due_s = max(self.due_s + timing.poll_interval_s, now_s)

    def remember(self, readings: list[Measurement]) -> None:
        for reading in readings:
            self.last_readings[reading.quantity.value] = {
                "value": reading.value,
                "unit": reading.unit.value,
                "time": format_time(reading.time),
            }

    def snapshot(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "profile": self.profile.model,
            "status": self.status.value,
            "last_readings": dict(self.last_readings),
            "last_error": self.last_error,
            "counters": {name: self.counts[name] for name in SLAVE_COUNTERS},
            "exception_codes": dict(self.exception_codes),
        }


def new_slave(address: int, device_id: str, profile: DeviceProfile, due_s: float) -> SlaveState:
    return SlaveState(address, device_id, profile, read_blocks(profile), due_s=due_s)


def next_due(slaves: list[SlaveState]) -> SlaveState:
    """The slave to poll next: the earliest due, config order breaking ties."""
    return min(slaves, key=lambda slave: slave.due_s)
